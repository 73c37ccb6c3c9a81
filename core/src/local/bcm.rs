//! The BCM rule with a sliding threshold on a linear layer `y = W x` (Q5.26).
//!
//! Per sample: `y = W x`; `w_i ← clip(w_i + η y_i (y_i − θ_i) x, ±clip)`;
//! `θ_i ← θ_i + (y_i² − θ_i)/τ` from the same (pre-update) `y`. The weight update is formed
//! exactly and rounded once, like Oja's; the threshold update is rounded once.

use super::fixed::{self, FRAC};
use crate::error::{Error, Result, head, head_mut};
use serde::{Deserialize, Serialize};

/// BCM parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "BcmParamsRaw")]
pub struct BcmParams {
    inv_tau: i32,
    clip: i32,
}

impl BcmParams {
    /// `1/τ` in Q5.26 (`0 < 1/τ ≤ 1`) and the weight clip (Q5.26, in `(0, 16]`).
    pub fn new(inv_tau: i32, clip: i32) -> Result<Self> {
        if inv_tau <= 0 || inv_tau > fixed::ONE {
            return Err(Error::InvalidParam("BCM 1/tau must be in (0, 1]"));
        }
        if clip <= 0 || clip > 16 * fixed::ONE {
            return Err(Error::InvalidParam("BCM weight clip must be in (0, 16]"));
        }
        Ok(Self { inv_tau, clip })
    }
    /// `1/τ`.
    pub fn inv_tau(&self) -> i32 {
        self.inv_tau
    }
    /// Weight clip.
    pub fn clip(&self) -> i32 {
        self.clip
    }
}

/// One BCM step for sample `x`; `theta` holds one threshold per row, `y` is scratch of `k`.
pub fn bcm_step(
    w: &mut [i32],
    n: usize,
    x: &[i32],
    theta: &mut [i32],
    eta: i32,
    p: &BcmParams,
    y: &mut [i32],
) -> Result<()> {
    if n == 0 {
        return Err(Error::Zero("inputs"));
    }
    if w.is_empty() || !w.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch("weights are not outputs × inputs"));
    }
    let k = w.len() / n;
    let x = head("input", x, n)?;
    let theta = head_mut("thresholds", theta, k)?;
    let y = head_mut("outputs", y, k)?;
    for ((row, th), yi) in w
        .chunks_exact_mut(n)
        .zip(theta.iter_mut())
        .zip(y.iter_mut())
    {
        let yv = fixed::dot(row, x);
        *yi = yv;
        // Δw_j = round(K x_j / 2^78) with K = η y (y − θ) exact in Q78: one product per
        // weight, a single widening multiply whenever K fits 64 bits (the result is the same
        // exact value either way).
        let phi = i64::from(yv) - i64::from(*th); // Q26
        let k = i128::from(i64::from(eta) * i64::from(yv)) * i128::from(phi);
        let half = 1i128 << (3 * FRAC - 1);
        match i64::try_from(k).ok().filter(|k| k.unsigned_abs() < 1 << 62) {
            Some(k64) => {
                // K·x_j = (K_hi 2^31 + K_lo) x_j with K_hi and 0 ≤ K_lo < 2^31 both 32-bit, so
                // A = K_hi x_j and B = K_lo x_j are exact 32 × 32 → 64-bit products, and
                // ⌊(K x_j + 2^77) / 2^78⌋ = ⌊(A + ⌊B / 2^31⌋ + 2^46) / 2^47⌋: the same rounded
                // value as the 128-bit product, in 64-bit lanes.
                let (k_hi, k_lo) = (k64 >> 31, k64 & 0x7FFF_FFFF);
                // |K| < 2^62 and |x| < 2^31 bound |d| by 2^15, and |w| ≤ clip ≤ 2^30, so the sum
                // and the clip fit 32-bit lanes.
                let clip = p.clip;
                for (wj, &xj) in row.iter_mut().zip(x) {
                    let xj = i64::from(xj);
                    let d = ((k_hi * xj + ((k_lo * xj) >> 31) + (1 << 46)) >> 47) as i32;
                    *wj = wj.wrapping_add(d).clamp(-clip, clip);
                }
            }
            None => {
                for (wj, &xj) in row.iter_mut().zip(x) {
                    let d = (k.saturating_mul(i128::from(xj)).saturating_add(half)) >> (3 * FRAC);
                    *wj = add_clip(*wj, d, p.clip);
                }
            }
        }
        let y2 = i128::from(yv) * i128::from(yv); // Q52
        let d = y2 - (i128::from(*th) << FRAC); // Q52
        let step = (i128::from(p.inv_tau) * d + (1i128 << (2 * FRAC - 1))) >> (2 * FRAC);
        *th = (i128::from(*th) + step).clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    }
    Ok(())
}

/// The serialised form of [`BcmParams`], validated on decoding.
#[derive(Deserialize)]
struct BcmParamsRaw {
    inv_tau: i32,
    clip: i32,
}

impl TryFrom<BcmParamsRaw> for BcmParams {
    type Error = Error;
    fn try_from(r: BcmParamsRaw) -> Result<Self> {
        Self::new(r.inv_tau, r.clip)
    }
}

/// `w + d` clamped to `±clip` (`d` is an exact update that may exceed the `i32` range).
#[inline]
fn add_clip(w: i32, d: i128, clip: i32) -> i32 {
    (i128::from(w) + d).clamp(-i128::from(clip), i128::from(clip)) as i32
}
