//! A layer of leaky integrate-and-fire neurons driven by a weight matrix (`k` outputs of `n`
//! inputs, Q5.26), with the competition and homeostasis the trace-STDP task needs: k
//! winners-take-all among the neurons over threshold (optionally resetting the losers, a hard
//! lateral inhibition) and adaptive thresholds (each spike raises the neuron's threshold, which
//! decays back).
//!
//! One step, in order: pre traces `x̄ ← trace(x̄, x)`; potentials `v ← leak·v + W x`;
//! candidates `v_i ≥ θ + a_i`; the `k` candidates with the largest `v − θ − a` spike (ties: lower
//! index), spikers (and, with inhibition, every neuron) reset to `v_reset`; learning
//! ([`TraceStdp::update_row`]) with the post traces before the step; post traces
//! `ȳ ← trace(ȳ, s)`; adaptation `a ← decay·a + plus·s`.

use super::fixed;
use super::trace_stdp::{Pairing, TraceStdp};
use crate::error::{Error, Result, head, head_mut};
use serde::{Deserialize, Serialize};

/// Widest input whose non-zero entries are listed once per step (on the stack).
const ACTIVE_MAX: usize = 1024;

/// Parameters of the layer (Q5.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "LifParamsRaw")]
pub struct LifParams {
    leak: i32,
    threshold: i32,
    v_reset: i32,
    trace_decay: i32,
    pairing: Pairing,
    /// Winners per step (0: every neuron over threshold spikes).
    k: u16,
    inhibit: bool,
    adapt_plus: i32,
    adapt_decay: i32,
}

impl LifParams {
    /// `leak`, `trace_decay` and `adapt_decay` in `[0, 1]`; `adapt_plus ≥ 0`; `k` winners per
    /// step (0: no limit); `inhibit` resets every potential when a neuron spikes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        leak: i32,
        threshold: i32,
        v_reset: i32,
        trace_decay: i32,
        pairing: Pairing,
        k: u16,
        inhibit: bool,
        adapt_plus: i32,
        adapt_decay: i32,
    ) -> Result<Self> {
        let unit = 0..=fixed::ONE;
        if !unit.contains(&leak) {
            return Err(Error::InvalidParam("LIF leak must be in [0, 1]"));
        }
        if !unit.contains(&trace_decay) {
            return Err(Error::InvalidParam("trace decay must be in [0, 1]"));
        }
        if !unit.contains(&adapt_decay) {
            return Err(Error::InvalidParam(
                "threshold adaptation decay must be in [0, 1]",
            ));
        }
        if adapt_plus < 0 {
            return Err(Error::InvalidParam(
                "threshold adaptation step must be >= 0",
            ));
        }
        if v_reset >= threshold {
            return Err(Error::InvalidParam("LIF reset must be below the threshold"));
        }
        Ok(Self {
            leak,
            threshold,
            v_reset,
            trace_decay,
            pairing,
            k,
            inhibit,
            adapt_plus,
            adapt_decay,
        })
    }
    /// Base threshold.
    pub fn threshold(&self) -> i32 {
        self.threshold
    }
    /// Winners per step (0: no limit).
    pub fn k(&self) -> u16 {
        self.k
    }
}

/// The layer's state (caller-owned; part of a checkpoint).
#[derive(Debug)]
pub struct LifState<'a> {
    /// Potentials (`k`).
    pub v: &'a mut [i32],
    /// Pre-synaptic traces (`n`).
    pub pre: &'a mut [i32],
    /// Post-synaptic traces (`k`).
    pub post: &'a mut [i32],
    /// Threshold adaptation (`k`).
    pub adapt: &'a mut [i32],
}

/// One time step for input `x` (`n`): spikes go to `spikes` (`k`, 0/1); with `rule`, the weights
/// learn. Returns the number of spikes.
pub fn step(
    p: &LifParams,
    rule: Option<&TraceStdp>,
    w: &mut [i32],
    n: usize,
    x: &[i32],
    st: &mut LifState<'_>,
    spikes: &mut [u8],
) -> Result<usize> {
    if n == 0 {
        return Err(Error::Zero("inputs"));
    }
    if w.is_empty() || !w.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch("weights are not outputs × inputs"));
    }
    let k = w.len() / n;
    let x = head("input", x, n)?;
    let pre = head_mut("pre traces", st.pre, n)?;
    let v = head_mut("potentials", st.v, k)?;
    let post = head_mut("post traces", st.post, k)?;
    let adapt = head_mut("adaptation", st.adapt, k)?;
    let spikes = head_mut("spikes", spikes, k)?;
    for (t, &xj) in pre.iter_mut().zip(x) {
        *t = TraceStdp::trace(p.pairing, *t, p.trace_decay, xj);
    }
    // Spike inputs are sparse: the indices of the non-zero inputs, listed once, drive the
    // integration and the depression (layers wider than the list scan every input instead;
    // both give the same exact sums).
    let mut list = [0u16; ACTIVE_MAX];
    let mut count = 0usize;
    let mut sparse = n <= ACTIVE_MAX;
    if sparse {
        for (j, &xj) in x.iter().enumerate() {
            if xj != 0 {
                match list.get_mut(count) {
                    Some(slot) => *slot = j as u16,
                    None => sparse = false,
                }
                count += 1;
            }
        }
    }
    let active = list.get(..count).filter(|_| sparse);
    for (vi, row) in v.iter_mut().zip(w.chunks_exact(n)) {
        let input = match active {
            Some(act) => {
                fixed::narrow(fixed::exact_sum(act.iter().filter_map(|&j| {
                    Some((*row.get(usize::from(j))?, *x.get(usize::from(j))?))
                })))
            }
            None => fixed::dot_sparse(row, x),
        };
        *vi = fixed::mul(*vi, p.leak).saturating_add(input);
    }
    // Winners: repeatedly the largest margin over threshold (k is small: k passes over k).
    spikes.fill(0);
    let limit = if p.k == 0 { k } else { usize::from(p.k).min(k) };
    let mut fired = 0;
    while fired < limit {
        let mut best: Option<(usize, i64)> = None;
        for (i, ((&vi, &ai), &si)) in v.iter().zip(adapt.iter()).zip(spikes.iter()).enumerate() {
            let margin = i64::from(vi) - i64::from(p.threshold) - i64::from(ai);
            if si == 0 && margin >= 0 && best.is_none_or(|(_, m)| margin > m) {
                best = Some((i, margin));
            }
        }
        match best.and_then(|(i, _)| spikes.get_mut(i)) {
            Some(s) => *s = 1,
            None => break,
        }
        fired += 1;
    }
    for (vi, &s) in v.iter_mut().zip(spikes.iter()) {
        if s != 0 || (fired > 0 && p.inhibit) {
            *vi = p.v_reset;
        }
    }
    if let Some(rule) = rule {
        for ((row, &s), &tp) in w.chunks_exact_mut(n).zip(spikes.iter()).zip(post.iter()) {
            match active {
                Some(act) => rule.update_row_active(row, s != 0, tp, pre, x, act),
                None => rule.update_row(row, s != 0, tp, pre, x),
            }
        }
    }
    for ((t, a), &s) in post.iter_mut().zip(adapt.iter_mut()).zip(spikes.iter()) {
        let sv = if s != 0 { fixed::ONE } else { 0 };
        *t = TraceStdp::trace(p.pairing, *t, p.trace_decay, sv);
        *a = fixed::mul(*a, p.adapt_decay).saturating_add(if s != 0 { p.adapt_plus } else { 0 });
    }
    Ok(fired)
}

/// The serialised form of [`LifParams`], validated on decoding.
#[derive(Deserialize)]
struct LifParamsRaw {
    leak: i32,
    threshold: i32,
    v_reset: i32,
    trace_decay: i32,
    pairing: Pairing,
    k: u16,
    inhibit: bool,
    adapt_plus: i32,
    adapt_decay: i32,
}

impl TryFrom<LifParamsRaw> for LifParams {
    type Error = Error;
    fn try_from(r: LifParamsRaw) -> Result<Self> {
        Self::new(
            r.leak,
            r.threshold,
            r.v_reset,
            r.trace_decay,
            r.pairing,
            r.k,
            r.inhibit,
            r.adapt_plus,
            r.adapt_decay,
        )
    }
}
