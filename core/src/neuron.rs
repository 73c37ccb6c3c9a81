//! Neuron model of a layer: membrane dynamics, fire-once, and the per-map thresholds.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Membrane dynamics. Every model spikes when `V ≥ θ` and resets to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NeuronKind {
    /// Integrate-and-fire: `V ← V + I` (no leak, no clamp).
    If,
    /// Leaky, subtractive: `V ← max(0, V + I − λ)`, `λ` in potential units.
    LifSub {
        /// Leak per step.
        leak: i32,
    },
    /// Leaky, multiplicative: `V ← max(0, ⌊β·V⌋ + I)`, `β` in Q0.16.
    LifMul {
        /// Decay factor per step.
        beta: u16,
    },
}

/// Neuron model as plain data, before validation: the wire form of [`NeuronParams`] (same
/// fields, same order). Turn it into [`NeuronParams`] with `NeuronParams::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeuronParamsRaw {
    /// Dynamics.
    pub kind: NeuronKind,
    /// A neuron that fired cannot fire again within the sample.
    pub fire_once: bool,
}

/// Neuron model of a layer.
///
/// Valid by construction: built by [`new`](Self::new) or `try_from` a [`NeuronParamsRaw`]
/// (which deserialisation goes through), read with the getters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NeuronParamsRaw")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeuronParams {
    kind: NeuronKind,
    fire_once: bool,
}

impl NeuronParams {
    /// Validates and builds a neuron model (a subtractive leak must be `>= 0`); with
    /// `fire_once` a neuron that fired cannot fire again within the sample.
    pub fn new(kind: NeuronKind, fire_once: bool) -> Result<Self> {
        Self::try_from(NeuronParamsRaw { kind, fire_once })
    }
    /// Dynamics.
    pub const fn kind(&self) -> NeuronKind {
        self.kind
    }
    /// A neuron that fired cannot fire again within the sample.
    pub const fn fire_once(&self) -> bool {
        self.fire_once
    }
    /// One time-free pass gives the exact spiking set (no leak: potentials only grow until the
    /// first spike, so a neuron spikes at some step iff its final sum reaches threshold).
    pub const fn time_free(&self) -> bool {
        matches!(self.kind, NeuronKind::If)
    }
}

impl TryFrom<NeuronParamsRaw> for NeuronParams {
    type Error = Error;

    fn try_from(r: NeuronParamsRaw) -> Result<Self> {
        match r.kind {
            NeuronKind::LifSub { leak } if leak < 0 => {
                Err(Error::InvalidParam("subtractive leak must be >= 0"))
            }
            kind => Ok(Self {
                kind,
                fire_once: r.fire_once,
            }),
        }
    }
}

impl From<NeuronParams> for NeuronParamsRaw {
    fn from(p: NeuronParams) -> Self {
        Self {
            kind: p.kind,
            fire_once: p.fire_once,
        }
    }
}

/// Checks per-map thresholds: one per map, all positive.
pub fn validate_thresholds(theta: &[i32], maps: usize) -> Result<()> {
    if theta.len() != maps {
        return Err(Error::ShapeMismatch("one threshold per map"));
    }
    if theta.iter().any(|&t| t <= 0) {
        return Err(Error::InvalidParam("thresholds must be > 0"));
    }
    Ok(())
}
