//! Winner-take-all competition.
//!
//! Candidates are neurons at their first spike. They are ranked by first-spike step (earlier
//! first), then by potential at that step (higher first), then by flat index `(map, row, col)`
//! (lower first), and picked one after another. After each pick, the winner's position is
//! inhibited in every map within `radius` (a `(2r+1)²` square; radius 0 still inhibits the other
//! maps at the winner's own position: lateral inhibition), and with `per_map` the winner's whole
//! map is excluded. At most `k` winners per sample.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Competition mode, as in SpikeSEG's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WtaMode {
    /// One winner per map per sample (radius 0 lateral inhibition).
    Global,
    /// Neighbourhood inhibition of radius `r`; a map may win several times.
    Local,
    /// Both: one winner per map and neighbourhood inhibition.
    Both,
}

/// Parameters of the competition as plain data, before validation: the wire form of
/// [`WtaParams`] (same fields, same order). Turn it into [`WtaParams`] with `WtaParams::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WtaParamsRaw {
    /// Mode.
    pub mode: WtaMode,
    /// Winners per sample.
    pub k: u16,
    /// Inhibition radius (used by `Local` and `Both`).
    pub radius: u8,
    /// Pointwise inhibition before selection.
    pub pointwise: bool,
}

/// Parameters of the competition of one layer.
///
/// Valid by construction: built by [`new`](Self::new) or `try_from` a [`WtaParamsRaw`] (which
/// deserialisation goes through), read with the getters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WtaParamsRaw")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WtaParams {
    mode: WtaMode,
    k: u16,
    radius: u8,
    pointwise: bool,
}

impl WtaParams {
    /// Validates and builds the parameters: `k` winners per sample (at least 1), inhibition
    /// `radius` (used by `Local` and `Both`), and with `pointwise` a pointwise inhibition before
    /// selection: at each position only the earliest map (then the one with the highest
    /// potential, then the lowest index) may compete.
    pub fn new(mode: WtaMode, k: u16, radius: u8, pointwise: bool) -> Result<Self> {
        Self::try_from(WtaParamsRaw {
            mode,
            k,
            radius,
            pointwise,
        })
    }
    /// Mode.
    pub const fn mode(&self) -> WtaMode {
        self.mode
    }
    /// Winners per sample (at least 1).
    pub const fn k(&self) -> u16 {
        self.k
    }
    /// Inhibition radius as configured (see [`effective_radius`](Self::effective_radius)).
    pub const fn radius(&self) -> u8 {
        self.radius
    }
    /// Pointwise inhibition before selection.
    pub const fn pointwise(&self) -> bool {
        self.pointwise
    }
    /// True when a winner's map leaves the competition.
    pub const fn per_map(&self) -> bool {
        matches!(self.mode, WtaMode::Global | WtaMode::Both)
    }
    /// Effective inhibition radius.
    pub const fn effective_radius(&self) -> u8 {
        match self.mode {
            WtaMode::Global => 0,
            _ => self.radius,
        }
    }
}

impl TryFrom<WtaParamsRaw> for WtaParams {
    type Error = Error;

    fn try_from(r: WtaParamsRaw) -> Result<Self> {
        if r.k == 0 {
            return Err(Error::Zero("WTA k"));
        }
        Ok(Self {
            mode: r.mode,
            k: r.k,
            radius: r.radius,
            pointwise: r.pointwise,
        })
    }
}

impl From<WtaParams> for WtaParamsRaw {
    fn from(p: WtaParams) -> Self {
        Self {
            mode: p.mode,
            k: p.k,
            radius: p.radius,
            pointwise: p.pointwise,
        }
    }
}

/// One winner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Winner {
    /// Map.
    pub map: u16,
    /// Row.
    pub y: u16,
    /// Column.
    pub x: u16,
    /// First-spike step.
    pub t: u8,
    /// Potential at that step.
    pub v: i32,
}

/// Packs a candidate so that a descending sort ranks it: potential (higher first), then flat
/// index (lower first). Candidates of one call share a step, so time needs no bits.
#[inline]
pub fn pack(v: i32, flat: u32) -> u64 {
    // Potentials of candidates are ≥ a positive threshold; clamp negatives to 0 for safety.
    ((v.max(0) as u64) << 32) | u64::from(!flat)
}

/// Flat index of a packed candidate.
#[inline]
pub fn unpack_flat(p: u64) -> u32 {
    !(p as u32)
}

/// Potential of a packed candidate.
#[inline]
pub fn unpack_v(p: u64) -> i32 {
    (p >> 32) as i32
}
