//! Configuration of the local-rule family: the task (its data), the rule and, for Hopfield
//! memories, the recall dynamics. Presets reproduce the CANNs examples on real data; a config
//! file names a `preset` and overrides keys, as for every family.

use crate::config::{ConfigError, decode_table, merge, resolve_preset, with_preset};
use hebb_core::local::{fixed, hebbian, hopfield, lif, trace_stdp};
use hebb_core::schedule;
use serde::{Deserialize, Serialize};

/// Names of the built-in presets of this family.
pub const PRESETS: &[&str] = &[
    "hopfield-mnist",
    "hopfield-mnist-storkey",
    "hopfield-random",
    "oja-gaussian",
    "sanger-gaussian",
    "oja-digits",
    "sanger-digits",
    "bcm-bars",
    "stdp-pattern",
];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Always `local-rules`.
    pub family: String,
    /// The preset this config started from.
    #[serde(default)]
    pub preset: String,
    /// Seed of everything random (data, initial weights, orders).
    pub seed: u64,
    /// Passes over the training data (Hopfield storage is one pass).
    #[serde(default = "one")]
    pub epochs: u32,
    /// The data.
    pub task: TaskConfig,
    /// The rule.
    pub rule: RuleConfig,
    /// Recall of Hopfield memories.
    #[serde(default)]
    pub recall: RecallConfig,
}

fn one() -> u32 {
    1
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TaskConfig {
    /// Random ±1 patterns at a load `patterns / neurons`.
    RandomPatterns {
        /// Neurons.
        neurons: usize,
        /// Stored patterns.
        patterns: usize,
        /// Fractions of flipped bits of the test cues.
        noise: Vec<f64>,
        /// Cues per pattern and noise level.
        #[serde(default = "one_usize")]
        cues_per_pattern: usize,
    },
    /// Binarised embedded MNIST digits (pixel > image mean → +1): the first `per_class`
    /// training exemplars of each class in `classes` are stored; cues are the stored digits with
    /// flipped bits and unseen test digits.
    MnistDigits {
        /// Digit classes stored.
        classes: Vec<u8>,
        /// Exemplars per class.
        #[serde(default = "one_usize")]
        per_class: usize,
        /// Fractions of flipped bits of the noisy cues.
        noise: Vec<f64>,
        /// Noisy cues per stored pattern and noise level.
        #[serde(default = "one_usize")]
        cues_per_pattern: usize,
        /// Unseen test digits per class recalled.
        #[serde(default)]
        test_per_class: usize,
    },
    /// Zero-mean Gaussian samples with the given leading variances, the rest `rest`.
    Gaussian {
        /// Dimension.
        dim: usize,
        /// Leading variances (the principal components to find).
        variances: Vec<f64>,
        /// Variance of the other dimensions.
        rest: f64,
        /// Training samples.
        samples: usize,
    },
    /// Embedded MNIST training images, pixels in [0, 1] with the data mean removed (for
    /// principal components of real images).
    MnistImages {
        /// Images used.
        samples: usize,
        /// Side after block-averaging (28, 14 or 7).
        #[serde(default = "side28")]
        side: usize,
    },
    /// Oriented bars on a `size × size` grid (the BCM orientation task): random orientation per
    /// sample, a Gaussian bar profile of width `width` pixels, plus Gaussian noise.
    Bars {
        /// Grid side.
        size: usize,
        /// Training samples.
        samples: usize,
        /// Bar width (standard deviation, pixels).
        width: f64,
        /// Noise standard deviation.
        noise: f64,
        /// Test orientations for the tuning curves.
        test_orientations: usize,
    },
    /// A frozen Poisson pattern of `pattern_steps` steps hidden in Poisson noise: `inputs`
    /// afferents fire with probability `rate` per step; a fraction `share` of the blocks of
    /// `pattern_steps` steps replays the pattern.
    SpikePattern {
        /// Afferents.
        inputs: usize,
        /// Steps of the pattern (and of every block).
        pattern_steps: usize,
        /// Spike probability per afferent and step.
        rate: f64,
        /// Fraction of blocks that hold the pattern.
        share: f64,
        /// Training steps.
        steps: usize,
        /// Test steps (no plasticity).
        test_steps: usize,
    },
}

fn one_usize() -> usize {
    1
}
fn side28() -> usize {
    28
}

/// Learning-rate decay of the rate rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DecayConfig {
    /// Constant.
    #[default]
    Constant,
    /// `η₀ t₀ / (t₀ + t)`.
    InverseTime,
    /// `η₀ γ^(t / every)`.
    Exponential,
}

/// Learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Initial rate.
    pub rate: f64,
    /// Decay.
    #[serde(default)]
    pub decay: DecayConfig,
    /// `t₀` of the 1/t decay (samples).
    #[serde(default = "t0_default")]
    pub t0: u32,
    /// `γ` of the exponential decay.
    #[serde(default = "gamma_default")]
    pub gamma: f64,
    /// Period of the exponential decay (samples).
    #[serde(default = "one_u32")]
    pub every: u32,
    /// Floor of the rate.
    #[serde(default)]
    pub min_rate: f64,
}

fn t0_default() -> u32 {
    1000
}
fn gamma_default() -> f64 {
    0.999
}
fn one_u32() -> u32 {
    1
}

/// Mean subtraction of Hebbian storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MeanConfig {
    /// None.
    None,
    /// One mean over all patterns (CANNs' `subtract_mean`).
    #[default]
    Global,
    /// Each pattern's own mean.
    PerPattern,
}

/// Weight bounds of trace STDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BoundsConfig {
    /// Clip.
    #[default]
    Additive,
    /// Soft bounds.
    Multiplicative,
}

/// Trace pairing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PairingConfig {
    /// All pairs.
    #[default]
    AllToAll,
    /// Nearest spike.
    Nearest,
}

/// Options of Hebbian and anti-Hebbian storage (CANNs' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Mean subtraction.
    #[serde(default)]
    pub mean: MeanConfig,
    /// `W_ii = 0`.
    #[serde(default = "yes")]
    pub zero_diagonal: bool,
    /// Divide by the pattern count.
    #[serde(default = "yes")]
    pub normalize: bool,
}

/// The learning rule (and the model it trains).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RuleConfig {
    /// One-shot Hebbian storage into a Hopfield network.
    Hebbian(StoreConfig),
    /// Anti-Hebbian storage (`−W`).
    AntiHebbian(StoreConfig),
    /// Storkey's rule into a Hopfield network (correlated patterns).
    Storkey,
    /// Oja's rule on a linear layer.
    Oja {
        /// Outputs.
        #[serde(default = "one_usize")]
        outputs: usize,
        /// Rate schedule.
        rate: RateConfig,
        /// Renormalise rows after each step.
        #[serde(default = "yes")]
        normalize: bool,
    },
    /// Sanger's rule (GHA) on a linear layer.
    Sanger {
        /// Outputs (components, in order).
        outputs: usize,
        /// Rate schedule.
        rate: RateConfig,
        /// Renormalise rows after each step.
        #[serde(default = "yes")]
        normalize: bool,
    },
    /// BCM with a sliding threshold on a linear layer.
    Bcm {
        /// Outputs.
        outputs: usize,
        /// Rate schedule.
        rate: RateConfig,
        /// Threshold time constant (samples).
        tau: f64,
        /// Weight clip.
        #[serde(default = "clip_default")]
        clip: f64,
        /// Initial threshold.
        #[serde(default = "theta0_default")]
        theta0: f64,
    },
    /// Trace STDP on a LIF layer.
    Stdp {
        /// Output neurons.
        outputs: usize,
        /// LTP amplitude (learning rate included).
        a_plus: f64,
        /// LTD amplitude.
        a_minus: f64,
        /// Lower weight bound.
        #[serde(default)]
        w_min: f64,
        /// Upper weight bound.
        #[serde(default = "one_f64")]
        w_max: f64,
        /// Bounds.
        #[serde(default)]
        bounds: BoundsConfig,
        /// Pairing.
        #[serde(default)]
        pairing: PairingConfig,
        /// Potential leak per step.
        leak: f64,
        /// Threshold.
        threshold: f64,
        /// Reset potential.
        #[serde(default)]
        v_reset: f64,
        /// Trace decay per step.
        trace_decay: f64,
        /// Winners per step (0: no limit).
        #[serde(default)]
        k: u16,
        /// A spike resets every potential (lateral inhibition).
        #[serde(default)]
        inhibit: bool,
        /// Threshold raise per spike.
        #[serde(default)]
        adapt_plus: f64,
        /// Threshold adaptation decay per step.
        #[serde(default = "one_f64")]
        adapt_decay: f64,
        /// Initial weights: mean.
        init_mean: f64,
        /// Initial weights: standard deviation.
        #[serde(default)]
        init_std: f64,
    },
}

fn yes() -> bool {
    true
}
fn one_f64() -> f64 {
    1.0
}
fn clip_default() -> f64 {
    10.0
}
fn theta0_default() -> f64 {
    0.1
}

/// Update order of recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateConfig {
    /// Every neuron at once.
    #[default]
    Sync,
    /// One at a time, a fresh random order per sweep.
    Async,
}

/// Activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationConfig {
    /// ±1.
    #[default]
    Sign,
    /// tanh.
    Tanh,
    /// Logistic.
    Sigmoid,
}

/// Rule for a field exactly at threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TieConfig {
    /// Keep the state.
    #[default]
    Keep,
    /// +1.
    Plus,
    /// 0 (CANNs).
    Zero,
}

/// Hopfield recall.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallConfig {
    /// Update order.
    #[serde(default)]
    pub update: UpdateConfig,
    /// Activation.
    #[serde(default)]
    pub activation: ActivationConfig,
    /// Threshold (in units of the real weights).
    #[serde(default)]
    pub threshold: f64,
    /// Temperature of tanh / sigmoid.
    #[serde(default = "one_f64")]
    pub temperature: f64,
    /// Zero-field rule of the sign activation.
    #[serde(default)]
    pub tie: TieConfig,
    /// Sweep cap.
    #[serde(default = "sweeps_default")]
    pub max_sweeps: u32,
}

fn sweeps_default() -> u32 {
    100
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self {
            update: UpdateConfig::Sync,
            activation: ActivationConfig::Sign,
            threshold: 0.0,
            temperature: 1.0,
            tie: TieConfig::Keep,
            max_sweeps: 100,
        }
    }
}

/// True when a config text (or the preset it names) belongs to this family.
pub fn is_rules_config(table: &toml::Table) -> bool {
    match (table.get("family"), table.get("preset")) {
        (Some(toml::Value::String(f)), _) => f == "local-rules",
        (None, Some(toml::Value::String(p))) => PRESETS.contains(&p.as_str()),
        _ => false,
    }
}

fn preset_toml(name: &str) -> Option<&'static str> {
    Some(match name {
        // CANNs' hopfield_train_mnist.py: classes 0, 1, 2, one exemplar each, θ = 80, sign,
        // synchronous.
        "hopfield-mnist" => {
            r#"
family = "local-rules"
preset = "hopfield-mnist"
seed = 42
[task]
kind = "mnist-digits"
classes = [0, 1, 2]
per_class = 1
noise = [0.1, 0.25]
cues_per_pattern = 20
test_per_class = 20
[rule]
kind = "hebbian"
[recall]
update = "sync"
threshold = 80.0
"#
        }
        // All ten digits, where Hebbian storage collapses: Storkey's rule, asynchronous recall.
        "hopfield-mnist-storkey" => {
            r#"
family = "local-rules"
preset = "hopfield-mnist-storkey"
seed = 42
# Storkey storage of such correlated digits needs a few passes to make every digit a fixed
# point (one pass stabilises one of ten).
epochs = 5
[task]
kind = "mnist-digits"
classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
per_class = 1
noise = [0.1, 0.25]
cues_per_pattern = 20
test_per_class = 20
[rule]
kind = "storkey"
[recall]
update = "async"
"#
        }
        "hopfield-random" => {
            r#"
family = "local-rules"
preset = "hopfield-random"
seed = 42
[task]
kind = "random-patterns"
neurons = 500
patterns = 50
noise = [0.1, 0.25]
cues_per_pattern = 1
[rule]
kind = "hebbian"
[recall]
update = "sync"
"#
        }
        // The measured 50-D task: variances 9.25, 4.25, 2.25, then 47 × 0.25.
        "oja-gaussian" => {
            r#"
family = "local-rules"
preset = "oja-gaussian"
seed = 42
epochs = 1
[task]
kind = "gaussian"
dim = 50
variances = [9.25, 4.25, 2.25]
rest = 0.25
samples = 20000
[rule]
kind = "oja"
outputs = 1
rate = { rate = 0.01, decay = "inverse-time", t0 = 100 }
"#
        }
        "sanger-gaussian" => {
            r#"
extends = "oja-gaussian"
preset = "sanger-gaussian"
epochs = 5
[rule]
kind = "sanger"
outputs = 3
rate = { rate = 0.01, decay = "inverse-time", t0 = 100 }
"#
        }
        "oja-digits" => {
            r#"
family = "local-rules"
preset = "oja-digits"
seed = 42
epochs = 3
[task]
kind = "mnist-images"
samples = 5000
side = 28
[rule]
kind = "oja"
outputs = 1
rate = { rate = 0.01, decay = "inverse-time", t0 = 100 }
"#
        }
        "sanger-digits" => {
            r#"
extends = "oja-digits"
preset = "sanger-digits"
epochs = 10
[rule]
kind = "sanger"
outputs = 5
rate = { rate = 0.01, decay = "inverse-time", t0 = 500 }
"#
        }
        // CANNs' bcm_receptive_fields.py task (12 × 12 bars, 4 neurons, τ 50), with a rate that
        // does not diverge: the bars have |x|² ≈ 24, and at 0.005 the weights run to the ±10
        // clip and θ to ~6·10⁴ (in f64 as in fixed point); at 0.0005–0.001 every neuron settles
        // selective with θ ≈ 2–13.
        "bcm-bars" => {
            r#"
family = "local-rules"
preset = "bcm-bars"
seed = 42
epochs = 20
[task]
kind = "bars"
size = 12
samples = 1000
width = 1.0
noise = 0.05
test_orientations = 16
[rule]
kind = "bcm"
outputs = 4
rate = { rate = 0.001 }
tau = 50.0
"#
        }
        // CANNs' STDP task (100 afferents, 4 neurons, a 50-step pattern in 25 % of blocks at
        // 0.03 spikes per step), with competition and adaptive thresholds.
        "stdp-pattern" => {
            r#"
family = "local-rules"
preset = "stdp-pattern"
seed = 42
[task]
kind = "spike-pattern"
inputs = 100
pattern_steps = 50
rate = 0.03
share = 0.25
steps = 100000
test_steps = 20000
[rule]
kind = "stdp"
outputs = 4
a_plus = 0.01
a_minus = 0.013
leak = 0.8
threshold = 7.0
trace_decay = 0.8
k = 1
inhibit = true
adapt_plus = 1.0
adapt_decay = 0.999
init_mean = 0.5
init_std = 0.05
"#
        }
        _ => return None,
    })
}

fn preset_table(name: &str) -> Result<toml::Table, ConfigError> {
    // A rule or task of another kind replaces the whole table (its keys differ).
    resolve_preset(name, preset_toml, merge_kinds, PRESETS)
}

/// Merges `over` into `base`, replacing (not merging) a `task` or `rule` whose `kind` changes.
fn merge_kinds(base: &mut toml::Table, mut over: toml::Table) {
    for key in ["task", "rule"] {
        let kind = |t: &toml::Table| t.get(key).and_then(|v| v.get("kind")).cloned();
        if let (Some(b), Some(o)) = (kind(base), kind(&over))
            && b != o
            && let Some(v) = over.remove(key)
        {
            base.insert(key.to_owned(), v);
        }
    }
    merge(base, over);
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl RulesConfig {
    /// Resolves a preset by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        Self::from_table(preset_table(name)?)
    }

    /// Parses a config text; a named `preset` is the base its keys override.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(with_preset(text, preset_table, merge_kinds)?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let cfg: RulesConfig = decode_table(table)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Bytes the run will hold at its peak (data, model, checkpoints in flight), from the config
    /// alone, so a run too large for the machine is refused before it allocates.
    pub fn memory_estimate(&self) -> u128 {
        let u = |v: usize| v as u128;
        match &self.task {
            TaskConfig::RandomPatterns {
                neurons,
                patterns,
                noise,
                cues_per_pattern,
            } => {
                let n = u(*neurons);
                // Weights (and a checkpoint copy, encoded), patterns, cues.
                3 * 4 * n * n + n * u(*patterns) * (1 + u(noise.len()) * u(*cues_per_pattern))
            }
            TaskConfig::MnistDigits { .. } => 3 * 4 * 784 * 784 + (64 << 20),
            TaskConfig::Gaussian { dim, samples, .. } => {
                u(*dim) * u(*samples) * 12 + u(*dim) * u(*dim) * 24
            }
            TaskConfig::MnistImages { samples, side } => {
                let d = u(side * side);
                (64 << 20) + d * u(*samples) * 12 + d * d * 16
            }
            TaskConfig::Bars { size, samples, .. } => u(size * size) * u(*samples) * 12,
            TaskConfig::SpikePattern {
                inputs,
                steps,
                test_steps,
                ..
            } => u(*inputs) * (u(*steps) + u(*test_steps)) * 4 * 2,
        }
    }

    /// True when the rule stores patterns in a Hopfield network.
    pub fn is_hopfield(&self) -> bool {
        matches!(
            self.rule,
            RuleConfig::Hebbian(_) | RuleConfig::AntiHebbian(_) | RuleConfig::Storkey
        )
    }

    /// Checks every value; the core's validators check the rule parameters (their message is
    /// given with the key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.family != "local-rules" {
            return Err(invalid("family", "must be \"local-rules\""));
        }
        if self.epochs == 0 {
            return Err(invalid("epochs", "must be >= 1"));
        }
        let frac = |key: &str, v: &[f64]| -> Result<(), ConfigError> {
            match v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                Some(x) => Err(invalid(key, format!("{x} is not a fraction in [0, 1]"))),
                None => Ok(()),
            }
        };
        let pos = |key: &str, v: usize| {
            if v == 0 {
                Err(invalid(key, "must be >= 1"))
            } else {
                Ok(())
            }
        };
        let hopfield_task = matches!(
            self.task,
            TaskConfig::RandomPatterns { .. } | TaskConfig::MnistDigits { .. }
        );
        if hopfield_task != self.is_hopfield() {
            return Err(invalid(
                "rule.kind",
                "Hopfield storage rules (hebbian, anti-hebbian, storkey) go with pattern tasks (random-patterns, mnist-digits) and the other rules with data tasks",
            ));
        }
        match &self.task {
            TaskConfig::RandomPatterns {
                neurons,
                patterns,
                noise,
                cues_per_pattern,
            } => {
                pos("task.neurons", *neurons)?;
                pos("task.patterns", *patterns)?;
                pos("task.cues_per_pattern", *cues_per_pattern)?;
                if *neurons > 65_535 {
                    return Err(invalid("task.neurons", "at most 65535"));
                }
                frac("task.noise", noise)?;
            }
            TaskConfig::MnistDigits {
                classes,
                per_class,
                noise,
                cues_per_pattern,
                ..
            } => {
                if classes.is_empty() {
                    return Err(invalid("task.classes", "must name at least one class"));
                }
                if let Some(c) = classes.iter().find(|&&c| c > 9) {
                    return Err(invalid("task.classes", format!("{c} is not a digit")));
                }
                pos("task.per_class", *per_class)?;
                pos("task.cues_per_pattern", *cues_per_pattern)?;
                frac("task.noise", noise)?;
            }
            TaskConfig::Gaussian {
                dim,
                variances,
                rest,
                samples,
            } => {
                pos("task.dim", *dim)?;
                pos("task.samples", *samples)?;
                if variances.len() > *dim {
                    return Err(invalid("task.variances", "more variances than dimensions"));
                }
                if variances
                    .iter()
                    .chain([rest])
                    .any(|v| !v.is_finite() || *v < 0.0)
                {
                    return Err(invalid(
                        "task.variances",
                        "variances must be finite and >= 0",
                    ));
                }
            }
            TaskConfig::MnistImages { samples, side } => {
                pos("task.samples", *samples)?;
                if ![7, 14, 28].contains(side) {
                    return Err(invalid("task.side", "must be 28, 14 or 7"));
                }
            }
            TaskConfig::Bars {
                size,
                samples,
                width,
                noise,
                test_orientations,
            } => {
                pos("task.size", *size)?;
                pos("task.samples", *samples)?;
                pos("task.test_orientations", *test_orientations)?;
                if !(width.is_finite() && *width > 0.0) {
                    return Err(invalid("task.width", "must be > 0"));
                }
                if !(noise.is_finite() && *noise >= 0.0) {
                    return Err(invalid("task.noise", "must be >= 0"));
                }
            }
            TaskConfig::SpikePattern {
                inputs,
                pattern_steps,
                rate,
                share,
                steps,
                test_steps,
            } => {
                pos("task.inputs", *inputs)?;
                pos("task.pattern_steps", *pattern_steps)?;
                pos("task.steps", *steps)?;
                pos("task.test_steps", *test_steps)?;
                frac("task.rate", &[*rate])?;
                frac("task.share", &[*share])?;
            }
        }
        if matches!(
            self.rule,
            RuleConfig::Hebbian(_) | RuleConfig::AntiHebbian(_)
        ) && self.epochs != 1
        {
            return Err(invalid(
                "epochs",
                "Hebbian storage is one-shot: epochs must be 1",
            ));
        }
        self.core_rule().map(|_| ())?;
        if self.is_hopfield() {
            let r = &self.recall;
            if r.max_sweeps == 0 {
                return Err(invalid("recall.max_sweeps", "must be >= 1"));
            }
            if !r.threshold.is_finite() {
                return Err(invalid("recall.threshold", "must be finite"));
            }
            if !(r.temperature.is_finite() && r.temperature > 0.0) {
                return Err(invalid("recall.temperature", "must be > 0"));
            }
            if matches!(self.rule, RuleConfig::Storkey) && r.activation != ActivationConfig::Sign {
                // Allowed: the weights' scale is known; nothing to refuse.
            }
        }
        Ok(())
    }

    /// The rule's core parameters (the core validates them).
    pub fn core_rule(&self) -> Result<CoreRule, ConfigError> {
        let q = |key: &str, v: f64| fixed::from_f64(v).map_err(|e| invalid(key, e.to_string()));
        let sched = |r: &RateConfig| -> Result<schedule::RateSchedule, ConfigError> {
            let eta0 = q("rule.rate.rate", r.rate)?;
            if eta0 <= 0 {
                return Err(invalid(
                    "rule.rate.rate",
                    "must be > 0 (at least 1.5e-8, one fixed-point step)",
                ));
            }
            let min = q("rule.rate.min_rate", r.min_rate)?;
            let decay = match r.decay {
                DecayConfig::Constant => schedule::Decay::Constant,
                DecayConfig::InverseTime => schedule::Decay::InverseTime { t0: r.t0 },
                DecayConfig::Exponential => {
                    if !(r.gamma > 0.0 && r.gamma < 1.0) {
                        return Err(invalid("rule.rate.gamma", "must be in (0, 1)"));
                    }
                    schedule::Decay::Exponential {
                        gamma: (r.gamma * 4_294_967_296.0).round() as u32,
                        every: r.every,
                    }
                }
            };
            // With a constant rate the floor is the rate itself.
            let min = if r.decay == DecayConfig::Constant {
                eta0
            } else {
                min
            };
            schedule::RateSchedule::new(eta0, min, decay)
                .map_err(|e| invalid("rule.rate", e.to_string()))
        };
        let outs = |v: usize| {
            if v == 0 {
                Err(invalid("rule.outputs", "must be >= 1"))
            } else {
                Ok(v)
            }
        };
        let store = |c: &StoreConfig, anti: bool| {
            CoreRule::Hebbian(hebbian::StoreOptions {
                mean: match c.mean {
                    MeanConfig::None => hebbian::Mean::None,
                    MeanConfig::Global => hebbian::Mean::Global,
                    MeanConfig::PerPattern => hebbian::Mean::PerPattern,
                },
                zero_diagonal: c.zero_diagonal,
                normalize: c.normalize,
                anti,
            })
        };
        Ok(match &self.rule {
            RuleConfig::Hebbian(c) => store(c, false),
            RuleConfig::AntiHebbian(c) => store(c, true),
            RuleConfig::Storkey => CoreRule::Storkey,
            RuleConfig::Oja {
                outputs,
                rate,
                normalize,
            } => CoreRule::Oja {
                outputs: outs(*outputs)?,
                schedule: sched(rate)?,
                normalize: *normalize,
            },
            RuleConfig::Sanger {
                outputs,
                rate,
                normalize,
            } => CoreRule::Sanger {
                outputs: outs(*outputs)?,
                schedule: sched(rate)?,
                normalize: *normalize,
            },
            RuleConfig::Bcm {
                outputs,
                rate,
                tau,
                clip,
                theta0,
            } => {
                if !(tau.is_finite() && *tau >= 1.0) {
                    return Err(invalid("rule.tau", "must be >= 1"));
                }
                let p = hebb_core::local::bcm::BcmParams::new(
                    q("rule.tau", 1.0 / tau)?,
                    q("rule.clip", *clip)?,
                )
                .map_err(|e| invalid("rule", e.to_string()))?;
                CoreRule::Bcm {
                    outputs: outs(*outputs)?,
                    schedule: sched(rate)?,
                    params: p,
                    theta0: q("rule.theta0", *theta0)?,
                }
            }
            RuleConfig::Stdp {
                outputs,
                a_plus,
                a_minus,
                w_min,
                w_max,
                bounds,
                pairing,
                leak,
                threshold,
                v_reset,
                trace_decay,
                k,
                inhibit,
                adapt_plus,
                adapt_decay,
                init_mean,
                init_std,
            } => {
                let pairing = match pairing {
                    PairingConfig::AllToAll => trace_stdp::Pairing::AllToAll,
                    PairingConfig::Nearest => trace_stdp::Pairing::Nearest,
                };
                let rule = trace_stdp::TraceStdp::new(
                    q("rule.a_plus", *a_plus)?,
                    q("rule.a_minus", *a_minus)?,
                    q("rule.w_min", *w_min)?,
                    q("rule.w_max", *w_max)?,
                    match bounds {
                        BoundsConfig::Additive => trace_stdp::Bounds::Additive,
                        BoundsConfig::Multiplicative => trace_stdp::Bounds::Multiplicative,
                    },
                    pairing,
                )
                .map_err(|e| invalid("rule", e.to_string()))?;
                let lif = lif::LifParams::new(
                    q("rule.leak", *leak)?,
                    q("rule.threshold", *threshold)?,
                    q("rule.v_reset", *v_reset)?,
                    q("rule.trace_decay", *trace_decay)?,
                    pairing,
                    *k,
                    *inhibit,
                    q("rule.adapt_plus", *adapt_plus)?,
                    q("rule.adapt_decay", *adapt_decay)?,
                )
                .map_err(|e| invalid("rule", e.to_string()))?;
                if !(init_std.is_finite() && *init_std >= 0.0) {
                    return Err(invalid("rule.init_std", "must be >= 0"));
                }
                q("rule.init_mean", *init_mean)?;
                CoreRule::Stdp {
                    outputs: outs(*outputs)?,
                    rule,
                    lif,
                    init: (*init_mean, *init_std),
                }
            }
        })
    }

    /// Recall dynamics for `n` neurons whose real weight of integer 1 is `unit`.
    pub fn dynamics(&self, n: usize, unit: f64) -> Result<hopfield::Dynamics, ConfigError> {
        let r = &self.recall;
        let activation = match r.activation {
            ActivationConfig::Sign => hopfield::Activation::Sign,
            ActivationConfig::Tanh => hopfield::Activation::Tanh,
            ActivationConfig::Sigmoid => hopfield::Activation::Sigmoid,
        };
        // Field units: sign fields are in weight units; Q16 fields carry 2^16 more.
        let state_unit = if activation == hopfield::Activation::Sign {
            1.0
        } else {
            65536.0
        };
        let theta = (r.threshold / unit * state_unit).round();
        if !theta.is_finite() || theta.abs() > 9.0e18 {
            return Err(invalid(
                "recall.threshold",
                "too large for the weights' scale",
            ));
        }
        let div = (r.temperature / unit).round().max(1.0);
        if !div.is_finite() || div > 9.0e18 {
            return Err(invalid(
                "recall.temperature",
                "too large for the weights' scale",
            ));
        }
        hopfield::Dynamics::new(
            n,
            match r.update {
                UpdateConfig::Sync => hopfield::Update::Synchronous,
                UpdateConfig::Async => hopfield::Update::Asynchronous,
            },
            activation,
            match r.tie {
                TieConfig::Keep => hopfield::Tie::Keep,
                TieConfig::Plus => hopfield::Tie::Plus,
                TieConfig::Zero => hopfield::Tie::Zero,
            },
            theta as i64,
            div as i64,
        )
        .map_err(|e| invalid("recall", e.to_string()))
    }
}

/// A rule as the core runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoreRule {
    /// Hebbian / anti-Hebbian storage.
    Hebbian(hebbian::StoreOptions),
    /// Storkey storage.
    Storkey,
    /// Oja.
    Oja {
        /// Rows.
        outputs: usize,
        /// Rate.
        schedule: schedule::RateSchedule,
        /// Row renormalisation.
        normalize: bool,
    },
    /// Sanger.
    Sanger {
        /// Rows.
        outputs: usize,
        /// Rate.
        schedule: schedule::RateSchedule,
        /// Row renormalisation.
        normalize: bool,
    },
    /// BCM.
    Bcm {
        /// Rows.
        outputs: usize,
        /// Rate.
        schedule: schedule::RateSchedule,
        /// τ and clip.
        params: hebb_core::local::bcm::BcmParams,
        /// Initial threshold (Q5.26).
        theta0: i32,
    },
    /// Trace STDP on LIF neurons.
    Stdp {
        /// Neurons.
        outputs: usize,
        /// The rule.
        rule: trace_stdp::TraceStdp,
        /// The neurons.
        lif: lif::LifParams,
        /// Initial weights (mean, std).
        init: (f64, f64),
    },
}
