//! Spike-train statistics and the reference trainer's losses.

use alloc::vec::Vec;

/// Coefficient of variation of the inter-spike intervals of increasing spike `times` (sample
/// standard deviation over mean); `None` with fewer than 3 spikes (fewer than 2 intervals,
/// where a sample deviation does not exist).
pub fn cv(times: &[u64]) -> Option<f64> {
    if times.len() < 3 {
        return None;
    }
    let isi: Vec<f64> = times
        .windows(2)
        .filter_map(|p| match p {
            [a, b] => Some(b.saturating_sub(*a) as f64),
            _ => None,
        })
        .collect();
    let n = isi.len() as f64;
    let mean = isi.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = isi.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    Some(libm::sqrt(var) / mean)
}

/// Fano factor (variance over mean, population variance) of spike counts in consecutive
/// windows of `window` steps over `steps` steps; `None` when no spike falls in a whole window
/// or fewer than 2 windows fit.
pub fn fano(times: &[u64], window: u64, steps: u64) -> Option<f64> {
    if window == 0 {
        return None;
    }
    let k = (steps / window) as usize;
    if k < 2 {
        return None;
    }
    let mut counts = alloc::vec![0u32; k];
    for &t in times {
        if let Some(c) = counts.get_mut((t / window) as usize) {
            *c += 1;
        }
    }
    let n = k as f64;
    let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = counts
        .iter()
        .map(|&c| (f64::from(c) - mean) * (f64::from(c) - mean))
        .sum::<f64>()
        / n;
    Some(var / mean)
}

/// The reference trainer's losses of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Losses {
    /// `mean_j (r_j − r*_j)²` (Hz²).
    pub firing_rate: f64,
    /// `mean_j (CV_j − CV*)²`, with `cv_high` for cells whose CV does not exist.
    pub cv: f64,
    /// `(ratio · firing_rate + (1 − ratio) · cv) / accumulation`.
    pub total: f64,
}

/// The losses of cells with `rates` (Hz) and `cvs` against per-cell `targets` and `cv_target`.
pub fn losses(
    rates: &[f64],
    cvs: &[Option<f64>],
    targets: &[f64],
    cv_target: f64,
    cv_high: f64,
    ratio: f64,
    accumulation: f64,
) -> Losses {
    let n = rates.len().max(1) as f64;
    let fr = rates
        .iter()
        .zip(targets)
        .map(|(r, t)| (r - t) * (r - t))
        .sum::<f64>()
        / n;
    let cv = cvs
        .iter()
        .map(|c| {
            let x = c.unwrap_or(cv_high) - cv_target;
            x * x
        })
        .sum::<f64>()
        / n;
    Losses {
        firing_rate: fr,
        cv,
        total: (ratio * fr + (1.0 - ratio) * cv) / accumulation.max(1.0),
    }
}
