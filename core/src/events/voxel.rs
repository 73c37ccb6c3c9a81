//! Voxel grids: events counted into `bins` time bins × polarity channels × an output raster, in
//! integer arithmetic.
//!
//! * Time, [`Binning::Fraction`] (SpikeSEG's `events_to_voxel_grid`): the bins split the events'
//!   own span `[t_min, t_max]`; an event goes to bin `⌊(t − t_min)/(t_max − t_min) · (T − ε)⌋`,
//!   so one exactly on a boundary goes to the lower bin and the last one to bin `T − 1`; when all
//!   events share one time they go to bin `T / 2`.
//! * Time, [`Binning::FixedDt`]: bin `b` holds `start + b·Δt ≤ t < start + (b + 1)·Δt`; events
//!   outside the `T·Δt` window are not counted.
//! * Space: `x' = round(x · (W − 1)/(W_s − 1))` with ties to even (as Python's `round`), the same
//!   for `y`; a one-pixel side maps to 0; a raster the size of the sensor is the identity.
//! * Polarity: two channels (ON = 0, OFF = 1) or one (both together).
//! * Counts saturate at 255. [`level`] turns a count into the Q16 value a bin presents to the
//!   first layer: the count, 1 for any event, or the count divided by the bin's largest one.
//!
//! The layout is `[bin][channel][y][x]`.

use super::Event;
use crate::error::{Error, Result, head_mut};
use serde::{Deserialize, Serialize};

/// How events are assigned to time bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Binning {
    /// Bins split the events' own span (SpikeSEG's binning).
    Fraction,
    /// Bins of a fixed duration from the window's start.
    FixedDt {
        /// Bin duration (µs, ≥ 1).
        dt_us: u32,
    },
}

/// What a bin's count becomes at the input of the first layer.
// Model files store the variant index (postcard), not the name: keep the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Norm {
    /// The count itself.
    Count,
    /// 1 where the bin holds any event.
    Binary,
    /// The count divided by the largest count of its bin (over every channel), SpikeSEG's
    /// `normalize`: every non-empty bin peaks at exactly 1.
    MaxPerBin,
}

/// One in Q16.
pub const ONE: i32 = 1 << 16;

/// The Q16 value of `count` in a bin whose largest count is `max` (rounded to nearest, ties
/// up, for [`Norm::MaxPerBin`]).
pub fn level(norm: Norm, count: u8, max: u8) -> i32 {
    match norm {
        Norm::Count => i32::from(count) << 16,
        Norm::Binary => i32::from(count > 0) << 16,
        Norm::MaxPerBin => {
            if max == 0 {
                0
            } else {
                let (c, m) = (i64::from(count), i64::from(max));
                ((((c << 16) * 2) + m) / (2 * m)) as i32
            }
        }
    }
}

/// How a voxel grid is made. Valid by construction ([`VoxelParams::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VoxelParams {
    bins: u16,
    width: u16,
    height: u16,
    sensor_width: u16,
    sensor_height: u16,
    split_polarity: bool,
    binning: Binning,
}

impl VoxelParams {
    /// A grid of `bins` time bins over a `width × height` raster of a `sensor_width ×
    /// sensor_height` sensor; every size must be at least 1, a fixed bin at least 1 µs, and the
    /// grid at most 2^26 cells.
    pub fn new(
        bins: u16,
        (width, height): (u16, u16),
        (sensor_width, sensor_height): (u16, u16),
        split_polarity: bool,
        binning: Binning,
    ) -> Result<Self> {
        if bins == 0 {
            return Err(Error::Zero("voxel bins"));
        }
        if width == 0 || height == 0 {
            return Err(Error::Zero("voxel raster side"));
        }
        if sensor_width == 0 || sensor_height == 0 {
            return Err(Error::Zero("sensor side"));
        }
        if binning == (Binning::FixedDt { dt_us: 0 }) {
            return Err(Error::Zero("voxel bin duration"));
        }
        let p = Self {
            bins,
            width,
            height,
            sensor_width,
            sensor_height,
            split_polarity,
            binning,
        };
        if p.len() > 1 << 26 {
            return Err(Error::Overflow("voxel grid larger than 2^26 cells"));
        }
        Ok(p)
    }
    /// Time bins.
    pub const fn bins(&self) -> u16 {
        self.bins
    }
    /// Raster columns.
    pub const fn width(&self) -> u16 {
        self.width
    }
    /// Raster rows.
    pub const fn height(&self) -> u16 {
        self.height
    }
    /// Sensor size (columns, rows).
    pub const fn sensor(&self) -> (u16, u16) {
        (self.sensor_width, self.sensor_height)
    }
    /// Time binning.
    pub const fn binning(&self) -> Binning {
        self.binning
    }
    /// Two channels (ON, OFF) rather than one.
    pub const fn split_polarity(&self) -> bool {
        self.split_polarity
    }
    /// Channels per bin.
    pub const fn channels(&self) -> usize {
        if self.split_polarity { 2 } else { 1 }
    }
    /// Cells of one bin (`channels × height × width`).
    pub const fn per_bin(&self) -> usize {
        self.channels() * self.height as usize * self.width as usize
    }
    /// Cells of the grid (`bins × channels × height × width`).
    pub const fn len(&self) -> usize {
        self.bins as usize * self.per_bin()
    }
    /// True when the grid has no cell (never, for valid parameters).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `round(v · num / den)` with ties to even, in integers (`den > 0`).
fn scale(v: u64, num: u64, den: u64) -> u64 {
    let q = v * num;
    let (r, rem) = (q / den, q % den);
    match (2 * rem).cmp(&den) {
        core::cmp::Ordering::Greater => r + 1,
        core::cmp::Ordering::Equal => r + (r & 1),
        core::cmp::Ordering::Less => r,
    }
}

/// Raster coordinate of sensor coordinate `v` (sensor side `s`, raster side `r`).
fn raster(v: u16, s: u16, r: u16) -> u64 {
    if s > 1 && r > 1 {
        scale(u64::from(v), u64::from(r) - 1, u64::from(s) - 1).min(u64::from(r) - 1)
    } else {
        0
    }
}

/// The fraction bin of `t` in `[t0, t0 + span]`.
fn fraction_bin(t: u64, t0: u64, span: u64, bins: u64) -> u64 {
    if span == 0 {
        return bins / 2;
    }
    let d = t.saturating_sub(t0);
    if d == 0 {
        0
    } else {
        // ⌈d·T/span⌉ − 1 = ⌊d·T/span − ε⌋.
        let b = (u128::from(d) * u128::from(bins)).div_ceil(u128::from(span));
        (b.saturating_sub(1) as u64).min(bins - 1)
    }
}

/// Counts `events` into `out` (`p.len()` cells, zeroed first). With [`Binning::FixedDt`] the
/// window starts at `start`; [`Binning::Fraction`] ignores it and uses the events' own span.
/// Returns the number of events counted. An event outside the sensor is an error.
pub fn voxelize(p: &VoxelParams, events: &[Event], start: u64, out: &mut [u8]) -> Result<usize> {
    let out = head_mut("voxel grid", out, p.len())?;
    out.fill(0);
    let (w, h) = (usize::from(p.width), usize::from(p.height));
    let plane = w * h;
    let per_bin = p.per_bin();
    let bins = u64::from(p.bins);
    let (t0, span) = match p.binning {
        Binning::Fraction => {
            let lo = events.iter().map(|e| e.t).min().unwrap_or(0);
            let hi = events.iter().map(|e| e.t).max().unwrap_or(0);
            (lo, hi - lo)
        }
        Binning::FixedDt { .. } => (start, 0),
    };
    let mut counted = 0;
    for e in events {
        if e.x >= p.sensor_width || e.y >= p.sensor_height {
            return Err(Error::OutOfRange("event outside the sensor"));
        }
        let b = match p.binning {
            Binning::Fraction => fraction_bin(e.t, t0, span, bins),
            Binning::FixedDt { dt_us } => {
                if e.t < start {
                    continue;
                }
                let b = (e.t - start) / u64::from(dt_us);
                if b >= bins {
                    continue;
                }
                b
            }
        } as usize;
        let x = raster(e.x, p.sensor_width, p.width) as usize;
        let y = raster(e.y, p.sensor_height, p.height) as usize;
        let c = usize::from(p.split_polarity && !e.on);
        if let Some(v) = out.get_mut(b * per_bin + c * plane + y * w + x) {
            *v = v.saturating_add(1);
            counted += 1;
        }
    }
    Ok(counted)
}
