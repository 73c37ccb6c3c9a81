//! Training configuration: the preset table (the one source of truth for every preset) and the
//! TOML schema users edit. A config file may name a `preset` and override any of its keys;
//! unknown keys and out-of-range values are rejected with the key's name.

use serde::{Deserialize, Serialize};

/// A configuration error that names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML could not be parsed or has unknown keys / wrong types.
    #[error("{0}")]
    Parse(String),
    /// A value is out of range.
    #[error("invalid `{key}`: {reason}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The preset name is not in the table.
    #[error("unknown preset `{0}` (known: {known})", known = PRESETS.join(", "))]
    UnknownPreset(String),
}

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &["kheradpisheh2018", "igarss2023", "mcu"];

/// Largest mini-batch (`layers[i].batch`).
pub const MAX_BATCH: u32 = 1024;
/// Largest shift of the readout's augmented copies (config and `eval --refit-shift`).
pub const MAX_SHIFT_AUGMENT: u8 = 4;

/// Which fixed filters the encoder uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum FilterKind {
    /// Difference of Gaussians, one filter per `(σ1, σ2)` pair.
    Dog,
    /// Gabor filters at evenly spaced orientations.
    Gabor,
}

/// DoG normalisation (`encoder.dog_norm`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DogNormConfig {
    /// Zero mean, then divided by the largest value (SpykeTorch).
    MeanMax,
    /// Positive and negative lobes each summing to one (SpikeSEG).
    UnitSum,
}

/// How the encoder turns filter responses into spike times (`encoder.mode`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderModeConfig {
    /// Rank-order latency code over the time steps (stronger responses spike earlier).
    Latency,
    /// Every non-zero response spikes at the first step (an event frame presented at once);
    /// `"repeat"` is its former name.
    #[serde(alias = "repeat")]
    AllAtFirstStep,
}

/// Neuron model of a layer (`layers[i].neuron`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NeuronConfig {
    /// Integrate-and-fire.
    If,
    /// Leaky, subtracting `leak` every step.
    LifSub,
    /// Leaky, multiplying by `1 − leak` every step.
    LifMul,
}

/// Winner-take-all mode (`layers[i].wta.mode`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WtaModeConfig {
    /// One winner per map per sample.
    Global,
    /// Winners anywhere, at least `radius` apart.
    Local,
    /// Both.
    Both,
}

/// STDP rule (`layers[i].stdp.rule`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StdpRuleConfig {
    /// `±a·w·(1 − w)`: soft bounds.
    Multiplicative,
    /// `±a`, saturating at the bounds.
    Additive,
}

/// Encoder section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Filter family.
    pub filters: FilterKind,
    /// Filter size (odd).
    pub kernel: u8,
    /// DoG `(σ1, σ2)` pairs.
    #[serde(default)]
    pub dog: Vec<[f64; 2]>,
    /// DoG normalisation.
    #[serde(default = "default_dog_norm")]
    pub dog_norm: DogNormConfig,
    /// Gabor orientations.
    #[serde(default)]
    pub gabor_orientations: u8,
    /// Gabor σ, λ, γ.
    #[serde(default)]
    pub gabor: [f64; 3],
    /// Responses below this (pixels 0..255) become 0.
    pub threshold: f64,
    /// Local normalisation radius (0: none).
    pub norm_radius: u8,
    /// Time steps.
    pub steps: u8,
    /// Spike-time code.
    pub mode: EncoderModeConfig,
}

fn default_dog_norm() -> DogNormConfig {
    DogNormConfig::MeanMax
}

/// Competition section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WtaConfig {
    /// Mode.
    pub mode: WtaModeConfig,
    /// Winners per sample.
    pub k: u16,
    /// Inhibition radius.
    pub radius: u8,
    /// Pointwise inhibition of the layer's potentials before selection.
    pub pointwise: bool,
}

/// STDP section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StdpConfig {
    /// Rule.
    pub rule: StdpRuleConfig,
    /// LTP rate.
    pub a_plus: f64,
    /// LTD rate (magnitude).
    pub a_minus: f64,
    /// Initial weight mean.
    pub init_mean: f64,
    /// Initial weight standard deviation.
    pub init_std: f64,
    /// Double `a+` every this many samples (0: never), keeping `a−/a+`.
    #[serde(default)]
    pub double_every: u32,
    /// Cap of the doubling.
    #[serde(default)]
    pub a_plus_cap: f64,
}

/// Pooling section.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Window.
    pub kernel: u8,
    /// Stride.
    pub stride: u8,
    /// Padding (padded cells never win).
    pub pad: u8,
}

/// Stop rules of one layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StopConfig {
    /// Stop when C_l falls below this (0: off).
    #[serde(default)]
    pub c_l: f64,
    /// Wins a map needs to count as converged.
    #[serde(default = "default_min_wins")]
    pub min_wins: u32,
    /// Stop when this fraction of maps has `min_wins` (0: off).
    #[serde(default)]
    pub target_ratio: f64,
    /// Stop after this many epochs without a better ratio (0: off).
    #[serde(default)]
    pub patience: u16,
}

fn default_min_wins() -> u32 {
    10
}

impl Default for StopConfig {
    fn default() -> Self {
        Self {
            c_l: 0.0,
            min_wins: 10,
            target_ratio: 0.0,
            patience: 0,
        }
    }
}

/// Adaptive per-map thresholds during training.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HomeostasisConfig {
    /// Raise on a map's spike.
    pub theta_plus: f64,
    /// Decay time constant in samples.
    pub tau: f64,
    /// Upper bound.
    pub theta_max: f64,
    /// A map with a firing rate below this is dead and gets recovery noise (0: off).
    #[serde(default)]
    pub dead_rate: f64,
    /// σ of the recovery noise.
    #[serde(default)]
    pub recovery_sigma: f64,
}

/// Rate-target homeostasis of a layer (SpikeSEG's per-neuron adaptive threshold, here per map):
/// after every epoch each map's threshold moves by `lr·(rate − rate_target)·θ`, where `rate` is
/// the map's wins per sample in that epoch, clamped to `[theta_min, theta_max]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateTargetConfig {
    /// Wins per sample each map should reach, in `[0, 1]`.
    pub rate: f64,
    /// Relative step, in `[0, 1)`.
    pub lr: f64,
    /// Lowest threshold (> 0).
    pub theta_min: f64,
    /// Highest threshold.
    pub theta_max: f64,
}

/// One learned layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Name used in files and logs.
    pub name: String,
    /// Output maps.
    pub maps: u16,
    /// Kernel size.
    pub kernel: u8,
    /// Zero padding of the input on each side.
    pub pad: u8,
    /// Stride.
    #[serde(default = "one")]
    pub stride: u8,
    /// Firing threshold (units of a unit weight).
    pub threshold: f64,
    /// "if", "lif-sub" or "lif-mul".
    #[serde(default = "default_neuron")]
    pub neuron: NeuronConfig,
    /// Leak: absolute per step for lif-sub, fraction per step for lif-mul.
    #[serde(default)]
    pub leak: f64,
    /// Pointwise inhibition of this layer's input while training it.
    #[serde(default)]
    pub inhibit_input: bool,
    /// Competition.
    pub wta: WtaConfig,
    /// Learning rule.
    pub stdp: StdpConfig,
    /// Pooling after the layer.
    pub pool: Option<PoolConfig>,
    /// Epoch budget of this layer.
    pub epochs: u16,
    /// Stop rules.
    #[serde(default)]
    pub stop: StopConfig,
    /// Adaptive thresholds.
    #[serde(default)]
    pub homeostasis: Option<HomeostasisConfig>,
    /// Per-map thresholds driven toward a target win rate at the end of every epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_target: Option<RateTargetConfig>,
    /// Samples per mini-batch: 1 (default) learns sample after sample; `B > 1` simulates `B`
    /// consecutive samples with the same weights (in parallel) and then applies their summed
    /// STDP changes (`hebb_core::plasticity::stdp_accumulate`).
    #[serde(default = "one_u32", skip_serializing_if = "is_one")]
    pub batch: u32,
}

fn one() -> u8 {
    1
}
fn one_u32() -> u32 {
    1
}
fn is_one(x: &u32) -> bool {
    *x == 1
}
fn yes() -> bool {
    true
}
fn default_neuron() -> NeuronConfig {
    NeuronConfig::If
}

/// Readout section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReadoutConfig {
    /// SVM regularisation C (one-vs-rest, squared hinge).
    pub c: f64,
    /// Passes of dual coordinate descent.
    pub epochs: u16,
    /// Also fit the readout on copies of the training images shifted by up to this many pixels
    /// in the four directions (the spiking layers never see them).
    #[serde(default)]
    pub shift_augment: u8,
    /// Candidate values of C: when not empty, C is chosen among them by accuracy on a validation
    /// split held out of the training set (then the readout is refitted on all of it), and `c`
    /// is not used.
    #[serde(default)]
    pub c_grid: Vec<f64>,
    /// Fraction of each class's training samples held out to choose C (with `c_grid`).
    #[serde(default = "default_validation")]
    pub validation: f64,
}

fn default_validation() -> f64 {
    0.1
}

/// A complete, resolved training configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Preset this config started from (informational once resolved).
    #[serde(default)]
    pub preset: String,
    /// Seed of everything random.
    pub seed: u64,
    /// Number of classes the readout separates.
    pub n_classes: u16,
    /// Shuffle the training samples every epoch (SpykeTorch's MNIST script keeps file order).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Input rows and columns.
    pub input: [u16; 2],
    /// Encoder.
    pub encoder: EncoderConfig,
    /// Learned layers, trained one after another.
    pub layers: Vec<LayerConfig>,
    /// Readout.
    pub readout: ReadoutConfig,
}

/// The preset table. Each entry is TOML so that the CLI, the library and config files resolve a
/// name through exactly the same path ([`TrainConfig::preset`]). An entry may start from another
/// (`extends = "name"`) and override only what differs.
fn preset_toml(name: &str) -> Option<&'static str> {
    Some(match name {
        // Kheradpisheh et al. 2018, MNIST network as SpykeTorch runs it.
        "kheradpisheh2018" => {
            r#"
preset = "kheradpisheh2018"
seed = 42
n_classes = 10
shuffle = false
input = [28, 28]
[encoder]
filters = "dog"
kernel = 7
dog = [[1.0, 2.0], [2.0, 1.0]]
dog_norm = "mean-max"
threshold = 50.0
norm_radius = 8
steps = 15
mode = "latency"
[[layers]]
name = "conv1"
maps = 32
kernel = 5
pad = 2
threshold = 10.0
wta = { mode = "both", k = 5, radius = 2, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.004, a_minus = 0.003, init_mean = 0.8, init_std = 0.05, double_every = 500, a_plus_cap = 0.15 }
pool = { kernel = 2, stride = 2, pad = 1 }
epochs = 2
[[layers]]
name = "conv2"
maps = 150
kernel = 2
pad = 1
threshold = 1.0
inhibit_input = true
wta = { mode = "both", k = 8, radius = 1, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.004, a_minus = 0.003, init_mean = 0.8, init_std = 0.05 }
pool = { kernel = 2, stride = 2, pad = 1 }
epochs = 20
[readout]
c = 2.4
epochs = 40
shift_augment = 1
c_grid = [0.0003, 0.001, 0.003, 0.01, 2.4]
validation = 0.1
"#
        }
        // Kirkland et al. 2023 (IGARSS) encoder settings as SpikeSEG's authors trained them,
        // on image input: fixed DoG conv1 (encoder), LIF conv2 with 10 % leak, IF class layer.
        "igarss2023" => {
            r#"
preset = "igarss2023"
seed = 42
n_classes = 10
input = [28, 28]
[encoder]
filters = "dog"
kernel = 5
dog = [[1.0, 2.0], [2.0, 1.0]]
dog_norm = "unit-sum"
threshold = 5.0
norm_radius = 0
steps = 10
mode = "latency"
[[layers]]
name = "conv2"
maps = 36
kernel = 5
pad = 2
threshold = 10.0
neuron = "lif-sub"
leak = 1.0
wta = { mode = "both", k = 8, radius = 2, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.04, a_minus = 0.03, init_mean = 0.8, init_std = 0.01 }
pool = { kernel = 2, stride = 2, pad = 0 }
epochs = 3
stop = { min_wins = 10, target_ratio = 0.9, patience = 20 }
homeostasis = { theta_plus = 0.05, tau = 10000.0, theta_max = 50.0, dead_rate = 0.01, recovery_sigma = 0.1 }
[[layers]]
name = "conv3"
maps = 64
kernel = 7
pad = 3
threshold = 10.0
inhibit_input = true
wta = { mode = "both", k = 8, radius = 1, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.04, a_minus = 0.03, init_mean = 0.8, init_std = 0.01 }
pool = { kernel = 2, stride = 2, pad = 0 }
epochs = 3
stop = { min_wins = 10, target_ratio = 0.9, patience = 20 }
[readout]
c = 2.4
epochs = 40
"#
        }
        // A network sized for a Cortex-M4 with 128 KiB of RAM, trainable on the device: the
        // kheradpisheh2018 network with fewer maps, a shorter conv2 budget, shuffled samples
        // and a readout with a fixed C.
        "mcu" => {
            r#"
extends = "kheradpisheh2018"
preset = "mcu"
shuffle = true
[[layers]]
maps = 16
[[layers]]
maps = 64
epochs = 10
[readout]
shift_augment = 0
c_grid = []
"#
        }
        _ => return None,
    })
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o))
                if b.iter().all(toml::Value::is_table)
                    && o.iter().all(toml::Value::is_table)
                    && !o.is_empty() =>
            {
                // Arrays of tables (layers) merge element-wise so one key of one layer can change.
                let mut o = o.into_iter();
                for bi in b.iter_mut() {
                    match (bi, o.next()) {
                        (toml::Value::Table(bt), Some(toml::Value::Table(ot))) => merge(bt, ot),
                        (_, None) => break,
                        _ => {}
                    }
                }
                b.extend(o);
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A preset's table with what it extends resolved (the chain is the table's, at most a few
/// links, so no cycle guard is needed beyond the depth cap).
fn preset_table(name: &str) -> Result<toml::Table, ConfigError> {
    let mut chain = Vec::new();
    let mut cur = name.to_owned();
    loop {
        let text = preset_toml(&cur).ok_or_else(|| ConfigError::UnknownPreset(cur.clone()))?;
        let mut t = parse_table(text)?;
        let next = match t.remove("extends") {
            Some(toml::Value::String(b)) => Some(b),
            _ => None,
        };
        chain.push(t);
        match next {
            Some(b) if chain.len() < 8 => cur = b,
            _ => break,
        }
    }
    let mut table = chain.pop().unwrap_or_default();
    while let Some(over) = chain.pop() {
        merge(&mut table, over);
    }
    Ok(table)
}

fn parse_table(text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Parse(e.to_string()))
}

impl TrainConfig {
    /// Resolves a preset by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        Self::from_table(preset_table(name)?)
    }

    /// Parses a config file's text. If it names a `preset`, its keys override that preset's.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let user = parse_table(text)?;
        let table = match user.get("preset") {
            Some(toml::Value::String(p)) if !p.is_empty() => {
                let mut base = preset_table(p)?;
                merge(&mut base, user);
                base
            }
            _ => user,
        };
        Self::from_table(table)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let cfg: TrainConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        if self.seed > i64::MAX as u64 {
            // TOML integers are i64: a larger seed would write an unreadable config.toml.
            return bad("seed".into(), "must be <= 9223372036854775807");
        }
        if self.n_classes < 2 {
            return bad("n_classes".into(), "must be >= 2");
        }
        if self.input[0] == 0 || self.input[1] == 0 || self.input[0] > 1024 || self.input[1] > 1024
        {
            return bad("input".into(), "rows and columns must be in 1..=1024");
        }
        let e = &self.encoder;
        if e.kernel == 0 || e.kernel.is_multiple_of(2) || e.kernel > 31 {
            return bad("encoder.kernel".into(), "must be odd and <= 31");
        }
        match e.filters {
            FilterKind::Dog => {
                if e.dog.is_empty() {
                    return bad(
                        "encoder.dog".into(),
                        "needs at least one (sigma1, sigma2) pair",
                    );
                }
                if e.dog.iter().any(|p| {
                    !(p[0] > 0.0
                        && p[1] > 0.0
                        && p[0] != p[1]
                        && p[0].is_finite()
                        && p[1].is_finite())
                }) {
                    return bad(
                        "encoder.dog".into(),
                        "sigmas must be finite, > 0 and differ",
                    );
                }
            }
            FilterKind::Gabor => {
                if e.gabor_orientations == 0 {
                    return bad("encoder.gabor_orientations".into(), "must be >= 1");
                }
                if e.gabor.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                    return bad("encoder.gabor".into(), "sigma, lambda, gamma must be > 0");
                }
            }
        }
        // The family not in use is not checked above; it must still print as TOML that reads
        // back to the same value (NaN never compares equal).
        if e.dog.iter().flatten().any(|v| !v.is_finite()) {
            return bad("encoder.dog".into(), "must be finite");
        }
        if e.gabor.iter().any(|v| !v.is_finite()) {
            return bad("encoder.gabor".into(), "must be finite");
        }
        if !(e.threshold.is_finite() && e.threshold >= 0.0) {
            return bad("encoder.threshold".into(), "must be >= 0");
        }
        if e.steps == 0 || e.steps > 254 {
            return bad("encoder.steps".into(), "must be in 1..=254");
        }
        if e.norm_radius > 100 {
            return bad("encoder.norm_radius".into(), "must be <= 100");
        }
        if self.layers.is_empty() || self.layers.len() > hebb_core::model::MAX_LAYERS {
            return bad("layers".into(), "need 1 to 4 layers");
        }
        for (i, l) in self.layers.iter().enumerate() {
            let k = |f: &str| format!("layers[{i}].{f}");
            if l.name.is_empty()
                || !l
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return bad(
                    k("name"),
                    "must be non-empty ASCII letters, digits, '-' or '_'",
                );
            }
            if l.maps == 0 || l.maps > 4096 {
                return bad(k("maps"), "must be in 1..=4096");
            }
            if l.kernel == 0 || l.stride == 0 {
                return bad(k("kernel"), "kernel and stride must be >= 1");
            }
            if l.pad >= l.kernel {
                return bad(k("pad"), "must be smaller than the kernel");
            }
            if !(l.threshold.is_finite() && l.threshold > 0.0) {
                return bad(k("threshold"), "must be > 0");
            }
            if !l.leak.is_finite() {
                return bad(k("leak"), "must be finite");
            }
            match l.neuron {
                NeuronConfig::If => {}
                NeuronConfig::LifSub if l.leak >= 0.0 => {}
                NeuronConfig::LifMul if (0.0..=1.0).contains(&l.leak) => {}
                NeuronConfig::LifSub | NeuronConfig::LifMul => {
                    return bad(k("leak"), "must be >= 0 (lif-mul: in [0, 1])");
                }
            }
            if l.wta.k == 0 {
                return bad(k("wta.k"), "must be >= 1");
            }
            if !(1..=MAX_BATCH).contains(&l.batch) {
                return bad(k("batch"), &format!("must be in 1..={MAX_BATCH}"));
            }
            if l.batch as u64 * u64::from(l.wta.k) > 32_767 {
                return bad(k("batch"), "batch × wta.k must be at most 32,767");
            }
            if l.batch > 1 && l.homeostasis.is_some() {
                return bad(
                    k("batch"),
                    "mini-batches (batch > 1) and adaptive thresholds (homeostasis) do not combine",
                );
            }
            let s = &l.stdp;
            for (name, v) in [("stdp.a_plus", s.a_plus), ("stdp.a_minus", s.a_minus)] {
                if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                    return bad(k(name), "must be in [0, 1) (a_minus is a magnitude)");
                }
            }
            if !(s.init_mean.is_finite() && (0.0..=1.0).contains(&s.init_mean)) {
                return bad(k("stdp.init_mean"), "must be in [0, 1]");
            }
            if !(s.init_std.is_finite() && s.init_std >= 0.0) {
                return bad(k("stdp.init_std"), "must be >= 0");
            }
            if !s.a_plus_cap.is_finite() {
                return bad(k("stdp.a_plus_cap"), "must be finite");
            }
            if s.double_every > 0
                && !(s.a_plus_cap.is_finite() && s.a_plus_cap > 0.0 && s.a_plus_cap < 1.0)
            {
                return bad(
                    k("stdp.a_plus_cap"),
                    "must be in (0, 1) when double_every is set",
                );
            }
            if let Some(p) = l.pool
                && (p.kernel == 0 || p.stride == 0 || p.pad >= p.kernel)
            {
                return bad(k("pool"), "kernel, stride >= 1 and pad < kernel");
            }
            if l.epochs == 0 {
                return bad(k("epochs"), "must be >= 1");
            }
            let st = &l.stop;
            if !(st.c_l.is_finite() && (0.0..=0.25).contains(&st.c_l)) {
                return bad(k("stop.c_l"), "must be in [0, 0.25]");
            }
            if !(st.target_ratio.is_finite() && (0.0..=1.0).contains(&st.target_ratio)) {
                return bad(k("stop.target_ratio"), "must be in [0, 1]");
            }
            if let Some(r) = &l.rate_target {
                if !(r.rate.is_finite() && (0.0..=1.0).contains(&r.rate)) {
                    return bad(k("rate_target.rate"), "must be in [0, 1]");
                }
                if !(r.lr.is_finite() && (0.0..1.0).contains(&r.lr)) {
                    return bad(k("rate_target.lr"), "must be in [0, 1)");
                }
                if !(r.theta_min.is_finite() && r.theta_min > 0.0) {
                    return bad(k("rate_target.theta_min"), "must be > 0");
                }
                if !(r.theta_max.is_finite() && r.theta_max >= r.theta_min) {
                    return bad(k("rate_target.theta_max"), "must be >= theta_min");
                }
            }
            if let Some(h) = &l.homeostasis {
                if !(h.theta_plus.is_finite() && h.theta_plus >= 0.0) {
                    return bad(k("homeostasis.theta_plus"), "must be >= 0");
                }
                if !(h.tau.is_finite() && h.tau > 0.0) {
                    return bad(k("homeostasis.tau"), "must be > 0");
                }
                if !(h.theta_max.is_finite() && h.theta_max >= l.threshold) {
                    return bad(k("homeostasis.theta_max"), "must be >= the layer threshold");
                }
                if !(h.dead_rate.is_finite() && (0.0..1.0).contains(&h.dead_rate)) {
                    return bad(k("homeostasis.dead_rate"), "must be in [0, 1)");
                }
                if !(h.recovery_sigma.is_finite() && h.recovery_sigma >= 0.0) {
                    return bad(k("homeostasis.recovery_sigma"), "must be >= 0");
                }
            }
        }
        if !(self.readout.c.is_finite() && self.readout.c > 0.0) {
            return bad("readout.c".into(), "must be > 0");
        }
        for (i, &c) in self.readout.c_grid.iter().enumerate() {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("readout.c_grid[{i}]"), "must be > 0");
            }
        }
        if self.readout.c_grid.len() > 32 {
            return bad("readout.c_grid".into(), "at most 32 values");
        }
        if !(self.readout.validation > 0.0 && self.readout.validation <= 0.5) {
            return bad("readout.validation".into(), "must be in (0, 0.5]");
        }
        if self.readout.shift_augment > MAX_SHIFT_AUGMENT {
            return bad(
                "readout.shift_augment".into(),
                &format!("must be <= {MAX_SHIFT_AUGMENT}"),
            );
        }
        if self.readout.epochs == 0 {
            return bad("readout.epochs".into(), "must be >= 1");
        }
        Ok(())
    }
}

/// Bytes a training run of `cfg` on `n_train` images needs at its peak (an estimate that
/// counts the large buffers: the encoded inputs, one layer's input and output spike times for
/// every sample, and the readout's features of every training copy).
pub fn memory_estimate(net: &crate::net::Net, cfg: &TrainConfig, n_train: usize) -> u128 {
    let n = n_train as u128;
    let enc = n * net.encoder.n_out() as u128;
    let mut peak_layers = 0u128;
    let mut cur = enc;
    for a in &net.arch {
        let out = n * a.out_shape().len() as u128;
        peak_layers = peak_layers.max(cur + out);
        cur = out;
    }
    let s = u128::from(cfg.readout.shift_augment);
    let copies = 1 + 4 * s;
    let nf = net.n_features() as u128;
    // Bit sets plus the sparse view (4 bytes an active feature; assume a quarter active).
    let features = n * copies * (nf.div_ceil(32) * 4 + nf);
    enc + peak_layers + features
}

/// Memory the system can give this process (`MemAvailable`), if it says.
pub fn available_memory() -> Option<u128> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses a run whose memory estimate exceeds what the machine has (or 1 TiB when it cannot
/// tell), before anything is allocated.
pub fn check_memory(
    cfg: &TrainConfig,
    net: &crate::net::Net,
    n_train: usize,
) -> anyhow::Result<()> {
    let need = memory_estimate(net, cfg, n_train);
    // HEBB_MEMORY_LIMIT (bytes) sets the budget, e.g. to share a machine.
    let have = std::env::var("HEBB_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u128>().ok())
        .or_else(available_memory)
        .unwrap_or(1 << 40);
    if need > have {
        anyhow::bail!(
            "this network needs about {:.1} GiB for {n_train} training images but {:.1} GiB are available: use fewer maps, more pooling or less data",
            need as f64 / f64::from(1u32 << 30),
            have as f64 / f64::from(1u32 << 30)
        );
    }
    Ok(())
}
