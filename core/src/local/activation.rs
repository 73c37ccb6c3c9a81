//! Integer activations of the continuous Hopfield states, Q16 in and out (`2^16` = 1.0):
//! `tanh` and the logistic sigmoid, from one exact integer `e^{-y}`, so every target computes
//! the same bits.

/// 1.0 in Q16.
pub const ONE_Q16: i32 = 1 << 16;

/// `e^{-y}` for `y ≥ 0` in Q16, result in Q32 (`2^32` = 1.0). `y = k·ln 2 + r` with
/// `0 ≤ r < ln 2`; `e^{-r}` from its Taylor series to the 9th power (error below 2^-32).
fn exp_neg_q32(y: i64) -> u64 {
    const LN2_Q16: i64 = 45_426; // round(ln 2 · 2^16)
    if y <= 0 {
        return 1 << 32;
    }
    let k = y / LN2_Q16;
    if k >= 33 {
        return 0;
    }
    // r in Q32.
    let r = ((y - k * LN2_Q16) as u64) << 16;
    // Σ (−r)^i / i! by Horner in Q32, signed.
    let r = r as i128;
    let one: i128 = 1 << 32;
    let mut acc: i128 = one;
    for i in (1..=9i128).rev() {
        acc = one - (acc * r / one) / i;
    }
    let acc = acc.clamp(0, one) as u64;
    acc >> k
}

/// `tanh(x)` for `x` in Q16, result in Q16 (rounded to nearest).
pub fn tanh_q16(x: i64) -> i32 {
    let a = x.unsigned_abs().min(1 << 40) as i64;
    let e = u128::from(exp_neg_q32(2 * a));
    let one: u128 = 1 << 32;
    // (1 − e) / (1 + e), in Q16, rounded.
    let num = (one - e.min(one)) << 16;
    let den = one + e;
    let t = ((num + den / 2) / den) as i32;
    if x < 0 { -t } else { t }
}

/// The logistic sigmoid `1 / (1 + e^{-x})` for `x` in Q16, result in Q16 (rounded).
pub fn sigmoid_q16(x: i64) -> i32 {
    let a = x.unsigned_abs().min(1 << 40) as i64;
    let e = u128::from(exp_neg_q32(a));
    let one: u128 = 1 << 32;
    // σ(a) = 1 / (1 + e^{-a}); σ(−a) = 1 − σ(a).
    let den = one + e;
    let s = (((one << 16) + den / 2) / den) as i32;
    if x < 0 { ONE_Q16 - s } else { s }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn activations_match_f64_within_one_lsb() {
        for i in -2000..=2000 {
            let x = i64::from(i) * 97;
            let xf = x as f64 / 65536.0;
            let t = f64::from(tanh_q16(x)) / 65536.0;
            let s = f64::from(sigmoid_q16(x)) / 65536.0;
            assert!((t - libm::tanh(xf)).abs() <= 1.0 / 65536.0, "tanh({xf})");
            assert!(
                (s - 1.0 / (1.0 + libm::exp(-xf))).abs() <= 1.0 / 65536.0,
                "sigmoid({xf})"
            );
        }
        assert_eq!(tanh_q16(1 << 30), ONE_Q16);
        assert_eq!(tanh_q16(-(1 << 30)), -ONE_Q16);
        assert_eq!(sigmoid_q16(0), ONE_Q16 / 2);
    }
}
