//! Shared test support and the learning-rule conformance harness.
//!
//! # Conformance harness
//!
//! [`conformance::check_rule`] property-tests any [`LearningRule`] (the engine's STDP or your
//! own) with `proptest`, over random weights (the whole Q0.16 range, bounds included) and random
//! pre/post spike times (pre possibly [`NEVER`]):
//!
//! * **range and saturation**: the new weight never wraps around: it moves in the direction the
//!   rule declares with [`LearningRule::ltp_sign`], and near the bounds it saturates;
//! * **sign**: LTP never decreases a weight, LTD never increases one;
//! * **determinism**: the same inputs give the same output, on the same value and on a clone;
//! * **reference agreement**: `|update(w)/65536 − reference(w/65536)| ≤ 1/65536 + 1e-12`, i.e.
//!   the fixed-point rule is within one LSB of its own `f64` model.
//!
//! A rule of your own, here an additive rule with a step of `step` LSB, passes like this:
//!
//! ```
//! use hebb_core::rule::LearningRule;
//! use hebb_core::spikes::NEVER;
//! use hebb_tests::conformance::check_rule;
//!
//! #[derive(Clone, Debug)]
//! struct Additive {
//!     step: u16,
//! }
//!
//! impl LearningRule for Additive {
//!     fn name(&self) -> &str {
//!         "additive"
//!     }
//!     fn update(&self, w: u16, pre: u8, post: u8) -> u16 {
//!         if pre != NEVER && pre <= post {
//!             w.saturating_add(self.step)
//!         } else {
//!             w.saturating_sub(self.step)
//!         }
//!     }
//!     fn reference(&self, w: f64, pre: Option<u8>, post: u8) -> f64 {
//!         let d = f64::from(self.step) / 65536.0;
//!         let w1 = if pre.is_some_and(|p| p <= post) { w + d } else { w - d };
//!         w1.clamp(0.0, 65535.0 / 65536.0)
//!     }
//!     fn ltp_sign(&self, pre: u8, post: u8) -> Option<bool> {
//!         Some(pre != NEVER && pre <= post)
//!     }
//! }
//!
//! check_rule(Additive { step: 300 }, 256).expect("the additive rule conforms");
//!
//! // The same rule written with wrapping arithmetic is caught: at the upper bound LTP wraps
//! // around to a small weight.
//! #[derive(Clone, Debug)]
//! struct Wrapping(Additive);
//! impl LearningRule for Wrapping {
//!     fn name(&self) -> &str {
//!         "wrapping"
//!     }
//!     fn update(&self, w: u16, pre: u8, post: u8) -> u16 {
//!         if pre != NEVER && pre <= post {
//!             w.wrapping_add(self.0.step)
//!         } else {
//!             w.wrapping_sub(self.0.step)
//!         }
//!     }
//!     fn reference(&self, w: f64, pre: Option<u8>, post: u8) -> f64 {
//!         self.0.reference(w, pre, post)
//!     }
//!     fn ltp_sign(&self, pre: u8, post: u8) -> Option<bool> {
//!         self.0.ltp_sign(pre, post)
//!     }
//! }
//! assert!(check_rule(Wrapping(Additive { step: 300 }), 256).is_err());
//! ```
//!
//! The engine's own rule is checked the same way:
//!
//! ```
//! use hebb_core::stdp::{StdpParams, StdpRule};
//! let p = StdpParams::from_f64(StdpRule::Multiplicative, 0.004, 0.003).unwrap();
//! hebb_tests::conformance::check_rule(p, 256).unwrap();
//! ```
//!
//! # Fixtures
//!
//! [`fixtures`] builds valid models (a realistic one and random small ones) as owned parts that
//! lend a [`hebb_core::model::Model`], for the model-format tests and the fuzz seed corpus.

use hebb_core::rule::LearningRule;
use hebb_core::spikes::NEVER;

/// The learning-rule conformance harness.
pub mod conformance {
    use super::{LearningRule, NEVER};
    use hebb_core::spikes::MAX_STEPS;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use std::fmt::Debug;

    /// One LSB of a Q0.16 weight, plus room for `f64` rounding.
    pub const TOLERANCE: f64 = 1.0 / 65536.0 + 1e-12;

    /// Weights: uniform over the whole range, with the bounds and the middle over-represented.
    pub fn weights() -> impl Strategy<Value = u16> {
        prop_oneof![
            4 => any::<u16>(),
            1 => prop::sample::select(vec![0u16, 1, 2, 32767, 32768, 65533, 65534, 65535]),
        ]
    }

    /// Pre-synaptic first-spike times: a step, or [`NEVER`].
    pub fn pre_times() -> impl Strategy<Value = u8> {
        prop_oneof![
            3 => 0..MAX_STEPS,
            1 => Just(NEVER),
        ]
    }

    /// Post-synaptic first-spike times: a real step (a winner fired).
    pub fn post_times() -> impl Strategy<Value = u8> {
        0..MAX_STEPS
    }

    /// Checks every property on one input; `Err` says which property failed and how.
    pub fn check_case<R: LearningRule + Clone>(
        rule: &R,
        w: u16,
        pre: u8,
        post: u8,
    ) -> Result<(), String> {
        let name = rule.name();
        let out = rule.update(w, pre, post);
        // (c) determinism, on the value and on a clone.
        let again = rule.update(w, pre, post);
        let cloned = rule.clone().update(w, pre, post);
        if again != out || cloned != out {
            return Err(format!(
                "{name}: not deterministic for w={w} pre={pre} post={post}: {out}, {again}, {cloned}"
            ));
        }
        // (a)+(b) direction: LTP never decreases, LTD never increases. A wrapped result shows
        // up here as a move in the wrong direction.
        let sign = rule.ltp_sign(pre, post);
        match sign {
            Some(true) if out < w => {
                return Err(format!(
                    "{name}: LTP decreased w={w} to {out} (pre={pre} post={post}); wrap-around?"
                ));
            }
            Some(false) if out > w => {
                return Err(format!(
                    "{name}: LTD increased w={w} to {out} (pre={pre} post={post}); wrap-around?"
                ));
            }
            _ => {}
        }
        // (d) agreement with the f64 model.
        let pre_opt = (pre != NEVER).then_some(pre);
        let wf = f64::from(w) / 65536.0;
        let r = rule.reference(wf, pre_opt, post);
        if !r.is_finite() || !(0.0..=1.0).contains(&r) {
            return Err(format!(
                "{name}: reference {r} outside [0, 1] for w={w} pre={pre} post={post}"
            ));
        }
        let got = f64::from(out) / 65536.0;
        if (got - r).abs() > TOLERANCE {
            return Err(format!(
                "{name}: w={w} pre={pre} post={post}: fixed point {out} ({got}) differs from the \
                 reference {r} by {} LSB (> 1)",
                (got - r).abs() * 65536.0
            ));
        }
        // The model must honour the declared sign too (up to one LSB of rounding).
        match sign {
            Some(true) if r < wf - TOLERANCE => Err(format!(
                "{name}: reference decreases w={w} under LTP (pre={pre} post={post})"
            )),
            Some(false) if r > wf + TOLERANCE => Err(format!(
                "{name}: reference increases w={w} under LTD (pre={pre} post={post})"
            )),
            _ => Ok(()),
        }
    }

    /// Runs the conformance properties on `cases` random inputs (plus the saturation corners).
    /// Returns the first failure, shrunk by proptest to a minimal input, as a message.
    pub fn check_rule<R: LearningRule + Clone + Debug>(rule: R, cases: u32) -> Result<(), String> {
        if rule.name().is_empty() {
            return Err("rule name is empty".into());
        }
        // Saturation corners first: every rule must handle them, whatever the random draw.
        for &w in &[0u16, 1, 65534, 65535] {
            for &(pre, post) in &[
                (0u8, 0u8),
                (0, 5),
                (5, 0),
                (NEVER, 0),
                (NEVER, 253),
                (253, 253),
            ] {
                check_case(&rule, w, pre, post).map_err(|e| format!("{e} [{rule:?}]"))?;
            }
        }
        let config = Config {
            cases: cases.max(1),
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        runner
            .run(&(weights(), pre_times(), post_times()), |(w, pre, post)| {
                check_case(&rule, w, pre, post).map_err(TestCaseError::fail)
            })
            .map_err(|e| format!("{e} [{rule:?}]"))
    }
}

/// Conformance of rate rules ([`hebb_core::local::rule::RateRule`]).
pub mod rate_conformance {
    use hebb_core::local::fixed;
    use hebb_core::local::rule::RateRule;
    use hebb_core::rng::Rng;

    /// What a check measured.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Report {
        /// Steps run.
        pub steps: u64,
        /// Largest |w_fixed − w_f64| seen after any step.
        pub max_error: f64,
        /// Largest |w| seen.
        pub max_weight: f64,
    }

    /// Runs `rule` for `steps` samples of a zero-mean Gaussian stream (standard deviation `sd`,
    /// seeded) in fixed point and in its `f64` model, from the same small random weights.
    /// Checks: the step never fails on in-range data; two runs are bit-identical
    /// (determinism); every weight stays finite and within the rule's bound; fixed point and
    /// model agree within `tolerance` after every step. Returns the first failure as a message.
    pub fn check_rate_rule<R: RateRule>(
        rule: &R,
        steps: u64,
        sd: f64,
        tolerance: f64,
        seed: u64,
    ) -> Result<Report, String> {
        let name = rule.name();
        if name.is_empty() {
            return Err("rule name is empty".into());
        }
        let (n, k) = rule.shape();
        if n == 0 || k == 0 {
            return Err(format!("{name}: empty shape {n} × {k}"));
        }
        let mut rng = Rng::new(seed);
        let w0: Vec<i32> = (0..n * k)
            .map(|_| fixed::saturating_from_f64(rng.normal() * 0.3 / (n as f64).sqrt()))
            .collect();
        let extra0 = vec![rule.extra_init(); k * rule.extra_per_output()];
        let xs: Vec<i32> = (0..steps as usize * n)
            .map(|_| fixed::saturating_from_f64((rng.normal() * sd).clamp(-30.0, 30.0)))
            .collect();
        let run = || -> Result<(Vec<i32>, Vec<i32>, Report), String> {
            let (mut w, mut e) = (w0.clone(), extra0.clone());
            let mut wf: Vec<f64> = w.iter().map(|&v| fixed::to_f64(v)).collect();
            let mut ef: Vec<f64> = e.iter().map(|&v| fixed::to_f64(v)).collect();
            let mut rep = Report {
                steps,
                max_error: 0.0,
                max_weight: 0.0,
            };
            for (t, x) in xs.chunks_exact(n).enumerate() {
                let t = t as u64;
                rule.step(&mut w, &mut e, x, t)
                    .map_err(|err| format!("{name}: step {t} failed: {err}"))?;
                let xf: Vec<f64> = x.iter().map(|&v| fixed::to_f64(v)).collect();
                rule.reference(&mut wf, &mut ef, &xf, t);
                for (i, (&a, &b)) in w.iter().zip(&wf).enumerate() {
                    let a = fixed::to_f64(a);
                    if !b.is_finite() {
                        return Err(format!(
                            "{name}: the f64 model diverged at step {t}, weight {i}"
                        ));
                    }
                    let err = (a - b).abs();
                    rep.max_error = rep.max_error.max(err);
                    rep.max_weight = rep.max_weight.max(a.abs());
                    if err > tolerance {
                        return Err(format!(
                            "{name}: weight {i} after step {t} is {a} in fixed point and {b} in the model (|Δ| {err:.3e} > {tolerance:.3e})"
                        ));
                    }
                    if let Some(bound) = rule.weight_bound()
                        && a.abs() > bound
                    {
                        return Err(format!(
                            "{name}: weight {i} = {a} beyond the bound {bound} after step {t}"
                        ));
                    }
                }
            }
            Ok((w, e, rep))
        };
        let (w1, e1, rep) = run()?;
        let (w2, e2, _) = run()?;
        if w1 != w2 || e1 != e2 {
            return Err(format!("{name}: two runs from the same state differ"));
        }
        Ok(rep)
    }
}

/// Model fixtures: owned parts that lend a [`hebb_core::model::Model`].
pub mod fixtures {
    use hebb_core::encode::{EncodeMode, EncoderParams};
    use hebb_core::filters::{DogNorm, dog, quantize};
    use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
    use hebb_core::model::{LayerArch, LayerBlob, MAX_LAYERS, Model, Provenance, ReadoutBlob};
    use hebb_core::neuron::{NeuronKind, NeuronParams};
    use hebb_core::rng::Rng;

    /// Weights and thresholds of one layer, owned.
    #[derive(Debug, Clone, PartialEq)]
    pub struct OwnedLayer {
        /// 8 or 16.
        pub bits: u8,
        /// Little-endian weight bytes.
        pub weights: Vec<u8>,
        /// Little-endian `i32` thresholds.
        pub thresholds: Vec<u8>,
    }

    /// A readout, owned.
    #[derive(Debug, Clone, PartialEq)]
    pub struct OwnedReadout {
        /// Features.
        pub n_features: u32,
        /// Classes.
        pub n_classes: u16,
        /// 8 or 16.
        pub bits: u8,
        /// Weight bytes.
        pub weights: Vec<u8>,
        /// Bias bytes.
        pub bias: Vec<u8>,
    }

    /// Everything a [`Model`] borrows, owned.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ModelParts {
        /// Encoder.
        pub encoder: EncoderParams,
        /// Filter bytes (`i32` LE).
        pub filters: Vec<u8>,
        /// Architectures.
        pub arch: Vec<LayerArch>,
        /// Layer blobs.
        pub layers: Vec<OwnedLayer>,
        /// Readout.
        pub readout: Option<OwnedReadout>,
        /// Provenance: preset.
        pub preset: String,
        /// Provenance: data set.
        pub dataset: String,
        /// Provenance: seed.
        pub seed: u64,
        /// Provenance: epochs per layer.
        pub epochs: Vec<u16>,
        /// Provenance: accuracy.
        pub test_accuracy: f32,
        /// Provenance: writer.
        pub writer: String,
        /// Trainer state.
        pub state: Vec<u8>,
    }

    impl ModelParts {
        /// The model view (panics only if the parts exceed the model's capacities).
        pub fn model(&self) -> Model<'_> {
            assert!(self.arch.len() <= MAX_LAYERS && self.epochs.len() <= MAX_LAYERS);
            Model {
                encoder: self.encoder,
                filters: &self.filters,
                arch: self.arch.iter().copied().collect(),
                layers: self
                    .layers
                    .iter()
                    .map(|l| LayerBlob {
                        bits: l.bits,
                        weights: &l.weights,
                        thresholds: &l.thresholds,
                    })
                    .collect(),
                readout: self.readout.as_ref().map(|r| ReadoutBlob {
                    n_features: r.n_features,
                    n_classes: r.n_classes,
                    bits: r.bits,
                    weights: &r.weights,
                    bias: &r.bias,
                }),
                provenance: Provenance {
                    preset: &self.preset,
                    dataset: &self.dataset,
                    seed: self.seed,
                    epochs: self.epochs.iter().copied().collect(),
                    test_accuracy: self.test_accuracy,
                    writer: &self.writer,
                },
                state: &self.state,
            }
        }

        /// The encoded `.hebb` bytes.
        pub fn encode(&self) -> Vec<u8> {
            encode_to_vec(&self.model())
        }
    }

    /// Encodes a model into a fresh vector (panics when the model is invalid).
    pub fn encode_to_vec(m: &Model<'_>) -> Vec<u8> {
        let mut size = 4096;
        loop {
            let mut buf = vec![0u8; size];
            match m.encode(&mut buf) {
                Ok(b) => {
                    let n = b.len();
                    buf.truncate(n);
                    return buf;
                }
                Err(hebb_core::Error::EncodeFailed) => size *= 2,
                Err(e) => panic!("model does not encode: {e}"),
            }
        }
    }

    fn i32s(v: impl IntoIterator<Item = i32>) -> Vec<u8> {
        v.into_iter().flat_map(i32::to_le_bytes).collect()
    }

    fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.next_u64() as u8).collect()
    }

    fn below(rng: &mut Rng, n: u64) -> u64 {
        rng.below(n)
    }

    /// A realistic model: the Kheradpisheh 2018 MNIST network with a random (seeded) state of
    /// training: 28×28 input, DoG ON/OFF 7×7, conv 5×5 → 30 maps, pool 2/2/1, conv 3×3 → 100
    /// maps, pool 3/3/1, a 10-class 8-bit readout.
    pub fn realistic() -> ModelParts {
        let mut rng = Rng::new(2018);
        let encoder = EncoderParams::new(28, 28, 2, 7, 50 << 16, 8, 15, EncodeMode::Latency)
            .expect("encoder");
        let mut real = [0.0f64; 49];
        let mut q = [0i32; 49];
        let mut filters = Vec::new();
        for (s1, s2) in [(1.0, 2.0), (2.0, 1.0)] {
            dog(7, s1, s2, DogNorm::MeanMax, &mut real).expect("dog");
            quantize(&real, &mut q).expect("quantize");
            filters.extend(i32s(q));
        }
        let if_once = NeuronParams::new(NeuronKind::If, true).expect("neuron");
        let c1 = ConvGeom::new(Shape::new(2, 28, 28), 30, 5, 1, Padding::Explicit(2)).expect("c1");
        let p1 = PoolGeom::new(c1.output(), 2, 2, 1).expect("p1");
        let c2 = ConvGeom::new(p1.output(), 100, 3, 1, Padding::Explicit(1)).expect("c2");
        let p2 = PoolGeom::new(c2.output(), 3, 3, 1).expect("p2");
        let arch = vec![
            LayerArch {
                conv: c1,
                pool: Some(p1),
                neuron: if_once,
            },
            LayerArch {
                conv: c2,
                pool: Some(p2),
                neuron: if_once,
            },
        ];
        let mut layers = Vec::new();
        for (a, theta) in arch.iter().zip([15.0, 10.0]) {
            let mut w = vec![0u16; a.conv.n_weights()];
            rng.init_weights(&mut w, 0.8, 0.05);
            layers.push(OwnedLayer {
                bits: 16,
                weights: w.iter().flat_map(|x| x.to_le_bytes()).collect(),
                thresholds: i32s(
                    (0..a.conv.out_c()).map(|_| hebb_core::q::potential_from_f64(theta)),
                ),
            });
        }
        let nf = arch[1].out_shape().len();
        let readout = OwnedReadout {
            n_features: nf as u32,
            n_classes: 10,
            bits: 8,
            weights: bytes(&mut rng, nf * 10),
            bias: i32s((0..10).map(|c| c * 1000 - 5000)),
        };
        ModelParts {
            encoder,
            filters,
            arch,
            layers,
            readout: Some(readout),
            preset: "kheradpisheh2018".into(),
            dataset: "mnist".into(),
            seed: 42,
            epochs: vec![2, 20],
            test_accuracy: 0.969,
            writer: "hebb 0.1.0".into(),
            state: Vec::new(),
        }
    }

    /// The smallest useful model: one 4×4 image, one 3×3 DoG, one IF layer of 2 maps, no pool,
    /// a 2-class 16-bit readout.
    pub fn tiny() -> ModelParts {
        let encoder =
            EncoderParams::new(4, 4, 1, 3, 0, 0, 4, EncodeMode::Latency).expect("encoder");
        let mut real = [0.0f64; 9];
        let mut q = [0i32; 9];
        dog(3, 1.0, 2.0, DogNorm::MeanMax, &mut real).expect("dog");
        quantize(&real, &mut q).expect("quantize");
        let conv = ConvGeom::new(Shape::new(1, 4, 4), 2, 3, 1, Padding::Same).expect("conv");
        let arch = vec![LayerArch {
            conv,
            pool: None,
            neuron: NeuronParams::new(NeuronKind::If, true).expect("neuron"),
        }];
        let w: Vec<u8> = (0..conv.n_weights() as u16)
            .flat_map(|i| (i * 3000).to_le_bytes())
            .collect();
        let nf = conv.output().len();
        ModelParts {
            encoder,
            filters: i32s(q),
            arch,
            layers: vec![OwnedLayer {
                bits: 16,
                weights: w,
                thresholds: i32s([40_000, 70_000]),
            }],
            readout: Some(OwnedReadout {
                n_features: nf as u32,
                n_classes: 2,
                bits: 16,
                weights: (0..nf * 2)
                    .flat_map(|i| ((i as i16 % 7) - 3).to_le_bytes())
                    .collect(),
                bias: i32s([1, -1]),
            }),
            preset: "tiny".into(),
            dataset: "none".into(),
            seed: 1,
            epochs: vec![1],
            test_accuracy: f32::NAN,
            writer: "hebb 0.1.0".into(),
            state: vec![1, 2, 3],
        }
    }

    fn random_neuron(rng: &mut Rng) -> NeuronParams {
        let kind = match below(rng, 3) {
            0 => NeuronKind::If,
            1 => NeuronKind::LifSub {
                leak: below(rng, 100_000) as i32,
            },
            _ => NeuronKind::LifMul {
                beta: rng.next_u64() as u16,
            },
        };
        NeuronParams::new(kind, below(rng, 2) == 0).expect("neuron")
    }

    /// A random valid model of small size, fully determined by `seed`.
    pub fn random(seed: u64) -> ModelParts {
        let mut rng = Rng::new(seed);
        let k = [1u8, 3, 5][below(&mut rng, 3) as usize];
        let encoder = EncoderParams::new(
            3 + below(&mut rng, 10) as u16,
            3 + below(&mut rng, 10) as u16,
            1 + below(&mut rng, 2) as u8,
            k,
            below(&mut rng, 1 << 20) as i32,
            below(&mut rng, 4) as u8,
            1 + below(&mut rng, 20) as u8,
            if below(&mut rng, 2) == 0 {
                EncodeMode::Latency
            } else {
                EncodeMode::AllAtFirstStep
            },
        )
        .expect("encoder");
        let filters =
            i32s((0..encoder.n_kernel()).map(|_| below(&mut rng, 131_073) as i32 - 65_536));
        let mut shape = encoder.output();
        let n_layers = 1 + below(&mut rng, MAX_LAYERS as u64) as usize;
        let mut arch = Vec::new();
        let mut layers = Vec::new();
        for l in 0..n_layers {
            let found = (0..20).find_map(|_| {
                let k = 1 + below(&mut rng, 4) as u8;
                let pad = below(&mut rng, u64::from(k)) as u8;
                let stride = 1 + below(&mut rng, 2) as u8;
                let out_c = 1 + below(&mut rng, 4) as u16;
                ConvGeom::new(shape, out_c, k, stride, Padding::Explicit(pad)).ok()
            });
            let conv = match found {
                Some(c) => c,
                // A 1×1 kernel always fits: the model keeps at least one layer.
                None if l == 0 => ConvGeom::new(shape, 1, 1, 1, Padding::Valid).expect("1×1 conv"),
                None => break,
            };
            let pool = if below(&mut rng, 2) == 0 {
                (0..5).find_map(|_| {
                    let k = 1 + below(&mut rng, 3) as u8;
                    let pad = below(&mut rng, u64::from(k)) as u8;
                    let stride = 1 + below(&mut rng, 2) as u8;
                    PoolGeom::new(conv.output(), k, stride, pad).ok()
                })
            } else {
                None
            };
            let a = LayerArch {
                conv,
                pool,
                neuron: random_neuron(&mut rng),
            };
            let bits = if below(&mut rng, 2) == 0 { 8 } else { 16 };
            let wlen = conv.n_weights() * usize::from(bits / 8);
            layers.push(OwnedLayer {
                bits,
                weights: bytes(&mut rng, wlen),
                thresholds: i32s(
                    (0..conv.out_c()).map(|_| 1 + below(&mut rng, (1 << 31) - 1) as i32),
                ),
            });
            shape = a.out_shape();
            arch.push(a);
        }
        let readout = (below(&mut rng, 2) == 0).then(|| {
            let nf = shape.len();
            let n_classes = 1 + below(&mut rng, 5) as u16;
            let bits = if below(&mut rng, 2) == 0 { 8 } else { 16 };
            OwnedReadout {
                n_features: nf as u32,
                n_classes,
                bits,
                weights: bytes(
                    &mut rng,
                    nf * usize::from(n_classes) * usize::from(bits / 8),
                ),
                bias: bytes(&mut rng, usize::from(n_classes) * 4),
            }
        });
        let presets = [
            "",
            "kheradpisheh2018",
            "igarss2023",
            "mcu-small",
            "préréglage ✓",
        ];
        let n_epochs = below(&mut rng, MAX_LAYERS as u64 + 1) as usize;
        ModelParts {
            encoder,
            filters,
            layers,
            arch,
            readout,
            preset: presets[below(&mut rng, presets.len() as u64) as usize].into(),
            dataset: ["mnist", "n-mnist", ""][below(&mut rng, 3) as usize].into(),
            seed: rng.next_u64(),
            epochs: (0..n_epochs).map(|_| rng.next_u64() as u16).collect(),
            test_accuracy: (rng.next_f64() as f32) * 1.5 - 0.25,
            writer: "hebb 0.1.0".into(),
            state: {
                let n = below(&mut rng, 40) as usize;
                bytes(&mut rng, n)
            },
        }
    }
}

/// Owned scratch for the core's layer functions.
pub mod support {
    use hebb_core::geometry::ConvGeom;
    use hebb_core::layer::{SimOutcome, SimScratch, simulate};
    use hebb_core::neuron::NeuronParams;
    use hebb_core::spikes::words;
    use hebb_core::weights::WeightRow;
    use hebb_core::wta::{Winner, WtaParams};

    /// Everything [`simulate`] produced.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SimRun {
        /// The outcome.
        pub outcome: SimOutcome,
        /// Final potentials, `[row][col][map]`.
        pub v: Vec<i32>,
        /// First-spike times, `[map][row][col]`.
        pub t_first: Vec<u8>,
        /// The winners written (`outcome.winners` of them).
        pub winners: Vec<Winner>,
    }

    /// Runs [`simulate`] with freshly allocated scratch of exactly the documented sizes.
    #[allow(clippy::too_many_arguments)]
    pub fn run_layer<W: WeightRow + ?Sized>(
        g: &ConvGeom,
        w: &W,
        theta: &[i32],
        neuron: &NeuronParams,
        steps: u8,
        input: &[u8],
        wta: Option<&WtaParams>,
        early_stop: bool,
    ) -> hebb_core::Result<SimRun> {
        let out = g.output();
        let (n, p, m) = (out.len(), out.plane(), out.c as usize);
        let mut v = vec![0; n];
        let mut t_first = vec![0; n];
        let mut pos_first = vec![0; p];
        let mut touched = vec![0; words(p)];
        let mut excl_pos = vec![0; words(p)];
        let mut excl_map = vec![0; words(m)];
        let mut cand = vec![
            0;
            if wta.is_some_and(|x| x.pointwise()) {
                p
            } else {
                n
            }
        ];
        let mut order = vec![0; g.input().len()];
        let mut starts = vec![0; steps as usize + 1];
        let mut winners = vec![Winner::default(); wta.map_or(0, |x| x.k() as usize)];
        let mut s = SimScratch {
            v: &mut v,
            t_first: &mut t_first,
            pos_first: &mut pos_first,
            touched: &mut touched,
            excl_pos: &mut excl_pos,
            excl_map: &mut excl_map,
            cand: &mut cand,
            order: &mut order,
            starts: &mut starts,
        };
        let outcome = simulate(
            g,
            w,
            theta,
            neuron,
            steps,
            input,
            wta,
            early_stop,
            &mut s,
            &mut winners,
        )?;
        winners.truncate(outcome.winners);
        Ok(SimRun {
            outcome,
            v,
            t_first,
            winners,
        })
    }
}
