// Time-stepped simulation of one convolutional layer (core::layer::simulate), the sequential
// training loop (simulate with WTA + early stop, then core::plasticity::stdp_update, sample after
// sample, weights resident in shared memory) and the batched frozen-layer output
// (simulate without competition, core::pool::pool_times, core::pool::pointwise_inhibition).
//
// One thread block simulates one sample. Potentials live in `[pos][map]` order like the core's,
// first-spike times in `[map][pos]`.
//
// Per step: (leak,) scatter of the step's input events with shared atomics, then a scan of the
// positions the events reached (IF neurons: only those can cross threshold; leaky neurons: every
// position), one thread per (position, map); with competition, warp 0 picks the winners. Integer
// atomics are exact and commutative, so no result depends on the order threads run in.

#ifdef SPEC
#define THREADS C_THREADS
#else
#define THREADS ((int)blockDim.x)
#endif

// Maps per scan thread (vector width): potentials and thresholds are read VW at a time.
#ifdef SPEC
#define VW (C_M % 4 == 0 ? 4 : (C_M % 2 == 0 ? 2 : 1))
#else
#define VW 1
#endif

__device__ __forceinline__ void load_vec(const int* p, int* out) {
#if VW == 4
    const int4 a = *(const int4*)p;
    out[0] = a.x;
    out[1] = a.y;
    out[2] = a.z;
    out[3] = a.w;
#elif VW == 2
    const int2 a = *(const int2*)p;
    out[0] = a.x;
    out[1] = a.y;
#else
    out[0] = p[0];
#endif
}

// Input words each thread prefetches into registers (at most).
#define WPT_MAX 16

// Per-step counters are double-buffered by step parity: thread 0 clears the next step's pair
// while the current step's are in use.
#define MISC_NT0 4
#define MISC_NC0 6

struct Sim {
    int* v;            // potentials, n
    u16* w;            // weights, fan_in * m
    const int* theta;  // thresholds, m
    u8* tf;            // first-spike times, n (output mode)
    u32* fired;        // first spike seen, words(n) (training)
    u8* posf;          // earliest spike per position, plane
    u32* tstamp;       // step + 1 at which a position was last reached, plane
    u32* tlist;        // positions reached this step, plane
    u64* posbest;      // pointwise: best (potential, !map) first spike per position, plane
    u32* order;        // input events sorted by step (u16 or u32 entries)
    u32* starts;       // step offsets, steps + 1
    u32* cursor;       // fill cursors, steps + 1
    u32* expos;        // inhibited positions, words(plane)
    u32* exmap;        // excluded maps, words(m)
    u64* ckey;         // candidates of one step (without pointwise inhibition)
    u32* cpos;         // their positions
    u32* cmap;         // their maps
    int* win;          // winners, WIN_INTS ints each
    int* misc;         // MISC_* counters
    u32* inbuf;        // the sample's input times, in_len bytes padded with NEVER
    u32* wins;         // winners per map (training)
};

__device__ __forceinline__ Sim sim_buffers(const Params& p, u8* smem, u8* gscr, u16* w_g,
                                           const int* theta_g) {
    Sim s;
    s.v = (int*)buf_ptr(PV(B_V), smem, gscr);
    s.w = PV(B_W) == BUF_EXTERNAL ? w_g : (u16*)buf_ptr(PV(B_W), smem, gscr);
    s.theta = PV(B_THETA) == BUF_EXTERNAL ? theta_g : (const int*)buf_ptr(PV(B_THETA), smem, gscr);
    s.tf = buf_ptr(PV(B_TF), smem, gscr);
    s.fired = (u32*)buf_ptr(PV(B_FIRED), smem, gscr);
    s.posf = buf_ptr(PV(B_POSF), smem, gscr);
    s.tstamp = (u32*)buf_ptr(PV(B_TSTAMP), smem, gscr);
    s.tlist = (u32*)buf_ptr(PV(B_TLIST), smem, gscr);
    s.posbest = (u64*)buf_ptr(PV(B_POSBEST), smem, gscr);
    s.order = (u32*)buf_ptr(PV(B_ORDER), smem, gscr);
    s.starts = (u32*)buf_ptr(PV(B_STARTS), smem, gscr);
    s.cursor = (u32*)buf_ptr(PV(B_CURSOR), smem, gscr);
    s.expos = (u32*)buf_ptr(PV(B_EXPOS), smem, gscr);
    s.exmap = (u32*)buf_ptr(PV(B_EXMAP), smem, gscr);
    s.ckey = (u64*)buf_ptr(PV(B_CKEY), smem, gscr);
    s.cpos = (u32*)buf_ptr(PV(B_CPOS), smem, gscr);
    s.cmap = (u32*)buf_ptr(PV(B_CMAP), smem, gscr);
    s.win = (int*)buf_ptr(PV(B_WIN), smem, gscr);
    s.misc = (int*)buf_ptr(PV(B_MISC), smem, gscr);
    s.inbuf = (u32*)buf_ptr(PV(B_INBUF), smem, gscr);
    s.wins = (u32*)buf_ptr(PV(B_WINS), smem, gscr);
    return s;
}

__device__ __forceinline__ u32 order_get(const Params& p, const Sim& s, int i) {
    return PV(ORDER16) ? (u32)((const u16*)s.order)[i] : s.order[i];
}

__device__ __forceinline__ void order_set(const Params& p, const Sim& s, u32 i, u32 x) {
    if (PV(ORDER16))
        ((u16*)s.order)[i] = (u16)x;
    else
        s.order[i] = x;
}

// Copies weights and thresholds into their block-local buffers (when they have one), clears the
// per-map win counters.
__device__ void sim_load_params(const Params& p, const Sim& s, const u16* w_g, const int* theta_g) {
    const int tid = threadIdx.x, bs = blockDim.x;
    if (PV(B_W) != BUF_EXTERNAL) {
        const int nw = PV(IN_C) * PV(K) * PV(K) * PV(M);
        for (int i = tid; i < nw; i += bs) s.w[i] = w_g[i];
    }
    if (PV(B_THETA) != BUF_EXTERNAL) {
        int* th = (int*)s.theta;
        for (int i = tid; i < PV(M); i += bs) th[i] = theta_g[i];
    }
    if (PV(TRAIN))
        for (int i = tid; i < PV(M); i += bs) s.wins[i] = 0;
    __syncthreads();
}

// Input prefetch: each thread loads its words of a sample into registers long before they are
// needed (the next sample's, while this one runs).
__device__ __forceinline__ void prefetch_input(const Params& p, u32* pre, const u8* src) {
    if (!PV(PREFETCH)) return;
    const u32* s4 = (const u32*)src;
#pragma unroll
    for (int j = 0; j < WPT_MAX; j++) {
        if (j < PV(WPT)) {
            const int wd = threadIdx.x + j * THREADS;
            pre[j] = wd < PV(IN_WORDS) ? __ldg(s4 + wd) : 0xffffffffu;
        }
    }
}

// Stores the sample's input in s.inbuf (from the prefetched registers when there are).
__device__ __forceinline__ void store_input(const Params& p, const Sim& s, const u32* pre,
                                            const u8* src) {
    const int tid = threadIdx.x;
    if (PV(PREFETCH)) {
#pragma unroll
        for (int j = 0; j < WPT_MAX; j++) {
            if (j < PV(WPT)) {
                const int wd = tid + j * THREADS;
                if (wd < PV(IN_WORDS)) s.inbuf[wd] = pre[j];
            }
        }
    } else {
        u8* ib = (u8*)s.inbuf;
        const int in_len = PV(IN_LEN);
        for (int i = tid; i < PV(IN_WORDS) * 4; i += blockDim.x) ib[i] = i < in_len ? src[i] : NEVER;
    }
}

// Adds the weights of input spike `idx` to every output neuron that sees it (core::conv::scatter)
// and, when tracking, appends the positions reached for the first time this step to s.tlist.
// One warp per event, lanes over maps.
__device__ __forceinline__ void scatter_event(const Params& p, const Sim& s, u32 idx, int lane,
                                              int t) {
    const int in_w = PV(IN_W), in_plane = PV(IN_H) * in_w;
    const int k = PV(K), st = PV(S), pad = PV(PAD), m = PV(M), oh = PV(OH), ow = PV(OW);
    const int c = (int)idx / in_plane;
    const int r = (int)idx - c * in_plane;
    const int y = r / in_w, x = r - (r / in_w) * in_w;
    const int py = y + pad, px = x + pad;
    int y0, y1, x0, x1;
    reach(py, k, st, oh, y0, y1);
    reach(px, k, st, ow, x0, x1);
    if (PV(TRACK)) {
        const int nx = x1 - x0, ntap = (y1 - y0) * nx;
        for (int j0 = 0; j0 < ntap; j0 += 32) {
            const int j = j0 + lane;
            bool fresh = false;
            int pos = 0;
            if (j < ntap) {
                pos = (y0 + j / nx) * ow + x0 + j % nx;
                fresh = atomicExch(&s.tstamp[pos], (u32)(t + 1)) != (u32)(t + 1);
            }
            const u32 fm = __ballot_sync(FULL_MASK, fresh);
            if (fm) {
                u32 base = 0;
                if (lane == 0) base = atomicAdd((u32*)&s.misc[MISC_NT0 + (t & 1)], (u32)__popc(fm));
                base = __shfl_sync(FULL_MASK, base, 0);
                if (fresh) s.tlist[base + __popc(fm & ((1u << lane) - 1u))] = (u32)pos;
            }
        }
    }
    for (int oy = y0; oy < y1; oy++) {
        const int ky = py - oy * st;
        for (int ox = x0; ox < x1; ox++) {
            const int kx = px - ox * st;
            const u16* wr = s.w + ((c * k + ky) * k + kx) * m;
            int* vr = s.v + (oy * ow + ox) * m;
            for (int mi = lane; mi < m; mi += 32) atomicAdd(vr + mi, (int)wr[mi]);
        }
    }
}

// Phase timing (thread 0, cycles, kept in registers), enabled by a non-null `prof` (16 u64).
#define PROF_RESET 0
#define PROF_SORT 1
#define PROF_SCATTER 2
#define PROF_SCAN 3
#define PROF_WTA 4
#define PROF_STDP 5
#define PROF_STEPS 6
#define PROF_PICKS 7
#define PROF_SAMPLES 8
#define PROF_N 9
#define PROF_MARK(slot)                      \
    if (prof && tid == 0) {                  \
        const u64 now_ = clock64();          \
        pacc[slot] += now_ - t_mark;         \
        t_mark = now_;                       \
    }
// The accumulators live in shared memory (thread 0 only), not in registers.
__shared__ u64 prof_acc[16];

// Simulates one sample (core::layer::simulate) whose input is already in s.inbuf (visible after
// the first __syncthreads). With `wta` the step's first spikes compete and winners land in
// s.win / s.misc[MISC_NWIN]; the simulation stops early when no more winners can come. On return
// (after a __syncthreads) s.misc holds the winners, spikes and events of the sample.
__device__ void sim_sample(const Params& p, const Sim& s, bool wta, bool prof, u64* pacc) {
    const int tid = threadIdx.x, bs = blockDim.x, lane = tid & 31, wid = tid >> 5;
    const int nwarps = bs >> 5;
    const int m = PV(M), ow = PV(OW), oh = PV(OH), plane = oh * ow, n = plane * m;
    const int steps = PV(STEPS), in_words = PV(IN_WORDS);
    const int kind = PV(KIND), fire_once = PV(FIRE_ONCE);
    const bool track = PV(TRACK) != 0;
    const bool pointwise = wta && PV(POINTWISE);
    const int wta_k = PV(WTA_K), per_map = PV(PER_MAP), radius = PV(RADIUS);
    u64 t_mark = prof ? clock64() : 0;

    // Reset.
    {
        int4* v4 = (int4*)s.v;
        const int4 z = make_int4(0, 0, 0, 0);
        for (int i = tid; i < (n + 3) >> 2; i += bs) v4[i] = z;
        if (PV(TRAIN)) {
            for (int i = tid; i < (n + 31) >> 5; i += bs) s.fired[i] = 0;
        } else {
            u32* tf4 = (u32*)s.tf;
            for (int i = tid; i < (n + 3) >> 2; i += bs) tf4[i] = 0xffffffffu;
        }
        u32* pf4 = (u32*)s.posf;
        for (int i = tid; i < (plane + 3) >> 2; i += bs) pf4[i] = 0xffffffffu;
        if (track)
            for (int i = tid; i < plane; i += bs) s.tstamp[i] = 0;
        if (pointwise)
            for (int i = tid; i < plane; i += bs) s.posbest[i] = 0;
        if (wta) {
            for (int i = tid; i < ((plane + 31) >> 5); i += bs) s.expos[i] = 0;
            for (int i = tid; i < ((m + 31) >> 5); i += bs) s.exmap[i] = 0;
        }
        for (int i = tid; i <= steps; i += bs) s.starts[i] = 0;
        if (tid < MISC_LEN) s.misc[tid] = 0;
    }
    __syncthreads();
    PROF_MARK(PROF_RESET);

    // Input events by step (counting sort; the order inside a step does not matter because the
    // accumulation is exact). Most words hold four silent inputs and are skipped at once.
    for (int wd = tid; wd < in_words; wd += bs) {
        const u32 x = s.inbuf[wd];
        if (x == 0xffffffffu) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int t = (x >> (8 * j)) & 255;
            if (t < steps) atomicAdd(&s.starts[t + 1], 1u);
        }
    }
    __syncthreads();
    if (tid < 32) {
        // Inclusive prefix sum over the steps + 1 counters, one warp.
        u32 carry = 0;
        for (int b = 0; b <= steps; b += 32) {
            const int t = b + lane;
            u32 x = t <= steps ? s.starts[t] : 0;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const u32 y = __shfl_up_sync(FULL_MASK, x, o);
                if (lane >= o) x += y;
            }
            x += carry;
            if (t <= steps) {
                s.starts[t] = x;
                s.cursor[t] = x;
            }
            carry = __shfl_sync(FULL_MASK, x, 31);
        }
    }
    __syncthreads();
    for (int wd = tid; wd < in_words; wd += bs) {
        const u32 x = s.inbuf[wd];
        if (x == 0xffffffffu) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int t = (x >> (8 * j)) & 255;
            if (t < steps) order_set(p, s, atomicAdd(&s.cursor[t], 1u), (u32)(4 * wd + j));
        }
    }
    __syncthreads();
    PROF_MARK(PROF_SORT);

    int my_spikes = 0;
    int t_run = 0;
    for (int t = 0; t < steps; t++) {
        // Leak first (every neuron), then the step's input, then the clamp at 0.
        if (kind == KIND_LIF_SUB) {
            const int leak = PV(LEAK);
            for (int i = tid; i < n; i += bs) {
                const i64 x = (i64)s.v[i] - (i64)leak;
                s.v[i] = x < -2147483647ll - 1 ? (int)(-2147483647 - 1) : (int)x;
            }
            __syncthreads();
        } else if (kind == KIND_LIF_MUL) {
            const i64 beta = (i64)PV(BETA);
            for (int i = tid; i < n; i += bs) s.v[i] = (int)(((i64)s.v[i] * beta) >> 16);
            __syncthreads();
        }
        if (tid == 0) {
            // The other parity's counters were last read before the previous step's scan ended.
            s.misc[MISC_NT0 + ((t + 1) & 1)] = 0;
            s.misc[MISC_NC0 + ((t + 1) & 1)] = 0;
        }
        const int ea = (int)s.starts[t], eb = (int)s.starts[t + 1];
        for (int e = ea + wid; e < eb; e += nwarps) scatter_event(p, s, order_get(p, s, e), lane, t);
        __syncthreads();
        PROF_MARK(PROF_SCATTER);

        // Threshold crossings: one thread per (position, map) of the positions reached (IF) or of
        // every position (leaky neurons).
        const int npos = track ? s.misc[MISC_NT0 + (t & 1)] : plane;
        // One thread per VW consecutive maps of a position (vector loads of potentials and
        // thresholds); whole warps iterate together for the pointwise reduction.
        const int mv = m / VW;
        const int items = npos * mv;
        const int items_r = (items + 31) & ~31;
        for (int it = tid; it < items_r; it += bs) {
            bool cand = false;
            u32 bx = 0, bmi = 0xffffffffu;
            int pos = -1;
            if (it < items) {
                const int q = it / mv, m0 = (it - q * mv) * VW;
                pos = track ? (int)s.tlist[q] : q;
                int xs[VW], th[VW];
                load_vec(s.v + pos * m + m0, xs);
                load_vec(s.theta + m0, th);
                int pf = -1;
#pragma unroll
                for (int u = 0; u < VW; u++) {
                    const int mi = m0 + u, i = pos * m + mi;
                    int x = xs[u];
                    if (kind != KIND_IF && x < 0) {
                        x = 0;
                        s.v[i] = 0;
                    }
                    if (x < th[u]) continue;
                    const int ti = mi * plane + pos;
                    const bool first =
                        PV(TRAIN) ? !((s.fired[ti >> 5] >> (ti & 31)) & 1u) : s.tf[ti] == NEVER;
                    if (!first && fire_once) continue;
                    s.v[i] = 0;
                    if (!first) continue;
                    if (PV(TRAIN))
                        atomicOr(&s.fired[ti >> 5], 1u << (ti & 31));
                    else
                        s.tf[ti] = (u8)t;
                    my_spikes++;
                    // Concurrent writers store the same value; a read sees either the value of
                    // an earlier step or NEVER / t, so `pf < t` is the core's `blocked`.
                    if (pf < 0) {
                        pf = s.posf[pos];
                        if (pf == NEVER) s.posf[pos] = (u8)t;
                    }
                    if (!wta) continue;
                    if (pointwise) {
                        // Highest potential, then lowest map (maps ascend within the thread).
                        if (pf >= t && (u32)x > bx) {
                            bx = (u32)x;
                            bmi = (u32)mi;
                            cand = true;
                        }
                    } else {
                        const int j = atomicAdd(&s.misc[MISC_NC0 + (t & 1)], 1);
                        s.ckey[j] = ((u64)(u32)x << 32) | (u64)(~(u32)ti);
                        s.cpos[j] = (u32)pos;
                        s.cmap[j] = (u32)mi;
                    }
                }
            }
            if (pointwise && __any_sync(FULL_MASK, cand)) {
                // The lanes of one position agree on its best first spike; one of them records it
                // (a position spans at most a few warps).
                u32 gx, gmi;
                group_best(pos, cand, bx, bmi, gx, gmi);
                const u32 peers = __match_any_sync(FULL_MASK, pos);
                if (lane == __ffs(peers) - 1 && gx != 0)
                    atomicMax(&s.posbest[pos], ((u64)gx << 32) | (u64)(~gmi));
            }
        }
        __syncthreads();
        PROF_MARK(PROF_SCAN);
        t_run = t + 1;

        if (wta) {
            if (pointwise) {
                // Compact the positions' best first spikes into the candidate list.
                const int npos_r = (npos + 31) & ~31;
                for (int q = tid; q < npos_r; q += bs) {
                    bool has = false;
                    u64 key = 0;
                    int pos = 0, mi = 0;
                    if (q < npos) {
                        pos = track ? (int)s.tlist[q] : q;
                        const u64 b = s.posbest[pos];
                        if (b != 0) {
                            has = true;
                            s.posbest[pos] = 0;
                            mi = (int)~(u32)b;
                            key = (b & 0xffffffff00000000ull) |
                                  (u64)(~((u32)mi * (u32)plane + (u32)pos));
                        }
                    }
                    const u32 bm = __ballot_sync(FULL_MASK, has);
                    if (bm) {
                        u32 base = 0;
                        if (lane == 0)
                            base = atomicAdd((u32*)&s.misc[MISC_NC0 + (t & 1)], (u32)__popc(bm));
                        base = __shfl_sync(FULL_MASK, base, 0);
                        if (has) {
                            const u32 j = base + __popc(bm & ((1u << lane) - 1u));
                            s.ckey[j] = key;
                            s.cpos[j] = (u32)pos;
                            s.cmap[j] = (u32)mi;
                        }
                    }
                }
                __syncthreads();
            }
            // Warp 0 picks one winner after another: each pick is the best candidate not yet
            // excluded, which is what the core's greedy scan of the sorted candidates selects.
            if (wid == 0) {
                int nwin = s.misc[MISC_NWIN];
                const int nc = s.misc[MISC_NC0 + (t & 1)];
                while (nwin < wta_k && nc > 0) {
                    u64 best = 0;
                    for (int j0 = 0; j0 < nc; j0 += 128) {
                        u64 kv[4];
                        int mv[4], pv[4];
#pragma unroll
                        for (int u = 0; u < 4; u++) {
                            const int j = j0 + 32 * u + lane;
                            kv[u] = 0;
                            mv[u] = 0;
                            pv[u] = 0;
                            if (j < nc) {
                                kv[u] = s.ckey[j];
                                mv[u] = (int)s.cmap[j];
                                pv[u] = (int)s.cpos[j];
                            }
                        }
#pragma unroll
                        for (int u = 0; u < 4; u++) {
                            if (kv[u] > best && !(per_map && get_bit(s.exmap, mv[u])) &&
                                !get_bit(s.expos, pv[u]))
                                best = kv[u];
                        }
                    }
                    best = warp_max_u64(best);
                    if (best == 0) break;
                    const u32 flat = ~(u32)best;
                    const int mi = (int)(flat / (u32)plane), pos = (int)(flat % (u32)plane);
                    const int y = pos / ow, x = pos % ow;
                    const int yy0 = y - radius < 0 ? 0 : y - radius;
                    const int yy1 = y + radius + 1 < oh ? y + radius + 1 : oh;
                    const int xx0 = x - radius < 0 ? 0 : x - radius;
                    const int xx1 = x + radius + 1 < ow ? x + radius + 1 : ow;
                    const int wx = xx1 - xx0, cnt = (yy1 - yy0) * wx;
                    for (int q = lane; q < cnt; q += 32) {
                        const int pp = (yy0 + q / wx) * ow + xx0 + q % wx;
                        atomicOr(&s.expos[pp >> 5], 1u << (pp & 31));
                    }
                    if (lane == 0) {
                        int* wr = s.win + nwin * WIN_INTS;
                        wr[0] = mi;
                        wr[1] = y;
                        wr[2] = x;
                        wr[3] = t;
                        wr[4] = (int)(best >> 32);
                        if (per_map) s.exmap[mi >> 5] |= 1u << (mi & 31);
                    }
                    nwin++;
                    __syncwarp();
                }
                if (lane == 0) s.misc[MISC_NWIN] = nwin;
            }
            __syncthreads();
            PROF_MARK(PROF_WTA);
            const int nwin = s.misc[MISC_NWIN];
            if (PV(EARLY_STOP) && (nwin == wta_k || (per_map && nwin >= m))) break;
        }
    }

    my_spikes = warp_sum(my_spikes);
    if (lane == 0 && my_spikes) atomicAdd(&s.misc[MISC_SPIKES], my_spikes);
    if (tid == 0) {
        s.misc[MISC_EVENTS] = (int)s.starts[t_run];
        if (prof) pacc[PROF_STEPS] += (u64)t_run;
    }
    __syncthreads();
}

// core::plasticity::stdp_update for the winners in s.win, from the weights before the update.
__device__ void stdp_block(const Params& p, const Sim& s, int nwin, u32 a_plus, u32 a_minus) {
    const int tid = threadIdx.x, bs = blockDim.x;
    const int k = PV(K), kk = k * k, fan = PV(IN_C) * kk, m = PV(M);
    const int st = PV(S), pad = PV(PAD), in_h = PV(IN_H), in_w = PV(IN_W), rule = PV(RULE);
    const u8* input = (const u8*)s.inbuf;
    const int items = nwin * fan;
    for (int it = tid; it < items; it += bs) {
        const int j = it / fan, syn = it - j * fan;
        const int map = s.win[j * WIN_INTS];
        bool dup = false;
        for (int q = 0; q < j; q++) {
            if (s.win[q * WIN_INTS] == map) {
                dup = true;
                break;
            }
        }
        if (dup) continue;
        const int c = syn / kk, rem = syn - c * kk, ky = rem / k, kx = rem - (rem / k) * k;
        const int wi = syn * m + map;
        const u32 w0 = s.w[wi];
        int d = 0;
        for (int q = j; q < nwin; q++) {
            const int* wq = s.win + q * WIN_INTS;
            if (wq[0] != map) continue;
            const int py = wq[1] * st + ky, px = wq[2] * st + kx;
            int pre = NEVER;
            if (!(py < pad || px < pad || py - pad >= in_h || px - pad >= in_w))
                pre = input[(c * in_h + py - pad) * in_w + px - pad];
            const bool ltp = pre != NEVER && pre <= wq[3];
            d += stdp_delta(w0, ltp, a_plus, a_minus, rule);
        }
        s.w[wi] = stdp_apply(w0, d);
    }
    __syncthreads();
}

// core::homeostasis::AdaptiveThreshold::step for every map after a sample: raised when the map
// fired anywhere (its bits in s.fired), then decayed toward rest (offset truncated toward zero),
// then clamped.
__device__ void adapt_thresholds(const Params& p, const Sim& s) {
    const int m = PV(M), plane = PV(OH) * PV(OW);
    int* th = (int*)s.theta;
    for (int mi = threadIdx.x; mi < m; mi += blockDim.x) {
        const int a = mi * plane, b = a + plane;
        bool spiked = false;
        for (int w = a >> 5; w <= (b - 1) >> 5 && !spiked; w++) {
            u32 bits = s.fired[w];
            const int lo = w << 5;
            if (lo < a) bits &= 0xffffffffu << (a - lo);
            if (lo + 32 > b) bits &= 0xffffffffu >> (lo + 32 - b);
            spiked = bits != 0;
        }
        const i64 rest = PV(H_REST), t_min = PV(H_MIN), t_max = PV(H_MAX);
        i64 t = th[mi];
        if (spiked) {
            t += PV(H_PLUS);
            if (t > t_max) t = t_max;
        }
        // |t − rest| < 2^32 and decay < 2^32: the product fits 64 bits.
        const i64 d = t - rest;
        const i64 off = (i64)(((u64)(d < 0 ? -d : d) * (u64)(u32)PV(H_DECAY)) >> 32);
        t = rest + (d < 0 ? -off : off);
        th[mi] = (int)(t < t_min ? t_min : (t > t_max ? t_max : t));
    }
    __syncthreads();
}

// The sequential training loop of one layer over `order` (one block). `stats` receives per
// sample: winners, spikes, events; `wins` the winners per map.
extern "C" __global__ void __launch_bounds__(1024, 1)
train_layer(Params p, const u8* __restrict__ inputs, const u32* __restrict__ order, int n_order,
            const u32* __restrict__ a_plus, const u32* __restrict__ a_minus, u16* w_g,
            int* theta_g, u32* wins, u32* stats, u8* scratch, u64* prof_g, int profile) {
    extern __shared__ __align__(16) u8 smem[];
    u8* gscr = scratch + (u64)blockIdx.x * (u64)(u32)PV(SCR);
    const Sim s = sim_buffers(p, smem, gscr, w_g, theta_g);
    sim_load_params(p, s, w_g, theta_g);
    const u64 in_len = (u64)PV(IN_LEN);
    const int tid = threadIdx.x;
    const bool prof = profile != 0;
    u64* pacc = prof_acc;
    if (tid < 16) pacc[tid] = 0;
    u32 pre[WPT_MAX];
    u32 idx = order[0];
    u32 idx_next = n_order > 1 ? order[1] : 0;
    prefetch_input(p, pre, inputs + idx * in_len);
    for (int i = 0; i < n_order; i++) {
        store_input(p, s, pre, inputs + idx * in_len);
        if (i + 1 < n_order) prefetch_input(p, pre, inputs + idx_next * in_len);
        const u32 idx_after = i + 2 < n_order ? order[i + 2] : 0;
        const u32 ap = a_plus[i], am = a_minus[i];
        sim_sample(p, s, true, prof, pacc);
        u64 t_mark = prof ? clock64() : 0;
        const int nwin = s.misc[MISC_NWIN];
        if (nwin > 0) stdp_block(p, s, nwin, ap, am);
        if (PV(ADAPT)) adapt_thresholds(p, s);
        if (tid == 0) {
            for (int q = 0; q < nwin; q++) s.wins[s.win[q * WIN_INTS]] += 1;
            stats[3 * i] = (u32)nwin;
            stats[3 * i + 1] = (u32)s.misc[MISC_SPIKES];
            stats[3 * i + 2] = (u32)s.misc[MISC_EVENTS];
            if (prof) pacc[PROF_PICKS] += (u64)nwin;
        }
        __syncthreads();
        PROF_MARK(PROF_STDP);
        if (prof && tid == 0) pacc[PROF_SAMPLES] += 1;
        idx = idx_next;
        idx_next = idx_after;
    }
    for (int i = tid; i < PV(M); i += blockDim.x) wins[i] = s.wins[i];
    if (PV(ADAPT) && PV(B_THETA) != BUF_EXTERNAL)
        for (int i = tid; i < PV(M); i += blockDim.x) theta_g[i] = s.theta[i];
    if (PV(B_W) != BUF_EXTERNAL) {
        const int nw = PV(IN_C) * PV(K) * PV(K) * PV(M);
        for (int i = tid; i < nw; i += blockDim.x) w_g[i] = s.w[i];
    }
    if (prof && tid == 0)
        for (int j = 0; j < PROF_N; j++) prof_g[j] = pacc[j];
}

// Mini-batch training, first half: simulates samples order[0..n) with the batch's weights (one
// block per sample, grid-stride) and records their winners: `win` holds WTA_K records of
// WIN_INTS ints per sample, `stats` winners, spikes, events per sample.
extern "C" __global__ void __launch_bounds__(1024, 1)
train_batch(Params p, const u8* __restrict__ inputs, const u32* __restrict__ order, int n,
            u16* w_g, const int* theta_g, int* __restrict__ win, u32* __restrict__ stats,
            u8* scratch) {
    extern __shared__ __align__(16) u8 smem[];
    u8* gscr = scratch + (u64)blockIdx.x * (u64)(u32)PV(SCR);
    const Sim s = sim_buffers(p, smem, gscr, w_g, theta_g);
    sim_load_params(p, s, w_g, theta_g);
    const int tid = threadIdx.x;
    const u64 in_len = (u64)PV(IN_LEN);
    const int rec = PV(WTA_K) * WIN_INTS;
    u32 pre[WPT_MAX];
    int b = blockIdx.x;
    if (b < n) prefetch_input(p, pre, inputs + (u64)order[b] * in_len);
    for (; b < n; b += gridDim.x) {
        store_input(p, s, pre, inputs + (u64)order[b] * in_len);
        if (b + (int)gridDim.x < n)
            prefetch_input(p, pre, inputs + (u64)order[b + gridDim.x] * in_len);
        sim_sample(p, s, true, false, (u64*)0);
        const int nwin = s.misc[MISC_NWIN];
        for (int i = tid; i < nwin * WIN_INTS; i += blockDim.x) win[(u64)b * rec + i] = s.win[i];
        if (tid == 0) {
            stats[3 * b] = (u32)nwin;
            stats[3 * b + 1] = (u32)s.misc[MISC_SPIKES];
            stats[3 * b + 2] = (u32)s.misc[MISC_EVENTS];
        }
        __syncthreads();
    }
}

// Mini-batch training, second half (core::plasticity::stdp_accumulate, then
// apply_accumulated): one block per map (grid-stride) sums the STDP changes of every winner of that map in the batch,
// each from its own sample's input and rates, all from the weights before the batch, and applies
// the sum. Integer sums do not depend on the order of the winners.
#define STDP_TILE 1024
extern "C" __global__ void __launch_bounds__(256)
stdp_batch(Params p, const u8* __restrict__ inputs, const u32* __restrict__ order, int n,
           const int* __restrict__ win, const u32* __restrict__ stats,
           const u32* __restrict__ a_plus, const u32* __restrict__ a_minus, u16* w_g) {
    __shared__ int list[STDP_TILE];
    __shared__ int count;
    const int tid = threadIdx.x, bs = blockDim.x;
    const int k = PV(K), kk = k * k, fan = PV(IN_C) * kk, m = PV(M), wta_k = PV(WTA_K);
    const int st = PV(S), pad = PV(PAD), in_h = PV(IN_H), in_w = PV(IN_W), rule = PV(RULE);
    const u64 in_len = (u64)PV(IN_LEN);
    const int slots = n * wta_k;
    for (int map = blockIdx.x; map < m; map += gridDim.x) {
        // Each thread owns synapses tid, tid + bs, ... of this map's kernel: at most 8 per
        // thread (fan <= 2,048 is checked by the host).
        int d[8];
#pragma unroll
        for (int u = 0; u < 8; u++) d[u] = 0;
        for (int t0 = 0; t0 < slots; t0 += STDP_TILE) {
            if (tid == 0) count = 0;
            __syncthreads();
            for (int q = t0 + tid; q < t0 + STDP_TILE && q < slots; q += bs) {
                const int j = q / wta_k;
                if (q - j * wta_k < (int)stats[3 * j] && win[(u64)q * WIN_INTS] == map)
                    list[atomicAdd(&count, 1)] = q;
            }
            __syncthreads();
            const int nl = count;
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const int syn = tid + u * bs;
                if (syn >= fan) break;
                const int c = syn / kk, rem = syn - c * kk, ky = rem / k, kx = rem - (rem / k) * k;
                const u32 w0 = w_g[syn * m + map];
                for (int e = 0; e < nl; e++) {
                    const int q = list[e], j = q / wta_k;
                    const int* wq = win + (u64)q * WIN_INTS;
                    const int py = wq[1] * st + ky, px = wq[2] * st + kx;
                    int pre_t = NEVER;
                    if (!(py < pad || px < pad || py - pad >= in_h || px - pad >= in_w))
                        pre_t = inputs[(u64)order[j] * in_len +
                                       (u64)((c * in_h + py - pad) * in_w + px - pad)];
                    const bool ltp = pre_t != NEVER && pre_t <= wq[3];
                    d[u] += stdp_delta(w0, ltp, a_plus[j], a_minus[j], rule);
                }
            }
            __syncthreads();
        }
#pragma unroll
        for (int u = 0; u < 8; u++) {
            const int syn = tid + u * bs;
            if (syn >= fan) break;
            const int wi = syn * m + map;
            w_g[wi] = stdp_apply(w_g[wi], d[u]);
        }
        __syncthreads();
    }
}

// Frozen-layer output of samples [0, n): full simulation without competition, pooling, then
// pointwise inhibition over maps when INHIBIT. One block per sample (grid-stride).
extern "C" __global__ void __launch_bounds__(1024, 1)
layer_times(Params p, const u8* __restrict__ inputs, int n, u16* w_g, const int* theta_g,
            u8* __restrict__ out, u8* scratch) {
    extern __shared__ __align__(16) u8 smem[];
    u8* gscr = scratch + (u64)blockIdx.x * (u64)(u32)PV(SCR);
    const Sim s = sim_buffers(p, smem, gscr, w_g, theta_g);
    sim_load_params(p, s, w_g, theta_g);
    const int tid = threadIdx.x, bs = blockDim.x;
    const u64 in_len = (u64)PV(IN_LEN);
    const int out_len = PV(OUT_LEN), m = PV(M);
    const int oh = PV(OH), ow = PV(OW), plane = oh * ow;
    u32 pre[WPT_MAX];
    int b = blockIdx.x;
    if (b < n) prefetch_input(p, pre, inputs + (u64)b * in_len);
    for (; b < n; b += gridDim.x) {
        store_input(p, s, pre, inputs + (u64)b * in_len);
        if (b + (int)gridDim.x < n) prefetch_input(p, pre, inputs + (u64)(b + gridDim.x) * in_len);
        sim_sample(p, s, false, false, (u64*)0);
        u8* o = out + (u64)b * (u64)out_len;
        int oplane;
        if (PV(POOL)) {
            const int pk = PV(PK), ps = PV(PS), pp = PV(PP), ph = PV(PH), pw = PV(PW);
            oplane = ph * pw;
            for (int oi = tid; oi < out_len; oi += bs) {
                const int c = oi / oplane, r = oi - c * oplane, qy = r / pw, qx = r - (r / pw) * pw;
                int best = NEVER;
                for (int ky = 0; ky < pk; ky++) {
                    const int y = qy * ps + ky - pp;
                    if (y < 0 || y >= oh) continue;
                    for (int kx = 0; kx < pk; kx++) {
                        const int x = qx * ps + kx - pp;
                        if (x < 0 || x >= ow) continue;
                        const int t = s.tf[c * plane + y * ow + x];
                        if (t < best) best = t;
                    }
                }
                o[oi] = (u8)best;
            }
        } else {
            oplane = plane;
            for (int oi = tid; oi < out_len; oi += bs) o[oi] = s.tf[oi];
        }
        if (PV(INHIBIT)) {
            __syncthreads();
            for (int pos = tid; pos < oplane; pos += bs) {
                int best = NEVER, best_c = -1;
                for (int c = 0; c < m; c++) {
                    const int t = o[c * oplane + pos];
                    if (t < best) {
                        best = t;
                        best_c = c;
                    }
                }
                for (int c = 0; c < m; c++)
                    if (c != best_c) o[c * oplane + pos] = NEVER;
            }
        }
        __syncthreads();
    }
}
