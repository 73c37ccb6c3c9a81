//! On-device Oja learning on the Gaussian stream of `oja.bin` (Q5.26, 1/t rate schedule);
//! exit 0 only when the weight CRC at every checkpoint and at the end equals the host's.
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
    pub mod rate;
    pub mod stat;
}

static OJA: &[u8] = include_bytes!("../../oja.bin");

#[entry]
fn main() -> ! {
    local::rate::run("oja", OJA)
}
