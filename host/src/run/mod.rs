//! The shared run loop: what every network family gets without writing it. A family implements
//! [`Trainer`]; [`runner::run`] trains it into a [`RunFolder`] with checkpoints, exact resume,
//! Ctrl-C handling, metrics, TensorBoard, plots and progress.

pub mod folder;
pub mod interrupt;
pub mod runner;
pub mod trainer;

pub use folder::RunFolder;
pub use runner::{RunOptions, RunOutcome, RunState, run};
pub use trainer::{Ctx, EpochReport, FinalReport, Interrupted, ProgressConfig, Trainer};
