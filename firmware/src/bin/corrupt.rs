//! Boot check of a damaged model: `model.hebb` with one body byte flipped (written by build.rs).
//! `Model::decode` must reject it with a CRC mismatch, which `infer::run` reports and turns into
//! exit code 2; the check script requires exactly that.
#![no_std]
#![no_main]

use cortex_m_rt::entry;

static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model_corrupt.hebb"));
static SAMPLES: &[u8] = include_bytes!("../../samples.bin");

#[entry]
fn main() -> ! {
    hebb_firmware::infer::run("corrupt", MODEL, SAMPLES)
}
