//! Plots of the local-rule family: weight matrices and receptive fields, energy per sweep,
//! overlap against cue noise, learned components against the data's, BCM tuning curves and
//! the STDP weight evolution.

use super::analyze;
use super::model::{Hopfield, Model};
use super::task::Task;
use super::{CoreRule, LocalRules};
use crate::plot::{KernelGridOptions, KernelShape, Normalize, kernel_grid, line_chart};
use anyhow::Result;
use hebb_core::local::fixed;
use std::path::Path;

fn grid(
    dir: &Path,
    name: &str,
    w: &[f32],
    maps: usize,
    h: usize,
    wd: usize,
    scale: u32,
) -> Result<()> {
    let opts = KernelGridOptions {
        scale,
        normalize: Normalize::PerKernel,
        ..KernelGridOptions::default()
    };
    let shape = KernelShape {
        maps,
        channels: 1,
        height: h,
        width: wd,
    };
    kernel_grid(&dir.join(name), w, shape, &opts)?;
    Ok(())
}

/// Side of a square that holds `n` values, when `n` is a square.
fn square(n: usize) -> Option<usize> {
    let s = (n as f64).sqrt().round() as usize;
    (s * s == n).then_some(s)
}

/// Plots after an epoch.
pub fn epoch(t: &LocalRules, task: &Task, dir: &Path) -> Result<()> {
    let hist: Vec<(f64, f64)> =
        t.st.history
            .iter()
            .enumerate()
            .map(|(i, &c)| ((i + 1) as f64, c))
            .collect();
    match &t.model {
        Model::Hopfield(h) => {
            let w: Vec<f32> = h.w.iter().map(|&v| v as f32).collect();
            let scale = if h.n <= 200 { 3 } else { 1 };
            grid(dir, "weights.png", &w, 1, h.n, h.n, scale)?;
            if let Some(side) = h.side {
                let p: Vec<f32> = h.stored.iter().map(|&v| f32::from(v)).collect();
                grid(dir, "patterns.png", &p, h.patterns(), side, side, 4)?;
            }
        }
        Model::Linear(l) => {
            let w: Vec<f32> = l.w.iter().map(|&v| fixed::to_f64(v) as f32).collect();
            if let Some(side) = l.side.or_else(|| square(l.n)) {
                grid(dir, "receptive_fields.png", &w, l.k, side, side, 8)?;
            }
            if let (
                CoreRule::Bcm { .. },
                Task::Vectors {
                    test, test_angles, ..
                },
            ) = (&t.rule, task)
            {
                let tune = analyze::tuning(l, test, test_angles)?;
                let series: Vec<(String, Vec<(f64, f64)>)> = tune
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        (
                            format!("neuron {}", i + 1),
                            test_angles
                                .iter()
                                .copied()
                                .zip(c.responses.iter().copied())
                                .collect(),
                        )
                    })
                    .collect();
                let refs: Vec<(&str, &[(f64, f64)])> = series
                    .iter()
                    .map(|(n, p)| (n.as_str(), p.as_slice()))
                    .collect();
                line_chart(
                    &dir.join("tuning_curves.png"),
                    "BCM orientation tuning",
                    &refs,
                    "bar orientation (degrees)",
                    "response",
                )?;
                line_chart(
                    &dir.join("selectivity.png"),
                    "least selective neuron per epoch",
                    &[("min selectivity", &hist)],
                    "epoch",
                    "1 - mean/max",
                )?;
            } else if !t.components.is_empty() {
                // Learned rows against the data's components, coordinate by coordinate.
                let mut series = Vec::new();
                for i in 0..l.k.min(3) {
                    let row = l.row(i);
                    let c = &t.components[i * l.n..(i + 1) * l.n];
                    let sign = if row.iter().zip(c).map(|(a, b)| a * b).sum::<f64>() < 0.0 {
                        -1.0
                    } else {
                        1.0
                    };
                    series.push((
                        format!("row {}", i + 1),
                        row.iter()
                            .enumerate()
                            .map(|(j, v)| (j as f64, sign * v))
                            .collect::<Vec<_>>(),
                    ));
                    series.push((
                        format!("component {}", i + 1),
                        c.iter().enumerate().map(|(j, &v)| (j as f64, v)).collect(),
                    ));
                }
                let refs: Vec<(&str, &[(f64, f64)])> = series
                    .iter()
                    .map(|(n, p)| (n.as_str(), p.as_slice()))
                    .collect();
                line_chart(
                    &dir.join("components.png"),
                    "learned rows and principal components",
                    &refs,
                    "input dimension",
                    "weight",
                )?;
                line_chart(
                    &dir.join("cosine.png"),
                    "smallest |cos| of a row with its component",
                    &[("min |cos|", &hist)],
                    "epoch",
                    "|cos|",
                )?;
            }
        }
        Model::Spiking(s) => {
            let pat: Vec<(f64, f64)> =
                t.st.weight_trace
                    .iter()
                    .map(|&(x, a, _)| (x as f64, a))
                    .collect();
            let other: Vec<(f64, f64)> =
                t.st.weight_trace
                    .iter()
                    .map(|&(x, _, b)| (x as f64, b))
                    .collect();
            line_chart(
                &dir.join("weight_evolution.png"),
                "trace STDP: mean weight",
                &[
                    ("afferents in the pattern", &pat),
                    ("other afferents", &other),
                ],
                "training step",
                "mean weight",
            )?;
            let w: Vec<f32> = s.w.iter().map(|&v| fixed::to_f64(v) as f32).collect();
            if let Some(side) = square(s.n) {
                grid(dir, "weights.png", &w, s.k, side, side, 8)?;
            }
        }
    }
    Ok(())
}

/// Plots of a finished memory: energy per sweep and overlap against cue noise.
pub fn final_hopfield(h: &Hopfield, dir: &Path, seed: u64) -> Result<()> {
    let mut rng = hebb_core::rng::Rng::new(seed ^ 0xE4E7);
    let mut series = Vec::new();
    for p in 0..h.patterns().min(5) {
        let cue = super::task::flip(h.pattern(p), 0.25, &mut rng);
        let s = h.state_of_pattern(&cue);
        let r = h.recall(&s)?;
        series.push((
            format!("pattern {p}"),
            r.energies
                .iter()
                .enumerate()
                .map(|(i, &e)| (i as f64, e))
                .collect::<Vec<_>>(),
        ));
    }
    let refs: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    line_chart(
        &dir.join("energy_per_sweep.png"),
        "energy during recall (25 % flipped cues)",
        &refs,
        "sweep",
        "energy",
    )?;
    let noise: Vec<f64> = (0..=10).map(|i| f64::from(i) * 0.05).collect();
    let curve = analyze::overlap_vs_noise(h, &noise, seed)?;
    line_chart(
        &dir.join("overlap_vs_noise.png"),
        "recall quality against cue noise",
        &[("mean final overlap", &curve)],
        "fraction of flipped bits",
        "overlap",
    )?;
    Ok(())
}
