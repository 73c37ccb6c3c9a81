//! The trained models of the local-rule family and their file format: a Hopfield memory, a
//! linear layer (Oja, Sanger, BCM) or a LIF layer (trace STDP), stored in a `.hebb` frame
//! tagged [`FAMILY_LOCAL_RULES`](hebb_core::frame::FAMILY_LOCAL_RULES).

use anyhow::{Result, bail};
use hebb_core::local::hopfield::{Dynamics, RecallOutcome};
use hebb_core::local::lif::{LifParams, LifState};
use hebb_core::local::trace_stdp::TraceStdp;
use hebb_core::local::{fixed, hebbian, lif};
use hebb_core::rng::Rng;
use serde::{Deserialize, Serialize};

/// A Hopfield memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hopfield {
    /// Neurons.
    pub n: usize,
    /// Weights, `n × n` integers within the exact-recall bound.
    pub w: Vec<i32>,
    /// Real value of a weight integer of 1.
    pub unit: f64,
    /// Recall dynamics.
    pub dynamics: Dynamics,
    /// Sweep cap of recall.
    pub max_sweeps: u32,
    /// The stored patterns (`p × n`, ±1), for recall analysis.
    pub stored: Vec<i8>,
    /// Their classes (digits), if any.
    pub labels: Vec<u8>,
    /// Image side, when patterns are images.
    pub side: Option<usize>,
    /// Seed of asynchronous update orders.
    pub seed: u64,
}

/// A linear layer `y = W x`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Inputs.
    pub n: usize,
    /// Outputs.
    pub k: usize,
    /// Weights (`k × n`, Q5.26).
    pub w: Vec<i32>,
    /// BCM thresholds (`k`, Q5.26; empty for Oja and Sanger).
    pub theta: Vec<i32>,
    /// Image side of the inputs, if images.
    pub side: Option<usize>,
}

/// A LIF layer trained by trace STDP, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spiking {
    /// Inputs.
    pub n: usize,
    /// Neurons.
    pub k: usize,
    /// Weights (`k × n`, Q5.26).
    pub w: Vec<i32>,
    /// Potentials.
    pub v: Vec<i32>,
    /// Pre traces.
    pub pre: Vec<i32>,
    /// Post traces.
    pub post: Vec<i32>,
    /// Threshold adaptation.
    pub adapt: Vec<i32>,
    /// Neuron parameters.
    pub lif: LifParams,
    /// The rule.
    pub rule: TraceStdp,
}

/// A model of the family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    /// Attractor memory.
    Hopfield(Hopfield),
    /// Linear layer.
    Linear(Linear),
    /// Spiking layer.
    Spiking(Spiking),
}

impl Model {
    /// Names of the model's arrays, for [`Model::array`] (CANNs' `weight_attr` / `state_attr`).
    pub fn array_names(&self) -> &'static [&'static str] {
        match self {
            Self::Hopfield(_) => &["W", "patterns"],
            Self::Linear(l) if !l.theta.is_empty() => &["W", "theta"],
            Self::Linear(_) => &["W"],
            Self::Spiking(_) => &["W", "v", "trace_pre", "trace_post", "adapt"],
        }
    }

    /// An array by name, in real units, row-major: `W` (every model), `patterns` (a Hopfield
    /// memory's stored ±1 patterns), `theta` (BCM thresholds), `v`, `trace_pre`, `trace_post`,
    /// `adapt` (a LIF layer's state). `None` for a name the model does not have.
    pub fn array(&self, name: &str) -> Option<Vec<f64>> {
        let q = |v: &[i32]| v.iter().map(|&x| fixed::to_f64(x)).collect();
        Some(match (self, name) {
            (Self::Hopfield(h), "W") => h.w.iter().map(|&x| f64::from(x) * h.unit).collect(),
            (Self::Hopfield(h), "patterns") => h.stored.iter().map(|&x| f64::from(x)).collect(),
            (Self::Linear(l), "W") => q(&l.w),
            (Self::Linear(l), "theta") if !l.theta.is_empty() => q(&l.theta),
            (Self::Spiking(s), "W") => q(&s.w),
            (Self::Spiking(s), "v") => q(&s.v),
            (Self::Spiking(s), "trace_pre") => q(&s.pre),
            (Self::Spiking(s), "trace_post") => q(&s.post),
            (Self::Spiking(s), "adapt") => q(&s.adapt),
            _ => return None,
        })
    }
}

/// The result of recalling one cue.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    /// Final state (±1, or Q16 for continuous activations).
    pub state: Vec<i32>,
    /// How the recall ended.
    pub outcome: RecallOutcome,
    /// Energy after each sweep, the cue's first (real units).
    pub energies: Vec<f64>,
}

/// A recall with every intermediate state.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The recall.
    pub recall: Recall,
    /// The cue, then the state after each sweep.
    pub states: Vec<Vec<i32>>,
}

/// What a prediction gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Hopfield recall.
    Recall(Recall),
    /// Layer outputs.
    Outputs(Vec<f64>),
    /// Spike counts per neuron over the input sequence.
    Spikes(Vec<u32>),
}

/// Order seed of a recall: fixed by the model's seed and the cue, so `predict` and
/// `predict_batch` give the same result in any order or thread (and the firmware fixture can
/// ship the seed of each asynchronous recall).
pub fn cue_seed(seed: u64, cue: &[i32]) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for &v in cue {
        h = (h ^ v as u64).wrapping_mul(0x0100_0000_01B3);
    }
    h
}

impl Hopfield {
    /// Patterns stored.
    pub fn patterns(&self) -> usize {
        self.stored.len() / self.n.max(1)
    }
    /// Stored pattern `i`.
    pub fn pattern(&self, i: usize) -> &[i8] {
        &self.stored[i * self.n..(i + 1) * self.n]
    }
    /// The value of an "on" state.
    pub fn one(&self) -> f64 {
        f64::from(self.dynamics.one())
    }

    /// Real energy of a state (threshold included).
    pub fn energy(&self, s: &[i32]) -> Result<f64> {
        let e2 = self.dynamics.energy2(&self.w, s)?;
        Ok(e2 as f64 / 2.0 * self.unit / (self.one() * self.one()))
    }

    /// The state of a ±1 pattern (±1, or ±1.0 in Q16 for continuous activations).
    pub fn state_of_pattern(&self, p: &[i8]) -> Vec<i32> {
        let one = self.dynamics.one();
        p.iter().map(|&v| i32::from(v) * one).collect()
    }

    /// Converts a ±1 (or, for continuous activations, [−1, 1]) cue to a state.
    pub fn state_of(&self, cue: &[f64]) -> Result<Vec<i32>> {
        if cue.len() != self.n {
            bail!(
                "pattern of length {} for a network of {} neurons",
                cue.len(),
                self.n
            );
        }
        let one = self.one();
        let s: Vec<i32> = match self.dynamics.activation() {
            hebb_core::local::hopfield::Activation::Sign => {
                if let Some((i, v)) = cue
                    .iter()
                    .enumerate()
                    .find(|(_, v)| **v != 1.0 && **v != -1.0)
                {
                    bail!("pattern value {v} at {i} is not -1 or +1");
                }
                cue.iter().map(|&v| v as i32).collect()
            }
            _ => {
                if let Some((i, v)) = cue
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && (-1.0..=1.0).contains(*v)))
                {
                    bail!("pattern value {v} at {i} is not in [-1, 1]");
                }
                cue.iter().map(|&v| (v * one).round() as i32).collect()
            }
        };
        Ok(s)
    }

    /// Recalls from state `s` until a fixed point, a 2-cycle or the sweep cap.
    pub fn recall(&self, s: &[i32]) -> Result<Recall> {
        Ok(self.run(s, false)?.recall)
    }

    /// Recalls like [`recall`](Self::recall), keeping the state after every sweep (the cue's
    /// first).
    pub fn trajectory(&self, s: &[i32]) -> Result<Trajectory> {
        self.run(s, true)
    }

    fn run(&self, s: &[i32], keep: bool) -> Result<Trajectory> {
        let n = self.n;
        self.dynamics.check_state(s)?;
        let mut st = s.to_vec();
        let (mut a, mut b, mut order) = (vec![0; n], vec![0; n], vec![0u32; n]);
        let mut rng = Rng::new(cue_seed(self.seed, s));
        let mut energies = vec![self.energy(s)?];
        let mut states = if keep { vec![s.to_vec()] } else { Vec::new() };
        let mut failed = None;
        let outcome = self.dynamics.recall(
            &self.w,
            &mut st,
            &mut a,
            &mut b,
            &mut order,
            &mut rng,
            self.max_sweeps,
            |_, x| {
                match self.energy(x) {
                    Ok(e) => energies.push(e),
                    Err(e) => failed = Some(e),
                }
                if keep {
                    states.push(x.to_vec());
                }
            },
        )?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(Trajectory {
            recall: Recall {
                state: st,
                outcome,
                energies,
            },
            states,
        })
    }

    /// Overlap `(1/n) Σ a_i ξ_i` of a state with a ±1 pattern.
    pub fn overlap(&self, s: &[i32], p: &[i8]) -> f64 {
        let dot: f64 = s
            .iter()
            .zip(p)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        dot / (self.n as f64 * self.one())
    }

    /// The stored pattern closest to `s` (largest overlap) and that overlap.
    pub fn best_match(&self, s: &[i32]) -> (usize, f64) {
        (0..self.patterns())
            .map(|p| (p, self.overlap(s, self.pattern(p))))
            .fold((0, f64::NEG_INFINITY), |b, x| if x.1 > b.1 { x } else { b })
    }
}

impl Linear {
    /// Outputs for an input.
    pub fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.n {
            bail!(
                "input of length {} for a layer of {} inputs",
                x.len(),
                self.n
            );
        }
        let mut q = vec![0; self.n];
        fixed::convert(x, &mut q).map_err(|(i, e)| anyhow::anyhow!("input {i}: {e}"))?;
        let mut y = vec![0; self.k];
        hebb_core::local::oja::forward(&self.w, self.n, &q, &mut y)?;
        Ok(y.into_iter().map(fixed::to_f64).collect())
    }

    /// Row `i` as f64.
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.w[i * self.n..(i + 1) * self.n]
            .iter()
            .map(|&v| fixed::to_f64(v))
            .collect()
    }
}

impl Spiking {
    /// Runs a spike sequence (`steps × n` values, each 0 or 1) from a rest state without
    /// plasticity, from rest; the spikes of every step.
    pub fn run(&self, seq: &[i32], steps: usize) -> Result<Vec<Vec<u8>>> {
        let mut me = self.rest();
        let mut out = Vec::with_capacity(steps);
        let mut spikes = vec![0u8; self.k];
        for t in 0..steps {
            me.step(&seq[t * self.n..(t + 1) * self.n], false, &mut spikes)?;
            out.push(spikes.clone());
        }
        Ok(out)
    }

    /// The same layer at rest: zero potentials and traces. The threshold adaptation is kept:
    /// it is learned state (each neuron's raised threshold), as in Diehl & Cook.
    pub fn rest(&self) -> Self {
        let mut m = self.clone();
        m.v.fill(0);
        m.pre.fill(0);
        m.post.fill(0);
        m
    }

    /// One step, learning when `learn`.
    pub fn step(&mut self, x: &[i32], learn: bool, spikes: &mut [u8]) -> Result<usize> {
        let mut st = LifState {
            v: &mut self.v,
            pre: &mut self.pre,
            post: &mut self.post,
            adapt: &mut self.adapt,
        };
        let rule = learn.then_some(&self.rule);
        Ok(lif::step(
            &self.lif,
            rule,
            &mut self.w,
            self.n,
            x,
            &mut st,
            spikes,
        )?)
    }
}

/// Contents of a model file: the config it was trained with, the model and, in a checkpoint,
/// the training state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Resolved config (TOML).
    pub config: String,
    /// The model.
    pub model: Model,
    /// Training state (empty in an exported model).
    pub state: Vec<u8>,
}

impl ModelFile {
    /// Encodes into a framed `.hebb` file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::family::frame::seal(hebb_core::frame::FAMILY_LOCAL_RULES, self)
    }

    /// Decodes and validates a framed file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let f: ModelFile = crate::family::frame::open(hebb_core::frame::FAMILY_LOCAL_RULES, bytes)?;
        f.validate()?;
        Ok(f)
    }

    /// Checks the model's shapes and ranges (what decoding cannot).
    pub fn validate(&self) -> Result<()> {
        match &self.model {
            Model::Hopfield(h) => {
                if h.dynamics.n() != h.n {
                    bail!(
                        "model: dynamics for {} neurons, weights for {}",
                        h.dynamics.n(),
                        h.n
                    );
                }
                h.dynamics.check_weights(&h.w)?;
                hebbian::check_patterns(&h.stored, h.n, h.patterns())?;
                if h.stored.len() % h.n != 0 {
                    bail!(
                        "model: stored patterns are not a whole number of {} values",
                        h.n
                    );
                }
                if !h.labels.is_empty() && h.labels.len() != h.patterns() {
                    bail!(
                        "model: {} labels for {} patterns",
                        h.labels.len(),
                        h.patterns()
                    );
                }
                if !(h.unit.is_finite() && h.unit > 0.0) {
                    bail!("model: weight unit {} is not positive", h.unit);
                }
            }
            Model::Linear(l) => {
                if l.n == 0 || l.k == 0 || l.n.checked_mul(l.k) != Some(l.w.len()) {
                    bail!("model: linear layer weights are not {} × {}", l.k, l.n);
                }
                if !l.theta.is_empty() && l.theta.len() != l.k {
                    bail!("model: {} thresholds for {} outputs", l.theta.len(), l.k);
                }
            }
            Model::Spiking(s) => {
                let ok = s.n > 0
                    && s.k > 0
                    && s.n.checked_mul(s.k) == Some(s.w.len())
                    && s.v.len() == s.k
                    && s.post.len() == s.k
                    && s.adapt.len() == s.k
                    && s.pre.len() == s.n;
                if !ok {
                    bail!(
                        "model: spiking layer state does not match {} × {}",
                        s.k,
                        s.n
                    );
                }
                // Parameters were validated by the core while decoding.
            }
        }
        Ok(())
    }
}
