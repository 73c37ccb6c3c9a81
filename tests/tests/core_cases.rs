//! Hand-computed cases for the core: neuron traces, geometry, pooling, DoG filters, latency
//! coding, STDP deltas, WTA ranking, homeostasis, convergence and readout ties. Every expected
//! number is worked out by hand in the comments (or computed here from the formula), not taken
//! from the code under test.

use hebb_core::conv::{accumulate_all, scatter};
use hebb_core::convergence::{StopReason, StopRule, StopState, WinTracker, c_l};
use hebb_core::encode::{EncodeMode, EncodeScratch, EncoderParams, encode};
use hebb_core::filters::{DogNorm, dog, quantize};
use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
use hebb_core::homeostasis::{
    AdaptiveThreshold, RateTarget, dead_maps, decay_from_tau, is_dead, rate_q16, recover,
    spiked_maps,
};
use hebb_core::model::ReadoutBlob;
use hebb_core::neuron::{NeuronKind, NeuronParams};
use hebb_core::pool::pool_times;
use hebb_core::readout::argmax;
use hebb_core::rng::Rng;
use hebb_core::rule::LearningRule;
use hebb_core::spikes::{NEVER, ones};
use hebb_core::stdp::{StdpParams, StdpRule, apply, is_ltp};
use hebb_core::wta::{Winner, WtaMode, WtaParams};
use hebb_core::{Error, q};
use hebb_tests::support::run_layer;

// ---------------------------------------------------------------------------------------------
// Neuron models on a one-neuron layer: `c` input channels of 1×1, a 1×1 kernel, one map, so the
// neuron's input at step t is the sum of the weights of the channels whose spike time is t.

fn one_neuron(c_in: u16, maps: u16) -> ConvGeom {
    ConvGeom::new(Shape::new(c_in, 1, 1), maps, 1, 1, Padding::Valid).unwrap()
}

/// Potential after each of `steps` steps, and the first-spike time after all of them.
fn trace(
    w: &[u16],
    theta: i32,
    kind: NeuronKind,
    fire_once: bool,
    input: &[u8],
    steps: u8,
) -> (Vec<i32>, u8) {
    let g = one_neuron(input.len() as u16, 1);
    let n = NeuronParams::new(kind, fire_once).unwrap();
    let mut vs = Vec::new();
    let mut t_first = NEVER;
    for s in 1..=steps {
        let r = run_layer(&g, w, &[theta], &n, s, input, None, false).unwrap();
        vs.push(r.v[0]);
        t_first = r.t_first[0];
    }
    (vs, t_first)
}

#[test]
fn if_neuron_trace() {
    // w = 0.5, 0.25, 0.375 arriving at steps 0, 1, 2; θ = 1.0.
    // V: 32768 → 49152 → 73728 ≥ 65536: spike at step 2, reset to 0; step 3: nothing arrives.
    let w = [32768, 16384, 24576];
    let (v, t) = trace(&w, 65536, NeuronKind::If, false, &[0, 1, 2], 4);
    assert_eq!(v, [32768, 49152, 0, 0]);
    assert_eq!(t, 2);
}

#[test]
fn spike_at_v_equal_theta() {
    // θ = 49152 = V after step 1 exactly: V ≥ θ spikes.
    let w = [32768, 16384, 24576];
    let (v, t) = trace(&w, 49152, NeuronKind::If, false, &[0, 1, 2], 3);
    assert_eq!(v, [32768, 0, 24576]);
    assert_eq!(t, 1);
    // One unit more and step 1 stays silent; 73728 ≥ 49153 spikes at step 2.
    let (v, t) = trace(&w, 49153, NeuronKind::If, false, &[0, 1, 2], 3);
    assert_eq!(v, [32768, 49152, 0]);
    assert_eq!(t, 2);
}

#[test]
fn reset_is_to_zero_not_subtractive() {
    // θ = 40000; 0.5 at steps 0 and 1 → V = 65536 at step 1: spike, V ← 0 (a subtractive reset
    // would leave 25536). Step 2 adds 0.25: V = 16384 (subtractive: 41920, another spike).
    let w = [32768, 32768, 16384];
    let (v, t) = trace(&w, 40000, NeuronKind::If, false, &[0, 1, 2], 3);
    assert_eq!(v, [32768, 0, 16384]);
    assert_eq!(t, 1);
}

#[test]
fn lif_subtractive_trace_clamps_at_zero() {
    // λ = 10000: V ← max(0, V − λ + I). 0.5 at step 0, 0.25 at step 2, θ = 1.0.
    // 0 − 10000 + 32768 = 22768; 12768; 12768 − 10000 + 16384 = 19152; 9152;
    // 9152 − 10000 = −848 → 0; 0 − 10000 → 0.
    let w = [32768, 16384, 65535];
    let kind = NeuronKind::LifSub { leak: 10000 };
    let (v, t) = trace(&w, 65536, kind, false, &[0, 2, NEVER], 6);
    assert_eq!(v, [22768, 12768, 19152, 9152, 0, 0]);
    assert_eq!(t, NEVER);
    // 0.5 at step 0, 0.25 at step 1: 22768, then 22768 − 10000 + 16384 = 29152 = θ: spike.
    let (v, t) = trace(&w, 29152, kind, false, &[0, 1, NEVER], 3);
    assert_eq!(v, [22768, 0, 0]);
    assert_eq!(t, 1);
}

#[test]
fn lif_multiplicative_trace_floors() {
    // β = 0.75 (49152): V ← ⌊β·V⌋ + I. 32769 at step 0, 16384 at step 2.
    // 32769; ⌊24576.75⌋ = 24576; 18432 + 16384 = 34816; 26112; 19584.
    let w = [32769, 16384];
    let kind = NeuronKind::LifMul { beta: 49152 };
    let (v, t) = trace(&w, 65536, kind, false, &[0, 2], 5);
    assert_eq!(v, [32769, 24576, 34816, 26112, 19584]);
    assert_eq!(t, NEVER);
    // θ = 34816 is reached exactly at step 2.
    let (v, t) = trace(&w, 34816, kind, false, &[0, 2], 4);
    assert_eq!(v, [32769, 24576, 0, 0]);
    assert_eq!(t, 2);
}

#[test]
fn fire_once() {
    // θ = 0.5; 0.5 arrives at steps 0, 1 and 2.
    let w = [32768, 32768, 32768];
    // Without fire-once the neuron spikes (and resets) at every step.
    let (v, t) = trace(&w, 32768, NeuronKind::If, false, &[0, 1, 2], 3);
    assert_eq!(v, [0, 0, 0]);
    assert_eq!(t, 0);
    // With it, only the first crossing is a spike: no later spike, so no later reset.
    let (v, t) = trace(&w, 32768, NeuronKind::If, true, &[0, 1, 2], 3);
    assert_eq!(v, [0, 32768, 65536]);
    assert_eq!(t, 0);
    // Only first spikes are counted either way.
    let g = one_neuron(3, 1);
    for fire_once in [false, true] {
        let n = NeuronParams::new(NeuronKind::If, fire_once).unwrap();
        let r = run_layer(&g, &w[..], &[32768], &n, 3, &[0, 1, 2], None, false).unwrap();
        assert_eq!(r.outcome.spikes, 1);
        assert_eq!(r.outcome.events, 3);
    }
}

#[test]
fn per_map_thresholds() {
    // Two maps, both with weight 30000 from each of two channels (layout [c_in][c_out]),
    // channel 0 at step 0 and channel 1 at step 1: V = 30000 then 60000 in both maps.
    let g = one_neuron(2, 2);
    let w = [30000u16, 30000, 30000, 30000];
    let n = NeuronParams::new(NeuronKind::If, true).unwrap();
    let r = run_layer(&g, &w[..], &[30000, 60000], &n, 2, &[0, 1], None, false).unwrap();
    assert_eq!(r.t_first, [0, 1]);
    let r = run_layer(&g, &w[..], &[30001, 60001], &n, 2, &[0, 1], None, false).unwrap();
    assert_eq!(r.t_first, [1, NEVER]);
    // Thresholds must be one per map and positive.
    assert_eq!(
        run_layer(&g, &w[..], &[30000], &n, 2, &[0, 1], None, false).unwrap_err(),
        Error::ShapeMismatch("one threshold per map")
    );
    assert!(matches!(
        run_layer(&g, &w[..], &[30000, 0], &n, 2, &[0, 1], None, false),
        Err(Error::InvalidParam(_))
    ));
}

#[test]
fn wta_ranks_by_potential_then_index() {
    // Input 2 channels × 1×2, 1×1 kernel, 2 maps; weights [c][map]: c0 → (40000, 50000),
    // c1 → (50000, 40000). Both inputs spike at step 0, so at step 0:
    // (map 0, x 0) = 40000, (map 1, x 0) = 50000, (map 0, x 1) = 50000, (map 1, x 1) = 40000.
    let g = ConvGeom::new(Shape::new(2, 1, 2), 2, 1, 1, Padding::Valid).unwrap();
    let w = [40000u16, 50000, 50000, 40000];
    let n = NeuronParams::new(NeuronKind::If, true).unwrap();
    let input = [0u8, NEVER, NEVER, 0]; // [c][y][x]: c0 at x0, c1 at x1
    let theta = [30000, 30000];
    let run = |mode, k, radius| {
        let p = WtaParams::new(mode, k, radius, false).unwrap();
        run_layer(&g, &w[..], &theta, &n, 1, &input, Some(&p), false)
            .unwrap()
            .winners
    };
    let win = |map, x, v| Winner {
        map,
        y: 0,
        x,
        t: 0,
        v,
    };
    // Ties on 50000: flat index map·plane + pos: (map 0, x 1) = 1 beats (map 1, x 0) = 2.
    // Global: map 0 and position x 1 leave; (map 1, x 0) is still free.
    assert_eq!(
        run(WtaMode::Global, 4, 0),
        [win(0, 1, 50000), win(1, 0, 50000)]
    );
    assert_eq!(run(WtaMode::Global, 1, 0), [win(0, 1, 50000)]);
    // Local radius 1 from x 1 covers x 0 too: one winner.
    assert_eq!(run(WtaMode::Local, 4, 1), [win(0, 1, 50000)]);
    // Local radius 0 inhibits only x 1; map 0 may win again, but (map 0, x 0) has a lower
    // potential than (map 1, x 0).
    assert_eq!(
        run(WtaMode::Local, 4, 0),
        [win(0, 1, 50000), win(1, 0, 50000)]
    );
}

// ---------------------------------------------------------------------------------------------
// Geometry.

#[test]
fn conv_output_sizes() {
    let s = |h, w| Shape::new(1, h, w);
    let out = |g: ConvGeom| (g.output().h, g.output().w);
    // Same, stride 1: size kept; valid: shrinks by k − 1.
    assert_eq!(
        out(ConvGeom::new(s(28, 28), 4, 5, 1, Padding::Same).unwrap()),
        (28, 28)
    );
    assert_eq!(
        out(ConvGeom::new(s(28, 28), 4, 5, 1, Padding::Valid).unwrap()),
        (24, 24)
    );
    // Explicit: Kheradpisheh's layer 1 pads 28×28 by 2 for a 5×5 kernel: 28×28.
    assert_eq!(
        out(ConvGeom::new(s(28, 28), 30, 5, 1, Padding::Explicit(2)).unwrap()),
        (28, 28)
    );
    // Stride 2: ⌊(28 − 5)/2⌋ + 1 = 12; with padding 1 and k 3 on 7×9: ⌊(7 + 2 − 3)/2⌋ + 1 = 4,
    // ⌊(9 + 2 − 3)/2⌋ + 1 = 5; same padding at stride 2 on 28: ⌊(28 + 4 − 5)/2⌋ + 1 = 14.
    assert_eq!(
        out(ConvGeom::new(s(28, 28), 1, 5, 2, Padding::Valid).unwrap()),
        (12, 12)
    );
    assert_eq!(
        out(ConvGeom::new(s(7, 9), 1, 3, 2, Padding::Explicit(1)).unwrap()),
        (4, 5)
    );
    assert_eq!(
        out(ConvGeom::new(s(28, 28), 1, 5, 2, Padding::Same).unwrap()),
        (14, 14)
    );
    let g = ConvGeom::new(Shape::new(3, 8, 8), 7, 3, 1, Padding::Same).unwrap();
    assert_eq!(g.fan_in(), 27);
    assert_eq!(g.n_weights(), 189);
    assert_eq!(g.syn(2, 1, 0), 2 * 9 + 3);
    // Invalid geometries.
    assert!(ConvGeom::new(s(4, 4), 1, 5, 1, Padding::Valid).is_err());
    assert!(ConvGeom::new(s(4, 4), 0, 3, 1, Padding::Valid).is_err());
    assert!(ConvGeom::new(s(4, 4), 1, 3, 0, Padding::Valid).is_err());
    assert!(ConvGeom::new(s(4, 4), 1, 3, 1, Padding::Explicit(3)).is_err());
}

#[test]
fn conv_output_rows_must_fit_u16() {
    // 65535 rows, k 181, padding 180: 65535 + 360 − 181 + 1 = 65715 output rows would not fit
    // the u16 of a shape (it used to wrap to 179).
    let g = ConvGeom::new(Shape::new(1, 65535, 1), 1, 181, 1, Padding::Explicit(180));
    assert!(matches!(g, Err(Error::InvalidParam(_))), "{g:?}");
    // Pooling 65535 rows with k 2, s 1, pad 1 would give 65536 rows (wrapping to 0).
    let p = PoolGeom::new(Shape::new(1, 65535, 1), 2, 1, 1);
    assert!(matches!(p, Err(Error::InvalidParam(_))), "{p:?}");
    // The largest legal outputs are still accepted.
    let g = ConvGeom::new(Shape::new(1, 65535, 1), 1, 1, 1, Padding::Valid).unwrap();
    assert_eq!(g.output().h, 65535);
}

#[test]
fn scatter_by_hand() {
    // Input 1×3×3, kernel 2×2 with weights [ky][kx] = [[1, 2], [3, 4]], valid: output 2×2.
    // The centre input (1, 1) is tap (1, 1) of output (0, 0), tap (1, 0) of (0, 1),
    // tap (0, 1) of (1, 0) and tap (0, 0) of (1, 1).
    let g = ConvGeom::new(Shape::new(1, 3, 3), 1, 2, 1, Padding::Valid).unwrap();
    let w = [1u16, 2, 3, 4];
    let mut v = [0i32; 4];
    let mut touched = [0u32; 1];
    scatter(&g, &w[..], 0, 1, 1, &mut v, Some(&mut touched)).unwrap();
    assert_eq!(v, [4, 3, 2, 1]);
    assert_eq!(touched[0], 0b1111);
    // The corner (0, 0) only reaches output (0, 0) through tap (0, 0).
    let mut v = [0i32; 4];
    scatter(&g, &w[..], 0, 0, 0, &mut v, None).unwrap();
    assert_eq!(v, [1, 0, 0, 0]);
    // Every input spiking: each output sums its whole kernel, 1 + 2 + 3 + 4.
    let mut v = [0i32; 4];
    accumulate_all(&g, &w[..], &[0; 9], &mut v).unwrap();
    assert_eq!(v, [10; 4]);
    // Silent inputs add nothing.
    accumulate_all(&g, &w[..], &[NEVER; 9], &mut v).unwrap();
    assert_eq!(v, [0; 4]);
}

#[test]
fn scatter_stride_two_with_padding_and_two_maps() {
    // Input 1×4×4, k 3, stride 2, padding 1: output ⌊(4 + 2 − 3)/2⌋ + 1 = 2 → 2×2, 2 maps.
    // Weights [ky][kx][map] = 100·map + 10·ky + kx + 1.
    let g = ConvGeom::new(Shape::new(1, 4, 4), 2, 3, 2, Padding::Explicit(1)).unwrap();
    let w: Vec<u16> = (0..3)
        .flat_map(|ky| (0..3).flat_map(move |kx| (0..2).map(move |m| 100 * m + 10 * ky + kx + 1)))
        .collect();
    // Spike at input (y 1, x 2) = padded (2, 3). Rows: oy·2 ≤ 2 < oy·2 + 3 → oy 0 (ky 2) and
    // oy 1 (ky 0). Columns: ox·2 ≤ 3 < ox·2 + 3 → ox 1 only (kx 1).
    let mut v = [0i32; 8]; // [oy][ox][map]
    let mut touched = [0u32; 1];
    scatter(&g, &w[..], 0, 1, 2, &mut v, Some(&mut touched)).unwrap();
    // (0, 1): tap (2, 1) → 22 and 122; (1, 1): tap (0, 1) → 2 and 102.
    assert_eq!(v, [0, 0, 22, 122, 0, 0, 2, 102]);
    assert_eq!(touched[0], 0b1010);
}

#[test]
fn pool_geometry_and_indices() {
    // 28 → ⌊(28 + 2 − 2)/2⌋ + 1 = 15, 16 → ⌊(16 + 2 − 2)/2⌋ + 1 = 9.
    let p = PoolGeom::new(Shape::new(30, 28, 28), 2, 2, 1).unwrap();
    assert_eq!(p.output(), Shape::new(30, 15, 15));
    let p = PoolGeom::new(Shape::new(1, 16, 16), 2, 2, 1).unwrap();
    assert_eq!(p.output(), Shape::new(1, 9, 9));
    assert!(PoolGeom::new(Shape::new(1, 4, 4), 2, 2, 2).is_err());

    // 3×3 → 2×2 with k 2, s 2, p 1. Windows (rows × cols in input coordinates):
    // (0,0): {0}×{0}; (0,1): {0}×{1,2}; (1,0): {1,2}×{0}; (1,1): {1,2}×{1,2}.
    let p = PoolGeom::new(Shape::new(1, 3, 3), 2, 2, 1).unwrap();
    let input = [
        5, 3, 3, //
        NEVER, 7, 2, //
        4, 2, 9,
    ];
    let mut out = [0u8; 4];
    let mut idx = [0u32; 4];
    pool_times(&p, &input, &mut out, Some(&mut idx)).unwrap();
    // (0,1): tie 3/3 → first in row-major order, index 1; (1,1): tie 2 at (1,2) = 5 and
    // (2,1) = 7 → index 5.
    assert_eq!(out, [5, 3, 4, 2]);
    assert_eq!(idx, [0, 1, 6, 5]);
    // Padded cells never win: a window whose real cells are all silent stays silent, even
    // though a zero-padded max pool over values would see padding there.
    let input = [
        NEVER, 1, 1, //
        1, 1, 1, //
        1, 1, 1,
    ];
    pool_times(&p, &input, &mut out, Some(&mut idx)).unwrap();
    assert_eq!(out, [NEVER, 1, 1, 1]);
    assert_eq!(idx, [u32::MAX, 1, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// DoG filters.

/// The SpykeTorch DoG, computed here from the formula: `f(σ) = exp(−(x²+y²)/2σ²)/σ²`,
/// `(f(σ1) − f(σ2))/2π`, minus the mean, divided by the max.
fn dog_by_formula(s1: f64, s2: f64) -> Vec<f64> {
    let f = |s: f64, x: f64, y: f64| (-(x * x + y * y) / (2.0 * s * s)).exp() / (s * s);
    let mut k = Vec::new();
    for y in -3..=3 {
        for x in -3..=3 {
            let (x, y) = (f64::from(x), f64::from(y));
            k.push((f(s1, x, y) - f(s2, x, y)) / (2.0 * std::f64::consts::PI));
        }
    }
    let mean = k.iter().sum::<f64>() / 49.0;
    k.iter_mut().for_each(|v| *v -= mean);
    let max = k.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    k.iter().map(|v| v / max).collect()
}

#[test]
fn dog_7x7_mean_max() {
    let mut on = [0.0; 49];
    let mut off = [0.0; 49];
    dog(7, 1.0, 2.0, DogNorm::MeanMax, &mut on).unwrap();
    dog(7, 2.0, 1.0, DogNorm::MeanMax, &mut off).unwrap();
    // ON centre: the raw centre (1 − 1/4)/2π is the maximum, so after normalisation it is 1.
    assert_eq!(on[24], 1.0);
    assert!(on.iter().all(|&v| v <= 1.0));
    // Zero mean (both).
    assert!(on.iter().sum::<f64>().abs() < 1e-12);
    assert!(off.iter().sum::<f64>().abs() < 1e-12);
    // Every value agrees with the formula evaluated here.
    for (i, (a, b)) in on.iter().zip(dog_by_formula(1.0, 2.0)).enumerate() {
        assert!((a - b).abs() < 1e-12, "on[{i}] = {a}, formula {b}");
    }
    for (i, (a, b)) in off.iter().zip(dog_by_formula(2.0, 1.0)).enumerate() {
        assert!((a - b).abs() < 1e-12, "off[{i}] = {a}, formula {b}");
    }
    // Spot values (computed independently in Python from the same formula):
    // corner (−3, −3) and the centre's right neighbour (0, +1).
    assert!((on[0] - -0.061_740_851_755_732_25).abs() < 1e-12);
    assert!((on[25] - 0.501_984_196_057_267).abs() < 1e-12);
    // OFF is the sign-flipped ON, rescaled to its own maximum: off = on · max(on_c)/min(on_c)
    // where on_c is ON before normalisation, so off/on is one negative constant and OFF's
    // maximum (1.0) sits where ON is most negative.
    let min_on = on.iter().copied().fold(f64::INFINITY, f64::min);
    let ratio = 1.0 / min_on; // on is already divided by max(on_c)
    for (a, b) in on.iter().zip(&off) {
        assert!((b - a * ratio).abs() < 1e-12, "off {b} vs on {a}·{ratio}");
    }
    assert!((off[24] - -7.898_036_080_671_874).abs() < 1e-9);
    let off_max = off.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!((off_max - 1.0).abs() < 1e-15);
    // Quantised centre row of ON (Python: round(v·65536)).
    let mut q = [0i32; 49];
    quantize(&on, &mut q).unwrap();
    assert_eq!(
        &q[21..28],
        &[-7975, -3156, 32898, 65536, 32898, -3156, -7975]
    );
    // Bad parameters.
    assert!(dog(6, 1.0, 2.0, DogNorm::MeanMax, &mut on).is_err());
    assert!(dog(7, 1.0, 1.0, DogNorm::MeanMax, &mut on).is_err());
}

// ---------------------------------------------------------------------------------------------
// Latency code. One 1×1 filter of weight 1.0 makes the response of a pixel p exactly p·65536,
// so the ranking is that of the pixels.

fn latency(image: &[u8; 6], steps: u8, threshold: i32, mode: EncodeMode) -> (Vec<u8>, usize) {
    let p = EncoderParams::new(2, 3, 1, 1, threshold, 0, steps, mode).unwrap();
    let (mut resp, mut rows, mut keys) = ([0i32; 6], [0i64; 6], [0u64; 6]);
    let mut s = EncodeScratch {
        resp: &mut resp,
        rows: &mut rows,
        keys: &mut keys,
    };
    let mut times = vec![0u8; 6];
    let n = encode(&p, &[65536], image, &mut s, &mut times).unwrap();
    (times, n)
}

#[test]
fn latency_code_by_hand() {
    let img = [10, 50, 30, 20, 60, 40];
    // N = 6, T = 3: bins of 2. 60 (4), 50 (1) → 0; 40 (5), 30 (2) → 1; 20 (3), 10 (0) → 2.
    let (t, n) = latency(&img, 3, 0, EncodeMode::Latency);
    assert_eq!(t, [2, 0, 1, 2, 0, 1]);
    assert_eq!(n, 6);
    // T = 4: bins of ⌊6/4⌋ = 1; the N mod T = 2 weakest (20, 10) never spike.
    let (t, n) = latency(&img, 4, 0, EncodeMode::Latency);
    assert_eq!(t, [NEVER, 1, 3, NEVER, 0, 2]);
    assert_eq!(n, 4);
    // N < T (6 < 10): every value gets a step of its own in rank order.
    let (t, n) = latency(&img, 10, 0, EncodeMode::Latency);
    assert_eq!(t, [5, 1, 3, 4, 0, 2]);
    assert_eq!(n, 6);
    // Threshold 25: 10 and 20 vanish, N = 4, T = 3: bins of 1, the weakest (30) is dropped.
    let (t, n) = latency(&img, 3, 25 << 16, EncodeMode::Latency);
    assert_eq!(t, [NEVER, 1, NEVER, NEVER, 0, 2]);
    assert_eq!(n, 3);
    // Ties by lower index; zeros never spike. N = 5, T = 2: bins of 2, one dropped.
    // 7 (0), 7 (1) → 0; 7 (3), 3 (4) → 1; 3 (5) dropped.
    let (t, n) = latency(&[7, 7, 0, 7, 3, 3], 2, 0, EncodeMode::Latency);
    assert_eq!(t, [0, 0, NEVER, 1, 1, NEVER]);
    assert_eq!(n, 4);
    // All at the first step: every non-zero response at step 0.
    let (t, n) = latency(&[7, 7, 0, 7, 3, 3], 2, 0, EncodeMode::AllAtFirstStep);
    assert_eq!(t, [0, 0, NEVER, 0, 0, 0]);
    assert_eq!(n, 5);
}

// ---------------------------------------------------------------------------------------------
// STDP.

#[test]
fn stdp_delta_by_hand() {
    let p = StdpParams::from_f64(StdpRule::Multiplicative, 0.004, 0.004).unwrap();
    // a = 0.004 → round(0.004·2^32) = round(17179869.184) = 17179869.
    assert_eq!(p.a_plus, 17_179_869);
    // w = 0.5: Δ = 17179869·2^15·2^15 / 2^48 = 17179869 / 2^18 = 65.536 → 66 (nearest).
    assert_eq!(p.delta(32768, true), 66);
    assert_eq!(p.delta(32768, false), -66);
    assert_eq!(apply(32768, p.delta(32768, true)), 32834);
    assert_eq!(apply(32768, p.delta(32768, false)), 32702);
    // w = 0.25: 17179869·16384·49152 / 2^48 = 17179869·3 / 2^20 = 49.152 → 49.
    assert_eq!(p.delta(16384, true), 49);
    // At 0 the product w(1 − w) is 0: the weight does not move. At 65535 it is 65535/2^32, so
    // the change is 0.004 · that ≈ 0.004 LSB, which the one-LSB floor turns into ±1 (LTP then
    // saturates at 65535).
    assert_eq!(p.delta(0, true), 0);
    assert_eq!(p.delta(0, false), 0);
    assert_eq!(p.delta(65535, true), 1);
    assert_eq!(p.delta(65535, false), -1);
    assert_eq!(apply(65535, p.delta(65535, true)), 65535);
    assert_eq!(apply(65535, p.delta(65535, false)), 65534);
    // Near the lower bound: w = 166 (≈ 0.0025), a− = 0.003 → 0.003·166·65370/65536 ≈ 0.497 LSB,
    // which rounds to 0 but moves by the floor's one LSB; the weight keeps decaying to 0.
    let ltd = StdpParams::from_f64(StdpRule::Multiplicative, 0.004, 0.003).unwrap();
    assert_eq!(ltd.delta(166, false), -1);
    let mut w = 166u16;
    for _ in 0..166 {
        w = apply(w, ltd.delta(w, false));
    }
    assert_eq!(w, 0);
    // w = 1 LSB with a = 0.2 moves by 0.2·65535/65536 ≈ 0.2 LSB → floor → 1.
    let big = StdpParams::from_f64(StdpRule::Multiplicative, 0.2, 0.2).unwrap();
    assert_eq!(big.delta(1, true), 1);
    // Additive: (17179869 + 2^15) >> 16 = ⌊262.64⌋ = 262 = round(0.004·65536 = 262.144).
    let add = StdpParams::from_f64(StdpRule::Additive, 0.004, 0.004).unwrap();
    assert_eq!(add.delta(0, true), 262);
    assert_eq!(add.delta(65535, false), -262);
    // …and saturates at the bounds instead of wrapping.
    assert_eq!(apply(65535, add.delta(65535, true)), 65535);
    assert_eq!(apply(65400, add.delta(65400, true)), 65535);
    assert_eq!(apply(0, add.delta(0, false)), 0);
    assert_eq!(apply(100, add.delta(100, false)), 0);
    // a− given as a negative number means the same magnitude.
    assert_eq!(
        StdpParams::from_f64(StdpRule::Additive, 0.004, -0.003).unwrap(),
        StdpParams::from_f64(StdpRule::Additive, 0.004, 0.003).unwrap()
    );
    assert!(StdpParams::from_f64(StdpRule::Additive, -0.1, 0.1).is_err());
    assert!(StdpParams::from_f64(StdpRule::Additive, 1.0, 0.1).is_err());
}

#[test]
fn stdp_timing_rule() {
    // Pre at or before post: LTP; later or never: LTD.
    assert!(is_ltp(3, 3));
    assert!(is_ltp(0, 3));
    assert!(!is_ltp(4, 3));
    assert!(!is_ltp(NEVER, 3));
    assert!(!is_ltp(NEVER, 253));
    // The LearningRule view of STDP agrees.
    let p = StdpParams::from_f64(StdpRule::Multiplicative, 0.004, 0.003).unwrap();
    assert_eq!(p.ltp_sign(3, 3), Some(true));
    assert_eq!(p.ltp_sign(NEVER, 0), Some(false));
    assert_eq!(p.update(32768, 1, 2), 32834);
    // LTD with a− = 0.003: 0.003·0.25·65536 = 49.152 → 49.
    assert_eq!(p.update(32768, 5, 2), 32768 - 49);
    assert!((p.reference(0.5, Some(1), 2) - (0.5 + 0.004 * 0.25)).abs() < 1e-9);
    assert!((p.reference(0.5, None, 2) - (0.5 - 0.003 * 0.25)).abs() < 1e-9);
    assert_eq!(p.name(), "stdp-multiplicative");
}

/// Mini-batch STDP by hand on a one-neuron layer of two channels: two samples' winners combine
/// from the batch's weights; bad buffers are errors, not panics.
#[test]
fn stdp_batch_by_hand() {
    use hebb_core::plasticity::{apply_accumulated, stdp_accumulate, stdp_accumulate_rows};
    let g = one_neuron(2, 1);
    let p = StdpParams::from_f64(StdpRule::Multiplicative, 0.004, 0.003).unwrap();
    let w = [32768u16, 65535];
    let win = |t| Winner {
        map: 0,
        y: 0,
        x: 0,
        t,
        v: 0,
    };
    let mut acc = [0i32; 2];
    // Sample 1: channel 0 fired at 1, channel 1 never: LTP on w0, LTD on w1.
    stdp_accumulate(&g, &w, &[1, NEVER], &[win(2)], &p, &mut acc).unwrap();
    // 0.004·0.25·65536 = 65.536 → 66; w1 = 65535: 0.003·65535·1 / 65536 ≈ 0.003 LSB → floor 1.
    assert_eq!(acc, [66, -1]);
    // Sample 2, same weights: channel 0 after the post spike (LTD), channel 1 before (LTP, the
    // exact change ≈ 0.004 LSB: one LSB).
    stdp_accumulate(&g, &w, &[5, 0], &[win(2)], &p, &mut acc).unwrap();
    assert_eq!(acc, [66 - 49, -1 + 1]);
    let mut got = w;
    apply_accumulated(&mut got, &mut acc).unwrap();
    assert_eq!(got, [32768 + 17, 65535]);
    assert_eq!(acc, [0, 0]);
    // Saturation happens once, on the sum.
    let mut acc = [0i32, 70_000];
    let mut got = w;
    apply_accumulated(&mut got, &mut acc).unwrap();
    assert_eq!(got, [32768, 65535]);
    // Errors.
    assert!(stdp_accumulate(&g, &w, &[1, 1], &[win(2)], &p, &mut [0; 1]).is_err());
    assert!(stdp_accumulate_rows(&g, &w, &[1, 1], &[win(2)], &p, 1, &mut [0; 2]).is_err());
    assert!(stdp_accumulate(&g, &w[..1], &[1, 1], &[win(2)], &p, &mut [0; 2]).is_err());
    let mut bad = win(2);
    bad.map = 1;
    assert!(stdp_accumulate(&g, &w, &[1, 1], &[bad], &p, &mut [0; 2]).is_err());
    assert!(apply_accumulated(&mut [0u16; 2], &mut [0; 3]).is_err());
    // One row at a time gives the same sums.
    let mut rows = [0i32; 2];
    for r in 0..2 {
        stdp_accumulate_rows(&g, &w, &[1, NEVER], &[win(2)], &p, r, &mut rows[r..r + 1]).unwrap();
    }
    assert_eq!(rows, [66, -1]);
}

// ---------------------------------------------------------------------------------------------
// Readout.

#[test]
fn readout_argmax_ties_go_to_the_lowest_class() {
    assert_eq!(argmax(&[3, 7, 7, 1]), Some(1));
    assert_eq!(argmax(&[5, 5, 5]), Some(0));
    assert_eq!(argmax(&[-4, -2, -2]), Some(1));
    assert_eq!(argmax(&[i32::MIN]), Some(0));
    assert_eq!(argmax(&[]), None);
}

#[test]
fn readout_scores_by_hand() {
    // 3 features × 2 classes, i8: f0 → (1, −2), f1 → (3, 4), f2 → (−5, 6); bias (10, 0).
    let weights = [1u8, (-2i8) as u8, 3, 4, (-5i8) as u8, 6];
    let bias: Vec<u8> = [10i32, 0].iter().flat_map(|b| b.to_le_bytes()).collect();
    let r = ReadoutBlob {
        n_features: 3,
        n_classes: 2,
        bits: 8,
        weights: &weights,
        bias: &bias,
    };
    let mut s = [0i32; 2];
    r.scores(&[0b101], &mut s).unwrap();
    assert_eq!(s, [10 + 1 - 5, -2 + 6]);
    r.scores(&[0b010], &mut s).unwrap();
    assert_eq!(s, [13, 4]);
    r.scores(&[0b111], &mut s).unwrap();
    assert_eq!(s, [9, 8]);
    // f0 and f1 only: (14, 2).
    r.scores(&[0b011], &mut s).unwrap();
    assert_eq!(argmax(&s), Some(0));
    // Bias only, equal scores after f1 + f2: (10 + 3 − 5, 4 + 6) = (8, 10); class 1.
    r.scores(&[0b110], &mut s).unwrap();
    assert_eq!(s, [8, 10]);
    assert_eq!(argmax(&s), Some(1));
    // A feature bit beyond the readout is an error, not a panic.
    assert!(r.scores(&[0b1000], &mut s).is_err());
}

// ---------------------------------------------------------------------------------------------
// Homeostasis.

#[test]
fn adaptive_threshold_by_hand() {
    // rest 1000, θ+ 500, decay 0.5 (2^31), bounds [500, 1800].
    let a = AdaptiveThreshold::new(1000, 500, 1 << 31, 500, 1800).unwrap();
    let mut th = [1000, 1000, 1000];
    // Map 0 spikes: 1000 + 500 = 1500 → 1000 + 500·0.5 = 1250. Maps 1, 2 stay at rest.
    a.update(&mut th, &[0b001]).unwrap();
    assert_eq!(th, [1250, 1000, 1000]);
    // Map 0 again: 1750 → 1000 + 375 = 1375; map 1: 1500 → 1250.
    a.update(&mut th, &[0b011]).unwrap();
    assert_eq!(th, [1375, 1250, 1000]);
    // Map 0 again: 1875 → clamped to 1800 first → 1000 + 400 = 1400.
    a.update(&mut th, &[0b001]).unwrap();
    assert_eq!(th[0], 1400);
    // Decay rounds toward rest: offset 375·0.5 = 187.5 → 187 (up), −3·0.5 = −1.5 → −1 (down).
    assert_eq!(a.step(1375, false), 1187);
    assert_eq!(a.step(997, false), 999);
    // Without spikes every threshold returns exactly to rest.
    for _ in 0..20 {
        a.update_with(&mut th, |_| false);
    }
    assert_eq!(th, [1000; 3]);
    // A tiny decay offset of 1 disappears at once (0.5 → 0), instead of sticking.
    assert_eq!(a.step(1001, false), 1000);
    // tau → factor: exp(−1/500) = 0.998001998667… → round(·2^32).
    assert_eq!(
        decay_from_tau(500.0),
        (0.998_001_998_667_333_f64 * 4_294_967_296.0).round() as u32
    );
    assert_eq!(decay_from_tau(0.0), 0);
    assert_eq!(decay_from_tau(f64::INFINITY), u32::MAX);
    // Bad parameters.
    assert!(AdaptiveThreshold::new(1000, 500, 0, 0, 1800).is_err());
    assert!(AdaptiveThreshold::new(1000, 500, 0, 1200, 1800).is_err());
    assert!(AdaptiveThreshold::new(1000, -1, 0, 500, 1800).is_err());
    assert!(AdaptiveThreshold::new(2000, 1, 0, 500, 1800).is_err());
    // The spike bit set must cover every map.
    let mut th = [1000; 33];
    assert!(a.update(&mut th, &[0]).is_err());
}

#[test]
fn spiked_maps_from_first_spike_times() {
    // 3 maps × 2 positions: map 1 silent.
    let t = [NEVER, 4, NEVER, NEVER, 0, 0];
    let mut bits = [0u32; 1];
    assert_eq!(spiked_maps(&t, 3, 2, &mut bits).unwrap(), 2);
    assert_eq!(bits[0], 0b101);
}

#[test]
fn rate_target_by_hand() {
    // lr = 0.5, target 0.25; θ = 10000 fired 3 times in 4 presentations: rate 0.75.
    // Δ = 0.5·(0.75 − 0.25)·10000 = 2500. A neuron that never fired: 0.5·(−0.25)·10000 = −1250.
    let r = RateTarget::new(1 << 31, 1 << 14, 100, 1_000_000).unwrap();
    let mut th = [10000, 10000];
    r.update(&mut th, &[3, 0], 4).unwrap();
    assert_eq!(th, [12500, 8750]);
    // θ_min = 100 clamps a small threshold up.
    assert_eq!(r.step(3, 3 << 14), 100);
    // Rounding to nearest, symmetric: θ = 3, rate 0.75: 0.5·0.5·3 = 0.75 → 1; rate 0: −0.375 → 0.
    let r2 = RateTarget::new(1 << 31, 1 << 14, 1, 1_000_000).unwrap();
    assert_eq!(r2.step(3, 3 << 14), 4);
    assert_eq!(r2.step(3, 0), 3);
    assert_eq!(r2.step(5, 0), 4); // −0.625 → −1
    // Bounds.
    let r3 = RateTarget::new(u32::MAX, 0, 100, 12000).unwrap();
    assert_eq!(r3.step(10000, 65536), 12000);
    assert_eq!(rate_q16(3, 4), 3 << 14);
    assert_eq!(rate_q16(1, 3), 21845);
    assert_eq!(rate_q16(5, 0), 0);
    // No presentation yet: nothing changes.
    let mut th = [10000];
    r.update(&mut th, &[7], 0).unwrap();
    assert_eq!(th, [10000]);
    assert!(r.update(&mut th, &[1, 2], 3).is_err());
    assert!(RateTarget::new(1, 70000, 1, 2).is_err());
    assert!(RateTarget::new(1, 10, 0, 2).is_err());
}

#[test]
fn dead_maps_and_recovery() {
    // Rate floor 0.01 (655/65536 ≈ 0.009995), 101 samples minimum.
    // 1 win in 101 samples: 65536 < 655·101 = 66155 → dead; 2 wins: 131072 ≥ 66155 → alive.
    assert!(is_dead(1, 101, 655, 101));
    assert!(!is_dead(2, 101, 655, 101));
    assert!(!is_dead(0, 100, 655, 101), "too few samples to judge");
    assert!(!is_dead(0, 0, 655, 0));
    let mut bits = [0u32; 1];
    let n = dead_maps(&[0, 5, 1, 2], 101, 655, 101, &mut bits).unwrap();
    assert_eq!(n, 2);
    assert_eq!(ones(&bits).collect::<Vec<_>>(), [0, 2]);

    // Recovery adds noise to the dead map's kernel only: layout [c_in·k·k][c_out], 3 maps.
    let mut w = vec![32768u16; 4 * 3];
    w[0] = 0;
    w[3] = 65535;
    let mut rng = Rng::new(7);
    recover(&mut w, 3, 0, &mut rng, 0.1).unwrap();
    for (i, &x) in w.iter().enumerate() {
        if !i.is_multiple_of(3) {
            assert_eq!(x, 32768, "weight {i} of another map changed");
        }
    }
    // The same noise as drawn by hand from the same stream, saturated into [0, 65535].
    let mut rng = Rng::new(7);
    for (i, start) in [(0usize, 0i64), (3, 65535), (6, 32768), (9, 32768)] {
        let n = (0.1 * 65536.0 * rng.normal()).round() as i64;
        assert_eq!(i64::from(w[i]), (start + n).clamp(0, 65535), "weight {i}");
    }
    assert!(recover(&mut w, 3, 3, &mut rng, 0.1).is_err());
    assert!(recover(&mut w, 5, 0, &mut rng, 0.1).is_err());
    assert!(recover(&mut w, 3, 0, &mut rng, f64::NAN).is_err());
    // σ = 0 changes nothing.
    let before = w.clone();
    recover(&mut w, 3, 1, &mut rng, 0.0).unwrap();
    assert_eq!(w, before);
}

// ---------------------------------------------------------------------------------------------
// Convergence.

#[test]
fn c_l_by_hand() {
    // All 0.5: 0.25 exactly. Binary weights: (0 + 65535·1)/2 / 2^32 per weight.
    assert_eq!(c_l(&[32768; 10]), 0.25);
    assert_eq!(c_l(&[0, 65535]), 65535.0 / 2.0 / 4_294_967_296.0);
    assert_eq!(c_l(&[]), 0.0);
    // 0.25 and 0.75: 0.1875 each.
    assert_eq!(c_l(&[16384, 49152]), 0.1875);
}

#[test]
fn win_tracker_and_stop_rule() {
    let mut counts = [9u32; 4];
    let mut t = WinTracker::new(&mut counts);
    t.reset();
    let win = |map| Winner {
        map,
        ..Winner::default()
    };
    for _ in 0..10 {
        t.record(&[win(0), win(2)]).unwrap();
    }
    t.record(&[win(2), win(3)]).unwrap();
    assert_eq!(t.wins(), &[10, 0, 11, 1]);
    assert_eq!(t.maps_with(10), 2);
    assert_eq!(t.ratio(10), 0.5);
    assert_eq!(t.max_wins(), 11);
    assert_eq!(t.total(), 22);
    assert!(t.record(&[win(1), win(4)]).is_err());
    assert_eq!(t.wins()[1], 0, "nothing counted from a bad sample");

    let rule = StopRule {
        c_l_eps: 0.01,
        min_wins: 10,
        target_ratio: 0.9,
        patience: 2,
        max_epochs: 10,
    };
    let mut s = StopState::new(rule).unwrap();
    assert_eq!(s.best(), None, "no epoch, no best");
    assert_eq!(s.after_epoch(0.2, 0.5, 0), None);
    assert_eq!(s.best(), Some(0.5));
    assert_eq!(s.after_epoch(0.2, 0.6, 1), None);
    assert_eq!(s.after_epoch(0.2, 0.6, 2), None); // one epoch without improvement
    assert_eq!(s.after_epoch(0.2, 0.55, 3), Some(StopReason::Patience));
    let mut s = StopState::new(rule).unwrap();
    assert_eq!(s.after_epoch(0.2, 0.95, 0), Some(StopReason::WinRatio));
    let mut s = StopState::new(rule).unwrap();
    assert_eq!(
        s.after_epoch(0.005, 0.95, 0),
        Some(StopReason::Converged { c_l: 0.005 })
    );
    // Everything off but the budget: stops after epoch max_epochs − 1, counted per layer.
    let off = StopRule {
        c_l_eps: 0.0,
        min_wins: 10,
        target_ratio: 0.0,
        patience: 0,
        max_epochs: 3,
    };
    for _layer in 0..2 {
        let mut s = StopState::new(off).unwrap();
        assert_eq!(s.after_epoch(0.0, 1.0, 0), None);
        assert_eq!(s.after_epoch(0.0, 1.0, 1), None);
        assert_eq!(s.after_epoch(0.0, 1.0, 2), Some(StopReason::EpochBudget));
        assert_eq!(s.epochs, 3);
    }
    assert!(
        StopState::new(StopRule {
            max_epochs: 0,
            ..off
        })
        .is_err()
    );
    assert!(
        StopState::new(StopRule {
            target_ratio: 1.5,
            ..off
        })
        .is_err()
    );
    assert!(
        StopState::new(StopRule {
            c_l_eps: f64::NAN,
            ..off
        })
        .is_err()
    );
}

#[test]
fn quantisation_helpers() {
    assert_eq!(q::weight_from_f64(0.5), 32768);
    assert_eq!(q::weight_from_f64(2.0), 65535);
    assert_eq!(q::weight_from_f64(-1.0), 0);
    assert_eq!(q::potential_from_f64(1.5), 98304);
    assert_eq!(q::widen8(255), 65535);
    assert_eq!(q::narrow8(65535), 255);
    assert_eq!(q::narrow8(q::widen8(77)), 77);
}
