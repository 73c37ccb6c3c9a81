//! The Diehl & Cook 2015 network as its authors coded it: Poisson inputs, conductance-based
//! excitatory LIF neurons with adaptive thresholds, one-to-one excitation of an inhibitory
//! population that inhibits every other excitatory neuron, the coded trace STDP (a pre trace
//! and two post traces), per-digit weight normalisation and low-activity re-presentation. Labels
//! come from [`crate::assign`].
//!
//! Formats: potentials, thresholds and inhibitory conductances in Q16.16 mV; weights, traces
//! and excitatory conductances in Q8.24; decays and `dt/τ` in Q0.32. Deterministic where the
//! authors' code is random, and where it differs from it:
//! * no synaptic delays (theirs are uniform in 0–10 ms); input spikes arrive in the step they
//!   are drawn, excitatory and inhibitory spikes the step after;
//! * inputs are Bernoulli per step (`p = pixel · intensity / 8 Hz · dt`) from a seeded PRNG;
//! * the threshold's 20 mV offset and θ's 20 mV start cancel: θ starts at 0;
//! * θ's decay (τ = 10⁷ ms) is applied once per presentation in closed form;
//! * refractoriness is the 5 ms clamp (the script's `timer` variable is not modelled);
//! * intensity stops rising at `max_intensity` (a blank image would loop forever otherwise).
//!
//! Work per step is event-driven: input spikes cost a row each, traces are table lookups by
//! the age of the last spike, depression touches only neurons with a live trace.

pub mod network;
pub mod params;

pub use network::{
    Net, Outcome, Scratch, State, Tables, Weights, normalize, present, sample, step, trace_table,
};
pub use params::{Params, ParamsRaw, Physical, PhysicalNeurons, V_FRAC, W_FRAC, W_ONE};
