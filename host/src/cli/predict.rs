//! `hebb predict`.

use super::{load_net, out, parse_data};
use crate::family::conv_stdp::{FitTarget, check_fits, classify};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

/// `hebb predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model file (a run folder means its model.hebb).
    pub model: PathBuf,
    /// Data set.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Test images to classify (indices); default: the first 10. For a Hopfield memory: the
    /// stored patterns to cue (default: all).
    #[arg(long, value_delimiter = ',')]
    pub index: Vec<usize>,
    /// Hopfield memory: fraction of the stored pattern's bits flipped in the cue.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f64,
    /// Hopfield memory: seed of the flipped bits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Hopfield memory: write the recall trajectories (CSV: cue, sweep, energy, overlap with
    /// the target, state) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `hebb predict`.
pub fn run(a: &PredictArgs) -> Result<i32> {
    let path = super::model_path(&a.model);
    let head = crate::io::read_hebb(&path, "model")?;
    if hebb_core::frame::peek(&head).is_ok_and(|h| h.family == hebb_core::frame::FAMILY_LOCAL_RULES)
    {
        return recall(a, &path);
    }
    let (net, _) = load_net(&a.model)?;
    if net.readout.is_none() {
        bail!("{} has no readout", a.model.display());
    }
    let split = parse_data(&a.data)
        .load_for(&net.encoder, None)
        .with_context(|| format!("loading data set `{}`", a.data))?;
    check_fits(FitTarget::Model(&net), &split, &a.data)?;
    let idx: Vec<usize> = if a.index.is_empty() {
        (0..10.min(split.test.len())).collect()
    } else {
        a.index.clone()
    };
    if let Some(&i) = idx.iter().find(|&&i| i >= split.test.len()) {
        bail!(
            "index {i} out of range (test split has {} images)",
            split.test.len()
        );
    }
    let images: Vec<&[u8]> = idx.iter().map(|&i| split.test.image(i)).collect();
    let (pred, f) = classify(&net, &images)?;
    for (j, (&i, p)) in idx.iter().zip(pred).enumerate() {
        out!(
            "image {i}: predicted {p}, label {}, {} active features",
            split.test.labels[i],
            f.active(j).count()
        )?;
    }
    Ok(0)
}

/// Recall from noisy cues of a Hopfield memory, with the trajectory of each cue.
fn recall(a: &PredictArgs, path: &std::path::Path) -> Result<i32> {
    use crate::family::rules::{self, model::Model};
    use std::fmt::Write as _;
    let file = rules::read(path)?;
    let Model::Hopfield(h) = &file.model else {
        bail!(
            "{}: `hebb predict` recalls Hopfield memories; this model is a trained layer (describe it with `hebb inspect`)",
            path.display()
        );
    };
    if !(0.0..=1.0).contains(&a.noise) {
        bail!("--noise must be a fraction in [0, 1], got {}", a.noise);
    }
    if a.data != "mnist" {
        bail!("--data is not used with a Hopfield memory (its cues are its stored patterns)");
    }
    let idx: Vec<usize> = if a.index.is_empty() {
        (0..h.patterns()).collect()
    } else {
        a.index.clone()
    };
    if let Some(&i) = idx.iter().find(|&&i| i >= h.patterns()) {
        bail!(
            "index {i} out of range (the memory stores {} patterns)",
            h.patterns()
        );
    }
    if let Some(o) = &a.out {
        crate::io::check_writable(o)?;
    }
    let mut rng = hebb_core::rng::Rng::new(a.seed);
    let mut csv = String::from("cue,sweep,energy,overlap,state\n");
    for &i in &idx {
        let target = h.pattern(i);
        let cue = rules::task::flip(target, a.noise, &mut rng);
        let s = h.state_of_pattern(&cue);
        let traj = h.trajectory(&s)?;
        for (k, st) in traj.states.iter().enumerate() {
            let state: String = st
                .iter()
                .map(|&v| match v.signum() {
                    1 => '+',
                    -1 => '-',
                    _ => '0',
                })
                .collect();
            let _ = writeln!(
                csv,
                "{i},{k},{},{},{state}",
                traj.recall.energies[k],
                h.overlap(st, target)
            );
        }
        let r = &traj.recall;
        let (best, best_ov) = h.best_match(&r.state);
        let label = |p: usize| {
            h.labels
                .get(p)
                .map_or(String::new(), |l| format!(" (digit {l})"))
        };
        out!(
            "cue {i}{}: overlap {:.3} -> {:.3} in {} sweeps ({}); best match {best}{} at {best_ov:.3}; energy {:.1} -> {:.1}",
            label(i),
            h.overlap(&s, target),
            h.overlap(&r.state, target),
            r.outcome.sweeps,
            if r.outcome.converged {
                "fixed point"
            } else if r.outcome.cycle {
                "2-cycle"
            } else {
                "sweep cap"
            },
            label(best),
            r.energies.first().copied().unwrap_or(f64::NAN),
            r.energies.last().copied().unwrap_or(f64::NAN),
        )?;
    }
    if let Some(o) = &a.out {
        crate::io::write_atomic(o, csv.as_bytes())
            .with_context(|| format!("writing {}", o.display()))?;
        out!("trajectories: {}", o.display())?;
    }
    Ok(0)
}
