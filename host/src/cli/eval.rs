//! `hebb eval`.

use super::{DeviceArgs, load_net, open_backend, out, parse_data};
use crate::family::conv_stdp::{FitTarget, check_fits, confusion_text};
use crate::log::Level;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

/// `hebb eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model or checkpoint file (a run folder means its model.hebb).
    pub model: PathBuf,
    /// Data set.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Also evaluate the training split.
    #[arg(long)]
    pub train: bool,
    /// Refit the readout on the training split with each of these C values and report test
    /// accuracy (a study on the test set; the trainer itself chooses C on a validation split held
    /// out of the training set, `[readout] c_grid`). The model file is not changed.
    #[arg(long, value_delimiter = ',')]
    pub refit_c: Vec<f64>,
    /// With --refit-c: also train on copies of the training images shifted by up to this many
    /// pixels (the same bound as the config's `readout.shift_augment`).
    #[arg(long, default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=i64::from(crate::config::MAX_SHIFT_AUGMENT)))]
    pub refit_shift: u8,
    #[command(flatten)]
    /// Device.
    pub dev: DeviceArgs,
}

/// Runs `hebb eval`.
pub fn run(a: &EvalArgs) -> Result<i32> {
    crate::log::init(Level::Info);
    for &c in &a.refit_c {
        if !(c.is_finite() && c > 0.0) {
            bail!("--refit-c values must be > 0, got {c}");
        }
    }
    let path = super::model_path(&a.model);
    if crate::io::read_hebb(&path, "model").is_ok_and(|b| {
        hebb_core::frame::peek(&b).is_ok_and(|h| h.family == hebb_core::frame::FAMILY_DIEHL_COOK)
    }) {
        return eval_diehl_cook(a, &path);
    }
    let (net, _) = load_net(&a.model)?;
    let Some(r) = net.readout.as_ref() else {
        bail!(
            "{} has no readout (train it to the end first)",
            a.model.display()
        )
    };
    let split = parse_data(&a.data)
        .load_for(&net.encoder, None)
        .with_context(|| format!("loading data set `{}`", a.data))?;
    check_fits(FitTarget::Model(&net), &split, &a.data)?;
    let mut be = open_backend(&a.dev)?;
    let t = std::time::Instant::now();
    let f = be.features(&net, &split.test.images)?;
    let secs = t.elapsed().as_secs_f64();
    let (acc, conf) = crate::readout::evaluate(r, &f, &split.test.labels);
    out!(
        "test accuracy: {:.2} % ({} images, {:.0} images/s)",
        100.0 * acc,
        split.test.len(),
        split.test.len() as f64 / secs.max(1e-9)
    )?;
    out!(
        "confusion matrix (rows: true, columns: predicted):\n{}",
        confusion_text(&conf)
    )?;
    if a.train || !a.refit_c.is_empty() {
        let ft = be.features(&net, &split.train.images)?;
        let (acc, _) = crate::readout::evaluate(r, &ft, &split.train.labels);
        out!("train accuracy: {:.2} %", 100.0 * acc)?;
        if a.refit_c.is_empty() {
            return Ok(0);
        }
        let e = &net.encoder;
        let frames = (e.n_in() / (usize::from(e.h()) * usize::from(e.w()))).max(1);
        let (ai, al) = crate::readout::augment(
            &split.train.images,
            &split.train.labels,
            frames,
            split.train.rows / frames,
            split.train.cols,
            a.refit_shift,
        );
        let ft = if a.refit_shift > 0 {
            be.features(&net, &ai)?
        } else {
            ft
        };
        let x = crate::readout::Sparse::from_features(&ft);
        for &c in &a.refit_c {
            let r2 = crate::readout::train(&x, &al, r.n_classes, c, 40, 42);
            let (tr, _) = crate::readout::evaluate(&r2, &ft, &al);
            let (te, _) = crate::readout::evaluate(&r2, &f, &split.test.labels);
            out!(
                "refit C = {c}: train {:.2} %, test {:.2} %",
                100.0 * tr,
                100.0 * te
            )?;
        }
    }
    Ok(0)
}

/// `hebb eval` of a Diehl & Cook network: both votes on the test split (and the training
/// split with `--train`), each digit from rest with its seeded Poisson stream, as the run's
/// test pass.
fn eval_diehl_cook(a: &EvalArgs, path: &std::path::Path) -> Result<i32> {
    use crate::family::diehl_cook::{DiehlCook, model::ModelFile};
    use crate::run::Trainer;
    if !a.refit_c.is_empty() || a.refit_shift > 0 {
        bail!(
            "--refit-c and --refit-shift refit a linear readout; a Diehl & Cook network has none"
        );
    }
    let bytes = crate::io::read_hebb(path, "model")?;
    let f = ModelFile::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid model", path.display()))?;
    let t = DiehlCook::from_model(f)?;
    let split = parse_data(&a.data)
        .load()
        .with_context(|| format!("loading data set `{}`", a.data))?;
    t.check_data(&split)?;
    let mut sets = vec![("test", &split.test)];
    if a.train {
        sets.push(("train", &split.train));
    }
    for (name, d) in sets {
        let digits: Vec<&[u8]> = (0..d.len()).map(|i| d.image(i)).collect();
        let start = std::time::Instant::now();
        let preds = t.predict_batch(&digits)?;
        let secs = start.elapsed().as_secs_f64();
        let classes = d.n_classes;
        let mut conf = vec![vec![0u32; classes]; classes];
        let (mut all, mut prop) = (0usize, 0usize);
        for (p, &l) in preds.iter().zip(&d.labels) {
            all += usize::from(p.class == Some(l));
            prop += usize::from(p.class_proportion == Some(l));
            if let Some(k) = p.class
                && let Some(x) = conf
                    .get_mut(usize::from(l))
                    .and_then(|r| r.get_mut(usize::from(k)))
            {
                *x += 1;
            }
        }
        let n = d.len().max(1) as f64;
        out!(
            "{name} accuracy: {:.2} % (all activity), {:.2} % (proportion) ({} digits, {:.0} digits/s)",
            100.0 * all as f64 / n,
            100.0 * prop as f64 / n,
            d.len(),
            d.len() as f64 / secs.max(1e-9)
        )?;
        if name == "test" {
            out!(
                "confusion matrix, all-activity vote (rows: true, columns: predicted):\n{}",
                confusion_text(&conf)
            )?;
        }
    }
    Ok(0)
}
