//! Configuration of the Diehl & Cook family: network size, data, training length, the
//! initial weights and the authors' physical constants (`[physical]`, any subset of
//! [`Physical`]'s keys over its defaults, which are the authors' script).

use crate::config::{ConfigError, decode_table, merge, resolve_preset, with_preset};
use hebb_core::diehl_cook::{Params, Physical};
use serde::{Deserialize, Serialize};

/// Names of the built-in presets of this family.
pub const PRESETS: &[&str] = &[
    "diehl2015",
    "diehl2015-inh40",
    "diehl2015-400",
    "diehl2015-1600",
    "diehl2015-6400",
];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiehlCookConfig {
    /// Always `diehl-cook`.
    pub family: String,
    /// The preset this config started from.
    #[serde(default)]
    pub preset: String,
    /// Seed of everything random (initial weights, sample order, Poisson inputs).
    pub seed: u64,
    /// Excitatory (and inhibitory) neurons.
    pub neurons: usize,
    /// The data set (`mnist`: the embedded digits; `fashion-mnist`; an IDX folder).
    #[serde(default = "mnist")]
    pub data: String,
    /// Passes over the training digits.
    #[serde(default = "one")]
    pub epochs: u32,
    /// Training digits used (0: all of the data set's).
    #[serde(default)]
    pub train_samples: usize,
    /// Test digits used (0: all).
    #[serde(default)]
    pub test_samples: usize,
    /// Digits per block of the running assignment (the learning curve): each block is scored
    /// with the assignments of the blocks before it, as BindsNET's example does.
    #[serde(default = "block")]
    pub block: usize,
    /// Shuffle the training digits every epoch (else the data set's order).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Initial weights `scale · (U(0, 1) + offset)`.
    #[serde(default)]
    pub init: InitConfig,
    /// The authors' constants in physical units.
    #[serde(default)]
    pub physical: Physical,
}

/// Initial input weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// Scale (the script's 0.3).
    pub scale: f64,
    /// Offset added to the uniform draw (the script's 0.01).
    pub offset: f64,
}

impl Default for InitConfig {
    fn default() -> Self {
        Self {
            scale: 0.3,
            offset: 0.01,
        }
    }
}

fn mnist() -> String {
    "mnist".into()
}
fn one() -> u32 {
    1
}
fn block() -> usize {
    250
}
fn yes() -> bool {
    true
}

/// True when a config table belongs to this family.
pub fn is_diehl_cook_config(table: &toml::Table) -> bool {
    match (table.get("family"), table.get("preset")) {
        (Some(toml::Value::String(f)), _) => f == "diehl-cook",
        (None, Some(toml::Value::String(p))) => PRESETS.contains(&p.as_str()),
        _ => false,
    }
}

fn preset_toml(name: &str) -> Option<&'static str> {
    Some(match name {
        // The authors' network with 100 excitatory neurons, one epoch over the data set.
        "diehl2015" => {
            r#"
family = "diehl-cook"
preset = "diehl2015"
seed = 42
neurons = 100
epochs = 1
"#
        }
        // Stronger inhibition (w_ie 40 instead of 17): a harder winner-take-all, which a short
        // epoch of the embedded digits needs (BENCHMARKS.md: +5 points at N = 100).
        "diehl2015-inh40" => {
            r#"
extends = "diehl2015"
preset = "diehl2015-inh40"
[physical]
w_ie = 40.0
"#
        }
        "diehl2015-400" => {
            r#"
extends = "diehl2015"
preset = "diehl2015-400"
neurons = 400
"#
        }
        "diehl2015-1600" => {
            r#"
extends = "diehl2015"
preset = "diehl2015-1600"
neurons = 1600
"#
        }
        "diehl2015-6400" => {
            r#"
extends = "diehl2015"
preset = "diehl2015-6400"
neurons = 6400
"#
        }
        _ => return None,
    })
}

/// The physical defaults as a table, so a config's `[physical]` may name only what it changes.
fn physical_defaults() -> toml::Table {
    toml::Table::try_from(Physical::default()).unwrap_or_default()
}

fn preset_table(name: &str) -> Result<toml::Table, ConfigError> {
    resolve_preset(name, preset_toml, merge, PRESETS)
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl DiehlCookConfig {
    /// Resolves a preset by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        Self::from_table(preset_table(name)?)
    }

    /// Parses a config text; a named `preset` is the base its keys override.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(with_preset(text, preset_table, merge)?)
    }

    fn from_table(mut table: toml::Table) -> Result<Self, ConfigError> {
        let mut phys = physical_defaults();
        if let Some(p) = table.remove("physical") {
            let toml::Value::Table(p) = p else {
                return Err(ConfigError::Parse("`physical` must be a table".into()));
            };
            merge(&mut phys, p);
        }
        table.insert("physical".into(), toml::Value::Table(phys));
        let cfg: Self = decode_table(table)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The integer constants of the network.
    pub fn params(&self) -> Result<Params, ConfigError> {
        Params::from_physical(&self.physical)
            .map_err(|e| invalid("physical", format!("{e} (the constants do not fit)")))
    }

    /// Checks every value a run depends on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.family != "diehl-cook" {
            return Err(invalid("family", "must be `diehl-cook`"));
        }
        if !(1..=65_535).contains(&self.neurons) {
            return Err(invalid("neurons", "must be in 1..=65535"));
        }
        if self.data.is_empty() || self.data.starts_with("events:") {
            return Err(invalid("data", "must name an image data set"));
        }
        if self.epochs == 0 || self.epochs > 1000 {
            return Err(invalid("epochs", "must be in 1..=1000"));
        }
        if self.block == 0 || self.block > 1_000_000 {
            return Err(invalid("block", "must be in 1..=1000000"));
        }
        let InitConfig { scale, offset } = self.init;
        if !(scale.is_finite() && scale >= 0.0 && offset.is_finite() && offset >= 0.0) {
            return Err(invalid("init", "scale and offset must be finite and >= 0"));
        }
        if scale * (1.0 + offset) > self.physical.w_max {
            return Err(invalid(
                "init",
                format!(
                    "initial weights reach {:.3}, above physical.w_max {}",
                    scale * (1.0 + offset),
                    self.physical.w_max
                ),
            ));
        }
        self.params()?;
        Ok(())
    }

    /// Bytes a run holds at its peak besides the data: weights (and a checkpoint's encoding),
    /// per-thread inference state and the response tables.
    pub fn memory_estimate(&self) -> u128 {
        let n = self.neurons as u128;
        let threads = rayon::current_num_threads() as u128;
        3 * 4 * 784 * n + threads * (64 * n + 8 * 784) + 2 * 4 * 10 * n + (8 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_sized() {
        for (p, n) in PRESETS.iter().zip([100, 100, 400, 1600, 6400]) {
            let c = DiehlCookConfig::preset(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(c.neurons, n);
            assert_eq!(&c.preset, p);
            if *p == "diehl2015-inh40" {
                assert_eq!(c.physical.w_ie, 40.0);
                assert_eq!(c.physical.w_ei, Physical::default().w_ei);
            } else {
                assert_eq!(c.physical, Physical::default());
            }
        }
    }

    #[test]
    fn physical_overrides_merge_over_the_defaults() {
        let c = DiehlCookConfig::from_toml_str(
            "preset = \"diehl2015\"\n[physical]\ntheta_plus = 0.1\n[physical.exc]\ntau_ms = 50.0\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.physical.theta_plus, 0.1);
        assert_eq!(c.physical.exc.tau_ms, 50.0);
        assert_eq!(c.physical.exc.v_rest, -65.0);
        assert_eq!(c.physical.nu_post, 1e-2);
        // The written config reads back as itself.
        let again = DiehlCookConfig::from_toml_str(&c.to_toml()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, c);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("neurons = 0", "neurons"),
            ("epochs = 0", "epochs"),
            ("block = 0", "block"),
            ("[init]\nscale = 2.0\noffset = 0.0", "init"),
            ("[physical]\ndt_ms = 0.0", "physical"),
        ] {
            let e = DiehlCookConfig::from_toml_str(&format!("preset = \"diehl2015\"\n{text}"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = DiehlCookConfig::from_toml_str("preset = \"diehl2015\"\nneuron = 5")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("neuron"), "{e}");
    }
}
