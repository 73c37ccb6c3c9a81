//! Convolutional STDP (Kheradpisheh et al. 2018, SpikeSEG): each learned layer trains in turn
//! with STDP + WTA on the outputs of the frozen layers before it, with its own epoch budget and
//! stop rule (the core's [`StopState`]); then a linear readout is fitted on the features of the
//! whole network. A family of the shared run loop.

use crate::backend::{Backend, LayerState, LrState, SpikeCache, TrainJob, TrainStats};
use crate::config::TrainConfig;
use crate::data::{DataSource, Split};
use crate::family::Family;
use crate::net::{LayerTrain, Net, ProvenanceOwned, layer_train};
use crate::run::{Ctx, EpochReport, FinalReport, ProgressConfig, Trainer};
use anyhow::{Context, Result, bail};
use hebb_core::convergence::{self, StopReason, StopRule, StopState};
use hebb_core::rng::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Samples between interruption checks and progress updates.
const CHUNK: u64 = 250;

/// Training state saved in every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Resolved config (TOML).
    pub config: String,
    /// Data set name.
    pub data: String,
    /// Layer in training (`== layers` once all are trained).
    pub layer: usize,
    /// Epochs finished in this layer.
    pub epoch: u16,
    /// Samples done in the current epoch.
    pub pos: u64,
    /// Learning rate state of the layer in training.
    pub lr: Option<LrState>,
    /// The stop rule's progress in the layer in training.
    pub stop: Option<StopState>,
    /// Wins per map, cumulative over this layer's training.
    pub wins: Vec<u32>,
    /// Wins per map in the current epoch.
    pub epoch_wins: Vec<u32>,
    /// Counters of the current epoch.
    pub epoch_stats: TrainStats,
    /// Epochs used by each finished layer.
    pub layer_epochs: Vec<u16>,
    /// Why each finished layer stopped.
    pub stop_reasons: Vec<String>,
    /// Training seconds per layer (informational).
    pub layer_seconds: Vec<f64>,
    /// Samples per second per layer (informational).
    pub layer_rate: Vec<f64>,
    /// Final C_l per layer.
    pub layer_c_l: Vec<f64>,
    /// Total samples trained (all layers).
    pub total_samples: u64,
    /// The run loop's state (opaque here).
    pub run: Vec<u8>,
}

impl TrainState {
    fn new(cfg: &TrainConfig, data: &DataSource) -> Self {
        Self {
            config: cfg.to_toml(),
            data: data.to_string(),
            layer: 0,
            epoch: 0,
            pos: 0,
            lr: None,
            stop: None,
            wins: Vec::new(),
            epoch_wins: Vec::new(),
            epoch_stats: TrainStats::default(),
            layer_epochs: Vec::new(),
            stop_reasons: Vec::new(),
            layer_seconds: Vec::new(),
            layer_rate: Vec::new(),
            layer_c_l: Vec::new(),
            total_samples: 0,
            run: Vec::new(),
        }
    }

    /// Checks that the state fits the network and config it was saved with, so that a crafted
    /// or damaged (but CRC-valid) checkpoint is refused instead of hanging or panicking.
    pub fn validate(&self, cfg: &TrainConfig, net: &Net, n_train: Option<usize>) -> Result<()> {
        let layers = net.arch.len();
        if cfg.layers.len() != layers {
            bail!(
                "the stored config has {} layers but the network {layers}",
                cfg.layers.len()
            );
        }
        if self.layer > layers {
            bail!("layer {} is past the network's {layers} layers", self.layer);
        }
        let done = self.layer;
        for (what, n) in [
            ("layer_epochs", self.layer_epochs.len()),
            ("stop_reasons", self.stop_reasons.len()),
            ("layer_seconds", self.layer_seconds.len()),
            ("layer_rate", self.layer_rate.len()),
            ("layer_c_l", self.layer_c_l.len()),
        ] {
            if n != done {
                bail!("{what} has {n} entries for {done} finished layers");
            }
        }
        if let Some(lc) = cfg.layers.get(self.layer) {
            if self.epoch >= lc.epochs {
                bail!(
                    "epoch {} is past layer {}'s budget of {} epochs",
                    self.epoch,
                    lc.name,
                    lc.epochs
                );
            }
            let maps = net.arch[self.layer].conv.out_c() as usize;
            let started = self.lr.is_some();
            if started != self.stop.is_some() {
                bail!("learning-rate and stop-rule states disagree");
            }
            if started && (self.wins.len() != maps || self.epoch_wins.len() != maps) {
                bail!(
                    "win counters have {} / {} entries for {maps} maps",
                    self.wins.len(),
                    self.epoch_wins.len()
                );
            }
            if !started && (self.epoch != 0 || self.pos != 0) {
                bail!("a layer that has not started has progress");
            }
            if let Some(n) = n_train
                && self.pos > n as u64
            {
                bail!(
                    "sample position {} is past the {n} training samples",
                    self.pos
                );
            }
            if let Some(s) = &self.stop
                && s.epochs != self.epoch
            {
                bail!(
                    "the stop rule counted {} epochs, the layer {}",
                    s.epochs,
                    self.epoch
                );
            }
        } else if self.epoch != 0 || self.pos != 0 || self.lr.is_some() {
            bail!("a finished network has epoch progress");
        }
        Ok(())
    }
}

/// Reads a checkpoint: the network and the training state (validated against each other).
pub fn read_checkpoint(path: &Path) -> Result<(Net, TrainState)> {
    let bytes = crate::io::read_hebb(path, "checkpoint")?;
    checkpoint_from_bytes(&bytes).with_context(|| format!("checkpoint {}", path.display()))
}

/// Decodes checkpoint bytes into the network and its training state, and validates them: the
/// frame and model, the state's encoding, the stored config, the state against the network
/// and config, and the network against the config. Arbitrary bytes give an error, never a
/// panic or a hang.
pub fn checkpoint_from_bytes(bytes: &[u8]) -> Result<(Net, TrainState)> {
    let m = hebb_core::model::Model::decode(bytes)?;
    if m.state.is_empty() {
        bail!("it is an exported model, not a checkpoint (it holds no training state)");
    }
    let st: TrainState = postcard::from_bytes(m.state).map_err(|e| {
        anyhow::anyhow!(
            "training state malformed ({e}); checkpoints of earlier hebb versions cannot be resumed: train again, or export its model with `hebb export`"
        )
    })?;
    let net = Net::from_model(&m);
    let cfg = TrainConfig::from_toml_str(&st.config).context("stored config")?;
    st.validate(&cfg, &net, None)
        .context("inconsistent training state")?;
    crate::run::RunState::from_bytes(&st.run).context("inconsistent training state")?;
    let want = Net::from_config(&cfg, &mut Rng::new(cfg.seed))?;
    if want.encoder != net.encoder || want.filters != net.filters || want.arch != net.arch {
        bail!("its network (encoder or layers) disagrees with its stored config");
    }
    Ok((net, st))
}

/// Order of the samples of one epoch of one layer: a deterministic function of the seed.
pub fn epoch_order(n: usize, seed: u64, layer: usize, epoch: u16) -> Vec<u32> {
    let mut rng = Rng::new(
        seed ^ ((layer as u64 + 1) << 40)
            ^ (u64::from(epoch) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let mut o: Vec<u32> = (0..n as u32).collect();
    rng.shuffle(&mut o);
    o
}

/// Input spike times of layer `l` for every sample: the encoder output pushed through the frozen
/// layers `0..l` (with the pointwise inhibition each next layer trains with).
pub fn layer_inputs(
    be: &mut dyn Backend,
    cfg: &TrainConfig,
    net: &Net,
    enc: &SpikeCache,
    l: usize,
    ctx: Option<&Ctx<'_>>,
) -> Result<SpikeCache> {
    let mut cur = enc.clone();
    for j in 0..l {
        if let Some(c) = ctx {
            c.check()?;
        }
        cur = be.layer_times(
            &net.arch[j],
            net.encoder.steps(),
            &net.weights[j],
            &net.thresholds[j],
            &cur,
            cfg.layers[j + 1].inhibit_input,
        )?;
    }
    Ok(cur)
}

/// Per-epoch diagnostics of a layer.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    /// Layer name.
    pub layer: String,
    /// Epoch (1-based, per layer).
    pub epoch: u16,
    /// Samples in the epoch.
    pub samples: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Samples per second.
    pub samples_per_sec: f64,
    /// C_l = mean w(1−w).
    pub convergence: f64,
    /// Fraction of maps with at least `min_wins` wins (cumulative over the layer's epochs).
    pub win_ratio: f64,
    /// Most wins of any map (cumulative).
    pub max_wins: u32,
    /// Maps that never won in this epoch.
    pub dead_maps: usize,
    /// Winners per sample.
    pub winners_per_sample: f64,
    /// Samples with no winner.
    pub silent_fraction: f64,
    /// First spikes per sample during the simulated steps (an early stop cuts this short).
    pub spikes_per_sample: f64,
    /// Mean fraction of the layer's neurons that fired per sample.
    pub firing_rate: f64,
    /// Lowest threshold.
    pub threshold_min: f64,
    /// Highest threshold.
    pub threshold_max: f64,
    /// Wins per map in this epoch.
    pub wins_per_map: Vec<u32>,
    /// Why the layer stopped with this epoch (absent while it goes on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

/// Text of a stop reason.
pub fn stop_text(r: &StopReason, rule: &StopRule) -> String {
    match r {
        StopReason::Converged { c_l } => format!("converged (C_l {c_l:.4} < {})", rule.c_l_eps),
        StopReason::WinRatio => format!("win ratio >= {}", rule.target_ratio),
        StopReason::Patience => format!("no better win ratio for {} epochs", rule.patience),
        StopReason::EpochBudget => "epoch budget".into(),
    }
}

/// What a data set is checked against by [`check_fits`] (its messages name it).
#[derive(Debug, Clone, Copy)]
pub enum FitTarget<'a> {
    /// A training config: its `input` size and `n_classes`.
    Config(&'a TrainConfig),
    /// A trained model: its encoder's input size and its readout's classes (if it has one).
    Model(&'a Net),
}

/// Checks that a data set fits a config or model: every image of both sets has its input
/// size, and every label is below its classes.
pub fn check_fits(
    target: FitTarget<'_>,
    split: &Split,
    data: impl std::fmt::Display,
) -> Result<()> {
    let (expects, enc, classes) = match target {
        FitTarget::Config(cfg) => (
            "the config expects",
            cfg.encoder_params()?,
            Some(usize::from(cfg.n_classes)),
        ),
        FitTarget::Model(net) => (
            "the model takes",
            net.encoder,
            net.readout.as_ref().map(|r| r.n_classes),
        ),
    };
    // Event samples are voxel grids: `frames` raster-sized frames stacked into one image.
    let (h, w) = (usize::from(enc.h()), usize::from(enc.w()));
    let frames = enc.n_in() / (h * w);
    for set in [&split.train, &split.test] {
        if (set.rows, set.cols) != (frames * h, w) {
            if frames > 1 {
                bail!(
                    "data set `{data}` has {}×{} samples but {expects} voxel grids of {frames} \
                     frames of {h}×{w} (event input: pass --data events:DIR)",
                    set.rows,
                    set.cols
                );
            }
            bail!(
                "data set `{data}` has {}×{} images but {expects} {h}×{w}",
                set.rows,
                set.cols
            );
        }
    }
    if let Some(n) = classes
        && let Some(&bad) = split
            .train
            .labels
            .iter()
            .chain(&split.test.labels)
            .find(|&&l| usize::from(l) >= n)
    {
        match target {
            FitTarget::Config(_) => {
                bail!("data set `{data}` has label {bad} but n_classes is {n}")
            }
            FitTarget::Model(_) => {
                bail!("data set `{data}` has label {bad} but the model's readout has {n} classes")
            }
        }
    }
    Ok(())
}

/// The stop rule of layer `l` of `cfg`.
pub fn stop_rule(cfg: &TrainConfig, l: usize) -> StopRule {
    cfg.layers[l].stop_rule()
}

/// The convolutional STDP trainer.
pub struct ConvStdp<'b> {
    cfg: TrainConfig,
    net: Net,
    st: TrainState,
    data: DataSource,
    be: &'b mut dyn Backend,
    progress: ProgressConfig,
    enc: Option<SpikeCache>,
    inputs: Option<(usize, SpikeCache, LayerTrain)>,
    order: Option<(usize, u16, Vec<u32>)>,
    curves: Vec<Vec<(f64, f64)>>,
    layer_clock: Option<(Instant, u64)>,
    epoch_clock: Option<(Instant, u64)>,
    t0: Instant,
    test_acc: Option<f32>,
}

impl std::fmt::Debug for ConvStdp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvStdp")
            .field("layer", &self.st.layer)
            .field("epoch", &self.st.epoch)
            .field("pos", &self.st.pos)
            .finish_non_exhaustive()
    }
}

impl<'b> ConvStdp<'b> {
    /// A new run of `cfg` on `data`.
    pub fn new(cfg: TrainConfig, data: DataSource, be: &'b mut dyn Backend) -> Result<Self> {
        let mut rng = Rng::new(cfg.seed);
        let net = Net::from_config(&cfg, &mut rng)?;
        let st = TrainState::new(&cfg, &data);
        Ok(Self::with_state(cfg, net, st, data, be))
    }

    /// Resumes from a checkpoint's network and state.
    pub fn resume(net: Net, st: TrainState, be: &'b mut dyn Backend) -> Result<Self> {
        let cfg =
            TrainConfig::from_toml_str(&st.config).context("config stored in the checkpoint")?;
        let data: DataSource = st.data.parse().unwrap_or(DataSource::EmbeddedMnist);
        Ok(Self::with_state(cfg, net, st, data, be))
    }

    fn with_state(
        cfg: TrainConfig,
        net: Net,
        st: TrainState,
        data: DataSource,
        be: &'b mut dyn Backend,
    ) -> Self {
        let n = net.arch.len();
        Self {
            cfg,
            net,
            st,
            data,
            be,
            progress: ProgressConfig::default(),
            enc: None,
            inputs: None,
            order: None,
            curves: vec![Vec::new(); n],
            layer_clock: None,
            epoch_clock: None,
            t0: Instant::now(),
            test_acc: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }
    /// The network as trained so far.
    pub fn net(&self) -> &Net {
        &self.net
    }
    /// The training state.
    pub fn state(&self) -> &TrainState {
        &self.st
    }
    /// The data source.
    pub fn data_source(&self) -> &DataSource {
        &self.data
    }
    /// The loop state carried by the checkpoint this trainer resumed from.
    pub fn run_state(&self) -> &[u8] {
        &self.st.run
    }

    /// Checks the data against the network (image size, labels) and the state against the data.
    pub fn check_data(&self, split: &Split) -> Result<()> {
        let cfg = &self.cfg;
        let data = &self.data;
        check_fits(FitTarget::Config(cfg), split, data)?;
        let max = split
            .train
            .labels
            .iter()
            .chain(&split.test.labels)
            .copied()
            .max()
            .map_or(0, |m| usize::from(m) + 1);
        if (cfg.n_classes as usize) > max.max(2) {
            bail!(
                "n_classes is {} but data set `{data}` has labels 0..{} only",
                cfg.n_classes,
                max.saturating_sub(1)
            );
        }
        self.st
            .validate(cfg, &self.net, Some(split.train.len()))
            .context("checkpoint state does not fit the data")?;
        crate::config::check_memory(cfg, &self.net, split.train.len())?;
        Ok(())
    }

    fn prov(&self, acc: f32) -> ProvenanceOwned {
        ProvenanceOwned {
            preset: self.cfg.preset.clone(),
            dataset: self.data.to_string(),
            seed: self.cfg.seed,
            epochs: self.st.layer_epochs.clone(),
            test_accuracy: acc,
        }
    }

    fn kernels_png(&self, path: &Path, l: usize) -> std::io::Result<()> {
        let g = &self.net.arch[l].conv;
        let (m, c, k) = (g.out_c() as usize, g.input().c as usize, g.k() as usize);
        let w = &self.net.weights[l];
        let mut out = vec![0f32; m * c * k * k];
        for mi in 0..m {
            for ci in 0..c {
                for ky in 0..k {
                    for kx in 0..k {
                        out[((mi * c + ci) * k + ky) * k + kx] =
                            hebb_core::q::weight_to_f64(w[g.syn(ci, ky, kx) * m + mi]) as f32;
                    }
                }
            }
        }
        let opts = crate::plot::KernelGridOptions {
            normalize: crate::plot::Normalize::Fixed(0.0, 1.0),
            ..Default::default()
        };
        crate::plot::kernel_grid(
            path,
            &out,
            crate::plot::KernelShape {
                maps: m,
                channels: c,
                height: k,
                width: k,
            },
            &opts,
        )
    }
}

impl Trainer for ConvStdp<'_> {
    type Data = Split;
    type Pattern = [u8];
    type Prediction = usize;

    fn family(&self) -> Family {
        Family::ConvStdp
    }

    fn configure_progress(&mut self, progress: ProgressConfig) {
        self.progress = progress;
    }

    fn progress(&self) -> ProgressConfig {
        self.progress
    }

    fn begin(&mut self, data: &Split, _: &Ctx<'_>) -> Result<()> {
        self.check_data(data)?;
        tracing::info!(
            "data `{}`: {} train / {} test images, back end: {}",
            self.data,
            data.train.len(),
            data.test.len(),
            self.be.name()
        );
        self.t0 = Instant::now();
        if self.st.layer < self.net.arch.len() {
            let t = Instant::now();
            let enc = self.be.encode(&self.net, &data.train.images)?;
            let spiking = enc
                .data
                .iter()
                .filter(|&&t| t != hebb_core::spikes::NEVER)
                .count();
            tracing::info!(
                "encoded {} training samples in {:.2} s: {:.1} % of the {} input neurons spike",
                data.train.len(),
                t.elapsed().as_secs_f64(),
                100.0 * spiking as f64 / enc.data.len().max(1) as f64,
                enc.per_sample
            );
            self.enc = Some(enc);
        }
        Ok(())
    }

    fn stages_done(&self) -> bool {
        self.st.layer >= self.net.arch.len()
    }

    fn begin_epoch(&mut self, data: &Split, ctx: &Ctx<'_>) -> Result<()> {
        let l = self.st.layer;
        let n = data.train.len();
        if self.inputs.as_ref().is_none_or(|(il, ..)| *il != l) {
            let lc = &self.cfg.layers[l];
            let lt = layer_train(lc, l)?;
            let maps = self.net.arch[l].conv.out_c() as usize;
            if self.st.lr.is_none() {
                self.st.lr = Some(LrState::start(&lt.schedule()));
                self.st.stop = Some(StopState::new(stop_rule(&self.cfg, l))?);
                self.st.wins = vec![0; maps];
                self.st.epoch_wins = vec![0; maps];
            }
            let t_in = Instant::now();
            let enc = self.enc.as_ref().context("training data not encoded")?;
            let inputs = layer_inputs(self.be, &self.cfg, &self.net, enc, l, Some(ctx))?;
            tracing::info!(
                "layer {} ({}): {} maps {}×{}, input {:?} computed in {:.2} s",
                l + 1,
                lc.name,
                maps,
                lc.kernel,
                lc.kernel,
                self.net.arch[l].conv.input(),
                t_in.elapsed().as_secs_f64()
            );
            if lt.batch > 1 {
                tracing::info!(
                    "layer {} ({}): mini-batches of {} samples (summed STDP updates)",
                    l + 1,
                    lc.name,
                    lt.batch
                );
            }
            self.inputs = Some((l, inputs, lt));
            self.layer_clock = Some((Instant::now(), 0));
        }
        if self
            .order
            .as_ref()
            .is_none_or(|(ol, oe, _)| (*ol, *oe) != (l, self.st.epoch))
        {
            let order = if self.cfg.shuffle {
                epoch_order(n, self.cfg.seed, l, self.st.epoch)
            } else {
                (0..n as u32).collect()
            };
            self.order = Some((l, self.st.epoch, order));
        }
        self.epoch_clock = Some((Instant::now(), self.st.pos));
        Ok(())
    }

    fn epoch_label(&self) -> String {
        let lc = &self.cfg.layers[self.st.layer.min(self.cfg.layers.len() - 1)];
        format!("{} ep {}/{}", lc.name, self.st.epoch + 1, lc.epochs)
    }

    fn epoch_progress(&self, data: &Split) -> (u64, u64) {
        (data.train.len() as u64, self.st.pos)
    }

    fn chunk(&self) -> u64 {
        let b = self
            .inputs
            .as_ref()
            .map_or(1, |(_, _, lt)| u64::from(lt.batch.max(1)));
        CHUNK.div_ceil(b) * b
    }

    fn chunk_end(&self, end: u64) -> u64 {
        // Mini-batches are counted from the start of the epoch, so a resumed run forms the
        // same batches.
        let b = self
            .inputs
            .as_ref()
            .map_or(1, |(_, _, lt)| u64::from(lt.batch.max(1)));
        end.div_ceil(b) * b
    }

    fn step(&mut self, data: &Split, until: u64) -> Result<()> {
        let n = data.train.len() as u64;
        let (a, b) = (self.st.pos, until.min(n));
        if b <= a {
            return Ok(());
        }
        let l = self.st.layer;
        let (_, inputs, lt) = self.inputs.as_ref().context("epoch not begun")?;
        let (_, _, order) = self.order.as_ref().context("epoch not begun")?;
        let maps = self.net.arch[l].conv.out_c() as usize;
        let job = TrainJob {
            arch: &self.net.arch[l],
            train: lt,
            steps: self.net.encoder.steps(),
            inputs,
        };
        let mut wins = vec![0u32; maps];
        let (weights, thresholds) = (&mut self.net.weights[l], &mut self.net.thresholds[l]);
        self.be.train(
            &job,
            &order[a as usize..b as usize],
            &mut LayerState {
                weights,
                thresholds,
                lr: self.st.lr.as_mut().context("layer not begun")?,
                wins: &mut wins,
                stats: &mut self.st.epoch_stats,
            },
        )?;
        for (m, w) in wins.iter().enumerate() {
            self.st.wins[m] = self.st.wins[m].saturating_add(*w);
            self.st.epoch_wins[m] = self.st.epoch_wins[m].saturating_add(*w);
        }
        self.st.pos = b;
        self.st.total_samples += b - a;
        if let Some((_, s)) = self.layer_clock.as_mut() {
            *s += b - a;
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn end_epoch(&mut self, data: &Split, ctx: &Ctx<'_>) -> Result<EpochReport> {
        let l = self.st.layer;
        let n = data.train.len() as u64;
        let lc = self.cfg.layers[l].clone();
        let maps = self.net.arch[l].conv.out_c() as usize;
        let st = &mut self.st;
        st.epoch += 1;
        st.pos = 0;
        let (ep_t0, ep_start) = self.epoch_clock.unwrap_or((Instant::now(), 0));
        let secs = ep_t0.elapsed().as_secs_f64();
        let es = st.epoch_stats;
        let samples = es.samples.max(1);
        let c_l = convergence::c_l(&self.net.weights[l]);
        let ratio = convergence::WinTracker::new(&mut st.wins.clone()).ratio(lc.stop.min_wins);
        let dead = hebb_core::training::silent_maps(&st.epoch_wins);
        let th = &self.net.thresholds[l];
        let tmin = th.iter().copied().min().unwrap_or(0);
        let tmax = th.iter().copied().max().unwrap_or(0);
        let stop_state = st.stop.as_mut().context("layer not begun")?;
        let best_before = stop_state.best();
        let verdict = stop_state.after_epoch(c_l, ratio, st.epoch - 1);
        // With no previous best (the layer's first epoch) this epoch is the best so far.
        let improved = best_before.is_none_or(|b| ratio > b);
        let rule = stop_state.rule;
        let reason = verdict.map(|r| stop_text(&r, &rule));
        let m = EpochMetrics {
            layer: lc.name.clone(),
            epoch: st.epoch,
            samples: es.samples,
            seconds: secs,
            samples_per_sec: (n - ep_start) as f64 / secs.max(1e-9),
            convergence: c_l,
            win_ratio: ratio,
            max_wins: st.wins.iter().copied().max().unwrap_or(0),
            dead_maps: dead,
            winners_per_sample: es.winners as f64 / samples as f64,
            silent_fraction: es.silent as f64 / samples as f64,
            spikes_per_sample: es.spikes as f64 / samples as f64,
            firing_rate: es.spikes as f64
                / samples as f64
                / self.net.arch[l].conv.output().len() as f64,
            threshold_min: hebb_core::q::potential_to_f64(tmin),
            threshold_max: hebb_core::q::potential_to_f64(tmax),
            wins_per_map: st.epoch_wins.clone(),
            stop_reason: reason.clone(),
        };
        tracing::info!(
            "{} epoch {}/{}: C_l {:.4}, win ratio {:.2}, {:.2} winners/sample, dead maps {}, {:.0} samples/s",
            lc.name,
            st.epoch,
            lc.epochs,
            c_l,
            ratio,
            m.winners_per_sample,
            dead,
            m.samples_per_sec
        );
        if dead > 0 {
            tracing::warn!(
                "{}: {dead} of {maps} maps never won this epoch (dead maps)",
                lc.name
            );
        }
        // Rate-target homeostasis: each map's threshold toward the target win rate.
        if let Some(rt) = self.inputs.as_ref().and_then(|(_, _, lt)| lt.rate_target) {
            let n = u32::try_from(es.samples).unwrap_or(u32::MAX);
            rt.update(&mut self.net.thresholds[l], &st.epoch_wins, n)?;
        }
        // Dead-map recovery: a map that (almost) never wins gets fresh noise on its kernel,
        // once per epoch, from a stream fixed by (seed, layer, epoch) so resume is exact.
        if let Some(h) = lc
            .homeostasis
            .as_ref()
            .filter(|h| h.dead_rate > 0.0 && h.recovery_sigma > 0.0)
        {
            let mut rng =
                Rng::new(self.cfg.seed ^ 0xDEAD_0000 ^ ((l as u64) << 32) ^ u64::from(st.epoch));
            let mut bits = vec![0u32; hebb_core::spikes::words(maps)];
            hebb_core::training::dead_maps(&st.epoch_wins, samples, h.dead_rate, &mut bits)?;
            let revived = hebb_core::homeostasis::recover_dead(
                &mut self.net.weights[l],
                maps,
                &bits,
                &mut rng,
                h.recovery_sigma,
            )?;
            if revived > 0 {
                tracing::warn!(
                    "{}: {revived} dead maps got recovery noise (σ = {})",
                    lc.name,
                    h.recovery_sigma
                );
            }
        }
        if m.silent_fraction > 0.1 {
            tracing::warn!(
                "{}: {:.0} % of samples produced no winner: thresholds may be too high for the input",
                lc.name,
                100.0 * m.silent_fraction
            );
        }
        self.curves[l].push((f64::from(st.epoch), c_l));
        if let Some(dir) = ctx.plots {
            let _ = crate::plot::histogram(
                &dir.join(format!("wins_{}.png", lc.name)),
                &format!("{} wins per map, epoch {}", lc.name, st.epoch),
                &st.epoch_wins,
            );
        }
        let st = &mut self.st;
        st.epoch_wins.iter_mut().for_each(|w| *w = 0);
        st.epoch_stats = TrainStats::default();
        let epoch = st.epoch;
        if let Some(r) = &reason {
            let (t, s) = self.layer_clock.take().unwrap_or((Instant::now(), 0));
            let secs = t.elapsed().as_secs_f64();
            st.layer_epochs.push(st.epoch);
            st.stop_reasons.push(r.clone());
            st.layer_seconds.push(secs);
            st.layer_rate.push(s as f64 / secs.max(1e-9));
            st.layer_c_l.push(c_l);
            st.layer += 1;
            st.epoch = 0;
            st.lr = None;
            st.stop = None;
            self.inputs = None;
        }
        if let Some(dir) = ctx.plots {
            let _ = self.kernels_png(&dir.join(format!("kernels_{}.png", lc.name)), l);
            if self.stages_done() {
                let _ = self.convergence_png(dir);
            }
        }
        let scalars = vec![
            ("convergence".to_owned(), c_l),
            ("win_ratio".to_owned(), ratio),
            ("dead_maps".to_owned(), dead as f64),
            ("winners_per_sample".to_owned(), m.winners_per_sample),
            ("firing_rate".to_owned(), m.firing_rate),
            ("threshold/min".to_owned(), m.threshold_min),
            ("threshold/max".to_owned(), m.threshold_max),
            ("samples_per_sec".to_owned(), m.samples_per_sec),
        ];
        Ok(EpochReport {
            stage: lc.name,
            epoch: u32::from(epoch),
            record: serde_json::to_value(&m)?,
            scalars,
            improved,
            stage_done: reason,
        })
    }

    #[allow(clippy::too_many_lines)]
    fn finish(&mut self, split: &Split, ctx: &Ctx<'_>) -> Result<FinalReport> {
        let cfg = self.cfg.clone();
        self.enc = None;
        ctx.check()?;
        let t_f = Instant::now();
        let pb = ctx.bar(2, "features".into());
        let f_train = self.be.features(&self.net, &split.train.images)?;
        pb.inc(1);
        ctx.check()?;
        let f_test = self.be.features(&self.net, &split.test.images)?;
        pb.finish_and_clear();
        let feat_secs = t_f.elapsed().as_secs_f64();
        ctx.check()?;
        let e = &self.net.encoder;
        let frames = (e.n_in() / (usize::from(e.h()) * usize::from(e.w()))).max(1);
        let (aug_labels, f_fit) = if cfg.readout.shift_augment > 0 {
            let (imgs, labels) = crate::readout::augment(
                &split.train.images,
                &split.train.labels,
                frames,
                split.train.rows / frames,
                split.train.cols,
                cfg.readout.shift_augment,
            );
            let extra = self
                .be
                .features(&self.net, &imgs[split.train.images.len()..])?;
            let mut f = f_train.clone();
            f.bits.extend_from_slice(&extra.bits);
            tracing::info!(
                "readout fitted on {} images (originals and shifted copies)",
                f.len()
            );
            (labels, f)
        } else {
            (split.train.labels.clone(), f_train.clone())
        };
        let x = crate::readout::Sparse::from_features(&f_fit);
        tracing::info!(
            "features: {} per sample, {:.1} % active, extracted at {:.0} samples/s",
            f_train.n_features,
            100.0 * x.density(),
            (f_train.len() + f_test.len()) as f64 / feat_secs.max(1e-9)
        );
        ctx.check()?;
        let (c, c_scores) = if cfg.readout.c_grid.is_empty() {
            (cfg.readout.c, Vec::new())
        } else {
            let pb = ctx.bar(cfg.readout.c_grid.len() as u64, "readout C".into());
            let (c, scores) = crate::readout::select_c(
                &x,
                &aug_labels,
                &f_train,
                cfg.n_classes as usize,
                &cfg.readout.c_grid,
                cfg.readout.validation,
                cfg.readout.epochs,
                cfg.seed,
                |s| {
                    pb.inc(1);
                    tracing::info!(
                        "readout C = {}: validation accuracy {:.2} %",
                        s.c,
                        100.0 * s.accuracy
                    );
                },
            );
            pb.finish_and_clear();
            ctx.check()?;
            if let Some(dir) = ctx.plots {
                let pts: Vec<(f64, f64)> = scores
                    .iter()
                    .map(|s| (s.c.log10(), 100.0 * s.accuracy))
                    .collect();
                let _ = crate::plot::line_chart(
                    &dir.join("readout_c.png"),
                    "readout: validation accuracy per C",
                    &[("validation", pts.as_slice())],
                    "log10 C",
                    "accuracy (%)",
                );
            }
            tracing::info!(
                "readout C = {c} chosen on {:.0} % of the training set held out; refitting on all of it",
                100.0 * cfg.readout.validation
            );
            (c, scores)
        };
        let r = crate::readout::train(
            &x,
            &aug_labels,
            cfg.n_classes as usize,
            c,
            cfg.readout.epochs,
            cfg.seed,
        );
        ctx.check()?;
        let (train_acc, _) = crate::readout::evaluate(&r, &f_train, &split.train.labels);
        let (test_acc, conf) = crate::readout::evaluate(&r, &f_test, &split.test.labels);
        self.net.readout = Some(r);
        self.test_acc = Some(test_acc as f32);
        tracing::info!(
            "train accuracy {:.2} %, test accuracy {:.2} %",
            100.0 * train_acc,
            100.0 * test_acc
        );
        tracing::info!(
            "confusion matrix (rows: true, columns: predicted):\n{}",
            confusion_text(&conf)
        );
        let model = self.net.to_bytes(&self.prov(test_acc as f32), &[], 16)?;
        let st = &self.st;
        let n_layers = self.net.arch.len();
        let layers: Vec<serde_json::Value> = (0..n_layers)
            .map(|l| {
                serde_json::json!({
                    "name": cfg.layers[l].name,
                    "convergence": st.layer_c_l.get(l),
                    "epochs": st.layer_epochs.get(l),
                    "stop_reason": st.stop_reasons.get(l),
                    "seconds": st.layer_seconds.get(l),
                    "samples_per_sec": st.layer_rate.get(l),
                })
            })
            .collect();
        let summary = serde_json::json!({
            "family": Family::ConvStdp.name(),
            "preset": cfg.preset,
            "data": self.data.to_string(),
            "seed": cfg.seed,
            "backend": self.be.name(),
            "test_accuracy": test_acc,
            "train_accuracy": train_acc,
            "n_train": split.train.len(),
            "n_test": split.test.len(),
            "n_features": f_train.n_features,
            "feature_density": x.density(),
            "feature_samples_per_sec": (f_train.len() + f_test.len()) as f64 / feat_secs.max(1e-9),
            "readout": {
                "c": c,
                "validation": if c_scores.is_empty() { None } else { Some(&c_scores) },
            },
            "layers": layers,
            "confusion": conf,
            "total_seconds": self.t0.elapsed().as_secs_f64(),
        });
        Ok(FinalReport {
            model,
            summary,
            scalars: vec![
                ("readout/test_accuracy".into(), test_acc),
                ("readout/train_accuracy".into(), train_acc),
            ],
            headline: vec![format!("test accuracy: {:.2} %", 100.0 * test_acc)],
        })
    }

    fn checkpoint(&self, run_state: &[u8]) -> Result<Vec<u8>> {
        let mut st = self.st.clone();
        st.run = run_state.to_vec();
        let state = postcard::to_stdvec(&st).context("encoding training state")?;
        let acc = self.test_acc.unwrap_or(f32::NAN);
        self.net
            .to_bytes(&self.prov(acc), &state, 16)
            .context("encoding checkpoint")
    }

    fn units_done(&self) -> u64 {
        self.st.total_samples
    }

    fn predict(&self, image: &[u8]) -> Result<usize> {
        Ok(self
            .predict_batch(&[image])?
            .into_iter()
            .next()
            .unwrap_or(0))
    }

    fn predict_batch(&self, images: &[&[u8]]) -> Result<Vec<usize>> {
        predict_images(&self.net, images)
    }
}

impl ConvStdp<'_> {
    fn convergence_png(&self, dir: &Path) -> std::io::Result<()> {
        crate::plot::line_chart(
            &dir.join("convergence.png"),
            "C_l per epoch",
            &self
                .curves
                .iter()
                .enumerate()
                .map(|(l, c)| (self.cfg.layers[l].name.as_str(), c.as_slice()))
                .collect::<Vec<_>>(),
            "epoch",
            "C_l",
        )
    }
}

/// Classifies images (each `h × w` of the network's input) with a trained network on the CPU,
/// through the same path as evaluation (any neuron model).
pub fn predict_images(net: &Net, images: &[&[u8]]) -> Result<Vec<usize>> {
    Ok(classify(net, images)?.0)
}

/// [`predict_images`] with the features the readout saw.
pub fn classify(net: &Net, images: &[&[u8]]) -> Result<(Vec<usize>, crate::backend::FeatureSet)> {
    let Some(r) = net.readout.as_ref() else {
        bail!("the network has no readout (train it to the end first)");
    };
    let plane = net.encoder.n_in();
    let mut flat = Vec::with_capacity(images.len() * plane);
    for (i, img) in images.iter().enumerate() {
        if img.len() != plane {
            bail!(
                "sample {i} has {} bytes but the model takes {plane} ({}×{} {})",
                img.len(),
                net.encoder.h(),
                net.encoder.w(),
                if plane == usize::from(net.encoder.h()) * usize::from(net.encoder.w()) {
                    "pixels"
                } else {
                    "voxel frames"
                }
            );
        }
        flat.extend_from_slice(img);
    }
    let f = crate::backend::cpu::CpuBackend::new().features(net, &flat)?;
    Ok((crate::readout::predict_all(r, &f), f))
}

/// A confusion matrix as aligned text.
pub fn confusion_text(conf: &[Vec<u32>]) -> String {
    let mut s = String::from("      ");
    for p in 0..conf.len() {
        s += &format!("{p:>6}");
    }
    for (t, row) in conf.iter().enumerate() {
        s += &format!("\n{t:>6}");
        for v in row {
            s += &format!("{v:>6}");
        }
    }
    s
}
