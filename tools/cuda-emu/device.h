// Device-side definitions that let hebb's CUDA kernels compile as ordinary C++ and run on the
// CPU under the emulated driver (driver.cpp). The emulated NVRTC (nvrtc.cpp) force-includes
// this header into every kernel program.
//
// Every CUDA thread is a fiber on the launching OS thread; fibers switch only inside
// __syncthreads and the warp collectives, so atomics are plain read-modify-writes.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "runtime.h"

// The runtime of the launch running on this OS thread (set by the driver before every block).
extern "C" thread_local EmuRt* hebb_emu_rt;

#define threadIdx (hebb_emu_rt->cur->idx)
#define blockIdx (hebb_emu_rt->block_idx)
#define blockDim (hebb_emu_rt->block_dim)
#define gridDim (hebb_emu_rt->grid_dim)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
// Static shared variables: one per OS thread, shared by the block's fibers (blocks run one
// after another).
#define __shared__ static thread_local

struct int2 {
    int x, y;
};
struct uint2 {
    unsigned x, y;
};
struct int4 {
    int x, y, z, w;
};
struct uint4 {
    unsigned x, y, z, w;
};
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

inline void __syncthreads() { hebb_emu_rt->sync_block(hebb_emu_rt); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline long long clock64() { return ++hebb_emu_rt->clock; }

template <class T>
inline T __ldg(const T* p) {
    return *p;
}

// Integer intrinsics.
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
template <class A, class B>
inline auto min(A a, B b) -> decltype(a < b ? a : b) {
    return a < b ? a : b;
}
template <class A, class B>
inline auto max(A a, B b) -> decltype(a < b ? a : b) {
    return a < b ? b : a;
}

// Atomics: fibers never switch inside one, so a read-modify-write is atomic.
template <class T, class U>
inline T atomicAdd(T* a, U v) {
    const T o = *a;
    *a = (T)(o + (T)v);
    return o;
}
template <class T, class U>
inline T atomicSub(T* a, U v) {
    const T o = *a;
    *a = (T)(o - (T)v);
    return o;
}
template <class T, class U>
inline T atomicExch(T* a, U v) {
    const T o = *a;
    *a = (T)v;
    return o;
}
template <class T, class U>
inline T atomicMax(T* a, U v) {
    const T o = *a;
    if ((T)v > o) *a = (T)v;
    return o;
}
template <class T, class U>
inline T atomicMin(T* a, U v) {
    const T o = *a;
    if ((T)v < o) *a = (T)v;
    return o;
}
template <class T, class U>
inline T atomicOr(T* a, U v) {
    const T o = *a;
    *a = (T)(o | (T)v);
    return o;
}
template <class T, class U>
inline T atomicAnd(T* a, U v) {
    const T o = *a;
    *a = (T)(o & (T)v);
    return o;
}
template <class T, class U>
inline T atomicXor(T* a, U v) {
    const T o = *a;
    *a = (T)(o ^ (T)v);
    return o;
}
template <class T, class U, class V>
inline T atomicCAS(T* a, U cmp, V v) {
    const T o = *a;
    if (o == (T)cmp) *a = (T)v;
    return o;
}

// Warp collectives. Every one is an exchange: each lane of `mask` deposits a value, waits for the
// others, and reads all of them (lanes outside the mask read a poison value).
inline unsigned __emu_lane() { return hebb_emu_rt->cur->linear & 31u; }

template <class T>
inline unsigned long long __emu_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp collectives move at most 64 bits");
    unsigned long long u = 0;
    std::memcpy(&u, &v, sizeof(T));
    return u;
}

template <class T>
inline T __emu_from(unsigned long long u) {
    T v;
    std::memcpy(&v, &u, sizeof(T));
    return v;
}

struct __EmuLanes {
    unsigned long long v[32];
};

inline __EmuLanes __emu_xchg(unsigned mask, unsigned long long v) {
    __EmuLanes o;
    hebb_emu_rt->warp_exchange(hebb_emu_rt, mask, v, o.v);
    return o;
}

inline void __syncwarp(unsigned mask = 0xffffffffu) { (void)__emu_xchg(mask, 0); }

inline unsigned __ballot_sync(unsigned mask, int pred) {
    const __EmuLanes o = __emu_xchg(mask, pred != 0);
    unsigned r = 0;
    for (int l = 0; l < 32; l++)
        if (((mask >> l) & 1u) && o.v[l]) r |= 1u << l;
    return r;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    const __EmuLanes o = __emu_xchg(mask, __emu_bits(v));
    const int lane = (int)__emu_lane();
    const int base = lane & ~(width - 1);
    return __emu_from<T>(o.v[base + (src & (width - 1))]);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const __EmuLanes o = __emu_xchg(mask, __emu_bits(v));
    const int lane = (int)__emu_lane();
    const int base = lane & ~(width - 1);
    return lane - (int)delta < base ? v : __emu_from<T>(o.v[lane - (int)delta]);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const __EmuLanes o = __emu_xchg(mask, __emu_bits(v));
    const int lane = (int)__emu_lane();
    const int base = lane & ~(width - 1);
    return lane + (int)delta >= base + width ? v : __emu_from<T>(o.v[lane + (int)delta]);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    const __EmuLanes o = __emu_xchg(mask, __emu_bits(v));
    const int lane = (int)__emu_lane();
    const int src = lane ^ lane_mask;
    return (src & ~(width - 1)) != (lane & ~(width - 1)) ? v : __emu_from<T>(o.v[src]);
}
template <class T>
inline unsigned __match_any_sync(unsigned mask, T v) {
    const unsigned long long me = __emu_bits(v);
    const __EmuLanes o = __emu_xchg(mask, me);
    unsigned r = 0;
    for (int l = 0; l < 32; l++)
        if (((mask >> l) & 1u) && o.v[l] == me) r |= 1u << l;
    return r;
}

template <class T, class F>
inline T __emu_reduce(unsigned mask, T v, F f) {
    const __EmuLanes o = __emu_xchg(mask, __emu_bits(v));
    bool first = true;
    T r = v;
    for (int l = 0; l < 32; l++) {
        if (!((mask >> l) & 1u)) continue;
        const T x = __emu_from<T>(o.v[l]);
        r = first ? x : f(r, x);
        first = false;
    }
    return r;
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) {
    return __emu_reduce(mask, v, [](unsigned a, unsigned b) { return a > b ? a : b; });
}
inline int __reduce_max_sync(unsigned mask, int v) {
    return __emu_reduce(mask, v, [](int a, int b) { return a > b ? a : b; });
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) {
    return __emu_reduce(mask, v, [](unsigned a, unsigned b) { return a < b ? a : b; });
}
inline int __reduce_min_sync(unsigned mask, int v) {
    return __emu_reduce(mask, v, [](int a, int b) { return a < b ? a : b; });
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) {
    return __emu_reduce(mask, v, [](unsigned a, unsigned b) { return a + b; });
}
inline int __reduce_add_sync(unsigned mask, int v) {
    return __emu_reduce(mask, v, [](int a, int b) { return a + b; });
}
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) {
    return __emu_reduce(mask, v, [](unsigned a, unsigned b) { return a | b; });
}

// Calls kernel `f` with the arguments cuLaunchKernel passed (one pointer per argument).
template <class... A, std::size_t... I>
inline void hebb_emu_unpack(void (*f)(A...), void** a, std::index_sequence<I...>) {
    f(*static_cast<std::decay_t<A>*>(a[I])...);
}
template <class... A>
inline void hebb_emu_call(void (*f)(A...), void** a) {
    hebb_emu_unpack(f, a, std::index_sequence_for<A...>{});
}
