//! `hebb export`.

use super::{model_path, out, parse_data};
use crate::family::conv_stdp::{FitTarget, check_fits};
use crate::net::Net;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// `hebb export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model, checkpoint or run folder.
    pub model: PathBuf,
    /// Output file (default: next to the input, `model-export.hebb`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Weight width: 16 or 8 bits.
    #[arg(long, default_value_t = 16)]
    pub bits: u8,
    /// Also write the firmware's model and fixtures into this folder (default `firmware/`).
    #[arg(long, num_args = 0..=1, default_missing_value = "firmware")]
    pub firmware: Option<PathBuf>,
    /// Data set the firmware's test samples come from.
    #[arg(long, default_value = "mnist")]
    pub data: String,
}

/// Runs `hebb export`.
pub fn run(a: &ExportArgs) -> Result<i32> {
    if a.bits != 8 && a.bits != 16 {
        bail!("--bits must be 8 or 16, not {}", a.bits);
    }
    let src = model_path(&a.model);
    let bytes = crate::io::read_hebb(&src, "model")?;
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("{} is not a valid model", src.display()))?;
    let net = Net::from_model(&m);
    let prov = crate::net::ProvenanceOwned {
        preset: m.provenance.preset.into(),
        dataset: m.provenance.dataset.into(),
        seed: m.provenance.seed,
        epochs: m.provenance.epochs.to_vec(),
        test_accuracy: m.provenance.test_accuracy,
    };
    let out_bytes = net.to_bytes(&prov, &[], a.bits)?;
    let out = a.output.clone().unwrap_or_else(|| {
        src.with_file_name(format!(
            "model-export{}.hebb",
            if a.bits == 8 { "-8bit" } else { "" }
        ))
    });
    crate::io::check_writable(&out)?;
    // The firmware's data and fixtures are checked (and computed) before anything is written,
    // so bad data writes nothing.
    if let Some(dir) = &a.firmware {
        let split = parse_data(&a.data)
            .load_for(&net.encoder, None)
            .with_context(|| format!("loading `{}` for the firmware's test samples", a.data))?;
        check_fits(FitTarget::Model(&net), &split, &a.data)?;
        export_firmware(&out_bytes, dir, &split)?;
    }
    crate::io::write_atomic(&out, &out_bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    out!(
        "wrote {} ({} bytes, {}-bit weights)",
        out.display(),
        out_bytes.len(),
        a.bits
    )?;
    Ok(0)
}

fn export_firmware(model: &[u8], dir: &Path, split: &crate::data::Split) -> Result<()> {
    let s = crate::firmware::write_fixtures(model, &split.test, dir, 64, 8)?;
    out!("firmware fixtures written to {}: {s:?}", dir.display())?;
    out!("build and run them with scripts/firmware-check.sh")?;
    Ok(())
}
