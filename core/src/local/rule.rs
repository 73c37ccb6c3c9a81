//! The rate-rule trait of the conformance harness: a rule on a linear layer's Q5.26 weights
//! (with optional per-output state, such as BCM's threshold) and an `f64` model of the same
//! rule. `hebb_tests::conformance::check_rate_rule` checks any implementation against its own
//! model: determinism, bounds, no overflow, agreement within the fixed-point rounding. Oja,
//! Sanger and BCM implement it; users implement it for their own rules.

use super::bcm::{BcmParams, bcm_step};
use super::fixed;
use super::oja::{oja_step, sanger_step};
use crate::error::{Error, Result};
use crate::schedule::RateSchedule;

/// A rate-based rule on a `k × n` linear layer.
pub trait RateRule {
    /// Short name for reports.
    fn name(&self) -> &str;
    /// `(inputs, outputs)`.
    fn shape(&self) -> (usize, usize);
    /// Per-output state beyond the weights (`extra` holds this many values per output).
    fn extra_per_output(&self) -> usize {
        0
    }
    /// Initial value of the extra state (Q5.26).
    fn extra_init(&self) -> i32 {
        0
    }
    /// One step for sample number `t` (0-based) with input `x`, in fixed point.
    fn step(&self, w: &mut [i32], extra: &mut [i32], x: &[i32], t: u64) -> Result<()>;
    /// The same step in `f64`.
    fn reference(&self, w: &mut [f64], extra: &mut [f64], x: &[f64], t: u64);
    /// `|w| ≤ bound` after every step, if the rule promises one.
    fn weight_bound(&self) -> Option<f64> {
        None
    }
}

/// The real rate of a schedule at sample `t`.
fn rate(s: &RateSchedule, t: u64) -> f64 {
    fixed::to_f64(s.rate(t))
}

fn normalize_f64(row: &mut [f64]) {
    let n = libm::sqrt(row.iter().map(|v| v * v).sum::<f64>());
    if n > 1.0 / f64::from(fixed::ONE) {
        row.iter_mut().for_each(|v| *v /= n);
    }
}

fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Oja's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OjaRule {
    /// Inputs.
    pub n: usize,
    /// Outputs.
    pub k: usize,
    /// Rate.
    pub schedule: RateSchedule,
    /// Row renormalisation.
    pub normalize: bool,
}

impl RateRule for OjaRule {
    fn name(&self) -> &str {
        "oja"
    }
    fn shape(&self) -> (usize, usize) {
        (self.n, self.k)
    }
    fn step(&self, w: &mut [i32], _: &mut [i32], x: &[i32], t: u64) -> Result<()> {
        oja_step(w, self.n, x, self.schedule.rate(t), self.normalize)
    }
    fn reference(&self, w: &mut [f64], _: &mut [f64], x: &[f64], t: u64) {
        let eta = rate(&self.schedule, t);
        for row in w.chunks_exact_mut(self.n.max(1)) {
            let y = dot_f64(row, x);
            row.iter_mut()
                .zip(x)
                .for_each(|(wj, &xj)| *wj += eta * y * (xj - y * *wj));
            if self.normalize {
                normalize_f64(row);
            }
        }
    }
    fn weight_bound(&self) -> Option<f64> {
        // Unit rows, up to the rounding of each element.
        self.normalize.then_some(1.0 + 4.0 / f64::from(fixed::ONE))
    }
}

/// Largest layer the stack-allocated Sanger conformance step supports.
pub const SANGER_MAX_INPUTS: usize = 256;
/// Largest number of outputs of the same.
pub const SANGER_MAX_OUTPUTS: usize = 16;

/// Sanger's rule (GHA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SangerRule {
    /// Inputs (at most [`SANGER_MAX_INPUTS`]).
    pub n: usize,
    /// Outputs (at most [`SANGER_MAX_OUTPUTS`]).
    pub k: usize,
    /// Rate.
    pub schedule: RateSchedule,
    /// Row renormalisation.
    pub normalize: bool,
}

impl RateRule for SangerRule {
    fn name(&self) -> &str {
        "sanger"
    }
    fn shape(&self) -> (usize, usize) {
        (self.n, self.k)
    }
    fn step(&self, w: &mut [i32], _: &mut [i32], x: &[i32], t: u64) -> Result<()> {
        if self.n > SANGER_MAX_INPUTS || self.k > SANGER_MAX_OUTPUTS {
            return Err(Error::InvalidParam("Sanger conformance layer too large"));
        }
        let mut resid = [0i128; SANGER_MAX_INPUTS];
        let mut y = [0i32; SANGER_MAX_OUTPUTS];
        let (r, yy) = (resid.get_mut(..self.n), y.get_mut(..self.k));
        match (r, yy) {
            (Some(r), Some(yy)) => {
                sanger_step(w, self.n, x, self.schedule.rate(t), self.normalize, r, yy)
            }
            _ => Err(Error::InvalidParam("Sanger conformance layer too large")),
        }
    }
    fn reference(&self, w: &mut [f64], _: &mut [f64], x: &[f64], t: u64) {
        let eta = rate(&self.schedule, t);
        let n = self.n.max(1);
        let y: [f64; SANGER_MAX_OUTPUTS] = {
            let mut y = [0.0; SANGER_MAX_OUTPUTS];
            for (yi, row) in y.iter_mut().zip(w.chunks_exact(n)) {
                *yi = dot_f64(row, x);
            }
            y
        };
        let mut resid = [0.0f64; SANGER_MAX_INPUTS];
        for (r, &xj) in resid.iter_mut().zip(x) {
            *r = xj;
        }
        for (row, &yi) in w.chunks_exact_mut(n).zip(y.iter()) {
            for (r, wj) in resid.iter_mut().zip(row.iter_mut()) {
                *r -= yi * *wj;
                *wj += eta * yi * *r;
            }
            if self.normalize {
                normalize_f64(row);
            }
        }
    }
    fn weight_bound(&self) -> Option<f64> {
        self.normalize.then_some(1.0 + 4.0 / f64::from(fixed::ONE))
    }
}

/// BCM with a sliding threshold (the extra state: one θ per output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcmRule {
    /// Inputs.
    pub n: usize,
    /// Outputs.
    pub k: usize,
    /// Rate.
    pub schedule: RateSchedule,
    /// τ and clip.
    pub params: BcmParams,
    /// Initial θ (Q5.26).
    pub theta0: i32,
}

impl RateRule for BcmRule {
    fn name(&self) -> &str {
        "bcm"
    }
    fn shape(&self) -> (usize, usize) {
        (self.n, self.k)
    }
    fn extra_per_output(&self) -> usize {
        1
    }
    fn extra_init(&self) -> i32 {
        self.theta0
    }
    fn step(&self, w: &mut [i32], extra: &mut [i32], x: &[i32], t: u64) -> Result<()> {
        let mut y = [0i32; SANGER_MAX_OUTPUTS];
        let y = y
            .get_mut(..self.k)
            .ok_or(Error::InvalidParam("BCM conformance layer too large"))?;
        bcm_step(w, self.n, x, extra, self.schedule.rate(t), &self.params, y)
    }
    fn reference(&self, w: &mut [f64], extra: &mut [f64], x: &[f64], t: u64) {
        let eta = rate(&self.schedule, t);
        let clip = fixed::to_f64(self.params.clip());
        let inv_tau = fixed::to_f64(self.params.inv_tau());
        for (row, th) in w.chunks_exact_mut(self.n.max(1)).zip(extra.iter_mut()) {
            let y = dot_f64(row, x);
            row.iter_mut()
                .zip(x)
                .for_each(|(wj, &xj)| *wj = (*wj + eta * y * (y - *th) * xj).clamp(-clip, clip));
            *th += (y * y - *th) * inv_tau;
        }
    }
    fn weight_bound(&self) -> Option<f64> {
        Some(fixed::to_f64(self.params.clip()))
    }
}
