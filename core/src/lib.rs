#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod fmt;

pub mod conv;
pub mod convergence;
pub mod encode;
pub mod error;
pub mod filters;
pub mod frame;
pub mod geometry;
pub mod homeostasis;
pub mod layer;
pub mod model;
pub mod network;
pub mod pool;
pub mod q;
pub mod readout;
pub mod rng;
pub mod rule;
pub mod spikes;
pub mod stdp;
pub mod training;
pub mod wta;

pub use error::{Error, Result};
/// Re-exported so users build models with the same `heapless` the core uses.
pub use heapless;
