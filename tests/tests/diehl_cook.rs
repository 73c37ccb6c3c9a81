//! The Diehl & Cook 2015 network core (`hebb_core::diehl_cook`, `hebb_core::poisson`,
//! `hebb_core::assign`) against expectations computed here, never by the code under test:
//!
//! * trace tables against `2²⁴ dᵏ` in `f64`, within the bound the floored recurrence allows;
//! * `Params::from_physical`: the defaults' integer constants worked out by hand from the
//!   authors' values (`shared/reference/diehl-cook.md` §1.1) and `exp` in `f64`; bad physical
//!   values give named errors, and no value panics;
//! * single steps of a 2 × 2 network worked out by hand: an input row into `ge`, depression by
//!   a live post trace, θ and potentiation on a spike, inhibition one and two steps later;
//! * an `f64` model of the step, written below in the order of the module docs, that the
//!   integer network tracks for hundreds of steps on random networks: the same spikes, and
//!   potentials, conductances and weights within bounds derived from the roundings;
//! * normalisation against the exact scaling `w · target / Σw`, within its rounding bound;
//! * Poisson inputs: empirical rates within 5 binomial standard deviations, silent zero
//!   pixels, monotone probabilities, one draw per active input, seeded determinism;
//! * label assignment, proportions and both votes on cases computed by hand;
//! * whole digits: re-presentation counts and input spike totals against their expectation,
//!   θ and weights after learning, frozen inference, clock wrap, state bounds, and a
//!   two-pattern learning check measured from the trained network;
//! * bad input: named errors, no panics.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use hebb_core::Error;
use hebb_core::assign::{self, PROP_FRAC, UNASSIGNED};
use hebb_core::diehl_cook::params::{ParamsRaw, PhysicalNeurons, TABLE_MAX};
use hebb_core::diehl_cook::{
    Net, Outcome, Params, Physical, Scratch, State, Tables, V_FRAC, W_FRAC, W_ONE, Weights,
    normalize, present, sample, step, trace_table,
};
use hebb_core::poisson::{self, PoissonUnit};
use hebb_core::rng::Rng;
use proptest::prelude::*;

/// 2²⁴: 1.0 in Q8.24 (weights, traces, excitatory conductances).
const W1: f64 = 16_777_216.0;
/// 2¹⁶: 1 mV in Q16.16 (potentials, θ, inhibitory conductances).
const V1: f64 = 65_536.0;
/// 2³²: 1.0 in Q0.32 (decays, `dt/τ`, probabilities).
const Q32: f64 = 4_294_967_296.0;
/// "Never spiked": a spike time this many steps back is older than every table.
const NEVER: u32 = TABLE_MAX as u32;

/// A real weight (or trace, or excitatory conductance) in Q8.24.
fn wq(x: f64) -> i32 {
    (x * W1).round() as i32
}

/// A potential in mV in Q16.16.
fn vq(x: f64) -> i32 {
    (x * V1).round() as i32
}

/// The real value of a Q8.24 integer.
fn wr(x: i32) -> f64 {
    f64::from(x) / W1
}

/// The real value (mV) of a Q16.16 integer.
fn vr(x: i32) -> f64 {
    f64::from(x) / V1
}

// =============================================================================================
// An owned network: constants and tables, state, scratch.

/// The fixed part of a network.
struct Fixed {
    params: Params,
    pre: Vec<u32>,
    post1: Vec<u32>,
    post2: Vec<u32>,
    n_in: usize,
    n: usize,
}

/// A trace table cut at its length.
fn table(decay: u32) -> Vec<u32> {
    let mut t = vec![0u32; TABLE_MAX];
    let len = trace_table(decay, &mut t).unwrap();
    t.truncate(len);
    t
}

impl Fixed {
    fn new(p: &Physical, n_in: usize, n: usize) -> Self {
        let params = Params::from_physical(p).unwrap();
        let [a, b, c] = params.raw().trace_decay;
        Self {
            params,
            pre: table(a),
            post1: table(b),
            post2: table(c),
            n_in,
            n,
        }
    }

    fn net(&self) -> Net<'_> {
        Net {
            params: &self.params,
            n_in: self.n_in,
            n: self.n,
            tables: Tables {
                pre: &self.pre,
                post1: &self.post1,
                post2: &self.post2,
            },
        }
    }
}

/// The state of a network, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dyn {
    v_e: Vec<i32>,
    ge_e: Vec<i32>,
    gi_e: Vec<i32>,
    refr_e: Vec<u16>,
    theta: Vec<i32>,
    last_post: Vec<u32>,
    fired_e: Vec<u8>,
    v_i: Vec<i32>,
    ge_i: Vec<i32>,
    refr_i: Vec<u16>,
    fired_i: Vec<u8>,
    last_pre: Vec<u32>,
    clock: u32,
}

impl Dyn {
    /// Garbage everywhere, then `State::init`.
    fn new(f: &Fixed) -> Self {
        let (n, n_in) = (f.n, f.n_in);
        let mut d = Self {
            v_e: vec![7; n],
            ge_e: vec![7; n],
            gi_e: vec![7; n],
            refr_e: vec![7; n],
            theta: vec![7; n],
            last_post: vec![7; n],
            fired_e: vec![1; n],
            v_i: vec![7; n],
            ge_i: vec![7; n],
            refr_i: vec![7; n],
            fired_i: vec![1; n],
            last_pre: vec![7; n_in],
            clock: 7,
        };
        d.state().init(&f.params);
        d
    }

    fn state(&mut self) -> State<'_> {
        State {
            v_e: &mut self.v_e,
            ge_e: &mut self.ge_e,
            gi_e: &mut self.gi_e,
            refr_e: &mut self.refr_e,
            theta: &mut self.theta,
            last_post: &mut self.last_post,
            fired_e: &mut self.fired_e,
            v_i: &mut self.v_i,
            ge_i: &mut self.ge_i,
            refr_i: &mut self.refr_i,
            fired_i: &mut self.fired_i,
            last_pre: &mut self.last_pre,
            clock: &mut self.clock,
        }
    }

    /// Sets the clock, keeping every spike time as old as it was.
    fn set_clock(&mut self, c: u32) {
        let old = self.clock;
        for l in self.last_post.iter_mut().chain(self.last_pre.iter_mut()) {
            *l = c.wrapping_sub(old.wrapping_sub(*l));
        }
        self.clock = c;
    }
}

/// Working memory, owned.
struct Buf {
    active: Vec<(u16, u32)>,
    spikes: Vec<u16>,
    dep: Vec<(u16, i32)>,
    sums: Vec<i64>,
}

impl Buf {
    fn new(n_in: usize, n: usize) -> Self {
        Self {
            active: vec![(0, 0); n_in],
            spikes: vec![0; n_in],
            dep: vec![(0, 0); n],
            sums: vec![0; n],
        }
    }

    fn scratch(&mut self) -> Scratch<'_> {
        Scratch {
            active: &mut self.active,
            spikes: &mut self.spikes,
            dep: &mut self.dep,
            sums: &mut self.sums,
        }
    }
}

/// One step of the integer network, plastic or frozen.
fn core_step(f: &Fixed, w: &mut [i32], learn: bool, d: &mut Dyn, spikes: &[u16]) -> u32 {
    let mut dep = vec![(0u16, 0i32); f.n];
    let mut wt = if learn {
        Weights::Plastic(w)
    } else {
        Weights::Frozen(w)
    };
    step(&f.net(), &mut wt, &mut d.state(), spikes, &mut dep, None).unwrap()
}

/// One digit through `sample`.
fn core_sample(
    f: &Fixed,
    w: &mut [i32],
    learn: bool,
    d: &mut Dyn,
    pixels: &[u8],
    rng: &mut Rng,
    counts: &mut [u32],
) -> Outcome {
    let mut buf = Buf::new(f.n_in, f.n);
    let mut wt = if learn {
        Weights::Plastic(w)
    } else {
        Weights::Frozen(w)
    };
    sample(
        &f.net(),
        &mut wt,
        &mut d.state(),
        &mut buf.scratch(),
        pixels,
        rng,
        counts,
    )
    .unwrap()
}

/// Uniform weights in `[lo, hi)`, Q8.24.
fn random_weights(seed: u64, len: usize, lo: f64, hi: f64) -> Vec<i32> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|_| wq(lo + (hi - lo) * rng.next_f64()))
        .collect()
}

// =============================================================================================
// Trace tables.

/// `|2²⁴ dᵏ − table[k]|` may reach `min(k, 1/(1 − d))` LSB: each step of the recurrence
/// floors once (≤ 1 LSB), and older floors shrink by `d` per step. The Q0.32 rounding of `d`
/// adds `2²⁴ k dᵏ⁻¹ · 2⁻³³ ≤ 2²⁴ / (e (1 − d) 2³³)`, under 0.05 LSB for these decays.
fn check_table(decay: u32, t: &[u32], len: usize) {
    let d = f64::from(decay) / Q32;
    let slack = if d < 1.0 {
        1.0 / (1.0 - d)
    } else {
        f64::INFINITY
    };
    for (k, &x) in t.iter().enumerate().take(len) {
        let exact = W1 * d.powi(k as i32);
        let below = exact - f64::from(x);
        assert!(
            below >= -0.05 && below <= (k as f64).min(slack) + 0.05,
            "table[{k}] = {x}, 2²⁴ dᵏ = {exact}"
        );
        assert!(x > 0, "table[{k}] is 0 before the table's length {len}");
    }
    assert!(t.iter().skip(len).all(|&x| x == 0), "tail not zero");
    assert_eq!(t.first().copied(), Some(W_ONE as u32), "a fresh trace is 1");
    assert!(t.windows(2).all(|p| p[1] <= p[0]), "not non-increasing");
}

#[test]
fn trace_tables_match_powers_of_the_decay() {
    // τ = 20 and 40 ms at dt = 0.5 ms (the authors' traces), and a fast one.
    for tau_steps in [40.0, 80.0, 3.0] {
        let d = (-1.0f64 / tau_steps).exp();
        let decay = (d * Q32).round() as u32;
        let mut t = vec![u32::MAX; TABLE_MAX];
        let len = trace_table(decay, &mut t).unwrap();
        check_table(decay, &t, len);
        // The table ends where 2²⁴ dᵏ falls below 1 LSB at the latest, and not before it falls
        // below the floors' slack (one more entry for the first zero).
        let ln = -d.ln();
        let latest = ((W1 / 0.95).ln() / ln).ceil() as usize + 1;
        let earliest = (W1 * (1.0 - d)).ln() / ln;
        assert!(
            (len as f64) > earliest && len <= latest,
            "τ = {tau_steps} steps: length {len}, expected in ({earliest}, {latest}]"
        );
        // The shortest buffer that works holds exactly the non-zero entries.
        let mut short = vec![0u32; len];
        assert_eq!(trace_table(decay, &mut short), Ok(len));
        assert_eq!(&short[..], &t[..len]);
        let mut shorter = vec![0u32; len - 1];
        assert_eq!(
            trace_table(decay, &mut shorter),
            Err(Error::InvalidParam(
                "trace table does not reach 0 within its buffer"
            ))
        );
    }
}

#[test]
fn trace_table_edge_decays() {
    // d = 0: a spike's trace lasts one step.
    let mut t = vec![9u32; 5];
    assert_eq!(trace_table(0, &mut t), Ok(1));
    assert_eq!(t, [W_ONE as u32, 0, 0, 0, 0]);
    // d = 1 − 2⁻³²: the floor takes 1 LSB a step, 2²⁴ steps to reach 0.
    let mut t = vec![0u32; TABLE_MAX];
    assert!(matches!(
        trace_table(u32::MAX, &mut t),
        Err(Error::InvalidParam(_))
    ));
    // An empty buffer cannot hold the fresh trace.
    assert!(trace_table(1 << 31, &mut []).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every trace τ that `from_physical` accepts has a table that fits `TABLE_MAX`, and the
    /// table is within the floors' bound of `2²⁴ dᵏ`.
    #[test]
    fn accepted_trace_taus_have_tables(tau in 0.05f64..260.0) {
        let p = Physical { tau_post2_ms: tau, ..Physical::default() };
        match Params::from_physical(&p) {
            Ok(params) => {
                let decay = params.raw().trace_decay[2];
                let mut t = vec![0u32; TABLE_MAX];
                let len = trace_table(decay, &mut t);
                prop_assert!(len.is_ok(), "τ = {} ms accepted but its table does not fit", tau);
                check_table(decay, &t, len.unwrap_or(0));
            }
            Err(e) => {
                // Refused only when 18 τ/dt reaches the table size.
                prop_assert!(tau / 0.5 * 18.0 >= TABLE_MAX as f64, "τ = {} ms refused: {:?}", tau, e);
            }
        }
    }
}

// =============================================================================================
// Params.

/// `|q − x · 2³²| ≤ 1` for a Q0.32 constant.
fn assert_q32(q: u32, x: f64, what: &str) {
    let e = (f64::from(q) - x * Q32).abs();
    assert!(e <= 1.0, "{what}: {q} vs {}", x * Q32);
}

#[test]
fn default_params_are_the_authors_constants_in_integers() {
    let p = Params::from_physical(&Physical::default()).unwrap();
    let r = p.raw();
    let mv = |x: i32| x * 65_536;
    // Excitatory: −65 / −65 / −52 mV, τ 100 ms, 5 ms refractory, reversals 0 and −100 mV.
    assert_eq!(r.exc.v_rest, mv(-65));
    assert_eq!(r.exc.v_reset, mv(-65));
    assert_eq!(r.exc.v_thresh, mv(-52));
    assert_eq!(r.exc.e_exc, 0);
    assert_eq!(r.exc.e_inh, mv(-100));
    assert_eq!(r.exc.refrac, 10, "5 ms / 0.5 ms");
    // dt/τ = 0.005: 0.005 · 2³² = 21 474 836.48.
    assert_eq!(r.exc.k, 21_474_836);
    assert_q32(r.exc.ge_decay, (-0.5f64).exp(), "exc ge decay (τ 1 ms)");
    assert_q32(r.exc.gi_decay, (-0.25f64).exp(), "exc gi decay (τ 2 ms)");
    // Inhibitory: −60 / −45 / −40 mV, τ 10 ms, 2 ms refractory, reversals 0 and −85 mV.
    assert_eq!(r.inh.v_rest, mv(-60));
    assert_eq!(r.inh.v_reset, mv(-45));
    assert_eq!(r.inh.v_thresh, mv(-40));
    assert_eq!(r.inh.e_exc, 0);
    assert_eq!(r.inh.e_inh, mv(-85));
    assert_eq!(r.inh.refrac, 4, "2 ms / 0.5 ms");
    // 0.05 · 2³² = 214 748 364.8.
    assert_eq!(r.inh.k, 214_748_365);
    assert_q32(r.inh.ge_decay, (-0.5f64).exp(), "inh ge decay");
    assert_q32(r.inh.gi_decay, (-0.25f64).exp(), "inh gi decay");
    // Initial potential: rest − 40 mV.
    assert_eq!(r.v_init, mv(-105));
    // 10.4 · 2²⁴ = 174 483 046.4; 17 in Q16.16; 0.05 mV · 2¹⁶ = 3276.8.
    assert_eq!(r.w_ei, 174_483_046);
    assert_eq!(r.w_ie, 17 * 65_536);
    assert_eq!(r.theta_plus, 3277);
    // θ decays over 350 + 150 ms with τ = 10⁷ ms.
    assert_q32(r.theta_decay, (-500.0f64 / 1e7).exp(), "θ decay");
    // 10⁻⁴ · 2²⁴ = 1677.72; 10⁻² · 2²⁴ = 167 772.16.
    assert_eq!(r.nu_pre, 1678);
    assert_eq!(r.nu_post, 167_772);
    assert_q32(r.trace_decay[0], (-0.5f64 / 20.0).exp(), "pre trace decay");
    assert_q32(
        r.trace_decay[1],
        (-0.5f64 / 20.0).exp(),
        "post1 trace decay",
    );
    assert_q32(
        r.trace_decay[2],
        (-0.5f64 / 40.0).exp(),
        "post2 trace decay",
    );
    assert_eq!(r.w_max, 1 << 24);
    assert_eq!(r.norm_sum, 78 << 24);
    assert_eq!(r.steps_on, 700, "350 ms / 0.5 ms");
    assert_eq!(r.steps_rest, 300, "150 ms / 0.5 ms");
    assert_eq!(r.min_spikes, 5);
    assert_eq!((r.intensity, r.max_intensity), (2, 32));
    // pixel / 8 Hz at dt 0.5 ms: 0.125 · 0.5 · 10⁻³ · 2³² = 268 435.456.
    assert_eq!(r.unit, PoissonUnit(268_435));
    assert_eq!(V_FRAC, 16);
    assert_eq!(W_FRAC, 24);
}

#[test]
fn other_steps_convert_their_times() {
    // dt = 1 ms: 350 and 150 steps, 5 and 2 refractory steps, dt/τ = 0.01.
    let p = Physical {
        dt_ms: 1.0,
        ..Physical::default()
    };
    let r = *Params::from_physical(&p).unwrap().raw();
    assert_eq!((r.steps_on, r.steps_rest), (350, 150));
    assert_eq!((r.exc.refrac, r.inh.refrac), (5, 2));
    assert_q32(r.exc.k, 0.01, "exc dt/τ");
    assert_q32(r.exc.ge_decay, (-1.0f64).exp(), "exc ge decay");
    assert_q32(r.trace_decay[0], (-1.0f64 / 20.0).exp(), "pre trace decay");
    assert_eq!(r.unit, PoissonUnit((0.125e-3 * Q32).round() as u32));
}

/// The defaults with one change.
fn with(f: impl FnOnce(&mut Physical)) -> Physical {
    let mut p = Physical::default();
    f(&mut p);
    p
}

#[test]
fn bad_physical_values_are_named_errors() {
    let cases: Vec<(Physical, &str)> = vec![
        (with(|p| p.dt_ms = 0.0), "dt must be in (0, 10] ms"),
        (with(|p| p.dt_ms = -0.5), "dt must be in (0, 10] ms"),
        (with(|p| p.dt_ms = f64::NAN), "dt must be in (0, 10] ms"),
        (
            with(|p| p.dt_ms = f64::INFINITY),
            "dt must be in (0, 10] ms",
        ),
        (with(|p| p.dt_ms = 10.5), "dt must be in (0, 10] ms"),
        (
            with(|p| p.exc.tau_ms = -100.0),
            "membrane τ must be at least dt",
        ),
        (
            with(|p| p.exc.tau_ms = 0.25),
            "membrane τ must be at least dt",
        ),
        (
            with(|p| p.inh.tau_ms = f64::NAN),
            "membrane τ must be at least dt",
        ),
        (with(|p| p.exc.tau_ms = 1e12), "membrane dt/τ must be > 0"),
        (with(|p| p.exc.tau_ge_ms = 0.0), "conductance τ must be > 0"),
        (
            with(|p| p.exc.tau_gi_ms = -2.0),
            "conductance τ must be > 0",
        ),
        (
            with(|p| p.inh.tau_ge_ms = f64::NAN),
            "conductance τ must be > 0",
        ),
        (
            with(|p| p.exc.v_reset = -52.0),
            "reset must be below the threshold",
        ),
        (
            with(|p| p.inh.v_reset = -30.0),
            "reset must be below the threshold",
        ),
        (
            with(|p| p.exc.v_rest = f64::NAN),
            "potentials must be finite and within ±7500 mV",
        ),
        (
            with(|p| p.inh.e_inh = -8000.0),
            "potentials must be finite and within ±7500 mV",
        ),
        (
            with(|p| p.v_init_offset = f64::NEG_INFINITY),
            "potentials must be finite and within ±7500 mV",
        ),
        (
            with(|p| {
                p.exc.v_rest = -7000.0;
                p.v_init_offset = -7000.0;
            }),
            "initial potential outside ±8192 mV",
        ),
        (
            with(|p| p.exc.refrac_ms = -1.0),
            "refractory period out of range",
        ),
        (
            with(|p| p.exc.refrac_ms = 1e5),
            "refractory period too long",
        ),
        (with(|p| p.w_ei = -1.0), "w_ei must be in [0, 127)"),
        (with(|p| p.w_ei = 200.0), "w_ei must be in [0, 127)"),
        (with(|p| p.w_ie = f64::NAN), "w_ie must be in [0, 30000)"),
        (
            with(|p| p.theta_plus = -0.05),
            "theta_plus must be in [0, 1000) mV",
        ),
        (with(|p| p.nu_pre = 2.0), "STDP rates must be in [0, 1]"),
        (with(|p| p.nu_post = -0.01), "STDP rates must be in [0, 1]"),
        (with(|p| p.w_max = 0.0), "w_max must be in (0, 1]"),
        (with(|p| p.w_max = 1.5), "w_max must be in (0, 1]"),
        (
            with(|p| p.w_max = 0.001),
            "STDP rates must be in [0, w_max]",
        ),
        (with(|p| p.norm_sum = 0.0), "norm_sum must be in (0, 1e6]"),
        (
            with(|p| p.tau_pre_ms = 0.0),
            "trace τ must be > 0 and below 455 steps (its table would not fit)",
        ),
        (
            with(|p| p.tau_post2_ms = 300.0),
            "trace τ must be > 0 and below 455 steps (its table would not fit)",
        ),
        (with(|p| p.tau_theta_ms = 0.0), "tau_theta must be > 0"),
        (
            with(|p| p.intensity = 0),
            "intensity must be >= 1 and max_intensity >= intensity",
        ),
        (
            with(|p| p.max_intensity = 1),
            "intensity must be >= 1 and max_intensity >= intensity",
        ),
        (
            with(|p| p.present_ms = 0.2),
            "presentation time must be at least one step",
        ),
        (
            with(|p| p.present_ms = -5.0),
            "presentation time out of range",
        ),
        (with(|p| p.rest_ms = f64::NAN), "rest time out of range"),
        (
            with(|p| p.rate_per_level_hz = 0.0),
            "Poisson rate per pixel level × dt must be in (0, 1)",
        ),
        (
            with(|p| p.rate_per_level_hz = 2000.0),
            "Poisson rate per pixel level × dt must be in (0, 1)",
        ),
    ];
    for (p, msg) in cases {
        assert_eq!(
            Params::from_physical(&p),
            Err(Error::InvalidParam(msg)),
            "{p:?}"
        );
    }
    // Edges that are valid: no rest, τ = dt, a long trace τ whose table fits.
    for p in [
        with(|p| p.rest_ms = 0.0),
        with(|p| p.exc.tau_ms = 0.5),
        with(|p| p.tau_post2_ms = 200.0),
        with(|p| p.min_spikes = 0),
    ] {
        assert!(Params::from_physical(&p).is_ok(), "{p:?}");
    }
}

#[test]
fn raw_params_are_validated_and_round_trip() {
    let good = *Params::from_physical(&Physical::default()).unwrap().raw();
    let p = Params::try_from(good).unwrap();
    let bytes = postcard::to_stdvec(&p).unwrap();
    assert_eq!(postcard::from_bytes::<Params>(&bytes).unwrap(), p);
    let bad: Vec<(ParamsRaw, &str)> = vec![
        (
            ParamsRaw {
                exc: hebb_core::diehl_cook::params::Neurons { k: 0, ..good.exc },
                ..good
            },
            "membrane dt/τ must be > 0",
        ),
        (
            ParamsRaw {
                inh: hebb_core::diehl_cook::params::Neurons {
                    v_reset: good.inh.v_thresh,
                    ..good.inh
                },
                ..good
            },
            "reset must be below the threshold",
        ),
        (
            ParamsRaw {
                nu_post: good.w_max + 1,
                ..good
            },
            "STDP rates must be in [0, w_max]",
        ),
        (
            ParamsRaw {
                norm_sum: 0,
                ..good
            },
            "w_max must be in (0, 1] and norm_sum > 0",
        ),
        (
            ParamsRaw { w_ie: -1, ..good },
            "conductance and θ steps must be >= 0",
        ),
        (
            ParamsRaw {
                steps_on: 0,
                ..good
            },
            "presentation, intensity or its bound is 0",
        ),
        (
            ParamsRaw {
                trace_decay: [good.trace_decay[0], 0, good.trace_decay[2]],
                ..good
            },
            "trace decay is 0",
        ),
        (
            ParamsRaw {
                unit: PoissonUnit(0),
                ..good
            },
            "Poisson unit is 0",
        ),
        (
            ParamsRaw {
                v_init: (1 << 29) + 1,
                ..good
            },
            "initial potential outside ±8192 mV",
        ),
    ];
    for (raw, msg) in bad {
        assert_eq!(Params::try_from(raw), Err(Error::InvalidParam(msg)));
        // The same check guards decoding.
        let bytes = postcard::to_stdvec(&raw).unwrap();
        assert!(postcard::from_bytes::<Params>(&bytes).is_err(), "{msg}");
    }
}

/// A value for a float field: special values, wide and narrow ranges.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(1e300),
        -1e9f64..1e9,
        -100.0f64..100.0,
        any::<f64>(),
    ]
}

/// Sets float field `i` (of 34) of `p`.
fn set_field(p: &mut Physical, i: usize, x: f64) {
    fn pop(n: &mut PhysicalNeurons, i: usize, x: f64) {
        match i {
            0 => n.v_rest = x,
            1 => n.v_reset = x,
            2 => n.v_thresh = x,
            3 => n.tau_ms = x,
            4 => n.refrac_ms = x,
            5 => n.e_exc = x,
            6 => n.e_inh = x,
            7 => n.tau_ge_ms = x,
            _ => n.tau_gi_ms = x,
        }
    }
    match i {
        0 => p.dt_ms = x,
        1..=9 => pop(&mut p.exc, i - 1, x),
        10..=18 => pop(&mut p.inh, i - 10, x),
        19 => p.v_init_offset = x,
        20 => p.w_ei = x,
        21 => p.w_ie = x,
        22 => p.theta_plus = x,
        23 => p.tau_theta_ms = x,
        24 => p.nu_pre = x,
        25 => p.nu_post = x,
        26 => p.tau_pre_ms = x,
        27 => p.tau_post1_ms = x,
        28 => p.tau_post2_ms = x,
        29 => p.w_max = x,
        30 => p.norm_sum = x,
        31 => p.present_ms = x,
        32 => p.rest_ms = x,
        _ => p.rate_per_level_hz = x,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any float in any (up to three) fields and any integer settings: a result, never a
    /// panic, and an accepted set keeps every documented invariant of the integers.
    #[test]
    fn from_physical_never_panics(
        fields in prop::collection::vec((0usize..34, any_value()), 1..4),
        min_spikes: u32,
        intensity: u8,
        max_intensity: u8,
        ints: bool,
    ) {
        let mut p = Physical::default();
        for (i, x) in fields {
            set_field(&mut p, i, x);
        }
        if ints {
            p.min_spikes = min_spikes;
            p.intensity = intensity;
            p.max_intensity = max_intensity;
        }
        if let Ok(params) = Params::from_physical(&p) {
            let r = params.raw();
            prop_assert!(r.exc.v_reset < r.exc.v_thresh && r.inh.v_reset < r.inh.v_thresh);
            prop_assert!(r.exc.k > 0 && r.inh.k > 0);
            prop_assert!(r.w_max > 0 && r.w_max <= W_ONE && r.norm_sum > 0);
            prop_assert!(r.nu_pre <= r.w_max && r.nu_post <= r.w_max);
            prop_assert!(r.steps_on > 0 && r.intensity > 0 && r.max_intensity >= r.intensity);
            for d in r.trace_decay {
                let mut t = vec![0u32; TABLE_MAX];
                prop_assert!(trace_table(d, &mut t).is_ok());
            }
        }
    }
}

// =============================================================================================
// Single steps by hand (2 inputs, 2 neurons, the authors' constants).

/// Weights `[[0.5, 0.25], [0.75, 1.0]]` (input-major: row 0 is input 0).
fn hand_weights() -> Vec<i32> {
    vec![W_ONE / 2, W_ONE / 4, 3 * W_ONE / 4, W_ONE]
}

#[test]
fn one_input_spike_adds_its_row_and_integrates() {
    let f = Fixed::new(&Physical::default(), 2, 2);
    let mut d = Dyn::new(&f);
    // init: v_e = −105 mV, v_i = −60 mV, nothing else, θ = 0, no trace.
    assert_eq!(d.v_e, [vq(-105.0); 2]);
    assert_eq!(d.v_i, [vq(-60.0); 2]);
    assert_eq!(
        (d.ge_e.clone(), d.gi_e.clone(), d.ge_i.clone()),
        (vec![0; 2], vec![0; 2], vec![0; 2])
    );
    assert_eq!(d.theta, [0; 2]);
    assert_eq!(d.clock, 0);
    assert!(
        d.last_post
            .iter()
            .chain(&d.last_pre)
            .all(|&l| l == 0u32.wrapping_sub(NEVER))
    );
    let mut w = hand_weights();
    let w0 = w.clone();
    let mut counts = vec![5u32, 0];
    let fired = {
        let mut dep = vec![(0, 0); 2];
        let mut wt = Weights::Frozen(&w);
        step(
            &f.net(),
            &mut wt,
            &mut d.state(),
            &[0],
            &mut dep,
            Some(&mut counts),
        )
        .unwrap()
    };
    assert_eq!(fired, 0);
    assert_eq!(counts, [5, 0], "no spike, counts untouched");
    // ge = row 0, integrated, then decayed by e^(−1/2): 0.5 · 2²⁴ · 0.606531 = 5 087 947.9 and
    // 0.25 · 2²⁴ · 0.606531 = 2 543 973.97 (floored).
    assert_eq!(d.ge_e, [5_087_947, 2_543_973]);
    // dv = dt/τ ((−65 + 105) + ge (0 + 105)) mV: 0.005 · (40 + 52.5) = 0.4625 mV = 30 310.4 LSB
    // and 0.005 · (40 + 26.25) = 0.33125 mV = 21 708.8 LSB (rounded).
    assert_eq!(d.v_e, [vq(-105.0) + 30_310, vq(-105.0) + 21_709]);
    // The inhibitory population had no input: at rest, exactly.
    assert_eq!(d.v_i, [vq(-60.0); 2]);
    assert_eq!((d.gi_e.clone(), d.ge_i.clone()), (vec![0; 2], vec![0; 2]));
    assert_eq!(d.clock, 1);
    assert_eq!(d.last_pre, [0, 0u32.wrapping_sub(NEVER)]);
    assert_eq!(w, w0);
    // Plastic with no post trace anywhere: the same step, weights untouched.
    let mut d2 = Dyn::new(&f);
    core_step(&f, &mut w, true, &mut d2, &[0]);
    assert_eq!(d2, d);
    assert_eq!(w, w0);
}

#[test]
fn a_pre_spike_depresses_by_the_live_post_trace() {
    let f = Fixed::new(&Physical::default(), 2, 2);
    let mut d = Dyn::new(&f);
    d.set_clock(10);
    d.last_post[1] = 8; // neuron 1 spiked two steps ago: x_post1 = e^(−2 · 0.5 / 20)
    let mut w = hand_weights();
    core_step(&f, &mut w, true, &mut d, &[0]);
    // ν_pre is 1678 LSB (10⁻⁴ · 2²⁴ = 1677.7): 1678 · e^(−0.05) = 1596.16, floored.
    assert_eq!(w, [W_ONE / 2, W_ONE / 4 - 1596, 3 * W_ONE / 4, W_ONE]);
    // ge took the weights from before the depression.
    assert_eq!(d.ge_e, [5_087_947, 2_543_973]);
    // Depression stops at 0.
    let mut d = Dyn::new(&f);
    d.set_clock(10);
    d.last_post[1] = 8;
    let mut w = vec![W_ONE / 2, 1000, 3 * W_ONE / 4, W_ONE];
    core_step(&f, &mut w, true, &mut d, &[0]);
    assert_eq!(w, [W_ONE / 2, 0, 3 * W_ONE / 4, W_ONE]);
    // Frozen: no depression.
    let mut d = Dyn::new(&f);
    d.set_clock(10);
    d.last_post[1] = 8;
    let mut w = hand_weights();
    core_step(&f, &mut w, false, &mut d, &[0]);
    assert_eq!(w, hand_weights());
}

#[test]
fn a_spike_potentiates_raises_theta_and_inhibits_the_next_steps() {
    let f = Fixed::new(&Physical::default(), 2, 2);
    let run = |w_ie_zero: bool| {
        let phys = with(|p| {
            if w_ie_zero {
                p.w_ie = 0.0;
            }
        });
        let f = Fixed::new(&phys, 2, 2);
        let mut d = Dyn::new(&f);
        d.set_clock(20);
        d.v_e = vec![vq(-51.0), vq(-65.0)]; // neuron 0 above its threshold
        d.last_post[0] = 16; // age 4: post1 = e^(−0.1), post2 = e^(−0.05)
        d.last_pre[1] = 18; // age 2: pre = e^(−0.05)
        let mut w = hand_weights();
        let mut states = vec![];
        let mut fired = vec![];
        fired.push(core_step(&f, &mut w, true, &mut d, &[0]));
        states.push(d.clone());
        for _ in 0..2 {
            fired.push(core_step(&f, &mut w, true, &mut d, &[]));
            states.push(d.clone());
        }
        (w, states, fired)
    };
    let (w, s, fired) = run(false);
    // Step 20: input 0 spikes, neuron 0 fires.
    assert_eq!(fired, [1, 0, 0]);
    assert_eq!(s[0].fired_e, [1, 0]);
    assert_eq!(s[0].v_e[0], vq(-65.0), "reset");
    assert_eq!(s[0].refr_e[0], 10);
    assert_eq!(s[0].theta, [3277, 0], "θ += 0.05 mV");
    assert_eq!(s[0].last_post, [20, 20u32.wrapping_sub(NEVER)]);
    // Weights of neuron 0: input 0 is depressed by 1678 · e^(−0.1) = 1518.3 → 1518 (post1
    // live at its pre spike), then potentiated by a · pre with a = ν_post · post2(before)
    // = 167 772 · e^(−0.05) = 159 589.7 → 159 589 and pre = 1 (it spiked this step); input 1
    // gains a · e^(−0.05) = 151 805.6 → 151 805. Neuron 1 neither spiked nor had a trace.
    assert_eq!(
        w,
        [
            W_ONE / 2 - 1518 + 159_589,
            W_ONE / 4,
            3 * W_ONE / 4 + 151_805,
            W_ONE
        ]
    );
    // The excitatory spike reaches the inhibitory partner one step later, not yet.
    assert_eq!(s[0].ge_i, [0, 0]);
    assert_eq!(s[0].fired_i, [0, 0]);
    // Step 21: ge_i[0] = 10.4; dv = 0.05 · 10.4 · (0 + 60) mV = 31.2 mV → −28.8 mV > −40 mV.
    assert_eq!(s[1].fired_i, [1, 0]);
    assert_eq!(s[1].v_i, [vq(-45.0), vq(-60.0)]);
    assert_eq!(s[1].refr_i, [4, 0]);
    // ge_i decays: 174 483 046 · e^(−1/2) = 105 829 317.0 (floored twice, with the rounded
    // decay: one or two LSB below).
    let e = 174_483_046.0 * (-0.5f64).exp() - f64::from(s[1].ge_i[0]);
    assert!((0.0..2.0).contains(&e), "ge_i {}", s[1].ge_i[0]);
    assert_eq!(s[1].gi_e, [0, 0], "inhibition is one step later still");
    assert_eq!(s[1].v_e[0], vq(-65.0), "refractory: held at reset");
    assert_eq!(s[1].refr_e[0], 9);
    // Step 22: gi of every excitatory neuron but the partner += 17, then decays by e^(−1/4):
    // 17 · 2¹⁶ · 0.778801 = 867 671.3.
    assert_eq!(s[2].gi_e[0], 0);
    let e = 17.0 * V1 * (-0.25f64).exp() - f64::from(s[2].gi_e[1]);
    assert!((0.0..2.0).contains(&e), "gi_e {}", s[2].gi_e[1]);
    // ... and pulls neuron 1 down, compared with the same run without inhibition.
    let (_, s0, _) = run(true);
    assert_eq!(s0[1].v_e[1], s[1].v_e[1]);
    // 0.005 · 17 · (−100 − v) with v ≈ −64.9 mV: about −3 mV.
    let dv = vr(s[2].v_e[1]) - vr(s0[2].v_e[1]);
    assert!((-3.1..-2.9).contains(&dv), "inhibition moved v by {dv} mV");
    // Frozen: the spike neither moves θ nor the weights.
    let mut d = Dyn::new(&f);
    d.set_clock(20);
    d.v_e = vec![vq(-51.0), vq(-65.0)];
    d.last_post[0] = 16;
    d.last_pre[1] = 18;
    let mut w = hand_weights();
    assert_eq!(core_step(&f, &mut w, false, &mut d, &[0]), 1);
    assert_eq!(d.theta, [0, 0]);
    assert_eq!(w, hand_weights());
}

#[test]
fn refractory_and_theta_gate_the_threshold() {
    let f = Fixed::new(&Physical::default(), 2, 2);
    let mut w = vec![0; 4];
    // Above −52 mV but θ = 2 mV: no spike (−51 − 0.07 < −50).
    let mut d = Dyn::new(&f);
    d.v_e = vec![vq(-51.0), vq(-65.0)];
    d.theta = vec![vq(2.0), 0];
    assert_eq!(core_step(&f, &mut w, true, &mut d, &[]), 0);
    // 0.005 · (−65 + 51) mV = −0.07 mV.
    assert_eq!(d.v_e[0], vq(-51.0) + (-0.07 * V1).round() as i32);
    // Refractory: held at reset whatever v was, counted down, and no spike on the step it ends.
    let mut d = Dyn::new(&f);
    d.v_e = vec![vq(-40.0), vq(-65.0)];
    d.refr_e = vec![2, 0];
    assert_eq!(core_step(&f, &mut w, true, &mut d, &[]), 0);
    assert_eq!((d.v_e[0], d.refr_e[0]), (vq(-65.0), 1));
    assert_eq!(core_step(&f, &mut w, true, &mut d, &[]), 0);
    assert_eq!((d.v_e[0], d.refr_e[0]), (vq(-65.0), 0));
}

#[test]
fn step_errors_are_named() {
    let f = Fixed::new(&Physical::default(), 2, 2);
    let mut d = Dyn::new(&f);
    let mut w = hand_weights();
    let mut dep = vec![(0, 0); 2];
    let mut wt = Weights::Plastic(&mut w);
    assert_eq!(
        step(&f.net(), &mut wt, &mut d.state(), &[2], &mut dep, None),
        Err(Error::OutOfRange("input spike"))
    );
    // Depression needs its list once a post trace can be live.
    let mut short = vec![(0, 0); 1];
    assert_eq!(
        step(&f.net(), &mut wt, &mut d.state(), &[0], &mut short, None),
        Err(Error::BufferTooSmall {
            what: "depression list",
            need: 2,
            got: 1
        })
    );
    let mut d = Dyn::new(&f);
    d.v_e.pop();
    assert_eq!(
        step(&f.net(), &mut wt, &mut d.state(), &[], &mut dep, None),
        Err(Error::ShapeMismatch(
            "network state does not match its neuron and input counts"
        ))
    );
}

/// With `dt = τ` (allowed: "τ must be at least dt"), `dt/τ` is `1 − 2⁻³²`; a conductance at
/// its saturation with a high excitatory reversal clamps the drive at `2³¹`: the potential
/// must rise to its upper bound (and spike), never wrap.
#[test]
fn a_saturated_drive_at_dt_equal_tau_rises() {
    let phys = with(|p| {
        p.exc.tau_ms = p.dt_ms;
        p.exc.e_exc = 300.0;
    });
    let n_in = 130;
    let f = Fixed::new(&phys, n_in, 1);
    assert_eq!(f.params.raw().exc.k, u32::MAX);
    let mut d = Dyn::new(&f);
    d.v_e[0] = vq(-65.0);
    let mut w = vec![W_ONE; n_in];
    let spikes: Vec<u16> = (0..n_in as u16).collect();
    // 130 weights of 1.0 saturate ge at i32::MAX (≈ 128): drive ≈ 128 · 365 mV, clamped.
    let fired = core_step(&f, &mut w, false, &mut d, &spikes);
    assert_eq!(fired, 1, "v {} mV", vr(d.v_e[0]));
    assert_eq!(d.v_e[0], vq(-65.0));
}

/// A column normalised to a large target (allowed up to 10⁶) saturates its weights at
/// `i32::MAX`; a potentiation there must clip at `w_max`, not wrap to a negative weight.
#[test]
fn potentiation_of_a_saturated_weight_clips() {
    let phys = with(|p| p.norm_sum = 1000.0);
    let f = Fixed::new(&phys, 2, 1);
    let mut w = vec![W_ONE, 0];
    let mut sums = vec![0; 1];
    normalize(&mut w, 1, f.params.raw().norm_sum, &mut sums).unwrap();
    assert_eq!(w, [i32::MAX, 0]);
    let mut d = Dyn::new(&f);
    d.set_clock(20);
    d.v_e[0] = vq(-51.0);
    d.last_post[0] = 18;
    core_step(&f, &mut w, true, &mut d, &[0]);
    assert_eq!(d.fired_e, [1]);
    assert_eq!(w, [W_ONE, 0], "clipped at w_max");
}

// =============================================================================================
// The f64 model of one step.

/// One population's constants in `f64`, from [`Physical`] (not from `Params`).
#[derive(Debug, Clone)]
struct RefPop {
    v_rest: f64,
    v_reset: f64,
    v_thresh: f64,
    k: f64,
    refrac: u32,
    e_exc: f64,
    e_inh: f64,
    ge_decay: f64,
    gi_decay: f64,
    lo: f64,
    hi: f64,
}

impl RefPop {
    /// `extra`: the initial potential, inside the clamp span too.
    fn new(p: &PhysicalNeurons, dt: f64, extra: f64) -> Self {
        Self {
            v_rest: p.v_rest,
            v_reset: p.v_reset,
            v_thresh: p.v_thresh,
            k: dt / p.tau_ms,
            refrac: (p.refrac_ms / dt).round() as u32,
            e_exc: p.e_exc,
            e_inh: p.e_inh,
            ge_decay: (-dt / p.tau_ge_ms).exp(),
            gi_decay: (-dt / p.tau_gi_ms).exp(),
            lo: p.e_inh.min(p.v_rest).min(p.v_reset).min(extra),
            hi: p.e_exc.max(p.v_rest).max(p.v_thresh).max(extra),
        }
    }

    /// Euler: `v + dt/τ ((v_rest − v) + ge (E_e − v) + gi (E_i − v))`, clamped to the span.
    fn integrate(&self, v: f64, ge: f64, gi: f64) -> f64 {
        let dv = self.k * ((self.v_rest - v) + ge * (self.e_exc - v) + gi * (self.e_inh - v));
        (v + dv).clamp(self.lo, self.hi)
    }
}

/// The network in `f64` (mV, real weights), stepping as the module docs describe.
#[derive(Debug, Clone)]
struct RefNet {
    exc: RefPop,
    inh: RefPop,
    w_ei: f64,
    w_ie: f64,
    theta_plus: f64,
    nu_pre: f64,
    nu_post: f64,
    /// Trace time constants in steps: pre, post1, post2.
    tau: [f64; 3],
    w_max: f64,
    n_in: usize,
    n: usize,
    w: Vec<f64>,
    v_e: Vec<f64>,
    ge_e: Vec<f64>,
    gi_e: Vec<f64>,
    refr_e: Vec<u32>,
    theta: Vec<f64>,
    last_post: Vec<Option<i64>>,
    fired_e: Vec<bool>,
    v_i: Vec<f64>,
    ge_i: Vec<f64>,
    refr_i: Vec<u32>,
    fired_i: Vec<bool>,
    last_pre: Vec<Option<i64>>,
    clock: i64,
    /// Error bound (LSB) each weight has gathered since the last synchronisation.
    budget: Vec<f64>,
}

/// What one reference step decided, and how close each decision was.
struct RefStep {
    exc: Vec<bool>,
    inh: Vec<bool>,
    /// Smallest `|v − threshold|` (mV) among the excitatory neurons that were tested.
    margin_e: f64,
    /// The same for the inhibitory ones.
    margin_i: f64,
}

/// Bound on the error of one depression (LSB): the floor of `ν_pre · x` (1), the rounding of
/// `ν_pre` (≤ 0.5 · x), the table's error times `ν_pre` (≤ 40 · 10⁻⁴).
const DEP_LSB: f64 = 1.51;
/// Bound on the error of one potentiation (LSB): `a = ν_post · post2` floors (1) with `ν_post`
/// rounded (≤ 0.5) and post2's table error times `ν_post` (≤ 80 · 10⁻² = 0.8); then `a · pre`
/// floors (1), carries `a`'s error (≤ 2.3) and pre's table error times `a` (≤ 40 · 10⁻²).
const POT_LSB: f64 = 4.71;

impl RefNet {
    /// A new network as `State::init` describes it, from the physical constants.
    fn new(p: &Physical, w: &[i32], n_in: usize, n: usize) -> Self {
        let v_init = p.exc.v_rest + p.v_init_offset;
        Self {
            exc: RefPop::new(&p.exc, p.dt_ms, v_init),
            inh: RefPop::new(&p.inh, p.dt_ms, p.inh.v_rest),
            w_ei: p.w_ei,
            w_ie: p.w_ie,
            theta_plus: p.theta_plus,
            nu_pre: p.nu_pre,
            nu_post: p.nu_post,
            tau: [
                p.tau_pre_ms / p.dt_ms,
                p.tau_post1_ms / p.dt_ms,
                p.tau_post2_ms / p.dt_ms,
            ],
            w_max: p.w_max,
            n_in,
            n,
            w: w.iter().map(|&x| wr(x)).collect(),
            v_e: vec![v_init; n],
            ge_e: vec![0.0; n],
            gi_e: vec![0.0; n],
            refr_e: vec![0; n],
            theta: vec![0.0; n],
            last_post: vec![None; n],
            fired_e: vec![false; n],
            v_i: vec![p.inh.v_rest; n],
            ge_i: vec![0.0; n],
            refr_i: vec![0; n],
            fired_i: vec![false; n],
            last_pre: vec![None; n_in],
            clock: 0,
            budget: vec![0.0; w.len()],
        }
    }

    /// Takes over the integer network's state (after a decision too close to call).
    fn sync(&mut self, d: &Dyn, w: &[i32]) {
        let last = |c: u32, l: u32| {
            let age = c.wrapping_sub(l);
            (age < NEVER).then(|| i64::from(c) - i64::from(age))
        };
        self.w = w.iter().map(|&x| wr(x)).collect();
        self.v_e = d.v_e.iter().map(|&x| vr(x)).collect();
        self.ge_e = d.ge_e.iter().map(|&x| wr(x)).collect();
        self.gi_e = d.gi_e.iter().map(|&x| vr(x)).collect();
        self.refr_e = d.refr_e.iter().map(|&x| u32::from(x)).collect();
        self.theta = d.theta.iter().map(|&x| vr(x)).collect();
        self.last_post = d.last_post.iter().map(|&l| last(d.clock, l)).collect();
        self.fired_e = d.fired_e.iter().map(|&x| x != 0).collect();
        self.v_i = d.v_i.iter().map(|&x| vr(x)).collect();
        self.ge_i = d.ge_i.iter().map(|&x| wr(x)).collect();
        self.refr_i = d.refr_i.iter().map(|&x| u32::from(x)).collect();
        self.fired_i = d.fired_i.iter().map(|&x| x != 0).collect();
        self.last_pre = d.last_pre.iter().map(|&l| last(d.clock, l)).collect();
        self.clock = i64::from(d.clock);
        self.budget.fill(0.0);
    }

    fn trace(&self, last: Option<i64>, which: usize) -> f64 {
        last.map_or(0.0, |l| {
            (-((self.clock - l) as f64) / self.tau[which]).exp()
        })
    }

    fn step(&mut self, spikes: &[usize], learn: bool) -> RefStep {
        let (n, t) = (self.n, self.clock);
        // 1. Input spikes: the row into ge, then depression by the first post trace.
        for &i in spikes {
            for j in 0..n {
                self.ge_e[j] += self.w[i * n + j];
                let x = self.trace(self.last_post[j], 1);
                if learn && x > 0.0 {
                    let w = &mut self.w[i * n + j];
                    *w = (*w - self.nu_pre * x).max(0.0);
                    self.budget[i * n + j] += DEP_LSB;
                }
            }
            self.last_pre[i] = Some(t);
        }
        // 2. Last step's spikes.
        let inh_spikes = self.fired_i.iter().filter(|&&f| f).count() as f64;
        for j in 0..n {
            if self.fired_e[j] {
                self.ge_i[j] += self.w_ei;
            }
            let others = inh_spikes - if self.fired_i[j] { 1.0 } else { 0.0 };
            self.gi_e[j] += self.w_ie * others;
        }
        // 3. Excitatory neurons.
        let mut margin_e = f64::INFINITY;
        for j in 0..n {
            if self.refr_e[j] > 0 {
                self.refr_e[j] -= 1;
                self.v_e[j] = self.exc.v_reset;
            } else {
                self.v_e[j] = self.exc.integrate(self.v_e[j], self.ge_e[j], self.gi_e[j]);
            }
            self.ge_e[j] *= self.exc.ge_decay;
            self.gi_e[j] *= self.exc.gi_decay;
            self.fired_e[j] = false;
            if self.refr_e[j] == 0 {
                let m = self.v_e[j] - (self.exc.v_thresh + self.theta[j]);
                margin_e = margin_e.min(m.abs());
                if m > 0.0 {
                    self.v_e[j] = self.exc.v_reset;
                    self.refr_e[j] = self.exc.refrac;
                    self.fired_e[j] = true;
                    if learn {
                        self.theta[j] += self.theta_plus;
                        let post2 = self.trace(self.last_post[j], 2);
                        for i in 0..self.n_in {
                            let pre = self.trace(self.last_pre[i], 0);
                            if pre > 0.0 && post2 > 0.0 {
                                let w = &mut self.w[i * n + j];
                                *w = (*w + self.nu_post * pre * post2).clamp(0.0, self.w_max);
                                self.budget[i * n + j] += POT_LSB;
                            }
                        }
                    }
                    self.last_post[j] = Some(t);
                }
            }
        }
        // 4. Inhibitory neurons.
        let mut margin_i = f64::INFINITY;
        for j in 0..n {
            if self.refr_i[j] > 0 {
                self.refr_i[j] -= 1;
                self.v_i[j] = self.inh.v_reset;
            } else {
                self.v_i[j] = self.inh.integrate(self.v_i[j], self.ge_i[j], 0.0);
            }
            self.ge_i[j] *= self.inh.ge_decay;
            self.fired_i[j] = false;
            if self.refr_i[j] == 0 {
                let m = self.v_i[j] - self.inh.v_thresh;
                margin_i = margin_i.min(m.abs());
                if m > 0.0 {
                    self.v_i[j] = self.inh.v_reset;
                    self.refr_i[j] = self.inh.refrac;
                    self.fired_i[j] = true;
                }
            }
        }
        self.clock += 1;
        RefStep {
            exc: self.fired_e.clone(),
            inh: self.fired_i.clone(),
            margin_e,
            margin_i,
        }
    }
}

fn max_err(core: &[i32], reference: &[f64], unit: f64) -> f64 {
    core.iter()
        .zip(reference)
        .map(|(&c, &r)| (f64::from(c) - r * unit).abs())
        .fold(0.0, f64::max)
}

/// Potential tolerance (LSB of Q16.16, excitatory). Each step rounds `dv` once (½ LSB) and
/// floors the two conductance products (≤ 2 LSB, times `dt/τ`); the conductances' own
/// errors (ge ≤ 3 LSB of Q8.24 from its floored decays plus the weight errors it carries, gi
/// ≤ 1/(1 − e^(−1/4)) = 4.5 LSB of Q16.16) enter times `dt/τ · |E − v|` ≤ 0.005 · 100 mV.
/// The error contracts by `1 − dt/τ (1 + ge + gi)` ≤ 1 − 0.005 a step, so it stays under
/// (½ + 0.01 + ≈ 1.2) / 0.005 ≈ 340 LSB ≈ 0.005 mV; resets to `v_reset` are exact.
const V_TOL_E: f64 = 350.0;
/// The same for the inhibitory population, with `dt/τ` = 0.05 and no gi: ≈ 35 LSB.
const V_TOL_I: f64 = 40.0;
/// ge tolerance (LSB of Q8.24) beyond the carried weight errors: floors decayed by e^(−1/2)
/// per step accumulate to ≤ 1/(1 − e^(−1/2)) = 2.54 (for the inhibitory neurons with w_ei's
/// rounding, 0.4 LSB a spike, decayed as fast).
const GE_TOL: f64 = 3.0;
/// gi tolerance (LSB of Q16.16): ≤ 1/(1 − e^(−1/4)) = 4.52.
const GI_TOL: f64 = 5.0;

/// The integer network against the f64 model for `steps` steps of random input spikes (each
/// input spiking with probability `rate` a step). Returns (resynchronisations, exc spikes,
/// inh spikes, largest v error in LSB).
fn track(
    seed: u64,
    n_in: usize,
    n: usize,
    steps: usize,
    rate: f64,
    learn: bool,
) -> (usize, usize, usize, f64) {
    let phys = Physical::default();
    let f = Fixed::new(&phys, n_in, n);
    let mut w = random_weights(seed, n_in * n, 0.0, 0.6);
    let mut d = Dyn::new(&f);
    let mut r = RefNet::new(&phys, &w, n_in, n);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let (mut resyncs, mut exc, mut inh, mut worst_v) = (0, 0, 0, 0.0f64);
    for s in 0..steps {
        let spikes: Vec<usize> = (0..n_in).filter(|_| rng.next_f64() < rate).collect();
        let sp16: Vec<u16> = spikes.iter().map(|&i| i as u16).collect();
        let fired = core_step(&f, &mut w, learn, &mut d, &sp16);
        let rs = r.step(&spikes, learn);
        if rs.margin_e * V1 <= V_TOL_E || rs.margin_i * V1 <= V_TOL_I {
            // Too close to call: the two may decide differently; continue from the core.
            resyncs += 1;
            r.sync(&d, &w);
            continue;
        }
        let fe: Vec<bool> = d.fired_e.iter().map(|&x| x != 0).collect();
        let fi: Vec<bool> = d.fired_i.iter().map(|&x| x != 0).collect();
        assert_eq!(fe, rs.exc, "seed {seed} step {s}: excitatory spikes");
        assert_eq!(fi, rs.inh, "seed {seed} step {s}: inhibitory spikes");
        assert_eq!(fired as usize, fe.iter().filter(|&&x| x).count());
        exc += fired as usize;
        inh += fi.iter().filter(|&&x| x).count();
        let ev = max_err(&d.v_e, &r.v_e, V1);
        worst_v = worst_v.max(ev);
        assert!(ev <= V_TOL_E, "seed {seed} step {s}: v_e error {ev} LSB");
        let evi = max_err(&d.v_i, &r.v_i, V1);
        assert!(evi <= V_TOL_I, "seed {seed} step {s}: v_i error {evi} LSB");
        let wmax_budget = r.budget.iter().copied().fold(0.0, f64::max);
        for (j, (&c, &x)) in w.iter().zip(&r.w).enumerate() {
            let e = (f64::from(c) - x * W1).abs();
            assert!(
                e <= r.budget[j] + 0.5,
                "seed {seed} step {s}: weight {j} error {e} LSB, budget {}",
                r.budget[j]
            );
        }
        // ge carries the weights it was given: at most n_in · 2.54 times the worst weight error.
        let ge_tol = GE_TOL + 2.6 * n_in as f64 * (wmax_budget + 0.5);
        let eg = max_err(&d.ge_e, &r.ge_e, W1);
        assert!(eg <= ge_tol, "seed {seed} step {s}: ge_e error {eg} LSB");
        let egi = max_err(&d.ge_i, &r.ge_i, W1);
        assert!(egi <= GE_TOL, "seed {seed} step {s}: ge_i error {egi} LSB");
        let egs = max_err(&d.gi_e, &r.gi_e, V1);
        assert!(egs <= GI_TOL, "seed {seed} step {s}: gi_e error {egs} LSB");
        // θ is a count of increments: 3277 LSB each against 0.05 mV = 3276.8 LSB.
        for (&c, &x) in d.theta.iter().zip(&r.theta) {
            let spikes = (x / r.theta_plus).round();
            let e = (f64::from(c) - x * V1).abs();
            assert!(
                e <= 0.2 * spikes + 1e-6,
                "seed {seed} step {s}: θ error {e} LSB"
            );
        }
        assert_eq!(
            d.refr_e,
            r.refr_e.iter().map(|&x| x as u16).collect::<Vec<_>>()
        );
        assert_eq!(
            d.refr_i,
            r.refr_i.iter().map(|&x| x as u16).collect::<Vec<_>>()
        );
    }
    (resyncs, exc, inh, worst_v)
}

/// Random networks (12 inputs × 3 neurons and 40 × 8, the latter with its inputs at a
/// quarter of the rate) for 3000 steps (three presentations and their rests), frozen and
/// learning: spikes equal at every step whose decisions are clear of the thresholds by more
/// than the potential tolerance (the others resynchronise the model: at most 1 % of steps),
/// and every quantity within its bound above.
#[test]
fn steps_track_the_f64_model() {
    for seed in 0..8u64 {
        for learn in [false, true] {
            for (n_in, n, rate) in [(12, 3, 0.15), (40, 8, 0.04)] {
                let steps = 3000;
                let (resyncs, exc, inh, worst) = track(seed, n_in, n, steps, rate, learn);
                assert!(
                    resyncs <= steps / 100,
                    "seed {seed}: {resyncs} resynchronisations"
                );
                assert!(
                    exc >= 40 && inh >= 40,
                    "seed {seed}: too few spikes ({exc}, {inh}) to test (worst v error {worst} LSB)"
                );
            }
        }
    }
}

// =============================================================================================
// Normalisation.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Each weight of a column with a positive sum `s` ends within `½ + w/2³²` LSB of
    /// `w · target / s` (the factor `⌊target · 2³² / s⌋` truncates by < 1, which costs
    /// `w / 2³²`; the product rounds by ≤ ½), so the column sums to `target` within
    /// `n_in / 2 + s / 2³²`; zero columns are left alone.
    #[test]
    fn normalize_reaches_the_target_within_rounding(
        n_in in 1usize..80,
        n in 1usize..6,
        seed: u64,
        target in 1i64..=i64::from(i32::MAX),
        zero_cols: u8,
        sparse in 0.0f64..0.9,
        scale in prop_oneof![Just(1i32), Just(1000), Just(W_ONE), Just(i32::MAX / 80)],
    ) {
        let mut rng = Rng::new(seed);
        let mut w: Vec<i32> = (0..n_in * n)
            .map(|k| {
                let zero = zero_cols & (1 << (k % n)) != 0 || rng.next_f64() < sparse;
                if zero { 0 } else { (rng.next_f64() * f64::from(scale)) as i32 }
            })
            .collect();
        let orig = w.clone();
        let mut sums = vec![-1i64; n + 2];
        normalize(&mut w, n, target, &mut sums).unwrap();
        let t = target as f64;
        for j in 0..n {
            let col: Vec<i64> = (0..n_in).map(|i| i64::from(orig[i * n + j])).collect();
            let s: i64 = col.iter().sum();
            if s == 0 {
                for i in 0..n_in {
                    prop_assert_eq!(w[i * n + j], orig[i * n + j]);
                }
                continue;
            }
            let mut got = 0i64;
            for i in 0..n_in {
                let x = col[i] as f64;
                let exact = x * t / s as f64;
                let e = (f64::from(w[i * n + j]) - exact).abs();
                prop_assert!(e <= 0.5 + x / Q32 + 1e-6, "weight ({}, {}): {} vs {}", i, j, w[i * n + j], exact);
                got += i64::from(w[i * n + j]);
            }
            let bound = n_in as f64 / 2.0 + s as f64 / Q32;
            prop_assert!(((got - target) as f64).abs() <= bound, "column {}: sum {} vs {}, bound {}", j, got, target, bound);
        }
    }
}

#[test]
fn normalize_by_hand_and_errors() {
    // One neuron, weights 1, 2, 5 (sum 8) to target 16: doubled exactly.
    let mut w = vec![1, 2, 5];
    let mut sums = vec![0; 1];
    normalize(&mut w, 1, 16, &mut sums).unwrap();
    assert_eq!(w, [2, 4, 10]);
    // Two neurons: column 0 = [1, 1, 1] to 10 → 3.33 each (factor ⌊10 · 2³² / 3⌋), rounded to 3;
    // column 1 is zero and stays.
    let mut w = vec![1, 0, 1, 0, 1, 0];
    let mut sums = vec![0; 2];
    normalize(&mut w, 2, 10, &mut sums).unwrap();
    assert_eq!(w, [3, 0, 3, 0, 3, 0]);
    // The authors' target: 784 weights of 0.15 (sum 117.6) to 78 → 0.0995 each.
    let mut w = vec![wq(0.15); 784];
    let mut sums = vec![0; 1];
    normalize(&mut w, 1, 78 << 24, &mut sums).unwrap();
    let s: i64 = w.iter().map(|&x| i64::from(x)).sum();
    assert!((s - (78 << 24)).abs() <= 392);
    assert!((wr(w[0]) - 78.0 / 784.0).abs() < 1e-6);
    // Shapes.
    let mut sums = vec![0; 4];
    let shape = Err(Error::ShapeMismatch("weights are not inputs × neurons"));
    assert_eq!(normalize(&mut [1, 2, 3], 2, 10, &mut sums), shape);
    assert_eq!(normalize(&mut [1, 2, 3], 0, 10, &mut sums), shape);
    assert_eq!(normalize(&mut [], 1, 10, &mut sums), shape);
    assert_eq!(
        normalize(&mut [1, 2, 3, 4, 5, 6], 3, 10, &mut [0; 2]),
        Err(Error::BufferTooSmall {
            what: "column sums",
            need: 3,
            got: 2
        })
    );
}

// =============================================================================================
// Poisson inputs.

#[test]
fn poisson_unit_and_probabilities() {
    // pixel / 8 Hz at 0.5 ms: 6.25 · 10⁻⁵ · 2³² = 268 435.456.
    let u = PoissonUnit::new(0.125, 0.5).unwrap();
    assert_eq!(u, PoissonUnit(268_435));
    assert_eq!(u.probability(0, 2), 0);
    assert_eq!(u.probability(200, 0), 0);
    assert_eq!(u.probability(1, 1), 268_435);
    // 255 at intensity 2: 63.75 Hz, p = 0.031875 a step (the unit's rounding, 0.456 LSB, costs
    // 510 · 0.456 / 2³² = 5.4 · 10⁻⁸).
    let p = f64::from(u.probability(255, 2)) / Q32;
    assert!((p - 0.031875).abs() < 6e-8, "{p}");
    // Saturates just below 1.
    let big = PoissonUnit::new(1.0, 1.0).unwrap();
    assert_eq!(big.probability(255, 255), u32::MAX);
    let msg = "Poisson rate per pixel level × dt must be in (0, 1)";
    for (rate, dt) in [
        (0.0, 0.5),
        (-1.0, 0.5),
        (f64::NAN, 0.5),
        (f64::INFINITY, 0.5),
        (2000.0, 0.5),
        (0.125, -0.5),
    ] {
        assert_eq!(PoissonUnit::new(rate, dt), Err(Error::InvalidParam(msg)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Probabilities are `pixel · intensity · unit` up to saturation, 0 for a 0 pixel or a 0
    /// intensity, and non-decreasing in both.
    #[test]
    fn probabilities_are_monotone(unit in 1u32..20_000_000, px in 0u8..=255, int in 0u8..=255) {
        let u = PoissonUnit(unit);
        let p = u.probability(px, int);
        let exact = f64::from(px) * f64::from(int) * f64::from(unit);
        prop_assert_eq!(f64::from(p), exact.min(f64::from(u32::MAX)));
        if px < 255 {
            prop_assert!(u.probability(px + 1, int) >= p);
        }
        if int < 255 {
            prop_assert!(u.probability(px, int + 1) >= p);
        }
        if px == 0 || int == 0 {
            prop_assert_eq!(p, 0);
        }
    }
}

#[test]
fn active_inputs_by_hand_and_errors() {
    let u = PoissonUnit(1000);
    let mut out = vec![(9, 9); 4];
    let k = poisson::active_inputs(u, &[0, 3, 0, 255, 1], 2, &mut out).unwrap();
    assert_eq!(k, 3);
    assert_eq!(&out[..3], &[(1, 6000), (3, 510_000), (4, 2000)]);
    // Exactly as many slots as non-zero pixels is enough.
    assert_eq!(
        poisson::active_inputs(u, &[0, 3, 0, 255, 1], 2, &mut out[..3]),
        Ok(3)
    );
    assert_eq!(
        poisson::active_inputs(u, &[0, 3, 0, 255, 1], 2, &mut out[..2]),
        Err(Error::BufferTooSmall {
            what: "active Poisson inputs",
            need: 3,
            got: 2
        })
    );
    assert_eq!(poisson::active_inputs(u, &[0; 10], 2, &mut []), Ok(0));
    let big = vec![0u8; 65_537];
    assert_eq!(
        poisson::active_inputs(u, &big, 1, &mut []),
        Err(Error::InvalidParam("more than 65,536 Poisson inputs"))
    );
    assert!(poisson::active_inputs(u, &big[..65_536], 1, &mut []).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Over 4000 steps each active input spikes at its probability `p / 2³²` within 5
    /// binomial standard deviations (plus 1 for the discreteness); spikes come in pixel
    /// order, only from active inputs; one draw per active input per step, so the generator
    /// ends where a fresh one advanced `steps · active` times does.
    #[test]
    fn draw_rates_match_probabilities(
        pixels in prop::collection::vec(prop_oneof![Just(0u8), 1u8..=255], 1..12),
        unit in 1_000u32..4_000_000,
        intensity in 1u8..8,
        seed: u64,
    ) {
        let u = PoissonUnit(unit);
        let mut active = vec![(0, 0); pixels.len()];
        let na = poisson::active_inputs(u, &pixels, intensity, &mut active).unwrap();
        let active = &active[..na];
        let steps = 4000;
        let mut rng = Rng::new(seed);
        let mut counts = vec![0u32; pixels.len()];
        let mut spikes = vec![0u16; na];
        for _ in 0..steps {
            let k = poisson::draw(&mut rng, active, &mut spikes).unwrap();
            prop_assert!(spikes[..k].windows(2).all(|p| p[0] < p[1]));
            for &i in &spikes[..k] {
                counts[usize::from(i)] += 1;
            }
        }
        for (i, &px) in pixels.iter().enumerate() {
            let p = f64::from(u.probability(px, intensity)) / Q32;
            let mean = steps as f64 * p;
            let sd = (steps as f64 * p * (1.0 - p)).sqrt();
            let c = f64::from(counts[i]);
            prop_assert!((c - mean).abs() <= 5.0 * sd + 1.0, "input {}: {} spikes, expected {} ± {}", i, c, mean, sd);
            if px == 0 {
                prop_assert_eq!(counts[i], 0);
            }
        }
        let mut fresh = Rng::new(seed);
        for _ in 0..steps * na {
            fresh.next_u64();
        }
        prop_assert_eq!(rng, fresh);
    }
}

#[test]
fn draw_edges_and_determinism() {
    let active = [(0u16, 0u32), (5, u32::MAX), (7, 1 << 31)];
    let mut spikes = vec![0u16; 3];
    let mut a = Rng::new(42);
    let mut b = Rng::new(42);
    let (mut never, mut always) = (0, 0);
    for _ in 0..2000 {
        let k = poisson::draw(&mut a, &active, &mut spikes).unwrap();
        let s1 = spikes[..k].to_vec();
        let k2 = poisson::draw(&mut b, &active, &mut spikes).unwrap();
        assert_eq!(s1, &spikes[..k2], "same seed, same spikes");
        never += s1.contains(&0) as u32;
        always += s1.contains(&5) as u32;
    }
    assert_eq!(never, 0, "p = 0 never spikes");
    assert_eq!(
        always, 2000,
        "p = 1 − 2⁻³² spikes (but for one draw in 2³²)"
    );
    // Another seed, another stream.
    let mut c = Rng::new(43);
    let mut d = Rng::new(42);
    let mut differ = false;
    for _ in 0..50 {
        let k = poisson::draw(&mut c, &active, &mut spikes).unwrap();
        let s1 = spikes[..k].to_vec();
        let k2 = poisson::draw(&mut d, &active, &mut spikes).unwrap();
        differ |= s1 != spikes[..k2];
    }
    assert!(differ);
    assert_eq!(
        poisson::draw(&mut a, &active, &mut [0; 2]),
        Err(Error::BufferTooSmall {
            what: "Poisson spikes",
            need: 3,
            got: 2
        })
    );
    assert_eq!(poisson::draw(&mut a, &[], &mut []), Ok(0));
}

// =============================================================================================
// Label assignment.

/// Four neurons, three classes, five labelled samples.
fn hand_responses() -> (Vec<u32>, Vec<u32>) {
    let mut resp = vec![0u32; 12];
    let mut class_n = vec![0u32; 3];
    for (counts, label) in [
        ([4, 0, 1, 0], 0),
        ([2, 0, 1, 0], 0),
        ([0, 3, 1, 0], 1),
        ([1, 3, 2, 0], 2),
        ([0, 3, 0, 0], 2),
    ] {
        assign::accumulate(&mut resp, &mut class_n, &counts, label).unwrap();
    }
    (resp, class_n)
}

#[test]
fn accumulate_and_assign_by_hand() {
    let (resp, class_n) = hand_responses();
    // Neuron-major sums per class, and samples per class.
    assert_eq!(resp, [6, 0, 1, 0, 3, 6, 2, 1, 2, 0, 0, 0]);
    assert_eq!(class_n, [2, 1, 2]);
    // Means: n0 [3, 0, ½] → 0; n1 [0, 3, 3] → tie, the lower class 1; n2 [1, 1, 1] → 0;
    // n3 never answered → unassigned.
    let mut a = vec![7u8; 4];
    assign::assign(&resp, &class_n, &mut a).unwrap();
    assert_eq!(a, [0, 1, 0, UNASSIGNED]);
    // Means are compared as fractions: 2/3 > 3/5, 2/3 < 4/5; a class without samples is no
    // candidate, however large its sum.
    let mut a = vec![0u8; 1];
    assign::assign(&[2, 3], &[3, 5], &mut a).unwrap();
    assert_eq!(a, [0]);
    assign::assign(&[2, 4], &[3, 5], &mut a).unwrap();
    assert_eq!(a, [1]);
    assign::assign(&[5, 1], &[0, 2], &mut a).unwrap();
    assert_eq!(a, [1]);
    assign::assign(&[5, 0], &[0, 2], &mut a).unwrap();
    assert_eq!(a, [UNASSIGNED]);
    // Saturating sums.
    let mut resp = vec![u32::MAX - 1, 0];
    let mut class_n = vec![0, 0];
    assign::accumulate(&mut resp, &mut class_n, &[5], 0).unwrap();
    assert_eq!((resp[0], class_n[0]), (u32::MAX, 1));
}

#[test]
fn proportions_by_hand() {
    let (resp, class_n) = hand_responses();
    let mut p = vec![9u32; 12];
    assign::proportions(&resp, &class_n, &mut p).unwrap();
    // Means in Q16 then shares in Q16: n0 [3, 0, ½] of 3.5 → 0.857 14 · 2¹⁶ = 56 173.7 and
    // 0.142 86 · 2¹⁶ = 9362.3; n1 halves; n2 thirds (21 845.3); n3 zeros.
    assert_eq!(
        p,
        [
            56_173, 0, 9362, 0, 32_768, 32_768, 21_845, 21_845, 21_845, 0, 0, 0
        ]
    );
    assert_eq!(PROP_FRAC, 16);
}

#[test]
fn predict_by_hand_both_votes() {
    let (resp, class_n) = hand_responses();
    let mut a = vec![0u8; 4];
    assign::assign(&resp, &class_n, &mut a).unwrap();
    let mut p = vec![0u32; 12];
    assign::proportions(&resp, &class_n, &mut p).unwrap();
    let mut scores = vec![0u64; 6];
    let all =
        |counts: &[u32], scores: &mut [u64]| assign::predict(counts, &a, None, scores).unwrap();
    // All activity: the mean count of each class's neurons (class 2 has none; n3 no vote).
    // [3, 5, 1, 100]: class 0 (3 + 1)/2 = 2, class 1 5 → 1.
    assert_eq!(all(&[3, 5, 1, 100], &mut scores), Some(1));
    // [6, 5, 5, 0]: 5.5 against 5 → 0; [4, 5, 6, 0]: 5 against 5, the lower class → 0.
    assert_eq!(all(&[6, 5, 5, 0], &mut scores), Some(0));
    assert_eq!(all(&[4, 5, 6, 0], &mut scores), Some(0));
    // [0, 3, 8, 0]: 4 against 3 → 0 by all activity, but weighted by proportions class 0
    // scores (8 · 21 845)/2 = 87 380 and class 1 3 · 32 768 = 98 304 → 1.
    assert_eq!(all(&[0, 3, 8, 0], &mut scores), Some(0));
    assert_eq!(
        assign::predict(&[0, 3, 8, 0], &a, Some(&p), &mut scores),
        Ok(Some(1))
    );
    // [3, 5, 1, 100] weighted: (3 · 56 173 + 21 845)/2 = 95 182 against 163 840 → 1.
    assert_eq!(
        assign::predict(&[3, 5, 1, 100], &a, Some(&p), &mut scores),
        Ok(Some(1))
    );
    // No class has a neuron.
    assert_eq!(
        assign::predict(&[1, 2], &[UNASSIGNED, UNASSIGNED], None, &mut scores),
        Ok(None)
    );
    // An assignment beyond the classes takes no part either.
    assert_eq!(
        assign::predict(&[9, 1], &[7, 2], None, &mut scores),
        Ok(Some(2))
    );
}

#[test]
fn assignment_errors_are_named() {
    let (mut resp, mut class_n) = hand_responses();
    assert_eq!(
        assign::accumulate(&mut resp, &mut class_n, &[1, 2, 3, 4], 3),
        Err(Error::OutOfRange("label"))
    );
    assert_eq!(
        assign::accumulate(&mut resp[..11], &mut class_n, &[1, 2, 3, 4], 0),
        Err(Error::BufferTooSmall {
            what: "responses",
            need: 12,
            got: 11
        })
    );
    let mut a = vec![0u8; 4];
    let classes = Err(Error::InvalidParam("classes must be in 1..=254"));
    assert_eq!(assign::assign(&resp, &[], &mut a), classes);
    assert_eq!(
        assign::assign(&vec![0; 4 * 255], &[1; 255], &mut a),
        classes
    );
    assert!(assign::assign(&vec![0; 4 * 254], &[1; 254], &mut a).is_ok());
    assert_eq!(
        assign::assign(&resp[..11], &class_n, &mut a),
        Err(Error::BufferTooSmall {
            what: "responses",
            need: 12,
            got: 11
        })
    );
    let shape = Err(Error::ShapeMismatch(
        "proportions are not neurons × classes",
    ));
    assert_eq!(assign::proportions(&resp, &[], &mut [0; 12]), shape);
    assert_eq!(assign::proportions(&resp, &class_n, &mut [0; 11]), shape);
    assert_eq!(
        assign::proportions(&resp[..9], &class_n, &mut [0; 12]),
        Err(Error::BufferTooSmall {
            what: "responses",
            need: 12,
            got: 9
        })
    );
    let assigned = [0u8, 1, 0, UNASSIGNED];
    assert_eq!(
        assign::predict(&[1, 2, 3, 4], &assigned, None, &mut [0; 1]),
        Err(Error::BufferTooSmall {
            what: "class scores",
            need: 2,
            got: 1
        })
    );
    assert_eq!(
        assign::predict(&[1, 2, 3], &assigned, None, &mut [0; 6]),
        Err(Error::ShapeMismatch(
            "assignments and counts differ in length"
        ))
    );
    assert_eq!(
        assign::predict(&[1, 2, 3, 4], &assigned, Some(&[0; 11]), &mut [0; 6]),
        Err(Error::ShapeMismatch(
            "proportions are not neurons × classes"
        ))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Against means in `f64` (exact enough: numerators and denominators below 1000 keep
    /// distinct means ≥ 10⁻⁶ apart): each neuron takes the first class of highest positive
    /// mean, or none; proportions are the shares of the means (within the bound of their Q16
    /// floors); the
    /// vote is the first class of highest mean count among its assigned neurons.
    #[test]
    fn assign_and_predict_match_f64_means(
        n in 1usize..8,
        c in 1usize..6,
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let resp: Vec<u32> = (0..n * c).map(|_| if rng.below(3) == 0 { 0 } else { rng.below(1000) as u32 }).collect();
        let class_n: Vec<u32> = (0..c).map(|_| rng.below(1000) as u32).collect();
        let mut a = vec![0u8; n];
        assign::assign(&resp, &class_n, &mut a).unwrap();
        let mut p = vec![0u32; n * c];
        assign::proportions(&resp, &class_n, &mut p).unwrap();
        for j in 0..n {
            let means: Vec<f64> = (0..c)
                .map(|k| if class_n[k] == 0 { 0.0 } else { f64::from(resp[j * c + k]) / f64::from(class_n[k]) })
                .collect();
            let best = means.iter().copied().fold(0.0, f64::max);
            let expect = if best > 0.0 { means.iter().position(|&m| m == best).unwrap() as u8 } else { UNASSIGNED };
            prop_assert_eq!(a[j], expect, "neuron {}: means {:?}", j, means);
            let total: f64 = means.iter().sum();
            // The means are floored to Q16 first (< 1 LSB each, of a total of `2¹⁶ total`),
            // which moves a share by < 2¹⁶ (1 + c) / (2¹⁶ total) LSB; the share floors once.
            let tol = 1.0 + (1.0 + c as f64) / total.max(1e-9);
            for k in 0..c {
                let share = if total > 0.0 { means[k] / total * 65_536.0 } else { 0.0 };
                prop_assert!((f64::from(p[j * c + k]) - share).abs() <= tol, "share {} vs {}", p[j * c + k], share);
            }
        }
        let counts: Vec<u32> = (0..n).map(|_| rng.below(50) as u32).collect();
        let mut scores = vec![0u64; 2 * c];
        let got = assign::predict(&counts, &a, None, &mut scores).unwrap();
        let mut best: Option<(usize, f64)> = None;
        for k in 0..c {
            let members: Vec<usize> = (0..n).filter(|&j| usize::from(a[j]) == k).collect();
            if members.is_empty() {
                continue;
            }
            let mean = members.iter().map(|&j| f64::from(counts[j])).sum::<f64>() / members.len() as f64;
            if best.is_none_or(|(_, m)| mean > m) {
                best = Some((k, mean));
            }
        }
        prop_assert_eq!(got, best.map(|(k, _)| k as u8));
    }
}

// =============================================================================================
// Whole digits.

/// A 6 × 6 image: the top half (`top`) or the bottom half lit at 255.
fn half(top: bool) -> Vec<u8> {
    (0..36)
        .map(|i| if (i < 18) == top { 255 } else { 0 })
        .collect()
}

/// Expected input spikes (mean, variance) of `steps` steps of `pixels` at `intensity`.
fn input_moments(unit: PoissonUnit, pixels: &[u8], intensity: u8, steps: u32) -> (f64, f64) {
    pixels.iter().fold((0.0, 0.0), |(m, v), &px| {
        let p = f64::from(unit.probability(px, intensity)) / Q32;
        let s = f64::from(steps);
        (m + s * p, v + s * p * (1.0 - p))
    })
}

#[test]
fn a_silent_network_is_presented_up_to_max_intensity() {
    for (intensity, max_intensity) in [(2u8, 32u8), (5, 9), (4, 4)] {
        let phys = with(|p| {
            p.intensity = intensity;
            p.max_intensity = max_intensity;
        });
        let f = Fixed::new(&phys, 36, 2);
        let r = *f.params.raw();
        let pixels = half(true);
        for learn in [false, true] {
            let mut w = vec![0i32; 36 * 2];
            let mut d = Dyn::new(&f);
            let mut counts = vec![9u32; 2];
            let out = core_sample(
                &f,
                &mut w,
                learn,
                &mut d,
                &pixels,
                &mut Rng::new(3),
                &mut counts,
            );
            let shown = u32::from(max_intensity - intensity) + 1;
            assert_eq!(
                out.presentations, shown,
                "intensity {intensity}..={max_intensity}"
            );
            assert_eq!(out.spikes, 0);
            assert_eq!(counts, [0, 0]);
            // Inputs drawn at every intensity from the first to the last.
            let (m, v) = (intensity..=max_intensity)
                .map(|i| input_moments(r.unit, &pixels, i, r.steps_on))
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            let got = f64::from(out.input_spikes);
            assert!(
                (got - m).abs() <= 5.0 * v.sqrt() + 1.0,
                "{got} input spikes, expected {m} ± {}",
                v.sqrt()
            );
            // Zero weights: nothing to normalise, nothing learnt, θ stays 0.
            assert!(w.iter().all(|&x| x == 0));
            assert_eq!(d.theta, [0, 0]);
            assert_eq!(d.clock, shown * (r.steps_on + r.steps_rest));
        }
    }
}

#[test]
fn a_responsive_network_is_presented_once() {
    let phys = Physical::default();
    let f = Fixed::new(&phys, 36, 2);
    let mut w = vec![W_ONE; 36 * 2];
    let mut d = Dyn::new(&f);
    let mut counts = vec![0u32; 2];
    let out = core_sample(
        &f,
        &mut w,
        false,
        &mut d,
        &half(true),
        &mut Rng::new(1),
        &mut counts,
    );
    assert_eq!(out.presentations, 1);
    assert!(out.spikes >= 5, "{out:?}");
    assert_eq!(out.spikes, counts.iter().sum::<u32>());
    // The first presentation's inputs only: at intensity 2.
    let (m, v) = input_moments(f.params.raw().unit, &half(true), 2, 700);
    assert!((f64::from(out.input_spikes) - m).abs() <= 5.0 * v.sqrt() + 1.0);
}

/// The constants of the learning tests: 36 inputs with weights summing to 7.2 (0.2 each, so
/// normalised weights stay below w_max) and inputs 4× the authors' rate.
fn learning_physical() -> Physical {
    with(|p| {
        p.norm_sum = 7.2;
        p.rate_per_level_hz = 0.5;
    })
}

#[test]
fn a_plastic_digit_normalises_then_learns() {
    // One presentation (min_spikes 0) and no rest, so `counts` holds every spike of the digit.
    let phys = with(|p| {
        *p = learning_physical();
        p.min_spikes = 0;
        p.rest_ms = 0.0;
    });
    let (n_in, n) = (36, 4);
    let f = Fixed::new(&phys, n_in, n);
    let r = *f.params.raw();
    let mut w = random_weights(11, n_in * n, 0.05, 0.35);
    let mut d = Dyn::new(&f);
    let theta0 = vec![0, vq(1.0), vq(2.5), 17];
    d.theta = theta0.clone();
    let mut counts = vec![0u32; n];
    let out = core_sample(
        &f,
        &mut w,
        true,
        &mut d,
        &half(true),
        &mut Rng::new(5),
        &mut counts,
    );
    assert_eq!(out.presentations, 1);
    assert!(out.spikes > 0, "nothing learnt: {out:?}");
    // θ: + 0.05 mV (3277 LSB) per spike, then one closed-form decay over 350 ms (the floor
    // takes < 1 LSB).
    let decay = (-350.0f64 / 1e7).exp();
    for j in 0..n {
        let expect = (f64::from(theta0[j]) + f64::from(counts[j]) * 3277.0) * decay;
        let e = expect - f64::from(d.theta[j]);
        assert!(
            (0.0..1.0 + 1e-6).contains(&e),
            "θ[{j}] = {} vs {expect}",
            d.theta[j]
        );
    }
    // Weights: bounded; a neuron that never spiked keeps its normalised column (it has no
    // trace to be depressed by): Σ within n_in/2 + 1 LSB of 7.2; one that spiked gained at most
    // ν_post per input and spike and lost at most ν_pre per input spike.
    assert!(w.iter().all(|&x| (0..=W_ONE).contains(&x)));
    let target = 7.2 * W1;
    for j in 0..n {
        let s: f64 = (0..n_in).map(|i| f64::from(w[i * n + j])).sum();
        let slack = n_in as f64 / 2.0 + 1.0;
        let up = f64::from(counts[j]) * n_in as f64 * f64::from(r.nu_post);
        let down = f64::from(out.input_spikes) * f64::from(r.nu_pre);
        assert!(
            s >= target - slack - down && s <= target + slack + up,
            "column {j}: Σ = {} (counts {counts:?})",
            s / W1
        );
        if counts[j] == 0 {
            assert!((s - target).abs() <= slack, "column {j}: Σ = {}", s / W1);
        }
    }
    // STDP off (ν = 0) but plastic: the weights are exactly the normalised ones, each within
    // ½ + w/2³² LSB of w · 7.2 / Σw.
    let phys0 = with(|p| {
        *p = phys;
        p.nu_pre = 0.0;
        p.nu_post = 0.0;
    });
    let f0 = Fixed::new(&phys0, n_in, n);
    let w_init = random_weights(11, n_in * n, 0.05, 0.35);
    let mut w = w_init.clone();
    let mut d = Dyn::new(&f0);
    core_sample(
        &f0,
        &mut w,
        true,
        &mut d,
        &half(true),
        &mut Rng::new(5),
        &mut counts,
    );
    for j in 0..n {
        let s: f64 = (0..n_in).map(|i| f64::from(w_init[i * n + j])).sum();
        for i in 0..n_in {
            let x = f64::from(w_init[i * n + j]);
            let e = (f64::from(w[i * n + j]) - x * target / s).abs();
            assert!(e <= 0.5 + x / Q32 + 1e-6, "weight ({i}, {j})");
        }
    }
}

#[test]
fn a_frozen_digit_changes_neither_weights_nor_theta() {
    let phys = learning_physical();
    let f = Fixed::new(&phys, 36, 4);
    let w0 = random_weights(2, 36 * 4, 0.05, 0.35);
    let mut w = w0.clone();
    let mut d = Dyn::new(&f);
    d.theta = vec![vq(0.5), 0, vq(3.0), 1];
    let theta0 = d.theta.clone();
    let start = d.clone();
    let mut counts = vec![0u32; 4];
    let out = core_sample(
        &f,
        &mut w,
        false,
        &mut d,
        &half(false),
        &mut Rng::new(9),
        &mut counts,
    );
    assert!(out.spikes > 0);
    assert_eq!(w, w0, "frozen weights are not normalised either");
    assert_eq!(d.theta, theta0, "no θ increment, no θ decay");
    // Deterministic per seed: the same state and seed give the same digit.
    let mut d2 = start.clone();
    let mut counts2 = vec![0u32; 4];
    let out2 = core_sample(
        &f,
        &mut w,
        false,
        &mut d2,
        &half(false),
        &mut Rng::new(9),
        &mut counts2,
    );
    assert_eq!((out2, &counts2, &d2), (out, &counts, &d));
    // After `rest` (θ kept) a digit does not depend on the one before.
    let mut d3 = start;
    let mut junk = vec![0u32; 4];
    core_sample(
        &f,
        &mut w,
        false,
        &mut d3,
        &half(true),
        &mut Rng::new(4),
        &mut junk,
    );
    d3.state().rest(&f.params);
    assert_eq!(d3.theta, theta0);
    assert_eq!(d3.clock, 0);
    let mut d4 = Dyn::new(&f);
    d4.theta = theta0.clone();
    d4.state().rest(&f.params);
    assert_eq!(d3, d4);
}

#[test]
fn the_clock_can_wrap() {
    let phys = learning_physical();
    let f = Fixed::new(&phys, 36, 4);
    let mut wa = random_weights(8, 36 * 4, 0.05, 0.35);
    let mut wb = wa.clone();
    let mut a = Dyn::new(&f);
    let mut b = a.clone();
    b.set_clock(u32::MAX - 1500);
    for (k, top) in [true, false, true].into_iter().enumerate() {
        let (mut ca, mut cb) = (vec![0u32; 4], vec![0u32; 4]);
        let oa = core_sample(
            &f,
            &mut wa,
            true,
            &mut a,
            &half(top),
            &mut Rng::new(k as u64),
            &mut ca,
        );
        let ob = core_sample(
            &f,
            &mut wb,
            true,
            &mut b,
            &half(top),
            &mut Rng::new(k as u64),
            &mut cb,
        );
        assert_eq!((oa, &ca), (ob, &cb), "digit {k}");
        assert!(oa.spikes > 0);
    }
    assert!(b.clock < a.clock, "b wrapped");
    assert_eq!(wa, wb);
    let ages = |d: &Dyn| -> Vec<u32> {
        d.last_post
            .iter()
            .chain(&d.last_pre)
            .map(|&l| d.clock.wrapping_sub(l))
            .collect()
    };
    assert_eq!(ages(&a), ages(&b));
    let mut b2 = b.clone();
    b2.set_clock(a.clock);
    assert_eq!(b2, a);
}

#[test]
fn sample_and_present_errors_are_named() {
    let f = Fixed::new(&Physical::default(), 4, 2);
    let pixels = [255u8; 4];
    let mut w = vec![W_ONE / 4; 8];
    let mut counts = vec![0u32; 2];
    let mut rng = Rng::new(0);
    let mut run = |f: &Fixed,
                   d: &mut Dyn,
                   buf: &mut Buf,
                   w: &mut [i32],
                   pixels: &[u8],
                   counts: &mut [u32]| {
        sample(
            &f.net(),
            &mut Weights::Plastic(w),
            &mut d.state(),
            &mut buf.scratch(),
            pixels,
            &mut rng,
            counts,
        )
    };
    let mut d = Dyn::new(&f);
    let mut buf = Buf::new(4, 2);
    assert_eq!(
        run(&f, &mut d, &mut buf, &mut w[..7], &pixels, &mut counts),
        Err(Error::ShapeMismatch("weights are not inputs × neurons"))
    );
    let mut short = d.clone();
    short.last_pre.pop();
    assert_eq!(
        run(&f, &mut short, &mut buf, &mut w, &pixels, &mut counts),
        Err(Error::ShapeMismatch(
            "network state does not match its neuron and input counts"
        ))
    );
    let mut short = d.clone();
    short.theta.push(0);
    assert!(matches!(
        run(&f, &mut short, &mut buf, &mut w, &pixels, &mut counts),
        Err(Error::ShapeMismatch(_))
    ));
    assert_eq!(
        run(&f, &mut d, &mut buf, &mut w, &pixels[..3], &mut counts),
        Err(Error::BufferTooSmall {
            what: "pixels",
            need: 4,
            got: 3
        })
    );
    assert_eq!(
        run(&f, &mut d, &mut buf, &mut w, &pixels, &mut counts[..1]),
        Err(Error::BufferTooSmall {
            what: "spike counts",
            need: 2,
            got: 1
        })
    );
    let mut small = Buf::new(4, 2);
    small.sums.pop();
    assert_eq!(
        run(&f, &mut d, &mut small, &mut w, &pixels, &mut counts),
        Err(Error::BufferTooSmall {
            what: "column sums",
            need: 2,
            got: 1
        })
    );
    let mut small = Buf::new(4, 2);
    small.active.pop();
    assert_eq!(
        run(&f, &mut d, &mut small, &mut w, &pixels, &mut counts),
        Err(Error::BufferTooSmall {
            what: "active Poisson inputs",
            need: 4,
            got: 3
        })
    );
    // Sizes of the network itself.
    for (n_in, n) in [(0usize, 2usize), (4, 0), (1, 65_536)] {
        let g = Fixed {
            n_in,
            n,
            ..Fixed::new(&Physical::default(), 1, 1)
        };
        let mut d = Dyn::new(&g);
        let mut buf = Buf::new(n_in, n);
        let mut w = vec![0; n_in * n];
        let mut counts = vec![0; n];
        assert_eq!(
            run(&g, &mut d, &mut buf, &mut w, &pixels, &mut counts),
            Err(Error::InvalidParam("neurons must be in 1..=65535"))
        );
    }
    // `present` zeroes the counts first and returns the input spikes.
    let mut d = Dyn::new(&f);
    let mut buf = Buf::new(4, 2);
    let mut counts = vec![1000u32; 2];
    let zero = vec![0i32; 8];
    let inputs = present(
        &f.net(),
        &mut Weights::Frozen(&zero),
        &mut d.state(),
        &mut buf.scratch(),
        &pixels,
        2,
        &mut Rng::new(0),
        &mut counts,
    )
    .unwrap();
    assert_eq!(counts, [0, 0]);
    let (m, v) = input_moments(f.params.raw().unit, &pixels, 2, 700);
    assert!((f64::from(inputs) - m).abs() <= 5.0 * v.sqrt() + 1.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Learning on random digits keeps the state in range: potentials inside the clamp spans
    /// (−105..0 mV excitatory, −85..0 mV inhibitory), conductances ≥ 0, refractory counters at
    /// most their periods, spike flags 0/1, weights in [0, w_max] (the normalised weights stay
    /// below it here), θ ≥ 0 and grown by at most θ+ per possible spike (one every refractory
    /// period + 1 steps), and never below its closed-form decay.
    #[test]
    fn learning_keeps_the_state_in_range(
        digits in prop::collection::vec(prop::collection::vec(prop_oneof![Just(0u8), 1u8..=255], 36), 3),
        seed: u64,
    ) {
        let phys = learning_physical();
        let f = Fixed::new(&phys, 36, 4);
        let r = *f.params.raw();
        let mut w = random_weights(seed, 36 * 4, 0.0, 0.4);
        let mut d = Dyn::new(&f);
        let mut rng = Rng::new(seed);
        let mut counts = vec![0u32; 4];
        for pixels in &digits {
            let theta0 = d.theta.clone();
            let out = core_sample(&f, &mut w, true, &mut d, pixels, &mut rng, &mut counts);
            let steps = out.presentations * (r.steps_on + r.steps_rest);
            let decay = (-500.0f64 / 1e7).exp().powi(out.presentations as i32);
            for j in 0..4 {
                let t = f64::from(d.theta[j]);
                prop_assert!(d.theta[j] >= 0);
                prop_assert!(t >= f64::from(theta0[j]) * decay - f64::from(out.presentations));
                prop_assert!(t <= f64::from(theta0[j]) + f64::from(r.theta_plus) * f64::from(steps / 11 + out.presentations));
            }
            prop_assert!(w.iter().all(|&x| (0..=r.w_max).contains(&x)));
            prop_assert!(d.v_e.iter().all(|&v| (vq(-105.0)..=0).contains(&v)));
            prop_assert!(d.v_i.iter().all(|&v| (vq(-85.0)..=0).contains(&v)));
            prop_assert!(d.ge_e.iter().chain(&d.gi_e).chain(&d.ge_i).all(|&g| g >= 0));
            prop_assert!(d.refr_e.iter().all(|&x| x <= r.exc.refrac));
            prop_assert!(d.refr_i.iter().all(|&x| x <= r.inh.refrac));
            prop_assert!(d.fired_e.iter().chain(&d.fired_i).all(|&x| x <= 1));
            prop_assert!(out.presentations >= 1 && out.presentations <= u32::from(r.max_intensity - r.intensity) + 1);
            prop_assert_eq!(out.spikes, counts.iter().sum::<u32>());
            prop_assert!(out.spikes >= r.min_spikes || out.presentations == u32::from(r.max_intensity - r.intensity) + 1);
        }
    }
}

/// Two patterns (top and bottom halves of a 6 × 6 image) and four neurons: after 100 plastic
/// digits, labels assigned from frozen responses to 10 digits of each, both classes have
/// neurons, every one of 20 new digits is classified right by both votes, each assigned
/// neuron's weights on its pattern's pixels outweigh those on the other's, and the most
/// trained neuron of each class keeps over 90 % of its weight on its pattern.
#[test]
fn two_patterns_are_learned_and_labelled() {
    let phys = learning_physical();
    let (n_in, n) = (36, 4);
    let f = Fixed::new(&phys, n_in, n);
    let mut w = random_weights(21, n_in * n, 0.05, 0.35);
    let mut d = Dyn::new(&f);
    let mut rng = Rng::new(77);
    let mut counts = vec![0u32; n];
    for k in 0..100 {
        core_sample(
            &f,
            &mut w,
            true,
            &mut d,
            &half(k % 2 == 0),
            &mut rng,
            &mut counts,
        );
    }
    let mut resp = vec![0u32; n * 2];
    let mut class_n = vec![0u32; 2];
    for k in 0..20 {
        d.state().rest(&f.params);
        core_sample(
            &f,
            &mut w,
            false,
            &mut d,
            &half(k % 2 == 0),
            &mut rng,
            &mut counts,
        );
        assign::accumulate(&mut resp, &mut class_n, &counts, (k % 2) as u8).unwrap();
    }
    let mut a = vec![0u8; n];
    assign::assign(&resp, &class_n, &mut a).unwrap();
    assert!(
        a.contains(&0) && a.contains(&1),
        "assignments {a:?}, responses {resp:?}"
    );
    let mut p = vec![0u32; n * 2];
    assign::proportions(&resp, &class_n, &mut p).unwrap();
    let mut scores = vec![0u64; 4];
    for k in 0..20 {
        d.state().rest(&f.params);
        let label = (k % 2) as u8;
        core_sample(
            &f,
            &mut w,
            false,
            &mut d,
            &half(label == 0),
            &mut rng,
            &mut counts,
        );
        assert_eq!(
            assign::predict(&counts, &a, None, &mut scores),
            Ok(Some(label)),
            "counts {counts:?}"
        );
        assert_eq!(
            assign::predict(&counts, &a, Some(&p), &mut scores),
            Ok(Some(label))
        );
    }
    for j in 0..n {
        if a[j] == UNASSIGNED {
            continue;
        }
        let on: f64 = (0..n_in)
            .filter(|&i| (i < 18) == (a[j] == 0))
            .map(|i| wr(w[i * n + j]))
            .sum();
        let off: f64 = (0..n_in)
            .filter(|&i| (i < 18) != (a[j] == 0))
            .map(|i| wr(w[i * n + j]))
            .sum();
        assert!(
            on > off,
            "neuron {j} (class {}): {on} on its pattern, {off} off it",
            a[j]
        );
        // The most trained neuron of its class (the highest θ: θ counts training spikes) has
        // all but forgotten the other pattern.
        let top = (0..n).filter(|&m| a[m] == a[j]).max_by_key(|&m| d.theta[m]);
        if top == Some(j) {
            assert!(
                on > 10.0 * off,
                "neuron {j} (class {}): {on} on, {off} off",
                a[j]
            );
        }
    }
}
