//! Local homeostatic rules: inhibitory spike-timing plasticity (Vogels et al. 2011) for E/I
//! balance, and rate homeostasis of each cell by its threshold (intrinsic plasticity) or the
//! gain of its excitatory input (multiplicative synaptic scaling). Weights keep their sign:
//! they are clamped to `[0, w_max]`.

use super::graph::Csr;
use super::net::{Model, State};
use crate::{Error, Result};
use alloc::vec::Vec;

/// Symmetric inhibitory STDP on the synapses from `pre` cells to `post` cells: a presynaptic
/// spike changes `w` by `η (x_post − α)`, a postsynaptic one by `η x_pre`, with traces that
/// jump by 1 and decay with τ; `α = 2 ρ₀ τ` sets the postsynaptic target rate ρ₀.
#[derive(Debug, Clone, PartialEq)]
pub struct Istdp {
    eta: f32,
    alpha: f32,
    w_max: f32,
    /// Trace decay per step, `dt/τ`.
    dt_tau: f32,
    pre: Vec<bool>,
    post: Vec<bool>,
    /// Incoming plastic synapses of each cell: `in_start[j]..in_start[j+1]` in `in_syn`/`in_pre`.
    in_start: Vec<u32>,
    in_syn: Vec<u32>,
    in_pre: Vec<u32>,
}

/// Spike traces, updated lazily: `x` as of step `last`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Traces {
    /// Trace value at the cell's last spike.
    pub x: Vec<f32>,
    /// Step of that spike.
    pub last: Vec<u64>,
}

impl Traces {
    /// Zero traces for `n` cells.
    pub fn new(n: usize) -> Self {
        Self {
            x: alloc::vec![0.0; n],
            last: alloc::vec![0; n],
        }
    }
}

impl Istdp {
    /// The rule on `m`'s recurrent synapses from cells whose type is in `pre_types` to cells
    /// whose type is in `post_types`. `rho0_hz` is the target rate, `tau_ms` the trace time
    /// constant.
    pub fn new(
        m: &Model,
        eta: f64,
        tau_ms: f64,
        rho0_hz: f64,
        w_max: f64,
        pre_types: &[u8],
        post_types: &[u8],
    ) -> Result<Self> {
        if !(eta.is_finite() && eta >= 0.0) {
            return Err(Error::InvalidParam("istdp eta must be >= 0"));
        }
        if !(tau_ms.is_finite() && tau_ms > 0.0 && rho0_hz.is_finite() && rho0_hz >= 0.0) {
            return Err(Error::InvalidParam(
                "istdp tau must be > 0 and the target rate >= 0",
            ));
        }
        if !(w_max.is_finite() && w_max > 0.0) {
            return Err(Error::InvalidParam("istdp w_max must be > 0"));
        }
        let n = m.n();
        let pre: Vec<bool> = m.cell_type.iter().map(|t| pre_types.contains(t)).collect();
        let post: Vec<bool> = m.cell_type.iter().map(|t| post_types.contains(t)).collect();
        let mut count = alloc::vec![0u32; n + 1];
        for i in 0..n {
            if !pre.get(i).copied().unwrap_or(false) {
                continue;
            }
            for s in m.rec.row(i) {
                let t = m.rec.target.get(s).copied().unwrap_or(0) as usize;
                if post.get(t).copied().unwrap_or(false)
                    && let Some(c) = count.get_mut(t + 1)
                {
                    *c += 1;
                }
            }
        }
        for j in 1..count.len() {
            let p = count.get(j - 1).copied().unwrap_or(0);
            if let Some(c) = count.get_mut(j) {
                *c += p;
            }
        }
        let total = count.last().copied().unwrap_or(0) as usize;
        let mut fill = count.clone();
        let (mut in_syn, mut in_pre) = (alloc::vec![0u32; total], alloc::vec![0u32; total]);
        for i in 0..n {
            if !pre.get(i).copied().unwrap_or(false) {
                continue;
            }
            for s in m.rec.row(i) {
                let t = m.rec.target.get(s).copied().unwrap_or(0) as usize;
                if !post.get(t).copied().unwrap_or(false) {
                    continue;
                }
                let Some(slot) = fill.get_mut(t) else {
                    continue;
                };
                let k = *slot as usize;
                *slot += 1;
                if let (Some(a), Some(b)) = (in_syn.get_mut(k), in_pre.get_mut(k)) {
                    *a = s as u32;
                    *b = i as u32;
                }
            }
        }
        Ok(Self {
            eta: eta as f32,
            alpha: (2.0 * rho0_hz * tau_ms / 1000.0) as f32,
            w_max: w_max as f32,
            dt_tau: (m.dt / tau_ms) as f32,
            pre,
            post,
            in_start: count,
            in_syn,
            in_pre,
        })
    }

    /// Plastic synapses.
    pub fn synapses(&self) -> usize {
        self.in_syn.len()
    }

    fn trace(&self, tr: &Traces, i: usize, step: u64) -> f32 {
        let (Some(&x), Some(&l)) = (tr.x.get(i), tr.last.get(i)) else {
            return 0.0;
        };
        if x == 0.0 {
            return 0.0;
        }
        x * libm::expf(-(step.saturating_sub(l) as f32) * self.dt_tau)
    }

    /// Applies the rule for the cells `fired` at `step`, then advances their traces.
    pub fn on_spikes(&self, rec: &mut Csr, tr: &mut Traces, fired: &[u32], step: u64) {
        let (eta, alpha, wmax) = (self.eta, self.alpha, self.w_max);
        for &i in fired {
            let i = i as usize;
            if self.pre.get(i).copied().unwrap_or(false) {
                for s in rec.row(i) {
                    let t = rec.target.get(s).copied().unwrap_or(0) as usize;
                    if !self.post.get(t).copied().unwrap_or(false) {
                        continue;
                    }
                    let xt = self.trace(tr, t, step);
                    if let Some(w) = rec.w.get_mut(s) {
                        *w = (*w + eta * (xt - alpha)).clamp(0.0, wmax);
                    }
                }
            }
            if self.post.get(i).copied().unwrap_or(false) {
                let a = self.in_start.get(i).copied().unwrap_or(0) as usize;
                let b = self.in_start.get(i + 1).copied().unwrap_or(0) as usize;
                for k in a..b.max(a) {
                    let (Some(&s), Some(&p)) = (self.in_syn.get(k), self.in_pre.get(k)) else {
                        continue;
                    };
                    let xp = self.trace(tr, p as usize, step);
                    if let Some(w) = rec.w.get_mut(s as usize) {
                        *w = (*w + eta * xp).clamp(0.0, wmax);
                    }
                }
            }
        }
        for &i in fired {
            let x = self.trace(tr, i as usize, step) + 1.0;
            if let (Some(v), Some(l)) = (tr.x.get_mut(i as usize), tr.last.get_mut(i as usize)) {
                *v = x;
                *l = step;
            }
        }
    }
}

/// Rate homeostasis of each cell toward its target: every update, the cell's rate estimate
/// (an exponential average of its rate over the last interval, time constant `tau_rate`)
/// moves its threshold by `eta_theta · (r̂ − r*)` and multiplies its excitatory gain by
/// `1 + eta_gain · (r* − r̂) / r*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Homeostasis {
    /// Target rate per cell (Hz).
    pub target: Vec<f32>,
    /// Threshold rate per cell (mV per Hz of error and update); 0 turns it off.
    pub eta_theta: Vec<f32>,
    /// Gain rate per cell (per relative error and update); 0 turns it off.
    pub eta_gain: Vec<f32>,
    /// Rate-average time constant (ms).
    pub tau_rate: f64,
    /// Steps between updates.
    pub interval: u32,
}

/// The rate estimates of [`Homeostasis`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rates {
    /// Spikes since the last update.
    pub count: Vec<u32>,
    /// Rate estimate (Hz).
    pub rate: Vec<f32>,
}

impl Homeostasis {
    /// Checks the rule against a model of `n` cells.
    pub fn validate(&self, n: usize) -> Result<()> {
        if self.target.len() != n || self.eta_theta.len() != n || self.eta_gain.len() != n {
            return Err(Error::ShapeMismatch(
                "homeostasis tables do not match the cells",
            ));
        }
        let ok = |x: &[f32]| x.iter().all(|v| v.is_finite() && *v >= 0.0);
        if !(ok(&self.target) && ok(&self.eta_theta) && ok(&self.eta_gain)) {
            return Err(Error::InvalidParam(
                "homeostasis targets and rates must be finite and >= 0",
            ));
        }
        if self.interval == 0 || !(self.tau_rate.is_finite() && self.tau_rate > 0.0) {
            return Err(Error::InvalidParam(
                "homeostasis interval and time constant must be > 0",
            ));
        }
        Ok(())
    }

    /// Rate estimates that start at the targets.
    pub fn rates(&self) -> Rates {
        Rates {
            count: alloc::vec![0; self.target.len()],
            rate: self.target.clone(),
        }
    }

    /// Counts `fired`; every `interval` steps (by `s.step`) updates thresholds and gains.
    pub fn on_step(&self, m: &Model, s: &mut State, r: &mut Rates, fired: &[u32]) {
        for &j in fired {
            if let Some(c) = r.count.get_mut(j as usize) {
                *c += 1;
            }
        }
        if !s.step.is_multiple_of(u64::from(self.interval)) {
            return;
        }
        let window_ms = f64::from(self.interval) * m.dt;
        let to_hz = (1000.0 / window_ms) as f32;
        let mix = (1.0 - libm::exp(-window_ms / self.tau_rate)) as f32;
        let cells = r
            .count
            .iter_mut()
            .zip(r.rate.iter_mut())
            .zip(s.theta.iter_mut().zip(s.gain.iter_mut()))
            .zip(self.target.iter().zip(&self.eta_theta).zip(&self.eta_gain));
        for (((c, est), (th, g)), ((&tgt, &et), &eg)) in cells {
            *est += (*c as f32 * to_hz - *est) * mix;
            *c = 0;
            let err = *est - tgt;
            if et != 0.0 {
                *th += et * err;
            }
            if eg != 0.0 {
                let rel = err / tgt.max(1e-3);
                *g = (*g * (1.0 - eg * rel)).clamp(0.0, 1.0e3);
            }
        }
    }
}
