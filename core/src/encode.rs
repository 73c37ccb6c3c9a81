//! Input encoders: image → fixed filters → response threshold → local normalisation →
//! intensity-to-latency (rank-order) spike times.
//!
//! Latency coding follows SpykeTorch's `Intensity2Latency` on the normalised responses: only
//! non-zero values spike; with `N` of them and `T` steps, the `⌊N/T⌋` strongest spike at step 0,
//! the next `⌊N/T⌋` at step 1, and so on; the `N mod T` weakest never spike. When `N < T` every
//! non-zero value gets a step of its own (the reference divides by zero there). Equal values are
//! ranked by flat index, lowest first, so the code is deterministic on every back end.

use crate::error::{Error, Result, head, head_mut};
use crate::events::voxel::{Binning, Norm, level};
use crate::events::window::WindowParams;
use crate::geometry::Shape;
use crate::spikes::{MAX_STEPS, NEVER};
use serde::{Deserialize, Serialize};

/// How filter responses become spike times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeMode {
    /// Rank-order latency code over `steps` time steps.
    Latency,
    /// The frame is presented as is: every non-zero response spikes at step 0.
    // Model files store the variant index (postcard), not the name: keep the order.
    AllAtFirstStep,
    /// Event-camera input: the "image" is a voxel grid of `steps` bins (see
    /// [`crate::events::voxel`]), each bin the input current of a leaky layer of filter maps that
    /// fire once (SpikeSEG's conv1).
    Events(EventEncoding),
}

/// The leaky, fire-once filter layer that turns a voxel grid into first-spike times.
///
/// At step `s` the bin's counts become Q16 levels ([`Norm`]), every filter is correlated with
/// every channel ("same" zero padding) and the result is the current `I`; then
/// `V ← max(0, V + I − λ)` and a neuron that has not fired and has `V ≥ θ` fires at step `s`.
/// Potentials are exact (Q32 in `i64`: no rounding anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventEncoding {
    /// Input channels per bin: 1 (polarities together) or 2 (ON, OFF).
    pub channels: u8,
    /// Each channel gets its own maps (`n_filters × channels` maps, channel-major) rather than
    /// the filters summing over channels (`n_filters` maps, SpikeSEG's conv1).
    pub split_channels: bool,
    /// What a count presents to the filters.
    pub norm: Norm,
    /// Threshold θ (Q16 input units, > 0).
    pub theta: i32,
    /// Subtractive leak λ per step (Q16, ≥ 0).
    pub leak: i32,
    /// How a window of events is cut into the `steps` bins (the host and the firmware build
    /// the voxel grid with it).
    pub binning: Binning,
    /// Length of the windows a recording is cut into (µs; 0: a recording is one sample).
    pub window_us: u32,
    /// Stride of the windows (µs; ≥ 1 when `window_us > 0`).
    pub stride_us: u32,
}

impl EventEncoding {
    /// The windows a stream is cut into, if any.
    pub fn windows(&self) -> Option<WindowParams> {
        WindowParams::new(u64::from(self.window_us), u64::from(self.stride_us)).ok()
    }
}

/// Parameters of the input encoder as plain data, before validation: the wire form of
/// [`EncoderParams`] (same fields, same order). Turn it into [`EncoderParams`] with
/// `EncoderParams::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EncoderParamsRaw {
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
    /// Latency code, or all at the first step.
    pub mode: EncodeMode,
}

/// Parameters of the input encoder (stored in the model).
///
/// Valid by construction: built by [`new`](Self::new) or `try_from` an [`EncoderParamsRaw`]
/// (which deserialisation goes through), read with the getters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EncoderParamsRaw")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EncoderParams {
    h: u16,
    w: u16,
    n_filters: u8,
    k: u8,
    pad: u8,
    threshold: i32,
    norm_radius: u8,
    steps: u8,
    mode: EncodeMode,
}

impl EncoderParams {
    /// Validates and builds the parameters of an `h × w` image filtered by `n_filters` filters
    /// of odd size `k ≤ 31` (padded by `k / 2`, so maps keep the image size), a response
    /// threshold `≥ 0`, a normalisation radius `≤ 100` and `1..=254` steps; at most 2^24
    /// encoded neurons.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        h: u16,
        w: u16,
        n_filters: u8,
        k: u8,
        threshold: i32,
        norm_radius: u8,
        steps: u8,
        mode: EncodeMode,
    ) -> Result<Self> {
        Self::try_from(EncoderParamsRaw {
            h,
            w,
            n_filters,
            k,
            pad: k / 2,
            threshold,
            norm_radius,
            steps,
            mode,
        })
    }

    /// Image rows.
    pub const fn h(&self) -> u16 {
        self.h
    }
    /// Image columns.
    pub const fn w(&self) -> u16 {
        self.w
    }
    /// Number of fixed filters (output channels).
    pub const fn n_filters(&self) -> u8 {
        self.n_filters
    }
    /// Filter size (odd, at most [`MAX_K`]).
    pub const fn k(&self) -> u8 {
        self.k
    }
    /// Zero padding of the filter convolution (`k / 2`).
    pub const fn pad(&self) -> u8 {
        self.pad
    }
    /// Responses below this (in Q16 pixel units, pixels 0..255) become 0.
    pub const fn threshold(&self) -> i32 {
        self.threshold
    }
    /// Local normalisation radius (0: none).
    pub const fn norm_radius(&self) -> u8 {
        self.norm_radius
    }
    /// Time steps (`1..=254`).
    pub const fn steps(&self) -> u8 {
        self.steps
    }
    /// Latency code, or all at the first step.
    pub const fn mode(&self) -> EncodeMode {
        self.mode
    }
    /// Maps of the encoded spike-time map: the filters, times the channels when each event
    /// channel has its own.
    pub const fn maps(&self) -> usize {
        match self.mode {
            EncodeMode::Events(e) if e.split_channels => {
                self.n_filters as usize * e.channels as usize
            }
            _ => self.n_filters as usize,
        }
    }
    /// Shape of the encoded spike-time map (`maps × h × w`), the first layer's input.
    pub const fn output(&self) -> Shape {
        Shape::new(self.maps() as u16, self.h, self.w)
    }
    /// Number of encoded input neurons (`maps × h × w`).
    pub const fn n_out(&self) -> usize {
        self.maps() * self.h as usize * self.w as usize
    }
    /// Bytes of one input sample: an `h × w` image, or for [`EncodeMode::Events`] a voxel grid
    /// of `steps × channels × h × w` counts.
    pub const fn n_in(&self) -> usize {
        let plane = self.h as usize * self.w as usize;
        match self.mode {
            EncodeMode::Events(e) => self.steps as usize * e.channels as usize * plane,
            _ => plane,
        }
    }
    /// Number of kernel values (`n_filters × k × k`).
    pub const fn n_kernel(&self) -> usize {
        self.n_filters as usize * self.k as usize * self.k as usize
    }
}

impl TryFrom<EncoderParamsRaw> for EncoderParams {
    type Error = Error;

    fn try_from(r: EncoderParamsRaw) -> Result<Self> {
        if r.h == 0 || r.w == 0 || r.n_filters == 0 {
            return Err(Error::InvalidParam("encoder: empty image or no filters"));
        }
        if r.k == 0 || r.k.is_multiple_of(2) || r.k > MAX_K {
            return Err(Error::InvalidParam(
                "encoder: filter size must be odd and at most 31",
            ));
        }
        if r.pad != r.k / 2 {
            return Err(Error::InvalidParam(
                "encoder: filter padding must be k/2 (same size)",
            ));
        }
        if r.steps == 0 || r.steps > MAX_STEPS {
            return Err(Error::InvalidParam("encoder: steps must be in 1..=254"));
        }
        if r.threshold < 0 {
            return Err(Error::InvalidParam("encoder: threshold must be >= 0"));
        }
        if r.norm_radius > 100 {
            return Err(Error::InvalidParam(
                "encoder: normalisation radius must be <= 100",
            ));
        }
        let mut maps = u64::from(r.n_filters);
        if let EncodeMode::Events(e) = r.mode {
            if !(1..=2).contains(&e.channels) {
                return Err(Error::InvalidParam(
                    "event encoder: channels must be 1 or 2",
                ));
            }
            if e.theta <= 0 {
                return Err(Error::InvalidParam("event encoder: threshold must be > 0"));
            }
            if e.leak < 0 {
                return Err(Error::InvalidParam("event encoder: leak must be >= 0"));
            }
            if r.norm_radius != 0 || r.threshold != 0 {
                return Err(Error::InvalidParam(
                    "event encoder: response threshold and normalisation radius must be 0",
                ));
            }
            if e.binning == (Binning::FixedDt { dt_us: 0 }) {
                return Err(Error::InvalidParam(
                    "event encoder: bin duration must be >= 1 µs",
                ));
            }
            if e.window_us > 0 && e.stride_us == 0 {
                return Err(Error::InvalidParam(
                    "event encoder: window stride must be >= 1 µs",
                ));
            }
            if e.split_channels {
                maps *= u64::from(e.channels);
            }
        }
        if u64::from(r.h) * u64::from(r.w) * maps > (1 << 24) {
            return Err(Error::InvalidParam("encoder: input too large"));
        }
        Ok(Self {
            h: r.h,
            w: r.w,
            n_filters: r.n_filters,
            k: r.k,
            pad: r.pad,
            threshold: r.threshold,
            norm_radius: r.norm_radius,
            steps: r.steps,
            mode: r.mode,
        })
    }
}

impl From<EncoderParams> for EncoderParamsRaw {
    fn from(p: EncoderParams) -> Self {
        Self {
            h: p.h,
            w: p.w,
            n_filters: p.n_filters,
            k: p.k,
            pad: p.pad,
            threshold: p.threshold,
            norm_radius: p.norm_radius,
            steps: p.steps,
            mode: p.mode,
        }
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
            // `i < LANES`, the length of both arrays: in bounds, and the check compiles away.
            #[allow(clippy::indexing_slicing)]
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
    if let EncodeMode::Events(e) = p.mode {
        return encode_events(p, &e, kernels, image, s, times);
    }
    // Every size below is non-zero and small (validated parameters): `chunks_exact` never gets
    // a zero length and no product overflows.
    let (h, w, k) = (p.h as usize, p.w as usize, p.k as usize);
    let plane = h * w;
    let n_out = p.n_out();
    let kernels = head("kernels", kernels, p.n_kernel())?;
    let image = head("image", image, plane)?;
    let resp = head_mut("resp", &mut *s.resp, n_out)?;
    let rows = head_mut("rows", &mut *s.rows, plane)?;
    let keys = head_mut("keys", &mut *s.keys, n_out)?;
    let times = head_mut("times", times, n_out)?;
    let pad = p.pad as isize;
    let upad = p.pad as usize;

    // 1. Filter + threshold (responses below threshold, negative ones included, become 0).
    //    Row-wise accumulation in i32 (the filter gain was bounded when it was quantised, and
    //    the sum is checked below) so the inner loop vectorises.
    for (ker, resp_f) in kernels
        .chunks_exact(k * k)
        .zip(resp.chunks_exact_mut(plane))
    {
        let gain: i64 = ker.iter().map(|&v| i64::from(v).abs()).sum::<i64>() * 255;
        if gain > i64::from(i32::MAX) {
            return Err(Error::InvalidParam("encoder: filter gain overflows i32"));
        }
        let mut prow = [0i32; BLOCK + MAX_K as usize - 1];
        for (y, row) in resp_f.chunks_exact_mut(w).enumerate() {
            // Blocks of up to BLOCK output columns: the image columns they read, zero padded and
            // widened once per kernel row, make every tap a multiply-add over a multiple of 8
            // lanes (no remainder loop: its masked stores stall the next tap's loads).
            for (bi, out_blk) in row.chunks_mut(BLOCK).enumerate() {
                let bx = bi * BLOCK;
                let bw = out_blk.len();
                let bw8 = bw.next_multiple_of(LANES);
                let mut acc_blk = [0i32; BLOCK];
                // `bw8 <= BLOCK`: BLOCK is a multiple of LANES.
                let acc = acc_blk.get_mut(..bw8).unwrap_or(&mut []);
                for (ky, krow) in ker.chunks_exact(k).enumerate() {
                    let iy = y as isize + ky as isize - pad;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let Some(img) = image.get(iy as usize * w..(iy as usize + 1) * w) else {
                        continue;
                    };
                    // prow[j] = pixel at column bx − pad + j (0 outside the image); every
                    // entry the taps read is rewritten, so the buffer is zeroed only once.
                    // `lo <= hi <= span <= BLOCK + k − 1 <= prow.len()`.
                    let span = bw8 + k - 1;
                    let (lo, hi) = (upad.saturating_sub(bx), (w + upad - bx).min(span));
                    if let Some(z) = prow.get_mut(..lo) {
                        z.fill(0);
                    }
                    if let (Some(dst), Some(src)) =
                        (prow.get_mut(lo..hi), img.get(bx + lo - upad..))
                    {
                        for (v, &px) in dst.iter_mut().zip(src) {
                            *v = i32::from(px);
                        }
                    }
                    if let Some(z) = prow.get_mut(hi..span) {
                        z.fill(0);
                    }
                    for (kx, &kv) in krow.iter().enumerate() {
                        if kv != 0
                            && let Some(src) = prow.get(kx..kx + bw8)
                        {
                            mul_add(acc, src, kv);
                        }
                    }
                }
                if let Some(a) = acc.get(..bw) {
                    out_blk.copy_from_slice(a);
                }
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
    for (fi, resp_f) in resp.chunks_exact(plane).enumerate() {
        if r > 0 {
            // Horizontal box sums (a sliding window), then vertical sums evaluated only where
            // needed.
            for (src, dst) in resp_f.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
                let mut acc: i64 = src.iter().take(r + 1).map(|&v| i64::from(v)).sum();
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = acc;
                    if let Some(&v) = src.get(x + r + 1) {
                        acc += i64::from(v);
                    }
                    if x >= r
                        && let Some(&v) = src.get(x - r)
                    {
                        acc -= i64::from(v);
                    }
                }
            }
        }
        for (y, resp_row) in resp_f.chunks_exact(w).enumerate() {
            for (x, &v) in resp_row.iter().enumerate() {
                if v == 0 {
                    continue;
                }
                let key = if r > 0 {
                    let lo = y.saturating_sub(r);
                    let hi = (y + r + 1).min(h);
                    // In bounds: `yy < h`, `x < w`.
                    let sum: i64 = (lo..hi).filter_map(|yy| rows.get(yy * w + x)).sum();
                    // v ≤ sum, so the key is ≤ area·2^16 < 2^32 for r ≤ 100.
                    ((i64::from(v) * area) << 16) / sum.max(1)
                } else {
                    i64::from(v)
                };
                let idx = (fi * plane + y * w + x) as u32;
                // In bounds: at most one key per encoded neuron, `n < n_out`.
                if let Some(slot) = keys.get_mut(n) {
                    *slot = ((key as u64) << 32) | u64::from(!idx);
                    n += 1;
                }
            }
        }
    }

    // 3. Rank order into time steps.
    times.fill(NEVER);
    let keys = keys.get_mut(..n).unwrap_or(&mut []);
    let t = p.steps as usize;
    match p.mode {
        EncodeMode::AllAtFirstStep | EncodeMode::Events(_) => {
            for &kv in keys.iter() {
                if let Some(c) = times.get_mut(!(kv as u32) as usize) {
                    *c = 0;
                }
            }
            Ok(n)
        }
        EncodeMode::Latency => {
            keys.sort_unstable_by(|a, b| b.cmp(a));
            let bin = (n / t).max(1);
            let mut spiking = 0;
            for (rank, &kv) in keys.iter().enumerate() {
                let step = rank / bin;
                if step < t
                    && let Some(c) = times.get_mut(!(kv as u32) as usize)
                {
                    *c = step as u8;
                    spiking += 1;
                }
            }
            Ok(spiking)
        }
    }
}

/// [`encode`] for [`EncodeMode::Events`]: `grid` is `steps × channels × h × w` counts; the
/// potentials live in `s.keys` (as `i64` bit patterns).
fn encode_events(
    p: &EncoderParams,
    e: &EventEncoding,
    kernels: &[i32],
    grid: &[u8],
    s: &mut EncodeScratch<'_>,
    times: &mut [u8],
) -> Result<usize> {
    let (h, w, k) = (p.h as usize, p.w as usize, p.k as usize);
    let (plane, nf, ch) = (h * w, p.n_filters as usize, e.channels as usize);
    let n_out = p.n_out();
    let kernels = head("kernels", kernels, p.n_kernel())?;
    let grid = head("voxel grid", grid, p.n_in())?;
    let v = head_mut("keys", &mut *s.keys, n_out)?;
    let times = head_mut("times", times, n_out)?;
    v.fill(0);
    times.fill(NEVER);
    let pad = p.pad as usize;
    let (theta, leak) = (i64::from(e.theta) << 16, i64::from(e.leak) << 16);
    let mut spiking = 0;
    for (step, bin) in grid.chunks_exact(ch * plane).enumerate() {
        let max = bin.iter().copied().max().unwrap_or(0);
        for (c, frame) in bin.chunks_exact(plane).enumerate() {
            for (i, &count) in frame.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let x_in = i64::from(level(e.norm, count, max));
                let (iy, ix) = (i / w, i % w);
                for (f, ker) in kernels.chunks_exact(k * k).enumerate() {
                    let map = if e.split_channels { c * nf + f } else { f };
                    let base = map * plane;
                    // Output (oy, ox) reads input (oy + ky − pad, ox + kx − pad).
                    for (ky, krow) in ker.chunks_exact(k).enumerate() {
                        let Some(oy) = (iy + pad).checked_sub(ky).filter(|&y| y < h) else {
                            continue;
                        };
                        for (kx, &kv) in krow.iter().enumerate() {
                            if kv == 0 {
                                continue;
                            }
                            let Some(ox) = (ix + pad).checked_sub(kx).filter(|&x| x < w) else {
                                continue;
                            };
                            if let Some(cell) = v.get_mut(base + oy * w + ox) {
                                *cell = (*cell as i64 + x_in * i64::from(kv)) as u64;
                            }
                        }
                    }
                }
            }
        }
        for (cell, t) in v.iter_mut().zip(times.iter_mut()) {
            if *t != NEVER {
                continue;
            }
            let u = (*cell as i64 - leak).max(0);
            if u >= theta {
                *t = step as u8;
                spiking += 1;
                *cell = 0;
            } else {
                *cell = u as u64;
            }
        }
    }
    Ok(spiking)
}
