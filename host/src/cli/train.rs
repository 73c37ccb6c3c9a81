//! `hebb train`.

use super::{DeviceArgs, open_backend, out, parse_data};
use crate::config::TrainConfig;
use crate::data::DataSource;
use crate::family::conv_stdp::{ConvStdp, read_checkpoint};
use crate::family::diehl_cook::{self as dc, DiehlCook, config::DiehlCookConfig};
use crate::family::ei::{EiNetwork, config::EiConfig};
use crate::family::rules::config::{self as rules_config, RulesConfig};
use crate::family::rules::{LocalRules, task::Task};
use crate::log::Level;
use crate::run::{self, ProgressConfig, RunFolder, RunOptions, RunOutcome, RunState, Trainer};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// `hebb train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config file (may name a `preset` and override its keys).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Built-in preset: kheradpisheh2018, igarss2023 (events), igarss2023-images,
    /// nmnist-events, mcu (convolutional STDP); hopfield-mnist,
    /// hopfield-mnist-storkey, hopfield-random, oja-gaussian, sanger-gaussian, oja-digits,
    /// sanger-digits, bcm-bars, stdp-pattern (local rules); diehl2015, diehl2015-inh40, diehl2015-400,
    /// diehl2015-1600, diehl2015-6400 (Diehl & Cook 2015); dp-homeostatic, dp-homeostatic-small
    /// (the conductance-based E/I network with homeostatic rules).
    #[arg(long, visible_alias = "preset")]
    pub paper: Option<String>,
    /// Folder that holds the runs.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Run name, a folder name inside --output (default: hebb_YYYYmmdd_HHMMSS, made unique).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Resume from a checkpoint (continues the run it belongs to, as it was configured).
    #[arg(short, long)]
    pub resume: Option<PathBuf>,
    /// Replace what the run folder holds (a finished or interrupted run).
    #[arg(long)]
    pub overwrite: bool,
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
    /// Data: mnist (embedded, default), fashion-mnist, or a folder of IDX files. With --resume,
    /// where the run's data is now (e.g. an absolute path for a run started with a relative one).
    #[arg(long)]
    pub data: Option<String>,
    /// Epoch checkpoints to keep, newest first (0: all).
    #[arg(long, default_value_t = 0)]
    pub keep_checkpoints: usize,
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
    /// Stop as if interrupted when the final phase (the readout fit) starts (for testing).
    #[arg(long, hide = true)]
    pub stop_before_final: bool,
    #[command(flatten)]
    /// Device.
    pub dev: DeviceArgs,
}

const DEFAULT_OUTPUT: &str = "./runs";

fn resolve_config(a: &TrainArgs) -> Result<TrainConfig> {
    let mut cfg = match (&a.config, &a.paper) {
        (Some(p), _) => {
            if a.paper.is_some() {
                tracing::warn!(
                    "both --config and --paper given: the config file wins (name a `preset` inside it to start from one)"
                );
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
    Ok(cfg)
}

/// Flags that would change a resumed run's configuration: refused, since resume continues the
/// run as it was configured.
fn refuse_changes_on_resume(a: &TrainArgs, home: Option<&Path>) -> Result<()> {
    let mut given = Vec::new();
    for (flag, set) in [
        ("-c/--config", a.config.is_some()),
        ("--paper", a.paper.is_some()),
        ("--epochs", a.epochs.is_some()),
        ("--batch", a.batch.is_some()),
        ("--n-classes", a.n_classes.is_some()),
        ("--seed", a.seed.is_some()),
    ] {
        if set {
            given.push(flag);
        }
    }
    // -o / -n may name the run the checkpoint belongs to (scripts pass them every time); they
    // may not move it elsewhere.
    if let Some(home) = home {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        };
        if let Some(o) = &a.output
            && !home.parent().is_some_and(|p| same(p, o))
        {
            given.push("-o/--output");
        }
        if let Some(n) = &a.name
            && home.file_name().is_none_or(|f| f != n.as_str())
        {
            given.push("-n/--name");
        }
    }
    if !given.is_empty() {
        bail!(
            "--resume continues a run as it was configured and written; {} cannot change it (start a new run with -n to train differently)",
            given.join(", ")
        );
    }
    Ok(())
}

/// The folder a resumed run writes to: the run the checkpoint belongs to (refused when it is
/// finished, unless `--overwrite`), or a new one for a checkpoint copied out of its run.
fn resume_folder(
    a: &TrainArgs,
    home: Option<PathBuf>,
    ck: &Path,
    output: &Path,
) -> Result<RunFolder> {
    match home {
        Some(dir) => {
            let f = RunFolder::open(&dir)?;
            if dir.join("model.hebb").exists() && !a.overwrite {
                bail!(
                    "run {} is finished: resuming from {} would replace its model.hebb and metrics_final.json; pass --overwrite to do so, or copy the checkpoint out of the run and resume it with -n NEW_NAME",
                    dir.display(),
                    ck.display()
                );
            }
            Ok(f)
        }
        None => RunFolder::create(output, a.name.as_deref(), a.overwrite),
    }
}

/// The run folder a checkpoint belongs to: `<run>/checkpoints/<file>`.
fn run_of_checkpoint(p: &Path) -> Option<PathBuf> {
    let dir = p.parent()?;
    if dir.file_name()? == "checkpoints" {
        dir.parent().map(Path::to_path_buf)
    } else {
        None
    }
}

/// Runs `hebb train`.
pub fn run(a: TrainArgs) -> Result<i32> {
    let level: Level = a.log_level.parse().map_err(anyhow::Error::msg)?;
    crate::log::init(level);
    if let Some(n) = &a.name {
        run::folder::check_name(n)?;
    }
    if let Some(limit) = a.stop_after_samples
        && limit == 0
    {
        bail!("--stop-after-samples must be >= 1");
    }
    let output = a
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT));
    let progress = ProgressConfig {
        show: !a.no_progress,
    };
    let mut opts = RunOptions {
        tensorboard: !a.no_tensorboard,
        stop_after: a.stop_after_samples,
        keep: a.keep_checkpoints,
        resume: None,
        config_toml: String::new(),
        stop_before_final: a.stop_before_final,
    };
    if let Some(route) = rules_route(&a)? {
        return train_rules(&a, route, &output, progress, opts);
    }
    if let Some(route) = diehl_cook_route(&a)? {
        return train_diehl_cook(&a, route, &output, progress, opts);
    }
    if let Some(route) = ei_route(&a)? {
        return train_ei(&a, route, &output, progress, opts);
    }
    let mut be = open_backend(&a.dev)?;
    // Everything that can fail on the inputs fails before a run folder is created or touched.
    let (mut trainer, split, folder) = match &a.resume {
        Some(ck) => {
            let home = run_of_checkpoint(ck);
            let (net, mut st) = read_checkpoint(ck)?;
            refuse_changes_on_resume(&a, home.as_deref())?;
            if let Some(d) = &a.data {
                st.data = parse_data(d).to_string();
            }
            opts.resume = Some(
                RunState::from_bytes(&st.run)
                    .with_context(|| format!("checkpoint {}", ck.display()))?,
            );
            let t = ConvStdp::resume(net, st, be.as_mut())?;
            let data = t.data_source().clone();
            let split = load(&data, &t.net().encoder, true)?;
            t.check_data(&split)?;
            let folder = resume_folder(&a, home, ck, &output)?;
            tracing::info!(
                "resuming {} at layer {} epoch {} sample {}",
                ck.display(),
                t.state().layer,
                t.state().epoch,
                t.state().pos
            );
            (t, split, folder)
        }
        None => {
            let cfg = resolve_config(&a)?;
            let data = parse_data(a.data.as_deref().unwrap_or("mnist"));
            let split = load(&data, &cfg.encoder_params()?, false)?;
            let t = ConvStdp::new(cfg, data, be.as_mut())?;
            t.check_data(&split)?;
            let folder = RunFolder::create(&output, a.name.as_deref(), a.overwrite)?;
            (t, split, folder)
        }
    };
    trainer.configure_progress(progress);
    opts.config_toml.clone_from(&trainer.state().config);
    drive(&mut trainer, &split, &folder, &opts)
}

/// Runs a trainer in its folder through the shared loop and prints the outcome.
fn drive<T: Trainer>(
    t: &mut T,
    data: &T::Data,
    folder: &RunFolder,
    opts: &RunOptions,
) -> Result<i32> {
    run::interrupt::install();
    tracing::info!("run folder: {}", folder.root().display());
    let meta = Metadata::start(folder, opts.resume.is_some());
    let outcome = run::run(t, data, Some(folder), opts);
    meta.end(
        folder,
        match &outcome {
            Ok(RunOutcome::Done(_)) => "completed",
            Ok(RunOutcome::Interrupted(_)) => "interrupted",
            Err(_) => "failed",
        },
        outcome.as_ref().err().map(|e| format!("{e:#}")),
    );
    match outcome? {
        RunOutcome::Done(fin) => {
            for l in &fin.headline {
                out!("{l}")?;
            }
            out!("model: {}", folder.file("model.hebb").display())?;
            Ok(0)
        }
        RunOutcome::Interrupted(_) => Ok(130),
    }
}

/// `metadata.json`: the command, version, git commit (when run inside a repository), start,
/// end, duration and status of the run (of its latest process, with the first start kept on
/// resume).
struct Metadata {
    value: serde_json::Value,
    t0: std::time::Instant,
}

fn iso(t: crate::log::Utc) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

impl Metadata {
    fn start(folder: &RunFolder, resumed: bool) -> Self {
        let path = folder.file("metadata.json");
        let old: Option<serde_json::Value> = resumed
            .then(|| std::fs::read(&path).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let git = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned());
        let now = iso(crate::log::Utc::now());
        let value = serde_json::json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "version": env!("CARGO_PKG_VERSION"),
            "git_commit": git,
            "first_start": old
                .as_ref()
                .and_then(|o| o.get("first_start").cloned())
                .unwrap_or_else(|| serde_json::Value::String(now.clone())),
            "start": now,
            "resumed": resumed,
            "status": "running",
        });
        let _ = crate::io::write_atomic(&path, value.to_string().as_bytes());
        Self {
            value,
            t0: std::time::Instant::now(),
        }
    }

    fn end(mut self, folder: &RunFolder, status: &str, error: Option<String>) {
        if let Some(m) = self.value.as_object_mut() {
            m.insert("end".into(), iso(crate::log::Utc::now()).into());
            m.insert(
                "duration_seconds".into(),
                self.t0.elapsed().as_secs_f64().into(),
            );
            m.insert("status".into(), status.into());
            if let Some(e) = error {
                m.insert("error".into(), e.into());
            }
        }
        let text = serde_json::to_string_pretty(&self.value).unwrap_or_default();
        if let Err(e) = crate::io::write_atomic(&folder.file("metadata.json"), text.as_bytes()) {
            tracing::warn!("could not write metadata.json: {e}");
        }
    }
}

/// Where a family's run starts from, as read from the command line.
enum Start {
    /// A checkpoint of the family (its bytes).
    Checkpoint(PathBuf, Vec<u8>),
    /// A config file's text.
    Config(PathBuf, String),
    /// A built-in preset.
    Preset(String),
}

/// The run's start when it belongs to the family with model tag `tag`, presets `presets` and
/// config test `is_config`; `None` when it belongs to another family.
fn family_start(
    a: &TrainArgs,
    tag: u16,
    presets: &[&str],
    is_config: fn(&toml::Table) -> bool,
) -> Result<Option<Start>> {
    if let Some(ck) = &a.resume {
        let bytes = crate::io::read_hebb(ck, "checkpoint")?;
        if hebb_core::frame::peek(&bytes)?.family != tag {
            return Ok(None);
        }
        return Ok(Some(Start::Checkpoint(ck.clone(), bytes)));
    }
    Ok(match (&a.config, &a.paper) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            let table = crate::config::parse_table(&text)
                .with_context(|| format!("config {}", p.display()))?;
            if !is_config(&table) {
                return Ok(None);
            }
            if a.paper.is_some() {
                tracing::warn!(
                    "both --config and --paper given: the config file wins (name a `preset` inside it to start from one)"
                );
            }
            Some(Start::Config(p.clone(), text))
        }
        (None, Some(name)) if presets.contains(&name.as_str()) => Some(Start::Preset(name.clone())),
        _ => None,
    })
}

/// `--epochs` when given (refused at 0).
fn epochs_flag(a: &TrainArgs) -> Result<Option<u32>> {
    match a.epochs {
        Some(0) => bail!("--epochs must be >= 1"),
        e => Ok(e.map(u32::from)),
    }
}

/// How a local-rule run starts.
enum RulesRoute {
    New(RulesConfig),
    Resume(PathBuf, crate::family::rules::model::ModelFile),
}

/// A local-rule run, when the preset, the config or the checkpoint says so.
fn rules_route(a: &TrainArgs) -> Result<Option<RulesRoute>> {
    let start = family_start(
        a,
        hebb_core::frame::FAMILY_LOCAL_RULES,
        rules_config::PRESETS,
        rules_config::is_rules_config,
    )?;
    Ok(Some(match start {
        None => return Ok(None),
        Some(Start::Checkpoint(ck, bytes)) => {
            let f = crate::family::rules::model::ModelFile::from_bytes(&bytes)
                .with_context(|| format!("checkpoint {}", ck.display()))?;
            if f.state.is_empty() {
                bail!(
                    "checkpoint {}: it is an exported model, not a checkpoint (it holds no training state)",
                    ck.display()
                );
            }
            RulesRoute::Resume(ck, f)
        }
        Some(Start::Config(p, text)) => RulesRoute::New(
            RulesConfig::from_toml_str(&text).with_context(|| format!("config {}", p.display()))?,
        ),
        Some(Start::Preset(name)) => RulesRoute::New(RulesConfig::preset(&name)?),
    }))
}

fn train_rules(
    a: &TrainArgs,
    route: RulesRoute,
    output: &Path,
    progress: ProgressConfig,
    mut opts: RunOptions,
) -> Result<i32> {
    for (flag, set) in [
        ("--batch", a.batch.is_some()),
        ("--n-classes", a.n_classes.is_some()),
        ("--data", a.data.is_some()),
    ] {
        if set {
            bail!(
                "{flag} is not used by the local-rules family (its data comes from the config's [task])"
            );
        }
    }
    if a.dev.device == "cuda" {
        bail!("the local-rules family runs on the CPU; drop --device cuda");
    }
    let (mut t, task, folder) = match route {
        RulesRoute::Resume(ck, file) => {
            let home = run_of_checkpoint(&ck);
            refuse_changes_on_resume(a, home.as_deref())?;
            let (t, cfg) = LocalRules::resume(file)?;
            opts.resume = Some(
                RunState::from_bytes(&t.state().run)
                    .with_context(|| format!("checkpoint {}", ck.display()))?,
            );
            let task = Task::build(&cfg.task, cfg.seed)?;
            t.check_data(&task)?;
            let folder = resume_folder(a, home, &ck, output)?;
            tracing::info!(
                "resuming {} at epoch {} unit {}",
                ck.display(),
                t.state().epoch,
                t.state().pos
            );
            (t, task, folder)
        }
        RulesRoute::New(mut cfg) => {
            if let Some(e) = epochs_flag(a)? {
                cfg.epochs = e;
            }
            if let Some(s) = a.seed {
                cfg.seed = s;
            }
            cfg.validate()?;
            crate::config::check_budget(
                cfg.memory_estimate(),
                "this task needs about {need} GiB",
                "use fewer neurons, patterns, samples or steps",
            )?;
            let task = Task::build(&cfg.task, cfg.seed)?;
            let t = LocalRules::new(cfg, &task)?;
            let folder = RunFolder::create(output, a.name.as_deref(), a.overwrite)?;
            (t, task, folder)
        }
    };
    t.configure_progress(progress);
    opts.config_toml = t.config().to_toml();
    drive(&mut t, &task, &folder, &opts)
}

/// How a Diehl & Cook run starts.
enum DiehlCookRoute {
    New(Box<DiehlCookConfig>),
    Resume(PathBuf, Box<dc::model::ModelFile>),
}

/// A Diehl & Cook run, when the preset, the config or the checkpoint says so.
fn diehl_cook_route(a: &TrainArgs) -> Result<Option<DiehlCookRoute>> {
    let start = family_start(
        a,
        hebb_core::frame::FAMILY_DIEHL_COOK,
        dc::config::PRESETS,
        dc::config::is_diehl_cook_config,
    )?;
    Ok(Some(match start {
        None => return Ok(None),
        Some(Start::Checkpoint(ck, bytes)) => {
            let f = dc::model::ModelFile::from_bytes(&bytes)
                .with_context(|| format!("checkpoint {}", ck.display()))?;
            DiehlCookRoute::Resume(ck, Box::new(f))
        }
        Some(Start::Config(p, text)) => DiehlCookRoute::New(Box::new(
            DiehlCookConfig::from_toml_str(&text)
                .with_context(|| format!("config {}", p.display()))?,
        )),
        Some(Start::Preset(name)) => DiehlCookRoute::New(Box::new(DiehlCookConfig::preset(&name)?)),
    }))
}

fn train_diehl_cook(
    a: &TrainArgs,
    route: DiehlCookRoute,
    output: &Path,
    progress: ProgressConfig,
    mut opts: RunOptions,
) -> Result<i32> {
    for (flag, set) in [
        ("--batch", a.batch.is_some()),
        ("--n-classes", a.n_classes.is_some()),
    ] {
        if set {
            bail!(
                "{flag} is not used by the diehl-cook family (one digit at a time, classes from the data)"
            );
        }
    }
    if a.dev.device == "cuda" {
        bail!(
            "the diehl-cook family runs on the CPU (event-driven integer steps); drop --device cuda"
        );
    }
    let (mut t, split, folder) = match route {
        DiehlCookRoute::Resume(ck, file) => {
            let home = run_of_checkpoint(&ck);
            refuse_changes_on_resume(a, home.as_deref())?;
            let t =
                DiehlCook::resume(*file).with_context(|| format!("checkpoint {}", ck.display()))?;
            opts.resume = Some(
                RunState::from_bytes(&t.state().run)
                    .with_context(|| format!("checkpoint {}", ck.display()))?,
            );
            let data = parse_data(a.data.as_deref().unwrap_or(&t.config().data));
            let split = data
                .load()
                .with_context(|| format!("loading data set `{data}`"))?;
            t.check_data(&split)?;
            let folder = resume_folder(a, home, &ck, output)?;
            tracing::info!(
                "resuming {} at epoch {} digit {}",
                ck.display(),
                t.state().epoch,
                t.state().pos
            );
            (t, split, folder)
        }
        DiehlCookRoute::New(mut cfg) => {
            if let Some(e) = epochs_flag(a)? {
                cfg.epochs = e;
            }
            if let Some(s) = a.seed {
                cfg.seed = s;
            }
            if let Some(d) = &a.data {
                cfg.data = parse_data(d).to_string();
            }
            cfg.validate()?;
            crate::config::check_budget(
                cfg.memory_estimate(),
                "this network needs about {need} GiB",
                "use fewer neurons",
            )?;
            let data = parse_data(&cfg.data);
            let split = data
                .load()
                .with_context(|| format!("loading data set `{data}`"))?;
            let t = DiehlCook::new(*cfg, &split)?;
            t.check_data(&split)?;
            let folder = RunFolder::create(output, a.name.as_deref(), a.overwrite)?;
            (t, split, folder)
        }
    };
    t.configure_progress(progress);
    opts.config_toml = t.config().to_toml();
    drive(&mut t, &split, &folder, &opts)
}

/// How an E/I network run starts.
enum EiRoute {
    New(Box<EiConfig>),
    Resume(PathBuf, Box<crate::family::ei::model::ModelFile>),
}

/// An E/I network run, when the preset, the parameters file or the checkpoint says so.
fn ei_route(a: &TrainArgs) -> Result<Option<EiRoute>> {
    use crate::family::ei::{config as ec, model::ModelFile};
    let start = family_start(
        a,
        hebb_core::frame::FAMILY_EI_NETWORK,
        ec::PRESETS,
        ec::is_ei_config,
    )?;
    Ok(Some(match start {
        None => return Ok(None),
        Some(Start::Checkpoint(ck, bytes)) => {
            let f = ModelFile::from_bytes(&bytes)
                .with_context(|| format!("checkpoint {}", ck.display()))?;
            if f.resume.is_none() {
                bail!(
                    "checkpoint {}: it is an exported model, not a checkpoint (it holds no training state)",
                    ck.display()
                );
            }
            EiRoute::Resume(ck, Box::new(f))
        }
        Some(Start::Config(p, text)) => EiRoute::New(Box::new(
            EiConfig::from_toml_str(&text).with_context(|| format!("config {}", p.display()))?,
        )),
        Some(Start::Preset(name)) => EiRoute::New(Box::new(EiConfig::preset(&name)?)),
    }))
}

fn train_ei(
    a: &TrainArgs,
    route: EiRoute,
    output: &Path,
    progress: ProgressConfig,
    mut opts: RunOptions,
) -> Result<i32> {
    for (flag, set) in [
        ("--batch", a.batch.is_some()),
        ("--n-classes", a.n_classes.is_some()),
        ("--data", a.data.is_some()),
    ] {
        if set {
            bail!(
                "{flag} is not used by the ei-network family (its inputs are Poisson trains from the parameters file)"
            );
        }
    }
    if a.dev.device == "cuda" {
        bail!(
            "the ei-network family runs on the CPU (event-driven sparse steps); drop --device cuda"
        );
    }
    let (mut t, folder) = match route {
        EiRoute::Resume(ck, file) => {
            let home = run_of_checkpoint(&ck);
            refuse_changes_on_resume(a, home.as_deref())?;
            let t =
                EiNetwork::resume(*file).with_context(|| format!("checkpoint {}", ck.display()))?;
            opts.resume = Some(
                RunState::from_bytes(&t.state().run)
                    .with_context(|| format!("checkpoint {}", ck.display()))?,
            );
            let folder = resume_folder(a, home, &ck, output)?;
            tracing::info!(
                "resuming {} at epoch {} step {}",
                ck.display(),
                t.state().epoch,
                t.state().pos
            );
            (t, folder)
        }
        EiRoute::New(mut cfg) => {
            if let Some(e) = epochs_flag(a)? {
                cfg.simulation.epochs = e;
            }
            if let Some(s) = a.seed {
                cfg.simulation.seed = s;
            }
            cfg.validate()?;
            crate::config::check_budget(
                cfg.memory_estimate(),
                "this network needs about {need} GiB",
                "use fewer cells or sparser connections",
            )?;
            let t = EiNetwork::new(*cfg)?;
            let folder = RunFolder::create(output, a.name.as_deref(), a.overwrite)?;
            if let Some(p) = &a.config {
                // The parameters file as given, beside the resolved config.
                let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                crate::io::write_atomic(&folder.file("parameters.toml"), &text)
                    .context("writing parameters.toml")?;
            }
            (t, folder)
        }
    };
    t.configure_progress(progress);
    opts.config_toml = t.config().to_toml();
    drive(&mut t, &(), &folder, &opts)
}

fn load(
    data: &DataSource,
    enc: &hebb_core::encode::EncoderParams,
    resuming: bool,
) -> Result<crate::data::Split> {
    data.load_for(enc, None).with_context(|| {
        if resuming && matches!(data, DataSource::IdxDir(p) if p.is_relative()) {
            format!("loading data set `{data}` (the run was started with a relative path: pass --data with where it is now)")
        } else {
            format!("loading data set `{data}`")
        }
    })
}
