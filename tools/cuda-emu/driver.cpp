// Emulated CUDA driver (libcuda.so) for running hebb's kernels on the CPU: the subset of the
// driver API the host calls through cudarc, an H100-like device description, host memory as
// device memory, synchronous streams, and kernel launches that run every CUDA thread of a block
// as a fiber on the calling OS thread.
//
// Fibers switch only at __syncthreads and warp collectives, so the emulator checks the kernels'
// logic, synchronisation (threads that never meet at a barrier or in a collective are reported
// as a deadlock) and results; it says nothing about speed. A result that depends on the order
// in which threads run shows up when the turn order (HEBB_CUDA_EMU_SCHEDULE) changes it.
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime.h"

namespace {

// Results (CUresult values).
enum : int {
    OK = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    INVALID_IMAGE = 200,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    OUT_OF_RESOURCES = 701,
    LAUNCH_FAILED = 719,
    NOT_SUPPORTED = 801,
};

// The emulated device: an H100 SXM's limits, so that kernel layouts match the real one.
const char* const DEVICE_NAME = "hebb CUDA emulator (CPU; H100 limits)";
const int SMS = 132;
const int SMEM_OPTIN = 232448;
const int SMEM_PER_SM = 233472;
const int SMEM_DEFAULT = 48 * 1024;
const int MAX_THREADS = 1024;
const size_t TOTAL_MEM = 80ull << 30;

// Every device allocation and every block's shared memory ends at an inaccessible page (and
// shared memory also starts after one), so an out-of-bounds access faults at once instead of
// corrupting a neighbour; the fault handler names the kernel.
const size_t PAGE = 4096;

struct Fenced {
    unsigned char* base;  // the mapping
    size_t len;           // its length
};

// `n` usable bytes ending at a guard page (256-aligned when `n` is a multiple of 256),
// preceded by one when `guard_before`.
unsigned char* fenced_alloc(size_t n, bool guard_before, Fenced& f) {
    const size_t body = (n + PAGE - 1) & ~(PAGE - 1);
    const size_t pre = guard_before ? PAGE : 0;
    f.len = pre + body + PAGE;
    void* m = mmap(nullptr, f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED) return nullptr;
    f.base = static_cast<unsigned char*>(m);
    if (guard_before) mprotect(f.base, PAGE, PROT_NONE);
    mprotect(f.base + pre + body, PAGE, PROT_NONE);
    return f.base + pre + body - n;
}

std::mutex g_mem_mutex;
std::map<uintptr_t, Fenced> g_allocs;
size_t g_allocated = 0;

// The kernel running on this OS thread, for the fault handler.
thread_local const char* g_running = nullptr;

void on_fault(int sig, siginfo_t* info, void*) {
    char b[256];
    const int len = std::snprintf(b, sizeof b,
                                  "cuda-emu: memory fault at %p in kernel %s: an access outside "
                                  "every buffer (or a thread's stack overflowed)\n",
                                  info->si_addr, g_running ? g_running : "(none: host code)");
    if (len > 0) (void)!write(2, b, (size_t)len);
    signal(sig, SIG_DFL);  // returning re-runs the access, which now kills the process
}

void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = &on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigaction(SIGSEGV, &sa, nullptr);
        sigaction(SIGBUS, &sa, nullptr);
    });
    // The handler runs on its own stack, so that a fiber's stack overflow can be reported.
    thread_local std::vector<unsigned char> alt(64 * 1024);
    thread_local bool set = false;
    if (!set) {
        stack_t ss{};
        ss.ss_sp = alt.data();
        ss.ss_size = alt.size();
        sigaltstack(&ss, nullptr);
        set = true;
    }
}

// ---------------------------------------------------------------------------------------------
// Fibers.

extern "C" void hebb_emu_switch(void** save_sp, void* to_sp);
asm(R"(
    .text
    .p2align 4
    .hidden hebb_emu_switch
    .globl hebb_emu_switch
    .type hebb_emu_switch,@function
hebb_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size hebb_emu_switch,.-hebb_emu_switch
)");

const size_t STACK = 256 * 1024;
const size_t GUARD = 4096;

enum Wait { RUNNING, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
    void* sp = nullptr;
    EmuThread t{};
    Wait wait = RUNNING;
    unsigned wmask = 0;  // mask of the warp collective it waits in
};

// One warp collective in progress: the lanes of `mask` deposit their values; disjoint groups of
// lanes (e.g. split by __match_any_sync) may run collectives of their own at the same time.
struct Group {
    unsigned mask, arrived, readers;
    unsigned long long seq;
    bool complete;
    unsigned long long vals[32];
};

struct Warp {
    unsigned used = 0;  // slots of `g` in use
    unsigned long long seq = 0;
    Group g[32];
};

using Kernel = void (*)(void**);
using Bind = void (*)(EmuRt*);

struct Sched {
    EmuRt rt{};
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    Fiber* cur = nullptr;
    void* home_sp = nullptr;
    unsigned char* stacks = nullptr;
    size_t n_stacks = 0;
    Kernel kernel = nullptr;
    void** args = nullptr;
    unsigned live = 0, bar_arrived = 0, bar_gen = 0;
    bool progress = false;
    std::string error;
    Fenced smem{nullptr, 0};
};

thread_local Sched* g_sched = nullptr;

Fiber& current(Sched& s) { return *s.cur; }

void to_home(Sched& s) { hebb_emu_switch(&current(s).sp, s.home_sp); }

// Stops the block: the scheduler abandons every fiber.
[[noreturn]] void fail(Sched& s, const std::string& why) {
    if (s.error.empty()) s.error = why;
    for (;;) to_home(s);
}

void sync_block(EmuRt*) {
    Sched& s = *g_sched;
    Fiber& f = current(s);
    s.progress = true;
    const unsigned gen = s.bar_gen;
    if (++s.bar_arrived == s.live) {
        s.bar_arrived = 0;
        s.bar_gen++;
        return;
    }
    f.wait = AT_BARRIER;
    while (s.bar_gen == gen) to_home(s);
    f.wait = RUNNING;
}

void warp_exchange(EmuRt*, unsigned mask, unsigned long long v, unsigned long long* out) {
    Sched& s = *g_sched;
    Fiber& f = current(s);
    const unsigned lane = f.t.linear & 31u;
    Warp& w = s.warps[f.t.linear >> 5];
    s.progress = true;
    if (!((mask >> lane) & 1u)) {
        char b[160];
        std::snprintf(b, sizeof b,
                      "warp collective: thread %u calls with mask %08x, which does not contain "
                      "its lane",
                      f.t.linear, mask);
        fail(s, b);
    }
    // Lanes meet in program order: join the oldest open collective of the same mask this lane
    // is not in yet. Collectives of other masks may be open at the same time (lanes that finished
    // their part run ahead); lanes that never meet show up as a deadlock.
    int slot = -1;
    for (int i = 0; i < 32; i++) {
        const Group& g = w.g[i];
        if (!((w.used >> i) & 1u) || g.complete || g.mask != mask || ((g.arrived >> lane) & 1u))
            continue;
        if (slot < 0 || g.seq < w.g[slot].seq) slot = i;
    }
    if (slot < 0) {
        // A lane waits in (or has yet to read) at most one group, so 32 slots always suffice.
        if (w.used == ~0u) fail(s, "warp collective: more than 32 open groups");
        slot = __builtin_ctz(~w.used);
        Group& g = w.g[slot];
        w.used |= 1u << slot;
        g.mask = mask;
        g.arrived = 0;
        g.readers = (unsigned)__builtin_popcount(mask);
        g.complete = false;
        g.seq = w.seq++;
        for (int l = 0; l < 32; l++) g.vals[l] = 0xdeadbeefull;
    }
    Group& g = w.g[slot];
    g.vals[lane] = v;
    g.arrived |= 1u << lane;
    if (g.arrived == mask) {
        g.complete = true;
    } else {
        f.wait = AT_WARP;
        f.wmask = mask;
        while (!g.complete) to_home(s);
        f.wait = RUNNING;
    }
    std::memcpy(out, g.vals, sizeof g.vals);
    if (--g.readers == 0) w.used &= ~(1u << slot);
}

// "lane:state" for the 32 lanes of warp `w`, for diagnostics.
std::string lane_states(const Sched& s, unsigned w) {
    std::string out;
    for (unsigned l = 0; l < 32 && w * 32 + l < s.fibers.size(); l++) {
        const Fiber& o = s.fibers[w * 32 + l];
        char c[40];
        if (o.wait == AT_WARP)
            std::snprintf(c, sizeof c, " %u:warp(%08x)", l, o.wmask);
        else
            std::snprintf(c, sizeof c, " %u:%s", l,
                          o.wait == AT_BARRIER ? "bar" : o.wait == DONE ? "done" : "run");
        out += c;
    }
    return out;
}

void fiber_main() {
    Sched& s = *g_sched;
    s.kernel(s.args);
    Fiber& f = current(s);
    f.wait = DONE;
    s.progress = true;
    s.live--;
    if (s.bar_arrived > 0 && s.bar_arrived == s.live) {
        s.bar_arrived = 0;
        s.bar_gen++;
    }
    for (;;) to_home(s);
}

bool ensure_stacks(Sched& s, size_t n) {
    if (s.n_stacks >= n) return true;
    if (s.stacks) munmap(s.stacks, s.n_stacks * (STACK + GUARD));
    s.n_stacks = 0;
    void* m = mmap(nullptr, n * (STACK + GUARD), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        s.stacks = nullptr;
        return false;
    }
    s.stacks = static_cast<unsigned char*>(m);
    s.n_stacks = n;
    // A guard page below every stack turns an overflow into a fault, not silent corruption.
    for (size_t i = 0; i < n; i++) mprotect(s.stacks + i * (STACK + GUARD), GUARD, PROT_NONE);
    return true;
}

// The order in which fibers get their turn (HEBB_CUDA_EMU_SCHEDULE): `forward` (thread order, the
// default), `reverse`, or `shuffle[:SEED]` (a new permutation every round). A correct kernel gives
// the same result under every order; running the tests under several shows order-dependent races.
struct Schedule {
    enum Kind { FORWARD, REVERSE, SHUFFLE } kind = FORWARD;
    unsigned long long seed = 1;
};

Schedule schedule_from_env() {
    Schedule s;
    const char* v = std::getenv("HEBB_CUDA_EMU_SCHEDULE");
    if (!v || !*v || std::strcmp(v, "forward") == 0) return s;
    if (std::strcmp(v, "reverse") == 0) {
        s.kind = Schedule::REVERSE;
    } else if (std::strncmp(v, "shuffle", 7) == 0 && (v[7] == 0 || v[7] == ':')) {
        s.kind = Schedule::SHUFFLE;
        if (v[7] == ':') s.seed = std::strtoull(v + 8, nullptr, 10);
    } else {
        std::fprintf(stderr, "cuda-emu: unknown HEBB_CUDA_EMU_SCHEDULE `%s` (forward, reverse, "
                             "shuffle[:SEED]); using forward\n", v);
    }
    return s;
}

// Runs one block to completion; false (with s.error set) on a failure.
bool run_block(Sched& s, unsigned n) {
    s.fibers.assign(n, Fiber{});
    s.warps.assign((n + 31) / 32, Warp{});
    s.live = n;
    s.bar_arrived = 0;
    s.bar_gen = 0;
    const uint3 d = s.rt.block_dim;
    for (unsigned i = 0; i < n; i++) {
        Fiber& f = s.fibers[i];
        f.t.linear = i;
        f.t.idx = {i % d.x, (i / d.x) % d.y, i / (d.x * d.y)};
        auto top = reinterpret_cast<uintptr_t>(s.stacks + i * (STACK + GUARD) + GUARD + STACK);
        top &= ~uintptr_t(15);
        auto* sp = reinterpret_cast<uintptr_t*>(top);
        *--sp = 0;  // return address of fiber_main: it never returns
        *--sp = reinterpret_cast<uintptr_t>(&fiber_main);
        for (int r = 0; r < 6; r++) *--sp = 0;  // rbp rbx r12 r13 r14 r15
        f.sp = sp;
    }
    static const Schedule sched = schedule_from_env();
    std::vector<unsigned> turn(n);
    for (unsigned i = 0; i < n; i++) turn[i] = sched.kind == Schedule::REVERSE ? n - 1 - i : i;
    unsigned long long rng = sched.seed * 0x9e3779b97f4a7c15ull + 1 + s.rt.block_idx.x;
    unsigned done = 0;
    while (done < n) {
        s.progress = false;
        done = 0;
        if (sched.kind == Schedule::SHUFFLE) {
            for (unsigned i = n - 1; i > 0; i--) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                std::swap(turn[i], turn[rng % (i + 1)]);
            }
        }
        for (unsigned ti = 0; ti < n; ti++) {
            Fiber& f = s.fibers[turn[ti]];
            if (f.wait == DONE) {
                done++;
                continue;
            }
            s.cur = &f;
            s.rt.cur = &f.t;
            hebb_emu_switch(&s.home_sp, f.sp);
            if (!s.error.empty()) return false;
            done += f.wait == DONE;
        }
        if (done < n && !s.progress) {
            unsigned bar = 0, warp = 0;
            for (const Fiber& f : s.fibers) {
                bar += f.wait == AT_BARRIER;
                warp += f.wait == AT_WARP;
            }
            char b[200];
            std::snprintf(b, sizeof b,
                          "deadlock: %u of %u threads wait at __syncthreads, %u at a warp "
                          "collective, %u have exited",
                          bar, n, warp, n - s.live);
            s.error = b;
            for (unsigned w = 0; w * 32 < n; w++) {
                bool mixed = false;
                for (unsigned l = w * 32; l < n && l < w * 32 + 32; l++)
                    mixed |= s.fibers[l].wait != s.fibers[w * 32].wait ||
                             s.fibers[l].wait == AT_WARP;
                if (mixed) {
                    s.error += "; warp " + std::to_string(w) + ":" + lane_states(s, w);
                    break;
                }
            }
            return false;
        }
    }
    return true;
}

struct Module {
    void* handle;
};

struct Function {
    Kernel kernel;
    Bind bind;
    std::string name;
    int max_dyn_smem = SMEM_DEFAULT;
};

int launch(Function* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
           unsigned bz, unsigned smem, void** params) {
    if (!fn) return INVALID_HANDLE;
    const unsigned long long threads = (unsigned long long)bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || threads == 0 || !params) return INVALID_VALUE;
    if (threads > MAX_THREADS) return INVALID_VALUE;
    if ((int)smem > fn->max_dyn_smem || (int)smem > SMEM_OPTIN) return INVALID_VALUE;
    thread_local Sched s;
    if (!ensure_stacks(s, threads)) return OUT_OF_MEMORY;
    s.rt.block_dim = {bx, by, bz};
    s.rt.grid_dim = {gx, gy, gz};
    s.rt.sync_block = &sync_block;
    s.rt.warp_exchange = &warp_exchange;
    // Shared memory ends at a guard page: a block that reads or writes past what the launch
    // gave it faults.
    const size_t smem_used = (smem + 127) & ~size_t(127);
    if (s.smem.base) munmap(s.smem.base, s.smem.len);
    s.rt.dyn_smem = fenced_alloc(smem_used, true, s.smem);
    if (!s.rt.dyn_smem) return OUT_OF_MEMORY;
    install_fault_handler();
    s.kernel = fn->kernel;
    s.args = params;
    s.error.clear();
    Sched* prev = g_sched;
    g_sched = &s;
    g_running = fn->name.c_str();
    fn->bind(&s.rt);
    bool ok = true;
    for (unsigned z = 0; z < gz && ok; z++)
        for (unsigned y = 0; y < gy && ok; y++)
            for (unsigned x = 0; x < gx && ok; x++) {
                s.rt.block_idx = {x, y, z};
                // Uninitialised shared memory holds a fixed pattern, so a read before a write is
                // reproducible.
                std::memset(s.rt.dyn_smem, 0xa5, smem_used);
                ok = run_block(s, (unsigned)threads);
            }
    g_sched = prev;
    g_running = nullptr;
    if (!ok) {
        std::fprintf(stderr, "cuda-emu: kernel %s, block (%u,%u,%u): %s\n", fn->name.c_str(),
                     s.rt.block_idx.x, s.rt.block_idx.y, s.rt.block_idx.z, s.error.c_str());
        return LAUNCH_FAILED;
    }
    return OK;
}

int occupancy(Function* fn, int block, size_t smem) {
    if (!fn || block <= 0 || block > MAX_THREADS) return 0;
    int by_threads = 2048 / block;
    int by_smem = smem == 0 ? 32 : (int)(SMEM_PER_SM / (smem + 1024));
    int r = by_threads < by_smem ? by_threads : by_smem;
    return r < 32 ? r : 32;
}

int dummy_handle;

}  // namespace

extern "C" {

int cuInit(unsigned) { return OK; }
int cuDriverGetVersion(int* v) {
    if (!v) return INVALID_VALUE;
    *v = 13000;
    return OK;
}
int cuDeviceGetCount(int* n) {
    if (!n) return INVALID_VALUE;
    *n = 1;
    return OK;
}
int cuDeviceGet(int* d, int ordinal) {
    if (!d || ordinal != 0) return INVALID_VALUE;
    *d = 0;
    return OK;
}
int cuDeviceGetName(char* name, int len, int) {
    if (!name || len <= 0) return INVALID_VALUE;
    std::snprintf(name, (size_t)len, "%s", DEVICE_NAME);
    return OK;
}
int cuDeviceGetUuid(unsigned char* uuid, int) {
    if (!uuid) return INVALID_VALUE;
    std::memset(uuid, 0, 16);
    return OK;
}
int cuDeviceGetUuid_v2(unsigned char* uuid, int d) { return cuDeviceGetUuid(uuid, d); }
int cuDeviceTotalMem_v2(size_t* b, int) {
    if (!b) return INVALID_VALUE;
    *b = TOTAL_MEM;
    return OK;
}
int cuDeviceGetAttribute(int* v, int attr, int) {
    if (!v) return INVALID_VALUE;
    switch (attr) {
        case 1: *v = MAX_THREADS; break;             // MAX_THREADS_PER_BLOCK
        case 2: case 3: *v = 1024; break;            // MAX_BLOCK_DIM_X/Y
        case 4: *v = 64; break;                      // MAX_BLOCK_DIM_Z
        case 5: *v = 2147483647; break;              // MAX_GRID_DIM_X
        case 6: case 7: *v = 65535; break;           // MAX_GRID_DIM_Y/Z
        case 8: *v = SMEM_DEFAULT; break;            // MAX_SHARED_MEMORY_PER_BLOCK
        case 10: *v = 32; break;                     // WARP_SIZE
        case 13: *v = 1980000; break;                // CLOCK_RATE (kHz)
        case 16: *v = SMS; break;                    // MULTIPROCESSOR_COUNT
        case 39: *v = 2048; break;                   // MAX_THREADS_PER_MULTIPROCESSOR
        case 75: *v = 9; break;                      // COMPUTE_CAPABILITY_MAJOR
        case 76: *v = 0; break;                      // COMPUTE_CAPABILITY_MINOR
        case 81: *v = SMEM_PER_SM; break;            // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
        case 97: *v = SMEM_OPTIN; break;             // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        case 115: *v = 0; break;                     // MEMORY_POOLS_SUPPORTED
        default: *v = 0; break;
    }
    return OK;
}

int cuDevicePrimaryCtxRetain(void** ctx, int) {
    if (!ctx) return INVALID_VALUE;
    *ctx = &dummy_handle;
    return OK;
}
int cuDevicePrimaryCtxRelease_v2(int) { return OK; }
int cuDevicePrimaryCtxRelease(int) { return OK; }
int cuCtxSetCurrent(void*) { return OK; }
int cuCtxGetCurrent(void** ctx) {
    if (!ctx) return INVALID_VALUE;
    *ctx = &dummy_handle;
    return OK;
}
int cuCtxSynchronize() { return OK; }
int cuCtxSetFlags(unsigned) { return OK; }
int cuCtxGetStreamPriorityRange(int* lo, int* hi) {
    if (lo) *lo = 0;
    if (hi) *hi = 0;
    return OK;
}
int cuCtxGetLimit(size_t* v, int) {
    if (!v) return INVALID_VALUE;
    *v = 0;
    return OK;
}
int cuCtxSetLimit(int, size_t) { return OK; }
int cuCtxGetCacheConfig(int* c) {
    if (!c) return INVALID_VALUE;
    *c = 0;
    return OK;
}
int cuCtxSetCacheConfig(int) { return OK; }

// Streams and events: every operation completes before the call returns.
int cuStreamCreate(void** s, unsigned) {
    if (!s) return INVALID_VALUE;
    *s = &dummy_handle;
    return OK;
}
int cuStreamCreateWithPriority(void** s, unsigned f, int) { return cuStreamCreate(s, f); }
int cuStreamDestroy_v2(void*) { return OK; }
int cuStreamSynchronize(void*) { return OK; }
int cuStreamWaitEvent(void*, void*, unsigned) { return OK; }
int cuStreamIsCapturing(void*, int* status) {
    if (!status) return INVALID_VALUE;
    *status = 0;
    return OK;
}
int cuEventCreate(void** e, unsigned) {
    if (!e) return INVALID_VALUE;
    *e = &dummy_handle;
    return OK;
}
int cuEventRecord(void*, void*) { return OK; }
int cuEventSynchronize(void*) { return OK; }
int cuEventQuery(void*) { return OK; }
int cuEventDestroy_v2(void*) { return OK; }
int cuEventElapsedTime(float* ms, void*, void*) {
    if (!ms) return INVALID_VALUE;
    *ms = 0;
    return OK;
}
int cuEventElapsedTime_v2(float* ms, void* a, void* b) { return cuEventElapsedTime(ms, a, b); }

// Memory: host memory stands in for device memory; fresh allocations hold a fixed pattern.
int cuMemAlloc_v2(unsigned long long* p, size_t n) {
    if (!p || n == 0) return INVALID_VALUE;
    const size_t rounded = (n + 255) & ~size_t(255);
    Fenced f;
    unsigned char* m = fenced_alloc(rounded, false, f);
    if (!m) return OUT_OF_MEMORY;
    std::memset(m, 0xcd, rounded);
    std::lock_guard<std::mutex> g(g_mem_mutex);
    g_allocs[reinterpret_cast<uintptr_t>(m)] = f;
    g_allocated += rounded;
    *p = reinterpret_cast<uintptr_t>(m);
    return OK;
}
int cuMemAllocAsync(unsigned long long* p, size_t n, void*) { return cuMemAlloc_v2(p, n); }
int cuMemFree_v2(unsigned long long p) {
    Fenced f;
    {
        std::lock_guard<std::mutex> g(g_mem_mutex);
        auto it = g_allocs.find((uintptr_t)p);
        if (it == g_allocs.end()) return INVALID_VALUE;
        f = it->second;
        g_allocated -= (f.base + f.len - PAGE) - reinterpret_cast<unsigned char*>(p);
        g_allocs.erase(it);
    }
    munmap(f.base, f.len);
    return OK;
}
int cuMemFreeAsync(unsigned long long p, void*) { return cuMemFree_v2(p); }
int cuMemGetInfo_v2(size_t* free_b, size_t* total) {
    if (!free_b || !total) return INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_mem_mutex);
    *total = TOTAL_MEM;
    *free_b = TOTAL_MEM - g_allocated;
    return OK;
}
int cuMemcpyHtoD_v2(unsigned long long d, const void* h, size_t n) {
    if (n) std::memcpy(reinterpret_cast<void*>(d), h, n);
    return OK;
}
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* h, size_t n, void*) {
    return cuMemcpyHtoD_v2(d, h, n);
}
int cuMemcpyDtoH_v2(void* h, unsigned long long d, size_t n) {
    if (n) std::memcpy(h, reinterpret_cast<const void*>(d), n);
    return OK;
}
int cuMemcpyDtoHAsync_v2(void* h, unsigned long long d, size_t n, void*) {
    return cuMemcpyDtoH_v2(h, d, n);
}
int cuMemcpyDtoD_v2(unsigned long long d, unsigned long long s, size_t n) {
    if (n) std::memmove(reinterpret_cast<void*>(d), reinterpret_cast<const void*>(s), n);
    return OK;
}
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void*) {
    return cuMemcpyDtoD_v2(d, s, n);
}
int cuMemsetD8_v2(unsigned long long d, unsigned char v, size_t n) {
    if (n) std::memset(reinterpret_cast<void*>(d), v, n);
    return OK;
}
int cuMemsetD8Async(unsigned long long d, unsigned char v, size_t n, void*) {
    return cuMemsetD8_v2(d, v, n);
}
int cuMemsetD32_v2(unsigned long long d, unsigned v, size_t n) {
    auto* p = reinterpret_cast<unsigned*>(d);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return OK;
}
int cuMemsetD32Async(unsigned long long d, unsigned v, size_t n, void*) {
    return cuMemsetD32_v2(d, v, n);
}

// Modules: the "PTX" of the emulated NVRTC names a shared object.
int cuModuleLoadData(void** m, const void* image) {
    if (!m || !image) return INVALID_VALUE;
    const char* s = static_cast<const char*>(image);
    const char* tag = "HEBB-CUDA-EMU ";
    if (std::strncmp(s, tag, std::strlen(tag)) != 0) {
        std::fprintf(stderr, "cuda-emu: module image is not from the emulated NVRTC\n");
        return INVALID_IMAGE;
    }
    std::string path(s + std::strlen(tag));
    while (!path.empty() && (path.back() == '\n' || path.back() == '\0')) path.pop_back();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::fprintf(stderr, "cuda-emu: %s\n", dlerror());
        return INVALID_IMAGE;
    }
    *m = new Module{h};
    return OK;
}
int cuModuleUnload(void* m) {
    if (!m) return INVALID_HANDLE;
    // The object stays mapped: functions taken from it may outlive the module handle.
    delete static_cast<Module*>(m);
    return OK;
}
int cuModuleGetFunction(void** f, void* m, const char* name) {
    if (!f || !m || !name) return INVALID_VALUE;
    void* h = static_cast<Module*>(m)->handle;
    auto k = reinterpret_cast<Kernel>(dlsym(h, (std::string("hebb_emu_kernel_") + name).c_str()));
    auto b = reinterpret_cast<Bind>(dlsym(h, "hebb_emu_bind"));
    if (!k || !b) return NOT_FOUND;
    *f = new Function{k, b, name};
    return OK;
}
int cuFuncSetAttribute(void* f, int attr, int value) {
    if (!f) return INVALID_HANDLE;
    if (attr == 8) {  // MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || value > SMEM_OPTIN) return INVALID_VALUE;
        static_cast<Function*>(f)->max_dyn_smem = value;
    }
    return OK;
}
int cuFuncGetAttribute(int* v, int attr, void* f) {
    if (!v || !f) return INVALID_VALUE;
    switch (attr) {
        case 0: *v = MAX_THREADS; break;
        case 8: *v = static_cast<Function*>(f)->max_dyn_smem; break;
        default: *v = 0; break;
    }
    return OK;
}
int cuFuncSetCacheConfig(void*, int) { return OK; }
int cuOccupancyMaxActiveBlocksPerMultiprocessor(int* n, void* f, int block, size_t smem) {
    if (!n) return INVALID_VALUE;
    *n = occupancy(static_cast<Function*>(f), block, smem);
    return OK;
}
int cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* n, void* f, int block, size_t smem,
                                                         unsigned) {
    return cuOccupancyMaxActiveBlocksPerMultiprocessor(n, f, block, smem);
}

int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, void*, void** params, void** extra) {
    if (extra) return NOT_SUPPORTED;
    return launch(static_cast<Function*>(f), gx, gy, gz, bx, by, bz, smem, params);
}

int cuGetErrorName(int r, const char** s) {
    if (!s) return INVALID_VALUE;
    switch (r) {
        case OK: *s = "CUDA_SUCCESS"; break;
        case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case OUT_OF_RESOURCES: *s = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"; break;
        case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
        case NOT_SUPPORTED: *s = "CUDA_ERROR_NOT_SUPPORTED"; break;
        default: *s = "CUDA_ERROR_UNKNOWN"; break;
    }
    return OK;
}
int cuGetErrorString(int r, const char** s) { return cuGetErrorName(r, s); }

}  // extern "C"
