// Time-free inference through one IF layer with optional pooling (core::layer::forward_final),
// batched: one block per sample (grid-stride), one warp per output position, lanes over maps.
// Output: 0 where a spike reached the (pooled) neuron, NEVER elsewhere.

extern "C" __global__ void __launch_bounds__(512)
forward_final(Params p, const u8* __restrict__ in, int n, const u16* __restrict__ w_g,
              const int* __restrict__ theta_g, u8* __restrict__ out) {
    extern __shared__ __align__(16) u8 smem[];
    const int tid = threadIdx.x, bs = blockDim.x, lane = tid & 31, wid = tid >> 5;
    const int nwarps = bs >> 5;
    const int in_c = PV(IN_C), in_h = PV(IN_H), in_w = PV(IN_W), in_len = PV(IN_LEN);
    const int k = PV(K), st = PV(S), pad = PV(PAD), m = PV(M), oh = PV(OH), ow = PV(OW);
    const int plane = oh * ow, out_len = PV(OUT_LEN);
    u8* sin = smem + PV(B_IN);
    u8* sout = smem + PV(B_OUT);
    int* theta = (int*)(smem + PV(B_THETA));
    const u16* w = w_g;
    if (PV(B_W) != BUF_EXTERNAL) {
        u16* ws = (u16*)(smem + PV(B_W));
        const int nw = in_c * k * k * m;
        for (int i = tid; i < nw; i += bs) ws[i] = w_g[i];
        w = ws;
    }
    for (int i = tid; i < m; i += bs) theta[i] = theta_g[i];
    const bool pool = PV(POOL) != 0;
    const int pk = PV(PK), ps = PV(PS), pp = PV(PP), ph = PV(PH), pw = PV(PW);

    for (int b = blockIdx.x; b < n; b += gridDim.x) {
        const u8* src = in + (u64)b * (u64)in_len;
        for (int i = tid; i < in_len; i += bs) sin[i] = src[i];
        for (int i = tid; i < out_len; i += bs) sout[i] = NEVER;
        __syncthreads();
        for (int pos = wid; pos < plane; pos += nwarps) {
            const int oy = pos / ow, ox = pos - (pos / ow) * ow;
            for (int m0 = 0; m0 < m; m0 += 32) {
                const int mi = m0 + lane;
                const bool live = mi < m;
                int acc = 0;
                for (int c = 0; c < in_c; c++) {
                    for (int ky = 0; ky < k; ky++) {
                        const int py = oy * st + ky - pad;
                        if (py < 0 || py >= in_h) continue;
                        const u8* row = sin + (c * in_h + py) * in_w;
                        const u16* wr = w + ((c * k + ky) * k) * m + mi;
                        for (int kx = 0; kx < k; kx++) {
                            const int px = ox * st + kx - pad;
                            if (px < 0 || px >= in_w) continue;
                            if (row[px] != NEVER && live) acc += (int)wr[kx * m];
                        }
                    }
                }
                if (live && acc >= theta[mi]) {
                    if (!pool) {
                        sout[mi * plane + pos] = 0;
                    } else {
                        int y0, y1, x0, x1;
                        reach(oy + pp, pk, ps, ph, y0, y1);
                        reach(ox + pp, pk, ps, pw, x0, x1);
                        for (int qy = y0; qy < y1; qy++)
                            for (int qx = x0; qx < x1; qx++) sout[(mi * ph + qy) * pw + qx] = 0;
                    }
                }
            }
        }
        __syncthreads();
        u8* dst = out + (u64)b * (u64)out_len;
        for (int i = tid; i < out_len; i += bs) dst[i] = sout[i];
        __syncthreads();
    }
}

// Packs the last layer's output into feature bit sets: bit i of sample b is set when
// times[b * nf + i] != NEVER. One thread per word.
extern "C" __global__ void pack_bits(const u8* __restrict__ times, int n, int nf, int wpf,
                                     u32* __restrict__ bits) {
    const u64 total = (u64)n * (u64)wpf;
    for (u64 g = (u64)blockIdx.x * blockDim.x + threadIdx.x; g < total;
         g += (u64)gridDim.x * blockDim.x) {
        const u64 b = g / (u64)wpf;
        const int wd = (int)(g - b * (u64)wpf);
        const u8* t = times + b * (u64)nf;
        u32 word = 0;
        for (int j = 0; j < 32; j++) {
            const int i = wd * 32 + j;
            if (i < nf && t[i] != NEVER) word |= 1u << j;
        }
        bits[g] = word;
    }
}
