//! The layer-wise trainer: each learned layer trains in turn with STDP + WTA on the outputs of the
//! frozen layers before it, with its own epoch budget and stop rules; then the readout is fitted
//! on the features of the whole network. Checkpoints are exact: a resumed run ends with the same
//! bytes as an uninterrupted one.

use crate::backend::{Backend, LayerState, LrState, SpikeCache, TrainJob, TrainStats};
use crate::config::TrainConfig;
use crate::data::{DataSource, Split};
use crate::io::{append_line, write_atomic};
use crate::log::Log;
use crate::net::{LayerTrain, Net, ProvenanceOwned, layer_train};
use anyhow::{Context, Result, bail};
use hebb_core::convergence;
use hebb_core::rng::Rng;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Set by Ctrl-C: the trainer saves a checkpoint and stops (`--stop-after-samples` acts
/// the same way for its own run without setting this).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Samples between interruption checks and progress updates.
const CHUNK: usize = 250;

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
    /// Wins per map, cumulative over this layer's training.
    pub wins: Vec<u32>,
    /// Wins per map in the current epoch.
    pub epoch_wins: Vec<u32>,
    /// Counters of the current epoch.
    pub epoch_stats: TrainStats,
    /// Best win ratio of this layer and epochs since it improved.
    pub best_ratio: f64,
    /// Epochs since the best ratio.
    pub since_best: u16,
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
    /// Total samples trained (all layers), for `--stop-after-samples`.
    pub total_samples: u64,
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Resolved config.
    pub config: TrainConfig,
    /// Data.
    pub data: DataSource,
    /// Run folder.
    pub run_dir: PathBuf,
    /// Checkpoint to resume from.
    pub resume: Option<PathBuf>,
    /// Write TensorBoard events.
    pub tensorboard: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Stop (as if interrupted) after this many samples in total (for tests of resume).
    pub stop_after: Option<u64>,
}

/// How a training run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; test accuracy.
    Done {
        /// Test accuracy.
        test_accuracy: f64,
        /// Train accuracy.
        train_accuracy: f64,
    },
    /// Interrupted; the checkpoint written.
    Interrupted(PathBuf),
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

fn bar(progress: bool, len: u64, msg: String) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} {per_sec:>12} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(msg);
    b
}

/// Input spike times of layer `l` for every sample: the encoder output pushed through the frozen
/// layers `0..l` (with the pointwise inhibition each next layer trains with).
pub fn layer_inputs(
    be: &mut dyn Backend,
    cfg: &TrainConfig,
    net: &Net,
    enc: &SpikeCache,
    l: usize,
) -> Result<SpikeCache> {
    let mut cur = enc.clone();
    for j in 0..l {
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

fn write_checkpoint(path: &Path, net: &Net, prov: &ProvenanceOwned, st: &TrainState) -> Result<()> {
    let state = postcard::to_stdvec(st).context("encoding training state")?;
    let bytes = net
        .to_bytes(prov, &state, 16)
        .context("encoding checkpoint")?;
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads a checkpoint: the network and the training state.
pub fn read_checkpoint(path: &Path) -> Result<(Net, TrainState)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    if m.state.is_empty() {
        bail!(
            "{} is an exported model, not a checkpoint (it holds no training state)",
            path.display()
        );
    }
    let st: TrainState = postcard::from_bytes(m.state).map_err(|e| {
        anyhow::anyhow!(
            "checkpoint {}: training state malformed: {e}",
            path.display()
        )
    })?;
    Ok((Net::from_model(&m), st))
}

fn kernels_png(path: &Path, net: &Net, l: usize) -> std::io::Result<()> {
    let g = &net.arch[l].conv;
    let (m, c, k) = (g.out_c() as usize, g.input().c as usize, g.k() as usize);
    let w = &net.weights[l];
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
}

/// Runs training.
#[allow(clippy::too_many_lines)]
pub fn train(opts: &TrainOptions, be: &mut dyn Backend, log: &Log) -> Result<Outcome> {
    let run = &opts.run_dir;
    let (mut net, mut st, cfg) = match &opts.resume {
        Some(p) => {
            let (net, st) = read_checkpoint(p)?;
            let cfg = TrainConfig::from_toml_str(&st.config)
                .context("config stored in the checkpoint")?;
            log.info(&format!(
                "resuming {} at layer {} epoch {} sample {}",
                p.display(),
                st.layer,
                st.epoch,
                st.pos
            ));
            (net, st, cfg)
        }
        None => {
            let cfg = opts.config.clone();
            let mut rng = Rng::new(cfg.seed);
            let net = Net::from_config(&cfg, &mut rng)?;
            let st = TrainState {
                config: cfg.to_toml(),
                data: opts.data.to_string(),
                layer: 0,
                epoch: 0,
                pos: 0,
                lr: None,
                wins: Vec::new(),
                epoch_wins: Vec::new(),
                epoch_stats: TrainStats::default(),
                best_ratio: -1.0,
                since_best: 0,
                layer_epochs: Vec::new(),
                stop_reasons: Vec::new(),
                layer_seconds: Vec::new(),
                layer_rate: Vec::new(),
                layer_c_l: Vec::new(),
                total_samples: 0,
            };
            (net, st, cfg)
        }
    };
    // Data first: a data set that does not load or fit fails before the run folder is touched.
    let data: DataSource = st.data.parse().unwrap_or(DataSource::EmbeddedMnist);
    let split: Split = data
        .load()
        .with_context(|| format!("loading data set `{data}`"))?;
    if split.train.rows != cfg.input[0] as usize || split.train.cols != cfg.input[1] as usize {
        bail!(
            "data set `{data}` has {}×{} images but the config expects {}×{}",
            split.train.rows,
            split.train.cols,
            cfg.input[0],
            cfg.input[1]
        );
    }
    if let Some(&bad) = split
        .train
        .labels
        .iter()
        .chain(&split.test.labels)
        .find(|&&l| l as usize >= cfg.n_classes as usize)
    {
        bail!(
            "data set `{data}` has label {bad} but n_classes is {}",
            cfg.n_classes
        );
    }
    for d in ["checkpoints", "logs", "plots"] {
        std::fs::create_dir_all(run.join(d))
            .with_context(|| format!("creating {}", run.join(d).display()))?;
    }
    log.to_file(&run.join("logs/train.log"))
        .context("opening logs/train.log")?;
    write_atomic(&run.join("config.toml"), st.config.as_bytes()).context("writing config.toml")?;
    let mut tb = if opts.tensorboard {
        std::fs::create_dir_all(run.join("events"))?;
        Some(
            crate::tensorboard::EventWriter::create(&run.join("events"))
                .context("creating TensorBoard events")?,
        )
    } else {
        None
    };
    log.info(&format!(
        "data `{data}`: {} train / {} test images, back end: {}",
        split.train.len(),
        split.test.len(),
        be.name()
    ));
    let prov = |st: &TrainState, acc: f32| ProvenanceOwned {
        preset: cfg.preset.clone(),
        dataset: data.to_string(),
        seed: cfg.seed,
        epochs: st.layer_epochs.clone(),
        test_accuracy: acc,
    };
    let n = split.train.len();
    let t0 = Instant::now();
    let enc = be.encode(&net, &split.train.images)?;
    log.info(&format!(
        "encoded {n} training images in {:.2} s",
        t0.elapsed().as_secs_f64()
    ));
    let n_layers = net.arch.len();
    let mut curves: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n_layers];
    while st.layer < n_layers {
        let l = st.layer;
        let lc = &cfg.layers[l];
        let lt: LayerTrain = layer_train(lc, l)?;
        let maps = net.arch[l].conv.out_c() as usize;
        if st.lr.is_none() {
            st.lr = Some(LrState {
                current: lt.stdp,
                samples: 0,
            });
            st.wins = vec![0; maps];
            st.epoch_wins = vec![0; maps];
            st.best_ratio = -1.0;
            st.since_best = 0;
        }
        let t_in = Instant::now();
        let inputs = layer_inputs(be, &cfg, &net, &enc, l)?;
        log.info(&format!(
            "layer {} ({}): {} maps {}×{}, input {:?} computed in {:.2} s",
            l + 1,
            lc.name,
            maps,
            lc.kernel,
            lc.kernel,
            net.arch[l].conv.input(),
            t_in.elapsed().as_secs_f64()
        ));
        if lt.batch > 1 {
            log.info(&format!(
                "layer {} ({}): mini-batches of {} samples (summed STDP updates)",
                l + 1,
                lc.name,
                lt.batch
            ));
        }
        let layer_t0 = Instant::now();
        let mut layer_samples = 0u64;
        let mut stop_reason = String::from("epoch budget");
        while st.epoch < lc.epochs {
            let order = if cfg.shuffle {
                epoch_order(n, cfg.seed, l, st.epoch)
            } else {
                (0..n as u32).collect()
            };
            let pb = bar(
                opts.progress,
                n as u64,
                format!("{} ep {}/{}", lc.name, st.epoch + 1, lc.epochs),
            );
            pb.set_position(st.pos);
            log.set_bar(Some(pb.clone()));
            let ep_t0 = Instant::now();
            let ep_start = st.pos;
            // Calls (and so interruptions and checkpoints) fall on mini-batch boundaries, which
            // are counted from the start of the epoch: a resumed run forms the same batches.
            let bsz = lt.batch.max(1) as usize;
            let chunk = CHUNK.div_ceil(bsz) * bsz;
            while (st.pos as usize) < n {
                let a = st.pos as usize;
                let mut b = (a + chunk).min(n);
                if let Some(limit) = opts.stop_after {
                    let left = limit.saturating_sub(st.total_samples) as usize;
                    b = b.min(a + left.div_ceil(bsz) * bsz).min(n);
                }
                if b > a {
                    let job = TrainJob {
                        arch: &net.arch[l],
                        train: &lt,
                        steps: net.encoder.steps(),
                        inputs: &inputs,
                    };
                    let mut wins = vec![0u32; maps];
                    be.train(
                        &job,
                        &order[a..b],
                        &mut LayerState {
                            weights: &mut net.weights[l],
                            thresholds: &mut net.thresholds[l],
                            lr: st.lr.as_mut().expect("set above"),
                            wins: &mut wins,
                            stats: &mut st.epoch_stats,
                        },
                    )?;
                    for (m, w) in wins.iter().enumerate() {
                        st.wins[m] += w;
                        st.epoch_wins[m] += w;
                    }
                    st.pos = b as u64;
                    st.total_samples += (b - a) as u64;
                    layer_samples += (b - a) as u64;
                    pb.set_position(st.pos);
                }
                // `--stop-after-samples` stops this run only: setting the process-wide flag
                // would also stop every later run in the same process.
                let limit_reached = opts.stop_after.is_some_and(|lim| st.total_samples >= lim);
                if limit_reached || INTERRUPTED.load(Ordering::SeqCst) {
                    pb.abandon();
                    log.set_bar(None);
                    let p = run.join("checkpoints/checkpoint_latest.hebb");
                    write_checkpoint(&p, &net, &prov(&st, f32::NAN), &st)?;
                    log.warn(&format!(
                        "interrupted: checkpoint saved to {} (resume with --resume)",
                        p.display()
                    ));
                    return Ok(Outcome::Interrupted(p));
                }
            }
            pb.finish_and_clear();
            log.set_bar(None);
            st.epoch += 1;
            st.pos = 0;
            // Epoch diagnostics.
            let secs = ep_t0.elapsed().as_secs_f64();
            let es = st.epoch_stats;
            let samples = es.samples.max(1);
            let c_l = convergence::c_l(&net.weights[l]);
            let min_wins = lc.stop.min_wins;
            let ratio = st.wins.iter().filter(|&&w| w >= min_wins).count() as f64 / maps as f64;
            let dead = st.epoch_wins.iter().filter(|&&w| w == 0).count();
            let th = &net.thresholds[l];
            let tmin = th.iter().copied().min().unwrap_or(0);
            let tmax = th.iter().copied().max().unwrap_or(0);
            let m = EpochMetrics {
                layer: lc.name.clone(),
                epoch: st.epoch,
                samples: es.samples,
                seconds: secs,
                samples_per_sec: (n as u64 - ep_start) as f64 / secs.max(1e-9),
                convergence: c_l,
                win_ratio: ratio,
                max_wins: st.wins.iter().copied().max().unwrap_or(0),
                dead_maps: dead,
                winners_per_sample: es.winners as f64 / samples as f64,
                silent_fraction: es.silent as f64 / samples as f64,
                spikes_per_sample: es.spikes as f64 / samples as f64,
                firing_rate: es.spikes as f64
                    / samples as f64
                    / net.arch[l].conv.output().len() as f64,
                threshold_min: hebb_core::q::potential_to_f64(tmin),
                threshold_max: hebb_core::q::potential_to_f64(tmax),
                wins_per_map: st.epoch_wins.clone(),
            };
            log.info(&format!(
                "{} epoch {}/{}: C_l {:.4}, win ratio {:.2}, {:.2} winners/sample, dead maps {}, {:.0} samples/s",
                lc.name, st.epoch, lc.epochs, c_l, ratio, m.winners_per_sample, dead, m.samples_per_sec
            ));
            if dead > 0 {
                log.warn(&format!(
                    "{}: {dead} of {maps} maps never won this epoch (dead maps)",
                    lc.name
                ));
            }
            // Dead-map recovery: a map that (almost) never wins gets fresh noise on its kernel,
            // once per epoch, from a stream fixed by (seed, layer, epoch) so resume is exact.
            if let Some(h) = lc
                .homeostasis
                .as_ref()
                .filter(|h| h.dead_rate > 0.0 && h.recovery_sigma > 0.0)
            {
                let mut rng =
                    Rng::new(cfg.seed ^ 0xDEAD_0000 ^ ((l as u64) << 32) ^ u64::from(st.epoch));
                let mut revived = 0;
                for (map, &w) in st.epoch_wins.iter().enumerate() {
                    if (f64::from(w) / samples as f64) < h.dead_rate {
                        hebb_core::homeostasis::recover(
                            &mut net.weights[l],
                            maps,
                            map,
                            &mut rng,
                            h.recovery_sigma,
                        )?;
                        revived += 1;
                    }
                }
                if revived > 0 {
                    log.warn(&format!(
                        "{}: {revived} dead maps got recovery noise (σ = {})",
                        lc.name, h.recovery_sigma
                    ));
                }
            }
            if m.silent_fraction > 0.1 {
                log.warn(&format!(
                    "{}: {:.0} % of samples produced no winner: thresholds may be too high for the input",
                    lc.name,
                    100.0 * m.silent_fraction
                ));
            }
            append_line(&run.join("metrics.jsonl"), &serde_json::to_string(&m)?)?;
            if let Some(tb) = tb.as_mut() {
                let step = i64::from(st.epoch);
                let p = &lc.name;
                for (tag, v) in [
                    ("convergence", c_l),
                    ("win_ratio", ratio),
                    ("dead_maps", dead as f64),
                    ("winners_per_sample", m.winners_per_sample),
                    ("firing_rate", m.firing_rate),
                    ("threshold/min", m.threshold_min),
                    ("threshold/max", m.threshold_max),
                    ("samples_per_sec", m.samples_per_sec),
                ] {
                    tb.add_scalar(&format!("{p}/{tag}"), v as f32, step)?;
                }
                tb.flush()?;
            }
            curves[l].push((f64::from(st.epoch), c_l));
            let _ = crate::plot::histogram(
                &run.join(format!("plots/wins_{}.png", lc.name)),
                &format!("{} wins per map, epoch {}", lc.name, st.epoch),
                &st.epoch_wins,
            );
            let _ = kernels_png(&run.join(format!("plots/kernels_{}.png", lc.name)), &net, l);
            st.epoch_wins.iter_mut().for_each(|w| *w = 0);
            st.epoch_stats = TrainStats::default();
            // Stop rules, per layer.
            let mut stop = None;
            if lc.stop.c_l > 0.0 && c_l < lc.stop.c_l {
                stop = Some(format!("converged (C_l {c_l:.4} < {})", lc.stop.c_l));
            }
            if lc.stop.target_ratio > 0.0 && ratio >= lc.stop.target_ratio {
                stop = Some(format!("win ratio {ratio:.2} >= {}", lc.stop.target_ratio));
            }
            let improved = ratio > st.best_ratio;
            if improved {
                st.best_ratio = ratio;
                st.since_best = 0;
            } else {
                st.since_best += 1;
                if lc.stop.patience > 0 && st.since_best >= lc.stop.patience {
                    stop = Some(format!(
                        "no better win ratio for {} epochs",
                        lc.stop.patience
                    ));
                }
            }
            let last = stop.is_some() || st.epoch >= lc.epochs;
            if last {
                st.layer_epochs.push(st.epoch);
                st.stop_reasons
                    .push(stop.clone().unwrap_or_else(|| "epoch budget".into()));
                st.layer_seconds.push(layer_t0.elapsed().as_secs_f64());
                st.layer_rate
                    .push(layer_samples as f64 / layer_t0.elapsed().as_secs_f64().max(1e-9));
                st.layer_c_l.push(c_l);
                st.layer += 1;
                st.epoch = 0;
                st.lr = None;
            }
            let ck = run.join(format!(
                "checkpoints/checkpoint_epoch{:03}_{}.hebb",
                m.epoch, lc.name
            ));
            let p = prov(&st, f32::NAN);
            write_checkpoint(&ck, &net, &p, &st)?;
            if improved {
                write_checkpoint(&run.join("checkpoints/checkpoint_best.hebb"), &net, &p, &st)?;
            }
            write_checkpoint(
                &run.join("checkpoints/checkpoint_latest.hebb"),
                &net,
                &p,
                &st,
            )?;
            if let Some(s) = stop {
                stop_reason = s;
            }
            if last {
                log.info(&format!(
                    "{} done after {} epochs: {stop_reason}",
                    lc.name, m.epoch
                ));
                break;
            }
        }
    }
    let _ = crate::plot::line_chart(
        &run.join("plots/convergence.png"),
        "C_l per epoch",
        &curves
            .iter()
            .enumerate()
            .map(|(l, c)| (cfg.layers[l].name.as_str(), c.as_slice()))
            .collect::<Vec<_>>(),
        "epoch",
        "C_l",
    );

    // Readout.
    let t_f = Instant::now();
    let pb = bar(opts.progress, 2, "features".into());
    let f_train = be.features(&net, &split.train.images)?;
    pb.inc(1);
    let f_test = be.features(&net, &split.test.images)?;
    pb.finish_and_clear();
    let feat_secs = t_f.elapsed().as_secs_f64();
    let (aug_labels, f_fit) = if cfg.readout.shift_augment > 0 {
        let (imgs, labels) = crate::readout::augment(
            &split.train.images,
            &split.train.labels,
            split.train.rows,
            split.train.cols,
            cfg.readout.shift_augment,
        );
        let extra = be.features(&net, &imgs[split.train.images.len()..])?;
        let mut f = f_train.clone();
        f.bits.extend_from_slice(&extra.bits);
        log.info(&format!(
            "readout fitted on {} images (originals and shifted copies)",
            f.len()
        ));
        (labels, f)
    } else {
        (split.train.labels.clone(), f_train.clone())
    };
    let x = crate::readout::Sparse::from_features(&f_fit);
    log.info(&format!(
        "features: {} per sample, {:.1} % active, extracted at {:.0} samples/s",
        f_train.n_features,
        100.0 * x.density(),
        (f_train.len() + f_test.len()) as f64 / feat_secs.max(1e-9)
    ));
    let (c, c_scores) = if cfg.readout.c_grid.is_empty() {
        (cfg.readout.c, Vec::new())
    } else {
        let pb = bar(
            opts.progress,
            cfg.readout.c_grid.len() as u64,
            "readout C".into(),
        );
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
                log.info(&format!(
                    "readout C = {}: validation accuracy {:.2} %",
                    s.c,
                    100.0 * s.accuracy
                ));
            },
        );
        pb.finish_and_clear();
        let pts: Vec<(f64, f64)> = scores
            .iter()
            .map(|s| (s.c.log10(), 100.0 * s.accuracy))
            .collect();
        let _ = crate::plot::line_chart(
            &run.join("plots/readout_c.png"),
            "readout: validation accuracy per C",
            &[("validation", pts.as_slice())],
            "log10 C",
            "accuracy (%)",
        );
        log.info(&format!(
            "readout C = {c} chosen on {:.0} % of the training set held out; refitting on all of it",
            100.0 * cfg.readout.validation
        ));
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
    let (train_acc, _) = crate::readout::evaluate(&r, &f_train, &split.train.labels);
    let (test_acc, conf) = crate::readout::evaluate(&r, &f_test, &split.test.labels);
    net.readout = Some(r);
    log.info(&format!(
        "train accuracy {:.2} %, test accuracy {:.2} %",
        100.0 * train_acc,
        100.0 * test_acc
    ));
    log.info(&format!(
        "confusion matrix (rows: true, columns: predicted):\n{}",
        confusion_text(&conf)
    ));
    let p = prov(&st, test_acc as f32);
    let model = net.to_bytes(&p, &[], 16)?;
    write_atomic(&run.join("model.hebb"), &model).context("writing model.hebb")?;
    write_checkpoint(
        &run.join("checkpoints/checkpoint_latest.hebb"),
        &net,
        &p,
        &st,
    )?;
    if let Some(tb) = tb.as_mut() {
        tb.add_scalar("readout/test_accuracy", test_acc as f32, 0)?;
        tb.add_scalar("readout/train_accuracy", train_acc as f32, 0)?;
        tb.flush()?;
    }
    let layers: Vec<serde_json::Value> = (0..n_layers)
        .map(|l| {
            serde_json::json!({
                "name": cfg.layers[l].name,
                "convergence": st.layer_c_l.get(l),
                "epochs": st.layer_epochs.get(l),
                "stop_reason": st.stop_reasons.get(l),
                "seconds": st.layer_seconds.get(l),
                "samples_per_sec": st.layer_rate.get(l),
                "wins_per_map": if l + 1 == n_layers { Some(&st.wins) } else { None },
            })
        })
        .collect();
    let fin = serde_json::json!({
        "preset": cfg.preset,
        "data": data.to_string(),
        "seed": cfg.seed,
        "backend": be.name(),
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
        "total_seconds": t0.elapsed().as_secs_f64(),
    });
    write_atomic(
        &run.join("metrics_final.json"),
        serde_json::to_string_pretty(&fin)?.as_bytes(),
    )?;
    Ok(Outcome::Done {
        test_accuracy: test_acc,
        train_accuracy: train_acc,
    })
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
