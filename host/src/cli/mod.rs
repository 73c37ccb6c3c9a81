//! The `hebb` command line: one module per command.

mod detect;
mod eval;
pub mod events;
pub mod events_synth;
mod export;
mod inspect;
mod predict;
mod train;

pub use detect::DetectArgs;
pub use eval::EvalArgs;
pub use events::{EventsCmd, InspectEventsArgs};
pub use export::ExportArgs;
pub use inspect::InspectArgs;
pub use predict::PredictArgs;
pub use train::TrainArgs;

use crate::backend::{self, DeviceChoice};
use crate::data::DataSource;
use crate::net::Net;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Writes a line to stdout, returning the error instead of panicking (a closed pipe or a full
/// disk); `main` ends quietly on a broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| anyhow::Error::new(e).context("writing to stdout"))
    }};
}
pub(crate) use out;

/// hebb: spiking networks that learn with STDP, on the CPU, a CUDA GPU or a microcontroller.
#[derive(Debug, Parser)]
#[command(name = "hebb", version, about, long_about = None)]
pub struct Cli {
    /// Command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Train a network (the family comes from the config or preset).
    Train(TrainArgs),
    /// Accuracy and confusion matrix of a model on a data set's test split.
    Eval(EvalArgs),
    /// Predict classes of test images.
    Predict(PredictArgs),
    /// Export a model (or the model of a checkpoint) for deployment.
    Export(ExportArgs),
    /// Describe a model or checkpoint file.
    Inspect(InspectArgs),
    /// Measure training and inference speed and peak memory.
    Bench(crate::bench::BenchArgs),
    /// Objects and tracks in an event recording (SpikeSEG's HULK + SMASH), scored against its
    /// labels beside trivial baselines.
    Detect(DetectArgs),
    /// Event-camera recordings (AEDAT4, N-MNIST .bin, EBSSA .mat, .npy, CSV).
    Events {
        /// What to do.
        #[command(subcommand)]
        cmd: EventsCmd,
    },
}

/// Options shared by commands that compute.
#[derive(Debug, Args, Clone)]
pub struct DeviceArgs {
    /// Compute device: auto (a GPU when usable), cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Train(a) => train::run(a),
        Cmd::Eval(a) => eval::run(&a),
        Cmd::Predict(a) => predict::run(&a),
        Cmd::Export(a) => export::run(&a),
        Cmd::Inspect(a) => inspect::run(&a),
        Cmd::Bench(a) => crate::bench::run(&a),
        Cmd::Detect(a) => detect::run(&a),
        Cmd::Events { cmd } => events::run(&cmd),
    }
}

/// True when `e` is a write to a closed pipe (`hebb inspect … | head -1`): not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn parse_data(s: &str) -> DataSource {
    match s.parse() {
        Ok(d) => d,
        Err(e) => match e {},
    }
}

fn open_backend(dev: &DeviceArgs) -> Result<Box<dyn backend::Backend>> {
    let choice: DeviceChoice = dev.device.parse().map_err(anyhow::Error::msg)?;
    let (be, why) = backend::open(choice)?;
    if let Some(why) = why {
        tracing::info!("no usable GPU ({why}); using the CPU");
    }
    tracing::info!("device: {}", be.name());
    Ok(be)
}

/// Resolves a path that may be a run folder to its model file.
pub(crate) fn model_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("model.hebb")
    } else {
        p.to_path_buf()
    }
}

fn load_net(p: &Path) -> Result<(Net, Vec<u8>)> {
    let p = model_path(p);
    let bytes = crate::io::read_hebb(&p, "model")?;
    if hebb_core::frame::peek(&bytes)
        .is_ok_and(|h| h.family == hebb_core::frame::FAMILY_LOCAL_RULES)
    {
        anyhow::bail!(
            "{} is a local-rules model (Hopfield memory, Oja/Sanger/BCM or trace-STDP layer), not a classifier: use `hebb predict` to recall from it and `hebb inspect` to describe it",
            p.display()
        );
    }
    if hebb_core::frame::peek(&bytes).is_ok_and(|h| h.family == hebb_core::frame::FAMILY_DIEHL_COOK)
    {
        anyhow::bail!(
            "{} is a Diehl & Cook network (labels by response, no readout or layers to export): use `hebb eval` to score it and `hebb inspect` to describe it",
            p.display()
        );
    }
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("{} is not a valid model", p.display()))?;
    let net = Net::from_model(&m);
    drop(m);
    Ok((net, bytes))
}
