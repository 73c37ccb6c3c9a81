//! The fixed-point format of the rate rules and of the spiking (LIF) layer: `i32` Q5.26.
//!
//! * A value is `bits / 2^26`, in `[-32, 32)`: room for the BCM weight clip (±10), traces of a
//!   decay of 0.95 (up to 20) and normalised data, with a step of 1.5·10⁻⁸, below the smallest
//!   default updates (BCM ≈ 10⁻⁷ per sample, trace STDP 5·10⁻⁵ per pairing) that a 16-bit weight
//!   would round to zero.
//! * Products are formed exactly in `i64` (Q10.52) and sums of products are exact, saturated
//!   once to `i64` (so an overflow gives the nearest representable value on every target).
//! * Narrowing back to Q5.26 rounds to nearest with ties towards +∞
//!   (`floor((v + 2^25) / 2^26)`) and saturates to the `i32` range. That one rule is the
//!   rounding of every rate rule; the f64 references in the tests agree to a few LSB per step.

use crate::error::{Error, Result};

/// Fractional bits.
pub const FRAC: u32 = 26;
/// 1.0.
pub const ONE: i32 = 1 << FRAC;
/// Largest magnitude a real value may have to be representable.
pub const LIMIT: f64 = (1u64 << (31 - FRAC)) as f64;

/// Converts a real value, rounding to nearest; NaN, infinities and values outside `[-32, 32)`
/// are refused (the caller names the offending sample).
pub fn from_f64(x: f64) -> Result<i32> {
    if !x.is_finite() {
        return Err(Error::InvalidParam("value is NaN or infinite"));
    }
    let v = libm::round(x * f64::from(ONE));
    if v < f64::from(i32::MIN) || v > f64::from(i32::MAX) {
        return Err(Error::InvalidParam(
            "value outside the fixed-point range [-32, 32)",
        ));
    }
    // In range and integral: the cast is exact.
    Ok(v as i32)
}

/// Converts a real value, saturating (NaN to 0): for parameters checked elsewhere.
pub fn saturating_from_f64(x: f64) -> i32 {
    if x.is_nan() {
        0
    } else {
        let v = libm::round(x * f64::from(ONE));
        v.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// Real value of a Q5.26 number.
pub fn to_f64(x: i32) -> f64 {
    f64::from(x) / f64::from(ONE)
}

/// Narrows a Q10.52 product (or sum of products) to Q5.26: round to nearest, ties up,
/// saturating.
#[inline]
pub fn narrow(v: i64) -> i32 {
    let r = v.saturating_add(1 << (FRAC - 1)) >> FRAC;
    r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `a · b`, rounded and saturated.
#[inline]
pub fn mul(a: i32, b: i32) -> i32 {
    // |a·b| ≤ 2^62, so adding the half cannot overflow (and the loop vectorises).
    let r = (i64::from(a) * i64::from(b) + (1 << (FRAC - 1))) >> FRAC;
    r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `Σ a_i b_i` accumulated exactly in `i64` (saturating), narrowed once.
#[inline]
pub fn dot(a: &[i32], b: &[i32]) -> i32 {
    narrow(dot_wide(a, b))
}

/// `Σ a_i b_i` in Q10.52, saturating.
#[inline]
pub fn dot_wide(a: &[i32], b: &[i32]) -> i64 {
    let len = a.len().min(b.len()) as u128;
    let ma = a.iter().fold(0u32, |m, v| m.max(v.unsigned_abs()));
    let mb = b.iter().fold(0u32, |m, v| m.max(v.unsigned_abs()));
    if u128::from(ma) * u128::from(mb) * len < 1 << 63 {
        // No partial sum can overflow: a plain (vectorised) i64 sum is exact.
        return a
            .iter()
            .zip(b)
            .map(|(&x, &y)| i64::from(x) * i64::from(y))
            .sum();
    }
    exact_sum(a.iter().zip(b).map(|(&x, &y)| (x, y)))
}

/// `Σ x·y` over pairs of `i32`, exact, saturated once to `i64`: each product's high and low 32
/// bits are summed apart (exact for 2^31 terms), then joined.
#[inline]
pub fn exact_sum(pairs: impl Iterator<Item = (i32, i32)>) -> i64 {
    let (mut hi, mut lo) = (0i64, 0i64);
    for (x, y) in pairs {
        let p = i64::from(x) * i64::from(y);
        hi += p >> 32;
        lo += p & 0xFFFF_FFFF;
    }
    let total = (i128::from(hi) << 32) + i128::from(lo);
    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// [`dot`] for a sparse `b` (spike inputs): only the non-zero entries of `b` are visited; the
/// result is the same exact sum.
#[inline]
pub fn dot_sparse(a: &[i32], b: &[i32]) -> i32 {
    narrow(exact_sum(
        a.iter()
            .zip(b)
            .filter(|(_, y)| **y != 0)
            .map(|(&x, &y)| (x, y)),
    ))
}

/// Euclidean norm of a vector, Q5.26 (the square root of a Q10.52 sum of squares is Q5.26).
pub fn norm(a: &[i32]) -> i32 {
    let ss = dot_wide(a, a);
    let r = isqrt(ss.unsigned_abs());
    i32::try_from(r).unwrap_or(i32::MAX)
}

/// Integer square root, rounded down (`⌊√v⌋`), bit by bit: exact on every target.
pub fn isqrt(v: u64) -> u64 {
    let mut rem = v;
    let mut root = 0u64;
    let mut bit = 1u64 << 62;
    while bit > v {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// Rescales `w` to unit Euclidean norm (a vector of norm below one LSB is left as it is, as the
/// reference does for norms below 10⁻¹⁰). Each element becomes `round(w_i · 2^26 / ‖w‖)`.
pub fn normalize(w: &mut [i32]) {
    let n = i64::from(norm(w));
    if n == 0 {
        return;
    }
    for x in w.iter_mut() {
        let num = i64::from(*x) << FRAC;
        // Round half away from zero: symmetric for ± weights.
        let q = (num.abs() + n / 2) / n;
        let q = if num < 0 { -q } else { q };
        *x = q.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    }
}

/// Converts and checks real data: every element finite and in range, or an error naming the
/// first bad element (`Err((index, error))`).
pub fn convert(src: &[f64], dst: &mut [i32]) -> core::result::Result<(), (usize, Error)> {
    for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
        *d = from_f64(s).map_err(|e| (i, e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_ties_up() {
        // 0.5 LSB rounds up, just below rounds down, −0.5 LSB rounds up (to 0).
        let half = 1i64 << (FRAC - 1);
        assert_eq!(narrow(half), 1);
        assert_eq!(narrow(half - 1), 0);
        assert_eq!(narrow(-half), 0);
        assert_eq!(narrow(-half - 1), -1);
        assert_eq!(mul(ONE, ONE), ONE);
        assert_eq!(mul(-3 * ONE, ONE / 2), -3 * ONE / 2);
    }

    #[test]
    fn isqrt_is_floor_of_sqrt() {
        for v in [0u64, 1, 2, 3, 4, 15, 16, 17, 1 << 40, u64::MAX] {
            let r = isqrt(v);
            assert!(u128::from(r) * u128::from(r) <= u128::from(v));
            assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(v));
        }
    }

    #[test]
    fn normalize_gives_unit_norm() {
        let mut w = [3 * ONE, 4 * ONE];
        normalize(&mut w);
        assert_eq!(
            w,
            [(ONE as i64 * 3 / 5) as i32, (ONE as i64 * 4 / 5) as i32]
        );
        let mut z = [0, 0];
        normalize(&mut z);
        assert_eq!(z, [0, 0]);
    }

    #[test]
    fn conversion_refuses_nan_and_out_of_range() {
        assert!(from_f64(f64::NAN).is_err());
        assert!(from_f64(32.0).is_err());
        assert!(from_f64(-32.0).is_ok());
        assert_eq!(from_f64(0.25), Ok(ONE / 4));
    }
}
