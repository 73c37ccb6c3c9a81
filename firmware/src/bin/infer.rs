//! Classifies the test digits of `samples.bin` with the 16-bit model `model.hebb`, both embedded
//! in flash; exit 0 only when every prediction and feature checksum equals the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static MODEL: &[u8] = include_bytes!("../../model.hebb");
static SAMPLES: &[u8] = include_bytes!("../../samples.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::infer::run("infer", MODEL, SAMPLES)
}
