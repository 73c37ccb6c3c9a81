//! Configuration of the E/I network family: the homeostatic-plasticity trainer's parameters
//! file as it is (`[targets]`, `[simulation]`, `[hyperparameters]`, `[feedforward.*]`,
//! `[recurrent.*]`), plus hebb's `[hebb]` table for the integration and the local rules. Unknown
//! keys are refused by name; so are missing ones and values out of range.

use crate::config::{ConfigError, decode_table, merge, parse_table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of the built-in presets of this family.
pub const PRESETS: &[&str] = &["dp-homeostatic", "dp-homeostatic-small"];

/// The reference network with hebb's local rules.
const DP_HOMEOSTATIC: &str = include_str!("../../../../configs/dp-homeostatic.toml");

/// A number, or one per cell type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerType {
    /// The same for every type.
    One(f64),
    /// One per recurrent cell type, in `[recurrent.cell_types]` order.
    Each(Vec<f64>),
}

impl PerType {
    /// The value of type `t` of `n`.
    pub fn get(&self, t: usize, n: usize) -> Option<f64> {
        match self {
            Self::One(x) => Some(*x),
            Self::Each(v) if v.len() == n => v.get(t).copied(),
            Self::Each(_) => None,
        }
    }
}

/// `[targets]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Target rate (Hz): one for all cells, or one per type.
    pub firing_rates: PerType,
    /// Target ISI CV.
    pub cvs: PerType,
}

/// `[simulation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Step (ms).
    pub dt: f64,
    /// Simulated time of one epoch (ms).
    pub chunk_size: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Epochs.
    pub epochs: u32,
    /// Epochs per optimiser step in the reference; here the divisor of its total loss.
    pub accumulation_interval: u32,
    /// Epochs between figures and numbered checkpoints (the reference's default: 50).
    #[serde(default = "fifty")]
    pub checkpoint_interval: u32,
}

fn fifty() -> u32 {
    50
}

/// `[hyperparameters]` (read for the loss; the gradient keys have no use in local learning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hyper {
    /// Surrogate-gradient scale (unused by local rules).
    pub surrgrad_scale: f64,
    /// CV loss of a cell whose CV does not exist.
    pub cv_high_loss: f64,
    /// Weight of the rate loss in the total.
    pub loss_ratio: f64,
    /// Adam's rate in the reference (unused by local rules).
    pub learning_rate: f64,
}

/// `cell_types`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellTypes {
    /// Type names.
    pub names: Vec<String>,
    /// Fraction of cells of each type.
    pub proportion: Vec<f64>,
}

/// Synapse types of one presynaptic cell type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synapses {
    /// Synapse names (`AMPA`, `NMDA`, `GABA_A`, …).
    pub names: Vec<String>,
    /// Rise time constants (ms).
    pub tau_rise: Vec<f64>,
    /// Decay time constants (ms).
    pub tau_decay: Vec<f64>,
    /// Reversal potentials (mV).
    #[serde(rename = "E_syn")]
    pub e_syn: Vec<f64>,
    /// Peak conductances (nS).
    pub g_bar: Vec<f64>,
}

/// `weights`: lognormal per (source type, target type) with linear-space mean and variance
/// (the reference names it `w_sigma` and uses it as a variance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Linear-space means.
    pub w_mu: Vec<Vec<f64>>,
    /// Linear-space variances.
    pub w_sigma: Vec<Vec<f64>>,
}

/// `[feedforward.topology]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FfTopology {
    /// Input cells.
    pub num_neurons: usize,
    /// Connection probability per (input type, recurrent type).
    pub conn_inputs: Vec<Vec<f64>>,
}

/// `[feedforward.activity.<type>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Poisson rate (Hz).
    pub firing_rate: f64,
}

/// `[feedforward]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedforward {
    /// Input cell types.
    pub cell_types: CellTypes,
    /// Graph.
    pub topology: FfTopology,
    /// Weights.
    pub weights: Weights,
    /// Rates per input type.
    pub activity: BTreeMap<String, Activity>,
    /// Synapses per input type.
    pub synapses: BTreeMap<String, Synapses>,
}

/// `[recurrent.topology]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecTopology {
    /// Cells.
    pub num_neurons: usize,
    /// Equal-size assemblies.
    pub num_assemblies: usize,
    /// Connection probability within an assembly, per (source type, target type).
    pub conn_within: Vec<Vec<f64>>,
    /// Connection probability between assemblies.
    pub conn_between: Vec<Vec<f64>>,
}

/// `[recurrent.physiology.<type>]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Physiology {
    /// Membrane time constant (ms).
    pub tau_mem: f64,
    /// Threshold (mV).
    pub theta: f64,
    /// Reset (mV).
    #[serde(rename = "U_reset")]
    pub u_reset: f64,
    /// Leak reversal (mV).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Leak conductance (nS).
    #[serde(rename = "g_L")]
    pub g_l: f64,
    /// Refractory period (ms).
    pub tau_ref: f64,
}

/// `[recurrent]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurrent {
    /// Cell types.
    pub cell_types: CellTypes,
    /// Graph.
    pub topology: RecTopology,
    /// Weights.
    pub weights: Weights,
    /// Membranes per type.
    pub physiology: BTreeMap<String, Physiology>,
    /// Synapses per presynaptic type.
    pub synapses: BTreeMap<String, Synapses>,
}

/// Inhibitory spike-timing plasticity (Vogels et al. 2011).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IstdpConfig {
    /// Learning rate (weight units per trace unit); 0 turns the rule off.
    pub eta: f64,
    /// Trace time constant (ms).
    #[serde(default = "twenty")]
    pub tau_ms: f64,
    /// Postsynaptic target rate ρ₀ (Hz; default: the first postsynaptic type's target).
    #[serde(default)]
    pub target_hz: Option<f64>,
    /// Largest weight.
    #[serde(default = "wmax")]
    pub w_max: f64,
    /// Presynaptic (inhibitory) types.
    pub pre: Vec<String>,
    /// Postsynaptic types.
    pub post: Vec<String>,
}

fn twenty() -> f64 {
    20.0
}
fn wmax() -> f64 {
    10.0
}

/// Rate homeostasis: the rule's rate per cell type (types left out, or 0, do not change).
pub type RateRule = BTreeMap<String, f64>;

/// `[hebb]`: what the reference file has no keys for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HebbConfig {
    /// `hebb`: exact peak normalisation, refractory period, spikes in the step they happen;
    /// `reference`: the reference trainer's integration and normalisation.
    #[serde(default = "hebb_mode")]
    pub model: String,
    /// Apply the refractory period (default: on in `hebb` mode, off in `reference` mode).
    #[serde(default)]
    pub refractory: Option<bool>,
    /// Per-type rate targets (Hz) that override `[targets] firing_rates`.
    #[serde(default)]
    pub targets: BTreeMap<String, f64>,
    /// Inhibitory plasticity.
    #[serde(default)]
    pub istdp: Option<IstdpConfig>,
    /// Intrinsic plasticity per type (threshold, mV per Hz of error per update).
    #[serde(default)]
    pub threshold: RateRule,
    /// Synaptic scaling of excitatory inputs per type (relative change per relative error per
    /// update).
    #[serde(default)]
    pub scaling: RateRule,
    /// Steps of the rate rules (ms).
    #[serde(default = "hundred")]
    pub homeostasis_interval_ms: f64,
    /// Time constant of the rate estimate (ms).
    #[serde(default = "rate_tau")]
    pub rate_tau_ms: f64,
    /// Simulated seconds of the final measurement (plasticity off).
    #[serde(default = "eval_s")]
    pub eval_seconds: f64,
    /// A mean rate below this (Hz) stops the run as silent.
    #[serde(default = "silent")]
    pub silent_hz: f64,
    /// A mean rate above this (Hz) stops the run as runaway.
    #[serde(default = "runaway")]
    pub runaway_hz: f64,
    /// Write figures every `checkpoint_interval` epochs.
    #[serde(default = "yes")]
    pub figures: bool,
}

fn hebb_mode() -> String {
    "hebb".into()
}
fn hundred() -> f64 {
    100.0
}
fn rate_tau() -> f64 {
    2000.0
}
fn eval_s() -> f64 {
    100.0
}
fn silent() -> f64 {
    0.005
}
fn runaway() -> f64 {
    50.0
}
fn yes() -> bool {
    true
}

impl Default for HebbConfig {
    fn default() -> Self {
        Self {
            model: hebb_mode(),
            refractory: None,
            targets: BTreeMap::new(),
            istdp: None,
            threshold: RateRule::new(),
            scaling: RateRule::new(),
            homeostasis_interval_ms: hundred(),
            rate_tau_ms: rate_tau(),
            eval_seconds: eval_s(),
            silent_hz: silent(),
            runaway_hz: runaway(),
            figures: true,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EiConfig {
    /// The preset this config started from (empty for a reference file).
    #[serde(default)]
    pub preset: String,
    /// `[targets]`.
    pub targets: Targets,
    /// `[simulation]`.
    pub simulation: Simulation,
    /// `[hyperparameters]`.
    pub hyperparameters: Hyper,
    /// `[feedforward]`.
    pub feedforward: Feedforward,
    /// `[recurrent]`.
    pub recurrent: Recurrent,
    /// `[hebb]`.
    #[serde(default)]
    pub hebb: HebbConfig,
}

/// True when a config table belongs to this family: the reference's layout, or a preset of it.
pub fn is_ei_config(table: &toml::Table) -> bool {
    (table.contains_key("recurrent") && table.contains_key("simulation"))
        || matches!(table.get("preset"), Some(toml::Value::String(p)) if PRESETS.contains(&p.as_str()))
}

fn preset_table(name: &str) -> Result<toml::Table, ConfigError> {
    let mut t = parse_table(DP_HOMEOSTATIC)?;
    match name {
        "dp-homeostatic" => {}
        // A tenth of the network (500 cells, 150 inputs) for tests and a quick look.
        "dp-homeostatic-small" => merge(
            &mut t,
            parse_table(
                r#"
[simulation]
chunk_size = 2000.0
epochs = 10
checkpoint_interval = 5
[recurrent.topology]
num_neurons = 500
num_assemblies = 5
[feedforward.topology]
num_neurons = 150
conn_inputs = [[0.2, 0.0]]
[hebb]
eval_seconds = 20.0
"#,
            )?,
        ),
        _ => {
            return Err(ConfigError::UnknownPreset {
                name: name.into(),
                known: PRESETS.join(", "),
            });
        }
    }
    t.insert("preset".into(), toml::Value::String(name.into()));
    Ok(t)
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn prob_matrix(key: &str, m: &[Vec<f64>], rows: usize, cols: usize) -> Result<(), ConfigError> {
    if m.len() != rows || m.iter().any(|r| r.len() != cols) {
        return Err(invalid(key, format!("must be a {rows} × {cols} matrix")));
    }
    if m.iter().flatten().any(|p| !(0.0..=1.0).contains(p)) {
        return Err(invalid(key, "probabilities must be in [0, 1]"));
    }
    Ok(())
}

fn weight_matrices(key: &str, w: &Weights, rows: usize, cols: usize) -> Result<(), ConfigError> {
    for (name, m) in [("w_mu", &w.w_mu), ("w_sigma", &w.w_sigma)] {
        let k = format!("{key}.{name}");
        if m.len() != rows || m.iter().any(|r| r.len() != cols) {
            return Err(invalid(&k, format!("must be a {rows} × {cols} matrix")));
        }
        if m.iter().flatten().any(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(invalid(&k, "values must be finite and >= 0"));
        }
    }
    Ok(())
}

fn synapses(key: &str, s: &Synapses) -> Result<(), ConfigError> {
    let n = s.names.len();
    if n == 0
        || [&s.tau_rise, &s.tau_decay, &s.e_syn, &s.g_bar]
            .iter()
            .any(|v| v.len() != n)
    {
        return Err(invalid(
            key,
            "names, tau_rise, tau_decay, E_syn and g_bar must have one entry per synapse type",
        ));
    }
    for i in 0..n {
        let p = hebb_core::ei::SynapseParams {
            tau_rise: s.tau_rise[i],
            tau_decay: s.tau_decay[i],
            e_syn: s.e_syn[i],
            g_bar: s.g_bar[i],
        };
        p.validate()
            .map_err(|e| invalid(&format!("{key}.{}", s.names[i]), e.to_string()))?;
    }
    Ok(())
}

fn types(key: &str, t: &CellTypes) -> Result<(), ConfigError> {
    if t.names.is_empty() || t.names.len() != t.proportion.len() || t.names.len() > 16 {
        return Err(invalid(
            key,
            "names and proportion must have one entry per type (1 to 16 types)",
        ));
    }
    if t.proportion.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
        return Err(invalid(&format!("{key}.proportion"), "must be >= 0"));
    }
    let sum: f64 = t.proportion.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(invalid(
            &format!("{key}.proportion"),
            format!("must sum to 1 (sums to {sum})"),
        ));
    }
    Ok(())
}

impl EiConfig {
    /// Resolves a preset by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        Self::from_table(preset_table(name)?)
    }

    /// Parses a parameters file; a named `preset` is the base its keys override.
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
        let cfg: Self = decode_table(table)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Recurrent type names.
    pub fn type_names(&self) -> &[String] {
        &self.recurrent.cell_types.names
    }

    /// Index of a recurrent type by name.
    pub fn type_index(&self, key: &str, name: &str) -> Result<u8, ConfigError> {
        self.type_names()
            .iter()
            .position(|n| n == name)
            .map(|i| i as u8)
            .ok_or_else(|| {
                invalid(
                    key,
                    format!(
                        "no cell type `{name}` (types: {})",
                        self.type_names().join(", ")
                    ),
                )
            })
    }

    /// Target rate of type `t` (Hz).
    pub fn target_hz(&self, t: usize) -> f64 {
        let names = self.type_names();
        names
            .get(t)
            .and_then(|n| self.hebb.targets.get(n))
            .copied()
            .or_else(|| self.targets.firing_rates.get(t, names.len()))
            .unwrap_or(0.0)
    }

    /// Target CV of type `t`.
    pub fn target_cv(&self, t: usize) -> f64 {
        self.targets
            .cvs
            .get(t, self.type_names().len())
            .unwrap_or(1.0)
    }

    /// Steps of one epoch.
    pub fn epoch_steps(&self) -> u64 {
        (self.simulation.chunk_size / self.simulation.dt).round() as u64
    }

    /// The reference trainer's integration.
    pub fn reference_mode(&self) -> bool {
        self.hebb.model == "reference"
    }

    /// Checks every value a run depends on, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.simulation;
        if !(s.dt.is_finite() && s.dt > 0.0 && s.dt <= 10.0) {
            return Err(invalid("simulation.dt", "must be in (0, 10] ms"));
        }
        if !(s.chunk_size.is_finite() && s.chunk_size >= s.dt && s.chunk_size <= 3.6e6) {
            return Err(invalid(
                "simulation.chunk_size",
                "must be at least one step and at most an hour",
            ));
        }
        if s.epochs == 0 || s.epochs > 1_000_000 {
            return Err(invalid("simulation.epochs", "must be in 1..=1000000"));
        }
        if s.accumulation_interval == 0 {
            return Err(invalid("simulation.accumulation_interval", "must be >= 1"));
        }
        if s.checkpoint_interval == 0 {
            return Err(invalid("simulation.checkpoint_interval", "must be >= 1"));
        }
        let h = &self.hyperparameters;
        if !(0.0..=1.0).contains(&h.loss_ratio) {
            return Err(invalid("hyperparameters.loss_ratio", "must be in [0, 1]"));
        }
        if !(h.cv_high_loss.is_finite()) {
            return Err(invalid("hyperparameters.cv_high_loss", "must be finite"));
        }
        let r = &self.recurrent;
        types("recurrent.cell_types", &r.cell_types)?;
        let nt = r.cell_types.names.len();
        let top = &r.topology;
        if top.num_neurons == 0 || top.num_neurons > 200_000 {
            return Err(invalid(
                "recurrent.topology.num_neurons",
                "must be in 1..=200000",
            ));
        }
        if top.num_assemblies == 0 || top.num_assemblies > top.num_neurons {
            return Err(invalid(
                "recurrent.topology.num_assemblies",
                "must be in 1..=num_neurons",
            ));
        }
        prob_matrix("recurrent.topology.conn_within", &top.conn_within, nt, nt)?;
        prob_matrix("recurrent.topology.conn_between", &top.conn_between, nt, nt)?;
        weight_matrices("recurrent.weights", &r.weights, nt, nt)?;
        for name in &r.cell_types.names {
            let p = r.physiology.get(name).ok_or_else(|| {
                invalid(
                    &format!("recurrent.physiology.{name}"),
                    "missing for a cell type",
                )
            })?;
            hebb_core::ei::CellParams {
                tau_mem: p.tau_mem,
                theta: p.theta,
                u_reset: p.u_reset,
                e_l: p.e_l,
                g_l: p.g_l,
                tau_ref: p.tau_ref,
            }
            .validate()
            .map_err(|e| invalid(&format!("recurrent.physiology.{name}"), e.to_string()))?;
            let key = format!("recurrent.synapses.{name}");
            synapses(
                &key,
                r.synapses
                    .get(name)
                    .ok_or_else(|| invalid(&key, "missing for a cell type"))?,
            )?;
        }
        for k in r.physiology.keys().chain(r.synapses.keys()) {
            if !r.cell_types.names.contains(k) {
                return Err(invalid(
                    &format!("recurrent.*.{k}"),
                    "names no recurrent cell type",
                ));
            }
        }
        let f = &self.feedforward;
        types("feedforward.cell_types", &f.cell_types)?;
        let nf = f.cell_types.names.len();
        if f.topology.num_neurons > 1_000_000 {
            return Err(invalid(
                "feedforward.topology.num_neurons",
                "must be at most 1000000",
            ));
        }
        prob_matrix(
            "feedforward.topology.conn_inputs",
            &f.topology.conn_inputs,
            nf,
            nt,
        )?;
        weight_matrices("feedforward.weights", &f.weights, nf, nt)?;
        for name in &f.cell_types.names {
            let key = format!("feedforward.activity.{name}");
            let a = f
                .activity
                .get(name)
                .ok_or_else(|| invalid(&key, "missing for an input type"))?;
            if !(a.firing_rate.is_finite()
                && a.firing_rate >= 0.0
                && a.firing_rate * s.dt <= 1000.0)
            {
                return Err(invalid(
                    &format!("{key}.firing_rate"),
                    "must be >= 0 and at most one spike per step",
                ));
            }
            let key = format!("feedforward.synapses.{name}");
            synapses(
                &key,
                f.synapses
                    .get(name)
                    .ok_or_else(|| invalid(&key, "missing for an input type"))?,
            )?;
        }
        for k in f.activity.keys().chain(f.synapses.keys()) {
            if !f.cell_types.names.contains(k) {
                return Err(invalid(
                    &format!("feedforward.*.{k}"),
                    "names no input cell type",
                ));
            }
        }
        for t in 0..nt {
            if self.targets.firing_rates.get(t, nt).is_none()
                || self.targets.cvs.get(t, nt).is_none()
            {
                return Err(invalid(
                    "targets",
                    format!("firing_rates and cvs must be one number or {nt} numbers"),
                ));
            }
            if !(self.target_hz(t).is_finite() && self.target_hz(t) >= 0.0) {
                return Err(invalid("targets.firing_rates", "must be >= 0"));
            }
        }
        let hb = &self.hebb;
        if hb.model != "hebb" && hb.model != "reference" {
            return Err(invalid("hebb.model", "must be `hebb` or `reference`"));
        }
        for k in hb.targets.keys() {
            self.type_index("hebb.targets", k)?;
        }
        if let Some(i) = &hb.istdp {
            for t in i.pre.iter().chain(&i.post) {
                self.type_index("hebb.istdp", t)?;
            }
            if !(i.eta.is_finite() && i.eta >= 0.0) {
                return Err(invalid("hebb.istdp.eta", "must be >= 0"));
            }
            if !(i.tau_ms.is_finite() && i.tau_ms > 0.0 && i.w_max.is_finite() && i.w_max > 0.0) {
                return Err(invalid("hebb.istdp", "tau_ms and w_max must be > 0"));
            }
        }
        for (key, rule) in [
            ("hebb.threshold", &hb.threshold),
            ("hebb.scaling", &hb.scaling),
        ] {
            for (t, eta) in rule {
                self.type_index(key, t)?;
                if !(eta.is_finite() && *eta >= 0.0) {
                    return Err(invalid(&format!("{key}.{t}"), "must be >= 0"));
                }
            }
        }
        if !(hb.homeostasis_interval_ms >= s.dt && hb.homeostasis_interval_ms.is_finite()) {
            return Err(invalid(
                "hebb.homeostasis_interval_ms",
                "must be at least one step",
            ));
        }
        if !(hb.rate_tau_ms.is_finite() && hb.rate_tau_ms > 0.0) {
            return Err(invalid("hebb.rate_tau_ms", "must be > 0"));
        }
        if !(hb.eval_seconds.is_finite() && (0.0..=100_000.0).contains(&hb.eval_seconds)) {
            return Err(invalid("hebb.eval_seconds", "must be in [0, 100000]"));
        }
        if !(hb.silent_hz >= 0.0 && hb.runaway_hz > hb.silent_hz) {
            return Err(invalid(
                "hebb.runaway_hz",
                "must be above hebb.silent_hz (>= 0)",
            ));
        }
        Ok(())
    }

    /// Bytes a run holds at its peak: synapses (with a checkpoint's encoding) and the state.
    pub fn memory_estimate(&self) -> u128 {
        let r = &self.recurrent.topology;
        let n = r.num_neurons as u128;
        let p = self
            .recurrent
            .topology
            .conn_within
            .iter()
            .flatten()
            .chain(self.recurrent.topology.conn_between.iter().flatten())
            .fold(0.0f64, |a, &b| a.max(b));
        let syn = (n as f64 * n as f64 * p.min(1.0)) as u128
            + self.feedforward.topology.num_neurons as u128 * n;
        3 * 16 * syn + 64 * n + (16 << 20)
    }
}
