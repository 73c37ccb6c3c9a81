//! Fixed-point formats shared by every back end.
//!
//! * Weights of learned layers: `u16` Q0.16, `w = bits / 65536`, in `[0, 65535/65536]`.
//! * Potentials and thresholds: `i32` in the same unit (1/65536 of a unit weight), so a potential
//!   is exactly the sum of the weights of the inputs that spiked.
//! * Learning rates: `u32` Q0.32 (`a = bits / 2^32`), so small rates such as 0.003 keep nine
//!   significant bits more than a Q0.16 rate would.
//! * 8-bit exported weights: `u8` Q0.8, widened to Q0.16 as `w8 * 257` (0 → 0, 255 → 65535).

use fixed::types::{U0F16, U0F32};

/// One unit of potential (a weight of 1.0) in potential units.
pub const ONE: i32 = 1 << 16;
/// Largest weight (just below 1.0).
pub const W_MAX: u16 = u16::MAX;

/// Converts a real weight to Q0.16, rounding to nearest and saturating to `[0, W_MAX]`.
pub fn weight_from_f64(w: f64) -> u16 {
    if w.is_nan() || w <= 0.0 {
        0
    } else {
        U0F16::saturating_from_num(w).to_bits()
    }
}

/// Real value of a Q0.16 weight.
pub fn weight_to_f64(w: u16) -> f64 {
    U0F16::from_bits(w).to_num::<f64>()
}

/// Converts a real threshold (in units of a unit weight) to potential units, saturating.
pub fn potential_from_f64(v: f64) -> i32 {
    let x = v * f64::from(ONE);
    if x.is_nan() {
        0
    } else if x >= f64::from(i32::MAX) {
        i32::MAX
    } else if x <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        libm::round(x) as i32
    }
}

/// Real value of a potential.
pub fn potential_to_f64(v: i32) -> f64 {
    f64::from(v) / f64::from(ONE)
}

/// Converts a learning rate in `[0, 1)` to Q0.32, rounding to nearest and saturating.
pub fn rate_from_f64(a: f64) -> u32 {
    if a.is_nan() || a <= 0.0 {
        0
    } else {
        U0F32::saturating_from_num(a).to_bits()
    }
}

/// Real value of a Q0.32 learning rate.
pub fn rate_to_f64(a: u32) -> f64 {
    U0F32::from_bits(a).to_num::<f64>()
}

/// Widens an 8-bit exported weight to Q0.16.
#[inline]
pub const fn widen8(w: u8) -> u16 {
    w as u16 * 257
}

/// Narrows a Q0.16 weight to 8 bits, rounding to nearest (inverse of [`widen8`] on its image).
#[inline]
pub const fn narrow8(w: u16) -> u8 {
    ((w as u32 + 128) / 257) as u8
}
