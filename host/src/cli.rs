//! The `hebb` command line.

use crate::backend::{self, DeviceChoice};
use crate::config::TrainConfig;
use crate::data::DataSource;
use crate::log::{Level, Log};
use crate::net::Net;
use crate::train::{self, Outcome, TrainOptions};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

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
    /// Train a network layer by layer with STDP, then fit the readout.
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
    Bench(BenchArgs),
}

/// Options shared by commands that compute.
#[derive(Debug, Args, Clone)]
pub struct DeviceArgs {
    /// Compute device: auto (a GPU when usable), cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// `hebb train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config file (may name a `preset` and override its keys).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Built-in preset: kheradpisheh2018, igarss2023 or mcu.
    #[arg(long, visible_alias = "preset")]
    pub paper: Option<String>,
    /// Folder that holds the runs.
    #[arg(short, long, default_value = "./runs")]
    pub output: PathBuf,
    /// Run name (default: hebb_YYYYmmdd_HHMMSS).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Resume from a checkpoint.
    #[arg(short, long)]
    pub resume: Option<PathBuf>,
    /// Epoch budget of every layer (overrides the config).
    #[arg(long)]
    pub epochs: Option<u16>,
    /// Mini-batch of every layer (overrides the config; 1 = sample after sample).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Number of classes of the readout.
    #[arg(long)]
    pub n_classes: Option<u16>,
    /// Seed of everything random.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data: mnist (embedded, default), fashion-mnist, or a folder of IDX files.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Log level: DEBUG, INFO, WARNING, ERROR.
    #[arg(long, default_value = "INFO")]
    pub log_level: String,
    /// Do not write TensorBoard events.
    #[arg(long)]
    pub no_tensorboard: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Stop as if interrupted after this many training samples, rounded up to a whole
    /// mini-batch (for testing resume).
    #[arg(long, hide = true)]
    pub stop_after_samples: Option<u64>,
    #[command(flatten)]
    /// Device.
    pub dev: DeviceArgs,
}

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
    /// pixels.
    #[arg(long, default_value_t = 0)]
    pub refit_shift: u8,
    #[command(flatten)]
    /// Device.
    pub dev: DeviceArgs,
}

/// `hebb predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model file.
    pub model: PathBuf,
    /// Data set.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Test images to classify (indices); default: the first 10.
    #[arg(long, value_delimiter = ',')]
    pub index: Vec<usize>,
}

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

/// `hebb inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model or checkpoint file.
    pub file: PathBuf,
}

/// `hebb bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Preset to measure.
    #[arg(long, visible_alias = "preset", default_value = "kheradpisheh2018")]
    pub paper: String,
    /// Data set.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Training samples per layer measurement (default: one epoch of the training split).
    #[arg(long, default_value_t = usize::MAX)]
    pub samples: usize,
    /// Write the results as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Mini-batch sizes to time each layer's training with (comma-separated, e.g. `1,16,64`);
    /// each starts from the same weights, and the first one's result feeds the next layer.
    #[arg(long, value_delimiter = ',', default_value = "1",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::config::MAX_BATCH)))]
    pub batch: Vec<u32>,
    /// Times the feature extraction stage is run; the table shows the median run (shared
    /// machines are noisy), the line below it the fastest and slowest.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    #[command(flatten)]
    /// Device.
    pub dev: DeviceArgs,
}

fn parse_data(s: &str) -> DataSource {
    match s.parse() {
        Ok(d) => d,
        Err(e) => match e {},
    }
}

fn open_backend(dev: &DeviceArgs, log: &Log) -> Result<Box<dyn backend::Backend>> {
    let choice: DeviceChoice = dev.device.parse().map_err(anyhow::Error::msg)?;
    let (be, why) = backend::open(choice)?;
    if let Some(why) = why {
        log.info(&format!("no usable GPU ({why}); using the CPU"));
    }
    log.info(&format!("device: {}", be.name()));
    Ok(be)
}

/// Resolves a path that may be a run folder to its model file.
fn model_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("model.hebb")
    } else {
        p.to_path_buf()
    }
}

fn load_net(p: &Path) -> Result<(Net, Vec<u8>)> {
    let p = model_path(p);
    let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("{} is not a valid model", p.display()))?;
    let net = Net::from_model(&m);
    drop(m);
    Ok((net, bytes))
}

fn run_name() -> String {
    let t = crate::log::Utc::now();
    format!(
        "hebb_{:04}{:02}{:02}_{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Train(a) => cmd_train(a),
        Cmd::Eval(a) => cmd_eval(&a),
        Cmd::Predict(a) => cmd_predict(&a),
        Cmd::Export(a) => cmd_export(&a),
        Cmd::Inspect(a) => cmd_inspect(&a),
        Cmd::Bench(a) => crate::bench::run(&a),
    }
}

fn cmd_train(a: TrainArgs) -> Result<i32> {
    let level: Level = a.log_level.parse().map_err(anyhow::Error::msg)?;
    let log = Log::new(level);
    let mut cfg = match (&a.config, &a.paper) {
        (Some(p), _) => {
            if a.paper.is_some() {
                log.warn("both --config and --paper given: the config file wins (name a `preset` inside it to start from one)");
            }
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            TrainConfig::from_toml_str(&text).with_context(|| format!("config {}", p.display()))?
        }
        (None, Some(name)) => TrainConfig::preset(name)?,
        (None, None) => TrainConfig::preset("kheradpisheh2018")?,
    };
    if let Some(e) = a.epochs {
        if e == 0 {
            bail!("--epochs must be >= 1");
        }
        cfg.layers.iter_mut().for_each(|l| l.epochs = e);
    }
    if let Some(b) = a.batch {
        cfg.layers.iter_mut().for_each(|l| l.batch = b);
    }
    if let Some(n) = a.n_classes {
        cfg.n_classes = n;
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    cfg.validate()?;
    let data = parse_data(&a.data);
    let run_dir = match (&a.resume, &a.name) {
        (Some(r), _) => {
            // runs/<name>/checkpoints/<file>: resume writes into the same run folder.
            let p = r.parent().and_then(Path::parent).map(Path::to_path_buf);
            match p {
                Some(p) if r.parent().is_some_and(|c| c.ends_with("checkpoints")) => p,
                _ => a.output.join(a.name.clone().unwrap_or_else(run_name)),
            }
        }
        (None, Some(n)) => a.output.join(n),
        (None, None) => a.output.join(run_name()),
    };
    if a.resume.is_none() && run_dir.join("model.hebb").exists() {
        bail!(
            "run folder {} already holds a finished run; choose another --name",
            run_dir.display()
        );
    }
    let mut be = open_backend(&a.dev, &log)?;
    let _ = ctrlc::set_handler(|| {
        if train::INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let opts = TrainOptions {
        config: cfg,
        data,
        run_dir: run_dir.clone(),
        resume: a.resume.clone(),
        tensorboard: !a.no_tensorboard,
        progress: !a.no_progress,
        stop_after: a.stop_after_samples,
    };
    log.info(&format!("run folder: {}", run_dir.display()));
    match train::train(&opts, be.as_mut(), &log)? {
        Outcome::Done { test_accuracy, .. } => {
            println!("test accuracy: {:.2} %", 100.0 * test_accuracy);
            println!("model: {}", run_dir.join("model.hebb").display());
            Ok(0)
        }
        Outcome::Interrupted(_) => Ok(130),
    }
}

fn cmd_eval(a: &EvalArgs) -> Result<i32> {
    let log = Log::new(Level::Info);
    let (net, _) = load_net(&a.model)?;
    let Some(r) = net.readout.as_ref() else {
        bail!(
            "{} has no readout (train it to the end first)",
            a.model.display()
        )
    };
    let split = parse_data(&a.data).load()?;
    let mut be = open_backend(&a.dev, &log)?;
    let t = std::time::Instant::now();
    let f = be.features(&net, &split.test.images)?;
    let secs = t.elapsed().as_secs_f64();
    let (acc, conf) = crate::readout::evaluate(r, &f, &split.test.labels);
    println!(
        "test accuracy: {:.2} % ({} images, {:.0} images/s)",
        100.0 * acc,
        split.test.len(),
        split.test.len() as f64 / secs.max(1e-9)
    );
    println!(
        "confusion matrix (rows: true, columns: predicted):\n{}",
        train::confusion_text(&conf)
    );
    if a.train || !a.refit_c.is_empty() {
        let ft = be.features(&net, &split.train.images)?;
        let (acc, _) = crate::readout::evaluate(r, &ft, &split.train.labels);
        println!("train accuracy: {:.2} %", 100.0 * acc);
        let (ai, al) = crate::readout::augment(
            &split.train.images,
            &split.train.labels,
            split.train.rows,
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
            if !(c.is_finite() && c > 0.0) {
                bail!("--refit-c values must be > 0, got {c}");
            }
            let r2 = crate::readout::train(&x, &al, r.n_classes, c, 40, 42);
            let (tr, _) = crate::readout::evaluate(&r2, &ft, &al);
            let (te, _) = crate::readout::evaluate(&r2, &f, &split.test.labels);
            println!(
                "refit C = {c}: train {:.2} %, test {:.2} %",
                100.0 * tr,
                100.0 * te
            );
        }
    }
    Ok(0)
}

fn cmd_predict(a: &PredictArgs) -> Result<i32> {
    let (net, bytes) = load_net(&a.model)?;
    let m = hebb_core::model::Model::decode(&bytes)?;
    let Some(r) = m.readout.as_ref() else {
        bail!("{} has no readout", a.model.display())
    };
    let split = parse_data(&a.data).load()?;
    let idx: Vec<usize> = if a.index.is_empty() {
        (0..10.min(split.test.len())).collect()
    } else {
        a.index.clone()
    };
    let mut buf = crate::backend::cpu::InferBuffers::new(&net);
    let w: Vec<&[u16]> = net.weights.iter().map(Vec::as_slice).collect();
    let th: Vec<&[i32]> = net.thresholds.iter().map(Vec::as_slice).collect();
    let mut feat = vec![0u32; hebb_core::spikes::words(net.n_features())];
    let mut scores = vec![0i32; r.n_classes as usize];
    for i in idx {
        if i >= split.test.len() {
            bail!(
                "index {i} out of range (test split has {} images)",
                split.test.len()
            );
        }
        let n = hebb_core::network::features(
            &m,
            &net.filters,
            &w,
            &th,
            split.test.image(i),
            &mut buf.scratch(),
            &mut feat,
        )?;
        r.scores(&feat, &mut scores)?;
        let p = hebb_core::readout::argmax(&scores).unwrap_or(0);
        println!(
            "image {i}: predicted {p}, label {}, {n} active features",
            split.test.labels[i]
        );
    }
    Ok(0)
}

fn cmd_export(a: &ExportArgs) -> Result<i32> {
    if a.bits != 8 && a.bits != 16 {
        bail!("--bits must be 8 or 16, not {}", a.bits);
    }
    let src = model_path(&a.model);
    let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
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
    // The firmware's test samples load before anything is written, so bad data writes nothing.
    let firmware = match &a.firmware {
        Some(dir) => {
            let split = parse_data(&a.data)
                .load()
                .with_context(|| format!("loading `{}` for the firmware's test samples", a.data))?;
            Some((dir, split))
        }
        None => None,
    };
    let out = a.output.clone().unwrap_or_else(|| {
        src.with_file_name(format!(
            "model-export{}.hebb",
            if a.bits == 8 { "-8bit" } else { "" }
        ))
    });
    crate::io::write_atomic(&out, &out_bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} bytes, {}-bit weights)",
        out.display(),
        out_bytes.len(),
        a.bits
    );
    if let Some((dir, split)) = &firmware {
        export_firmware(&out_bytes, dir, split)?;
    }
    Ok(0)
}

fn export_firmware(model: &[u8], dir: &Path, split: &crate::data::Split) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let s = crate::firmware::write_fixtures(model, &split.test, dir, 64, 8)?;
    println!("firmware fixtures written to {}: {s:?}", dir.display());
    println!("build and run them with scripts/firmware-check.sh");
    Ok(())
}

fn cmd_inspect(a: &InspectArgs) -> Result<i32> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("{} is not a valid model", a.file.display()))?;
    let p = &m.provenance;
    println!(
        "{}: {} bytes, format v{}",
        a.file.display(),
        bytes.len(),
        hebb_core::model::FORMAT_VERSION
    );
    println!(
        "written by {}; preset `{}`, data `{}`, seed {}, epochs per layer {:?}",
        p.writer,
        p.preset,
        p.dataset,
        p.seed,
        p.epochs.as_slice()
    );
    if p.test_accuracy.is_finite() {
        println!("test accuracy: {:.2} %", 100.0 * p.test_accuracy);
    }
    let e = &m.encoder;
    println!(
        "encoder: {}×{} image, {} filters {}×{}, threshold {:.1}, normalisation radius {}, {} steps, {:?}",
        e.h(),
        e.w(),
        e.n_filters(),
        e.k(),
        e.k(),
        hebb_core::q::potential_to_f64(e.threshold()),
        e.norm_radius(),
        e.steps(),
        e.mode()
    );
    for (i, (a, l)) in m.arch.iter().zip(m.layers.iter()).enumerate() {
        let g = &a.conv;
        let th: Vec<i32> = (0..g.out_c() as usize)
            .filter_map(|j| hebb_core::model::le_i32(l.thresholds, j))
            .collect();
        let w: Vec<u16> = match l.view() {
            hebb_core::model::LayerWeights::W16(v) => (0..g.n_weights())
                .map(|j| hebb_core::conv::WeightRow::get(&v, j))
                .collect(),
            hebb_core::model::LayerWeights::W8(v) => (0..g.n_weights())
                .map(|j| hebb_core::conv::WeightRow::get(&v, j))
                .collect(),
        };
        println!(
            "layer {}: {:?} → {} maps {}×{} stride {} pad {} → {:?}{}; {:?}; {}-bit weights, C_l {:.4}, thresholds {:.3}..{:.3}",
            i + 1,
            g.input(),
            g.out_c(),
            g.k(),
            g.k(),
            g.stride(),
            g.pad(),
            g.output(),
            a.pool.map_or(String::new(), |p| format!(
                " → pool {}/{}/{} → {:?}",
                p.k(),
                p.stride(),
                p.pad(),
                p.output()
            )),
            a.neuron,
            l.bits,
            hebb_core::convergence::c_l(&w),
            hebb_core::q::potential_to_f64(th.iter().copied().min().unwrap_or(0)),
            hebb_core::q::potential_to_f64(th.iter().copied().max().unwrap_or(0)),
        );
    }
    match &m.readout {
        Some(r) => println!(
            "readout: {} features × {} classes, {}-bit",
            r.n_features, r.n_classes, r.bits
        ),
        None => println!("readout: none"),
    }
    if m.state.is_empty() {
        println!("kind: exported model");
    } else {
        match postcard::from_bytes::<train::TrainState>(m.state) {
            Ok(st) => println!(
                "kind: checkpoint at layer {} epoch {} sample {} ({} samples trained in total)",
                st.layer + 1,
                st.epoch,
                st.pos,
                st.total_samples
            ),
            Err(e) => println!("kind: checkpoint with unreadable training state ({e})"),
        }
    }
    Ok(0)
}
