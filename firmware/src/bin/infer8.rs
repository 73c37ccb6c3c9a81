//! Classifies the test digits of `samples8.bin` with `model8.hebb`, the 8-bit export (Q0.8
//! layer weights, `i8` readout) of the same model; exit 0 only when every prediction and feature
//! checksum equals the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static MODEL: &[u8] = include_bytes!("../../model8.hebb");
static SAMPLES: &[u8] = include_bytes!("../../samples8.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::infer::run("infer8", MODEL, SAMPLES)
}
