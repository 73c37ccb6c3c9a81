//! The run loop every family shares: epochs in interruptible chunks with a progress bar, then
//! per epoch a checkpoint (per-epoch, best, latest, with a keep policy), the metrics record and
//! TensorBoard scalars; then the final phase, `model.hebb` and `metrics_final.json`.
//!
//! Order matters for crash safety: an epoch's checkpoint is written before its metrics record,
//! and the checkpoint carries the record, so a crash between the two is repaired on resume
//! (the record is appended once) and a crash before the checkpoint redoes the epoch without a
//! duplicate record.

use super::folder::RunFolder;
use super::interrupt;
use super::trainer::{Ctx, FinalReport, Interrupted, Trainer};
use crate::io::{append_line, write_atomic};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The loop's own part of a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Records `metrics.jsonl` holds once the checkpointed epoch's record is written.
    pub metrics_lines: u64,
    /// The last epoch's record (re-appended on resume if a crash lost it).
    pub last_record: String,
    /// Epoch checkpoints written, oldest first (for the keep policy).
    pub epoch_checkpoints: Vec<String>,
}

impl RunState {
    /// Decodes the loop state a checkpoint carries.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        postcard::from_bytes(b).map_err(|e| anyhow::anyhow!("run state malformed: {e}"))
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Write TensorBoard events.
    pub tensorboard: bool,
    /// Stop (as if interrupted) once this many units were trained in this run's life (tests).
    pub stop_after: Option<u64>,
    /// Epoch checkpoints to keep (0: all).
    pub keep: usize,
    /// The loop state of the checkpoint being resumed.
    pub resume: Option<RunState>,
    /// The resolved configuration (written to `config.toml`).
    pub config_toml: String,
    /// Ask the final phase to stop as soon as it starts, as Ctrl-C would (tests).
    pub stop_before_final: bool,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    /// Finished.
    Done(FinalReport),
    /// Interrupted; the checkpoint written (none without a run folder).
    Interrupted(Option<PathBuf>),
}

/// A progress bar with rate and ETA (hidden when `show` is false).
pub fn bar(show: bool, len: u64, msg: String) -> ProgressBar {
    if !show {
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

/// Rewrites `metrics.jsonl` so that it holds exactly the records the checkpoint accounts for.
fn repair_metrics(path: &std::path::Path, st: &RunState) -> Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let want = st.metrics_lines as usize;
    lines.truncate(want);
    if lines.len() + 1 == want && !st.last_record.is_empty() {
        lines.push(&st.last_record);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if out != text {
        write_atomic(path, out.as_bytes())
            .with_context(|| format!("repairing {}", path.display()))?;
    }
    Ok(())
}

/// Runs `t` over `data` to the end (or an interruption), writing into `folder` when there is one.
pub fn run<T: Trainer>(
    t: &mut T,
    data: &T::Data,
    folder: Option<&RunFolder>,
    opts: &RunOptions,
) -> Result<RunOutcome> {
    let mut rs = opts.resume.clone().unwrap_or_default();
    let mut tb = None;
    let mut log_file = None;
    if let Some(f) = folder {
        f.prepare(opts.tensorboard)?;
        log_file =
            Some(crate::log::to_file(&f.file("logs/train.log")).context("opening logs/train.log")?);
        write_atomic(&f.file("config.toml"), opts.config_toml.as_bytes())
            .context("writing config.toml")?;
        if opts.resume.is_some() {
            repair_metrics(&f.file("metrics.jsonl"), &rs)?;
        }
        if opts.tensorboard {
            tb = Some(
                crate::tensorboard::EventWriter::create(&f.file("events"))
                    .context("creating TensorBoard events")?,
            );
        }
    }
    let plots = folder.map(RunFolder::plots);
    let limit_reached = |t: &T| opts.stop_after.is_some_and(|lim| t.units_done() >= lim);
    // This run's own stop request (`stop_before_final`), beside the process-wide one.
    let local = std::sync::atomic::AtomicBool::new(false);
    let stop_now = || interrupt::requested() || local.load(std::sync::atomic::Ordering::SeqCst);
    let ctx = Ctx {
        plots: plots.as_deref(),
        progress: t.progress(),
        interrupted: &stop_now,
    };
    let save_latest = |t: &T, rs: &RunState| -> Result<Option<PathBuf>> {
        let Some(f) = folder else { return Ok(None) };
        let p = f.latest();
        let bytes = t.checkpoint(&postcard::to_stdvec(rs)?)?;
        write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        Ok(Some(p))
    };
    let interrupted = |t: &T, rs: &RunState| -> Result<RunOutcome> {
        let p = save_latest(t, rs)?;
        if let Some(p) = &p {
            tracing::warn!(
                "interrupted: checkpoint saved to {} (resume with --resume)",
                p.display()
            );
        }
        Ok(RunOutcome::Interrupted(p))
    };
    t.begin(data, &ctx)?;
    while !t.stages_done() {
        if stop_now() {
            return interrupted(t, &rs);
        }
        t.begin_epoch(data, &ctx)?;
        let (len, start) = t.epoch_progress(data);
        let pb = bar(ctx.progress.show, len, t.epoch_label());
        pb.set_position(start);
        crate::log::set_bar(Some(pb.clone()));
        let mut pos = start;
        while pos < len {
            let mut end = pos.saturating_add(t.chunk()).min(len);
            if let Some(lim) = opts.stop_after {
                end = end.min(pos + lim.saturating_sub(t.units_done()));
            }
            let end = t.chunk_end(end).min(len);
            if end > pos {
                t.step(data, end)?;
                pos = t.epoch_progress(data).1;
                pb.set_position(pos);
            }
            if limit_reached(t) || stop_now() {
                pb.abandon();
                crate::log::set_bar(None);
                return interrupted(t, &rs);
            }
        }
        pb.finish_and_clear();
        crate::log::set_bar(None);
        let rep = t.end_epoch(data, &ctx)?;
        let record = serde_json::to_string(&rep.record)?;
        if let Some(f) = folder {
            rs.metrics_lines += 1;
            rs.last_record.clone_from(&record);
            let name = format!("checkpoint_epoch{:03}_{}.hebb", rep.epoch, rep.stage);
            let numbered = rep.stage_done.is_some()
                || rep.epoch.is_multiple_of(t.checkpoint_interval().max(1));
            if numbered {
                rs.epoch_checkpoints.retain(|n| n != &name);
                rs.epoch_checkpoints.push(name.clone());
            }
            let mut dropped = Vec::new();
            if opts.keep > 0 {
                while rs.epoch_checkpoints.len() > opts.keep {
                    dropped.push(rs.epoch_checkpoints.remove(0));
                }
            }
            let bytes = t.checkpoint(&postcard::to_stdvec(&rs)?)?;
            for (p, write) in [
                (f.checkpoint(&name), numbered),
                (f.checkpoint("checkpoint_best.hebb"), rep.improved),
                (f.latest(), true),
            ] {
                if write {
                    write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
                }
            }
            for d in dropped {
                let _ = std::fs::remove_file(f.checkpoint(&d));
            }
            append_line(&f.file("metrics.jsonl"), &record).context("writing metrics.jsonl")?;
        }
        if let Some(tb) = tb.as_mut() {
            for (tag, v) in &rep.scalars {
                tb.add_scalar(
                    &format!("{}/{tag}", rep.stage),
                    *v as f32,
                    i64::from(rep.epoch),
                )?;
            }
            tb.flush()?;
        }
        if let Some(reason) = &rep.stage_done {
            tracing::info!("{} done after {} epochs: {reason}", rep.stage, rep.epoch);
        }
    }
    if opts.stop_before_final {
        local.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let t_fin = Instant::now();
    let fin = match t.finish(data, &ctx) {
        Ok(f) => f,
        Err(e) if e.is::<Interrupted>() => return interrupted(t, &rs),
        Err(e) => return Err(e),
    };
    tracing::debug!("final phase took {:.2} s", t_fin.elapsed().as_secs_f64());
    if let Some(f) = folder {
        write_atomic(&f.file("model.hebb"), &fin.model).context("writing model.hebb")?;
        save_latest(t, &rs)?;
        write_atomic(
            &f.file("metrics_final.json"),
            serde_json::to_string_pretty(&fin.summary)?.as_bytes(),
        )
        .context("writing metrics_final.json")?;
    }
    if let Some(tb) = tb.as_mut() {
        for (tag, v) in &fin.scalars {
            tb.add_scalar(tag, *v as f32, 0)?;
        }
        tb.flush()?;
    }
    drop(log_file);
    Ok(RunOutcome::Done(fin))
}
