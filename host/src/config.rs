//! Training configuration: the preset table (the one source of truth for every preset) and the
//! TOML schema users edit. A config file may name a `preset` and override any of its keys;
//! unknown keys and out-of-range values are rejected with the key's name.

use hebb_core::convergence::StopRule;
use hebb_core::encode::{EncodeMode, EncoderParams, EventEncoding};
use hebb_core::events::voxel::{Binning, Norm};
use hebb_core::filters::{self, DogNorm, Gabor};
use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
use hebb_core::homeostasis::{AdaptiveThreshold, RateTarget, decay_from_tau};
use hebb_core::model::LayerArch;
use hebb_core::neuron::{NeuronKind, NeuronParams, validate_thresholds};
use hebb_core::q;
use hebb_core::stdp::{StdpParams, StdpRule};
use hebb_core::wta::{WtaMode, WtaParams};
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
    #[error("unknown preset `{name}` (known: {known})")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The presets there are.
        known: String,
    },
}

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &[
    "kheradpisheh2018",
    "igarss2023",
    "igarss2023-images",
    "nmnist-events",
    "mcu",
];

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
    /// Event-camera input: voxel grids through a leaky, fire-once filter layer (the
    /// `[encoder.events]` table).
    Events,
}

/// How a bin's event count reaches the filters (`encoder.events.norm`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EventNormConfig {
    /// The count.
    Count,
    /// 1 where there is any event.
    Binary,
    /// The count divided by the bin's largest count (SpikeSEG).
    MaxPerBin,
}

/// Event input (`[encoder.events]`, with `encoder.mode = "events"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventInputConfig {
    /// Polarity channels: 2 (ON, OFF) or 1 (together).
    #[serde(default = "default_channels")]
    pub channels: u8,
    /// Each channel gets its own filter maps (otherwise the filters sum over channels).
    #[serde(default)]
    pub split_channels: bool,
    /// Count normalisation.
    #[serde(default = "default_event_norm")]
    pub norm: EventNormConfig,
    /// Threshold of the filter layer (input units: a normalised count of 1 is 1.0).
    pub theta: f64,
    /// Subtractive leak per step (same units).
    pub leak: f64,
    /// Fixed bin duration (ms); absent: the bins split each window's own span.
    #[serde(default)]
    pub bin_ms: Option<f64>,
    /// Cut recordings into windows of this length (ms); absent: a recording is one sample.
    #[serde(default)]
    pub window_ms: Option<f64>,
    /// Window stride (ms; default: the window length).
    #[serde(default)]
    pub stride_ms: Option<f64>,
}

fn default_channels() -> u8 {
    2
}
fn default_event_norm() -> EventNormConfig {
    EventNormConfig::MaxPerBin
}

/// Milliseconds to whole microseconds (≥ 1), or `None` when not a positive finite number.
fn ms_to_us(ms: f64) -> Option<u64> {
    let us = (ms * 1000.0).round();
    (ms.is_finite() && (1.0..=1e15).contains(&us)).then_some(us as u64)
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
    /// Event input (with `mode = "events"`).
    #[serde(default)]
    pub events: Option<EventInputConfig>,
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
        // Kirkland et al. 2023 (IGARSS) as SpikeSEG's authors actually trained it on event data
        // (their configs/config.yaml, not the silent `--paper` table): ON/OFF voxel grids of 10
        // bins, each bin divided by its largest count; conv1 = fixed DoG maps (ON/OFF centre,
        // tiled to 4, summed over both polarities) as a leaky fire-once layer (θ 0.1, λ 0.09);
        // conv2 36 maps (λ 0.01), conv3 one class map (λ 0); WTA, adaptive thresholds from θ_rest
        // = θ (+0.02 per spike, τ 500 samples, at most 10). Samples are 300-ms windows.
        "igarss2023" => {
            r#"
preset = "igarss2023"
seed = 42
n_classes = 2
input = [128, 128]
[encoder]
filters = "dog"
kernel = 5
dog = [[1.0, 2.0], [2.0, 1.0], [1.0, 2.0], [2.0, 1.0]]
dog_norm = "unit-sum"
threshold = 0.0
norm_radius = 0
steps = 10
mode = "events"
[encoder.events]
channels = 2
norm = "max-per-bin"
theta = 0.1
leak = 0.09
window_ms = 300.0
[[layers]]
name = "conv2"
maps = 36
kernel = 5
pad = 2
threshold = 0.1
neuron = "lif-sub"
leak = 0.01
wta = { mode = "both", k = 8, radius = 2, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.04, a_minus = 0.03, init_mean = 0.8, init_std = 0.01 }
pool = { kernel = 2, stride = 2, pad = 0 }
epochs = 5
stop = { min_wins = 10, target_ratio = 0.9, patience = 20 }
homeostasis = { theta_plus = 0.02, tau = 500.0, theta_max = 10.0 }
[[layers]]
name = "conv3"
maps = 1
kernel = 7
pad = 3
threshold = 0.1
neuron = "lif-sub"
leak = 0.0
wta = { mode = "both", k = 8, radius = 2, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.04, a_minus = 0.03, init_mean = 0.8, init_std = 0.01 }
epochs = 5
stop = { min_wins = 10, target_ratio = 0.9, patience = 20 }
homeostasis = { theta_plus = 0.02, tau = 500.0, theta_max = 10.0 }
[readout]
c = 2.4
epochs = 40
shift_augment = 0
"#
        }
        // N-MNIST-style recordings (34×34, ON/OFF, three saccades) classified by a
        // kheradpisheh2018-style network: each polarity through the on- and off-centre DoG
        // filters as a leaky fire-once layer over 10 bins (4 maps), two STDP layers, a linear
        // readout.
        "nmnist-events" => {
            r#"
extends = "kheradpisheh2018"
preset = "nmnist-events"
input = [34, 34]
[encoder]
kernel = 7
dog = [[1.0, 2.0], [2.0, 1.0]]
dog_norm = "unit-sum"
threshold = 0.0
norm_radius = 0
steps = 10
mode = "events"
[encoder.events]
channels = 2
split_channels = true
norm = "max-per-bin"
theta = 0.5
leak = 0.05
[readout]
shift_augment = 0
"#
        }
        // The IGARSS 2023 encoder settings on image input (latency-coded DoG, LIF conv2 with
        // a 10 % leak, IF class layer), for comparison with the image networks.
        "igarss2023-images" => {
            r#"
preset = "igarss2023-images"
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

pub(crate) fn merge(base: &mut toml::Table, over: toml::Table) {
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
/// links, so no cycle guard is needed beyond the depth cap): `lookup` gives a preset's TOML,
/// `merge` lays a child over its parent, `known` names every preset for the error.
pub(crate) fn resolve_preset(
    name: &str,
    lookup: impl Fn(&str) -> Option<&'static str>,
    merge: impl Fn(&mut toml::Table, toml::Table),
    known: &[&str],
) -> Result<toml::Table, ConfigError> {
    let mut chain = Vec::new();
    let mut cur = name.to_owned();
    loop {
        let text = lookup(&cur).ok_or_else(|| ConfigError::UnknownPreset {
            name: cur.clone(),
            known: known.join(", "),
        })?;
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

/// A resolved table as a config type (unknown keys and wrong types are [`ConfigError::Parse`]).
pub(crate) fn decode_table<T: serde::de::DeserializeOwned>(
    table: toml::Table,
) -> Result<T, ConfigError> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))
}

/// A user's config table laid over the preset it names (if any).
pub(crate) fn with_preset(
    text: &str,
    preset: impl Fn(&str) -> Result<toml::Table, ConfigError>,
    merge: impl Fn(&mut toml::Table, toml::Table),
) -> Result<toml::Table, ConfigError> {
    let user = parse_table(text)?;
    Ok(match user.get("preset") {
        Some(toml::Value::String(p)) if !p.is_empty() => {
            let mut base = preset(p)?;
            merge(&mut base, user);
            base
        }
        _ => user,
    })
}

fn preset_table(name: &str) -> Result<toml::Table, ConfigError> {
    resolve_preset(name, preset_toml, merge, PRESETS)
}

pub(crate) fn parse_table(text: &str) -> Result<toml::Table, ConfigError> {
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
        Self::from_table(with_preset(text, preset_table, merge)?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let cfg: TrainConfig = decode_table(table)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value: the ranges the core's parameter types enforce are checked by
    /// building them (their errors name the key), the rest (limits of this program, real values
    /// the conversion to fixed point would clamp) here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, reason: &str| Err(invalid(key, reason));
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
        // Every value must print as TOML that reads back to the same value (NaN never compares
        // equal), the filter family not in use included.
        if e.dog.iter().flatten().any(|v| !v.is_finite()) {
            return bad("encoder.dog".into(), "must be finite");
        }
        if e.gabor.iter().any(|v| !v.is_finite()) {
            return bad("encoder.gabor".into(), "must be finite");
        }
        if !e.threshold.is_finite() {
            return bad("encoder.threshold".into(), "must be finite");
        }
        let mut shape = self.encoder_params()?.output();
        e.filters()?;
        if self.layers.is_empty() || self.layers.len() > hebb_core::model::MAX_LAYERS {
            return bad("layers".into(), "need 1 to 4 layers");
        }
        for (i, l) in self.layers.iter().enumerate() {
            let k = |f: &str| layer_key(i, f);
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
            if l.maps > 4096 {
                return bad(k("maps"), "must be <= 4096");
            }
            if !l.threshold.is_finite() {
                return bad(k("threshold"), "must be finite");
            }
            if !l.leak.is_finite() {
                return bad(k("leak"), "must be finite");
            }
            // `β = 1 − leak` would be clamped to [0, 1) in Q0.16.
            if l.neuron == NeuronConfig::LifMul && !(0.0..=1.0).contains(&l.leak) {
                return bad(k("leak"), "must be in [0, 1] for lif-mul");
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
            // The core takes a negative a− as its magnitude; the config keeps one spelling.
            if s.a_minus < 0.0 {
                return bad(k("stdp.a_minus"), "must be >= 0 (a magnitude)");
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
            if s.double_every > 0 && !(s.a_plus_cap > 0.0 && s.a_plus_cap < 1.0) {
                return bad(
                    k("stdp.a_plus_cap"),
                    "must be in (0, 1) when double_every is set",
                );
            }
            // C_l never exceeds 0.25: a larger ε would stop every layer after one epoch.
            if l.stop.c_l > 0.25 {
                return bad(k("stop.c_l"), "must be in [0, 0.25]");
            }
            if let Some(r) = &l.rate_target {
                // Rates and the step are clamped to [0, 1) by the conversion to fixed point.
                if !(r.rate.is_finite() && r.rate >= 0.0) {
                    return bad(k("rate_target.rate"), "must be in [0, 1]");
                }
                if !(r.lr.is_finite() && (0.0..1.0).contains(&r.lr)) {
                    return bad(k("rate_target.lr"), "must be in [0, 1)");
                }
                if !(r.theta_min.is_finite() && r.theta_max.is_finite()) {
                    return bad(k("rate_target"), "thresholds must be finite");
                }
            }
            if let Some(h) = &l.homeostasis {
                if !(h.theta_plus.is_finite() && h.theta_max.is_finite()) {
                    return bad(k("homeostasis"), "thresholds must be finite");
                }
                // The core reads τ ≤ 0 as "no memory"; in a config it is a mistake.
                if !(h.tau.is_finite() && h.tau > 0.0) {
                    return bad(k("homeostasis.tau"), "must be > 0");
                }
                if !(h.dead_rate.is_finite() && (0.0..1.0).contains(&h.dead_rate)) {
                    return bad(k("homeostasis.dead_rate"), "must be in [0, 1)");
                }
                if !(h.recovery_sigma.is_finite() && h.recovery_sigma >= 0.0) {
                    return bad(k("homeostasis.recovery_sigma"), "must be >= 0");
                }
            }
            shape = l.arch(i, shape)?.out_shape();
            validate_thresholds(&[l.threshold_q()], 1).map_err(core_err(k("threshold")))?;
            l.wta_params(i)?;
            l.stdp_params(i)?;
            l.adaptive_threshold(i)?;
            l.rate_target_params(i)?;
            l.check_stop_rule(i)?;
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
        if e.mode == EncoderModeConfig::Events && self.readout.shift_augment > 0 {
            return bad(
                "readout.shift_augment".into(),
                "must be 0 for event input (a voxel grid is not an image to shift)",
            );
        }
        if e.mode != EncoderModeConfig::Events && e.events.is_some() {
            return bad(
                "encoder.events".into(),
                "only with `encoder.mode = \"events\"`",
            );
        }
        Ok(())
    }

    /// The encoder's parameters, validated by the core.
    pub fn encoder_params(&self) -> Result<EncoderParams, ConfigError> {
        let e = &self.encoder;
        let n_filters = u8::try_from(e.n_filters())
            .map_err(|_| invalid("encoder".into(), "at most 255 filters"))?;
        EncoderParams::new(
            self.input[0],
            self.input[1],
            n_filters,
            e.kernel,
            q::potential_from_f64(e.threshold),
            e.norm_radius,
            e.steps,
            match e.mode {
                EncoderModeConfig::AllAtFirstStep => EncodeMode::AllAtFirstStep,
                EncoderModeConfig::Latency => EncodeMode::Latency,
                EncoderModeConfig::Events => EncodeMode::Events(self.event_encoding()?),
            },
        )
        .map_err(core_err("encoder".into()))
    }

    /// The event encoder's parameters (`[encoder.events]`).
    fn event_encoding(&self) -> Result<EventEncoding, ConfigError> {
        let Some(ev) = &self.encoder.events else {
            return Err(invalid(
                "encoder.events".into(),
                "`mode = \"events\"` needs an [encoder.events] table (theta, leak, …)",
            ));
        };
        let binning = match ev.bin_ms {
            None => Binning::Fraction,
            Some(ms) => {
                let us = ms_to_us(ms)
                    .and_then(|u| u32::try_from(u).ok())
                    .ok_or_else(|| {
                        invalid("encoder.events.bin_ms".into(), "must be in (0, 4294967] ms")
                    })?;
                Binning::FixedDt { dt_us: us }
            }
        };
        for (k, v) in [("theta", ev.theta), ("leak", ev.leak)] {
            if !v.is_finite() || !(0.0..=30000.0).contains(&v) {
                return Err(invalid(
                    format!("encoder.events.{k}"),
                    "must be in [0, 30000]",
                ));
            }
        }
        let (window_us, stride_us) = Self::event_windows(ev)?;
        Ok(EventEncoding {
            window_us,
            stride_us,
            channels: ev.channels,
            split_channels: ev.split_channels,
            norm: match ev.norm {
                EventNormConfig::Count => Norm::Count,
                EventNormConfig::Binary => Norm::Binary,
                EventNormConfig::MaxPerBin => Norm::MaxPerBin,
            },
            theta: q::potential_from_f64(ev.theta),
            leak: q::potential_from_f64(ev.leak),
            binning,
        })
    }

    /// How recordings are cut into samples (`encoder.events.window_ms` / `stride_ms`), in µs
    /// (`(0, 0)`: a recording is one sample).
    fn event_windows(ev: &EventInputConfig) -> Result<(u32, u32), ConfigError> {
        let us = |key: &str, ms: f64| {
            ms_to_us(ms)
                .and_then(|u| u32::try_from(u).ok())
                .ok_or_else(|| {
                    invalid(
                        format!("encoder.events.{key}"),
                        "must be in (0, 4294967] ms",
                    )
                })
        };
        let Some(len) = ev.window_ms else {
            if ev.stride_ms.is_some() {
                return Err(invalid(
                    "encoder.events.stride_ms".into(),
                    "needs window_ms",
                ));
            }
            return Ok((0, 0));
        };
        let len = us("window_ms", len)?;
        let stride = match ev.stride_ms {
            None => len,
            Some(s) => us("stride_ms", s)?,
        };
        Ok((len, stride))
    }

    /// Every layer's architecture, validated by the core.
    pub fn arch(&self) -> Result<Vec<LayerArch>, ConfigError> {
        let mut shape = self.encoder_params()?.output();
        let mut arch = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            let a = l.arch(i, shape)?;
            shape = a.out_shape();
            arch.push(a);
        }
        Ok(arch)
    }
}

impl EncoderConfig {
    /// Number of fixed filters.
    pub fn n_filters(&self) -> usize {
        match self.filters {
            FilterKind::Dog => self.dog.len(),
            FilterKind::Gabor => usize::from(self.gabor_orientations),
        }
    }

    /// The fixed filters in Q16 (`[filter][ky][kx]`), built and checked by the core.
    pub fn filters(&self) -> Result<Vec<i32>, ConfigError> {
        let k = usize::from(self.kernel);
        let mut real = Vec::new();
        let mut tmp = vec![0f64; k * k];
        match self.filters {
            FilterKind::Dog => {
                let norm = match self.dog_norm {
                    DogNormConfig::UnitSum => DogNorm::UnitSum,
                    DogNormConfig::MeanMax => DogNorm::MeanMax,
                };
                for p in &self.dog {
                    filters::dog(k, p[0], p[1], norm, &mut tmp)
                        .map_err(core_err("encoder.dog".into()))?;
                    real.extend_from_slice(&tmp);
                }
            }
            FilterKind::Gabor => {
                let n = self.gabor_orientations as usize;
                for i in 0..n {
                    let g = Gabor {
                        sigma: self.gabor[0],
                        lambda: self.gabor[1],
                        gamma: self.gabor[2],
                        psi: 0.0,
                        theta: std::f64::consts::PI * i as f64 / n as f64,
                    };
                    filters::gabor(k, g, &mut tmp).map_err(core_err("encoder.gabor".into()))?;
                    real.extend_from_slice(&tmp);
                }
            }
        }
        let mut fq = vec![0i32; real.len()];
        filters::quantize(&real, &mut fq).map_err(core_err("encoder".into()))?;
        Ok(fq)
    }
}

impl LayerConfig {
    /// Architecture of layer `i` on input `input`: convolution, pooling and neuron model,
    /// validated by the core.
    pub fn arch(&self, i: usize, input: Shape) -> Result<LayerArch, ConfigError> {
        let conv = ConvGeom::new(
            input,
            self.maps,
            self.kernel,
            self.stride,
            Padding::Explicit(self.pad),
        )
        // The geometry spans several keys of the layer (maps, kernel, stride, pad); the core's
        // message names the one at fault.
        .map_err(core_err(format!("layers[{i}]")))?;
        let pool = match self.pool {
            Some(p) => Some(
                PoolGeom::new(conv.output(), p.kernel, p.stride, p.pad)
                    .map_err(core_err(layer_key(i, "pool")))?,
            ),
            None => None,
        };
        let kind = match self.neuron {
            NeuronConfig::LifSub => NeuronKind::LifSub {
                leak: q::potential_from_f64(self.leak),
            },
            NeuronConfig::LifMul => NeuronKind::LifMul {
                beta: q::weight_from_f64(1.0 - self.leak),
            },
            NeuronConfig::If => NeuronKind::If,
        };
        // Only first spikes are observable (WTA, pooling and features read them alone), so the
        // config offers no fire-once choice.
        let neuron = NeuronParams::new(kind, true).map_err(core_err(layer_key(i, "leak")))?;
        Ok(LayerArch { conv, pool, neuron })
    }

    /// Firing threshold in potential units.
    pub fn threshold_q(&self) -> i32 {
        q::potential_from_f64(self.threshold)
    }

    /// Competition of layer `i`, validated by the core.
    pub fn wta_params(&self, i: usize) -> Result<WtaParams, ConfigError> {
        let mode = match self.wta.mode {
            WtaModeConfig::Global => WtaMode::Global,
            WtaModeConfig::Local => WtaMode::Local,
            WtaModeConfig::Both => WtaMode::Both,
        };
        WtaParams::new(mode, self.wta.k, self.wta.radius, self.wta.pointwise)
            .map_err(core_err(layer_key(i, "wta.k")))
    }

    /// Learning rates of layer `i`, validated by the core.
    pub fn stdp_params(&self, i: usize) -> Result<StdpParams, ConfigError> {
        let rule = match self.stdp.rule {
            StdpRuleConfig::Additive => StdpRule::Additive,
            StdpRuleConfig::Multiplicative => StdpRule::Multiplicative,
        };
        let (ap, am) = (self.stdp.a_plus, self.stdp.a_minus);
        StdpParams::from_f64(rule, ap, am).map_err(|e| {
            // The core checks each rate on its own: the one that fails alone names the key.
            let field = if StdpParams::from_f64(rule, ap, 0.0).is_err() {
                "stdp.a_plus"
            } else {
                "stdp.a_minus"
            };
            core_err(layer_key(i, field))(e)
        })
    }

    /// Adaptive thresholds of layer `i` (if any), validated by the core.
    pub fn adaptive_threshold(&self, i: usize) -> Result<Option<AdaptiveThreshold>, ConfigError> {
        let Some(h) = &self.homeostasis else {
            return Ok(None);
        };
        AdaptiveThreshold::new(
            self.threshold_q(),
            q::potential_from_f64(h.theta_plus),
            decay_from_tau(h.tau),
            self.threshold_q(),
            q::potential_from_f64(h.theta_max),
        )
        .map(Some)
        .map_err(core_err(layer_key(i, "homeostasis")))
    }

    /// Rate-target homeostasis of layer `i` (if any), validated by the core.
    pub fn rate_target_params(&self, i: usize) -> Result<Option<RateTarget>, ConfigError> {
        let Some(r) = &self.rate_target else {
            return Ok(None);
        };
        RateTarget::new(
            q::rate_from_f64(r.lr),
            (r.rate * 65_536.0).round() as u32,
            q::potential_from_f64(r.theta_min),
            q::potential_from_f64(r.theta_max),
        )
        .map(Some)
        .map_err(core_err(layer_key(i, "rate_target")))
    }

    /// Stop rule of the layer (checked by [`TrainConfig::validate`] through the core's
    /// [`StopRule::validate`]).
    pub fn stop_rule(&self) -> StopRule {
        StopRule {
            c_l_eps: self.stop.c_l,
            min_wins: self.stop.min_wins,
            target_ratio: self.stop.target_ratio,
            patience: self.stop.patience,
            max_epochs: self.epochs,
        }
    }

    /// Checks the stop rule of layer `i` with the core.
    fn check_stop_rule(&self, i: usize) -> Result<(), ConfigError> {
        let rule = self.stop_rule();
        rule.validate().map_err(|e| {
            // The core checks each bound on its own: the field that fails alone names the key.
            let pass = StopRule {
                c_l_eps: 0.0,
                target_ratio: 0.0,
                max_epochs: 1,
                ..rule
            };
            let fails = |r: StopRule| r.validate().is_err();
            let field = if fails(StopRule {
                max_epochs: rule.max_epochs,
                ..pass
            }) {
                "epochs"
            } else if fails(StopRule {
                c_l_eps: rule.c_l_eps,
                ..pass
            }) {
                "stop.c_l"
            } else {
                "stop.target_ratio"
            };
            core_err(layer_key(i, field))(e)
        })
    }
}

/// Dotted key of field `f` of layer `i`.
fn layer_key(i: usize, f: &str) -> String {
    format!("layers[{i}].{f}")
}

/// A [`ConfigError::Invalid`] for `key`.
fn invalid(key: String, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.to_string(),
    }
}

/// Wraps a core validation error with the config key it is about; an invalid parameter gives
/// its reason without the generic "invalid parameter" prefix (the key already says that).
fn core_err(key: String) -> impl FnOnce(hebb_core::Error) -> ConfigError {
    move |e| match e {
        hebb_core::Error::InvalidParam(p) => invalid(key, p),
        e => invalid(key, e),
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
    check_budget(
        memory_estimate(net, cfg, n_train),
        &format!("this network needs about {{need}} GiB for {n_train} training images"),
        "use fewer maps, more pooling or less data",
    )
}

/// Refuses work that needs more than the memory budget (`HEBB_MEMORY_LIMIT` bytes, else what the
/// machine has available). `what` may hold `{need}`, replaced by the need in GiB.
pub fn check_budget(need: u128, what: &str, advice: &str) -> anyhow::Result<()> {
    // HEBB_MEMORY_LIMIT (bytes) sets the budget, e.g. to share a machine.
    let have = std::env::var("HEBB_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u128>().ok())
        .or_else(available_memory)
        .unwrap_or(1 << 40);
    if need > have {
        let gib = |b: u128| format!("{:.1}", b as f64 / f64::from(1u32 << 30));
        anyhow::bail!(
            "{} but {} GiB are available: {advice}",
            what.replace("{need}", &gib(need)),
            gib(have)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of `overrides` on the mcu preset.
    fn error(overrides: &str) -> String {
        TrainConfig::from_toml_str(&format!("preset = \"mcu\"\n{overrides}"))
            .expect_err("the config is invalid")
            .to_string()
    }

    #[test]
    fn core_range_errors_name_the_key() {
        // Ranges the core's parameter types check, each reported under its config key.
        for (overrides, want) in [
            (
                "[[layers]]\n[[layers]]\nwta = { k = 0 }",
                "`layers[1].wta.k`: WTA k",
            ),
            (
                "[[layers]]\nstdp = { a_plus = 1.5 }",
                "`layers[0].stdp.a_plus`: STDP rates",
            ),
            (
                "[[layers]]\nstdp = { a_minus = 1.0 }",
                "`layers[0].stdp.a_minus`: STDP rates",
            ),
            (
                "[[layers]]\nthreshold = 0.0",
                "`layers[0].threshold`: thresholds must be > 0",
            ),
            (
                "[[layers]]\n[[layers]]\nepochs = 0",
                "`layers[1].epochs`: stop rule: max_epochs",
            ),
            (
                "[[layers]]\nstop = { target_ratio = 2.0 }",
                "`layers[0].stop.target_ratio`",
            ),
            (
                "[[layers]]\nstride = 0",
                "`layers[0]`: conv stride must be > 0",
            ),
            (
                "[[layers]]\npool = { kernel = 3, stride = 1, pad = 3 }",
                "`layers[0].pool`: pool padding",
            ),
            (
                "[[layers]]\nneuron = \"lif-sub\"\nleak = -1.0",
                "`layers[0].leak`: subtractive leak",
            ),
            (
                "[encoder]\nsteps = 0",
                "`encoder`: encoder: steps must be in 1..=254",
            ),
            ("[encoder]\ndog = [[1.0, 1.0]]", "`encoder.dog`: DoG sigmas"),
        ] {
            let e = error(overrides);
            assert!(e.contains(want), "{overrides:?}: {e}");
        }
    }

    #[test]
    fn host_limits_name_the_key() {
        for (overrides, want) in [
            (
                "[[layers]]\nmaps = 5000",
                "`layers[0].maps`: must be <= 4096",
            ),
            (
                "[[layers]]\nstdp = { a_minus = -0.1 }",
                "`layers[0].stdp.a_minus`: must be >= 0",
            ),
            (
                "[[layers]]\nneuron = \"lif-mul\"\nleak = 2.0",
                "`layers[0].leak`: must be in [0, 1]",
            ),
            (
                "[[layers]]\nstop = { c_l = 0.5 }",
                "`layers[0].stop.c_l`: must be in [0, 0.25]",
            ),
        ] {
            let e = error(overrides);
            assert!(e.contains(want), "{overrides:?}: {e}");
        }
    }

    #[test]
    fn presets_are_valid() {
        for p in PRESETS {
            TrainConfig::preset(p).unwrap();
        }
    }
}
