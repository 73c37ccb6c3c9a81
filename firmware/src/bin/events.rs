//! SpikeSEG's event pipeline on the device (`events.bin`): hot-pixel and background-activity
//! filters over an event stream in flash, windows, voxel grids, the event encoder, every layer
//! time-stepped and the decoder's mask of every window; exit 0 only when every result equals
//! the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
// The event modules (firmware/src/events/, and the local rules' instruction statistics) are
// compiled into this binary only, not into the library, so that the other binaries stay byte
// for byte what they were; they name the library's modules `crate::fixture`, `crate::rt` and
// `crate::sizes`.
use hebb_firmware::{fixture, rt, sizes};

#[path = "../events"]
mod events {
    // Shared with build.rs: not every reader is used by every binary.
    #[allow(dead_code)]
    pub mod files;
    pub mod run;
    #[path = "../local/stat.rs"]
    pub mod stat;
}

/// Keeps the fixture 4-aligned in flash.
#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

static EVENTS: &Aligned<[u8]> = &Aligned(*include_bytes!("../../events.bin"));

#[entry]
fn main() -> ! {
    events::run::run(&EVENTS.0)
}
