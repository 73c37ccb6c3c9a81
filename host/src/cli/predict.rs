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
    /// Test images to classify (indices); default: the first 10.
    #[arg(long, value_delimiter = ',')]
    pub index: Vec<usize>,
}

/// Runs `hebb predict`.
pub fn run(a: &PredictArgs) -> Result<i32> {
    let (net, _) = load_net(&a.model)?;
    if net.readout.is_none() {
        bail!("{} has no readout", a.model.display());
    }
    let split = parse_data(&a.data)
        .load()
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
