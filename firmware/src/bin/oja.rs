//! On-device Oja learning on the Gaussian stream of `oja.bin` (Q5.26, 1/t rate schedule);
//! exit 0 only when the weight CRC at every checkpoint and at the end equals the host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static OJA: &[u8] = include_bytes!("../../oja.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::rate::run("oja", OJA)
}
