//! Spike-timing-dependent plasticity in integer arithmetic.
//!
//! Kheradpisheh et al. 2018, eq. 3: for a winner (post) neuron and each synapse of its receptive
//! field, LTP when the pre neuron fired at or before the post neuron, LTD otherwise (a pre neuron
//! that never fired, or a receptive-field cell in the zero padding, counts as "later").
//!
//! * multiplicative (soft bound): `Δw = ±a · w · (1 − w)`
//! * additive: `Δw = ±a`
//!
//! **Rounding rule.** With `w` in Q0.16 and `a` in Q0.32, the exact product `a·w·(1−w)` is a
//! Q0.64 integer (`a_bits · w_bits · (65536 − w_bits)`, at most 2^62); `|Δw|` in Q0.16 is that
//! product rounded to nearest with ties away from zero (`(p + 2^47) >> 48`), and at least one LSB
//! when the product is non-zero; the additive step is `(a_bits + 2^15) >> 16`. The sign is
//! applied after rounding, so LTP and LTD round symmetrically.
//!
//! Why the one-LSB floor: with plain rounding a soft-bound update stalls once
//! `a·w·(1 − w) < 0.5 LSB`, i.e. about `0.5 / (a·2^16)` from either bound (0.0025 for a = 0.003),
//! whereas the real-valued rule keeps moving towards 0 and 1. Depressed synapses then keep a
//! residue that sums over a receptive field: on the kheradpisheh2018 network it raised layer-2
//! feature density from ~11 % to ~20 % and cost about half a point of accuracy. With the floor,
//! weights reach the bounds as the real rule's do, and every update stays within one LSB of it.
//!
//! The updates of all winners of one map are computed from the same weights, summed in `i32`
//! and added once; the result saturates to `[0, 65535]` and never wraps.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which STDP rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StdpRule {
    /// `Δw = ±a·w·(1−w)`: updates vanish at the bounds, weights polarise.
    Multiplicative,
    /// `Δw = ±a`, then clamp.
    Additive,
}

/// Learning rates of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StdpParams {
    /// Rule.
    pub rule: StdpRule,
    /// LTP rate `a+`, Q0.32.
    pub a_plus: u32,
    /// LTD rate magnitude `|a−|`, Q0.32.
    pub a_minus: u32,
}

impl StdpParams {
    /// Builds from real rates (`a_minus` given as a magnitude or negative, both accepted).
    pub fn from_f64(rule: StdpRule, a_plus: f64, a_minus: f64) -> Result<Self> {
        if !a_plus.is_finite() || !a_minus.is_finite() {
            return Err(Error::InvalidParam("STDP rates must be finite"));
        }
        if a_plus < 0.0 {
            return Err(Error::InvalidParam("STDP a+ must be >= 0"));
        }
        let am = a_minus.abs();
        if a_plus >= 1.0 || am >= 1.0 {
            return Err(Error::InvalidParam("STDP rates must be < 1"));
        }
        Ok(Self {
            rule,
            a_plus: crate::q::rate_from_f64(a_plus),
            a_minus: crate::q::rate_from_f64(am),
        })
    }

    /// Signed weight change for a synapse of weight `w` (Q0.16), LTP or LTD.
    #[inline]
    pub fn delta(&self, w: u16, ltp: bool) -> i32 {
        let a = if ltp { self.a_plus } else { self.a_minus };
        let mag = match self.rule {
            StdpRule::Multiplicative => {
                let p = u64::from(a) * u64::from(w) * (65_536 - u64::from(w));
                (((p + (1 << 47)) >> 48) as i32).max(i32::from(p != 0))
            }
            StdpRule::Additive => ((u64::from(a) + (1 << 15)) >> 16) as i32,
        };
        if ltp { mag } else { -mag }
    }

    /// Doubles `a+` (capped at `cap`) and keeps the ratio `a−/a+` of `base`, in integers:
    /// the learning-rate schedule of Kheradpisheh et al. (layer 1: ×2 every 500 samples, cap 0.15).
    pub fn doubled(&self, base: &StdpParams, cap: u32) -> Self {
        let ap = (u64::from(self.a_plus) * 2)
            .min(u64::from(cap))
            .max(u64::from(self.a_plus));
        let ap = ap.min(u64::from(u32::MAX)) as u32;
        let am = if base.a_plus == 0 {
            self.a_minus
        } else {
            (u64::from(ap) * u64::from(base.a_minus) / u64::from(base.a_plus))
                .min(u64::from(u32::MAX)) as u32
        };
        Self {
            rule: self.rule,
            a_plus: ap,
            a_minus: am,
        }
    }
}

/// Adds a summed change to a weight, saturating to `[0, 65535]`.
#[inline]
pub fn apply(w: u16, d: i32) -> u16 {
    (i32::from(w) + d).clamp(0, i32::from(u16::MAX)) as u16
}

/// LTP test: the pre neuron fired (`pre != NEVER`) at or before the post neuron.
#[inline]
pub fn is_ltp(pre: u8, post: u8) -> bool {
    pre != crate::spikes::NEVER && pre <= post
}
