//! Hopfield memory on the device: stores the patterns of `hopfield.bin` (Hebbian, exact
//! integers), checks the weights against the host's, recalls every cue; exit 0 only when the
//! weights and every recall (sweeps, end, state CRC, overlap, energy) equal the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
// The local-rule modules (firmware/src/local/) are compiled into their binaries only, not into
// the library, so that the other binaries stay byte for byte what they were; they name the
// library's modules `crate::fixture`, `crate::rt` and `crate::sizes`.
use hebb_firmware::{fixture, rt, sizes};

#[path = "../local"]
mod local {
    // Shared with build.rs: not every reader is used by every binary.
    #[allow(dead_code)]
    pub mod files;
    pub mod hopfield;
    pub mod stat;
}

static HOPFIELD: &[u8] = include_bytes!("../../hopfield.bin");

#[entry]
fn main() -> ! {
    local::hopfield::run(HOPFIELD)
}
