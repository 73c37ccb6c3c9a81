#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
//! hebb: the host side of the hebb spiking engine.
pub mod backend;
pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod detect;
pub mod family;
pub mod firmware;
pub mod io;
pub mod log;
pub mod net;
pub mod plot;
pub mod readout;
pub mod run;
pub mod tensorboard;
