//! Hopfield dynamics on stored integer weights: synchronous and asynchronous updates (a fresh
//! seeded order per sweep), sign / tanh / sigmoid activations, a threshold, an explicit rule
//! for a zero field, energy, overlap, and recall until a fixed point, a 2-cycle or a sweep cap.
//!
//! States: with the sign activation a state is `−1`, `+1` (or `0` under [`Tie::Zero`]); with
//! tanh or sigmoid it is Q16 (`2^16` = 1.0). Weights are `n × n` `i32` within
//! [`super::hebbian::weight_bound`], so a sign field `Σ_j W_ij s_j` is an exact
//! `i32` sum and a Q16 field an exact `i64` one: recall is exact and identical on every target.
//! The threshold is in field units (the host converts a real `θ` with the weights' scale), so
//! `s_i ← f(h_i − θ)`.

use super::activation::{ONE_Q16, sigmoid_q16, tanh_q16};
use super::hebbian::weight_bound;
use crate::error::{Error, Result, head, head_mut};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Which neurons update at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Update {
    /// Every neuron from the previous state.
    Synchronous,
    /// One neuron after another in a fresh random order per sweep.
    Asynchronous,
}

/// The activation of a neuron's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// `±1`.
    Sign,
    /// `tanh(x / T)`, Q16.
    Tanh,
    /// `1 / (1 + e^{-x/T})`, Q16.
    Sigmoid,
}

/// What the sign activation gives for a field exactly at the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tie {
    /// Keep the neuron's state (the standard choice: states stay in ±1 and energy never rises).
    Keep,
    /// `+1`.
    Plus,
    /// `0`, as `numpy.sign` (CANNs): states may leave ±1.
    Zero,
}

/// Dynamics of an `n`-neuron network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "DynamicsRaw")]
pub struct Dynamics {
    n: u32,
    update: Update,
    activation: Activation,
    tie: Tie,
    theta: i64,
    div: i64,
}

/// How a recall ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecallOutcome {
    /// Sweeps run (a sweep updates every neuron once).
    pub sweeps: u32,
    /// A sweep changed nothing: the state is a fixed point.
    pub converged: bool,
    /// The state returned to the one two sweeps before (synchronous 2-cycle).
    pub cycle: bool,
}

impl Dynamics {
    /// Dynamics of `n` neurons (`1 ≤ n ≤ 65535`). `theta` is the threshold in field units;
    /// `div ≥ 1` the field units per Q16 unit of the continuous activations' argument
    /// (the weights' scale times the temperature).
    pub fn new(
        n: usize,
        update: Update,
        activation: Activation,
        tie: Tie,
        theta: i64,
        div: i64,
    ) -> Result<Self> {
        if n == 0 {
            return Err(Error::Zero("neurons"));
        }
        let n = u32::try_from(n)
            .ok()
            .filter(|&n| n <= 65_535)
            .ok_or(Error::InvalidParam(
                "a Hopfield network has at most 65535 neurons",
            ))?;
        if div < 1 {
            return Err(Error::InvalidParam("activation divisor must be >= 1"));
        }
        Ok(Self {
            n,
            update,
            activation,
            tie,
            theta,
            div,
        })
    }

    /// Neurons.
    pub fn n(&self) -> usize {
        self.n as usize
    }
    /// Update order.
    pub fn update(&self) -> Update {
        self.update
    }
    /// Activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Zero-field rule.
    pub fn tie(&self) -> Tie {
        self.tie
    }
    /// Threshold, field units.
    pub fn theta(&self) -> i64 {
        self.theta
    }
    /// The value of an "on" state (`1` for sign, 1.0 in Q16 otherwise).
    pub fn one(&self) -> i32 {
        match self.activation {
            Activation::Sign => 1,
            _ => ONE_Q16,
        }
    }

    /// Checks that `w` is `n × n` within the exact-sum bound.
    pub fn check_weights(&self, w: &[i32]) -> Result<()> {
        let n = self.n();
        if w.len() != n * n {
            return Err(Error::ShapeMismatch("weights are not neurons × neurons"));
        }
        let b = weight_bound(n);
        if w.iter().any(|&x| x > b || x < -b) {
            return Err(Error::OutOfRange("weight beyond the exact-recall bound"));
        }
        Ok(())
    }

    /// Checks a state vector: `n` values, each ±1 (0 under [`Tie::Zero`]) for the sign
    /// activation, within `[−1, 1]` (Q16) otherwise.
    pub fn check_state(&self, s: &[i32]) -> Result<()> {
        if s.len() != self.n() {
            return Err(Error::ShapeMismatch(
                "state length is not the number of neurons",
            ));
        }
        let ok = match self.activation {
            Activation::Sign => s
                .iter()
                .all(|&v| v == 1 || v == -1 || (v == 0 && self.tie == Tie::Zero)),
            _ => s.iter().all(|&v| (-ONE_Q16..=ONE_Q16).contains(&v)),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParam(
                "state value outside the activation's range",
            ))
        }
    }

    /// The field `Σ_j W_ij s_j` of one weight row.
    #[inline]
    pub fn field(&self, row: &[i32], s: &[i32]) -> i64 {
        match self.activation {
            // Exact by the weight bound; wrapping only keeps overflow checks out of the loop.
            Activation::Sign => i64::from(
                row.iter()
                    .zip(s)
                    .fold(0i32, |a, (&w, &x)| a.wrapping_add(w.wrapping_mul(x))),
            ),
            _ => row
                .iter()
                .zip(s)
                .map(|(&w, &x)| i64::from(w) * i64::from(x))
                .sum(),
        }
    }

    /// The new state of a neuron with field `h` and state `old`.
    #[inline]
    pub fn activate(&self, h: i64, old: i32) -> i32 {
        let x = h.saturating_sub(self.theta);
        match self.activation {
            Activation::Sign => match x.signum() {
                1 => 1,
                -1 => -1,
                _ => match self.tie {
                    Tie::Keep => old,
                    Tie::Plus => 1,
                    Tie::Zero => 0,
                },
            },
            Activation::Tanh => tanh_q16(x / self.div),
            Activation::Sigmoid => sigmoid_q16(x / self.div),
        }
    }

    /// One synchronous step `out = f(W s − θ)`; returns how many neurons changed.
    pub fn sync_step(&self, w: &[i32], s: &[i32], out: &mut [i32]) -> Result<usize> {
        let n = self.n();
        let w = head("weights", w, n * n)?;
        let s = head("state", s, n)?;
        let out = head_mut("next state", out, n)?;
        let mut changed = 0;
        for ((o, row), &old) in out.iter_mut().zip(w.chunks_exact(n)).zip(s) {
            *o = self.activate(self.field(row, s), old);
            changed += usize::from(*o != old);
        }
        Ok(changed)
    }

    /// One synchronous step of `batch` states at once (`states` and `out` hold `batch × n`,
    /// state after state); `changed` (`batch`) receives each state's count of changed
    /// neurons. Each weight row is read once for every state: the batch shares the memory
    /// traffic of the weights. Results equal `batch` calls of [`sync_step`](Self::sync_step).
    pub fn sync_step_batch(
        &self,
        w: &[i32],
        states: &[i32],
        out: &mut [i32],
        changed: &mut [u32],
    ) -> Result<()> {
        let n = self.n();
        let batch = changed.len();
        let len = n
            .checked_mul(batch)
            .ok_or(Error::Overflow("batch × neurons"))?;
        let w = head("weights", w, n * n)?;
        let states = head("states", states, len)?;
        let out = head_mut("next states", out, len)?;
        changed.fill(0);
        for (i, row) in w.chunks_exact(n).enumerate() {
            for ((s, o), c) in states
                .chunks_exact(n)
                .zip(out.chunks_exact_mut(n))
                .zip(changed.iter_mut())
            {
                let (Some(&old), Some(dst)) = (s.get(i), o.get_mut(i)) else {
                    return Err(Error::OutOfRange("neuron"));
                };
                *dst = self.activate(self.field(row, s), old);
                *c += u32::from(*dst != old);
            }
        }
        Ok(())
    }

    /// One asynchronous sweep in a fresh random order drawn from `rng` (`order` is scratch of
    /// `n`); returns how many neurons changed.
    pub fn async_sweep(
        &self,
        w: &[i32],
        s: &mut [i32],
        order: &mut [u32],
        rng: &mut Rng,
    ) -> Result<usize> {
        let n = self.n();
        let w = head("weights", w, n * n)?;
        let s = head_mut("state", s, n)?;
        let order = head_mut("order", order, n)?;
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u32;
        }
        rng.shuffle(order);
        let mut changed = 0;
        for &i in order.iter() {
            let i = i as usize;
            let Some(row) = w.get(i * n..(i + 1) * n) else {
                return Err(Error::OutOfRange("neuron"));
            };
            let h = self.field(row, s);
            let Some(si) = s.get_mut(i) else {
                return Err(Error::OutOfRange("neuron"));
            };
            let new = self.activate(h, *si);
            changed += usize::from(new != *si);
            *si = new;
        }
        Ok(changed)
    }

    /// Twice the energy, `2E = −sᵀ W s + 2 θ Σ s`, in field × state units (exact).
    pub fn energy2(&self, w: &[i32], s: &[i32]) -> Result<i128> {
        let n = self.n();
        let w = head("weights", w, n * n)?;
        let s = head("state", s, n)?;
        let mut quad: i128 = 0;
        for (row, &si) in w.chunks_exact(n).zip(s) {
            let h: i128 = row
                .iter()
                .zip(s)
                .map(|(&a, &b)| i128::from(a) * i128::from(b))
                .sum();
            quad += h * i128::from(si);
        }
        let sum: i128 = s.iter().map(|&v| i128::from(v)).sum();
        Ok(-quad + 2 * i128::from(self.theta) * sum)
    }

    /// Recalls from the state in `s` (updated in place) until a sweep changes nothing, the
    /// state repeats with period 2 (synchronous), or `max_sweeps` sweeps. `a` and `b` are scratch
    /// states of `n`; `order` scratch of `n`. `on_sweep` sees each state after a sweep.
    #[allow(clippy::too_many_arguments)]
    pub fn recall(
        &self,
        w: &[i32],
        s: &mut [i32],
        a: &mut [i32],
        b: &mut [i32],
        order: &mut [u32],
        rng: &mut Rng,
        max_sweeps: u32,
        mut on_sweep: impl FnMut(u32, &[i32]),
    ) -> Result<RecallOutcome> {
        let n = self.n();
        let s = head_mut("state", s, n)?;
        let prev = head_mut("scratch a", a, n)?;
        let next = head_mut("scratch b", b, n)?;
        let mut out = RecallOutcome::default();
        let mut have_prev = false;
        while out.sweeps < max_sweeps {
            let (changed, cycle) = match self.update {
                Update::Synchronous => {
                    let c = self.sync_step(w, s, next)?;
                    // s(t+1) == s(t−1) with s(t+1) != s(t): a 2-cycle.
                    let cycle = have_prev && c != 0 && next == &prev[..];
                    prev.copy_from_slice(s);
                    s.copy_from_slice(next);
                    have_prev = true;
                    (c, cycle)
                }
                Update::Asynchronous => (self.async_sweep(w, s, order, rng)?, false),
            };
            out.sweeps += 1;
            on_sweep(out.sweeps, s);
            if changed == 0 {
                out.converged = true;
                break;
            }
            if cycle {
                out.cycle = true;
                break;
            }
        }
        Ok(out)
    }
}

/// `Σ_i a_i b_i` of two states (the overlap times `n`, in state units squared).
pub fn overlap(a: &[i32], b: &[i32]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum()
}

/// The serialised form of [`Dynamics`], validated on decoding.
#[derive(Deserialize)]
struct DynamicsRaw {
    n: u32,
    update: Update,
    activation: Activation,
    tie: Tie,
    theta: i64,
    div: i64,
}

impl TryFrom<DynamicsRaw> for Dynamics {
    type Error = Error;
    fn try_from(r: DynamicsRaw) -> Result<Self> {
        Self::new(r.n as usize, r.update, r.activation, r.tie, r.theta, r.div)
    }
}
