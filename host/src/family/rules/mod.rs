//! The local-rule family: the CANNs trainers done exactly. Hebbian, anti-Hebbian and Storkey
//! storage into Hopfield memories; Oja, Sanger and BCM on a linear layer; trace STDP on a LIF
//! layer with competition and adaptive thresholds. Every update is a core step
//! (`hebb_core::local`), so the host, the tests and the firmware compute the same bits; this
//! module feeds them data, checkpoints them and measures them.

pub mod analyze;
pub mod bench;
pub mod config;
pub mod model;
pub mod plots;
pub mod task;

use crate::family::Family;
use crate::run::{Ctx, EpochReport, FinalReport, ProgressConfig, Trainer};
use anyhow::{Context, Result, bail};
use config::{CoreRule, RulesConfig};
use hebb_core::local::{bcm, fixed, hebbian, oja};
use hebb_core::rng::Rng;
use model::{Hopfield, Linear, Model, ModelFile, Prediction, Spiking};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use task::Task;

/// Everything a resume needs besides the data (which the config regenerates exactly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished.
    pub epoch: u32,
    /// Units of the current epoch done.
    pub pos: u64,
    /// Units trained in all.
    pub done: u64,
    /// Best criterion so far (higher is better).
    pub best: Option<f64>,
    /// Criterion per finished epoch.
    pub history: Vec<f64>,
    /// STDP: (step, mean weight of the pattern's afferents, of the others).
    pub weight_trace: Vec<(u64, f64, f64)>,
    /// The loop's state.
    pub run: Vec<u8>,
}

/// Hebbian storage planned from the data (recomputed on resume; not checkpointed).
struct HebbianCache {
    plan: hebbian::Hebbian,
    bits: Vec<u64>,
    sums: Vec<i64>,
}

/// The trainer of the family.
pub struct LocalRules {
    cfg: RulesConfig,
    rule: CoreRule,
    model: Model,
    st: TrainState,
    progress: ProgressConfig,
    hebb: Option<HebbianCache>,
    /// Components to score Oja / Sanger against (`k × n`).
    components: Vec<f64>,
    /// Afferents that fire in the hidden pattern (STDP weight trace).
    pattern_afferents: Vec<bool>,
    last: serde_json::Value,
    /// Scratch of the linear rules (residuals, outputs), kept to avoid allocating per sample.
    resid: Vec<i128>,
    outs: Vec<i32>,
    /// The sample order of the epoch in progress (rate rules), drawn once per epoch.
    order: Option<(u32, Vec<u32>)>,
}

impl std::fmt::Debug for LocalRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRules")
            .field("preset", &self.cfg.preset)
            .field("state", &self.st)
            .finish_non_exhaustive()
    }
}

fn epoch_seed(seed: u64, epoch: u32) -> u64 {
    seed ^ 0xE90C_u64.wrapping_mul(u64::from(epoch) + 1)
}

impl LocalRules {
    /// A new trainer for `cfg` (the model is sized from the data `task`).
    pub fn new(cfg: RulesConfig, task: &Task) -> Result<Self> {
        let rule = cfg.core_rule()?;
        let n = task.dim();
        let mut rng = Rng::new(cfg.seed);
        let model = match (rule, task) {
            (CoreRule::Hebbian(_) | CoreRule::Storkey, Task::Patterns { .. }) => {
                let unit = match rule {
                    CoreRule::Storkey => 1.0 / f64::from(1u32 << hebbian::storkey_frac(n)),
                    _ => 1.0,
                };
                Model::Hopfield(Hopfield {
                    n,
                    w: vec![0; n * n],
                    unit,
                    dynamics: cfg.dynamics(n, unit)?,
                    max_sweeps: cfg.recall.max_sweeps,
                    stored: Vec::new(),
                    labels: Vec::new(),
                    side: None,
                    seed: cfg.seed,
                })
            }
            (
                CoreRule::Oja { outputs, .. }
                | CoreRule::Sanger { outputs, .. }
                | CoreRule::Bcm { outputs, .. },
                Task::Vectors { side, .. },
            ) => {
                // Small random weights (0.1 / √n per entry), rows normalised for Oja and Sanger.
                let sd = 0.1 / (n as f64).sqrt();
                let mut w: Vec<i32> = (0..outputs * n)
                    .map(|_| fixed::saturating_from_f64(rng.normal() * sd))
                    .collect();
                let normalize = matches!(
                    rule,
                    CoreRule::Oja {
                        normalize: true,
                        ..
                    } | CoreRule::Sanger {
                        normalize: true,
                        ..
                    }
                );
                if normalize {
                    w.chunks_exact_mut(n).for_each(fixed::normalize);
                }
                let theta = match rule {
                    CoreRule::Bcm { theta0, .. } => vec![theta0; outputs],
                    _ => Vec::new(),
                };
                Model::Linear(Linear {
                    n,
                    k: outputs,
                    w,
                    theta,
                    side: *side,
                })
            }
            (
                CoreRule::Stdp {
                    outputs,
                    rule,
                    lif,
                    init: (mean, sd),
                },
                Task::Spikes { .. },
            ) => {
                let w = (0..outputs * n)
                    .map(|_| {
                        fixed::saturating_from_f64(mean + sd * rng.normal())
                            .clamp(rule.w_min(), rule.w_max())
                    })
                    .collect();
                Model::Spiking(Spiking {
                    n,
                    k: outputs,
                    w,
                    v: vec![0; outputs],
                    pre: vec![0; n],
                    post: vec![0; outputs],
                    adapt: vec![0; outputs],
                    lif,
                    rule,
                })
            }
            _ => bail!(
                "config: rule `{:?}` does not fit task `{:?}`",
                cfg.rule,
                cfg.task
            ),
        };
        let st = TrainState {
            epoch: 0,
            pos: 0,
            done: 0,
            best: None,
            history: Vec::new(),
            weight_trace: Vec::new(),
            run: Vec::new(),
        };
        Ok(Self::assemble(cfg, rule, model, st))
    }

    fn assemble(cfg: RulesConfig, rule: CoreRule, model: Model, st: TrainState) -> Self {
        Self {
            cfg,
            rule,
            model,
            st,
            progress: ProgressConfig::default(),
            hebb: None,
            components: Vec::new(),
            pattern_afferents: Vec::new(),
            last: serde_json::Value::Null,
            resid: Vec::new(),
            outs: Vec::new(),
            order: None,
        }
    }

    /// Continues from a checkpoint's contents.
    pub fn resume(file: ModelFile) -> Result<(Self, RulesConfig)> {
        let cfg = RulesConfig::from_toml_str(&file.config).context("stored config")?;
        let st: TrainState = postcard::from_bytes(&file.state)
            .map_err(|e| anyhow::anyhow!("training state malformed ({e})"))?;
        if st.epoch >= cfg.epochs && st.pos > 0 {
            bail!(
                "training state: epoch {} beyond the budget {}",
                st.epoch,
                cfg.epochs
            );
        }
        let rule = cfg.core_rule()?;
        let t = Self::assemble(cfg.clone(), rule, file.model, st);
        Ok((t, cfg))
    }

    /// The configuration.
    pub fn config(&self) -> &RulesConfig {
        &self.cfg
    }
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// The training state.
    pub fn state(&self) -> &TrainState {
        &self.st
    }

    /// Checks that the data fits the model (after a resume: the regenerated data).
    pub fn check_data(&self, task: &Task) -> Result<()> {
        let (n, what) = match &self.model {
            Model::Hopfield(h) => (h.n, "neurons"),
            Model::Linear(l) => (l.n, "inputs"),
            Model::Spiking(s) => (s.n, "inputs"),
        };
        if task.dim() != n {
            bail!(
                "the data has {} values per pattern, the model {n} {what} (no silent resize)",
                task.dim()
            );
        }
        let (units, pos) = self.epoch_progress(task);
        if pos > units {
            bail!(
                "training state: unit {pos} of an epoch of {units} (the checkpoint does not belong to this data)"
            );
        }
        if self.st.pos > 0 && self.stages_done() {
            bail!("training state: unit {pos} of an epoch after the last one");
        }
        Ok(())
    }

    /// A checkpoint file.
    fn file(&self, state: Vec<u8>) -> ModelFile {
        ModelFile {
            config: self.cfg.to_toml(),
            model: self.model.clone(),
            state,
        }
    }

    fn linear_step(&mut self, x: &[i32]) -> Result<()> {
        let Model::Linear(l) = &mut self.model else {
            bail!("internal: a linear rule on another model");
        };
        let t = self.st.done;
        self.resid.resize(l.n, 0);
        self.outs.resize(l.k, 0);
        let (resid, y) = (&mut self.resid, &mut self.outs);
        match self.rule {
            CoreRule::Oja {
                schedule,
                normalize,
                ..
            } => oja::oja_step(&mut l.w, l.n, x, schedule.rate(t), normalize)?,
            CoreRule::Sanger {
                schedule,
                normalize,
                ..
            } => oja::sanger_step(&mut l.w, l.n, x, schedule.rate(t), normalize, resid, y)?,
            CoreRule::Bcm {
                schedule, params, ..
            } => bcm::bcm_step(&mut l.w, l.n, x, &mut l.theta, schedule.rate(t), &params, y)?,
            _ => bail!("internal: not a linear rule"),
        }
        Ok(())
    }

    fn record_weights(&mut self) {
        if let Model::Spiking(s) = &self.model
            && !self.pattern_afferents.is_empty()
        {
            let (mut a, mut na, mut b, mut nb) = (0.0, 0usize, 0.0, 0usize);
            for row in s.w.chunks_exact(s.n) {
                for (&w, &p) in row.iter().zip(&self.pattern_afferents) {
                    if p {
                        a += fixed::to_f64(w);
                        na += 1;
                    } else {
                        b += fixed::to_f64(w);
                        nb += 1;
                    }
                }
            }
            self.st
                .weight_trace
                .push((self.st.done, a / na.max(1) as f64, b / nb.max(1) as f64));
        }
    }

    /// Metrics of the model now; returns the record and the criterion (higher is better).
    fn evaluate(&self, task: &Task, ctx: &Ctx<'_>) -> Result<(serde_json::Value, f64)> {
        Ok(match (&self.model, task) {
            (Model::Hopfield(h), Task::Patterns { cues, labels, .. }) => {
                let bar = ctx.bar(cues.len() as u64, "recalling the cues".into());
                let summaries = analyze::recall_summaries(h, cues, labels, &bar)?;
                bar.finish_and_clear();
                ctx.check()?;
                let stats = analyze::stats(h)?;
                let crit = summaries.first().map_or(0.0, |s| s.mean_overlap);
                (
                    serde_json::json!({
                        "recall": summaries,
                        "stable_patterns": stats.stable_patterns,
                        "load": stats.load,
                        "capacity": stats.capacity,
                        "symmetry_error": stats.symmetry_error,
                    }),
                    crit,
                )
            }
            (
                Model::Linear(l),
                Task::Vectors {
                    test, test_angles, ..
                },
            ) => {
                if matches!(self.rule, CoreRule::Bcm { .. }) {
                    let t = analyze::tuning(l, test, test_angles)?;
                    let theta: Vec<f64> = l.theta.iter().map(|&v| fixed::to_f64(v)).collect();
                    let sel: Vec<f64> = t.iter().map(|t| t.selectivity).collect();
                    let crit = sel.iter().copied().fold(f64::INFINITY, f64::min);
                    (
                        serde_json::json!({
                            "selectivity": sel,
                            "osi": t.iter().map(|t| t.osi).collect::<Vec<_>>(),
                            "preferred_deg": t.iter().map(|t| t.preferred).collect::<Vec<_>>(),
                            "theta": theta,
                        }),
                        crit,
                    )
                } else {
                    let s = analyze::score_components(l, &self.components);
                    let crit = s.cos.iter().copied().fold(f64::INFINITY, f64::min);
                    (serde_json::to_value(&s)?, crit)
                }
            }
            (Model::Spiking(s), Task::Spikes { test, .. }) => {
                let d = analyze::detection(s, test)?;
                let selective = d
                    .iter()
                    .filter(|d| d.hit_rate >= 0.9 && d.false_alarm_rate <= 0.1)
                    .count();
                let crit = d
                    .iter()
                    .map(|d| d.hit_rate - d.false_alarm_rate)
                    .fold(f64::NEG_INFINITY, f64::max);
                (
                    serde_json::json!({ "detection": d, "selective_neurons": selective }),
                    crit,
                )
            }
            _ => bail!("internal: model and data of different kinds"),
        })
    }
}

impl Trainer for LocalRules {
    type Data = Task;
    type Pattern = [f64];
    type Prediction = Prediction;

    fn family(&self) -> Family {
        Family::LocalRules
    }
    fn configure_progress(&mut self, progress: ProgressConfig) {
        self.progress = progress;
    }
    fn progress(&self) -> ProgressConfig {
        self.progress
    }

    fn begin(&mut self, task: &Task, ctx: &Ctx<'_>) -> Result<()> {
        self.check_data(task)?;
        match (&mut self.model, task) {
            (
                Model::Hopfield(h),
                Task::Patterns {
                    n,
                    stored,
                    labels,
                    side,
                    ..
                },
            ) => {
                h.stored.clone_from(stored);
                h.labels.clone_from(labels);
                h.side = *side;
                if let CoreRule::Hebbian(opts) = self.rule {
                    let p = stored.len() / n;
                    let plan = hebbian::Hebbian::plan(stored, *n, p, opts)?;
                    let mut bits = vec![0u64; n * plan.words()];
                    let mut sums = vec![0i64; *n];
                    plan.pack(stored, &mut bits, &mut sums)?;
                    // The weights' scale is known now: the threshold's field units follow.
                    h.unit = plan.scale().unit();
                    h.dynamics = self.cfg.dynamics(*n, h.unit)?;
                    self.hebb = Some(HebbianCache { plan, bits, sums });
                }
            }
            (
                Model::Linear(l),
                Task::Vectors {
                    xf,
                    components,
                    dim,
                    ..
                },
            ) => {
                self.components = if components.is_empty() {
                    let bar = ctx.bar(1, "principal components of the data".into());
                    let cov = analyze::covariance(xf, *dim);
                    let (v, _) = analyze::top_eigen(&cov, *dim, l.k, self.cfg.seed);
                    bar.finish_and_clear();
                    v
                } else {
                    components.clone()
                };
            }
            (Model::Spiking(_), Task::Spikes { train, .. }) => {
                let mut aff = vec![false; train.inputs];
                for (b, &p) in train.pattern_blocks.iter().enumerate() {
                    if p {
                        for t in b * train.block..(b + 1) * train.block {
                            for (a, &x) in aff.iter_mut().zip(train.step(t)) {
                                *a |= x != 0;
                            }
                        }
                        break;
                    }
                }
                self.pattern_afferents = aff;
                if self.st.weight_trace.is_empty() {
                    self.record_weights();
                }
            }
            _ => bail!("internal: model and data of different kinds"),
        }
        Ok(())
    }

    fn stages_done(&self) -> bool {
        // Hebbian storage is one-shot; every other rule runs its epoch budget.
        let epochs = if matches!(self.rule, CoreRule::Hebbian(_)) {
            1
        } else {
            self.cfg.epochs
        };
        self.st.epoch >= epochs
    }

    fn begin_epoch(&mut self, _: &Task, _: &Ctx<'_>) -> Result<()> {
        Ok(())
    }

    fn epoch_label(&self) -> String {
        let what = match self.rule {
            CoreRule::Hebbian(_) => "storing (rows)",
            CoreRule::Storkey => "storing",
            CoreRule::Stdp { .. } => "steps",
            _ => "samples",
        };
        format!("epoch {} {what}", self.st.epoch + 1)
    }

    fn epoch_progress(&self, task: &Task) -> (u64, u64) {
        let units = match (&self.rule, task) {
            (CoreRule::Hebbian(_), Task::Patterns { n, .. }) => *n as u64,
            _ => task.units(),
        };
        (units, self.st.pos)
    }

    fn chunk(&self) -> u64 {
        match self.rule {
            CoreRule::Hebbian(_) => 64,
            CoreRule::Storkey => 8,
            CoreRule::Stdp { .. } => 5000,
            _ => 2000,
        }
    }

    fn step(&mut self, task: &Task, until: u64) -> Result<()> {
        let from = self.st.pos;
        match (&mut self.model, task) {
            (Model::Hopfield(h), Task::Patterns { n, stored, .. }) => {
                let n = *n;
                match &self.hebb {
                    Some(c) => {
                        let rows = &mut h.w[from as usize * n..until as usize * n];
                        rows.par_chunks_mut(n)
                            .enumerate()
                            .try_for_each(|(r, out)| {
                                c.plan.rows(&c.bits, &c.sums, from as usize + r, out)
                            })?;
                    }
                    None => {
                        let frac = hebbian::storkey_frac(n);
                        let mut hbuf = vec![0i64; n];
                        for p in from as usize..until as usize {
                            hebbian::storkey_add(
                                &mut h.w,
                                n,
                                &stored[p * n..(p + 1) * n],
                                frac,
                                &mut hbuf,
                            )?;
                        }
                    }
                }
                self.st.done += until - from;
            }
            (Model::Linear(_), Task::Vectors { dim, x, .. }) => {
                let d = *dim;
                let m = x.len() / d;
                let epoch = self.st.epoch;
                if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    let mut order: Vec<u32> = (0..m as u32).collect();
                    Rng::new(epoch_seed(self.cfg.seed, epoch)).shuffle(&mut order);
                    self.order = Some((epoch, order));
                }
                // Taken out while the steps borrow the trainer, then put back.
                let order = self.order.take();
                let ids = order
                    .as_ref()
                    .map_or(&[][..], |(_, o)| &o[from as usize..until as usize]);
                let stepped = ids.iter().try_for_each(|&i| {
                    let i = i as usize;
                    // The rate is that of sample number `done`, counted after the step.
                    self.linear_step(&x[i * d..(i + 1) * d])?;
                    self.st.done += 1;
                    anyhow::Ok(())
                });
                self.order = order;
                stepped?;
            }
            (Model::Spiking(s), Task::Spikes { train, .. }) => {
                let mut spikes = vec![0u8; s.k];
                for t in from as usize..until as usize {
                    s.step(train.step(t), true, &mut spikes)?;
                }
                self.st.done += until - from;
                self.record_weights();
            }
            _ => bail!("internal: model and data of different kinds"),
        }
        self.st.pos = until;
        Ok(())
    }

    fn end_epoch(&mut self, task: &Task, ctx: &Ctx<'_>) -> Result<EpochReport> {
        self.st.epoch += 1;
        self.st.pos = 0;
        let (record, crit) = self.evaluate(task, ctx)?;
        self.st.history.push(crit);
        let improved = self.st.best.is_none_or(|b| crit > b);
        if improved {
            self.st.best = Some(crit);
        }
        if let Some(dir) = ctx.plots {
            plots::epoch(self, task, dir).context("writing plots")?;
        }
        let epoch = self.st.epoch;
        let done = self.stages_done().then(|| {
            if matches!(self.rule, CoreRule::Hebbian(_)) {
                "patterns stored".to_owned()
            } else {
                "epoch budget".to_owned()
            }
        });
        self.last = record.clone();
        Ok(EpochReport {
            stage: "train".into(),
            epoch,
            record: serde_json::json!({ "epoch": epoch, "units": self.st.done, "criterion": crit, "metrics": record }),
            scalars: vec![("criterion".into(), crit)],
            improved,
            stage_done: done,
        })
    }

    fn finish(&mut self, task: &Task, ctx: &Ctx<'_>) -> Result<FinalReport> {
        ctx.check()?;
        let mut summary = serde_json::json!({
            "family": "local-rules",
            "preset": self.cfg.preset,
            "rule": self.cfg.rule,
            "units": self.st.done,
            "metrics": self.last,
        });
        let mut headline = Vec::new();
        match (&self.model, task) {
            (Model::Hopfield(h), _) => {
                let st = analyze::stats(h)?;
                ctx.check()?;
                let bar = ctx.bar(200, "attractor census".into());
                let census = analyze::census(h, 200, self.cfg.seed ^ 0xCE45, &bar)?;
                bar.finish_and_clear();
                if let Some(dir) = ctx.plots {
                    plots::final_hopfield(h, dir, self.cfg.seed).context("writing plots")?;
                }
                headline.push(format!(
                    "{} patterns of {} neurons (load {:.3}, capacity ≈ {:.0}); {} stable",
                    st.patterns, st.neurons, st.load, st.capacity, st.stable_patterns
                ));
                if let Some(r) = self.last.get("recall").and_then(|v| v.as_array()) {
                    for s in r {
                        headline.push(format!(
                            "cues {}: mean overlap {:.3}, perfect {:.2}, best match correct {:.2}, mean sweeps {:.1}",
                            s["cues"].as_str().unwrap_or("?"),
                            s["mean_overlap"].as_f64().unwrap_or(f64::NAN),
                            s["perfect"].as_f64().unwrap_or(f64::NAN),
                            s["best_match_correct"].as_f64().unwrap_or(f64::NAN),
                            s["mean_sweeps"].as_f64().unwrap_or(f64::NAN),
                        ));
                    }
                }
                headline.push(format!(
                    "random starts: {} stored, {} reversed, {} spurious ({} distinct), {} unsettled",
                    census.stored, census.reversed, census.spurious, census.distinct_spurious, census.unsettled
                ));
                summary["stats"] = serde_json::to_value(&st)?;
                summary["census"] = serde_json::to_value(&census)?;
            }
            (Model::Linear(_), _) => {
                headline.push(format!("{}: {}", self.cfg.preset, self.last));
            }
            (Model::Spiking(_), _) => {
                headline.push(format!(
                    "{}: {} selective neurons; {}",
                    self.cfg.preset, self.last["selective_neurons"], self.last["detection"]
                ));
            }
        }
        let model = self.file(Vec::new()).to_bytes()?;
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

    fn predict(&self, pattern: &[f64]) -> Result<Prediction> {
        predict(&self.model, pattern)
    }

    fn predict_batch(&self, patterns: &[&[f64]]) -> Result<Vec<Prediction>> {
        patterns
            .par_iter()
            .map(|p| predict(&self.model, p))
            .collect()
    }
}

/// Predicts one pattern with a model: Hopfield recall from a ±1 cue, the outputs of a linear
/// layer, or the spike counts of a LIF layer over a sequence (`steps × inputs` values, 0/1).
pub fn predict(model: &Model, pattern: &[f64]) -> Result<Prediction> {
    match model {
        Model::Hopfield(h) => {
            let s = h.state_of(pattern)?;
            Ok(Prediction::Recall(h.recall(&s)?))
        }
        Model::Linear(l) => Ok(Prediction::Outputs(l.forward(pattern)?)),
        Model::Spiking(s) => {
            if pattern.is_empty() || !pattern.len().is_multiple_of(s.n) {
                bail!(
                    "a spike sequence of {} values is not a whole number of steps of {} inputs",
                    pattern.len(),
                    s.n
                );
            }
            if let Some((i, v)) = pattern
                .iter()
                .enumerate()
                .find(|(_, v)| **v != 0.0 && **v != 1.0)
            {
                bail!("spike value {v} at {i} is not 0 or 1");
            }
            let seq: Vec<i32> = pattern
                .iter()
                .map(|&v| if v == 1.0 { fixed::ONE } else { 0 })
                .collect();
            let out = s.run(&seq, pattern.len() / s.n)?;
            let mut counts = vec![0u32; s.k];
            for step in &out {
                for (c, &x) in counts.iter_mut().zip(step) {
                    *c += u32::from(x);
                }
            }
            Ok(Prediction::Spikes(counts))
        }
    }
}

/// Reads a model or checkpoint file of this family.
pub fn read(path: &Path) -> Result<ModelFile> {
    let bytes = crate::io::read_hebb(path, "model")?;
    ModelFile::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid model", path.display()))
}
