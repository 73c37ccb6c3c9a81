//! Pair-based trace STDP: exponential pre- and post-synaptic traces, additive or multiplicative
//! (soft) weight bounds, all-to-all or nearest-spike pairing (Q5.26).
//!
//! On a step with input `x` and output spikes `s`: `w_ij += A₊ s_i x̄_j − A₋ ȳ_i x_j`, where `x̄`
//! is the pre trace *including* this step's input (a coincident pair potentiates) and `ȳ` the
//! post trace *before* this step's spikes (so a coincidence is not also depressed, unlike the
//! CANNs trainer, whose LTD term includes the current spike and, with `A₋ > A₊`, depresses every
//! repeated coincidence). Multiplicative bounds scale LTP by `(w_max − w)` and LTD by
//! `(w − w_min)` (in units of `w_max − w_min`).

use super::fixed;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How a weight is kept within `[w_min, w_max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Bounds {
    /// Add the update, then clip.
    Additive,
    /// Soft bounds: updates shrink near the bounds.
    Multiplicative,
}

/// How a trace answers a spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pairing {
    /// `trace ← d·trace + x`: every earlier spike pairs.
    AllToAll,
    /// `trace ← max(d·trace, x)`: only the nearest spike pairs.
    Nearest,
}

/// Trace STDP parameters (all Q5.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "TraceStdpRaw")]
pub struct TraceStdp {
    a_plus: i32,
    a_minus: i32,
    w_min: i32,
    w_max: i32,
    bounds: Bounds,
    pairing: Pairing,
}

impl TraceStdp {
    /// `A₊, A₋ ≥ 0` (learning rate included), `w_min < w_max`.
    pub fn new(
        a_plus: i32,
        a_minus: i32,
        w_min: i32,
        w_max: i32,
        bounds: Bounds,
        pairing: Pairing,
    ) -> Result<Self> {
        if a_plus < 0 || a_minus < 0 {
            return Err(Error::InvalidParam("STDP amplitudes must be >= 0"));
        }
        if w_min >= w_max {
            return Err(Error::InvalidParam("STDP w_min must be < w_max"));
        }
        Ok(Self {
            a_plus,
            a_minus,
            w_min,
            w_max,
            bounds,
            pairing,
        })
    }
    /// `A₊`.
    pub fn a_plus(&self) -> i32 {
        self.a_plus
    }
    /// `A₋`.
    pub fn a_minus(&self) -> i32 {
        self.a_minus
    }
    /// Lower bound.
    pub fn w_min(&self) -> i32 {
        self.w_min
    }
    /// Upper bound.
    pub fn w_max(&self) -> i32 {
        self.w_max
    }
    /// Bounds.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }
    /// Pairing.
    pub fn pairing(&self) -> Pairing {
        self.pairing
    }

    /// Advances a trace by one step with decay `d` and input `x` (Q5.26).
    #[inline]
    pub fn trace(pairing: Pairing, t: i32, d: i32, x: i32) -> i32 {
        let decayed = fixed::mul(t, d);
        match pairing {
            Pairing::AllToAll => decayed.saturating_add(x),
            Pairing::Nearest => decayed.max(x),
        }
    }

    /// Updates one weight row (output neuron `i`): `spiked` is `s_i`, `post` is `ȳ_i` before
    /// this step, `pre` the pre traces after it, `x` the input. Without a post spike only the
    /// inputs that fired can change (depression), so only those are visited.
    pub fn update_row(&self, row: &mut [i32], spiked: bool, post: i32, pre: &[i32], x: &[i32]) {
        if spiked {
            for ((w, &tp), &xj) in row.iter_mut().zip(pre).zip(x) {
                let ltp = fixed::mul(self.a_plus, tp);
                let ltd = if xj != 0 && post != 0 {
                    fixed::mul(fixed::mul(self.a_minus, post), xj)
                } else {
                    0
                };
                *w = self.apply(*w, ltp, ltd);
            }
        } else if post != 0 {
            let a = fixed::mul(self.a_minus, post);
            for (w, &xj) in row.iter_mut().zip(x) {
                if xj != 0 {
                    *w = self.apply(*w, 0, fixed::mul(a, xj));
                }
            }
        }
    }

    /// [`update_row`](Self::update_row) given the indices of the non-zero inputs (`active`,
    /// increasing): the same result, visiting only those inputs when the neuron did not spike.
    pub fn update_row_active(
        &self,
        row: &mut [i32],
        spiked: bool,
        post: i32,
        pre: &[i32],
        x: &[i32],
        active: &[u16],
    ) {
        if spiked {
            self.update_row(row, spiked, post, pre, x);
        } else if post != 0 {
            let a = fixed::mul(self.a_minus, post);
            for &j in active {
                let j = usize::from(j);
                if let (Some(w), Some(&xj)) = (row.get_mut(j), x.get(j)) {
                    *w = self.apply(*w, 0, fixed::mul(a, xj));
                }
            }
        }
    }

    /// `w + ltp − ltd` within the bounds (soft bounds scale each term first).
    #[inline]
    fn apply(&self, w: i32, mut ltp: i32, mut ltd: i32) -> i32 {
        if self.bounds == Bounds::Multiplicative {
            let span = i64::from(self.w_max) - i64::from(self.w_min);
            let up = i64::from(self.w_max) - i64::from(w);
            let down = i64::from(w) - i64::from(self.w_min);
            // `span > 0` by construction.
            ltp = ((i64::from(ltp) * up + span / 2) / span.max(1)) as i32;
            ltd = ((i64::from(ltd) * down + span / 2) / span.max(1)) as i32;
        }
        w.saturating_add(ltp)
            .saturating_sub(ltd)
            .clamp(self.w_min, self.w_max)
    }
}

/// The serialised form of [`TraceStdp`], validated on decoding.
#[derive(Deserialize)]
struct TraceStdpRaw {
    a_plus: i32,
    a_minus: i32,
    w_min: i32,
    w_max: i32,
    bounds: Bounds,
    pairing: Pairing,
}

impl TryFrom<TraceStdpRaw> for TraceStdp {
    type Error = Error;
    fn try_from(r: TraceStdpRaw) -> Result<Self> {
        Self::new(r.a_plus, r.a_minus, r.w_min, r.w_max, r.bounds, r.pairing)
    }
}
