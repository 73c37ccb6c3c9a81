//! hebb: the host side of the hebb spiking engine.
pub mod data;
pub mod io;
pub mod plot;
pub mod tensorboard;
