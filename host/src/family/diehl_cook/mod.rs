//! The Diehl & Cook 2015 family: an unsupervised spiking classifier. Digits become Poisson
//! spike trains; a conductance-based excitatory population with adaptive thresholds learns
//! them by trace STDP under inhibition from a partner population; each neuron is then given the
//! class it answers most, and a digit is the class whose neurons answer it most. Every step is
//! the core's (`hebb_core::diehl_cook`), so the host, the tests and the firmware compute the same
//! bits; this module feeds digits, scores and checkpoints.
//!
//! Two assignments are reported, since the literature mixes them:
//! * **frozen** (the paper's): after each epoch, plasticity and θ off, one pass over the training
//!   digits assigns the labels; the test digits are scored with them;
//! * **running** (BindsNET's example): while training, the responses of every block of `block`
//!   digits are accumulated; each block is scored with the assignment of the blocks before it
//!   (the learning curve), and the test digits with the assignment at the epoch's end.
//!
//! Randomness is per digit: the Poisson stream of a digit is seeded from (seed, epoch, position)
//! for training and (seed, split, index) for the frozen passes, so resume is exact and the
//! parallel passes do not depend on thread scheduling.

pub mod bench;
pub mod config;
pub mod model;
pub mod plots;

use crate::data::{Dataset, Split};
use crate::family::Family;
use crate::run::{Ctx, EpochReport, FinalReport, ProgressConfig, Trainer};
use anyhow::{Context, Result, bail};
use config::DiehlCookConfig;
use hebb_core::assign::{self, UNASSIGNED};
use hebb_core::rng::Rng;
use model::{ModelFile, NetState, Network, Prediction, TraceTables, Work};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Accuracy of one assignment with both votes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Votes {
    /// All-activity vote.
    pub all: f64,
    /// Proportion-weighted vote.
    pub proportion: f64,
}

/// One point of the learning curve: a block scored with the assignment of the blocks before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Training digits seen at the block's end (all epochs).
    pub seen: u64,
    /// Block accuracy.
    pub acc: Votes,
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochScore {
    /// Test accuracy with the frozen (paper) assignment.
    pub test_frozen: Votes,
    /// Test accuracy with the running (BindsNET) assignment.
    pub test_running: Votes,
    /// Training accuracy with the frozen assignment (the pass that made it).
    pub train_frozen: Votes,
}

/// Everything a resume needs besides the data and the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished.
    pub epoch: u32,
    /// Digits of the current epoch done.
    pub pos: u64,
    /// Digits trained in all.
    pub done: u64,
    /// Best criterion so far.
    pub best: Option<f64>,
    /// Running responses (`n × classes`) and digits per class, over all training so far.
    pub resp: Vec<u32>,
    /// Digits per class in `resp`.
    pub class_n: Vec<u32>,
    /// Assignment scoring the current block (from the blocks before it).
    pub block_assign: Vec<u8>,
    /// Proportions of that assignment.
    pub block_prop: Vec<u32>,
    /// Current block: digits, hits of the all-activity and the proportion vote.
    pub block_hits: (u32, u32, u32),
    /// The learning curve.
    pub curve: Vec<CurvePoint>,
    /// Per-epoch scores.
    pub history: Vec<EpochScore>,
    /// This epoch's excitatory spikes, presentations and input spikes (for rates).
    pub epoch_counts: (u64, u64, u64),
    /// Seconds spent training (all epochs), for rates.
    pub train_seconds: f64,
    /// The loop's state.
    pub run: Vec<u8>,
}

impl TrainState {
    fn new(n: usize, classes: usize) -> Self {
        Self {
            epoch: 0,
            pos: 0,
            done: 0,
            best: None,
            resp: vec![0; n * classes],
            class_n: vec![0; classes],
            block_assign: vec![UNASSIGNED; n],
            block_prop: vec![0; n * classes],
            block_hits: (0, 0, 0),
            curve: Vec::new(),
            history: Vec::new(),
            epoch_counts: (0, 0, 0),
            train_seconds: 0.0,
            run: Vec::new(),
        }
    }

    fn check(&self, n: usize, classes: usize) -> Result<()> {
        if self.resp.len() != n * classes
            || self.class_n.len() != classes
            || self.block_assign.len() != n
            || self.block_prop.len() != n * classes
        {
            bail!("training state: response tables do not match {n} neurons × {classes} classes");
        }
        Ok(())
    }
}

/// The trainer of the family.
pub struct DiehlCook {
    cfg: DiehlCookConfig,
    net: Network,
    tables: TraceTables,
    st: TrainState,
    work: Work,
    progress: ProgressConfig,
    /// The digit order of the epoch in progress.
    order: Option<(u32, Vec<u32>)>,
    /// Confusion matrix and test counts of the last evaluation (for plots and the summary).
    last_confusion: Vec<Vec<u32>>,
    last_record: serde_json::Value,
}

impl std::fmt::Debug for DiehlCook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiehlCook")
            .field("preset", &self.cfg.preset)
            .field("neurons", &self.cfg.neurons)
            .field("epoch", &self.st.epoch)
            .field("pos", &self.st.pos)
            .finish_non_exhaustive()
    }
}

/// Seed of one digit's Poisson stream: `tag` names the pass ([`TAG_TRAIN`]: `a` the epoch,
/// `b` the position in it; [`TAG_ASSIGN`] and [`TAG_TEST`]: `a` the digit's index), so every
/// digit's stream can be recomputed alone (resume, parallel passes, the firmware fixtures).
pub fn digit_seed(seed: u64, tag: u64, a: u64, b: u64) -> u64 {
    let mut x = seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= a.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = x.rotate_left(29) ^ b.wrapping_mul(0x94D0_49BB_1331_11EB);
    x
}

/// Pass tag of training digits.
pub const TAG_TRAIN: u64 = 1;
/// Tag of the epoch's digit order.
pub const TAG_ORDER: u64 = 2;
/// Pass tag of the frozen assignment pass over the training digits.
pub const TAG_ASSIGN: u64 = 3;
/// Pass tag of test digits (and of `predict`).
pub const TAG_TEST: u64 = 4;
/// Tag of the initial weights.
pub const TAG_INIT: u64 = 5;

/// Digits of a split a config uses (`limit` 0: all).
fn used(d: &Dataset, limit: usize) -> usize {
    if limit == 0 {
        d.len()
    } else {
        limit.min(d.len())
    }
}

fn ratio(hits: u32, n: u32) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        f64::from(hits) / f64::from(n)
    }
}

#[allow(clippy::too_many_arguments)]
/// Responses of a frozen network to digits `0..m` of `d`: spike counts (`m × n`) and
/// presentations per digit.
fn responses(
    net: &Network,
    tables: &TraceTables,
    d: &Dataset,
    m: usize,
    seed: u64,
    tag: u64,
    bar: &indicatif::ProgressBar,
    ctx: &Ctx<'_>,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let n = net.n;
    let mut counts = vec![0u32; m * n];
    let mut pres = vec![0u32; m];
    // Chunks of digits so an interruption is seen within a second or so.
    let chunk = 256;
    for (c, (cs, ps)) in counts
        .chunks_mut(chunk * n)
        .zip(pres.chunks_mut(chunk))
        .enumerate()
    {
        ctx.check()?;
        cs.par_chunks_mut(n)
            .zip(ps.par_iter_mut())
            .enumerate()
            .try_for_each_init(
                || (Work::new(net.n_in, n), NetState::new(net.n_in, n)),
                |(work, state), (k, (out, p))| -> Result<()> {
                    let i = c * chunk + k;
                    let px = d.image(i);
                    let mut rng = Rng::new(digit_seed(seed, tag, i as u64, 0));
                    let o = net.respond(tables, work, state, px, &mut rng)?;
                    out.copy_from_slice(&work.counts);
                    *p = o.presentations;
                    Ok(())
                },
            )?;
        bar.inc(ps.len() as u64);
    }
    Ok((counts, pres))
}

impl DiehlCook {
    /// A new trainer for `cfg` on digits shaped like `data`'s.
    pub fn new(cfg: DiehlCookConfig, data: &Split) -> Result<Self> {
        let params = cfg.params()?;
        let shape = (data.train.rows, data.train.cols);
        let classes = data.train.n_classes;
        let net = Network::new(
            params,
            shape,
            cfg.neurons,
            classes,
            (cfg.init.scale, cfg.init.offset),
            digit_seed(cfg.seed, TAG_INIT, 0, 0),
        )?;
        let st = TrainState::new(cfg.neurons, classes);
        Self::assemble(cfg, net, st)
    }

    fn assemble(cfg: DiehlCookConfig, net: Network, st: TrainState) -> Result<Self> {
        let tables = TraceTables::new(&net.params)?;
        let work = Work::new(net.n_in, net.n);
        Ok(Self {
            cfg,
            net,
            tables,
            st,
            work,
            progress: ProgressConfig::default(),
            order: None,
            last_confusion: Vec::new(),
            last_record: serde_json::Value::Null,
        })
    }

    /// Continues from a checkpoint's contents.
    pub fn resume(file: ModelFile) -> Result<Self> {
        let cfg = DiehlCookConfig::from_toml_str(&file.config).context("stored config")?;
        if file.state.is_empty() {
            bail!("it is an exported model, not a checkpoint (it holds no training state)");
        }
        let st: TrainState = postcard::from_bytes(&file.state)
            .map_err(|e| anyhow::anyhow!("training state malformed ({e})"))?;
        st.check(file.net.n, file.net.classes)?;
        if file.net.n != cfg.neurons {
            bail!(
                "checkpoint: {} neurons, its config {}",
                file.net.n,
                cfg.neurons
            );
        }
        if st.epoch > cfg.epochs || (st.epoch == cfg.epochs && st.pos > 0) {
            bail!(
                "training state: epoch {} beyond the budget {}",
                st.epoch,
                cfg.epochs
            );
        }
        Self::assemble(cfg, file.net, st)
    }

    /// A trainer holding an exported model (or a checkpoint), for prediction and evaluation.
    pub fn from_model(file: ModelFile) -> Result<Self> {
        let cfg = DiehlCookConfig::from_toml_str(&file.config).context("stored config")?;
        let st = TrainState::new(file.net.n, file.net.classes);
        Self::assemble(cfg, file.net, st)
    }

    /// The configuration.
    pub fn config(&self) -> &DiehlCookConfig {
        &self.cfg
    }
    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }
    /// The training state.
    pub fn state(&self) -> &TrainState {
        &self.st
    }

    /// Checks that the data fits the network (after a resume: the data named by the config).
    pub fn check_data(&self, data: &Split) -> Result<()> {
        let (r, c) = (data.train.rows, data.train.cols);
        if (r, c) != self.net.shape || (data.test.rows, data.test.cols) != self.net.shape {
            bail!(
                "the data's images are {r}×{c}, the network's {}×{} (no silent resize)",
                self.net.shape.0,
                self.net.shape.1
            );
        }
        if data.train.n_classes != self.net.classes {
            bail!(
                "the data has {} classes, the network {}",
                data.train.n_classes,
                self.net.classes
            );
        }
        let m = used(&data.train, self.cfg.train_samples) as u64;
        if m == 0 || used(&data.test, self.cfg.test_samples) == 0 {
            bail!("the data set has no training or no test digits");
        }
        if self.st.pos > m {
            bail!(
                "training state: digit {} of an epoch of {m} (the checkpoint does not belong to this data)",
                self.st.pos
            );
        }
        Ok(())
    }

    fn file(&self, state: Vec<u8>) -> ModelFile {
        ModelFile {
            config: self.cfg.to_toml(),
            net: self.net.clone(),
            state,
        }
    }

    fn close_block(&mut self) -> Result<()> {
        let (seen, all, prop) = self.st.block_hits;
        if seen > 0 && self.st.block_assign.iter().any(|&a| a != UNASSIGNED) {
            self.st.curve.push(CurvePoint {
                seen: self.st.done,
                acc: Votes {
                    all: ratio(all, seen),
                    proportion: ratio(prop, seen),
                },
            });
        }
        self.st.block_hits = (0, 0, 0);
        assign::assign(&self.st.resp, &self.st.class_n, &mut self.st.block_assign)?;
        assign::proportions(&self.st.resp, &self.st.class_n, &mut self.st.block_prop)?;
        Ok(())
    }

    /// Scores the frozen network: assignment from a pass over the training digits, then the
    /// test digits with it and with the running assignment.
    fn evaluate(&mut self, data: &Split, ctx: &Ctx<'_>) -> Result<(EpochScore, serde_json::Value)> {
        let classes = self.net.classes;
        let n = self.net.n;
        let m_train = used(&data.train, self.cfg.train_samples);
        let m_test = used(&data.test, self.cfg.test_samples);
        let t0 = Instant::now();
        let bar = ctx.bar(
            (m_train + m_test) as u64,
            format!("epoch {} assign+test", self.st.epoch),
        );
        let (train_counts, _) = responses(
            &self.net,
            &self.tables,
            &data.train,
            m_train,
            self.cfg.seed,
            TAG_ASSIGN,
            &bar,
            ctx,
        )?;
        let mut resp = vec![0u32; n * classes];
        let mut class_n = vec![0u32; classes];
        for (i, counts) in train_counts.chunks_exact(n).enumerate() {
            assign::accumulate(&mut resp, &mut class_n, counts, data.train.labels[i])?;
        }
        self.net.assign_from(&resp, &class_n)?;
        let (test_counts, test_pres) = responses(
            &self.net,
            &self.tables,
            &data.test,
            m_test,
            self.cfg.seed,
            TAG_TEST,
            &bar,
            ctx,
        )?;
        bar.finish_and_clear();
        let infer_s = t0.elapsed().as_secs_f64();
        // The running assignment at the epoch's end.
        let mut running = self.net.clone();
        running.assign_from(&self.st.resp, &self.st.class_n)?;
        let score =
            |net: &Network, counts: &[u32], labels: &[u8]| -> Result<(Votes, Vec<Vec<u32>>)> {
                let (mut a, mut p) = (0u32, 0u32);
                let mut conf = vec![vec![0u32; classes]; classes];
                for (c, &l) in counts.chunks_exact(n).zip(labels) {
                    let (va, vp) = net.vote(c)?;
                    a += u32::from(va == Some(l));
                    p += u32::from(vp == Some(l));
                    if let (Some(row), Some(k)) = (conf.get_mut(usize::from(l)), va)
                        && let Some(x) = row.get_mut(usize::from(k))
                    {
                        *x += 1;
                    }
                }
                let m = labels.len() as u32;
                Ok((
                    Votes {
                        all: ratio(a, m),
                        proportion: ratio(p, m),
                    },
                    conf,
                ))
            };
        let test_labels = &data.test.labels[..m_test];
        let train_labels = &data.train.labels[..m_train];
        let (test_frozen, conf) = score(&self.net, &test_counts, test_labels)?;
        let (test_running, _) = score(&running, &test_counts, test_labels)?;
        let (train_frozen, _) = score(&self.net, &train_counts, train_labels)?;
        self.last_confusion = conf;
        let per_class: Vec<usize> = (0..classes)
            .map(|k| {
                self.net
                    .assignments
                    .iter()
                    .filter(|&&a| usize::from(a) == k)
                    .count()
            })
            .collect();
        let unassigned = self
            .net
            .assignments
            .iter()
            .filter(|&&a| a == UNASSIGNED)
            .count();
        let test_spikes: u64 = test_counts.iter().map(|&c| u64::from(c)).sum();
        let test_pres_sum: u64 = test_pres.iter().map(|&p| u64::from(p)).sum();
        let theta: Vec<f64> = self
            .net
            .theta
            .iter()
            .map(|&t| f64::from(t) / 65536.0)
            .collect();
        let theta_mean = theta.iter().sum::<f64>() / theta.len().max(1) as f64;
        let theta_max = theta.iter().copied().fold(0.0, f64::max);
        let score = EpochScore {
            test_frozen,
            test_running,
            train_frozen,
        };
        let rec = serde_json::json!({
            "test_frozen": test_frozen,
            "test_running": test_running,
            "train_frozen": train_frozen,
            "neurons_per_class": per_class,
            "unassigned": unassigned,
            "test_spikes_per_digit": test_spikes as f64 / m_test.max(1) as f64,
            "test_presentations_per_digit": test_pres_sum as f64 / m_test.max(1) as f64,
            "theta_mean_mv": theta_mean,
            "theta_max_mv": theta_max,
            "inference_digits_per_s": (m_train + m_test) as f64 / infer_s.max(1e-9),
            "train_digits": m_train,
            "test_digits": m_test,
        });
        Ok((score, rec))
    }

    /// Predicts one digit (pixels, row-major) from rest with the frozen network; its Poisson
    /// stream is seeded from `seed`.
    pub fn predict_seeded(
        net: &Network,
        tables: &TraceTables,
        pixels: &[u8],
        seed: u64,
    ) -> Result<Prediction> {
        if pixels.len() != net.n_in {
            bail!(
                "a digit of {} pixels, the network takes {} ({}×{})",
                pixels.len(),
                net.n_in,
                net.shape.0,
                net.shape.1
            );
        }
        let mut work = Work::new(net.n_in, net.n);
        let mut state = NetState::new(net.n_in, net.n);
        let mut rng = Rng::new(seed);
        let o = net.respond(tables, &mut work, &mut state, pixels, &mut rng)?;
        let (class, class_proportion) = net.vote(&work.counts)?;
        Ok(Prediction {
            class,
            class_proportion,
            counts: work.counts,
            presentations: o.presentations,
        })
    }
}

impl Trainer for DiehlCook {
    type Data = Split;
    type Pattern = [u8];
    type Prediction = Prediction;

    fn family(&self) -> Family {
        Family::DiehlCook
    }
    fn configure_progress(&mut self, progress: ProgressConfig) {
        self.progress = progress;
    }
    fn progress(&self) -> ProgressConfig {
        self.progress
    }

    fn begin(&mut self, data: &Split, _: &Ctx<'_>) -> Result<()> {
        self.check_data(data)
    }

    fn stages_done(&self) -> bool {
        self.st.epoch >= self.cfg.epochs
    }

    fn begin_epoch(&mut self, data: &Split, _: &Ctx<'_>) -> Result<()> {
        let epoch = self.st.epoch;
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let m = used(&data.train, self.cfg.train_samples);
            let mut order: Vec<u32> = (0..m as u32).collect();
            if self.cfg.shuffle {
                Rng::new(digit_seed(self.cfg.seed, TAG_ORDER, u64::from(epoch), 0))
                    .shuffle(&mut order);
            }
            self.order = Some((epoch, order));
        }
        Ok(())
    }

    fn epoch_label(&self) -> String {
        format!("epoch {} digits", self.st.epoch + 1)
    }

    fn epoch_progress(&self, data: &Split) -> (u64, u64) {
        (
            used(&data.train, self.cfg.train_samples) as u64,
            self.st.pos,
        )
    }

    fn chunk(&self) -> u64 {
        self.cfg.block as u64
    }

    fn step(&mut self, data: &Split, until: u64) -> Result<()> {
        let t0 = Instant::now();
        let epoch = self.st.epoch;
        let m = used(&data.train, self.cfg.train_samples) as u64;
        let order = self.order.take();
        let result = (|| -> Result<()> {
            let Some((_, order)) = &order else {
                bail!("internal: no digit order for the epoch");
            };
            let block = self.cfg.block as u64;
            let classes = self.net.classes;
            let mut scores = vec![0u64; 2 * classes];
            for pos in self.st.pos..until {
                let i = order.get(pos as usize).copied().unwrap_or(0) as usize;
                let (px, label) = data
                    .train
                    .get(i)
                    .context("digit index out of the data set")?;
                let mut rng = Rng::new(digit_seed(self.cfg.seed, TAG_TRAIN, u64::from(epoch), pos));
                let o = self.net.learn(&self.tables, &mut self.work, px, &mut rng)?;
                let counts = &self.work.counts;
                let a = assign::predict(counts, &self.st.block_assign, None, &mut scores)?;
                let p = assign::predict(
                    counts,
                    &self.st.block_assign,
                    Some(&self.st.block_prop),
                    &mut scores,
                )?;
                let h = &mut self.st.block_hits;
                h.0 += 1;
                h.1 += u32::from(a == Some(label));
                h.2 += u32::from(p == Some(label));
                assign::accumulate(&mut self.st.resp, &mut self.st.class_n, counts, label)?;
                let c = &mut self.st.epoch_counts;
                c.0 += u64::from(o.spikes);
                c.1 += u64::from(o.presentations);
                c.2 += u64::from(o.input_spikes);
                self.st.done += 1;
                self.st.pos = pos + 1;
                if self.st.pos.is_multiple_of(block) || self.st.pos == m {
                    self.close_block()?;
                }
            }
            Ok(())
        })();
        self.order = order;
        self.st.train_seconds += t0.elapsed().as_secs_f64();
        result
    }

    fn end_epoch(&mut self, data: &Split, ctx: &Ctx<'_>) -> Result<EpochReport> {
        let m = self.st.pos.max(1) as f64;
        let (spikes, pres, inputs) = self.st.epoch_counts;
        let (score, mut rec) = self.evaluate(data, ctx)?;
        self.st.epoch += 1;
        self.st.pos = 0;
        self.st.epoch_counts = (0, 0, 0);
        self.st.history.push(score.clone());
        let crit = score.test_frozen.all;
        let improved = self.st.best.is_none_or(|b| crit > b);
        if improved {
            self.st.best = Some(crit);
        }
        rec["train_spikes_per_digit"] = (spikes as f64 / m).into();
        rec["train_presentations_per_digit"] = (pres as f64 / m).into();
        rec["train_input_spikes_per_digit"] = (inputs as f64 / m).into();
        rec["train_digits_per_s"] = (self.st.done as f64 / self.st.train_seconds.max(1e-9)).into();
        if let Some(last) = self.st.curve.last() {
            rec["last_block"] = serde_json::to_value(last.acc)?;
        }
        if let Some(dir) = ctx.plots {
            plots::epoch(self, dir).context("writing plots")?;
        }
        self.last_record = rec.clone();
        let epoch = self.st.epoch;
        Ok(EpochReport {
            stage: "train".into(),
            epoch,
            record: serde_json::json!({ "epoch": epoch, "digits": self.st.done, "metrics": rec }),
            scalars: vec![
                ("test_accuracy".into(), score.test_frozen.all),
                (
                    "test_accuracy_proportion".into(),
                    score.test_frozen.proportion,
                ),
                ("test_accuracy_running".into(), score.test_running.all),
                ("train_accuracy".into(), score.train_frozen.all),
            ],
            improved,
            stage_done: self.stages_done().then(|| "epoch budget".to_owned()),
        })
    }

    fn finish(&mut self, _: &Split, ctx: &Ctx<'_>) -> Result<FinalReport> {
        ctx.check()?;
        let last = self.st.history.last().cloned();
        let mut headline = Vec::new();
        if let Some(s) = &last {
            headline.push(format!(
                "{}: {} neurons, {} digits trained; test accuracy {:.2} % (all activity), {:.2} % (proportion) with the frozen assignment; {:.2} % / {:.2} % with the running one",
                self.cfg.preset,
                self.net.n,
                self.st.done,
                100.0 * s.test_frozen.all,
                100.0 * s.test_frozen.proportion,
                100.0 * s.test_running.all,
                100.0 * s.test_running.proportion,
            ));
        }
        headline.push(format!(
            "training {:.1} digits/s",
            self.st.done as f64 / self.st.train_seconds.max(1e-9)
        ));
        let summary = serde_json::json!({
            "family": "diehl-cook",
            "preset": self.cfg.preset,
            "neurons": self.net.n,
            "seed": self.cfg.seed,
            "digits": self.st.done,
            "epochs": self.st.epoch,
            "history": self.st.history,
            "metrics": self.last_record,
            "confusion": self.last_confusion,
            "curve": self.st.curve,
        });
        let mut net = self.net.clone();
        // An exported model carries no training state.
        net.state = NetState::new(net.n_in, net.n);
        net.state.view(&mut net.theta.clone()).rest(&net.params);
        let model = ModelFile {
            config: self.cfg.to_toml(),
            net,
            state: Vec::new(),
        }
        .to_bytes()?;
        Ok(FinalReport {
            model,
            summary,
            scalars: Vec::new(),
            headline,
        })
    }

    fn checkpoint(&self, run_state: &[u8]) -> Result<Vec<u8>> {
        let mut st = self.st.clone();
        st.run = run_state.to_vec();
        let state = postcard::to_stdvec(&st).context("encoding training state")?;
        self.file(state).to_bytes()
    }

    fn units_done(&self) -> u64 {
        self.st.done
    }

    fn predict(&self, pattern: &[u8]) -> Result<Prediction> {
        Self::predict_seeded(
            &self.net,
            &self.tables,
            pattern,
            digit_seed(self.cfg.seed, TAG_TEST, 0, 0),
        )
    }

    fn predict_batch(&self, patterns: &[&[u8]]) -> Result<Vec<Prediction>> {
        patterns
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                Self::predict_seeded(
                    &self.net,
                    &self.tables,
                    p,
                    digit_seed(self.cfg.seed, TAG_TEST, i as u64, 0),
                )
            })
            .collect()
    }
}

/// Reads a model or checkpoint file of this family.
pub fn read(path: &Path) -> Result<ModelFile> {
    let bytes = crate::io::read_hebb(path, "model")?;
    ModelFile::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid model", path.display()))
}
