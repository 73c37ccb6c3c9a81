// Time-stepped simulation of one convolutional layer (core::layer::simulate), the sequential
// training loop (simulate with WTA + early stop, then core::layer::stdp_update, sample after
// sample, weights resident in shared memory) and the batched frozen-layer output
// (simulate without competition, core::pool::pool_times, core::pool::pointwise_inhibition).
//
// One thread block simulates one sample. Potentials live in `[pos][map]` order like the core's,
// first-spike times in `[map][pos]`.

struct Sim {
    int* v;          // potentials, n
    u16* w;          // weights, fan_in * m
    const int* theta;  // thresholds, m
    u8* tf;          // first-spike times, n
    u8* posf;        // earliest spike per position, plane
    u32* order;      // input events sorted by step, in_len
    u32* starts;     // step offsets, steps + 1
    u32* cursor;     // fill cursors, steps
    u32* expos;      // inhibited positions, words(plane)
    u32* exmap;      // excluded maps, words(m)
    u64* ckey;       // candidates of one step: packed (potential, !flat)
    u32* cpos;       // their positions
    u32* cmap;       // their maps
    int* win;        // winners, WIN_INTS ints each
    u64* red;        // 32 u64 for block reductions
    int* misc;       // MISC_* counters
};

__device__ __forceinline__ Sim sim_buffers(const Params& p, u8* smem, u8* gscr, u16* w_g,
                                           const int* theta_g) {
    Sim s;
    s.v = (int*)buf_ptr(PV(B_V), smem, gscr);
    s.w = PV(B_W) == BUF_EXTERNAL ? w_g : (u16*)buf_ptr(PV(B_W), smem, gscr);
    s.theta = PV(B_THETA) == BUF_EXTERNAL ? theta_g : (const int*)buf_ptr(PV(B_THETA), smem, gscr);
    s.tf = buf_ptr(PV(B_TF), smem, gscr);
    s.posf = buf_ptr(PV(B_POSF), smem, gscr);
    s.order = (u32*)buf_ptr(PV(B_ORDER), smem, gscr);
    s.starts = (u32*)buf_ptr(PV(B_STARTS), smem, gscr);
    s.cursor = (u32*)buf_ptr(PV(B_CURSOR), smem, gscr);
    s.expos = (u32*)buf_ptr(PV(B_EXPOS), smem, gscr);
    s.exmap = (u32*)buf_ptr(PV(B_EXMAP), smem, gscr);
    s.ckey = (u64*)buf_ptr(PV(B_CKEY), smem, gscr);
    s.cpos = (u32*)buf_ptr(PV(B_CPOS), smem, gscr);
    s.cmap = (u32*)buf_ptr(PV(B_CMAP), smem, gscr);
    s.win = (int*)buf_ptr(PV(B_WIN), smem, gscr);
    s.red = (u64*)buf_ptr(PV(B_RED), smem, gscr);
    s.misc = (int*)buf_ptr(PV(B_MISC), smem, gscr);
    return s;
}

// Copies weights and thresholds into their block-local buffers (when they have one).
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
    __syncthreads();
}

// Adds the weights of input spike `idx` to every output neuron that sees it (core::conv::scatter).
// One warp per event, lanes over maps.
__device__ __forceinline__ void scatter_event(const Params& p, const Sim& s, u32 idx, int lane) {
    const int in_w = PV(IN_W), in_plane = PV(IN_H) * in_w;
    const int k = PV(K), st = PV(S), pad = PV(PAD), m = PV(M), oh = PV(OH), ow = PV(OW);
    const int c = (int)idx / in_plane;
    const int r = (int)idx - c * in_plane;
    const int y = r / in_w, x = r - (r / in_w) * in_w;
    const int py = y + pad, px = x + pad;
    int y0, y1, x0, x1;
    reach(py, k, st, oh, y0, y1);
    reach(px, k, st, ow, x0, x1);
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

// Simulates one sample (core::layer::simulate). With `wta` the step's first spikes compete and
// winners land in s.win / s.misc[MISC_NWIN]; the simulation stops early when no more winners can
// come (when EARLY_STOP). On return (after a __syncthreads) s.misc holds the winners, spikes and
// events of the sample and s.tf the first-spike times of the simulated steps.
__device__ void sim_sample(const Params& p, const Sim& s, const u8* input, bool wta) {
    const int tid = threadIdx.x, bs = blockDim.x, lane = tid & 31, wid = tid >> 5;
    const int nwarps = bs >> 5;
    const int m = PV(M), plane = PV(OH) * PV(OW), n = plane * m;
    const int steps = PV(STEPS), in_len = PV(IN_LEN);
    const int kind = PV(KIND), fire_once = PV(FIRE_ONCE);
    const bool pointwise = wta && PV(POINTWISE);
    const int wta_k = PV(WTA_K), per_map = PV(PER_MAP), radius = PV(RADIUS);

    // Reset.
    for (int i = tid; i < n; i += bs) s.v[i] = 0;
    {
        u32* tf4 = (u32*)s.tf;  // the layout pads tf to a multiple of 4 bytes
        const int n4 = (n + 3) >> 2;
        for (int i = tid; i < n4; i += bs) tf4[i] = 0xffffffffu;
    }
    for (int i = tid; i < plane; i += bs) s.posf[i] = NEVER;
    if (wta) {
        for (int i = tid; i < ((plane + 31) >> 5); i += bs) s.expos[i] = 0;
        for (int i = tid; i < ((m + 31) >> 5); i += bs) s.exmap[i] = 0;
    }
    for (int i = tid; i <= steps; i += bs) s.starts[i] = 0;
    if (tid < MISC_LEN) s.misc[tid] = 0;
    __syncthreads();

    // Input events by step (counting sort; the order inside a step does not matter because the
    // accumulation is exact).
    for (int i = tid; i < in_len; i += bs) {
        const int t = input[i];
        if (t < steps) atomicAdd(&s.starts[t + 1], 1u);
    }
    __syncthreads();
    if (tid == 0) {
        for (int t = 0; t < steps; t++) s.starts[t + 1] += s.starts[t];
    }
    __syncthreads();
    for (int t = tid; t < steps; t += bs) s.cursor[t] = s.starts[t];
    __syncthreads();
    for (int i = tid; i < in_len; i += bs) {
        const int t = input[i];
        if (t < steps) s.order[atomicAdd(&s.cursor[t], 1u)] = (u32)i;
    }
    __syncthreads();

    int my_spikes = 0;
    int t_run = 0;
    for (int t = 0; t < steps; t++) {
        // Leak first (every neuron), then the step's input, then the clamp at 0.
        if (kind == KIND_LIF_SUB) {
            const int leak = PV(LEAK);
            for (int i = tid; i < n; i += bs) {
                i64 x = (i64)s.v[i] - (i64)leak;
                s.v[i] = x < -2147483647ll - 1 ? (int)(-2147483647 - 1) : (int)x;
            }
            __syncthreads();
        } else if (kind == KIND_LIF_MUL) {
            const i64 beta = (i64)PV(BETA);
            for (int i = tid; i < n; i += bs) s.v[i] = (int)(((i64)s.v[i] * beta) >> 16);
            __syncthreads();
        }
        const int ea = (int)s.starts[t], eb = (int)s.starts[t + 1];
        for (int e = ea + wid; e < eb; e += nwarps) scatter_event(p, s, s.order[e], lane);
        __syncthreads();

        // Threshold crossings: one warp per position, lanes over maps.
        for (int pos = wid; pos < plane; pos += nwarps) {
            const bool blocked = pointwise && (int)s.posf[pos] < t;
            u64 best = 0;
            bool anyf = false;
            for (int mi = lane; mi < m; mi += 32) {
                const int i = pos * m + mi;
                int x = s.v[i];
                if (kind != KIND_IF && x < 0) {
                    x = 0;
                    s.v[i] = 0;
                }
                if (x >= s.theta[mi]) {
                    const int ti = mi * plane + pos;
                    const bool first = s.tf[ti] == NEVER;
                    if (first || !fire_once) {
                        s.v[i] = 0;
                        if (first) {
                            s.tf[ti] = (u8)t;
                            my_spikes++;
                            anyf = true;
                            if (wta) {
                                if (pointwise) {
                                    // Highest potential, then lowest map.
                                    const u64 kk = ((u64)(u32)x << 32) | (u64)(~(u32)mi);
                                    if (!blocked && kk > best) best = kk;
                                } else {
                                    const int j = atomicAdd(&s.misc[MISC_NC], 1);
                                    s.ckey[j] = ((u64)(u32)x << 32) | (u64)(~(u32)ti);
                                    s.cpos[j] = (u32)pos;
                                    s.cmap[j] = (u32)mi;
                                }
                            }
                        }
                    }
                }
            }
            if (pointwise && __any_sync(FULL_MASK, best != 0)) {
                best = warp_max_u64(best);
                if (lane == 0) {
                    const u32 mi = ~(u32)best;
                    const int j = atomicAdd(&s.misc[MISC_NC], 1);
                    s.ckey[j] = (best & 0xffffffff00000000ull) | (u64)(~(mi * (u32)plane + (u32)pos));
                    s.cpos[j] = (u32)pos;
                    s.cmap[j] = mi;
                }
            }
            const bool af = __any_sync(FULL_MASK, anyf);
            if (lane == 0 && af && s.posf[pos] == NEVER) s.posf[pos] = (u8)t;
        }
        __syncthreads();
        t_run = t + 1;

        if (wta) {
            const int nc = s.misc[MISC_NC];
            if (s.misc[MISC_NWIN] < wta_k && nc > 0) {
                // Picks one after another: each pick is the best candidate not yet excluded, which
                // is what the core's greedy scan of the sorted candidates selects.
                for (;;) {
                    const int nwin = s.misc[MISC_NWIN];
                    if (nwin >= wta_k) break;
                    u64 best = 0;
                    for (int j = tid; j < nc; j += bs) {
                        if (per_map && get_bit(s.exmap, (int)s.cmap[j])) continue;
                        if (get_bit(s.expos, (int)s.cpos[j])) continue;
                        const u64 kj = s.ckey[j];
                        if (kj > best) best = kj;
                    }
                    best = block_max_u64(best, s.red);
                    if (best == 0) break;
                    const u32 flat = ~(u32)best;
                    const int mi = (int)(flat / (u32)plane), pos = (int)(flat % (u32)plane);
                    const int ow = PV(OW), oh = PV(OH);
                    const int y = pos / ow, x = pos % ow;
                    const int yy0 = y - radius < 0 ? 0 : y - radius;
                    const int yy1 = y + radius + 1 < oh ? y + radius + 1 : oh;
                    const int xx0 = x - radius < 0 ? 0 : x - radius;
                    const int xx1 = x + radius + 1 < ow ? x + radius + 1 : ow;
                    const int wx = xx1 - xx0, cnt = (yy1 - yy0) * wx;
                    for (int q = tid; q < cnt; q += bs) {
                        const int pp = (yy0 + q / wx) * ow + xx0 + q % wx;
                        atomicOr(&s.expos[pp >> 5], 1u << (pp & 31));
                    }
                    if (tid == 0) {
                        int* wr = s.win + nwin * WIN_INTS;
                        wr[0] = mi;
                        wr[1] = y;
                        wr[2] = x;
                        wr[3] = t;
                        wr[4] = (int)(best >> 32);
                        s.misc[MISC_NWIN] = nwin + 1;
                        if (per_map) s.exmap[mi >> 5] |= 1u << (mi & 31);
                    }
                    __syncthreads();
                }
            }
            __syncthreads();
            const int nwin = s.misc[MISC_NWIN];
            // Every thread has read the candidate count; the next step's scan appends after the
            // scatter's __syncthreads.
            if (tid == 0) s.misc[MISC_NC] = 0;
            if (PV(EARLY_STOP) && (nwin == wta_k || (per_map && nwin >= m))) break;
        }
    }

    my_spikes = warp_sum(my_spikes);
    if (lane == 0 && my_spikes) atomicAdd(&s.misc[MISC_SPIKES], my_spikes);
    if (tid == 0) s.misc[MISC_EVENTS] = (int)s.starts[t_run];
    __syncthreads();
}

// core::layer::stdp_update for the winners in s.win, from the weights before the update.
__device__ void stdp_block(const Params& p, const Sim& s, const u8* input, int nwin, u32 a_plus,
                           u32 a_minus) {
    const int tid = threadIdx.x, bs = blockDim.x;
    const int k = PV(K), kk = k * k, fan = PV(IN_C) * kk, m = PV(M);
    const int st = PV(S), pad = PV(PAD), in_h = PV(IN_H), in_w = PV(IN_W), rule = PV(RULE);
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

// The sequential training loop of one layer over `order` (one block). `stats` receives per
// sample: winners, spikes, events. `wins` counts winners per map (zeroed by the host).
extern "C" __global__ void __launch_bounds__(1024)
train_layer(Params p, const u8* __restrict__ inputs, const u32* __restrict__ order, int n_order,
            const u32* __restrict__ a_plus, const u32* __restrict__ a_minus, u16* w_g,
            const int* theta_g, u32* wins, u32* stats, u8* scratch) {
    extern __shared__ __align__(16) u8 smem[];
    u8* gscr = scratch + (u64)blockIdx.x * (u64)(u32)PV(SCR);
    const Sim s = sim_buffers(p, smem, gscr, w_g, theta_g);
    sim_load_params(p, s, w_g, theta_g);
    const int in_len = PV(IN_LEN);
    for (int i = 0; i < n_order; i++) {
        const u8* input = inputs + (u64)order[i] * (u64)in_len;
        sim_sample(p, s, input, true);
        const int nwin = s.misc[MISC_NWIN];
        if (nwin > 0) stdp_block(p, s, input, nwin, a_plus[i], a_minus[i]);
        if (threadIdx.x == 0) {
            for (int q = 0; q < nwin; q++) wins[s.win[q * WIN_INTS]] += 1;
            stats[3 * i] = (u32)nwin;
            stats[3 * i + 1] = (u32)s.misc[MISC_SPIKES];
            stats[3 * i + 2] = (u32)s.misc[MISC_EVENTS];
        }
        __syncthreads();
    }
    if (PV(B_W) != BUF_EXTERNAL) {
        const int nw = PV(IN_C) * PV(K) * PV(K) * PV(M);
        for (int i = threadIdx.x; i < nw; i += blockDim.x) w_g[i] = s.w[i];
    }
}

// Frozen-layer output of samples [0, n): full simulation without competition, pooling, then
// pointwise inhibition over maps when INHIBIT. One block per sample (grid-stride).
extern "C" __global__ void __launch_bounds__(1024)
layer_times(Params p, const u8* __restrict__ inputs, int n, u16* w_g, const int* theta_g,
            u8* __restrict__ out, u8* scratch) {
    extern __shared__ __align__(16) u8 smem[];
    u8* gscr = scratch + (u64)blockIdx.x * (u64)(u32)PV(SCR);
    const Sim s = sim_buffers(p, smem, gscr, w_g, theta_g);
    sim_load_params(p, s, w_g, theta_g);
    const int tid = threadIdx.x, bs = blockDim.x;
    const int in_len = PV(IN_LEN), out_len = PV(OUT_LEN), m = PV(M);
    const int oh = PV(OH), ow = PV(OW), plane = oh * ow;
    for (int b = blockIdx.x; b < n; b += gridDim.x) {
        sim_sample(p, s, inputs + (u64)b * (u64)in_len, false);
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
