//! hebb firmware for Cortex-M4F (`thumbv7em-none-eabihf`, STM32F405 memory map, QEMU
//! `netduinoplus2`).
//!
//! The binaries are thin: `infer`/`infer8` classify the test digits embedded beside a model,
//! `corrupt` proves that a damaged model is rejected at boot, `learn` runs on-device STDP.
//! The local-rule binaries (`hopfield`, `oja`, `sanger`), `diehl` and `events` compile their
//! code from `src/local/`, `src/diehl/` and `src/events/` themselves, on top of this library's
//! fixture framing, run-time support and buffer sizes.
//! Everything numeric is done by `hebb-core`, the same functions the host calls; this crate only
//! owns static buffers, logging (defmt over semihosting), the exit code and the measurements
//! (TIM2 instruction counter, painted-stack high-water mark).
//!
//! Exit codes: see [`rt::exit`].
#![no_std]

use cortex_m as _; // links the critical-section implementation
use defmt_semihosting as _; // #[global_logger]

pub mod fixture;
pub mod infer;
pub mod learn;
pub mod rt;

/// Buffer lengths computed by `build.rs` from the committed fixtures.
pub mod sizes {
    include!(concat!(env!("OUT_DIR"), "/sizes.rs"));
}
