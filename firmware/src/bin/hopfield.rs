//! Hopfield memory on the device: stores the patterns of `hopfield.bin` (Hebbian, exact
//! integers), checks the weights against the host's, recalls every cue; exit 0 only when the
//! weights and every recall (sweeps, end, state CRC, overlap, energy) equal the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static HOPFIELD: &[u8] = include_bytes!("../../hopfield.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::hopfield::run(HOPFIELD)
}
