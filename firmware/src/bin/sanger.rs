//! On-device Sanger (GHA) learning on the Gaussian stream of `sanger.bin` (Q5.26, 1/t rate
//! schedule); exit 0 only when the weight CRC at every checkpoint and at the end equals the
//! host's.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static SANGER: &[u8] = include_bytes!("../../sanger.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::rate::run("sanger", SANGER)
}
