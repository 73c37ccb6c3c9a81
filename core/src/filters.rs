//! Fixed first-layer filters: difference of Gaussians (ON/OFF centre) and Gabor banks, built in
//! `f64` with `libm` (bit-identical on every target) and quantised to Q16 `i32`.

use crate::error::{Error, Result, head_mut, need};

/// How a DoG kernel is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DogNorm {
    /// SpykeTorch / Kheradpisheh 2018: `g(σ) = exp(−r²/2σ²)/σ²`, `dog = (g(σ1) − g(σ2))/2π`, then
    /// subtract the kernel mean and divide by the kernel maximum.
    MeanMax,
    /// SpikeSEG: each Gaussian normalised to sum 1, `dog = g(σ1) − g(σ2)` (zero sum).
    UnitSum,
}

/// Writes a `k × k` DoG kernel (row-major, real values) into `out`. `(σ1, σ2) = (1, 2)` gives an
/// ON-centre filter, `(2, 1)` OFF-centre.
pub fn dog(k: usize, sigma1: f64, sigma2: f64, norm: DogNorm, out: &mut [f64]) -> Result<()> {
    if k == 0 || k.is_multiple_of(2) {
        return Err(Error::InvalidParam("DoG size must be odd"));
    }
    if !(sigma1 > 0.0 && sigma2 > 0.0) || sigma1 == sigma2 {
        return Err(Error::InvalidParam("DoG sigmas must be > 0 and differ"));
    }
    let kk = k.checked_mul(k).ok_or(Error::Overflow("DoG size"))?;
    let out = head_mut("dog out", out, kk)?;
    let c = (k / 2) as f64;
    let g = |s: f64, y: usize, x: usize| {
        let (dy, dx) = (y as f64 - c, x as f64 - c);
        libm::exp(-(dx * dx + dy * dy) / (2.0 * s * s))
    };
    match norm {
        DogNorm::MeanMax => {
            for (i, o) in out.iter_mut().enumerate() {
                let (y, x) = (i / k, i % k);
                *o = (g(sigma1, y, x) / (sigma1 * sigma1) - g(sigma2, y, x) / (sigma2 * sigma2))
                    / (2.0 * core::f64::consts::PI);
            }
            let mean = out.iter().sum::<f64>() / kk as f64;
            out.iter_mut().for_each(|v| *v -= mean);
            let max = out.iter().copied().fold(f64::MIN, f64::max);
            if max <= 0.0 {
                return Err(Error::InvalidParam("DoG kernel has no positive part"));
            }
            out.iter_mut().for_each(|v| *v /= max);
        }
        DogNorm::UnitSum => {
            let (mut s1, mut s2) = (0.0, 0.0);
            for y in 0..k {
                for x in 0..k {
                    s1 += g(sigma1, y, x);
                    s2 += g(sigma2, y, x);
                }
            }
            for (i, o) in out.iter_mut().enumerate() {
                let (y, x) = (i / k, i % k);
                *o = g(sigma1, y, x) / s1 - g(sigma2, y, x) / s2;
            }
        }
    }
    Ok(())
}

/// Parameters of one Gabor filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gabor {
    /// Envelope width.
    pub sigma: f64,
    /// Wavelength of the carrier.
    pub lambda: f64,
    /// Aspect ratio of the envelope.
    pub gamma: f64,
    /// Phase offset.
    pub psi: f64,
    /// Orientation in radians.
    pub theta: f64,
}

/// Writes a `k × k` Gabor kernel, made zero-mean and L1-normalised (sum of |w| = 1) so that
/// every orientation has the same gain.
pub fn gabor(k: usize, p: Gabor, out: &mut [f64]) -> Result<()> {
    if k == 0 || k.is_multiple_of(2) {
        return Err(Error::InvalidParam("Gabor size must be odd"));
    }
    if !(p.sigma > 0.0 && p.lambda > 0.0 && p.gamma > 0.0) {
        return Err(Error::InvalidParam(
            "Gabor sigma, lambda and gamma must be > 0",
        ));
    }
    let kk = k.checked_mul(k).ok_or(Error::Overflow("Gabor size"))?;
    let out = head_mut("gabor out", out, kk)?;
    let c = (k / 2) as f64;
    let (st, ct) = (libm::sin(p.theta), libm::cos(p.theta));
    for (i, o) in out.iter_mut().enumerate() {
        let (y, x) = (i / k, i % k);
        let (dx, dy) = (x as f64 - c, y as f64 - c);
        let xr = dx * ct + dy * st;
        let yr = -dx * st + dy * ct;
        *o = libm::exp(-(xr * xr + p.gamma * p.gamma * yr * yr) / (2.0 * p.sigma * p.sigma))
            * libm::cos(2.0 * core::f64::consts::PI * xr / p.lambda + p.psi);
    }
    let mean = out.iter().sum::<f64>() / kk as f64;
    out.iter_mut().for_each(|v| *v -= mean);
    let l1: f64 = out.iter().map(|v| v.abs()).sum();
    if l1 <= 0.0 {
        return Err(Error::InvalidParam("Gabor kernel is flat"));
    }
    out.iter_mut().for_each(|v| *v /= l1);
    Ok(())
}

/// Quantises real kernel values to Q16 `i32` (round to nearest), validating that a 0..255 input
/// can never overflow an `i32` accumulator.
pub fn quantize(real: &[f64], out: &mut [i32]) -> Result<()> {
    need("quantized kernel", out, real.len())?;
    let mut abs_sum = 0i64;
    for (o, &r) in out.iter_mut().zip(real) {
        if !r.is_finite() || r.abs() > 32767.0 {
            return Err(Error::InvalidParam("filter value not finite or too large"));
        }
        *o = libm::round(r * 65536.0) as i32;
        abs_sum = abs_sum.saturating_add(i64::from(o.unsigned_abs()));
    }
    if abs_sum.saturating_mul(255) > i64::from(i32::MAX) {
        return Err(Error::InvalidParam(
            "filter gain too large for i32 accumulation",
        ));
    }
    Ok(())
}
