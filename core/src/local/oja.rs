//! Oja's rule and Sanger's generalised Hebbian algorithm on a linear layer `y = W x`
//! (`k` rows of `n`, Q5.26).
//!
//! * Oja, per row: `w ← w + η y (x − y w)`; rows learn independently (each converges to the top
//!   principal component).
//! * Sanger: `w_i ← w_i + η y_i (x − Σ_{l ≤ i} y_l w_l)`, rows in order, so row `i` learns the
//!   `i`-th component.
//!
//! Each weight update is formed exactly in `i128` and rounded once (to nearest, ties up); the
//! optional row renormalisation ([`fixed::normalize`]) follows, as in the reference trainers.

use super::fixed::{self, FRAC};
use crate::error::{Error, Result, head, head_mut};

/// `round(η · y · r / 2^78)`, with `r` in Q10.52: the one rounding of an update. `η·y` is
/// exact in `i64`, and the product of two `i64` is exact in `i128` (one widening multiply).
#[inline]
pub(crate) fn update_term(eta: i32, y: i32, r: i64) -> i32 {
    let ey = i64::from(eta) * i64::from(y); // Q52
    let p = i128::from(ey) * i128::from(r); // Q104, |p| < 2^126
    let sh = 3 * FRAC;
    let v = (p + (1i128 << (sh - 1))) >> sh;
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// An `i128` residual saturated to `i64` (beyond ±2048 in real units only for data far outside
/// the format's range).
#[inline]
fn sat64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Layer outputs `y = W x` into `y` (`k`), each rounded once.
pub fn forward(w: &[i32], n: usize, x: &[i32], y: &mut [i32]) -> Result<()> {
    if n == 0 {
        return Err(Error::Zero("inputs"));
    }
    let x = head("input", x, n)?;
    if !w.len().is_multiple_of(n) || w.len() / n != y.len() {
        return Err(Error::ShapeMismatch("weights are not outputs × inputs"));
    }
    for (yi, row) in y.iter_mut().zip(w.chunks_exact(n)) {
        *yi = fixed::dot(row, x);
    }
    Ok(())
}

fn rows_of(w: &[i32], n: usize, x: &[i32]) -> Result<usize> {
    if n == 0 {
        return Err(Error::Zero("inputs"));
    }
    if w.is_empty() || !w.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch("weights are not outputs × inputs"));
    }
    head("input", x, n)?;
    Ok(w.len() / n)
}

/// One Oja step on every row for sample `x` with rate `eta` (Q5.26).
pub fn oja_step(w: &mut [i32], n: usize, x: &[i32], eta: i32, normalize: bool) -> Result<()> {
    rows_of(w, n, x)?;
    let x = head("input", x, n)?;
    for row in w.chunks_exact_mut(n) {
        let y = fixed::dot(row, x);
        for (wj, &xj) in row.iter_mut().zip(x) {
            // r = x_j − y w_j in Q52 (both terms below 2^62: exact in i64).
            let r = (i64::from(xj) << FRAC) - i64::from(y) * i64::from(*wj);
            *wj = wj.saturating_add(update_term(eta, y, r));
        }
        if normalize {
            fixed::normalize(row);
        }
    }
    Ok(())
}

/// One Sanger step for sample `x`; `resid` is scratch of `n` (Q10.52 residuals), `y` of `k`.
pub fn sanger_step(
    w: &mut [i32],
    n: usize,
    x: &[i32],
    eta: i32,
    normalize: bool,
    resid: &mut [i128],
    y: &mut [i32],
) -> Result<()> {
    let k = rows_of(w, n, x)?;
    let x = head("input", x, n)?;
    let resid = head_mut("residual", resid, n)?;
    let y = head_mut("outputs", y, k)?;
    // All outputs from the weights before the step.
    for (yi, row) in y.iter_mut().zip(w.chunks_exact(n)) {
        *yi = fixed::dot(row, x);
    }
    for (r, &xj) in resid.iter_mut().zip(x) {
        *r = i128::from(xj) << FRAC;
    }
    for (row, &yi) in w.chunks_exact_mut(n).zip(y.iter()) {
        for (r, wj) in resid.iter_mut().zip(row.iter_mut()) {
            // Subtract this row's own contribution (the diagonal of LT(y yᵀ)) before learning.
            *r -= i128::from(yi) * i128::from(*wj);
            *wj = wj.saturating_add(update_term(eta, yi, sat64(*r)));
        }
        if normalize {
            fixed::normalize(row);
        }
    }
    Ok(())
}
