//! The network's dynamics: one Euler step, one presentation, one digit with its
//! re-presentations, and the weight normalisation.
//!
//! One step `t`, in order (every spike is delivered the step after it is emitted, except the
//! inputs', which arrive in the step they are drawn):
//! 1. input spikes: `ge_e += w` over the row, then (learning) `w −= ν_pre · x_post1` for the
//!    neurons whose first post trace is non-zero, clipped at 0; the input's last spike is `t`;
//! 2. the previous step's excitatory spikes add `w_ei` to their inhibitory partner's `ge`; its
//!    inhibitory spikes add `w_ie` to every other excitatory neuron's `gi`;
//! 3. excitatory neurons: held at reset while refractory, else
//!    `v += dt/τ · ((v_rest − v) + ge (E_e − v) + gi (E_i − v))`, clamped to the span of the
//!    reversal, rest, reset and initial potentials (Euler overshoots there only when it is
//!    unstable); conductances decay; a neuron out of its refractory period spikes when
//!    `v > v_thresh + θ`: reset, refractory, (learning) `θ += θ+` and, for every input,
//!    `w += ν_post · x_pre · x_post2` with the second post trace from before the spike,
//!    clipped at `w_max`;
//! 4. inhibitory neurons, the same without `gi` and without learning.
//!
//! Traces are set to 1 by a spike and decay exponentially: a trace is a lookup of the steps
//! since the last spike in a table of powers of its decay, so no trace costs work per step.

use super::params::{Neurons, Params, TABLE_MAX, W_FRAC};
use crate::error::{Error, Result, head, head_mut};
use crate::poisson;
use crate::rng::Rng;

/// Fills `out` with the powers of a Q0.32 decay in Q8.24 (`out[k] ≈ 2²⁴ dᵏ`, rounded down, so
/// the table reaches 0, and zeros after); returns its length (the first zero entry's index).
pub fn trace_table(decay: u32, out: &mut [u32]) -> Result<usize> {
    let mut x: u64 = 1 << W_FRAC;
    let mut len = None;
    for (k, slot) in out.iter_mut().enumerate() {
        if x == 0 && len.is_none() {
            len = Some(k);
        }
        *slot = x as u32;
        x = (x * u64::from(decay)) >> 32;
    }
    if x == 0 {
        Ok(len.unwrap_or(out.len()))
    } else {
        Err(Error::InvalidParam(
            "trace table does not reach 0 within its buffer",
        ))
    }
}

/// The three trace tables (pre, first post, second post).
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    /// Pre trace by age.
    pub pre: &'a [u32],
    /// First post trace by age.
    pub post1: &'a [u32],
    /// Second post trace by age.
    pub post2: &'a [u32],
}

/// A network's fixed part: its constants, sizes and trace tables.
#[derive(Debug, Clone, Copy)]
pub struct Net<'a> {
    /// Constants.
    pub params: &'a Params,
    /// Inputs (pixels).
    pub n_in: usize,
    /// Excitatory (and inhibitory) neurons.
    pub n: usize,
    /// Trace tables.
    pub tables: Tables<'a>,
}

/// The state that carries over from step to step (caller-owned; part of a checkpoint).
#[derive(Debug)]
pub struct State<'a> {
    /// Excitatory potentials (`n`, Q16.16 mV).
    pub v_e: &'a mut [i32],
    /// Excitatory conductances of the excitatory neurons (`n`, Q8.24).
    pub ge_e: &'a mut [i32],
    /// Inhibitory conductances of the excitatory neurons (`n`, Q16.16).
    pub gi_e: &'a mut [i32],
    /// Refractory steps left (`n`).
    pub refr_e: &'a mut [u16],
    /// Adaptive thresholds (`n`, Q16.16 mV).
    pub theta: &'a mut [i32],
    /// Step of each excitatory neuron's last spike (`n`).
    pub last_post: &'a mut [u32],
    /// Excitatory spikes of the last step (`n`, 0/1).
    pub fired_e: &'a mut [u8],
    /// Inhibitory potentials (`n`).
    pub v_i: &'a mut [i32],
    /// Excitatory conductances of the inhibitory neurons (`n`, Q8.24).
    pub ge_i: &'a mut [i32],
    /// Inhibitory refractory steps left (`n`).
    pub refr_i: &'a mut [u16],
    /// Inhibitory spikes of the last step (`n`, 0/1).
    pub fired_i: &'a mut [u8],
    /// Step of each input's last spike (`n_in`).
    pub last_pre: &'a mut [u32],
    /// The step clock.
    pub clock: &'a mut u32,
}

/// Working memory of a presentation (caller-owned; not state).
#[derive(Debug)]
pub struct Scratch<'a> {
    /// Inputs that can spike (`n_in`).
    pub active: &'a mut [(u16, u32)],
    /// Input spikes of a step (`n_in`).
    pub spikes: &'a mut [u16],
    /// Depression of the neurons with a live first post trace (`n`).
    pub dep: &'a mut [(u16, i32)],
    /// Column sums of the normalisation (`n`).
    pub sums: &'a mut [i64],
}

/// What one digit cost and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outcome {
    /// Excitatory spikes of the last presentation.
    pub spikes: u32,
    /// Presentations (1 + re-presentations).
    pub presentations: u32,
    /// Input spikes over all presentations.
    pub input_spikes: u32,
}

/// The input weights (`n_in × n`, input-major, Q8.24): plastic while learning (STDP, θ
/// adaptation and normalisation on), frozen for inference (shared between threads).
#[derive(Debug)]
pub enum Weights<'a> {
    /// Learning.
    Plastic(&'a mut [i32]),
    /// Inference.
    Frozen(&'a [i32]),
}

impl Weights<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Plastic(w) => w.len(),
            Self::Frozen(w) => w.len(),
        }
    }
    /// True while learning.
    pub fn plastic(&self) -> bool {
        matches!(self, Self::Plastic(_))
    }
}

const NEVER: u32 = TABLE_MAX as u32;

#[inline]
fn trace(table: &[u32], clock: u32, last: u32) -> i32 {
    let age = clock.wrapping_sub(last) as usize;
    table.get(age).map_or(0, |&x| x as i32)
}

#[inline]
fn mul_w(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b)) >> W_FRAC) as i32
}

#[inline]
fn decay(x: i32, d: u32) -> i32 {
    ((i64::from(x) * i64::from(d)) >> 32) as i32
}

#[inline]
fn integrate(p: &Neurons, v: i32, ge: i32, gi: i32, lo: i64, hi: i64) -> i32 {
    let v = i64::from(v);
    let drive = (i64::from(p.v_rest) - v)
        + ((i64::from(ge) * (i64::from(p.e_exc) - v)) >> W_FRAC)
        + ((i64::from(gi) * (i64::from(p.e_inh) - v)) >> 16);
    // Below 2³¹: times a `dt/τ` of up to 1 − 2⁻³² (τ = dt), plus the rounding half, the
    // product stays inside i64 (2³¹ itself would reach 2⁶³).
    let drive = drive.clamp(-(1 << 31), (1 << 31) - 1);
    let dv = (drive * i64::from(p.k) + (1 << 31)) >> 32;
    (v + dv).clamp(lo, hi) as i32
}

fn bounds(p: &Neurons, extra: i32) -> (i64, i64) {
    let lo = p.e_inh.min(p.v_rest).min(p.v_reset).min(extra);
    let hi = p.e_exc.max(p.v_rest).max(p.v_thresh).max(extra);
    (i64::from(lo), i64::from(hi))
}

impl State<'_> {
    fn check(&self, net: &Net<'_>) -> Result<()> {
        let n = net.n;
        let ok = [
            self.v_e.len(),
            self.ge_e.len(),
            self.gi_e.len(),
            self.refr_e.len(),
            self.theta.len(),
            self.last_post.len(),
            self.fired_e.len(),
            self.v_i.len(),
            self.ge_i.len(),
            self.refr_i.len(),
            self.fired_i.len(),
        ]
        .iter()
        .all(|&l| l == n)
            && self.last_pre.len() == net.n_in;
        if ok {
            Ok(())
        } else {
            Err(Error::ShapeMismatch(
                "network state does not match its neuron and input counts",
            ))
        }
    }

    /// The state of a new network: excitatory potentials at rest plus the initial offset,
    /// inhibitory ones at rest, no conductance, no trace, θ = 0.
    pub fn init(&mut self, p: &Params) {
        self.theta.fill(0);
        self.rest(p);
        self.v_e.fill(p.raw().v_init);
    }

    /// Everything but θ back to rest (a frozen network evaluates each digit from here, so
    /// digits are independent).
    pub fn rest(&mut self, p: &Params) {
        let r = p.raw();
        self.v_e.fill(r.exc.v_rest);
        self.ge_e.fill(0);
        self.gi_e.fill(0);
        self.refr_e.fill(0);
        self.fired_e.fill(0);
        self.v_i.fill(r.inh.v_rest);
        self.ge_i.fill(0);
        self.refr_i.fill(0);
        self.fired_i.fill(0);
        *self.clock = 0;
        self.last_post.fill(0u32.wrapping_sub(NEVER));
        self.last_pre.fill(0u32.wrapping_sub(NEVER));
    }

    /// Moves spike times older than any table to "long ago", so the clock can wrap.
    fn refresh(&mut self) {
        let c = *self.clock;
        for l in self.last_post.iter_mut().chain(self.last_pre.iter_mut()) {
            if c.wrapping_sub(*l) >= NEVER {
                *l = c.wrapping_sub(NEVER);
            }
        }
    }
}

/// One step with the input spikes `spikes` (indices), learning when the weights are plastic;
/// with `counts`, excitatory spikes are
/// added to it. Returns the excitatory spikes of the step.
#[allow(clippy::too_many_arguments)]
pub fn step(
    net: &Net<'_>,
    w: &mut Weights<'_>,
    st: &mut State<'_>,
    spikes: &[u16],
    dep: &mut [(u16, i32)],
    counts: Option<&mut [u32]>,
) -> Result<u32> {
    let (n, r) = (net.n, net.params.raw());
    st.check(net)?;
    let clock = *st.clock;
    let learn = w.plastic();
    // 1. Input spikes.
    let mut n_dep = 0;
    if learn && !spikes.is_empty() && r.nu_pre > 0 {
        let dep = head_mut("depression list", dep, n)?;
        for (j, &last) in st.last_post.iter().enumerate() {
            let x = trace(net.tables.post1, clock, last);
            if x > 0
                && let Some(slot) = dep.get_mut(n_dep)
            {
                *slot = (j as u16, mul_w(r.nu_pre, x));
                n_dep += 1;
            }
        }
    }
    let dep = dep.get(..n_dep).unwrap_or(&[]);
    for &i in spikes {
        let i = usize::from(i);
        let span = i * n..(i + 1) * n;
        let row = match w {
            Weights::Plastic(w) => w.get(span.clone()),
            Weights::Frozen(w) => w.get(span.clone()),
        }
        .ok_or(Error::OutOfRange("input spike"))?;
        for (g, &x) in st.ge_e.iter_mut().zip(row.iter()) {
            *g = g.saturating_add(x);
        }
        if let Weights::Plastic(w) = w
            && let Some(row) = w.get_mut(span)
        {
            for &(j, d) in dep {
                if let Some(x) = row.get_mut(usize::from(j)) {
                    *x = (*x - d).max(0);
                }
            }
        }
        if let Some(l) = st.last_pre.get_mut(i) {
            *l = clock;
        }
    }
    // 2. Spikes of the last step.
    let inh_spikes = st.fired_i.iter().map(|&f| i32::from(f)).sum::<i32>();
    for (g, &f) in st.ge_i.iter_mut().zip(st.fired_e.iter()) {
        if f != 0 {
            *g = g.saturating_add(r.w_ei);
        }
    }
    if inh_spikes > 0 {
        for (g, &f) in st.gi_e.iter_mut().zip(st.fired_i.iter()) {
            *g = g.saturating_add(r.w_ie.saturating_mul(inh_spikes - i32::from(f)));
        }
    }
    // 3. Excitatory neurons.
    let (lo, hi) = bounds(&r.exc, r.v_init);
    let mut fired = 0u32;
    // The membrane pass first (no branch on learning), then the rare spikes one by one: a
    // spike's effects (θ, its weight column, its trace) touch that neuron alone.
    let thresh = r.exc.v_thresh;
    // A neuron at rest with no conductance stays there (Euler adds exactly 0): skipped.
    let exc_quiet = r.exc.v_rest <= thresh;
    for (((((v, ge), gi), refr), th), f) in st
        .v_e
        .iter_mut()
        .zip(st.ge_e.iter_mut())
        .zip(st.gi_e.iter_mut())
        .zip(st.refr_e.iter_mut())
        .zip(st.theta.iter())
        .zip(st.fired_e.iter_mut())
    {
        *f = 0;
        if exc_quiet && *v == r.exc.v_rest && *ge == 0 && *gi == 0 && *refr == 0 && *th >= 0 {
            continue;
        }
        if *refr > 0 {
            *refr -= 1;
            *v = r.exc.v_reset;
        } else {
            *v = integrate(&r.exc, *v, *ge, *gi, lo, hi);
        }
        *ge = decay(*ge, r.exc.ge_decay);
        *gi = decay(*gi, r.exc.gi_decay);
        if *refr == 0 && *v > thresh.saturating_add(*th) {
            *v = r.exc.v_reset;
            *refr = r.exc.refrac;
            *f = 1;
            fired += 1;
        }
    }
    if fired > 0 {
        let mut counts = counts;
        for (j, _) in st.fired_e.iter().enumerate().filter(|(_, f)| **f != 0) {
            if let Some(c) = counts.as_deref_mut().and_then(|c| c.get_mut(j)) {
                *c = c.saturating_add(1);
            }
            let last = st.last_post.get(j).copied().unwrap_or(clock);
            if let Weights::Plastic(w) = w {
                if let Some(th) = st.theta.get_mut(j) {
                    *th = th.saturating_add(r.theta_plus);
                }
                let post2 = trace(net.tables.post2, clock, last);
                if post2 > 0 && r.nu_post > 0 {
                    let a = mul_w(r.nu_post, post2);
                    let col = w.get_mut(j..).unwrap_or(&mut []);
                    for (x, &lp) in col.iter_mut().step_by(n).zip(st.last_pre.iter()) {
                        let pre = trace(net.tables.pre, clock, lp);
                        if pre > 0 {
                            // Saturating: a normalised weight may sit at i32::MAX.
                            *x = x.saturating_add(mul_w(a, pre)).min(r.w_max);
                        }
                    }
                }
            }
            if let Some(l) = st.last_post.get_mut(j) {
                *l = clock;
            }
        }
    }
    // 4. Inhibitory neurons.
    let (lo, hi) = bounds(&r.inh, r.inh.v_rest);
    let inh_quiet = r.inh.v_rest <= r.inh.v_thresh;
    for (((v, ge), refr), f) in st
        .v_i
        .iter_mut()
        .zip(st.ge_i.iter_mut())
        .zip(st.refr_i.iter_mut())
        .zip(st.fired_i.iter_mut())
    {
        *f = 0;
        if inh_quiet && *v == r.inh.v_rest && *ge == 0 && *refr == 0 {
            continue;
        }
        if *refr > 0 {
            *refr -= 1;
            *v = r.inh.v_reset;
        } else {
            *v = integrate(&r.inh, *v, *ge, 0, lo, hi);
        }
        *ge = decay(*ge, r.inh.ge_decay);
        if *refr == 0 && *v > r.inh.v_thresh {
            *v = r.inh.v_reset;
            *refr = r.inh.refrac;
            *f = 1;
        }
    }
    *st.clock = clock.wrapping_add(1);
    Ok(fired)
}

/// Scales every neuron's input weights (column `j` of the `n_in × n` matrix) to sum `target`
/// (Q8.24): `w ← w · target / Σw`, one factor per column. A column summing to 0 is left alone.
pub fn normalize(w: &mut [i32], n: usize, target: i64, sums: &mut [i64]) -> Result<()> {
    if n == 0 || w.is_empty() || !w.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch("weights are not inputs × neurons"));
    }
    let sums = head_mut("column sums", sums, n)?;
    sums.fill(0);
    for row in w.chunks_exact(n) {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += i64::from(x);
        }
    }
    // Factors in Q32 (saturated: a nearly empty column is scaled as far as a weight can go).
    for s in sums.iter_mut() {
        *s = if *s > 0 {
            let f = (i128::from(target) << 32) / i128::from(*s);
            f.min(i128::from(i64::MAX)) as i64
        } else {
            0
        };
    }
    // Factors below 2 (every column near its target, the usual case) multiply a non-negative
    // weight in u64 without overflow: (2³¹ − 1)(2³³ − 1) + 2³¹ < 2⁶⁴. The same value as the
    // i128 product, at a fraction of its cost.
    let fast = sums.iter().all(|&f| (0..1 << 33).contains(&f));
    for row in w.chunks_exact_mut(n) {
        for (x, &f) in row.iter_mut().zip(sums.iter()) {
            if f > 0 {
                *x = if fast && *x >= 0 {
                    let v = (u64::from(x.unsigned_abs()) * f as u64 + (1 << 31)) >> 32;
                    v.min(i32::MAX as u64) as i32
                } else {
                    let v = (i128::from(*x) * i128::from(f) + (1 << 31)) >> 32;
                    v.clamp(0, i128::from(i32::MAX)) as i32
                };
            }
        }
    }
    Ok(())
}

/// One presentation of `pixels` at `intensity`, then the rest: the excitatory spike counts of
/// the presentation go to `counts` (zeroed first). Returns the input spikes drawn.
#[allow(clippy::too_many_arguments)]
pub fn present(
    net: &Net<'_>,
    w: &mut Weights<'_>,
    st: &mut State<'_>,
    scratch: &mut Scratch<'_>,
    pixels: &[u8],
    intensity: u8,
    rng: &mut Rng,
    counts: &mut [u32],
) -> Result<u32> {
    let r = net.params.raw();
    let pixels = head("pixels", pixels, net.n_in)?;
    let counts = head_mut("spike counts", counts, net.n)?;
    counts.fill(0);
    st.refresh();
    let na = poisson::active_inputs(r.unit, pixels, intensity, scratch.active)?;
    let active = scratch.active.get(..na).unwrap_or(&[]);
    let mut inputs = 0u32;
    for _ in 0..r.steps_on {
        let k = poisson::draw(rng, active, scratch.spikes)?;
        let spikes = scratch.spikes.get(..k).unwrap_or(&[]);
        inputs = inputs.saturating_add(k as u32);
        step(net, w, st, spikes, scratch.dep, Some(counts))?;
    }
    for _ in 0..r.steps_rest {
        step(net, w, st, &[], scratch.dep, None)?;
    }
    Ok(inputs)
}

/// One digit as the authors present it: (learning) weights normalised, shown at the starting
/// intensity, and shown again one intensity higher while the network answers with fewer than
/// `min_spikes` spikes (up to `max_intensity`); (learning) θ decays over each presentation in
/// closed form. `counts` holds the last presentation's spike counts.
#[allow(clippy::too_many_arguments)]
pub fn sample(
    net: &Net<'_>,
    w: &mut Weights<'_>,
    st: &mut State<'_>,
    scratch: &mut Scratch<'_>,
    pixels: &[u8],
    rng: &mut Rng,
    counts: &mut [u32],
) -> Result<Outcome> {
    let r = net.params.raw();
    if net.n == 0 || net.n_in == 0 || net.n > usize::from(u16::MAX) {
        return Err(Error::InvalidParam("neurons must be in 1..=65535"));
    }
    if net.n_in.checked_mul(net.n) != Some(w.len()) {
        return Err(Error::ShapeMismatch("weights are not inputs × neurons"));
    }
    st.check(net)?;
    let learn = w.plastic();
    let mut intensity = r.intensity;
    let mut out = Outcome::default();
    loop {
        if let Weights::Plastic(w) = w {
            normalize(w, net.n, r.norm_sum, scratch.sums)?;
        }
        let inputs = present(net, w, st, scratch, pixels, intensity, rng, counts)?;
        if learn {
            for th in st.theta.iter_mut() {
                *th = decay(*th, r.theta_decay);
            }
        }
        out.presentations += 1;
        out.input_spikes = out.input_spikes.saturating_add(inputs);
        out.spikes = counts.iter().fold(0u32, |a, &c| a.saturating_add(c));
        if out.spikes >= r.min_spikes || intensity >= r.max_intensity {
            return Ok(out);
        }
        intensity += 1;
    }
}
