#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No value a caller can construct makes a core function panic: parameter types are valid by
// construction, caller buffers are cut to the length an operation needs (an error otherwise) and
// read through `get`, and sizes computed from caller numbers use checked arithmetic. These lints
// keep it so. The fixed-width block loops of the weight-row additions (`weights::add_blocks!`) and of
// the encoder's multiply-add index fixed-size arrays with a loop bound equal to their length (the
// checks compile away, and an iterator over the pair did not vectorise): they carry a local
// `allow` with that reason. Left out: `clippy::arithmetic_side_effects` (it would flag every `+`
// of the kernels; index arithmetic is bounded by the validated geometry instead, and sizes from
// caller numbers use checked arithmetic), and panics clippy has no lint for (`chunks_exact(0)`,
// `copy_from_slice` of unequal lengths, `step_by(0)`): those calls get lengths that are non-zero
// or equal by construction.
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod fmt;

pub mod assign;
pub mod conv;
pub mod convergence;
pub mod decode;
pub mod diehl_cook;
#[cfg(feature = "alloc")]
pub mod ei;
pub mod encode;
pub mod error;
pub mod events;
pub mod filters;
pub mod frame;
pub mod geometry;
pub mod homeostasis;
pub mod layer;
pub mod local;
pub mod model;
pub mod network;
pub mod neuron;
pub mod plasticity;
pub mod poisson;
pub mod pool;
pub mod q;
pub mod readout;
pub mod rng;
pub mod rule;
pub mod schedule;
pub mod spikes;
pub mod stdp;
pub mod training;
pub mod weights;
pub mod wta;

pub use error::{Error, Result};
/// Re-exported so users build models with the same `heapless` the core uses.
pub use heapless;
