//! On-device STDP on the layer, start weights and samples of `learn.bin`; prints the winners and
//! the CRC-32 of the weights after every sample; exit 0 only when they equal the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static LEARN: &[u8] = include_bytes!("../../learn.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::learn::run(LEARN)
}
