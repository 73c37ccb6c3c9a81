//! The family's file: the network (graph, weights, thresholds, gains), its state, and, in a
//! checkpoint, everything an exact resume needs (traces, rate estimates, the input generator,
//! the epoch's spikes so far). Framed and CRC-checked like every family file.

use super::build::Layout;
use anyhow::{Result, bail};
use hebb_core::ei::{Csr, State, plasticity::Rates, plasticity::Traces};
use hebb_core::frame::FAMILY_EI_NETWORK;
use hebb_core::rng::Rng;
use serde::{Deserialize, Serialize};

/// Synapses by presynaptic cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsrFile {
    /// Row starts.
    pub start: Vec<u32>,
    /// Targets.
    pub target: Vec<u32>,
    /// Weights.
    pub w: Vec<f32>,
}

impl From<&Csr> for CsrFile {
    fn from(c: &Csr) -> Self {
        Self {
            start: c.start.clone(),
            target: c.target.clone(),
            w: c.w.clone(),
        }
    }
}

impl From<CsrFile> for Csr {
    fn from(c: CsrFile) -> Self {
        Csr {
            start: c.start,
            target: c.target,
            w: c.w,
        }
    }
}

/// The network's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// Potentials.
    pub v: Vec<f32>,
    /// Thresholds.
    pub theta: Vec<f32>,
    /// Refractory steps left.
    pub refr: Vec<u16>,
    /// Rise components.
    pub rise: Vec<f32>,
    /// Decay components.
    pub decay: Vec<f32>,
    /// Pending jumps.
    pub jump: Vec<f32>,
    /// Excitatory gains.
    pub gain: Vec<f32>,
    /// Last step's spikes.
    pub fired: Vec<u32>,
    /// Steps taken.
    pub step: u64,
}

impl From<&State> for StateFile {
    fn from(s: &State) -> Self {
        Self {
            v: s.v.clone(),
            theta: s.theta.clone(),
            refr: s.refr.clone(),
            rise: s.rise.clone(),
            decay: s.decay.clone(),
            jump: s.jump.clone(),
            gain: s.gain.clone(),
            fired: s.fired.clone(),
            step: s.step,
        }
    }
}

impl From<StateFile> for State {
    fn from(s: StateFile) -> Self {
        State {
            v: s.v,
            theta: s.theta,
            refr: s.refr,
            rise: s.rise,
            decay: s.decay,
            jump: s.jump,
            gain: s.gain,
            fired: s.fired,
            step: s.step,
        }
    }
}

/// What a checkpoint adds to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// Trace values and last-spike steps.
    pub traces: (Vec<f32>, Vec<u64>),
    /// Rate-estimate counts and rates.
    pub rates: (Vec<u32>, Vec<f32>),
    /// The epoch's input generator: next spike steps and PRNG.
    pub input: (Vec<u64>, Rng),
    /// The trainer's own state.
    pub train: super::TrainState,
}

/// A model or checkpoint file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// The resolved config (TOML).
    pub config: String,
    /// Cell types.
    pub cell_type: Vec<u8>,
    /// Assemblies.
    pub assembly: Vec<u16>,
    /// Input cell types.
    pub ff_type: Vec<u8>,
    /// Recurrent synapses.
    pub rec: CsrFile,
    /// Input synapses.
    pub ff: CsrFile,
    /// The network's state.
    pub state: StateFile,
    /// Present in checkpoints.
    pub resume: Option<Resume>,
}

impl ModelFile {
    /// Encodes the file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::family::frame::seal(FAMILY_EI_NETWORK, self)
    }

    /// Decodes and checks a file: lengths agree with each other (the model checks the rest).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let f: Self = crate::family::frame::open(FAMILY_EI_NETWORK, bytes)?;
        let n = f.cell_type.len();
        if f.assembly.len() != n || f.state.v.len() != n {
            bail!(
                "model: cell tables disagree ({n} cell types, {} potentials)",
                f.state.v.len()
            );
        }
        if let Some(r) = &f.resume {
            if r.traces.0.len() != n || r.traces.1.len() != n {
                bail!("checkpoint: traces do not match {n} cells");
            }
            if r.rates.0.len() != n || r.rates.1.len() != n {
                bail!("checkpoint: rate estimates do not match {n} cells");
            }
            if r.input.0.len() != f.ff_type.len() {
                bail!(
                    "checkpoint: input generator does not match {} input cells",
                    f.ff_type.len()
                );
            }
        }
        Ok(f)
    }

    /// The layout part.
    pub fn layout(&self) -> Layout {
        Layout {
            cell_type: self.cell_type.clone(),
            assembly: self.assembly.clone(),
            ff_type: self.ff_type.clone(),
        }
    }
}

/// Traces as stored.
pub fn traces_file(t: &Traces) -> (Vec<f32>, Vec<u64>) {
    (t.x.clone(), t.last.clone())
}

/// Rate estimates as stored.
pub fn rates_file(r: &Rates) -> (Vec<u32>, Vec<f32>) {
    (r.count.clone(), r.rate.clone())
}
