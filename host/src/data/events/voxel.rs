//! Voxel grids: the events of a recording counted into `T` time bins × polarity channels × an
//! output raster, as the SpikeSEG event pipeline feeds its first layer (`events_to_voxel_grid`),
//! in exact integer arithmetic.
//!
//! * Time: `T` bins over the recording's own span `[t_min, t_max]`, bin
//!   `⌊(t − t_min)/(t_max − t_min) · (T − ε)⌋` (an event exactly on a boundary goes to the lower
//!   bin, the last one to bin `T − 1`); a recording whose events share one time goes to bin `T/2`.
//! * Space: `x' = round(x · (W − 1)/(W_s − 1))` with ties to even (as Python's `round`), the same
//!   for `y`; a one-pixel side maps to 0.
//! * Polarity: two channels (ON = 0, OFF = 1) or one (both together).
//! * Normalisation (optional): each time bin divided by its own largest count.

use super::Recording;

/// How a voxel grid is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoxelParams {
    /// Time bins (≥ 1).
    pub bins: u16,
    /// Output columns (≥ 1).
    pub width: u16,
    /// Output rows (≥ 1).
    pub height: u16,
    /// Two channels (ON, OFF) rather than one.
    pub split_polarity: bool,
    /// Divide each time bin by its maximum.
    pub normalize: bool,
}

impl VoxelParams {
    /// Channels per bin.
    pub fn channels(&self) -> usize {
        if self.split_polarity { 2 } else { 1 }
    }
    /// Values in a grid (`bins × channels × height × width`).
    pub fn len(&self) -> usize {
        usize::from(self.bins)
            * self.channels()
            * usize::from(self.height)
            * usize::from(self.width)
    }
    /// True when the grid has no value (a zero size).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `round(v · num / den)` with ties to even, in integers (`den > 0`).
fn scale(v: u64, num: u64, den: u64) -> u64 {
    let q = v * num;
    let (r, rem) = (q / den, q % den);
    match (2 * rem).cmp(&den) {
        std::cmp::Ordering::Greater => r + 1,
        std::cmp::Ordering::Equal => r + (r & 1),
        std::cmp::Ordering::Less => r,
    }
}

/// The time bin of `t` in `[t0, t0 + span]`.
fn bin(t: u64, t0: u64, span: u64, bins: u64) -> u64 {
    if span == 0 {
        return bins / 2;
    }
    let d = t - t0;
    if d == 0 {
        0
    } else {
        // ⌈d·T/span⌉ − 1 = ⌊d·T/span − ε⌋.
        ((u128::from(d) * u128::from(bins)).div_ceil(u128::from(span)) as u64 - 1).min(bins - 1)
    }
}

/// The voxel grid of a recording (`bins × channels × height × width`, row-major); an empty
/// recording or a zero size gives zeros (or an empty grid).
pub fn grid(rec: &Recording, p: &VoxelParams) -> Vec<f32> {
    let mut out = vec![0f32; p.len()];
    if out.is_empty() {
        return out;
    }
    let Some((t0, t1)) = rec.span() else {
        return out;
    };
    let (w, h) = (u64::from(p.width), u64::from(p.height));
    let (ws, hs) = (u64::from(rec.width), u64::from(rec.height));
    let plane = (w * h) as usize;
    let per_bin = plane * p.channels();
    for e in &rec.events {
        let b = bin(e.t, t0, t1 - t0, u64::from(p.bins)) as usize;
        let x = if ws > 1 {
            scale(u64::from(e.x), w - 1, ws - 1).min(w - 1)
        } else {
            0
        };
        let y = if hs > 1 {
            scale(u64::from(e.y), h - 1, hs - 1).min(h - 1)
        } else {
            0
        };
        let c = usize::from(p.split_polarity && !e.on);
        out[b * per_bin + c * plane + (y * w + x) as usize] += 1.0;
    }
    if p.normalize {
        for chunk in out.chunks_exact_mut(per_bin) {
            let max = chunk.iter().copied().fold(0f32, f32::max);
            if max > 0.0 {
                chunk.iter_mut().for_each(|v| *v /= max);
            }
        }
    }
    out
}
