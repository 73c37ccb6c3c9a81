//! Plots of the Diehl & Cook family: every neuron's learned weights as an image, the θ
//! distribution, neurons per assigned class, the test confusion matrix and the learning curve.

use super::DiehlCook;
use crate::plot::{KernelGridOptions, KernelShape, Normalize, histogram, kernel_grid, line_chart};
use anyhow::Result;
use hebb_core::assign::UNASSIGNED;
use std::path::Path;

/// θ histogram bins.
const THETA_BINS: usize = 24;

/// Plots after an epoch.
pub fn epoch(t: &DiehlCook, dir: &Path) -> Result<()> {
    let net = &t.net;
    let (rows, cols) = net.shape;
    let scale = if net.n <= 400 { 3 } else { 1 };
    kernel_grid(
        &dir.join("weights.png"),
        &net.receptive_fields(),
        KernelShape {
            maps: net.n,
            channels: 1,
            height: rows,
            width: cols,
        },
        &KernelGridOptions {
            scale,
            normalize: Normalize::PerKernel,
            ..KernelGridOptions::default()
        },
    )?;
    let theta: Vec<f64> = net.theta.iter().map(|&x| f64::from(x) / 65536.0).collect();
    let top = theta.iter().copied().fold(0.0, f64::max);
    let width = if top > 0.0 {
        top / THETA_BINS as f64
    } else {
        1.0
    };
    let mut bins = vec![0u32; THETA_BINS];
    for &v in &theta {
        let b = ((v / width) as usize).min(THETA_BINS - 1);
        if let Some(x) = bins.get_mut(b) {
            *x += 1;
        }
    }
    histogram(
        &dir.join("theta.png"),
        &format!(
            "adaptive thresholds: neurons per bin of {width:.2} mV (bin k from k·{width:.2} mV)"
        ),
        &bins,
    )?;
    let mut per_class = vec![0u32; net.classes + 1];
    for &a in &net.assignments {
        let k = if a == UNASSIGNED {
            net.classes
        } else {
            usize::from(a)
        };
        if let Some(x) = per_class.get_mut(k) {
            *x += 1;
        }
    }
    histogram(
        &dir.join("assignments.png"),
        &format!(
            "neurons per assigned class (last bar: unassigned, {})",
            per_class.last().copied().unwrap_or(0)
        ),
        &per_class,
    )?;
    let c = t.last_confusion.len();
    if c > 0 {
        // Rows normalised so each class reads as the share of its digits.
        let mut m = Vec::with_capacity(c * c);
        for row in &t.last_confusion {
            let s: u32 = row.iter().sum();
            m.extend(row.iter().map(|&x| x as f32 / s.max(1) as f32));
        }
        kernel_grid(
            &dir.join("confusion.png"),
            &m,
            KernelShape {
                maps: 1,
                channels: 1,
                height: c,
                width: c,
            },
            &KernelGridOptions {
                scale: 32,
                normalize: Normalize::Fixed(0.0, 1.0),
                ..KernelGridOptions::default()
            },
        )?;
    }
    let all: Vec<(f64, f64)> =
        t.st.curve
            .iter()
            .map(|p| (p.seen as f64, 100.0 * p.acc.all))
            .collect();
    let prop: Vec<(f64, f64)> =
        t.st.curve
            .iter()
            .map(|p| (p.seen as f64, 100.0 * p.acc.proportion))
            .collect();
    line_chart(
        &dir.join("learning_curve.png"),
        &format!(
            "accuracy of each block of {} training digits (running assignment)",
            t.cfg.block
        ),
        &[("all activity", &all), ("proportion", &prop)],
        "training digits",
        "block accuracy (%)",
    )?;
    Ok(())
}
