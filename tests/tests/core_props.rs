//! Property tests of the core against independent references written here: an `f64` model of
//! STDP, a dense time-stepped model of the neurons (every potential at every step), a
//! brute-force WTA on that model, the model-file frame, and the homeostasis and convergence
//! rules.

use hebb_core::convergence::{StopReason, StopRule, StopState, c_l, c_l_parts};
use hebb_core::encode::{EncodeMode, EncodeScratch, EncoderParams, EncoderParamsRaw, encode};
use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
use hebb_core::homeostasis::{AdaptiveThreshold, RateTarget, rate_q16};
use hebb_core::layer::forward_final;
use hebb_core::model::{HEADER_LEN, Model};
use hebb_core::neuron::{NeuronKind, NeuronParams};
use hebb_core::plasticity::{apply_accumulated, stdp_accumulate, stdp_update};
use hebb_core::pool::pool_times;
use hebb_core::q::{rate_to_f64, widen8};
use hebb_core::spikes::NEVER;
use hebb_core::stdp::{StdpParams, StdpRule};
use hebb_core::weights::{Le16, Q8};
use hebb_core::wta::{Winner, WtaMode, WtaParams};
use hebb_core::{Error, q};
use hebb_tests::fixtures;
use hebb_tests::support::run_layer;
use proptest::collection::vec;
use proptest::prelude::*;

const LSB: f64 = 1.0 / 65536.0;

// ---------------------------------------------------------------------------------------------
// Strategies.

fn weight() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => any::<u16>(),
        1 => prop::sample::select(vec![0u16, 1, 32768, 65534, 65535]),
    ]
}

fn rule() -> impl Strategy<Value = StdpRule> {
    prop_oneof![Just(StdpRule::Multiplicative), Just(StdpRule::Additive)]
}

fn stdp_params() -> impl Strategy<Value = StdpParams> {
    (rule(), 0.0..0.2f64, 0.0..0.2f64)
        .prop_map(|(r, ap, am)| StdpParams::from_f64(r, ap, am).expect("rates in [0, 0.2)"))
}

fn neuron() -> impl Strategy<Value = NeuronParams> + Clone {
    let kind = prop_oneof![
        Just(NeuronKind::If),
        (0..40_000i32).prop_map(|leak| NeuronKind::LifSub { leak }),
        any::<u16>().prop_map(|beta| NeuronKind::LifMul { beta }),
    ];
    (kind, any::<bool>()).prop_map(|(kind, fire_once)| NeuronParams::new(kind, fire_once).unwrap())
}

fn wta() -> impl Strategy<Value = WtaParams> {
    let mode = prop_oneof![
        Just(WtaMode::Global),
        Just(WtaMode::Local),
        Just(WtaMode::Both)
    ];
    (mode, 1u16..=5, 0u8..=2, any::<bool>()).prop_map(|(mode, k, radius, pointwise)| {
        WtaParams::new(mode, k, radius, pointwise).unwrap()
    })
}

/// A valid small convolution.
fn geometry() -> impl Strategy<Value = ConvGeom> {
    (
        1u16..=3,
        1u16..=7,
        // Wide enough for the word-at-a-time spike scan (8 cells per step) to be exercised.
        1u16..=19,
        1u16..=4,
        1u8..=3,
        1u8..=2,
        0u8..3,
    )
        .prop_filter_map("valid geometry", |(c, h, w, oc, k, s, pad)| {
            ConvGeom::new(Shape::new(c, h, w), oc, k, s, Padding::Explicit(pad)).ok()
        })
}

/// Input first-spike times over `steps` steps (or never).
fn times(n: usize, steps: u8) -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![2 => 0..steps, 1 => Just(NEVER)], n)
}

#[derive(Debug, Clone)]
struct LayerCase {
    g: ConvGeom,
    w: Vec<u16>,
    theta: Vec<i32>,
    neuron: NeuronParams,
    steps: u8,
    input: Vec<u8>,
}

fn layer_case(
    neuron: impl Strategy<Value = NeuronParams> + Clone,
) -> impl Strategy<Value = LayerCase> {
    (geometry(), 1u8..=6).prop_flat_map(move |(g, steps)| {
        // Coarse weights and thresholds (multiples of 1/4) make equal potentials common, so
        // the tie-breaks are exercised; fine ones cover the whole range.
        let n = g.n_weights();
        let weights = prop_oneof![
            vec(weight(), n),
            vec(prop::sample::select(vec![0u16, 16384, 32768, 49152]), n),
        ];
        let thetas = prop_oneof![
            vec(1..(3 << 16), g.out_c() as usize),
            vec((1..12i32).prop_map(|q| q << 14), g.out_c() as usize),
        ];
        (
            Just(g),
            weights,
            thetas,
            neuron.clone(),
            Just(steps),
            times(g.input().len(), steps),
        )
            .prop_map(|(g, w, theta, neuron, steps, input)| LayerCase {
                g,
                w,
                theta,
                neuron,
                steps,
                input,
            })
    })
}

// ---------------------------------------------------------------------------------------------
// References.

/// `f64` model of one STDP update: `w ± a·w·(1 − w)` (or `± a`), clamped to the weight range.
fn stdp_f64(rule: StdpRule, a: f64, w: f64, ltp: bool) -> f64 {
    let mag = match rule {
        StdpRule::Multiplicative => a * w * (1.0 - w),
        StdpRule::Additive => a,
    };
    (if ltp { w + mag } else { w - mag }).clamp(0.0, 65535.0 * LSB)
}

/// Dense time-stepped model of a layer: every neuron's potential at every step, gathered from
/// its receptive field (the engine scatters events instead).
#[derive(Debug)]
struct Dense {
    /// First-spike step per neuron `[map][y][x]`.
    t_first: Vec<u8>,
    /// Potential before the reset at the first spike.
    v_first: Vec<i64>,
}

fn dense(c: &LayerCase) -> Dense {
    let g = &c.g;
    let out = g.output();
    let (m, oh, ow) = (out.c as usize, out.h as usize, out.w as usize);
    let (h, w) = (g.input().h as i64, g.input().w as i64);
    let (k, s, pad) = (g.k() as i64, g.stride() as i64, g.pad() as i64);
    let n = out.len();
    let mut v = vec![0i64; n];
    let mut t_first = vec![NEVER; n];
    let mut v_first = vec![0i64; n];
    for t in 0..c.steps {
        for mi in 0..m {
            for oy in 0..oh {
                for ox in 0..ow {
                    let i = (mi * oh + oy) * ow + ox;
                    // Leak.
                    v[i] = match c.neuron.kind() {
                        NeuronKind::If => v[i],
                        NeuronKind::LifSub { leak } => v[i] - i64::from(leak),
                        NeuronKind::LifMul { beta } => {
                            ((v[i] as f64) * (f64::from(beta) / 65536.0)).floor() as i64
                        }
                    };
                    // Input of this step: weights of the receptive field's inputs firing now.
                    for ci in 0..g.input().c as i64 {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = oy as i64 * s + ky - pad;
                                let ix = ox as i64 * s + kx - pad;
                                if iy < 0 || ix < 0 || iy >= h || ix >= w {
                                    continue;
                                }
                                if c.input[((ci * h + iy) * w + ix) as usize] == t {
                                    let syn = ((ci * k + ky) * k + kx) as usize;
                                    v[i] += i64::from(c.w[syn * m + mi]);
                                }
                            }
                        }
                    }
                    if !matches!(c.neuron.kind(), NeuronKind::If) {
                        v[i] = v[i].max(0);
                    }
                    if v[i] >= i64::from(c.theta[mi]) {
                        if t_first[i] == NEVER {
                            t_first[i] = t;
                            v_first[i] = v[i];
                            v[i] = 0;
                        } else if !c.neuron.fire_once() {
                            v[i] = 0;
                        }
                    }
                }
            }
        }
    }
    Dense { t_first, v_first }
}

/// A WTA candidate of the dense model.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cand {
    t: u8,
    v: i64,
    map: usize,
    y: usize,
    x: usize,
    flat: usize,
}

/// Candidates in rank order (earliest, then highest potential, then lowest flat index), after
/// pointwise inhibition when asked: per position only the earliest map, then the highest
/// potential, then the lowest map.
fn candidates(c: &LayerCase, d: &Dense, pointwise: bool) -> Vec<Cand> {
    let out = c.g.output();
    let (m, oh, ow) = (out.c as usize, out.h as usize, out.w as usize);
    let plane = oh * ow;
    let mut all = Vec::new();
    for map in 0..m {
        for y in 0..oh {
            for x in 0..ow {
                let flat = map * plane + y * ow + x;
                if d.t_first[flat] != NEVER {
                    all.push(Cand {
                        t: d.t_first[flat],
                        v: d.v_first[flat],
                        map,
                        y,
                        x,
                        flat,
                    });
                }
            }
        }
    }
    if pointwise {
        let best_at = |y: usize, x: usize| {
            all.iter()
                .filter(|q| q.y == y && q.x == x)
                .min_by(|a, b| a.t.cmp(&b.t).then(b.v.cmp(&a.v)).then(a.map.cmp(&b.map)))
                .copied()
        };
        all = all
            .iter()
            .copied()
            .filter(|q| best_at(q.y, q.x) == Some(*q))
            .collect();
    }
    all.sort_by(|a, b| a.t.cmp(&b.t).then(b.v.cmp(&a.v)).then(a.flat.cmp(&b.flat)));
    all
}

fn cheb(a: &Cand, y: usize, x: usize) -> usize {
    a.y.abs_diff(y).max(a.x.abs_diff(x))
}

/// Brute-force WTA on the dense model: greedy in rank order with the exclusions of `p`.
fn wta_reference(cands: &[Cand], p: &WtaParams) -> Vec<Cand> {
    let per_map = matches!(p.mode(), WtaMode::Global | WtaMode::Both);
    let r = if p.mode() == WtaMode::Global {
        0
    } else {
        p.radius() as usize
    };
    let mut won: Vec<Cand> = Vec::new();
    for q in cands {
        if won.len() == p.k() as usize {
            break;
        }
        let excluded = won
            .iter()
            .any(|w| (per_map && w.map == q.map) || cheb(w, q.y, q.x) <= r);
        if !excluded {
            won.push(*q);
        }
    }
    won
}

// ---------------------------------------------------------------------------------------------
// STDP.

/// Input spike time seen by synapse `(c, ky, kx)` of the neuron at `(y, x)`; padding is NEVER.
fn pre_time(g: &ConvGeom, input: &[u8], c: i64, ky: i64, kx: i64, y: u16, x: u16) -> u8 {
    let (h, wd) = (i64::from(g.input().h), i64::from(g.input().w));
    let iy = i64::from(y) * i64::from(g.stride()) + ky - i64::from(g.pad());
    let ix = i64::from(x) * i64::from(g.stride()) + kx - i64::from(g.pad());
    if iy < 0 || ix < 0 || iy >= h || ix >= wd {
        NEVER
    } else {
        input[((c * h + iy) * wd + ix) as usize]
    }
}

proptest! {
    /// Every single update is within half an LSB (plus the rounding of a to Q0.32) of the f64
    /// rule with the real rate when the real change is at least half an LSB; a smaller non-zero
    /// change still moves the weight by exactly one LSB (unless it is already at that bound), so
    /// soft-bound weights never stall short of the bounds. Always in the right direction.
    #[test]
    fn stdp_fixed_point_matches_f64(r in rule(), a in 0.0..0.2f64, w in weight(), ltp: bool) {
        let p = StdpParams::from_f64(r, a, a).unwrap();
        let fixed = hebb_core::stdp::apply(w, p.delta(w, ltp));
        let reference = stdp_f64(r, a, f64::from(w) * LSB, ltp);
        let err = (f64::from(fixed) * LSB - reference).abs();
        let exact = match r {
            StdpRule::Multiplicative => a * f64::from(w) * LSB * (1.0 - f64::from(w) * LSB),
            StdpRule::Additive => a,
        } / LSB;
        let moved = (i32::from(fixed) - i32::from(w)).abs();
        let at_bound = if ltp { w == u16::MAX } else { w == 0 };
        if exact >= 0.5 + 1e-6 {
            prop_assert!(err <= 0.5 * LSB + 1e-9, "w={} a={} ltp={}: {} vs {} ({} LSB)",
                w, a, ltp, fixed, reference, err / LSB);
        } else if exact > 0.0 && (if ltp { p.a_plus } else { p.a_minus }) > 0 {
            prop_assert!(moved == 1 || at_bound, "w={} a={} ltp={}: exact {} LSB, moved {}",
                w, a, ltp, exact, moved);
        }
        prop_assert!(err <= LSB + 1e-9, "w={} a={} ltp={}: off by {} LSB", w, a, ltp, err / LSB);
        if ltp { prop_assert!(fixed >= w) } else { prop_assert!(fixed <= w) }
    }

    /// `stdp_update` on random layers, inputs and winners: each synapse of a winner's map moves
    /// by the sum of its winners' changes computed from the old weight (LTP iff the pre neuron
    /// fired at or before the winner; padding and silent inputs are LTD), within one LSB per
    /// winner of the f64 rule, saturating; other maps do not move. Repeated over several rounds.
    #[test]
    fn stdp_update_moves_each_synapse_as_the_rule_says(
        (g, mut w, input, rounds) in geometry().prop_flat_map(|g| (
            Just(g),
            vec(weight(), g.n_weights()),
            times(g.input().len(), 8),
            vec((vec((0..g.out_c(), 0..g.output().h, 0..g.output().w, 0u8..8), 0..4), stdp_params()), 1..5),
        ))
    ) {
        let m = g.out_c() as usize;
        let k = g.k() as i64;
        for (wins, p) in rounds {
            let mut winners: Vec<Winner> = wins.iter().map(|&(map, y, x, t)| Winner { map, y, x, t, v: 0 }).collect();
            let before = w.clone();
            stdp_update(&g, &mut w, &input, &mut winners, &p).unwrap();
            for map in 0..m {
                let group: Vec<_> = wins.iter().filter(|x| x.0 as usize == map).collect();
                for c in 0..g.input().c as i64 {
                    for ky in 0..k {
                        for kx in 0..k {
                            let wi = ((c * k + ky) * k + kx) as usize * m + map;
                            let (w0, w1) = (before[wi], w[wi]);
                            if group.is_empty() {
                                prop_assert_eq!(w0, w1, "map {} without winners moved", map);
                                continue;
                            }
                            let wf = f64::from(w0) * LSB;
                            let (mut n_ltp, mut n_ltd, mut sum_f) = (0, 0, 0.0);
                            for &&(_, y, x, t) in &group {
                                let pre = pre_time(&g, &input, c, ky, kx, y, x);
                                let ltp = pre != NEVER && pre <= t;
                                let a = rate_to_f64(if ltp { p.a_plus } else { p.a_minus });
                                let mag = match p.rule {
                                    StdpRule::Multiplicative => a * wf * (1.0 - wf),
                                    StdpRule::Additive => a,
                                };
                                if ltp { n_ltp += 1; sum_f += mag } else { n_ltd += 1; sum_f -= mag }
                            }
                            let expect = (wf + sum_f).clamp(0.0, 65535.0 * LSB);
                            let err = (f64::from(w1) * LSB - expect).abs();
                            prop_assert!(err <= group.len() as f64 * LSB + 1e-12,
                                "synapse {} of map {}: {} -> {}, expected {} ({} LTP, {} LTD)",
                                wi, map, w0, w1, expect * 65536.0, n_ltp, n_ltd);
                            if n_ltd == 0 { prop_assert!(w1 >= w0, "LTP decreased {} -> {}", w0, w1) }
                            if n_ltp == 0 { prop_assert!(w1 <= w0, "LTD increased {} -> {}", w0, w1) }
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    /// Mini-batch STDP: `stdp_accumulate` over the samples of a batch, then `apply_accumulated`,
    /// moves each synapse by the sum of every sample's winners' changes, each computed from the
    /// weight before the batch with that sample's input and rates, saturating once; a batch of
    /// one sample is exactly `stdp_update`.
    #[test]
    fn stdp_batch_sums_changes_from_the_batch_weights(
        (g, w, batch) in geometry().prop_flat_map(|g| (
            Just(g),
            vec(weight(), g.n_weights()),
            vec((
                times(g.input().len(), 8),
                vec((0..g.out_c(), 0..g.output().h, 0..g.output().w, 0u8..8), 0..4),
                stdp_params(),
            ), 1..5),
        ))
    ) {
        let m = g.out_c() as usize;
        let k = g.k() as i64;
        let winners = |wins: &[(u16, u16, u16, u8)]| -> Vec<Winner> {
            wins.iter().map(|&(map, y, x, t)| Winner { map, y, x, t, v: 0 }).collect()
        };
        let mut acc = vec![0i32; w.len()];
        let mut got = w.clone();
        let mut sum = vec![0i32; w.len()];
        for (input, wins, p) in &batch {
            stdp_accumulate(&g, &w, input, &winners(wins), p, &mut acc).unwrap();
            for &(map, y, x, t) in wins {
                for c in 0..g.input().c as i64 {
                    for ky in 0..k {
                        for kx in 0..k {
                            let wi = ((c * k + ky) * k + kx) as usize * m + map as usize;
                            let pre = pre_time(&g, input, c, ky, kx, y, x);
                            sum[wi] += p.delta(w[wi], pre != NEVER && pre <= t);
                        }
                    }
                }
            }
        }
        apply_accumulated(&mut got, &mut acc).unwrap();
        prop_assert!(acc.iter().all(|&d| d == 0), "the accumulator is cleared");
        for wi in 0..w.len() {
            let want = (i32::from(w[wi]) + sum[wi]).clamp(0, 65_535) as u16;
            prop_assert_eq!(got[wi], want, "synapse {}", wi);
        }
        let (input, wins, p) = &batch[0];
        let mut one = w.clone();
        stdp_accumulate(&g, &w, input, &winners(wins), p, &mut acc).unwrap();
        apply_accumulated(&mut one, &mut acc).unwrap();
        let mut seq = w.clone();
        stdp_update(&g, &mut seq, input, &mut winners(wins), p).unwrap();
        prop_assert_eq!(one, seq);
    }
}

// ---------------------------------------------------------------------------------------------
// Neuron dynamics and WTA.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `simulate` (no competition) gives exactly the first-spike times of the dense model, for
    /// every neuron model, with fire-once on or off, whatever the weight storage.
    #[test]
    fn simulate_matches_dense_reference(c in layer_case(neuron())) {
        let d = dense(&c);
        let r = run_layer(&c.g, &c.w[..], &c.theta, &c.neuron, c.steps, &c.input, None, false).unwrap();
        prop_assert_eq!(&r.t_first, &d.t_first);
        prop_assert_eq!(r.outcome.steps_run, c.steps);
        prop_assert_eq!(r.outcome.spikes as usize, d.t_first.iter().filter(|&&t| t != NEVER).count());
        prop_assert_eq!(r.outcome.events as usize, c.input.iter().filter(|&&t| t < c.steps).count());
        // The same weights as little-endian bytes give the same run.
        let bytes: Vec<u8> = c.w.iter().flat_map(|w| w.to_le_bytes()).collect();
        let r16 = run_layer(&c.g, &Le16(&bytes), &c.theta, &c.neuron, c.steps, &c.input, None, false).unwrap();
        prop_assert_eq!(&r16, &r);
    }

    /// With competition: the winners are exactly those of a brute-force WTA on the dense model,
    /// and they satisfy the WTA rules on their own: at most k, at most one per map in
    /// Global/Both mode, pairwise outside each other's inhibition radius, each at its first
    /// spike with its pre-reset potential, and no spiking neuron that ranks before the last
    /// winner (or any, when fewer than k won) is left out unless an earlier winner inhibits it.
    #[test]
    fn simulate_wta_matches_brute_force(c in layer_case(neuron()), p in wta(), early_stop: bool) {
        let d = dense(&c);
        let r = run_layer(&c.g, &c.w[..], &c.theta, &c.neuron, c.steps, &c.input, Some(&p), early_stop).unwrap();
        // Dynamics are untouched by the competition (it selects, it does not inhibit
        // potentials); an early stop only leaves later steps unrecorded.
        for (i, (&a, &b)) in r.t_first.iter().zip(&d.t_first).enumerate() {
            let expect = if b < r.outcome.steps_run { b } else { NEVER };
            prop_assert_eq!(a, expect, "neuron {}", i);
        }
        if !early_stop { prop_assert_eq!(r.outcome.steps_run, c.steps); }

        let out = c.g.output();
        let plane = out.plane();
        let cands = candidates(&c, &d, p.pointwise());
        let expect = wta_reference(&cands, &p);
        let got: Vec<Cand> = r.winners.iter().map(|w| {
            let (map, y, x) = (w.map as usize, w.y as usize, w.x as usize);
            Cand { t: w.t, v: i64::from(w.v), map, y, x, flat: map * plane + y * out.w as usize + x }
        }).collect();
        prop_assert_eq!(&got, &expect);

        // The rules, checked directly.
        let per_map = matches!(p.mode(), WtaMode::Global | WtaMode::Both);
        let radius = if p.mode() == WtaMode::Global { 0 } else { p.radius() as usize };
        prop_assert!(got.len() <= p.k() as usize);
        for (i, a) in got.iter().enumerate() {
            prop_assert_eq!(d.t_first[a.flat], a.t, "winner at its first spike");
            prop_assert_eq!(d.v_first[a.flat], a.v, "winner with its pre-reset potential");
            for b in &got[i + 1..] {
                if per_map { prop_assert_ne!(a.map, b.map, "two winners in one map"); }
                prop_assert!(cheb(a, b.y, b.x) > radius, "winners {:?} and {:?} inhibit each other", a, b);
            }
        }
        let last = got.last().map(|w| (w.t, w.v, w.flat));
        for q in &cands {
            if got.contains(q) { continue; }
            let ranks_before_last = last.is_some_and(|(t, v, f)| (q.t, -q.v, q.flat) < (t, -v, f));
            if ranks_before_last || got.len() < p.k() as usize {
                let inhibited = got.iter().any(|w|
                    (w.t, -w.v, w.flat) < (q.t, -q.v, q.flat)
                        && ((per_map && w.map == q.map) || cheb(w, q.y, q.x) <= radius));
                prop_assert!(inhibited, "{:?} should have won", q);
            }
        }
    }

    /// The word-at-a-time spike mask equals the cell-by-cell definition, for any length
    /// (cells past 64 are ignored).
    #[test]
    fn spiking_mask_matches_cells(cells in vec(prop_oneof![1 => Just(NEVER), 1 => any::<u8>()], 0..80)) {
        let mut expect = 0u64;
        for (i, &t) in cells.iter().take(64).enumerate() {
            if t != NEVER {
                expect |= 1 << i;
            }
        }
        prop_assert_eq!(hebb_core::spikes::spiking_mask(&cells), expect);
    }

    /// Time-free inference (`forward_final`) equals "spiked at any step" of a full simulation
    /// of IF neurons without competition, after the same pooling; 8-bit weights agree with their
    /// widened 16-bit values.
    #[test]
    fn forward_final_equals_simulation_then_pooling(
        c in layer_case(any::<bool>().prop_map(|fire_once| NeuronParams::new(NeuronKind::If, fire_once).unwrap())),
        pool in (1u8..=3, 1u8..=2, 0u8..3),
        use_pool: bool,
    ) {
        let out = c.g.output();
        let pg = PoolGeom::new(out, pool.0, pool.1, pool.2).ok().filter(|_| use_pool);
        let r = run_layer(&c.g, &c.w[..], &c.theta, &c.neuron, c.steps, &c.input, None, false).unwrap();
        let expect: Vec<u8> = match &pg {
            Some(p) => {
                let mut o = vec![0u8; p.output().len()];
                pool_times(p, &r.t_first, &mut o, None).unwrap();
                o
            }
            None => r.t_first.clone(),
        };
        let mut v_row = vec![0i32; out.w as usize * out.c as usize];
        let mut got = vec![7u8; expect.len()];
        forward_final(&c.g, &c.w[..], &c.theta, pg.as_ref(), &c.input, &mut v_row, &mut got).unwrap();
        for (i, (&a, &b)) in got.iter().zip(&expect).enumerate() {
            prop_assert!(a == 0 || a == NEVER);
            prop_assert_eq!(a == 0, b != NEVER, "output {}", i);
        }
        // 8-bit storage: forward_final on Q8 equals forward_final on the widened weights.
        let w8: Vec<u8> = c.w.iter().map(|&w| (w >> 8) as u8).collect();
        let widened: Vec<u16> = w8.iter().map(|&w| widen8(w)).collect();
        let mut a8 = vec![0u8; expect.len()];
        let mut a16 = vec![0u8; expect.len()];
        forward_final(&c.g, &Q8(&w8), &c.theta, pg.as_ref(), &c.input, &mut v_row, &mut a8).unwrap();
        forward_final(&c.g, &widened[..], &c.theta, pg.as_ref(), &c.input, &mut v_row, &mut a16).unwrap();
        prop_assert_eq!(a8, a16);
    }
}

// ---------------------------------------------------------------------------------------------
// Homeostasis and convergence.

proptest! {
    /// Adaptive thresholds stay in their bounds over any spike history, each step is within
    /// one unit of the real decay toward rest (and never overshoots it), and without spikes they
    /// come back to rest exactly.
    #[test]
    fn adaptive_thresholds_stay_in_bounds(
        rest in 1..200_000i32,
        below in 0..100_000i32,
        above in 0..400_000i32,
        plus in 0..100_000i32,
        decay: u32,
        history in vec(vec(any::<bool>(), 5), 1..60),
    ) {
        let (lo, hi) = ((rest - below).max(1), rest.saturating_add(above));
        let a = AdaptiveThreshold::new(rest, plus, decay, lo, hi).unwrap();
        let f = f64::from(decay) / 4_294_967_296.0;
        let mut th = [0i32; 5];
        a.reset(&mut th);
        prop_assert_eq!(th, [rest; 5]);
        for spikes in &history {
            let before = th;
            a.update_with(&mut th, |c| spikes[c]);
            for c in 0..5 {
                prop_assert!(lo <= th[c] && th[c] <= hi, "θ {} outside [{}, {}]", th[c], lo, hi);
                let x = if spikes[c] { (i64::from(before[c]) + i64::from(plus)).min(i64::from(hi)) } else { i64::from(before[c]) };
                let exact = (f64::from(rest) + (x - i64::from(rest)) as f64 * f).clamp(f64::from(lo), f64::from(hi));
                prop_assert!((f64::from(th[c]) - exact).abs() < 1.0 + 1e-6, "θ {} vs {}", th[c], exact);
                prop_assert!((i64::from(th[c]) - i64::from(rest)).abs() <= (x - i64::from(rest)).abs());
            }
        }
        // Without spikes: |θ − rest| strictly shrinks until it is 0 (decay < 1, toward zero).
        for _ in 0..64 {
            a.update_with(&mut th, |_| false);
        }
        if decay <= u32::MAX / 4 * 3 {
            prop_assert_eq!(th, [rest; 5]);
        }
    }

    /// Rate-target thresholds stay in bounds and follow the real rule within half a unit.
    #[test]
    fn rate_target_thresholds(
        lr: u32,
        target in 0..=65536u32,
        lo in 1..100_000i32,
        span in 0..1_000_000i32,
        theta0 in 1..2_000_000i32,
        counts in vec(0..200u32, 1..8),
        presentations in 1..100u32,
    ) {
        let hi = lo + span;
        let r = RateTarget::new(lr, target, lo, hi).unwrap();
        let theta0 = theta0.clamp(lo, hi);
        let mut th = vec![theta0; counts.len()];
        r.update(&mut th, &counts, presentations).unwrap();
        for (t, &c) in th.iter().zip(&counts) {
            prop_assert!(lo <= *t && *t <= hi);
            let rate = f64::from(rate_q16(c, presentations)) / 65536.0;
            let exact = f64::from(theta0)
                + f64::from(lr) / 4_294_967_296.0 * (rate - f64::from(target) / 65536.0) * f64::from(theta0);
            let exact = exact.clamp(f64::from(lo), f64::from(hi));
            prop_assert!((f64::from(*t) - exact).abs() <= 0.5 + 1e-6, "{} vs {}", t, exact);
        }
    }

    /// C_l is in [0, 0.25] and equals the f64 mean of w(1 − w), whatever the storage.
    #[test]
    fn c_l_in_range(w in vec(weight(), 0..300)) {
        let v = c_l(&w);
        prop_assert!((0.0..=0.25).contains(&v), "{}", v);
        if !w.is_empty() {
            let mean = w.iter().map(|&x| { let f = f64::from(x) * LSB; f * (1.0 - f) }).sum::<f64>() / w.len() as f64;
            prop_assert!((v - mean).abs() <= 1e-12, "{} vs {}", v, mean);
        }
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        prop_assert_eq!(c_l_parts(&Le16(&bytes)), c_l_parts(&w[..]));
    }

    /// The stop rule always ends a layer within its budget, reasons respect their thresholds,
    /// and a state checkpointed through serde resumes identically.
    #[test]
    fn stop_rule_and_checkpoint(
        c_l_eps in prop_oneof![Just(0.0), 0.0..0.02f64],
        target_ratio in prop_oneof![Just(0.0), 0.5..=1.0f64],
        patience in 0u16..5,
        max_epochs in 1u16..12,
        epochs in vec((0.0..0.25f64, 0.0..=1.0f64), 12),
        cut in 0usize..12,
    ) {
        let rule = StopRule { c_l_eps, min_wins: 10, target_ratio, patience, max_epochs };
        let mut s = StopState::new(rule).unwrap();
        let mut stopped = None;
        let mut resumed: Option<StopState> = None;
        for (e, &(cl, ratio)) in epochs.iter().enumerate() {
            if e == cut {
                let bytes = postcard::to_stdvec(&s).unwrap();
                let json = serde_json::to_string(&s).unwrap();
                // JSON keeps every field; serde_json's default float parser may be one ulp off,
                // so checkpoints that must resume bit-exactly use postcard.
                let from_json: StopState = serde_json::from_str(&json).unwrap();
                let ulp = |a: f64, b: f64| a.to_bits().abs_diff(b.to_bits()) <= 1;
                prop_assert!(ulp(from_json.rule.c_l_eps, s.rule.c_l_eps));
                prop_assert!(ulp(from_json.rule.target_ratio, s.rule.target_ratio));
                prop_assert!(ulp(from_json.best_ratio, s.best_ratio));
                prop_assert_eq!(
                    (from_json.since_best, from_json.epochs, from_json.rule.patience, from_json.rule.max_epochs),
                    (s.since_best, s.epochs, s.rule.patience, s.rule.max_epochs)
                );
                let back: StopState = postcard::from_bytes(&bytes).unwrap();
                prop_assert_eq!(back, s);
                resumed = Some(back);
            }
            let reason = s.after_epoch(cl, ratio, e as u16);
            if let Some(r2) = resumed.as_mut() {
                prop_assert_eq!(r2.after_epoch(cl, ratio, e as u16), reason);
            }
            if let Some(reason) = reason {
                match reason {
                    StopReason::Converged { c_l } => prop_assert!(c_l_eps > 0.0 && c_l < c_l_eps && c_l == cl),
                    StopReason::WinRatio => prop_assert!(target_ratio > 0.0 && ratio >= target_ratio),
                    StopReason::Patience => prop_assert!(patience > 0 && s.since_best >= patience),
                    StopReason::EpochBudget => prop_assert_eq!(e + 1, max_epochs as usize),
                }
                stopped = Some(e);
                break;
            }
        }
        let e = stopped.expect("a layer always stops by its budget");
        prop_assert!(e < max_epochs as usize);
    }
}

// ---------------------------------------------------------------------------------------------
// Model format.

proptest! {
    /// Random valid models encode and decode back to the same model and the same bytes.
    #[test]
    fn model_round_trips(seed: u64) {
        let parts = fixtures::random(seed);
        let m = parts.model();
        prop_assert_eq!(m.validate(), Ok(()));
        let bytes = parts.encode();
        let back = Model::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(fixtures::encode_to_vec(&back), bytes.clone());
        // Exactly-sized buffers work, one byte less does not.
        let mut buf = vec![0u8; bytes.len()];
        prop_assert_eq!(m.encode(&mut buf).unwrap().len(), bytes.len());
        let mut small = vec![0u8; bytes.len() - 1];
        prop_assert_eq!(m.encode(&mut small).unwrap_err(), Error::EncodeFailed);
    }

    /// Arbitrary bytes never make the decoder panic.
    #[test]
    fn decode_arbitrary_bytes_never_panics(data in vec(any::<u8>(), 0..512), with_magic: bool) {
        let mut data = data;
        if with_magic && data.len() >= 4 {
            data[..4].copy_from_slice(b"HEBB");
        }
        let _ = Model::decode(&data);
    }

    /// Corrupted valid files are rejected with the error that names the corruption: a single
    /// flipped bit anywhere, up to three flipped body bits (CRC-32 has Hamming distance 4 at
    /// these lengths), truncation anywhere, appended bytes.
    #[test]
    fn decode_rejects_corruption(
        seed: u64,
        flip in any::<prop::sample::Index>(),
        extra_flips in vec(any::<prop::sample::Index>(), 1..3),
        cut in any::<prop::sample::Index>(),
        tail in vec(any::<u8>(), 1..8),
    ) {
        let bytes = fixtures::random(seed).encode();
        let body_len = bytes.len() - HEADER_LEN;
        // One bit anywhere.
        let bit = flip.index(bytes.len() * 8);
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let e = Model::decode(&bad).unwrap_err();
        let byte = bit / 8;
        match byte {
            0..=3 => prop_assert_eq!(e, Error::BadMagic),
            4..=5 => prop_assert_eq!(e, Error::UnsupportedVersion(u16::from_le_bytes([bad[4], bad[5]]))),
            6..=9 => {
                let len = u32::from_le_bytes([bad[6], bad[7], bad[8], bad[9]]) as usize;
                prop_assert_eq!(e, if len > body_len { Error::Truncated } else { Error::TrailingBytes });
            }
            _ => prop_assert!(matches!(e, Error::CrcMismatch { .. }), "{:?}", e),
        }
        // Up to three distinct body bits.
        prop_assume!(body_len * 8 <= 80_000);
        let mut bits = vec![bit % (body_len * 8)];
        bits.extend(extra_flips.iter().map(|i| i.index(body_len * 8)));
        bits.sort_unstable();
        bits.dedup();
        let mut bad = bytes.clone();
        for b in &bits {
            bad[HEADER_LEN + b / 8] ^= 1 << (b % 8);
        }
        let stored = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
        let computed = hebb_core::model::CRC.checksum(&bad[HEADER_LEN..]);
        prop_assert_ne!(stored, computed);
        prop_assert_eq!(Model::decode(&bad).unwrap_err(), Error::CrcMismatch { stored, computed });
        // Truncation anywhere.
        let n = cut.index(bytes.len());
        prop_assert_eq!(Model::decode(&bytes[..n]).unwrap_err(), Error::Truncated);
        // Appended bytes.
        let mut long = bytes.clone();
        long.extend_from_slice(&tail);
        prop_assert_eq!(Model::decode(&long).unwrap_err(), Error::TrailingBytes);
    }
}

#[test]
fn stdp_conforms_to_the_harness() {
    for (r, ap, am) in [
        (StdpRule::Multiplicative, 0.004, 0.003),
        (StdpRule::Multiplicative, 0.15, 0.1125),
        (StdpRule::Multiplicative, 0.0, 0.0),
        (StdpRule::Additive, 0.004, 0.003),
        (StdpRule::Additive, 0.19, 0.01),
    ] {
        let p = StdpParams::from_f64(r, ap, am).unwrap();
        hebb_tests::conformance::check_rule(p, 1024).unwrap();
    }
}

#[test]
fn weight_conversions_round_trip() {
    for w in (0..=u16::MAX).step_by(7) {
        assert_eq!(q::weight_from_f64(q::weight_to_f64(w)), w);
    }
}

// ---------------------------------------------------------------------------------------------
// Encoder.

/// Straightforward encoder: direct 2-D convolution in i64, threshold, box sums over the whole
/// clipped window per value, one sort, latency bins.
fn encode_reference(p: &EncoderParams, kernels: &[i32], image: &[u8]) -> (Vec<u8>, usize) {
    let (h, w, k, pad) = (p.h() as i64, p.w() as i64, p.k() as i64, p.pad() as i64);
    let plane = (h * w) as usize;
    let mut resp = vec![0i64; p.n_out()];
    for f in 0..p.n_filters() as usize {
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0i64;
                for ky in 0..k {
                    for kx in 0..k {
                        let (iy, ix) = (y + ky - pad, x + kx - pad);
                        if iy >= 0 && iy < h && ix >= 0 && ix < w {
                            acc += i64::from(image[(iy * w + ix) as usize])
                                * i64::from(kernels[f * (k * k) as usize + (ky * k + kx) as usize]);
                        }
                    }
                }
                let v = if acc < i64::from(p.threshold()) || acc <= 0 {
                    0
                } else {
                    acc
                };
                resp[f * plane + (y * w + x) as usize] = v;
            }
        }
    }
    let r = i64::from(p.norm_radius());
    let mut keyed: Vec<(i64, usize)> = Vec::new();
    for f in 0..p.n_filters() as usize {
        for y in 0..h {
            for x in 0..w {
                let i = f * plane + (y * w + x) as usize;
                let v = resp[i];
                if v == 0 {
                    continue;
                }
                let key = if r > 0 {
                    let mut sum = 0i64;
                    for yy in (y - r).max(0)..(y + r + 1).min(h) {
                        for xx in (x - r).max(0)..(x + r + 1).min(w) {
                            sum += resp[f * plane + (yy * w + xx) as usize];
                        }
                    }
                    ((v * (2 * r + 1) * (2 * r + 1)) << 16) / sum.max(1)
                } else {
                    v
                };
                keyed.push((key, i));
            }
        }
    }
    let mut times = vec![NEVER; p.n_out()];
    if p.mode() == EncodeMode::AllAtFirstStep {
        for &(_, i) in &keyed {
            times[i] = 0;
        }
        return (times, keyed.len());
    }
    keyed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let t = p.steps() as usize;
    let bin = (keyed.len() / t).max(1);
    let mut n = 0;
    for (rank, &(_, i)) in keyed.iter().enumerate() {
        if rank / bin < t {
            times[i] = (rank / bin) as u8;
            n += 1;
        }
    }
    (times, n)
}

proptest! {
    /// The encoder (blocked, vectorised filtering; sliding-window box sums) equals the direct
    /// reference on random images, including rows wider than one filtering block.
    #[test]
    fn encoder_matches_direct_reference(
        (p, kernels, image) in (1u16..=12, 1u16..=80, 1u8..=2, 0u8..=3, 0u8..=9, 1u8..=20, any::<bool>())
            .prop_flat_map(|(h, w, nf, kh, r, steps, latency)| {
                let k = 2 * kh + 1;
                let p = EncoderParams::new(h, w, nf, k, 0, r, steps, if latency { EncodeMode::Latency } else { EncodeMode::AllAtFirstStep }).unwrap();
                (
                    (Just(p), 0i32..(60 << 16)).prop_map(|(p, threshold)| {
                        EncoderParams::try_from(EncoderParamsRaw { threshold, ..p.into() }).unwrap()
                    }),
                    vec(-70_000i32..70_000, p.n_kernel()),
                    vec(prop_oneof![1 => Just(0u8), 3 => any::<u8>()], h as usize * w as usize),
                )
            })
    ) {
        let mut resp = vec![0i32; p.n_out()];
        let mut rows = vec![0i64; p.h() as usize * p.w() as usize];
        let mut keys = vec![0u64; p.n_out()];
        let mut s = EncodeScratch { resp: &mut resp, rows: &mut rows, keys: &mut keys };
        let mut times = vec![3u8; p.n_out()];
        let n = encode(&p, &kernels, &image, &mut s, &mut times).unwrap();
        let (expect, n_expect) = encode_reference(&p, &kernels, &image);
        prop_assert_eq!(n, n_expect);
        prop_assert_eq!(times, expect);
    }
}
