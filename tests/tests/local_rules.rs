//! The local-rule family (`hebb_core::local`, `hebb::family::rules`) against expectations
//! computed here, never by the code under test:
//!
//! * `f64` models of Oja, Sanger, BCM and trace STDP on LIF neurons, written out below, that
//!   the Q5.26 steps track within a few LSB per step and along long trajectories;
//! * Hebbian storage against the outer-product sum in exact integers and in `f64`, a small case
//!   computed by hand, and Storkey storage against an `f64` model;
//! * Hopfield dynamics: energy descent, fixed points and 2-cycles checked by simulating the
//!   dynamics here, the zero-field rules, and the continuous activations against `f64`;
//! * convergence of Oja and Sanger to eigenvectors found by `nalgebra`'s symmetric eigen
//!   decomposition; Hopfield capacity against theory and against the CANNs measurements
//!   (`shared/reference/canns.md` §4.1); BCM selectivity and STDP pattern detection on their
//!   presets, measured here from the trained weights;
//! * bad input: named errors, no panics.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use hebb::family::rules::LocalRules;
use hebb::family::rules::config::{RuleConfig, RulesConfig};
use hebb::family::rules::model::{Model, Prediction};
use hebb::family::rules::task::Task;
use hebb::run::Trainer;
use hebb_core::Error;
use hebb_core::local::bcm::{BcmParams, bcm_step};
use hebb_core::local::hebbian::{self, Hebbian, Mean, StoreOptions, storkey_add, weight_bound};
use hebb_core::local::hopfield::{Activation, Dynamics, RecallOutcome, Tie, Update};
use hebb_core::local::lif::{self, LifParams, LifState};
use hebb_core::local::oja::{forward, oja_step, sanger_step};
use hebb_core::local::trace_stdp::{Bounds, Pairing, TraceStdp};
use hebb_core::local::{activation, fixed};
use hebb_core::rng::Rng;
use hebb_core::schedule::{Decay, RateSchedule};
use proptest::prelude::*;
use rayon::prelude::*;

/// 2^26: one in Q5.26.
const Q: f64 = 67_108_864.0;
/// One Q5.26 step.
const LSB: f64 = 1.0 / Q;
/// One Q16 step.
const LSB16: f64 = 1.0 / 65_536.0;

/// The real value of a Q5.26 integer (the format's definition).
fn re(x: i32) -> f64 {
    f64::from(x) / Q
}

/// A real value as Q5.26 (to make test inputs; inputs are then exactly representable).
fn fx(x: f64) -> i32 {
    (x * Q).round() as i32
}

fn max_abs_diff(core: &[i32], reference: &[f64]) -> f64 {
    core.iter()
        .zip(reference)
        .map(|(&c, &r)| (re(c) - r).abs())
        .fold(0.0, f64::max)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalise(v: &mut [f64]) {
    let n = dot(v, v).sqrt();
    if n > 1e-10 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

// =============================================================================================
// f64 reference models.

/// Oja: `w ← w + η y (x − y w)`, `y = w·x`, per row, then optional renormalisation.
fn oja_ref(w: &mut [f64], n: usize, x: &[f64], eta: f64, normalize: bool) {
    for row in w.chunks_exact_mut(n) {
        let y = dot(row, x);
        for j in 0..n {
            row[j] += eta * y * (x[j] - y * row[j]);
        }
        if normalize {
            normalise(row);
        }
    }
}

/// Sanger: `y = W x` from the old weights, `w_i ← w_i + η y_i (x − Σ_{l ≤ i} y_l w_l)`.
fn sanger_ref(w: &mut [f64], n: usize, x: &[f64], eta: f64, normalize: bool) {
    let k = w.len() / n;
    let old = w.to_vec();
    let y: Vec<f64> = old.chunks_exact(n).map(|r| dot(r, x)).collect();
    for i in 0..k {
        for j in 0..n {
            let mut resid = x[j];
            for l in 0..=i {
                resid -= y[l] * old[l * n + j];
            }
            w[i * n + j] += eta * y[i] * resid;
        }
        if normalize {
            normalise(&mut w[i * n..(i + 1) * n]);
        }
    }
}

/// BCM: `y = w·x`; `w ← clip(w + η y (y − θ) x)`; `θ ← θ + (y² − θ)/τ` with the same `y`.
fn bcm_ref(
    w: &mut [f64],
    n: usize,
    x: &[f64],
    theta: &mut [f64],
    eta: f64,
    inv_tau: f64,
    clip: f64,
) {
    for (row, th) in w.chunks_exact_mut(n).zip(theta.iter_mut()) {
        let y = dot(row, x);
        for j in 0..n {
            row[j] = (row[j] + eta * y * (y - *th) * x[j]).clamp(-clip, clip);
        }
        *th += (y * y - *th) * inv_tau;
    }
}

/// Parameters of the LIF + trace STDP reference, in real units.
#[derive(Debug, Clone, Copy)]
struct LifRef {
    leak: f64,
    threshold: f64,
    v_reset: f64,
    trace_decay: f64,
    nearest: bool,
    k: usize,
    inhibit: bool,
    adapt_plus: f64,
    adapt_decay: f64,
    a_plus: f64,
    a_minus: f64,
    w_min: f64,
    w_max: f64,
    multiplicative: bool,
}

/// State of the reference layer.
#[derive(Debug, Clone)]
struct LifRefState {
    w: Vec<f64>,
    v: Vec<f64>,
    pre: Vec<f64>,
    post: Vec<f64>,
    adapt: Vec<f64>,
}

impl LifRefState {
    fn from_core(w: &[i32], v: &[i32], pre: &[i32], post: &[i32], adapt: &[i32]) -> Self {
        let f = |s: &[i32]| s.iter().map(|&x| re(x)).collect();
        Self {
            w: f(w),
            v: f(v),
            pre: f(pre),
            post: f(post),
            adapt: f(adapt),
        }
    }
}

impl LifRef {
    fn trace(&self, t: f64, x: f64) -> f64 {
        if self.nearest {
            (self.trace_decay * t).max(x)
        } else {
            self.trace_decay * t + x
        }
    }

    /// Margins `v − θ − a` after integration (before the spike decision), for tie checks.
    fn margins(&self, st: &LifRefState, n: usize, x: &[f64]) -> Vec<f64> {
        st.v.iter()
            .zip(st.w.chunks_exact(n))
            .zip(&st.adapt)
            .map(|((&v, row), &a)| self.leak * v + dot(row, x) - self.threshold - a)
            .collect()
    }

    /// One step (learning when `learn`); returns the spikes.
    fn step(&self, st: &mut LifRefState, n: usize, x: &[f64], learn: bool) -> Vec<bool> {
        let k = st.v.len();
        for j in 0..n {
            st.pre[j] = self.trace(st.pre[j], x[j]);
        }
        for i in 0..k {
            st.v[i] = self.leak * st.v[i] + dot(&st.w[i * n..(i + 1) * n], x);
        }
        let limit = if self.k == 0 { k } else { self.k.min(k) };
        let mut spikes = vec![false; k];
        for _ in 0..limit {
            // The largest margin among the neurons that have not spiked (ties: lower index).
            let mut best: Option<(usize, f64)> = None;
            for i in 0..k {
                let m = st.v[i] - self.threshold - st.adapt[i];
                if !spikes[i] && m >= 0.0 && best.is_none_or(|(_, b)| m > b) {
                    best = Some((i, m));
                }
            }
            match best {
                Some((i, _)) => spikes[i] = true,
                None => break,
            }
        }
        let fired = spikes.iter().any(|&s| s);
        for i in 0..k {
            if spikes[i] || (fired && self.inhibit) {
                st.v[i] = self.v_reset;
            }
        }
        if learn {
            let span = self.w_max - self.w_min;
            for i in 0..k {
                for j in 0..n {
                    let w = &mut st.w[i * n + j];
                    let mut ltp = if spikes[i] {
                        self.a_plus * st.pre[j]
                    } else {
                        0.0
                    };
                    let mut ltd = self.a_minus * st.post[i] * x[j];
                    if self.multiplicative {
                        ltp *= (self.w_max - *w) / span;
                        ltd *= (*w - self.w_min) / span;
                    }
                    *w = (*w + ltp - ltd).clamp(self.w_min, self.w_max);
                }
            }
        }
        for i in 0..k {
            let s = if spikes[i] { 1.0 } else { 0.0 };
            st.post[i] = self.trace(st.post[i], s);
            st.adapt[i] = self.adapt_decay * st.adapt[i] + self.adapt_plus * s;
        }
        spikes
    }
}

/// A core LIF layer and its rule built from Q5.26 integers, with the reference's real values.
#[derive(Debug, Clone)]
struct LifPair {
    params: LifParams,
    rule: TraceStdp,
    reference: LifRef,
}

#[allow(clippy::fn_params_excessive_bools)]
fn lif_pair(
    leak: i32,
    threshold: i32,
    trace_decay: i32,
    nearest: bool,
    k: u16,
    inhibit: bool,
    adapt_plus: i32,
    adapt_decay: i32,
    a_plus: i32,
    a_minus: i32,
    multiplicative: bool,
) -> LifPair {
    let pairing = if nearest {
        Pairing::Nearest
    } else {
        Pairing::AllToAll
    };
    let bounds = if multiplicative {
        Bounds::Multiplicative
    } else {
        Bounds::Additive
    };
    let v_reset = 0;
    let (w_min, w_max) = (0, fixed::ONE);
    LifPair {
        params: LifParams::new(
            leak,
            threshold,
            v_reset,
            trace_decay,
            pairing,
            k,
            inhibit,
            adapt_plus,
            adapt_decay,
        )
        .unwrap(),
        rule: TraceStdp::new(a_plus, a_minus, w_min, w_max, bounds, pairing).unwrap(),
        reference: LifRef {
            leak: re(leak),
            threshold: re(threshold),
            v_reset: re(v_reset),
            trace_decay: re(trace_decay),
            nearest,
            k: usize::from(k),
            inhibit,
            adapt_plus: re(adapt_plus),
            adapt_decay: re(adapt_decay),
            a_plus: re(a_plus),
            a_minus: re(a_minus),
            w_min: re(w_min),
            w_max: re(w_max),
            multiplicative,
        },
    }
}

// =============================================================================================
// Oja, Sanger and BCM: one step from the same state.

/// Random rows (`k × n`), unit-norm when `unit`, and an input of norm about 2, as Q5.26.
fn layer_case(seed: u64, k: usize, n: usize, unit: bool) -> (Vec<i32>, Vec<i32>) {
    let mut rng = Rng::new(seed);
    let mut w: Vec<f64> = (0..k * n).map(|_| rng.normal() * 0.5).collect();
    if unit {
        w.chunks_exact_mut(n).for_each(normalise);
    }
    let x: Vec<f64> = (0..n)
        .map(|_| rng.normal() * 2.0 / (n as f64).sqrt())
        .collect();
    (
        w.iter().map(|&v| fx(v)).collect(),
        x.iter().map(|&v| fx(v)).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// One Oja step: every weight within 3 LSB of the f64 step from the same (representable)
    /// weights, input and rate. Error budget: the output `y` is rounded once (½ LSB, times
    /// `η |x − 2yw| < 1`), the update once (½ LSB), the renormalisation's integer square root
    /// and division (≤ 1½ LSB on unit rows).
    #[test]
    fn oja_step_is_within_3_lsb_of_f64(
        seed: u64, n in 1usize..64, k in 1usize..4, eta in 1i32..(fixed::ONE / 20), normalize: bool,
    ) {
        let (mut w, x) = layer_case(seed, k, n, normalize);
        let mut wr: Vec<f64> = w.iter().map(|&v| re(v)).collect();
        let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
        oja_step(&mut w, n, &x, eta, normalize).unwrap();
        oja_ref(&mut wr, n, &xr, re(eta), normalize);
        let err = max_abs_diff(&w, &wr);
        prop_assert!(err <= 3.0 * LSB, "error {} LSB", err / LSB);
    }

    /// One Sanger step, the same budget per row (each row's residual is formed exactly from the
    /// rounded outputs of the rows above it).
    #[test]
    fn sanger_step_is_within_3_lsb_of_f64(
        seed: u64, n in 1usize..64, k in 1usize..6, eta in 1i32..(fixed::ONE / 20), normalize: bool,
    ) {
        let (mut w, x) = layer_case(seed, k, n, normalize);
        let mut wr: Vec<f64> = w.iter().map(|&v| re(v)).collect();
        let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
        let (mut resid, mut y) = (vec![0i128; n], vec![0i32; k]);
        sanger_step(&mut w, n, &x, eta, normalize, &mut resid, &mut y).unwrap();
        sanger_ref(&mut wr, n, &xr, re(eta), normalize);
        let err = max_abs_diff(&w, &wr);
        prop_assert!(err <= 3.0 * LSB, "error {} LSB", err / LSB);
    }

    /// One BCM step, clipping included: each weight within `½ + ½ η |2y − θ| |x_j|` LSB (the
    /// update rounded once, the output `y` rounded once before it) plus ½ LSB of slack, each
    /// threshold within `½ + |y|/τ` LSB (the update rounded once; `y²` off by `|y|` LSB) plus ½.
    #[test]
    fn bcm_step_tracks_f64_within_its_rounding(
        seed: u64, n in 1usize..64, k in 1usize..5, eta in 1i32..(fixed::ONE / 20),
        inv_tau in 1i32..=fixed::ONE, clip in (fixed::ONE / 4)..(12 * fixed::ONE), th in -2.0f64..4.0,
    ) {
        let (mut w, x) = layer_case(seed, k, n, false);
        let p = BcmParams::new(inv_tau, clip).unwrap();
        w.iter_mut().for_each(|v| *v = (*v).clamp(-clip, clip));
        let mut theta = vec![fx(th); k];
        let mut wr: Vec<f64> = w.iter().map(|&v| re(v)).collect();
        let mut thr: Vec<f64> = theta.iter().map(|&v| re(v)).collect();
        let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
        let mut y = vec![0; k];
        bcm_step(&mut w, n, &x, &mut theta, eta, &p, &mut y).unwrap();
        let th0 = thr.clone();
        let wr0 = wr.clone();
        bcm_ref(&mut wr, n, &xr, &mut thr, re(eta), re(inv_tau), re(clip));
        for i in 0..k {
            let yr = dot(&wr0[i * n..(i + 1) * n], &xr);
            for j in 0..n {
                let bound = (1.0 + 0.5 * re(eta) * (2.0 * yr - th0[i]).abs() * xr[j].abs()) * LSB;
                let e = (re(w[i * n + j]) - wr[i * n + j]).abs();
                prop_assert!(e <= bound, "weight error {} LSB, bound {}", e / LSB, bound / LSB);
            }
            let bound = (1.0 + yr.abs() * re(inv_tau)) * LSB;
            let e = (re(theta[i]) - thr[i]).abs();
            prop_assert!(e <= bound, "threshold error {} LSB, bound {}", e / LSB, bound / LSB);
        }
    }
}

// =============================================================================================
// Oja, Sanger and BCM: long trajectories from the same start, each on its own arithmetic.

/// Zero-mean Gaussian samples in `n` dimensions with the given leading variances along a random
/// orthonormal basis (rows of the returned basis), the rest `rest`.
fn gaussian_data(n: usize, m: usize, var: &[f64], rest: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut basis = vec![0.0; n * n];
    for i in 0..n {
        loop {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            for j in 0..i {
                let d = dot(&v, &basis[j * n..(j + 1) * n]);
                for c in 0..n {
                    v[c] -= d * basis[j * n + c];
                }
            }
            if dot(&v, &v) > 1e-6 {
                normalise(&mut v);
                basis[i * n..(i + 1) * n].copy_from_slice(&v);
                break;
            }
        }
    }
    let mut x = vec![0.0; m * n];
    for s in x.chunks_exact_mut(n) {
        for i in 0..n {
            let z = rng.normal() * var.get(i).copied().unwrap_or(rest).sqrt();
            for c in 0..n {
                s[c] += z * basis[i * n + c];
            }
        }
    }
    // Samples are made representable, so both sides see the same inputs.
    x.iter_mut().for_each(|v| *v = re(fx(*v)));
    (x, basis)
}

/// Oja (1 row) and Sanger (3 rows) on 20-D data with a 1/t rate, 20 000 steps: the core's
/// weights stay within 10⁻⁵ (671 LSB) of the independent f64 trajectory at every 1000th step,
/// and the rate schedule is the f64 `η₀ t₀ / (t₀ + t)` to ½ LSB. The dynamics contract towards
/// the eigenvectors, so the rounding (≤ 3 LSB a step) does not build up linearly; the residual
/// is a random walk across the eigenvector that the late, small rates contract only slowly
/// (measured: ≈ 300 LSB).
#[test]
fn oja_and_sanger_trajectories_track_f64() {
    let n = 20;
    let (x, _) = gaussian_data(n, 20_000, &[5.0, 3.0, 2.0], 0.3, 7);
    let sched = RateSchedule::new(fx(0.01), 0, Decay::InverseTime { t0: 100 }).unwrap();
    let xq: Vec<i32> = x.iter().map(|&v| fx(v)).collect();
    for (sanger, k) in [(false, 1usize), (true, 3)] {
        let (mut w, _) = layer_case(11, k, n, true);
        let mut wr: Vec<f64> = w.iter().map(|&v| re(v)).collect();
        let (mut resid, mut y) = (vec![0i128; n], vec![0i32; k]);
        let mut worst: f64 = 0.0;
        for t in 0..20_000usize {
            let eta_ref = re(sched.eta0()) * 100.0 / (100.0 + t as f64);
            let eta = sched.rate(t as u64);
            assert!(
                (re(eta) - eta_ref).abs() <= 0.5 * LSB + 1e-15,
                "rate at {t}"
            );
            let (xs, xsr) = (&xq[t * n..(t + 1) * n], &x[t * n..(t + 1) * n]);
            if sanger {
                sanger_step(&mut w, n, xs, eta, true, &mut resid, &mut y).unwrap();
                sanger_ref(&mut wr, n, xsr, eta_ref, true);
            } else {
                oja_step(&mut w, n, xs, eta, true).unwrap();
                oja_ref(&mut wr, n, xsr, eta_ref, true);
            }
            if t % 1000 == 999 {
                let e = max_abs_diff(&w, &wr);
                worst = worst.max(e);
                assert!(e <= 1e-5, "sanger={sanger}: step {t}: error {e:e}");
            }
        }
        println!(
            "{}: largest deviation from f64 over 20 000 steps: {:.1} LSB",
            if sanger { "sanger" } else { "oja" },
            worst / LSB
        );
    }
}

/// BCM with 4 outputs on 4 noisy prototypes, 20 000 steps (η = 0.002, τ = 50). BCM breaks
/// the symmetry between its neurons early on, and that transient amplifies any difference
/// (also between two f64 runs), so the check is twofold:
///
/// * shadowing: an f64 run restarted from the core's state every 500 steps stays within
///   2·10⁻⁶ (134 LSB) of the core over each window;
/// * the whole run: the independent f64 trajectory ends within 2·10⁻⁵ of the core, with every
///   neuron preferring the same prototype, and after the transient (the last 10 000 steps)
///   it stays within 2·10⁻⁵ at every 1000th step.
#[test]
fn bcm_trajectory_tracks_f64() {
    let (n, k) = (16, 4);
    let mut rng = Rng::new(3);
    let protos: Vec<Vec<f64>> = (0..4)
        .map(|p| (0..n).map(|j| if j / 4 == p { 1.0 } else { 0.1 }).collect())
        .collect();
    let (mut w, _) = layer_case(5, k, n, false);
    w.iter_mut().for_each(|v| *v = (*v / 4).abs());
    let p = BcmParams::new(fx(1.0 / 50.0), fx(10.0)).unwrap();
    let mut theta = vec![fx(0.1); k];
    let mut wr: Vec<f64> = w.iter().map(|&v| re(v)).collect();
    let mut thr: Vec<f64> = theta.iter().map(|&v| re(v)).collect();
    let (mut ws, mut ths) = (wr.clone(), thr.clone());
    let eta = fx(0.002);
    let mut y = vec![0; k];
    let (mut worst_window, mut worst_late): (f64, f64) = (0.0, 0.0);
    for t in 0..20_000 {
        if t % 500 == 0 {
            ws = w.iter().map(|&v| re(v)).collect();
            ths = theta.iter().map(|&v| re(v)).collect();
        }
        let proto = &protos[rng.below(4) as usize];
        let x: Vec<i32> = proto.iter().map(|&v| fx(v + 0.05 * rng.normal())).collect();
        let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
        bcm_step(&mut w, n, &x, &mut theta, eta, &p, &mut y).unwrap();
        bcm_ref(&mut wr, n, &xr, &mut thr, re(eta), re(p.inv_tau()), 10.0);
        bcm_ref(&mut ws, n, &xr, &mut ths, re(eta), re(p.inv_tau()), 10.0);
        let e = max_abs_diff(&w, &ws).max(max_abs_diff(&theta, &ths));
        worst_window = worst_window.max(e);
        assert!(
            e <= 2e-6,
            "step {t}: {} LSB from the restarted f64 run",
            e / LSB
        );
        if t >= 10_000 && t % 1000 == 999 {
            let e = max_abs_diff(&w, &wr).max(max_abs_diff(&theta, &thr));
            worst_late = worst_late.max(e);
            assert!(e <= 2e-5, "step {t}: {} LSB from the f64 run", e / LSB);
        }
    }
    // Both runs end with the same prototype preferences.
    let prefer = |w: &[f64], i: usize| {
        (0..4)
            .max_by(|&a, &b| {
                dot(&w[i * n..(i + 1) * n], &protos[a])
                    .total_cmp(&dot(&w[i * n..(i + 1) * n], &protos[b]))
            })
            .unwrap()
    };
    let wc: Vec<f64> = w.iter().map(|&v| re(v)).collect();
    for i in 0..k {
        assert_eq!(prefer(&wc, i), prefer(&wr, i), "neuron {i}");
    }
    println!(
        "bcm: largest deviation over 500-step windows {:.1} LSB, from the f64 run after the transient {:.1} LSB",
        worst_window / LSB,
        worst_late / LSB
    );
}

// =============================================================================================
// Trace STDP on LIF neurons.

fn lif_pair_strategy() -> impl Strategy<Value = LifPair> {
    (
        (fixed::ONE / 2)..=fixed::ONE,
        (fixed::ONE / 2)..(4 * fixed::ONE),
        (fixed::ONE / 2)..fixed::ONE,
        any::<bool>(),
        0u16..3,
        any::<bool>(),
        0..fixed::ONE,
        (fixed::ONE / 2)..=fixed::ONE,
        0..(fixed::ONE / 50),
        0..(fixed::ONE / 50),
        any::<bool>(),
    )
        .prop_map(|(l, th, d, near, k, inh, ap, ad, a_p, a_m, mult)| {
            lif_pair(l, th, d, near, k, inh, ap, ad, a_p, a_m, mult)
        })
}

/// Weights, potentials, pre traces, post traces, adaptation and an input of a core layer.
type CoreLif = (Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>);

/// A core state and input for `k` neurons of `n` inputs.
fn lif_state(seed: u64, k: usize, n: usize) -> CoreLif {
    let mut rng = Rng::new(seed);
    let mut u = |lo: f64, hi: f64| fx(lo + (hi - lo) * rng.next_f64());
    let w = (0..k * n).map(|_| u(0.0, 1.0)).collect();
    let v = (0..k).map(|_| u(-0.5, 2.0)).collect();
    let pre = (0..n).map(|_| u(0.0, 2.0)).collect();
    let post = (0..k).map(|_| u(0.0, 2.0)).collect();
    let adapt = (0..k).map(|_| u(0.0, 1.0)).collect();
    let x = (0..n)
        .map(|_| if u(0.0, 1.0) < fx(0.3) { fixed::ONE } else { 0 })
        .collect();
    (w, v, pre, post, adapt, x)
}

/// True when a spike decision of the reference lies within `tol` of flipping: a margin near 0
/// or, under a winner limit, two margins near each other.
fn near_tie(m: &[f64], tol: f64) -> bool {
    m.iter().any(|v| v.abs() <= tol)
        || m.iter().enumerate().any(|(i, a)| {
            m.iter()
                .skip(i + 1)
                .any(|b| *a >= -tol && *b >= -tol && (a - b).abs() <= tol)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// One LIF + trace STDP step from the same state: the same spikes (unless the reference's
    /// decision is within 4 LSB of a tie), potentials within 2 LSB (leak product and sum each
    /// rounded once), traces and adaptation within 1 LSB, weights within 2 LSB (LTP one
    /// rounding, LTD two, soft bounds one more).
    #[test]
    fn lif_stdp_step_is_within_2_lsb_of_f64(pair in lif_pair_strategy(), seed: u64, k in 1usize..5, n in 1usize..40) {
        let (mut w, mut v, mut pre, mut post, mut adapt, x) = lif_state(seed, k, n);
        let mut st = LifRefState::from_core(&w, &v, &pre, &post, &adapt);
        let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
        let margins = pair.reference.margins(&st, n, &xr);
        let mut spikes = vec![0u8; k];
        let fired = {
            let mut cs = LifState { v: &mut v, pre: &mut pre, post: &mut post, adapt: &mut adapt };
            lif::step(&pair.params, Some(&pair.rule), &mut w, n, &x, &mut cs, &mut spikes).unwrap()
        };
        let sr = pair.reference.step(&mut st, n, &xr, true);
        prop_assert_eq!(fired, spikes.iter().filter(|&&s| s != 0).count());
        if near_tie(&margins, 4.0 * LSB) {
            return Ok(());
        }
        let sc: Vec<bool> = spikes.iter().map(|&s| s != 0).collect();
        prop_assert_eq!(&sc, &sr, "spikes; margins {:?}", margins);
        prop_assert!(max_abs_diff(&v, &st.v) <= 2.0 * LSB);
        prop_assert!(max_abs_diff(&pre, &st.pre) <= LSB);
        prop_assert!(max_abs_diff(&post, &st.post) <= LSB);
        prop_assert!(max_abs_diff(&adapt, &st.adapt) <= LSB);
        let ew = max_abs_diff(&w, &st.w);
        prop_assert!(ew <= 2.0 * LSB, "weight error {} LSB", ew / LSB);
    }
}

/// 20 000 steps of a 4-neuron layer with 1-winner competition, inhibition and adaptation on
/// Poisson input with a repeating pattern, additive and soft bounds: the spike trains agree
/// with the f64 layer at every step (steps where the reference's decision is within the
/// observed potential error plus 4 LSB of a tie resynchronise it from the core and are
/// counted: at most 1 % of the steps), and weights stay within 1.1 LSB per update since the
/// last resynchronisation plus 4 LSB (each update rounds ≤ 1 LSB; the traces' rounding adds
/// at most `A ½ LSB / (1 − d)`).
#[test]
fn lif_stdp_trajectory_tracks_f64() {
    let (n, k, steps) = (60usize, 4usize, 20_000usize);
    for mult in [false, true] {
        let pair = lif_pair(
            fx(0.8),
            fx(3.0),
            fx(0.8),
            false,
            1,
            true,
            fx(0.5),
            fx(0.99),
            fx(0.01),
            fx(0.012),
            mult,
        );
        let mut rng = Rng::new(21);
        let pattern: Vec<bool> = (0..20 * n).map(|_| rng.next_f64() < 0.05).collect();
        let mut w: Vec<i32> = (0..k * n).map(|_| fx(0.3 + 0.1 * rng.next_f64())).collect();
        let (mut v, mut pre, mut post, mut adapt) =
            (vec![0; k], vec![0; n], vec![0; k], vec![0; k]);
        let mut st = LifRefState::from_core(&w, &v, &pre, &post, &adapt);
        let mut updates = vec![0u32; k * n];
        let (mut resyncs, mut spikes_seen, mut worst_w, mut worst_v) =
            (0usize, 0usize, 0.0f64, 0.0f64);
        let mut in_pattern = false;
        let mut spikes = vec![0u8; k];
        for t in 0..steps {
            if t % 20 == 0 {
                in_pattern = rng.next_f64() < 0.3;
            }
            let x: Vec<i32> = (0..n)
                .map(|j| {
                    let s = if in_pattern {
                        pattern[(t % 20) * n + j]
                    } else {
                        rng.next_f64() < 0.05
                    };
                    if s { fixed::ONE } else { 0 }
                })
                .collect();
            let xr: Vec<f64> = x.iter().map(|&v| re(v)).collect();
            let margins = pair.reference.margins(&st, n, &xr);
            let post_before = st.post.clone();
            {
                let mut cs = LifState {
                    v: &mut v,
                    pre: &mut pre,
                    post: &mut post,
                    adapt: &mut adapt,
                };
                lif::step(
                    &pair.params,
                    Some(&pair.rule),
                    &mut w,
                    n,
                    &x,
                    &mut cs,
                    &mut spikes,
                )
                .unwrap();
            }
            let sr = pair.reference.step(&mut st, n, &xr, true);
            let sc: Vec<bool> = spikes.iter().map(|&s| s != 0).collect();
            spikes_seen += sc.iter().filter(|&&s| s).count();
            let ev = max_abs_diff(&v, &st.v);
            if sc != sr {
                // Only a decision at a tie may differ.
                let tol = worst_v.max(ev) + 4.0 * LSB;
                assert!(
                    near_tie(&margins, tol),
                    "step {t}: spikes {sc:?} vs {sr:?}, margins {margins:?}"
                );
                resyncs += 1;
                st = LifRefState::from_core(&w, &v, &pre, &post, &adapt);
                updates.fill(0);
                continue;
            }
            worst_v = worst_v.max(ev);
            for i in 0..k {
                for j in 0..n {
                    if sr[i] || (post_before[i] != 0.0 && x[j] != 0) {
                        updates[i * n + j] += 1;
                    }
                }
            }
            for (idx, (&c, &r)) in w.iter().zip(&st.w).enumerate() {
                let e = (re(c) - r).abs();
                worst_w = worst_w.max(e);
                let bound = (1.1 * f64::from(updates[idx]) + 4.0) * LSB;
                assert!(
                    e <= bound,
                    "mult={mult}: step {t}: weight {idx} off by {} LSB after {} updates",
                    e / LSB,
                    updates[idx]
                );
            }
            assert!(
                max_abs_diff(&pre, &st.pre) <= 3.0 * LSB,
                "pre traces at {t}"
            );
            assert!(
                max_abs_diff(&post, &st.post) <= 3.0 * LSB,
                "post traces at {t}"
            );
        }
        assert!(
            spikes_seen > 500,
            "the layer must be active ({spikes_seen} spikes)"
        );
        assert!(resyncs * 100 <= steps, "{resyncs} resynchronisations");
        println!(
            "stdp (multiplicative={mult}): {spikes_seen} spikes, {resyncs} ties, largest weight error {:.1} LSB, potential error {:.1} LSB",
            worst_w / LSB,
            worst_v / LSB
        );
    }
}

// =============================================================================================
// Hebbian and Storkey storage.

/// Weights and scale from the core's storage path (plan, pack, rows).
fn store(pats: &[i8], n: usize, p: usize, opts: StoreOptions) -> (Vec<i32>, hebbian::Scale) {
    let plan = Hebbian::plan(pats, n, p, opts).unwrap();
    let mut bits = vec![0u64; n * plan.words()];
    let mut sums = vec![0i64; n];
    plan.pack(pats, &mut bits, &mut sums).unwrap();
    let mut w = vec![0i32; n * n];
    plan.rows(&bits, &sums, 0, &mut w).unwrap();
    (w, plan.scale())
}

/// `W = ±(1/P) Σ_p (ξ_p − ρ_p)(ξ_p − ρ_p)ᵀ` in f64.
fn hebb_ref_f64(pats: &[i8], n: usize, p: usize, o: StoreOptions) -> Vec<f64> {
    let total: f64 = pats[..n * p].iter().map(|&v| f64::from(v)).sum();
    let mut w = vec![0.0; n * n];
    for xi in pats.chunks_exact(n).take(p) {
        let rho = match o.mean {
            Mean::None => 0.0,
            Mean::Global => total / (n * p) as f64,
            Mean::PerPattern => xi.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
        };
        for i in 0..n {
            for j in 0..n {
                w[i * n + j] += (f64::from(xi[i]) - rho) * (f64::from(xi[j]) - rho);
            }
        }
    }
    for (idx, v) in w.iter_mut().enumerate() {
        if o.normalize {
            *v /= p as f64;
        }
        if o.anti {
            *v = -*v;
        }
        if o.zero_diagonal && idx / n == idx % n {
            *v = 0.0;
        }
    }
    w
}

/// The same sum in exact integers, scaled by `D` (1, `P N` or `N`) so that `D (ξ − ρ)` is an
/// integer vector: `V = Σ_p (Dξ_p − Dρ_p)(Dξ_p − Dρ_p)ᵀ`; returns `(V, D)`.
fn hebb_ref_exact(pats: &[i8], n: usize, p: usize, mean: Mean) -> (Vec<i128>, i128) {
    let total: i128 = pats[..n * p].iter().map(|&v| i128::from(v)).sum();
    let d = match mean {
        Mean::None => 1,
        Mean::Global => (n * p) as i128,
        Mean::PerPattern => n as i128,
    };
    let mut v = vec![0i128; n * n];
    for xi in pats.chunks_exact(n).take(p) {
        let drho = match mean {
            Mean::None => 0,
            Mean::Global => total,
            Mean::PerPattern => xi.iter().map(|&v| i128::from(v)).sum(),
        };
        let t: Vec<i128> = xi.iter().map(|&x| d * i128::from(x) - drho).collect();
        for i in 0..n {
            for j in 0..n {
                v[i * n + j] += t[i] * t[j];
            }
        }
    }
    (v, d)
}

fn all_options() -> Vec<StoreOptions> {
    let mut v = Vec::new();
    for mean in [Mean::None, Mean::Global, Mean::PerPattern] {
        for zero_diagonal in [false, true] {
            for normalize in [false, true] {
                for anti in [false, true] {
                    v.push(StoreOptions {
                        mean,
                        zero_diagonal,
                        normalize,
                        anti,
                    });
                }
            }
        }
    }
    v
}

/// Checks a stored matrix against both references: the integer is `V` rounded (half away from
/// zero) after the documented right shift, its scale is `2^shift / (D² · P?)`, the real weights
/// are within half a unit of the f64 sum (exact when nothing is shifted), every recall field
/// is an exact i32 sum and the matrix is symmetric.
fn check_storage(pats: &[i8], n: usize, p: usize, o: StoreOptions) -> u32 {
    let (w, scale) = store(pats, n, p, o);
    let (v, d) = hebb_ref_exact(pats, n, p, o.mean);
    let wf = hebb_ref_f64(pats, n, p, o);
    let den = (d * d) as u64 * if o.normalize { p as u64 } else { 1 };
    assert_eq!(scale.den, den, "{o:?}");
    let unit = 2f64.powi(scale.shift as i32) / den as f64;
    assert!((scale.unit() - unit).abs() <= 1e-15 * unit);
    let half = if scale.shift == 0 {
        0
    } else {
        1i128 << (scale.shift - 1)
    };
    for i in 0..n {
        for j in 0..n {
            let got = w[i * n + j];
            assert_eq!(got, w[j * n + i], "symmetry at {i},{j}");
            let vij = v[i * n + j];
            let mag = (vij.abs() + half) >> scale.shift;
            let mut want = if vij < 0 { -mag } else { mag };
            if o.anti {
                want = -want;
            }
            if o.zero_diagonal && i == j {
                want = 0;
            }
            assert_eq!(i128::from(got), want, "{o:?} n={n} p={p} at {i},{j}");
            let err = (f64::from(got) * unit - wf[i * n + j]).abs();
            let tol = if scale.shift == 0 { 0.0 } else { 0.5 * unit };
            assert!(
                err <= tol + 1e-12 * wf[i * n + j].abs().max(1.0),
                "{o:?} at {i},{j}: {err:e}"
            );
        }
    }
    let max = w
        .iter()
        .map(|v| i64::from(v.unsigned_abs()))
        .max()
        .unwrap_or(0);
    assert!(
        n as i64 * max <= i64::from(i32::MAX),
        "recall fields fit i32"
    );
    assert!(max <= i64::from(weight_bound(n)));
    scale.shift
}

fn patterns(seed: u64, n: usize, p: usize, p_plus: f64) -> Vec<i8> {
    let mut rng = Rng::new(seed);
    (0..n * p)
        .map(|_| if rng.next_f64() < p_plus { 1 } else { -1 })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every mean mode, diagonal and normalisation choice, Hebbian and anti-Hebbian, on random
    /// (also strongly biased) patterns: exactly the outer-product sum.
    #[test]
    fn hebbian_storage_is_the_outer_product_sum(seed: u64, n in 1usize..40, p in 1usize..80, p_plus in 0.0f64..1.0) {
        let pats = patterns(seed, n, p, p_plus);
        for o in all_options() {
            check_storage(&pats, n, p, o);
        }
    }
}

/// A size where the integer sum needs a right shift (Global: `D = P N = 9000`): the stored
/// integers are the exact sum rounded once, within half a unit of the f64 weights.
#[test]
fn hebbian_storage_rounds_once_when_shifted() {
    let (n, p) = (300, 30);
    let pats = patterns(9, n, p, 0.6);
    let mut shifted = 0;
    for o in all_options() {
        if check_storage(&pats, n, p, o) > 0 {
            shifted += 1;
        }
    }
    assert!(shifted >= 8, "the Global and PerPattern cases need a shift");
}

/// N = 3, P = 2, ξ₁ = (1, 1, −1), ξ₂ = (1, 1, 1), by hand.
///
/// * No mean: C = ξ₁ξ₁ᵀ + ξ₂ξ₂ᵀ = [[2, 2, 0], [2, 2, 0], [0, 0, 2]]; W = C / 2.
/// * Global mean ρ = 4/6: D = 6, Dξ − m: (2, 2, −10) and (2, 2, 2); V = [[8, 8, −16],
///   [8, 8, −16], [−16, −16, 104]], W = V / 72 (W₀₁ = 1/9, W₀₂ = −2/9, W₂₂ = 13/9).
/// * Per-pattern means 1/3 and 1: D = 3, (2, 2, −4) and (0, 0, 0); V = [[4, 4, −8], [4, 4, −8],
///   [−8, −8, 16]], W = V / 18.
#[test]
fn hebbian_storage_small_case_by_hand() {
    let pats: [i8; 6] = [1, 1, -1, 1, 1, 1];
    let cases: [(Mean, [i32; 9], u64); 3] = [
        (Mean::None, [2, 2, 0, 2, 2, 0, 0, 0, 2], 2),
        (Mean::Global, [8, 8, -16, 8, 8, -16, -16, -16, 104], 72),
        (Mean::PerPattern, [4, 4, -8, 4, 4, -8, -8, -8, 16], 18),
    ];
    for (mean, full, den) in cases {
        for (zero_diagonal, anti) in [(false, false), (true, false), (true, true)] {
            let o = StoreOptions {
                mean,
                zero_diagonal,
                normalize: true,
                anti,
            };
            let (w, scale) = store(&pats, 3, 2, o);
            let mut want = full;
            if zero_diagonal {
                for i in 0..3 {
                    want[i * 4] = 0;
                }
            }
            if anti {
                want.iter_mut().for_each(|v| *v = -*v);
            }
            assert_eq!(w, want, "{o:?}");
            assert_eq!(scale, hebbian::Scale { den, shift: 0 }, "{o:?}");
        }
        // Without normalisation the scale drops the 1/P.
        let o = StoreOptions {
            mean,
            zero_diagonal: false,
            normalize: false,
            anti: false,
        };
        assert_eq!(store(&pats, 3, 2, o).1.den, den / 2);
    }
    // Real values: W₀₁ = 1/9 and W₂₂ = 13/9 under the global mean.
    let (w, s) = store(
        &pats,
        3,
        2,
        StoreOptions {
            zero_diagonal: false,
            ..StoreOptions::default()
        },
    );
    assert!((f64::from(w[1]) * s.unit() - 1.0 / 9.0).abs() < 1e-15);
    assert!((f64::from(w[8]) * s.unit() - 13.0 / 9.0).abs() < 1e-15);
}

/// Storkey in f64: `ΔW_ij = (1/N)(ξ_i ξ_j − ξ_i h_ji − h_ij ξ_j)`, `h_ij = Σ_{k≠i,j} W_ik ξ_k`,
/// diagonal kept at zero.
fn storkey_ref(w: &mut [f64], n: usize, xi: &[i8]) {
    let x: Vec<f64> = xi.iter().map(|&v| f64::from(v)).collect();
    let old = w.to_vec();
    let h = |i: usize, j: usize| -> f64 {
        (0..n)
            .filter(|&k| k != i && k != j)
            .map(|k| old[i * n + k] * x[k])
            .sum()
    };
    for i in 0..n {
        for j in 0..n {
            if i != j {
                w[i * n + j] += (x[i] * x[j] - x[i] * h(j, i) - h(i, j) * x[j]) / n as f64;
            }
        }
    }
}

/// Storkey storage of 10 patterns (unbiased and biased) into 48 neurons at the core's own
/// fraction bits: symmetric, zero diagonal, and within 2 LSB per stored pattern of the f64
/// rule (each update rounds once, ½ LSB, and the fields carry the earlier errors, averaged
/// over `N`).
#[test]
fn storkey_tracks_f64() {
    for (n, p_plus) in [(48usize, 0.5), (48, 0.7), (17, 0.5)] {
        let p = 10;
        let pats = patterns(4, n, p, p_plus);
        let frac = hebbian::storkey_frac(n);
        let lsb = 2f64.powi(-(frac as i32));
        let (mut w, mut h) = (vec![0i32; n * n], vec![0i64; n]);
        let mut wr = vec![0.0; n * n];
        for (k, xi) in pats.chunks_exact(n).enumerate() {
            storkey_add(&mut w, n, xi, frac, &mut h).unwrap();
            storkey_ref(&mut wr, n, xi);
            let err = w
                .iter()
                .zip(&wr)
                .map(|(&a, &b)| (f64::from(a) * lsb - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err <= 2.0 * (k + 1) as f64 * lsb,
                "n={n}: after {} patterns: {} LSB",
                k + 1,
                err / lsb
            );
            for i in 0..n {
                assert_eq!(w[i * n + i], 0);
                for j in 0..n {
                    assert_eq!(w[i * n + j], w[j * n + i]);
                }
            }
        }
    }
}

/// Storkey by hand, N = 3 at 10 fraction bits (1.0 = 1024): ξ₁ = (1, 1, −1) into W = 0 gives
/// round(1024/3) = 341 times ξ₁ξ₁ᵀ off the diagonal; then ξ₂ = (1, −1, 1): W₀₁ = 1/3 − 1/3 = 0,
/// W₀₂ = −1/3 + 1/3 = 0, W₁₂ = −1/3 − 5/9 = −8/9 (−910 after rounding −1706/3 to −569).
#[test]
fn storkey_small_case_by_hand() {
    let mut w = vec![0i32; 9];
    let mut h = vec![0i64; 3];
    storkey_add(&mut w, 3, &[1, 1, -1], 10, &mut h).unwrap();
    assert_eq!(w, [0, 341, -341, 341, 0, -341, -341, -341, 0]);
    storkey_add(&mut w, 3, &[1, -1, 1], 10, &mut h).unwrap();
    assert_eq!(w, [0, 0, 0, 0, 0, -910, 0, -910, 0]);
}

// =============================================================================================
// Hopfield dynamics.

/// A random symmetric, zero-diagonal integer matrix.
fn sym_weights(seed: u64, n: usize, amp: i32) -> Vec<i32> {
    let mut rng = Rng::new(seed);
    let mut w = vec![0i32; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let v = rng.below(2 * amp as u64 + 1) as i32 - amp;
            w[i * n + j] = v;
            w[j * n + i] = v;
        }
    }
    w
}

fn pm_state(seed: u64, n: usize) -> Vec<i32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| if rng.next_u64() >> 63 == 1 { 1 } else { -1 })
        .collect()
}

/// `2E = −sᵀWs + 2θ Σs`, exactly.
fn energy2(w: &[i32], s: &[i32], theta: i64) -> i128 {
    let n = s.len();
    let mut e = 0i128;
    for i in 0..n {
        for j in 0..n {
            e -= i128::from(s[i]) * i128::from(w[i * n + j]) * i128::from(s[j]);
        }
    }
    e + 2 * i128::from(theta) * s.iter().map(|&v| i128::from(v)).sum::<i128>()
}

/// The sign rule written out: +1 above the threshold, −1 below, the tie rule at it.
fn sign_of(h: i64, theta: i64, old: i32, tie: Tie) -> i32 {
    if h > theta {
        1
    } else if h < theta {
        -1
    } else {
        match tie {
            Tie::Keep => old,
            Tie::Plus => 1,
            Tie::Zero => 0,
        }
    }
}

fn field(w: &[i32], s: &[i32], i: usize) -> i64 {
    let n = s.len();
    (0..n)
        .map(|j| i64::from(w[i * n + j]) * i64::from(s[j]))
        .sum()
}

fn sync_ref(w: &[i32], s: &[i32], theta: i64, tie: Tie) -> Vec<i32> {
    (0..s.len())
        .map(|i| sign_of(field(w, s, i), theta, s[i], tie))
        .collect()
}

fn tie_strategy() -> impl Strategy<Value = Tie> {
    prop_oneof![Just(Tie::Keep), Just(Tie::Plus)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Asynchronous sign updates on symmetric zero-diagonal weights (small integers, so exact
    /// ties at the threshold happen): the energy, computed here, never rises from sweep to
    /// sweep; each sweep reports the number of neurons it changed; recall ends at a state that
    /// is a fixed point of the sign rule, checked neuron by neuron.
    #[test]
    fn async_sign_updates_never_raise_the_energy(
        seed: u64, n in 1usize..40, amp in 1i32..4, theta in -3i64..4, tie in tie_strategy(),
    ) {
        let w = sym_weights(seed, n, amp);
        let d = Dynamics::new(n, Update::Asynchronous, Activation::Sign, tie, theta, 1).unwrap();
        let mut s = pm_state(seed ^ 1, n);
        let mut order = vec![0u32; n];
        let mut rng = Rng::new(seed ^ 2);
        let mut e = energy2(&w, &s, theta);
        prop_assert_eq!(d.energy2(&w, &s).unwrap(), e);
        let mut settled = false;
        for _ in 0..200 {
            let before = s.clone();
            let changed = d.async_sweep(&w, &mut s, &mut order, &mut rng).unwrap();
            prop_assert_eq!(changed, s.iter().zip(&before).filter(|(a, b)| a != b).count());
            let e2 = energy2(&w, &s, theta);
            prop_assert!(e2 <= e, "energy rose from {} to {}", e, e2);
            e = e2;
            if changed == 0 {
                settled = true;
                break;
            }
        }
        prop_assert!(settled, "asynchronous dynamics settle");
        prop_assert_eq!(sync_ref(&w, &s, theta, tie), s.clone(), "a fixed point");
        // Recall through the core's loop ends at a fixed point too.
        let mut s2 = pm_state(seed ^ 1, n);
        let (mut a, mut b) = (vec![0; n], vec![0; n]);
        let out = d.recall(&w, &mut s2, &mut a, &mut b, &mut order, &mut rng, 500, |_, _| {}).unwrap();
        prop_assert!(out.converged && !out.cycle);
        prop_assert_eq!(sync_ref(&w, &s2, theta, tie), s2);
    }

    /// Synchronous recall, simulated here step by step: every sweep's state matches, and the
    /// recall stops exactly when the simulated state is a fixed point (`converged`) or returns
    /// to the state two sweeps before (`cycle`); with symmetric weights one of the two is
    /// reached (period ≤ 2).
    #[test]
    fn sync_recall_reports_fixed_points_and_2_cycles(
        seed: u64, n in 1usize..24, amp in 1i32..6, theta in -3i64..4,
        tie in prop_oneof![Just(Tie::Keep), Just(Tie::Plus), Just(Tie::Zero)],
    ) {
        let w = sym_weights(seed, n, amp);
        let d = Dynamics::new(n, Update::Synchronous, Activation::Sign, tie, theta, 1).unwrap();
        let start = pm_state(seed ^ 3, n);
        let mut s = start.clone();
        let (mut a, mut b, mut order) = (vec![0; n], vec![0; n], vec![0u32; n]);
        let mut rng = Rng::new(0);
        let mut seen: Vec<Vec<i32>> = vec![start.clone()];
        let out = d
            .recall(&w, &mut s, &mut a, &mut b, &mut order, &mut rng, 1000, |_, x| seen.push(x.to_vec()))
            .unwrap();
        // The simulation.
        let mut traj = vec![start];
        let want = loop {
            let t = traj.len() - 1;
            let next = sync_ref(&w, &traj[t], theta, tie);
            traj.push(next);
            let t1 = t + 1;
            if traj[t1] == traj[t] {
                break RecallOutcome { sweeps: t1 as u32, converged: true, cycle: false };
            }
            if t1 >= 2 && traj[t1] == traj[t1 - 2] {
                break RecallOutcome { sweeps: t1 as u32, converged: false, cycle: true };
            }
            prop_assert!(t1 < 1000, "the simulation settles");
        };
        prop_assert_eq!(out, want);
        prop_assert_eq!(&seen, &traj);
        prop_assert_eq!(&s, traj.last().unwrap());
    }

    /// Continuous states: every new state is the f64 tanh / logistic of the real argument
    /// `(h − θ) / (div · 2^16)` within 1 Q16 LSB when `div = 1`, and within 2 LSB otherwise (the
    /// argument is then taken to Q16 by truncating `(h − θ) / div`, an error below 1 LSB of the
    /// argument; both slopes are ≤ 1).
    #[test]
    fn continuous_states_match_f64(
        seed: u64, n in 1usize..30, amp in 1i32..200, div in 1i64..6, theta in -200_000i64..200_000,
        tanh: bool,
    ) {
        let w = sym_weights(seed, n, amp);
        let act = if tanh { Activation::Tanh } else { Activation::Sigmoid };
        let d = Dynamics::new(n, Update::Synchronous, act, Tie::Keep, theta, div).unwrap();
        let mut rng = Rng::new(seed ^ 5);
        let s: Vec<i32> = (0..n).map(|_| rng.below(2 * 65_536 + 1) as i32 - 65_536).collect();
        d.check_state(&s).unwrap();
        let mut out = vec![0; n];
        d.sync_step(&w, &s, &mut out).unwrap();
        let tol = if div == 1 { LSB16 } else { 2.0 * LSB16 };
        for i in 0..n {
            let arg = (field(&w, &s, i) - theta) as f64 / (div as f64 * 65_536.0);
            let want = if tanh { arg.tanh() } else { 1.0 / (1.0 + (-arg).exp()) };
            let got = f64::from(out[i]) * LSB16;
            prop_assert!((got - want).abs() <= tol, "{} at {}: {} vs {}", if tanh { "tanh" } else { "sigmoid" }, arg, got, want);
        }
    }

    /// The Q16 activations themselves over the whole argument range (±2^40): within 1 LSB of
    /// f64, saturating at ±1 (tanh) and 0 / 1 (sigmoid), odd / point-symmetric.
    #[test]
    fn q16_activations_match_f64(x in -(1i64 << 40)..(1i64 << 40)) {
        let xf = x as f64 * LSB16;
        let t = f64::from(activation::tanh_q16(x)) * LSB16;
        let s = f64::from(activation::sigmoid_q16(x)) * LSB16;
        prop_assert!((t - xf.tanh()).abs() <= LSB16);
        prop_assert!((s - 1.0 / (1.0 + (-xf).exp())).abs() <= LSB16);
        prop_assert_eq!(activation::tanh_q16(-x), -activation::tanh_q16(x));
        prop_assert_eq!(activation::sigmoid_q16(-x), activation::ONE_Q16 - activation::sigmoid_q16(x));
    }
}

/// The zero-field rules: with W = 0 (every field 0, threshold 0) a synchronous step keeps
/// the state (Keep), sets every neuron to +1 (Plus) or to 0 (Zero, as numpy's sign); a field
/// exactly at a non-zero threshold follows the same rule, one LSB above or below does not.
#[test]
fn sign_of_zero_follows_the_tie_rule() {
    let n = 4;
    let w = vec![0i32; n * n];
    let s = vec![1, -1, -1, 1];
    for (tie, want) in [
        (Tie::Keep, vec![1, -1, -1, 1]),
        (Tie::Plus, vec![1, 1, 1, 1]),
        (Tie::Zero, vec![0, 0, 0, 0]),
    ] {
        let d = Dynamics::new(n, Update::Synchronous, Activation::Sign, tie, 0, 1).unwrap();
        let mut out = vec![9; n];
        let changed = d.sync_step(&w, &s, &mut out).unwrap();
        assert_eq!(out, want, "{tie:?}");
        assert_eq!(changed, want.iter().zip(&s).filter(|(a, b)| a != b).count());
        // At a threshold of 5: a field of 5 ties, 6 is above, 4 below.
        let d = Dynamics::new(n, Update::Synchronous, Activation::Sign, tie, 5, 1).unwrap();
        for (old, tied) in [(1, want[0]), (-1, want[1])] {
            assert_eq!(d.activate(5, old), tied, "{tie:?}");
            assert_eq!(d.activate(6, old), 1);
            assert_eq!(d.activate(4, old), -1);
        }
    }
    // A zero state is only valid under Tie::Zero.
    let keep = Dynamics::new(2, Update::Synchronous, Activation::Sign, Tie::Keep, 0, 1).unwrap();
    let zero = Dynamics::new(2, Update::Synchronous, Activation::Sign, Tie::Zero, 0, 1).unwrap();
    assert_eq!(
        keep.check_state(&[0, 1]),
        Err(Error::InvalidParam(
            "state value outside the activation's range"
        ))
    );
    assert_eq!(zero.check_state(&[0, 1]), Ok(()));
}

// =============================================================================================
// Oja and Sanger find the principal components.

/// The eigenvectors of the data's second-moment matrix, by decreasing eigenvalue, from
/// `nalgebra`'s symmetric eigen decomposition.
fn eigen(x: &[f64], d: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let m = x.len() / d;
    let mut c = nalgebra::DMatrix::<f64>::zeros(d, d);
    for s in x.chunks_exact(d) {
        let v = nalgebra::DVector::from_column_slice(s);
        c += &v * v.transpose();
    }
    c /= m as f64;
    let e = nalgebra::SymmetricEigen::new(c);
    let mut idx: Vec<usize> = (0..d).collect();
    idx.sort_by(|&a, &b| e.eigenvalues[b].total_cmp(&e.eigenvalues[a]));
    let vecs = idx
        .iter()
        .map(|&i| e.eigenvectors.column(i).iter().copied().collect())
        .collect();
    (vecs, idx.iter().map(|&i| e.eigenvalues[i]).collect())
}

/// Trains a preset through the trainer API (no run folder) and returns the trainer, its data
/// and the final summary.
fn train_preset(cfg: RulesConfig) -> (LocalRules, Task, serde_json::Value) {
    let task = Task::build(&cfg.task, cfg.seed).unwrap();
    let mut t = LocalRules::new(cfg, &task).unwrap();
    let fin = t.train(&task).unwrap();
    (t, task, fin.summary)
}

fn linear(t: &LocalRules) -> (usize, usize, Vec<Vec<f64>>, Vec<f64>) {
    let Model::Linear(l) = t.model() else {
        panic!("a linear layer")
    };
    let rows =
        l.w.chunks_exact(l.n)
            .map(|r| r.iter().map(|&v| re(v)).collect())
            .collect();
    (l.n, l.k, rows, l.theta.iter().map(|&v| re(v)).collect())
}

/// The `oja-gaussian` preset (50-D, variances 9.25 / 4.25 / 2.25 / 47 × 0.25, 20 000 samples,
/// η = 0.01 · 100 / (100 + t), one pass): a unit-norm row with |cos| > 0.999 to the top
/// eigenvector of the samples' second moment.
#[test]
fn oja_gaussian_preset_finds_the_top_eigenvector() {
    let (t, task, summary) = train_preset(RulesConfig::preset("oja-gaussian").unwrap());
    let Task::Vectors { xf, dim, .. } = &task else {
        panic!("vectors")
    };
    let (vecs, vals) = eigen(xf, *dim);
    assert!(
        vals[0] > 8.0 && vals[2] > 1.8 && vals[3] < 0.5,
        "{:?}",
        &vals[..4]
    );
    let (_, k, rows, _) = linear(&t);
    assert_eq!(k, 1);
    let norm = dot(&rows[0], &rows[0]).sqrt();
    let cos = dot(&rows[0], &vecs[0]).abs() / norm;
    println!(
        "oja-gaussian: |cos| = {cos:.6}, norm = {norm:.9}; reported {}",
        summary["metrics"]["cos"]
    );
    assert!((norm - 1.0).abs() < 1e-6, "norm {norm}");
    assert!(cos > 0.999, "cos {cos}");
    let reported = summary["metrics"]["cos"][0].as_f64().unwrap();
    assert!(reported > 0.999, "the run reports {reported}");
}

/// The `sanger-gaussian` preset (same data, 3 outputs, 5 passes): rows 1–3 are eigenvectors
/// 1–3 in order (each |cos| > 0.99), unit norm, mutually orthogonal (max |cos| < 0.01).
#[test]
fn sanger_gaussian_preset_finds_the_top_3_in_order() {
    let (t, task, summary) = train_preset(RulesConfig::preset("sanger-gaussian").unwrap());
    let Task::Vectors { xf, dim, .. } = &task else {
        panic!("vectors")
    };
    let (vecs, _) = eigen(xf, *dim);
    let (_, k, rows, _) = linear(&t);
    assert_eq!(k, 3);
    let mut cross: f64 = 0.0;
    for i in 0..3 {
        let ni = dot(&rows[i], &rows[i]).sqrt();
        assert!((ni - 1.0).abs() < 1e-6, "row {i} norm {ni}");
        let cos = dot(&rows[i], &vecs[i]).abs() / ni;
        println!("sanger-gaussian row {i}: |cos| with eigenvector {i} = {cos:.6}");
        assert!(cos > 0.99, "row {i}: cos {cos}");
        for j in 0..i {
            cross =
                cross.max(dot(&rows[i], &rows[j]).abs() / (ni * dot(&rows[j], &rows[j]).sqrt()));
        }
    }
    println!(
        "sanger-gaussian: max |cos| between rows {cross:.2e}; reported {}",
        summary["metrics"]
    );
    assert!(cross < 0.01, "orthogonality {cross}");
}

// =============================================================================================
// Hopfield capacity.

/// CANNs 1.5.0, synchronous sign (sign(0) = 0), 20 iterations, one cue per pattern: (N, α,
/// mean final overlap at 10 % / 25 % flips, perfect recall at 10 % / 25 %), from
/// `shared/reference/canns.md` §4.1.
const CANNS: [(usize, f64, [f64; 2], [f64; 2]); 12] = [
    (100, 0.05, [1.000, 1.000], [1.00, 1.00]),
    (100, 0.10, [0.990, 0.902], [0.90, 0.70]),
    (100, 0.14, [0.979, 0.833], [0.71, 0.50]),
    (100, 0.20, [0.624, 0.508], [0.10, 0.05]),
    (500, 0.05, [1.000, 1.000], [1.00, 1.00]),
    (500, 0.10, [0.997, 0.994], [0.76, 0.76]),
    (500, 0.14, [0.951, 0.775], [0.16, 0.07]),
    (500, 0.20, [0.542, 0.424], [0.00, 0.00]),
    (1000, 0.05, [1.000, 1.000], [1.00, 1.00]),
    (1000, 0.10, [0.997, 0.993], [0.42, 0.41]),
    (1000, 0.14, [0.961, 0.736], [0.05, 0.02]),
    (1000, 0.20, [0.468, 0.375], [0.00, 0.00]),
];

/// What recalling many cues of one condition gave.
#[derive(Debug, Clone, Default)]
struct Cell {
    overlaps: Vec<f64>,
    perfect: usize,
    fixed: usize,
    cycles: usize,
}

impl Cell {
    fn n(&self) -> f64 {
        self.overlaps.len() as f64
    }
    fn mean(&self) -> f64 {
        self.overlaps.iter().sum::<f64>() / self.n()
    }
    fn sd(&self) -> f64 {
        let m = self.mean();
        (self.overlaps.iter().map(|o| (o - m) * (o - m)).sum::<f64>() / (self.n() - 1.0).max(1.0))
            .sqrt()
    }
    fn perfect(&self) -> f64 {
        self.perfect as f64 / self.n()
    }
}

/// Stores `sets` independent sets of `p` random patterns in `n` neurons (Hebbian, global mean,
/// zero diagonal, 1/P: CANNs' defaults) and recalls `cues` cues with exactly ⌊f n⌋ flips per
/// set and flip level, synchronously with sign(0) = 0 and at most 20 sweeps. A 2-cycle is
/// read at sweep 20 (either of its two states, by parity), as CANNs' fixed 20 iterations.
fn capacity_cell(n: usize, p: usize, sets: usize, cues: usize, seed: u64) -> [Cell; 2] {
    let per_set: Vec<[Cell; 2]> = (0..sets)
        .into_par_iter()
        .map(|set| {
            let s0 = seed ^ ((n as u64) << 32) ^ ((p as u64) << 16) ^ set as u64;
            let pats = patterns(s0, n, p, 0.5);
            let (w, _) = store(&pats, n, p, StoreOptions::default());
            let d =
                Dynamics::new(n, Update::Synchronous, Activation::Sign, Tie::Zero, 0, 1).unwrap();
            let mut rng = Rng::new(s0 ^ 0xC0E5);
            let mut out: [Cell; 2] = Default::default();
            for (cell, f) in out.iter_mut().zip([0.10, 0.25]) {
                let flips = (f * n as f64).floor() as usize;
                for c in 0..cues {
                    let target = &pats[(c % p) * n..(c % p + 1) * n];
                    let mut s: Vec<i32> = target.iter().map(|&v| i32::from(v)).collect();
                    let mut idx: Vec<usize> = (0..n).collect();
                    rng.shuffle(&mut idx);
                    for &i in &idx[..flips] {
                        s[i] = -s[i];
                    }
                    let (mut a, mut b, mut order) = (vec![0; n], vec![0; n], vec![0u32; n]);
                    let mut r2 = Rng::new(0);
                    let o = d
                        .recall(
                            &w,
                            &mut s,
                            &mut a,
                            &mut b,
                            &mut order,
                            &mut r2,
                            20,
                            |_, _| {},
                        )
                        .unwrap();
                    // In a 2-cycle `a` holds the other state; sweep 20 has the parity of `s`'s
                    // sweep when the difference is even.
                    let fin = if o.cycle && (20 - o.sweeps) % 2 == 1 {
                        &a
                    } else {
                        &s
                    };
                    let ov = fin
                        .iter()
                        .zip(target)
                        .map(|(&x, &t)| f64::from(x * i32::from(t)))
                        .sum::<f64>()
                        / n as f64;
                    cell.overlaps.push(ov);
                    cell.perfect += usize::from(ov == 1.0);
                    cell.fixed += usize::from(o.converged);
                    cell.cycles += usize::from(o.cycle);
                }
            }
            out
        })
        .collect();
    let mut total: [Cell; 2] = Default::default();
    for c in per_set {
        for (t, x) in total.iter_mut().zip(c) {
            t.overlaps.extend(x.overlaps);
            t.perfect += x.perfect;
            t.fixed += x.fixed;
            t.cycles += x.cycles;
        }
    }
    total
}

/// Capacity of Hebbian storage on random patterns, N = 100 / 500 / 1000 at loads 0.05 – 0.20
/// with 10 % and 25 % of the bits flipped: near-perfect recall at α = 0.05 (mean overlap
/// ≥ 0.99, ≥ 90 % perfect), degraded at α = 0.20 (mean overlap ≤ 0.9), below the theoretical
/// capacity 0.138; and, where CANNs measured at least 10 cues, our mean overlap and perfect
/// fraction are within 4 standard errors (plus 0.02 / 0.05) of its numbers. Prints the table.
#[test]
fn hopfield_capacity_matches_theory_and_canns() {
    let mut table = String::from(
        "| N | α | P | cues | mean overlap 10 % / 25 % | perfect 10 % / 25 % | fixed point 10 % / 25 % | 2-cycle 10 % / 25 % | CANNs overlap | CANNs perfect |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut failures = Vec::new();
    for &(n, alpha, c_ov, c_pf) in &CANNS {
        let p = (alpha * n as f64).round() as usize;
        // Enough cues for a useful mean, fewer at N = 1000 where one recall costs most.
        let (sets, cues) = match n {
            100 => (40, 2 * p),
            500 => (8, p),
            _ => (2, p),
        };
        let cells = capacity_cell(n, p, sets, cues, 0xCA9A);
        let fr = |c: &Cell, x: usize| x as f64 / c.n();
        table.push_str(&format!(
            "| {n} | {alpha:.2} | {p} | {} | {:.3} / {:.3} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} / {:.3} | {:.2} / {:.2} |\n",
            cells[0].overlaps.len(),
            cells[0].mean(),
            cells[1].mean(),
            cells[0].perfect(),
            cells[1].perfect(),
            fr(&cells[0], cells[0].fixed),
            fr(&cells[1], cells[1].fixed),
            fr(&cells[0], cells[0].cycles),
            fr(&cells[1], cells[1].cycles),
            c_ov[0],
            c_ov[1],
            c_pf[0],
            c_pf[1],
        ));
        for (k, c) in cells.iter().enumerate() {
            let flip = ["10 %", "25 %"][k];
            if alpha <= 0.05 && (c.mean() < 0.99 || c.perfect() < 0.9) {
                failures.push(format!(
                    "N={n} α={alpha} {flip}: not near-perfect ({:.3}, {:.2})",
                    c.mean(),
                    c.perfect()
                ));
            }
            if alpha >= 0.2 && c.mean() > 0.9 {
                failures.push(format!(
                    "N={n} α={alpha} {flip}: not degraded ({:.3})",
                    c.mean()
                ));
            }
            let n_c = p as f64;
            if n_c >= 10.0 {
                let se = c.sd() * (1.0 / c.n() + 1.0 / n_c).sqrt();
                if (c.mean() - c_ov[k]).abs() > 4.0 * se + 0.02 {
                    failures.push(format!(
                        "N={n} α={alpha} {flip}: mean overlap {:.3} vs CANNs {:.3} (se {se:.3})",
                        c.mean(),
                        c_ov[k]
                    ));
                }
                let pp = (c.perfect() + c_pf[k]) / 2.0;
                let se = (pp * (1.0 - pp) * (1.0 / c.n() + 1.0 / n_c)).sqrt();
                if (c.perfect() - c_pf[k]).abs() > 4.0 * se + 0.05 {
                    failures.push(format!(
                        "N={n} α={alpha} {flip}: perfect {:.2} vs CANNs {:.2} (se {se:.3})",
                        c.perfect(),
                        c_pf[k]
                    ));
                }
            }
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}\n{table}");
}

// =============================================================================================
// BCM and STDP presets.

/// The `bcm-bars` preset: measured here from the trained weights on the preset's test bars,
/// every neuron is orientation selective (selectivity `1 − mean/max` of the rectified
/// responses > 0.5, as reported by the run), its preferred orientations are not all the same,
/// and every threshold θ is positive, finite and bounded: below 16 (half the Q5.26 range; a
/// diverging run saturates at 32), below the largest y² over the training data and within a
/// factor 4 of E[y²] (θ is a 50-sample running mean of y², the fixed point of its update).
#[test]
fn bcm_bars_preset_is_selective_with_bounded_thresholds() {
    let (t, task, summary) = train_preset(RulesConfig::preset("bcm-bars").unwrap());
    let Task::Vectors {
        x,
        test,
        test_angles,
        dim,
        ..
    } = &task
    else {
        panic!("vectors")
    };
    let (n, k, rows, theta) = linear(&t);
    assert_eq!((n, k), (*dim, 4));
    let reported = summary["metrics"]["selectivity"]
        .as_array()
        .unwrap()
        .clone();
    let mut preferred = Vec::new();
    for i in 0..k {
        let resp: Vec<f64> = test
            .chunks_exact(n)
            .map(|b| dot(&rows[i], &b.iter().map(|&v| re(v)).collect::<Vec<_>>()))
            .collect();
        let rect: Vec<f64> = resp.iter().map(|v| v.max(0.0)).collect();
        let max = rect.iter().copied().fold(0.0, f64::max);
        let sel = 1.0 - rect.iter().sum::<f64>() / rect.len() as f64 / max;
        let best = (0..resp.len())
            .max_by(|&a, &b| resp[a].total_cmp(&resp[b]))
            .unwrap();
        preferred.push(test_angles[best]);
        let y2: Vec<f64> = x
            .chunks_exact(n)
            .map(|s| {
                let y = dot(&rows[i], &s.iter().map(|&v| re(v)).collect::<Vec<_>>());
                y * y
            })
            .collect();
        let ey2 = y2.iter().sum::<f64>() / y2.len() as f64;
        let ymax2 = y2.iter().copied().fold(0.0, f64::max);
        println!(
            "bcm-bars neuron {i}: selectivity {sel:.3} (reported {}), preferred {:.1}°, θ = {:.4}, E[y²] = {ey2:.4}",
            reported[i], test_angles[best], theta[i]
        );
        assert!(sel > 0.5, "neuron {i}: selectivity {sel}");
        assert!((sel - reported[i].as_f64().unwrap()).abs() < 1e-6);
        assert!(
            theta[i].is_finite() && theta[i] > 0.0 && theta[i] < 16.0,
            "θ {}",
            theta[i]
        );
        assert!(theta[i] <= ymax2, "θ {} above every y² ({ymax2})", theta[i]);
        assert!(
            theta[i] < 4.0 * ey2 && theta[i] > 0.25 * ey2,
            "θ {} vs E[y²] {ey2}",
            theta[i]
        );
    }
    preferred.dedup();
    assert!(preferred.len() > 1, "all neurons prefer {preferred:?}");
}

/// The `stdp-pattern` preset: replaying the test stream through the f64 LIF layer written
/// here (trained weights and thresholds, no plasticity, from rest), at least one neuron fires
/// in ≥ 90 % of the pattern blocks and ≤ 10 % of the noise blocks, and the rates the run
/// reports agree with the replay within 0.02.
#[test]
fn stdp_pattern_preset_detects_the_pattern() {
    let cfg = RulesConfig::preset("stdp-pattern").unwrap();
    let RuleConfig::Stdp {
        leak,
        threshold,
        v_reset,
        trace_decay,
        k,
        inhibit,
        adapt_plus,
        adapt_decay,
        a_plus,
        a_minus,
        w_min,
        w_max,
        ..
    } = cfg.rule.clone()
    else {
        panic!("stdp")
    };
    let (t, task, summary) = train_preset(cfg);
    let Task::Spikes { test, .. } = &task else {
        panic!("spikes")
    };
    let Model::Spiking(s) = t.model() else {
        panic!("spiking")
    };
    let lr = LifRef {
        leak,
        threshold,
        v_reset,
        trace_decay,
        nearest: false,
        k: usize::from(k),
        inhibit,
        adapt_plus,
        adapt_decay,
        a_plus,
        a_minus,
        w_min,
        w_max,
        multiplicative: false,
    };
    let mut st =
        LifRefState::from_core(&s.w, &vec![0; s.k], &vec![0; s.n], &vec![0; s.k], &s.adapt);
    let blocks = test.pattern_blocks.len();
    let (mut hit, mut fa) = (vec![0usize; s.k], vec![0usize; s.k]);
    for b in 0..blocks {
        let mut any = vec![false; s.k];
        for step in b * test.block..(b + 1) * test.block {
            let x: Vec<f64> = test.step(step).iter().map(|&v| re(v)).collect();
            for (a, sp) in any.iter_mut().zip(lr.step(&mut st, s.n, &x, false)) {
                *a |= sp;
            }
        }
        for i in 0..s.k {
            if any[i] {
                if test.pattern_blocks[b] {
                    hit[i] += 1;
                } else {
                    fa[i] += 1;
                }
            }
        }
    }
    let np = test.pattern_blocks.iter().filter(|&&p| p).count();
    let nn = blocks - np;
    assert!(np > 20 && nn > 20, "{np} pattern and {nn} noise blocks");
    let reported = summary["metrics"]["detection"].as_array().unwrap().clone();
    let mut detectors = 0;
    for i in 0..s.k {
        let (h, f) = (hit[i] as f64 / np as f64, fa[i] as f64 / nn as f64);
        let (rh, rf) = (
            reported[i]["hit_rate"].as_f64().unwrap(),
            reported[i]["false_alarm_rate"].as_f64().unwrap(),
        );
        println!("stdp-pattern neuron {i}: hit {h:.3} FA {f:.3} (reported {rh:.3} / {rf:.3})");
        assert!(
            (h - rh).abs() <= 0.02 && (f - rf).abs() <= 0.02,
            "neuron {i}"
        );
        detectors += usize::from(h >= 0.9 && f <= 0.1);
    }
    assert!(detectors >= 1, "no neuron detects the pattern");
    assert!(summary["metrics"]["selective_neurons"].as_u64().unwrap() >= 1);
}

// =============================================================================================
// Bad input: named errors, no panics.

#[test]
fn core_refuses_bad_input_with_named_errors() {
    let opts = StoreOptions::default();
    // Hebbian storage: short, non-binary, empty.
    assert_eq!(
        Hebbian::plan(&[1, -1, 1], 2, 2, opts).unwrap_err(),
        Error::BufferTooSmall {
            what: "patterns",
            need: 4,
            got: 3
        }
    );
    assert_eq!(
        Hebbian::plan(&[1, 0, 1, -1], 2, 2, opts).unwrap_err(),
        Error::InvalidParam("a pattern value is not -1 or +1")
    );
    assert_eq!(
        Hebbian::plan(&[2, 1], 2, 1, opts).unwrap_err(),
        Error::InvalidParam("a pattern value is not -1 or +1")
    );
    assert_eq!(
        Hebbian::plan(&[], 0, 1, opts).unwrap_err(),
        Error::Zero("neurons")
    );
    assert_eq!(
        Hebbian::plan(&[], 3, 0, opts).unwrap_err(),
        Error::Zero("patterns")
    );
    let plan = Hebbian::plan(&[1, -1, 1, 1], 2, 2, opts).unwrap();
    let (mut bits, mut sums) = (vec![0u64; 2], vec![0i64; 2]);
    plan.pack(&[1, -1, 1, 1], &mut bits, &mut sums).unwrap();
    assert_eq!(
        plan.rows(&bits, &sums, 0, &mut [0; 3]).unwrap_err(),
        Error::OutOfRange("weight rows")
    );
    assert_eq!(
        plan.rows(&bits, &sums, 2, &mut [0; 2]).unwrap_err(),
        Error::OutOfRange("weight rows")
    );
    // Storkey.
    let mut w = vec![0i32; 9];
    let mut h = vec![0i64; 3];
    assert_eq!(
        storkey_add(&mut w, 3, &[1, -1], 10, &mut h).unwrap_err(),
        Error::BufferTooSmall {
            what: "patterns",
            need: 3,
            got: 2
        }
    );
    assert_eq!(
        storkey_add(&mut w, 3, &[1, 3, -1], 10, &mut h).unwrap_err(),
        Error::InvalidParam("a pattern value is not -1 or +1")
    );
    assert_eq!(
        storkey_add(&mut w, 0, &[], 10, &mut h).unwrap_err(),
        Error::Zero("neurons")
    );
    assert_eq!(
        storkey_add(&mut w[..4], 3, &[1, 1, 1], 10, &mut h).unwrap_err(),
        Error::BufferTooSmall {
            what: "weights",
            need: 9,
            got: 4
        }
    );
    assert_eq!(w, vec![0; 9], "a refused update changes nothing");
    // Hopfield dynamics.
    assert_eq!(
        Dynamics::new(0, Update::Synchronous, Activation::Sign, Tie::Keep, 0, 1).unwrap_err(),
        Error::Zero("neurons")
    );
    assert!(matches!(
        Dynamics::new(
            70_000,
            Update::Synchronous,
            Activation::Sign,
            Tie::Keep,
            0,
            1
        ),
        Err(Error::InvalidParam(_))
    ));
    assert!(matches!(
        Dynamics::new(3, Update::Synchronous, Activation::Tanh, Tie::Keep, 0, 0),
        Err(Error::InvalidParam(_))
    ));
    let d = Dynamics::new(3, Update::Synchronous, Activation::Sign, Tie::Keep, 0, 1).unwrap();
    assert_eq!(
        d.check_state(&[1, -1]),
        Err(Error::ShapeMismatch(
            "state length is not the number of neurons"
        ))
    );
    assert_eq!(
        d.check_state(&[1, 2, -1]),
        Err(Error::InvalidParam(
            "state value outside the activation's range"
        ))
    );
    assert_eq!(
        d.check_weights(&[0; 8]),
        Err(Error::ShapeMismatch("weights are not neurons × neurons"))
    );
    assert_eq!(
        d.check_weights(&[0, i32::MAX, 0, i32::MAX, 0, 0, 0, 0, 0]),
        Err(Error::OutOfRange("weight beyond the exact-recall bound"))
    );
    let mut out = [0; 3];
    assert_eq!(
        d.sync_step(&[0; 9], &[1, 1], &mut out).unwrap_err(),
        Error::BufferTooSmall {
            what: "state",
            need: 3,
            got: 2
        }
    );
    // Real-valued data: NaN, infinities, out of range.
    let mut q = [0i32; 3];
    assert_eq!(
        fixed::convert(&[0.5, f64::NAN, 1.0], &mut q),
        Err((1, Error::InvalidParam("value is NaN or infinite")))
    );
    assert_eq!(fixed::convert(&[f64::INFINITY], &mut q).unwrap_err().0, 0);
    assert!(matches!(
        fixed::convert(&[0.0, 0.0, 40.0], &mut q),
        Err((2, Error::InvalidParam(_)))
    ));
    // Linear rules: zero-size layers and short buffers.
    let x = [fixed::ONE; 4];
    assert_eq!(
        oja_step(&mut [], 0, &x, 1, true).unwrap_err(),
        Error::Zero("inputs")
    );
    assert_eq!(
        oja_step(&mut [], 4, &x, 1, true).unwrap_err(),
        Error::ShapeMismatch("weights are not outputs × inputs")
    );
    let mut w = vec![fixed::ONE / 2; 8];
    assert_eq!(
        oja_step(&mut w, 4, &x[..3], 1, true).unwrap_err(),
        Error::BufferTooSmall {
            what: "input",
            need: 4,
            got: 3
        }
    );
    assert_eq!(
        sanger_step(&mut w, 4, &x, 1, true, &mut [0; 4], &mut [0; 1]).unwrap_err(),
        Error::BufferTooSmall {
            what: "outputs",
            need: 2,
            got: 1
        }
    );
    assert_eq!(
        sanger_step(&mut w, 4, &x, 1, true, &mut [0; 2], &mut [0; 2]).unwrap_err(),
        Error::BufferTooSmall {
            what: "residual",
            need: 4,
            got: 2
        }
    );
    assert_eq!(
        forward(&w, 0, &x, &mut [0; 2]).unwrap_err(),
        Error::Zero("inputs")
    );
    assert_eq!(
        forward(&w, 4, &x, &mut [0; 3]).unwrap_err(),
        Error::ShapeMismatch("weights are not outputs × inputs")
    );
    let p = BcmParams::new(fixed::ONE / 50, 10 * fixed::ONE).unwrap();
    assert_eq!(
        bcm_step(&mut w, 4, &x, &mut [0; 1], 1, &p, &mut [0; 2]).unwrap_err(),
        Error::BufferTooSmall {
            what: "thresholds",
            need: 2,
            got: 1
        }
    );
    assert_eq!(
        bcm_step(&mut [], 0, &x, &mut [], 1, &p, &mut []).unwrap_err(),
        Error::Zero("inputs")
    );
    assert_eq!(w, vec![fixed::ONE / 2; 8], "refused steps change nothing");
    assert!(BcmParams::new(0, fixed::ONE).is_err() && BcmParams::new(fixed::ONE, 0).is_err());
    assert!(RateSchedule::new(-1, 0, Decay::Constant).is_err());
    // LIF / STDP.
    let pair = lif_pair(
        fx(0.8),
        fx(1.0),
        fx(0.8),
        false,
        1,
        false,
        0,
        fixed::ONE,
        1,
        1,
        false,
    );
    let (mut v, mut pre, mut post, mut adapt) = (vec![0; 2], vec![0; 4], vec![0; 2], vec![0; 2]);
    let mut st = LifState {
        v: &mut v,
        pre: &mut pre,
        post: &mut post,
        adapt: &mut adapt,
    };
    assert_eq!(
        lif::step(
            &pair.params,
            Some(&pair.rule),
            &mut [],
            0,
            &x,
            &mut st,
            &mut [0; 2]
        )
        .unwrap_err(),
        Error::Zero("inputs")
    );
    assert_eq!(
        lif::step(
            &pair.params,
            Some(&pair.rule),
            &mut w,
            4,
            &x,
            &mut st,
            &mut [0; 1]
        )
        .unwrap_err(),
        Error::BufferTooSmall {
            what: "spikes",
            need: 2,
            got: 1
        }
    );
    assert!(
        LifParams::new(
            fx(1.5),
            fx(1.0),
            0,
            fx(0.5),
            Pairing::AllToAll,
            0,
            false,
            0,
            fixed::ONE
        )
        .is_err()
    );
    assert!(
        LifParams::new(
            fx(0.5),
            0,
            0,
            fx(0.5),
            Pairing::AllToAll,
            0,
            false,
            0,
            fixed::ONE
        )
        .is_err()
    );
    assert!(TraceStdp::new(-1, 0, 0, 1, Bounds::Additive, Pairing::AllToAll).is_err());
    assert!(TraceStdp::new(1, 1, 5, 5, Bounds::Additive, Pairing::AllToAll).is_err());
}

/// The host API: bad configs name their key; predictions refuse patterns of the wrong length,
/// non-binary Hopfield cues, NaN inputs and non-0/1 spikes with a message, without panicking.
#[test]
fn host_refuses_bad_input_with_messages() {
    let err = |text: &str| format!("{}", RulesConfig::from_toml_str(text).unwrap_err());
    let e = err("preset = \"hopfield-random\"\n[task]\nneurons = 0\n");
    assert!(e.contains("task.neurons"), "{e}");
    let e = err("preset = \"oja-gaussian\"\n[task]\ndim = 0\n");
    assert!(e.contains("task.dim"), "{e}");
    let e = err("preset = \"oja-gaussian\"\n[task]\nvariances = [nan]\n");
    assert!(e.contains("task.variances"), "{e}");
    let e = err("preset = \"sanger-gaussian\"\n[rule]\noutputs = 0\n");
    assert!(e.contains("rule.outputs"), "{e}");
    let e = err("preset = \"oja-gaussian\"\n[rule.rate]\nrate = -1.0\n");
    assert!(e.contains("rule.rate.rate"), "{e}");
    let e = err("preset = \"oja-gaussian\"\n[rule.rate]\nrate = nan\n");
    assert!(e.contains("rule.rate.rate"), "{e}");
    let e = err("preset = \"bcm-bars\"\n[rule]\ntau = 0.5\n");
    assert!(e.contains("rule.tau"), "{e}");
    let e = err("preset = \"stdp-pattern\"\n[rule]\nleak = 1.5\n");
    assert!(e.contains("rule") && e.contains("leak"), "{e}");
    let e = err("preset = \"hopfield-random\"\n[rule]\nbogus = 1\n");
    assert!(e.contains("bogus"), "{e}");
    let e = err("preset = \"hopfield-random\"\nepochs = 2\n");
    assert!(e.contains("epochs"), "{e}");

    // A small trained memory, then bad cues.
    let cfg = RulesConfig::from_toml_str(
        "preset = \"hopfield-random\"\n[task]\nneurons = 16\npatterns = 2\nnoise = [0.1]\n",
    )
    .unwrap();
    let (t, _, _) = train_preset(cfg);
    let e = format!("{:#}", t.predict(&[1.0; 15]).unwrap_err());
    assert!(e.contains("length 15") && e.contains("16 neurons"), "{e}");
    let mut cue = vec![1.0; 16];
    cue[3] = 0.5;
    let e = format!("{:#}", t.predict(&cue).unwrap_err());
    assert!(e.contains("0.5") && e.contains("not -1 or +1"), "{e}");
    cue[3] = f64::NAN;
    assert!(t.predict(&cue).is_err());
    assert!(matches!(
        t.predict(&[1.0; 16]).unwrap(),
        Prediction::Recall(_)
    ));

    let cfg = RulesConfig::from_toml_str(
        "preset = \"oja-gaussian\"\n[task]\ndim = 5\nvariances = [2.0]\nsamples = 50\n",
    )
    .unwrap();
    let (t, _, _) = train_preset(cfg);
    let e = format!(
        "{:#}",
        t.predict(&[0.0, 1.0, f64::NAN, 0.0, 0.0]).unwrap_err()
    );
    assert!(e.contains("input 2") && e.contains("NaN"), "{e}");
    let e = format!("{:#}", t.predict(&[0.0; 4]).unwrap_err());
    assert!(e.contains("length 4"), "{e}");

    let cfg = RulesConfig::from_toml_str(
        "preset = \"stdp-pattern\"\n[task]\ninputs = 10\nsteps = 200\ntest_steps = 100\n",
    )
    .unwrap();
    let (t, _, _) = train_preset(cfg);
    let e = format!("{:#}", t.predict(&[0.0; 15]).unwrap_err());
    assert!(e.contains("whole number of steps"), "{e}");
    let mut seq = vec![0.0; 20];
    seq[7] = 0.5;
    let e = format!("{:#}", t.predict(&seq).unwrap_err());
    assert!(e.contains("at 7") && e.contains("not 0 or 1"), "{e}");
}
