//! The conductance-based E/I network family: the homeostatic-plasticity trainer's dorsal
//! pallium network (`hebb_core::ei`), with local rules instead of backpropagation through time:
//! inhibitory STDP balances excitation and sets the excitatory rate, rate homeostasis (threshold
//! or synaptic scaling) holds the other types at theirs. One epoch is one chunk of simulated
//! time with a fresh Poisson input; the network's state carries over, as in the reference.
//! Every epoch reports the reference's losses and logged keys; the final phase measures the
//! network with plasticity off over `eval_seconds` (CVs need long windows).

pub mod bench;
pub mod build;
pub mod config;
pub mod model;
pub mod plots;
pub mod stats;

use crate::family::Family;
use crate::run::{Ctx, EpochReport, FinalReport, ProgressConfig, Trainer};
use anyhow::{Context, Result, bail};
use build::{Layout, TAG_EVAL, TAG_INPUT, stream};
use config::EiConfig;
use hebb_core::ei::plasticity::{Homeostasis, Istdp, Rates, Traces};
use hebb_core::ei::{Model, Poisson, Scratch, State};
use model::{ModelFile, Resume};
use serde::{Deserialize, Serialize};
use stats::{Spikes, Stats};
use std::path::Path;

/// Cells whose potential and conductances are recorded (the first two of each type).
const PROBES_PER_TYPE: usize = 2;
/// Recorded stretch at the start of each epoch (ms).
const PROBE_MS: f64 = 1000.0;

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch, 1-based.
    pub epoch: u32,
    /// Statistics of the epoch's chunk.
    pub stats: Stats,
    /// Mean weight of the plastic inhibitory synapses.
    pub mean_istdp_w: f64,
    /// Mean threshold per type (mV).
    pub mean_theta: Vec<f64>,
    /// Mean excitatory gain per type.
    pub mean_gain: Vec<f64>,
}

/// Everything a resume needs besides the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished.
    pub epoch: u32,
    /// Steps of the current epoch done.
    pub pos: u64,
    /// Steps trained in all.
    pub done: u64,
    /// Lowest total loss so far.
    pub best: Option<f64>,
    /// The current epoch's spikes.
    pub spikes: Spikes,
    /// Input spikes of the epoch's probe stretch.
    pub input_spikes: Spikes,
    /// Potential and conductances of the probe cells over the probe stretch, step-major.
    pub probe: Vec<f32>,
    /// Per-epoch numbers.
    pub history: Vec<EpochStats>,
    /// Why training stopped early (silence, runaway, non-finite state).
    pub stopped: Option<String>,
    /// CPU seconds spent simulating (training).
    pub train_seconds: f64,
    /// The loop's state.
    pub run: Vec<u8>,
}

/// The trainer.
pub struct EiNetwork {
    cfg: EiConfig,
    model: Model,
    layout: Layout,
    state: State,
    scratch: Scratch,
    input: Poisson,
    input_p: Vec<f64>,
    istdp: Option<Istdp>,
    traces: Traces,
    homeo: Option<Homeostasis>,
    rates: Rates,
    st: TrainState,
    probes: Vec<usize>,
    progress: ProgressConfig,
    ff_buf: Vec<u32>,
}

impl std::fmt::Debug for EiNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EiNetwork")
            .field("cells", &self.model.n())
            .field("epoch", &self.st.epoch)
            .finish_non_exhaustive()
    }
}

/// The rules of `cfg` on `m`.
fn rules(cfg: &EiConfig, m: &Model) -> Result<(Option<Istdp>, Option<Homeostasis>)> {
    let h = &cfg.hebb;
    let istdp = match &h.istdp {
        Some(i) if i.eta > 0.0 => {
            let pre = i
                .pre
                .iter()
                .map(|t| cfg.type_index("hebb.istdp.pre", t))
                .collect::<Result<Vec<_>, _>>()?;
            let post = i
                .post
                .iter()
                .map(|t| cfg.type_index("hebb.istdp.post", t))
                .collect::<Result<Vec<_>, _>>()?;
            let rho0 = i
                .target_hz
                .unwrap_or_else(|| cfg.target_hz(post.first().copied().unwrap_or(0) as usize));
            Some(Istdp::new(m, i.eta, i.tau_ms, rho0, i.w_max, &pre, &post)?)
        }
        _ => None,
    };
    let per_cell = |rule: &config::RateRule, key: &str| -> Result<Vec<f32>> {
        let mut eta = vec![0.0f32; cfg.type_names().len()];
        for (t, e) in rule {
            eta[cfg.type_index(key, t)? as usize] = *e as f32;
        }
        Ok(m.cell_type.iter().map(|&t| eta[t as usize]).collect())
    };
    let eta_theta = per_cell(&h.threshold, "hebb.threshold")?;
    let eta_gain = per_cell(&h.scaling, "hebb.scaling")?;
    let homeo = if eta_theta.iter().chain(&eta_gain).any(|&e| e > 0.0) {
        let hm = Homeostasis {
            target: m
                .cell_type
                .iter()
                .map(|&t| cfg.target_hz(t as usize) as f32)
                .collect(),
            eta_theta,
            eta_gain,
            tau_rate: h.rate_tau_ms,
            interval: ((h.homeostasis_interval_ms / cfg.simulation.dt).round() as u32).max(1),
        };
        hm.validate(m.n())?;
        Some(hm)
    } else {
        None
    };
    Ok((istdp, homeo))
}

fn probes_of(cell_type: &[u8], types: usize) -> Vec<usize> {
    (0..types)
        .flat_map(|t| {
            cell_type
                .iter()
                .enumerate()
                .filter(move |(_, c)| **c as usize == t)
                .map(|(j, _)| j)
                .take(PROBES_PER_TYPE)
        })
        .collect()
}

impl EiNetwork {
    /// A new network built from the config.
    pub fn new(cfg: EiConfig) -> Result<Self> {
        cfg.validate()?;
        let (model, layout) = build::build(&cfg)?;
        let state = model.rest();
        Self::assemble(cfg, model, layout, state, None)
    }

    fn assemble(
        cfg: EiConfig,
        model: Model,
        layout: Layout,
        state: State,
        resume: Option<Resume>,
    ) -> Result<Self> {
        let (istdp, homeo) = rules(&cfg, &model)?;
        let input_p = build::input_probabilities(&cfg, &layout);
        let n = model.n();
        let (traces, rates, input, st) = match resume {
            Some(r) => {
                let input = Poisson::restore(input_p.clone(), r.input.0, r.input.1)?;
                let rates = Rates {
                    count: r.rates.0,
                    rate: r.rates.1,
                };
                (
                    Traces {
                        x: r.traces.0,
                        last: r.traces.1,
                    },
                    rates,
                    input,
                    r.train,
                )
            }
            None => (
                Traces::new(n),
                homeo
                    .as_ref()
                    .map_or_else(Rates::default, Homeostasis::rates),
                Poisson::new(input_p.clone(), 0, stream(cfg.simulation.seed, TAG_INPUT))?,
                TrainState {
                    epoch: 0,
                    pos: 0,
                    done: 0,
                    best: None,
                    spikes: Vec::new(),
                    input_spikes: Vec::new(),
                    probe: Vec::new(),
                    history: Vec::new(),
                    stopped: None,
                    train_seconds: 0.0,
                    run: Vec::new(),
                },
            ),
        };
        model.check_state(&state)?;
        if homeo.is_some() && (rates.count.len() != n || rates.rate.len() != n) {
            bail!("checkpoint: rate estimates do not match the rules of its config");
        }
        let probes = probes_of(&layout.cell_type, cfg.type_names().len());
        Ok(Self {
            cfg,
            model,
            layout,
            state,
            scratch: Scratch::default(),
            input,
            input_p,
            istdp,
            traces,
            homeo,
            rates,
            st,
            probes,
            progress: ProgressConfig::default(),
            ff_buf: Vec::new(),
        })
    }

    /// Restores a trainer from a checkpoint (or a model, which then trains from its state).
    pub fn resume(file: ModelFile) -> Result<Self> {
        let cfg = EiConfig::from_toml_str(&file.config).context("the checkpoint's config")?;
        let layout = file.layout();
        let model = build::model(&cfg, &layout, file.rec.into(), file.ff.into())?;
        let state: State = file.state.into();
        Self::assemble(cfg, model, layout, state, file.resume)
    }

    /// The config.
    pub fn config(&self) -> &EiConfig {
        &self.cfg
    }

    /// The training state.
    pub fn state(&self) -> &TrainState {
        &self.st
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The layout (types, assemblies).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The network's state.
    pub fn net_state(&self) -> &State {
        &self.state
    }

    fn file(&self, resume: Option<Resume>) -> ModelFile {
        ModelFile {
            config: self.cfg.to_toml(),
            cell_type: self.layout.cell_type.clone(),
            assembly: self.layout.assembly.clone(),
            ff_type: self.layout.ff_type.clone(),
            rec: (&self.model.rec).into(),
            ff: (&self.model.ff).into(),
            state: (&self.state).into(),
            resume,
        }
    }

    fn probe_steps(&self) -> u64 {
        (PROBE_MS / self.cfg.simulation.dt).round() as u64
    }

    fn record_probe(&mut self) {
        let nc = self.model.channels.len();
        for &j in &self.probes {
            self.st
                .probe
                .push(self.state.v.get(j).copied().unwrap_or(f32::NAN));
            for c in 0..nc {
                self.st
                    .probe
                    .push(self.model.conductance(&self.state, c, j));
            }
        }
    }

    /// Simulates `steps` steps from the current state with plasticity off and a fresh input
    /// of stream `tag`, without changing the trainer; returns the spikes.
    pub fn simulate(
        &self,
        steps: u64,
        tag: u64,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<Spikes> {
        let mut state = self.state.clone();
        let mut w = Scratch::default();
        let mut input = Poisson::new(
            self.input_p.clone(),
            0,
            stream(self.cfg.simulation.seed, tag),
        )?;
        let mut buf = Vec::new();
        let mut spikes = Vec::new();
        for k in 0..steps {
            buf.clear();
            input.fire(k + 1, &mut buf);
            hebb_core::ei::step(&self.model, &mut state, &mut w, &buf)?;
            spikes.extend(state.fired.iter().map(|&j| (k as u32, j)));
            if let Some(b) = bar
                && k % 2000 == 0
            {
                b.set_position(k);
            }
        }
        if state.v.iter().any(|v| !v.is_finite()) {
            bail!("the simulation produced non-finite potentials");
        }
        Ok(spikes)
    }

    fn epoch_stats(&self) -> EpochStats {
        let steps = self.cfg.epoch_steps();
        let tr = stats::trains(
            &self.st.spikes,
            self.model.n(),
            steps,
            self.cfg.simulation.dt,
        );
        let s = stats::summarise(&self.cfg, &self.layout.cell_type, &tr, steps);
        let nt = self.cfg.type_names().len();
        let per_type = |x: &[f32]| -> Vec<f64> {
            (0..nt)
                .map(|t| {
                    let v: Vec<f64> = x
                        .iter()
                        .zip(&self.layout.cell_type)
                        .filter(|(_, c)| **c as usize == t)
                        .map(|(a, _)| f64::from(*a))
                        .collect();
                    v.iter().sum::<f64>() / v.len().max(1) as f64
                })
                .collect()
        };
        EpochStats {
            epoch: self.st.epoch + 1,
            stats: s,
            mean_istdp_w: self.mean_plastic_weight(),
            mean_theta: per_type(&self.state.theta),
            mean_gain: per_type(&self.state.gain),
        }
    }

    /// Mean weight of the synapses the inhibitory rule changes (NaN without it).
    pub fn mean_plastic_weight(&self) -> f64 {
        let Some(i) = &self.cfg.hebb.istdp else {
            return f64::NAN;
        };
        let pre: Vec<u8> = i
            .pre
            .iter()
            .filter_map(|t| self.cfg.type_index("", t).ok())
            .collect();
        let post: Vec<u8> = i
            .post
            .iter()
            .filter_map(|t| self.cfg.type_index("", t).ok())
            .collect();
        let (mut sum, mut n) = (0.0f64, 0usize);
        for (p, &tp) in self.layout.cell_type.iter().enumerate() {
            if !pre.contains(&tp) {
                continue;
            }
            for s in self.model.rec.row(p) {
                let t = self.model.rec.target[s] as usize;
                if post.contains(&self.layout.cell_type[t]) {
                    sum += f64::from(self.model.rec.w[s]);
                    n += 1;
                }
            }
        }
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }
}

impl Trainer for EiNetwork {
    type Data = ();
    /// Simulated seconds.
    type Pattern = f64;
    /// The statistics of that stretch.
    type Prediction = Stats;

    fn family(&self) -> Family {
        Family::EiNetwork
    }

    fn configure_progress(&mut self, progress: ProgressConfig) {
        self.progress = progress;
    }

    fn progress(&self) -> ProgressConfig {
        self.progress
    }

    fn begin(&mut self, _: &(), _: &Ctx<'_>) -> Result<()> {
        let s = &self.cfg;
        tracing::info!(
            "E/I network: {} cells, {} recurrent and {} input synapses; targets {}; {} epochs of {} ms",
            self.model.n(),
            self.model.rec.len(),
            self.model.ff.len(),
            (0..s.type_names().len())
                .map(|t| format!("{} {} Hz", s.type_names()[t], s.target_hz(t)))
                .collect::<Vec<_>>()
                .join(", "),
            s.simulation.epochs,
            s.simulation.chunk_size
        );
        Ok(())
    }

    fn stages_done(&self) -> bool {
        self.st.epoch >= self.cfg.simulation.epochs || self.st.stopped.is_some()
    }

    fn begin_epoch(&mut self, _: &(), _: &Ctx<'_>) -> Result<()> {
        if self.st.pos == 0 && self.st.spikes.is_empty() {
            self.input = Poisson::new(
                self.input_p.clone(),
                0,
                stream(
                    self.cfg.simulation.seed,
                    TAG_INPUT + u64::from(self.st.epoch),
                ),
            )?;
            self.st.probe.clear();
            self.st.input_spikes.clear();
        }
        Ok(())
    }

    fn epoch_label(&self) -> String {
        format!("epoch {}", self.st.epoch + 1)
    }

    fn epoch_progress(&self, _: &()) -> (u64, u64) {
        (self.cfg.epoch_steps(), self.st.pos)
    }

    fn chunk(&self) -> u64 {
        (1000.0 / self.cfg.simulation.dt).round().max(1.0) as u64
    }

    fn checkpoint_interval(&self) -> u32 {
        self.cfg.simulation.checkpoint_interval
    }

    fn step(&mut self, _: &(), until: u64) -> Result<()> {
        let t0 = crate::bench::thread_cpu_seconds();
        let probe_steps = self.probe_steps();
        let end = until.min(self.cfg.epoch_steps());
        while self.st.pos < end {
            let k = self.st.pos;
            self.ff_buf.clear();
            self.input.fire(k + 1, &mut self.ff_buf);
            hebb_core::ei::step(
                &self.model,
                &mut self.state,
                &mut self.scratch,
                &self.ff_buf,
            )?;
            let fired = std::mem::take(&mut self.state.fired);
            self.st.spikes.extend(fired.iter().map(|&j| (k as u32, j)));
            if let Some(i) = &self.istdp {
                i.on_spikes(
                    &mut self.model.rec,
                    &mut self.traces,
                    &fired,
                    self.state.step,
                );
            }
            if let Some(h) = &self.homeo {
                h.on_step(&self.model, &mut self.state, &mut self.rates, &fired);
            }
            self.state.fired = fired;
            if k < probe_steps {
                self.st
                    .input_spikes
                    .extend(self.ff_buf.iter().map(|&i| (k as u32, i)));
                self.record_probe();
            }
            self.st.pos += 1;
            self.st.done += 1;
        }
        if let (Some(a), Some(b)) = (t0, crate::bench::thread_cpu_seconds()) {
            self.st.train_seconds += b - a;
        }
        if self.state.v.iter().any(|v| !v.is_finite()) {
            self.st.stopped = Some(format!(
                "non-finite potentials in epoch {} (step {}): the parameters make the integration unstable",
                self.st.epoch + 1,
                self.st.pos
            ));
            self.st.pos = self.cfg.epoch_steps();
        }
        Ok(())
    }

    fn end_epoch(&mut self, _: &(), ctx: &Ctx<'_>) -> Result<EpochReport> {
        let es = self.epoch_stats();
        let s = &es.stats;
        let total_epochs = self.cfg.simulation.epochs;
        tracing::info!(
            "epoch {}/{}: CV loss {:.4}, FR loss {:.4}, total loss {:.4}, mean FR {:.3} Hz, mean CV {:.3}, active {:.1} %",
            es.epoch,
            total_epochs,
            s.loss_cv,
            s.loss_firing_rate,
            s.loss_total,
            s.mean_firing_rate,
            s.mean_cv,
            100.0 * s.fraction_active
        );
        let improved = self.st.best.is_none_or(|b| s.loss_total < b) && s.loss_total.is_finite();
        if improved {
            self.st.best = Some(s.loss_total);
        }
        let h = &self.cfg.hebb;
        if self.st.stopped.is_none() {
            if s.mean_firing_rate < h.silent_hz {
                self.st.stopped = Some(format!(
                    "the network fell silent (mean rate {:.4} Hz < hebb.silent_hz {})",
                    s.mean_firing_rate, h.silent_hz
                ));
            } else if s.mean_firing_rate > h.runaway_hz {
                self.st.stopped = Some(format!(
                    "runaway activity (mean rate {:.1} Hz > hebb.runaway_hz {})",
                    s.mean_firing_rate, h.runaway_hz
                ));
            }
            if let Some(m) = &self.st.stopped {
                tracing::warn!("stopping: {m}; the checkpoint of this epoch is kept");
            }
        }
        let figures = h.figures
            && (es
                .epoch
                .is_multiple_of(self.cfg.simulation.checkpoint_interval)
                || es.epoch == total_epochs
                || self.st.stopped.is_some());
        if figures && let Some(dir) = ctx.plots {
            let d = dir
                .parent()
                .unwrap_or(dir)
                .join("figures")
                .join(format!("epoch_{:04}", es.epoch));
            plots::epoch(self, &es, &d).with_context(|| format!("writing {}", d.display()))?;
        }
        let mut scalars = s.scalars();
        if es.mean_istdp_w.is_finite() {
            scalars.push(("mean_istdp_weight".into(), es.mean_istdp_w));
        }
        let record = serde_json::json!({
            "epoch": es.epoch,
            "loss/cv": s.loss_cv,
            "loss/firing_rate": s.loss_firing_rate,
            "loss/total": s.loss_total,
            "stats": s,
            "mean_istdp_weight": es.mean_istdp_w,
            "mean_theta": es.mean_theta,
            "mean_gain": es.mean_gain,
        });
        self.st.history.push(es.clone());
        self.st.epoch += 1;
        self.st.pos = 0;
        self.st.spikes.clear();
        let stage_done = if let Some(m) = &self.st.stopped {
            Some(m.clone())
        } else if self.st.epoch >= total_epochs {
            Some(format!("{total_epochs} epochs"))
        } else {
            None
        };
        Ok(EpochReport {
            stage: "network".into(),
            epoch: es.epoch,
            record,
            scalars,
            improved,
            stage_done,
        })
    }

    fn finish(&mut self, _: &(), ctx: &Ctx<'_>) -> Result<FinalReport> {
        let steps = (self.cfg.hebb.eval_seconds * 1000.0 / self.cfg.simulation.dt).round() as u64;
        let bar = ctx.bar(steps, "measure".into());
        let t0 = crate::bench::thread_cpu_seconds();
        let spikes = self.simulate(steps, TAG_EVAL, Some(&bar))?;
        let cpu = match (t0, crate::bench::thread_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        bar.finish_and_clear();
        ctx.check()?;
        let dt = self.cfg.simulation.dt;
        let tr = stats::trains(&spikes, self.model.n(), steps, dt);
        let s = stats::summarise(&self.cfg, &self.layout.cell_type, &tr, steps);
        let fano = stats::fano_curve(&tr, steps, dt, &[10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0]);
        if let Some(dir) = ctx.plots {
            plots::final_measure(self, &s, &tr, &fano, dir).context("writing plots")?;
        }
        let sim_seconds = self.st.done as f64 * dt / 1000.0;
        let summary = serde_json::json!({
            "family": "ei-network",
            "cells": self.model.n(),
            "recurrent_synapses": self.model.rec.len(),
            "input_synapses": self.model.ff.len(),
            "epochs": self.st.epoch,
            "stopped": self.st.stopped,
            "trained_seconds": sim_seconds,
            "train_cpu_seconds": self.st.train_seconds,
            "simulated_seconds_per_cpu_second": sim_seconds / self.st.train_seconds.max(1e-9),
            "measure": s,
            "measure_cpu_seconds": cpu,
            "fano": fano,
            "best_loss": self.st.best,
            "mean_istdp_weight": self.mean_plastic_weight(),
            "history": self.st.history.iter().map(|e| serde_json::json!({
                "epoch": e.epoch,
                "loss/total": e.stats.loss_total,
                "loss/firing_rate": e.stats.loss_firing_rate,
                "loss/cv": e.stats.loss_cv,
                "mean_firing_rate": e.stats.mean_firing_rate,
                "mean_cv": e.stats.mean_cv,
                "fraction_active": e.stats.fraction_active,
            })).collect::<Vec<_>>(),
        });
        let mut headline = vec![format!(
            "measured over {:.0} s (plasticity off): mean CV {:.3}, active {:.1} %, losses FR {:.4} CV {:.4} total {:.4}",
            s.seconds,
            s.mean_cv,
            100.0 * s.fraction_active,
            s.loss_firing_rate,
            s.loss_cv,
            s.loss_total
        )];
        for t in &s.types {
            headline.push(format!(
                "  {}: {:.3} Hz (target {}), CV {:.3}, active {:.1} %",
                t.name,
                t.mean_fr,
                t.target_hz,
                t.mean_cv,
                100.0 * t.fraction_active
            ));
        }
        if let Some(m) = &self.st.stopped {
            headline.push(format!("training stopped early: {m}"));
        }
        let mut scalars = s.scalars();
        scalars
            .iter_mut()
            .for_each(|(k, _)| k.insert_str(0, "final/"));
        Ok(FinalReport {
            model: self.file(None).to_bytes()?,
            summary,
            scalars,
            headline,
        })
    }

    fn checkpoint(&self, run_state: &[u8]) -> Result<Vec<u8>> {
        let mut train = self.st.clone();
        train.run = run_state.to_vec();
        self.file(Some(Resume {
            traces: model::traces_file(&self.traces),
            rates: model::rates_file(&self.rates),
            input: (self.input.next_steps().to_vec(), self.input.rng().clone()),
            train,
        }))
        .to_bytes()
    }

    fn units_done(&self) -> u64 {
        self.st.done
    }

    fn predict(&self, seconds: &f64) -> Result<Stats> {
        if !(seconds.is_finite() && *seconds > 0.0 && *seconds <= 1.0e5) {
            bail!("simulated time must be in (0, 100000] s");
        }
        let steps = (seconds * 1000.0 / self.cfg.simulation.dt).round().max(1.0) as u64;
        let spikes = self.simulate(steps, TAG_EVAL, None)?;
        let tr = stats::trains(&spikes, self.model.n(), steps, self.cfg.simulation.dt);
        Ok(stats::summarise(
            &self.cfg,
            &self.layout.cell_type,
            &tr,
            steps,
        ))
    }
}

/// Reads a checkpoint or model file of this family.
pub fn read(path: &Path) -> Result<ModelFile> {
    let bytes = crate::io::read_hebb(path, "checkpoint")?;
    ModelFile::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}
