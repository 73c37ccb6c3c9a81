//! A conductance-based E/I network of leaky integrate-and-fire cells (the dorsal-pallium model of
//! the homeostatic-plasticity trainer) and the local homeostatic rules that set its rates.
//!
//! Arithmetic: `f32` state, updated in a fixed order on one thread, so a run is the same bits
//! on every machine and after a resume. Per step of `dt` (default 0.5 ms):
//! 1. the spikes of the step before (recurrent) and this step's input spikes add their jumps,
//!    `A_k · w`, to each target's rise (−) and decay (+) conductance components;
//! 2. every channel decays exactly (`e^{−dt/τ}`) — jumps first, so a spike's conductance is
//!    the difference of exponentials sampled one step after it, normalised to peak `ḡ` —
//!    and the net conductance `g_k = r_k + d_k` is read;
//! 3. the membrane takes an exact leak and a forward-Euler synaptic current,
//!    `v ← E_L + (v − E_L)e^{−dt/τ_m} − dt/C_m · Σ_k g_k (v − E_k)`; a cell at or above its
//!    threshold spikes, resets and stays at reset for its refractory period.
//!
//! [`Model::reference`] switches to the reference trainer's choices instead: spikes detected from
//! the potential of the step before (one step late), conductances read before the jump, no
//! refractory period, and its peak normalisation (see [`params::PeakNorm`]).
//!
//! Synapses are stored by presynaptic cell ([`graph::Csr`]), so a spike costs its out-degree.
//! Input spikes are Poisson trains drawn as geometric inter-spike gaps ([`input`]), which is the
//! same process as one Bernoulli draw per step at a cost per spike, not per step.

pub mod graph;
pub mod input;
pub mod net;
pub mod params;
pub mod plasticity;
pub mod stats;

pub use graph::Csr;
pub use input::Poisson;
pub use net::{Model, Scratch, State, step};
pub use params::{CellParams, PeakNorm, SynapseParams};
