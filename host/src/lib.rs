#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
//! hebb: the host side of the hebb spiking engine.
pub mod backend;
pub mod config;
pub mod data;
pub mod io;
pub mod net;
pub mod plot;
pub mod tensorboard;
