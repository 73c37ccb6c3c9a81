//! The interface a network family implements to be trained by the shared run loop.
//!
//! Its user-facing half has the shape users of the CANNs trainers know: [`Trainer::train`] over
//! a data set, [`Trainer::predict`] one pattern, [`Trainer::predict_batch`], and
//! [`Trainer::configure_progress`]. The other half is what the loop needs: the work of an epoch
//! in resumable chunks, per-epoch metrics and plots, the stop decision, a final phase, and the
//! state to checkpoint.

use anyhow::Result;
use std::path::Path;

/// Progress display of a trainer's long phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressConfig {
    /// Show bars (with rate and ETA) on the terminal.
    pub show: bool,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        Self { show: true }
    }
}

/// What a finished epoch reports to the loop.
#[derive(Debug, Clone)]
pub struct EpochReport {
    /// Stage (layer) the epoch belongs to, used in checkpoint names and metric tags.
    pub stage: String,
    /// Epoch number within the stage, 1-based.
    pub epoch: u32,
    /// One `metrics.jsonl` record.
    pub record: serde_json::Value,
    /// Scalars for TensorBoard, tagged `stage/name`.
    pub scalars: Vec<(String, f64)>,
    /// The epoch improved the stage's tracked criterion: write `checkpoint_best`.
    pub improved: bool,
    /// The stop decision: `Some(reason)` when the stage ended with this epoch.
    pub stage_done: Option<String>,
}

/// What the final phase produced.
#[derive(Debug, Clone)]
pub struct FinalReport {
    /// The trained model file (`model.hebb`).
    pub model: Vec<u8>,
    /// `metrics_final.json`.
    pub summary: serde_json::Value,
    /// Scalars for TensorBoard.
    pub scalars: Vec<(String, f64)>,
    /// Lines to print on stdout.
    pub headline: Vec<String>,
}

/// Services the loop lends a trainer.
pub struct Ctx<'a> {
    /// Where plots go (`None` for a run without a folder).
    pub plots: Option<&'a Path>,
    /// Progress display.
    pub progress: ProgressConfig,
    pub(crate) interrupted: &'a dyn Fn() -> bool,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("plots", &self.plots)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// True once the user asked the run to stop (Ctrl-C, SIGTERM): a long phase checks it
    /// between its parts and returns [`Interrupted`] so the loop saves a checkpoint.
    pub fn interrupted(&self) -> bool {
        (self.interrupted)()
    }

    /// Returns `Err(Interrupted)` when the run was asked to stop.
    pub fn check(&self) -> Result<()> {
        if self.interrupted() {
            Err(Interrupted.into())
        } else {
            Ok(())
        }
    }

    /// A progress bar in the run's style (hidden when progress is off).
    pub fn bar(&self, len: u64, msg: String) -> indicatif::ProgressBar {
        super::runner::bar(self.progress.show, len, msg)
    }
}

/// A phase stopped because the run was interrupted (not a failure: the loop checkpoints).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// A family's trainer.
pub trait Trainer {
    /// The training data.
    type Data: ?Sized;
    /// One input pattern.
    type Pattern: ?Sized;
    /// What a prediction returns.
    type Prediction;

    /// Family tag (as stored in the model file).
    fn family(&self) -> crate::family::Family;

    /// Sets how progress is shown.
    fn configure_progress(&mut self, progress: ProgressConfig);
    /// The progress setting.
    fn progress(&self) -> ProgressConfig;

    /// Prepares the data for training (encoding, caches), once per process.
    fn begin(&mut self, data: &Self::Data, ctx: &Ctx<'_>) -> Result<()>;
    /// True when every stage has finished (what is left is [`finish`](Self::finish)).
    fn stages_done(&self) -> bool;
    /// Prepares the current stage (called at every epoch start; cheap when nothing changed).
    fn begin_epoch(&mut self, data: &Self::Data, ctx: &Ctx<'_>) -> Result<()>;
    /// Label of the current epoch for the progress bar.
    fn epoch_label(&self) -> String;
    /// Units of work (samples) in the current epoch, and how many are done.
    fn epoch_progress(&self, data: &Self::Data) -> (u64, u64);
    /// Units a chunk should hold at most (between interruption checks); the loop rounds the end
    /// of each chunk with [`chunk_end`](Self::chunk_end).
    fn chunk(&self) -> u64 {
        250
    }
    /// Where a chunk that would end at `end` must end (e.g. on a mini-batch boundary).
    fn chunk_end(&self, end: u64) -> u64 {
        end
    }
    /// Trains the current epoch up to unit `until`.
    fn step(&mut self, data: &Self::Data, until: u64) -> Result<()>;
    /// Ends the epoch: metrics, plots, the stop decision; advances to the next stage when the
    /// stage is done.
    fn end_epoch(&mut self, data: &Self::Data, ctx: &Ctx<'_>) -> Result<EpochReport>;
    /// The last phase after every stage (e.g. fitting a readout); returns [`Interrupted`] when
    /// `ctx` says so.
    fn finish(&mut self, data: &Self::Data, ctx: &Ctx<'_>) -> Result<FinalReport>;
    /// A checkpoint file holding everything to resume exactly, with the loop's own state
    /// `run_state` carried opaquely.
    fn checkpoint(&self, run_state: &[u8]) -> Result<Vec<u8>>;
    /// Epochs between numbered epoch checkpoints (latest and best are written every epoch;
    /// the last epoch of a stage always gets one).
    fn checkpoint_interval(&self) -> u32 {
        1
    }
    /// Units trained so far in this run (all stages), for `stop_after`.
    fn units_done(&self) -> u64;

    /// Predicts one pattern.
    fn predict(&self, pattern: &Self::Pattern) -> Result<Self::Prediction>;
    /// Predicts many patterns (in parallel where the family can).
    fn predict_batch(&self, patterns: &[&Self::Pattern]) -> Result<Vec<Self::Prediction>> {
        patterns.iter().map(|p| self.predict(p)).collect()
    }

    /// Trains over `data` to the end without a run folder (nothing is written), as a library
    /// call.
    fn train(&mut self, data: &Self::Data) -> Result<FinalReport>
    where
        Self: Sized,
    {
        match super::runner::run(self, data, None, &super::runner::RunOptions::default())? {
            super::runner::RunOutcome::Done(r) => Ok(r),
            super::runner::RunOutcome::Interrupted(_) => Err(Interrupted.into()),
        }
    }
}
