//! The Diehl & Cook 2015 network on the device (`diehl.bin`): inference of a trained network
//! with its weights read in place from flash, label assignment from its responses, and
//! learning of a small network in RAM; exit 0 only when every result equals the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
// The Diehl & Cook modules (firmware/src/diehl/, and the local rules' instruction statistics)
// are compiled into this binary only, not into the library, so that the other binaries stay
// byte for byte what they were; they name the library's modules `crate::fixture`, `crate::rt`
// and `crate::sizes`.
use hebb_firmware::{fixture, rt, sizes};

#[path = "../diehl"]
mod diehl {
    // Shared with build.rs: not every reader is used by every binary.
    #[allow(dead_code)]
    pub mod files;
    pub mod run;
    #[path = "../local/stat.rs"]
    pub mod stat;
}

/// Keeps the fixture 4-aligned in flash, so the weights are read in place as `i32`s.
#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

static DIEHL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../diehl.bin"));

#[entry]
fn main() -> ! {
    diehl::run::run(&DIEHL.0)
}
