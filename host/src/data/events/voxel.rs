//! Voxel grids as `f32` tensors: the events of a recording counted by the core
//! ([`hebb_core::events::voxel`]) into `T` time bins × polarity channels × an output raster, as
//! the SpikeSEG event pipeline feeds its first layer (`events_to_voxel_grid`).
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

/// The voxel grid of a recording (`bins × channels × height × width`, row-major) as `f32`:
/// the core's counts ([`hebb_core::events::voxel::voxelize`], fraction binning), each bin
/// divided by its largest count when `normalize`; an empty recording or a zero size gives zeros
/// (or an empty grid).
pub fn grid(rec: &Recording, p: &VoxelParams) -> Vec<f32> {
    use hebb_core::events::voxel as core_voxel;
    let Ok(vp) = core_voxel::VoxelParams::new(
        p.bins,
        (p.width, p.height),
        (rec.width, rec.height),
        p.split_polarity,
        core_voxel::Binning::Fraction,
    ) else {
        return vec![0.0; p.len()];
    };
    let mut counts = vec![0u8; vp.len()];
    // A recording's events lie on its sensor (checked when it was built).
    if core_voxel::voxelize(&vp, &rec.events, 0, &mut counts).is_err() {
        return vec![0.0; p.len()];
    }
    let mut out: Vec<f32> = counts.iter().map(|&c| f32::from(c)).collect();
    if p.normalize {
        for chunk in out.chunks_exact_mut(vp.per_bin()) {
            let max = chunk.iter().copied().fold(0f32, f32::max);
            if max > 0.0 {
                chunk.iter_mut().for_each(|v| *v /= max);
            }
        }
    }
    out
}
