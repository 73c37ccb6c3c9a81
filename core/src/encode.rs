//! Input encoders: image → fixed filters → response threshold → local normalisation →
//! intensity-to-latency (rank-order) spike times.
//!
//! Latency coding follows SpykeTorch's `Intensity2Latency` on the normalised responses: only
//! non-zero values spike; with `N` of them and `T` steps, the `⌊N/T⌋` strongest spike at step 0,
//! the next `⌊N/T⌋` at step 1, and so on; the `N mod T` weakest never spike. When `N < T` every
//! non-zero value gets a step of its own (the reference divides by zero there). Equal values are
//! ranked by flat index, lowest first, so the code is deterministic on every back end.

use crate::error::{Error, Result, need};
use crate::spikes::{MAX_STEPS, NEVER};
use serde::{Deserialize, Serialize};

/// How filter responses become spike times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeMode {
    /// Rank-order latency code over `steps` time steps.
    Latency,
    /// The frame is presented as is: every non-zero response spikes at step 0.
    Repeat,
}

/// Parameters of the input encoder (stored in the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EncoderParams {
    /// Image rows.
    pub h: u16,
    /// Image columns.
    pub w: u16,
    /// Number of fixed filters (output channels).
    pub n_filters: u8,
    /// Filter size.
    pub k: u8,
    /// Zero padding of the filter convolution.
    pub pad: u8,
    /// Responses below this (in Q16 pixel units, pixels 0..255) become 0.
    pub threshold: i32,
    /// Local normalisation radius (0: none): divide by the mean over the `(2r+1)²` window.
    pub norm_radius: u8,
    /// Time steps.
    pub steps: u8,
    /// Latency or repeat.
    pub mode: EncodeMode,
}

impl EncoderParams {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.h == 0 || self.w == 0 || self.n_filters == 0 {
            return Err(Error::InvalidParam("encoder: empty image or no filters"));
        }
        if self.k == 0 || self.k.is_multiple_of(2) || self.k > MAX_K {
            return Err(Error::InvalidParam(
                "encoder: filter size must be odd and at most 31",
            ));
        }
        if self.pad != self.k / 2 {
            return Err(Error::InvalidParam(
                "encoder: filter padding must be k/2 (same size)",
            ));
        }
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(Error::InvalidParam("encoder: steps must be in 1..=254"));
        }
        if self.threshold < 0 {
            return Err(Error::InvalidParam("encoder: threshold must be >= 0"));
        }
        if self.norm_radius > 100 {
            return Err(Error::InvalidParam(
                "encoder: normalisation radius must be <= 100",
            ));
        }
        if self.h as usize * self.w as usize * self.n_filters as usize > (1 << 24) {
            return Err(Error::InvalidParam("encoder: input too large"));
        }
        Ok(())
    }
    /// Number of encoded input neurons (`n_filters × h × w`).
    pub const fn n_out(&self) -> usize {
        self.n_filters as usize * self.h as usize * self.w as usize
    }
    /// Number of kernel values (`n_filters × k × k`).
    pub const fn n_kernel(&self) -> usize {
        self.n_filters as usize * self.k as usize * self.k as usize
    }
}

/// Output columns filtered per block (the padded input span lives on the stack).
const BLOCK: usize = 64;

/// Largest filter size (bounds the stack buffer of one block's input span).
pub const MAX_K: u8 = 31;

/// Lanes of [`mul_add`].
const LANES: usize = 8;

/// `out[i] += src[i] · k` for lengths that are multiples of [`LANES`], in fixed-width groups
/// so that it vectorises.
#[inline]
fn mul_add(out: &mut [i32], src: &[i32], k: i32) {
    for (o, s) in out.chunks_exact_mut(LANES).zip(src.chunks_exact(LANES)) {
        if let (Ok(o), Ok(s)) = (
            <&mut [i32; LANES]>::try_from(o),
            <&[i32; LANES]>::try_from(s),
        ) {
            for i in 0..LANES {
                o[i] += s[i] * k;
            }
        }
    }
}

/// Working memory of [`encode`], owned by the caller.
#[derive(Debug)]
pub struct EncodeScratch<'a> {
    /// Filter responses, `n_out()` entries.
    pub resp: &'a mut [i32],
    /// Row sums for the normalisation box filter, `h × w` entries.
    pub rows: &'a mut [i64],
    /// Sort keys, `n_out()` entries.
    pub keys: &'a mut [u64],
}

/// Encodes an image (`h × w`, row-major, 0..255) into first-spike times (`[filter][y][x]`).
/// `kernels` holds `n_filters × k × k` Q16 values. Returns the number of spiking inputs.
pub fn encode(
    p: &EncoderParams,
    kernels: &[i32],
    image: &[u8],
    s: &mut EncodeScratch<'_>,
    times: &mut [u8],
) -> Result<usize> {
    p.validate()?;
    let (h, w, k, f) = (
        p.h as usize,
        p.w as usize,
        p.k as usize,
        p.n_filters as usize,
    );
    let plane = h * w;
    need("kernels", kernels, p.n_kernel())?;
    need("image", image, plane)?;
    need("resp", s.resp, p.n_out())?;
    need("rows", s.rows, plane)?;
    need("keys", s.keys, p.n_out())?;
    need("times", times, p.n_out())?;
    let pad = p.pad as isize;
    let upad = p.pad as usize;

    // 1. Filter + threshold (responses below threshold, negative ones included, become 0).
    //    Row-wise accumulation in i32 (the filter gain was bounded when it was quantised, and
    //    the sum is checked below) so the inner loop vectorises.
    for fi in 0..f {
        let ker = &kernels[fi * k * k..(fi + 1) * k * k];
        let gain: i64 = ker.iter().map(|&v| i64::from(v).abs()).sum::<i64>() * 255;
        if gain > i64::from(i32::MAX) {
            return Err(Error::InvalidParam("encoder: filter gain overflows i32"));
        }
        let mut prow = [0i32; BLOCK + MAX_K as usize - 1];
        for y in 0..h {
            let row = &mut s.resp[fi * plane + y * w..fi * plane + (y + 1) * w];
            // Blocks of up to BLOCK output columns: the image columns they read, zero padded and
            // widened once per kernel row, make every tap a multiply-add over a multiple of 8
            // lanes (no remainder loop: its masked stores stall the next tap's loads).
            for bx in (0..w).step_by(BLOCK) {
                let bw = BLOCK.min(w - bx);
                let bw8 = bw.next_multiple_of(LANES);
                let mut acc = [0i32; BLOCK];
                for ky in 0..k {
                    let iy = y as isize + ky as isize - pad;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let img = &image[iy as usize * w..(iy as usize + 1) * w];
                    // prow[j] = pixel at column bx − pad + j (0 outside the image); every
                    // entry the taps read is rewritten, so the buffer is zeroed only once.
                    let span = bw8 + k - 1;
                    let (lo, hi) = (upad.saturating_sub(bx), (w + upad - bx).min(span));
                    prow[..lo].fill(0);
                    for (v, &px) in prow[lo..hi].iter_mut().zip(&img[bx + lo - upad..]) {
                        *v = i32::from(px);
                    }
                    prow[hi..span].fill(0);
                    for kx in 0..k {
                        let kv = ker[ky * k + kx];
                        if kv != 0 {
                            mul_add(&mut acc[..bw8], &prow[kx..kx + bw8], kv);
                        }
                    }
                }
                row[bx..bx + bw].copy_from_slice(&acc[..bw]);
            }
            for r in row.iter_mut() {
                if *r < p.threshold || *r <= 0 {
                    *r = 0;
                }
            }
        }
    }

    // 2. Sort keys: normalised response, packed with the inverted index so that one descending
    //    sort ranks by value, then by lowest index.
    let mut n = 0usize;
    let r = p.norm_radius as usize;
    let area = ((2 * r + 1) * (2 * r + 1)) as i64;
    for fi in 0..f {
        let resp = &s.resp[fi * plane..(fi + 1) * plane];
        if r > 0 {
            // Horizontal box sums (a sliding window), then vertical sums evaluated only where
            // needed.
            for y in 0..h {
                let src = &resp[y * w..(y + 1) * w];
                let dst = &mut s.rows[y * w..(y + 1) * w];
                let mut acc: i64 = src[..(r + 1).min(w)].iter().map(|&v| i64::from(v)).sum();
                for x in 0..w {
                    dst[x] = acc;
                    if x + r + 1 < w {
                        acc += i64::from(src[x + r + 1]);
                    }
                    if x >= r {
                        acc -= i64::from(src[x - r]);
                    }
                }
            }
        }
        for y in 0..h {
            for x in 0..w {
                let v = resp[y * w + x];
                if v == 0 {
                    continue;
                }
                let key = if r > 0 {
                    let lo = y.saturating_sub(r);
                    let hi = (y + r + 1).min(h);
                    let sum: i64 = (lo..hi).map(|yy| s.rows[yy * w + x]).sum();
                    // v ≤ sum, so the key is ≤ area·2^16 < 2^32 for r ≤ 100.
                    ((i64::from(v) * area) << 16) / sum.max(1)
                } else {
                    i64::from(v)
                };
                let idx = (fi * plane + y * w + x) as u32;
                s.keys[n] = ((key as u64) << 32) | u64::from(!idx);
                n += 1;
            }
        }
    }

    // 3. Rank order into time steps.
    times[..p.n_out()].fill(NEVER);
    let keys = &mut s.keys[..n];
    let t = p.steps as usize;
    match p.mode {
        EncodeMode::Repeat => {
            for &kv in keys.iter() {
                times[!(kv as u32) as usize] = 0;
            }
            Ok(n)
        }
        EncodeMode::Latency => {
            keys.sort_unstable_by(|a, b| b.cmp(a));
            let bin = (n / t).max(1);
            let mut spiking = 0;
            for (rank, &kv) in keys.iter().enumerate() {
                let step = rank / bin;
                if step < t {
                    times[!(kv as u32) as usize] = step as u8;
                    spiking += 1;
                }
            }
            Ok(spiking)
        }
    }
}
