// Shared definitions of the hebb CUDA kernels. Compiled with NVRTC: no system headers.
//
// The host prepends `#define P_<NAME> <index>` lines and `#define NPARAM <n>` (generated from the
// parameter table in cuda/layout.rs), so the kernels and the host agree on the layout of
// `Params` by construction.
//
// Every kernel reproduces the integer arithmetic of hebb-core exactly: potentials i32, weights u16
// (Q0.16), times u8 with NEVER = 255, rates u32 (Q0.32). Integer atomics are exact and
// commutative, so the order in which threads add weights never changes a result.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long long u64;

#define NEVER 255
#define FULL_MASK 0xffffffffu

// Neuron kinds (NeuronKind).
#define KIND_IF 0
#define KIND_LIF_SUB 1
#define KIND_LIF_MUL 2

// Buffer code meaning "use the kernel argument directly" (weights or thresholds in global memory).
#define BUF_EXTERNAL 0x7fffffff

// Slots of the `misc` integer buffer of the simulation kernels.
#define MISC_NC 0
#define MISC_NWIN 1
#define MISC_SPIKES 2
#define MISC_EVENTS 3
#define MISC_LEN 8

// Ints per winner record: map, y, x, t, v.
#define WIN_INTS 5

struct Params {
    int v[NPARAM];
};

// With SPEC defined (the host compiles one variant per layer configuration) every parameter is
// a compile-time constant C_<NAME>: divisions by constants, unrolled loops, and buffers whose
// shared-memory placement the compiler can see. Without it they are read from `p`.
#ifdef SPEC
#define PV(name) (C_##name)
#else
#define PV(name) (p.v[P_##name])
#endif

// A buffer either lives in dynamic shared memory (code >= 0: byte offset) or in this block's
// slice of the global scratch buffer (code < 0: byte offset -code - 1).
__device__ __forceinline__ u8* buf_ptr(int code, u8* smem, u8* gscr) {
    return code >= 0 ? smem + code : gscr + (-(i64)code - 1);
}

// Output rows (or columns) [lo, hi) whose window contains padded coordinate p (core::layer::reach).
__device__ __forceinline__ void reach(int p, int k, int s, int out, int& lo, int& hi) {
    lo = (p + 1 > k) ? (p + 1 - k + s - 1) / s : 0;
    hi = p / s + 1;
    if (hi > out) hi = out;
    if (hi < lo) hi = lo;
}

__device__ __forceinline__ bool get_bit(const u32* set, int i) {
    return (set[i >> 5] >> (i & 31)) & 1u;
}

__device__ __forceinline__ u64 warp_max_u64(u64 x) {
#if __CUDA_ARCH__ >= 800
    // Two hardware reductions: the high word, then the low word among the lanes that hold it.
    const u32 hi = __reduce_max_sync(FULL_MASK, (u32)(x >> 32));
    const u32 lo = __reduce_max_sync(FULL_MASK, (u32)(x >> 32) == hi ? (u32)x : 0u);
    return ((u64)hi << 32) | lo;
#else
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        u64 y = __shfl_xor_sync(FULL_MASK, x, o);
        x = y > x ? y : x;
    }
    return x;
#endif
}

// Per group of lanes with equal `key` (every lane calls): the best (highest `x`, then lowest `id`)
// over the lanes whose `valid` is set, returned to every lane of the group as (x, id); x = 0
// when none is valid. Needs x > 0 for valid lanes.
__device__ __forceinline__ void group_best(int key, bool valid, u32 x, u32 id, u32& bx, u32& bid) {
    const u32 peers = __match_any_sync(FULL_MASK, key);
#if __CUDA_ARCH__ >= 800
    bx = __reduce_max_sync(peers, valid ? x : 0u);
    bid = __reduce_min_sync(peers, (valid && x == bx) ? id : 0xffffffffu);
#else
    bx = 0;
    bid = 0xffffffffu;
    for (int l = 0; l < 32; l++) {
        const u32 ox = __shfl_sync(FULL_MASK, valid ? x : 0u, l);
        const u32 oi = __shfl_sync(FULL_MASK, id, l);
        if (((peers >> l) & 1u) && ox != 0 && (ox > bx || (ox == bx && oi < bid))) {
            bx = ox;
            bid = oi;
        }
    }
#endif
}

__device__ __forceinline__ int warp_sum(int x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL_MASK, x, o);
    return x;
}

// Maximum over the block; every thread gets the result. `red` holds 32 u64. Contains one
// __syncthreads(); the caller must synchronise again before the next call reuses `red`.
__device__ __forceinline__ u64 block_max_u64(u64 x, u64* red) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    x = warp_max_u64(x);
    if (lane == 0) red[wid] = x;
    __syncthreads();
    u64 r = lane < nw ? red[lane] : 0ull;
    return warp_max_u64(r);
}

// STDP weight change (core::stdp::StdpParams::delta).
__device__ __forceinline__ int stdp_delta(u32 w, bool ltp, u32 a_plus, u32 a_minus, int rule) {
    u64 a = ltp ? (u64)a_plus : (u64)a_minus;
    u64 mag;
    if (rule == 0) {
        u64 pr = a * (u64)w * (65536ull - (u64)w);
        mag = (pr + (1ull << 47)) >> 48;
        if (mag == 0 && pr != 0) mag = 1;  // at least one LSB, as the core
    } else {
        mag = (a + (1ull << 15)) >> 16;
    }
    return ltp ? (int)mag : -(int)mag;
}

// core::stdp::apply: saturate to [0, 65535].
__device__ __forceinline__ u16 stdp_apply(u32 w, int d) {
    int r = (int)w + d;
    r = r < 0 ? 0 : (r > 65535 ? 65535 : r);
    return (u16)r;
}
