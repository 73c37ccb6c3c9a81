//! Compute back ends. The trainer talks to a [`Backend`] and does not know which one runs: the
//! CPU back end calls the core directly; the CUDA back end runs the same integer arithmetic in
//! kernels and must produce identical bytes.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;

use crate::net::{LayerTrain, Net};
use hebb_core::model::LayerArch;
use serde::{Deserialize, Serialize};

/// Errors of a back end.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The core rejected something.
    #[error("core: {0}")]
    Core(#[from] hebb_core::Error),
    /// No usable GPU (or a GPU error).
    #[error("cuda: {0}")]
    Cuda(String),
}

/// Result of back-end calls.
pub type Result<T> = std::result::Result<T, BackendError>;

/// Per-sample spike-time maps of a whole data set (`n × per_sample` bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpikeCache {
    /// Elements per sample.
    pub per_sample: usize,
    /// All samples, back to back.
    pub data: Vec<u8>,
}

impl SpikeCache {
    /// Samples held.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.per_sample).unwrap_or(0)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sample `i`.
    pub fn sample(&self, i: usize) -> &[u8] {
        &self.data[i * self.per_sample..(i + 1) * self.per_sample]
    }
}

/// Binary features of a data set (`n × words` bit-set words).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureSet {
    /// Features per sample.
    pub n_features: usize,
    /// `u32` words per sample.
    pub words: usize,
    /// All samples' bit sets.
    pub bits: Vec<u32>,
}

impl FeatureSet {
    /// Samples held.
    pub fn len(&self) -> usize {
        self.bits.len().checked_div(self.words).unwrap_or(0)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bit set of sample `i`.
    pub fn sample(&self, i: usize) -> &[u32] {
        &self.bits[i * self.words..(i + 1) * self.words]
    }
    /// Indices of the active features of sample `i`.
    pub fn active(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        hebb_core::spikes::ones(self.sample(i)).filter(move |&f| f < self.n_features)
    }
}

/// Learning-rate state of the layer in training (part of a checkpoint): the core's.
pub use hebb_core::schedule::LrState;

/// One layer's training job.
#[derive(Debug, Clone, Copy)]
pub struct TrainJob<'a> {
    /// The layer.
    pub arch: &'a LayerArch,
    /// Its training parameters.
    pub train: &'a LayerTrain,
    /// Time steps.
    pub steps: u8,
    /// Input spike times of every training sample.
    pub inputs: &'a SpikeCache,
}

/// Counters of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TrainStats {
    /// Samples trained.
    pub samples: u64,
    /// Winners (STDP updates).
    pub winners: u64,
    /// First spikes of the layer during the simulated steps.
    pub spikes: u64,
    /// Input events consumed.
    pub events: u64,
    /// Samples with no winner at all.
    pub silent: u64,
}

impl TrainStats {
    /// Counts one trained sample with its winners, first spikes and input events.
    pub fn add(&mut self, winners: u64, spikes: u32, events: u32) {
        self.samples += 1;
        self.winners += winners;
        self.spikes += u64::from(spikes);
        self.events += u64::from(events);
        self.silent += u64::from(winners == 0);
    }
}

/// What training one layer changes, borrowed from the trainer for one [`Backend::train`] call.
#[derive(Debug)]
pub struct LayerState<'a> {
    /// Kernels, `[c][ky][kx][map]`.
    pub weights: &'a mut [u16],
    /// Per-map thresholds; changed only with adaptive thresholds.
    pub thresholds: &'a mut [i32],
    /// Learning-rate schedule.
    pub lr: &'a mut LrState,
    /// Winners per map (added to).
    pub wins: &'a mut [u32],
    /// Counters (added to).
    pub stats: &'a mut TrainStats,
}

/// A compute back end.
pub trait Backend {
    /// Human-readable name ("cpu (2 threads)", "cuda: NVIDIA H100 …").
    fn name(&self) -> String;

    /// Encodes images (`n × h × w`, 0..255) into input spike times.
    fn encode(&mut self, net: &Net, images: &[u8]) -> Result<SpikeCache>;

    /// Trains one layer on the samples `order` (indices into `job.inputs`), one after another,
    /// exactly as the core's `simulate` (with early stop) + `stdp_update` do. With adaptive
    /// thresholds (`job.train.homeostasis`) the thresholds of the maps that fired are raised
    /// after every sample and all decay toward rest, and the simulation runs every step (a map
    /// may fire after the winners). Otherwise, with `job.train.batch > 1`, mini-batches of that
    /// many consecutive entries of `order` (`simulate` from the batch's weights, then
    /// `stdp_accumulate` per sample and `apply_accumulated`); the config rejects the two
    /// together.
    fn train(&mut self, job: &TrainJob<'_>, order: &[u32], st: &mut LayerState<'_>) -> Result<()>;

    /// Time-resolved output of a frozen layer for every sample: first-spike times after pooling,
    /// then pointwise inhibition when `inhibit` (the next layer's training input).
    fn layer_times(
        &mut self,
        arch: &LayerArch,
        steps: u8,
        weights: &[u16],
        thresholds: &[i32],
        inputs: &SpikeCache,
        inhibit: bool,
    ) -> Result<SpikeCache>;

    /// Binary features (last layer, pooled, any spike) of every image.
    fn features(&mut self, net: &Net, images: &[u8]) -> Result<FeatureSet>;
}

/// Which device the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// GPU when usable, else CPU.
    Auto,
    /// CPU.
    Cpu,
    /// GPU or fail.
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "cuda:0" | "gpu" => Ok(Self::Cuda),
            _ => Err(format!("unknown device `{s}` (expected auto, cpu or cuda)")),
        }
    }
}

/// Opens the requested back end. `Auto` falls back to the CPU and returns why in the second
/// value; `Cuda` without a usable GPU is an error that says why.
pub fn open(choice: DeviceChoice) -> Result<(Box<dyn Backend>, Option<String>)> {
    match choice {
        DeviceChoice::Cpu => Ok((Box::new(cpu::CpuBackend::new()), None)),
        DeviceChoice::Cuda => cuda_backend().map(|b| (b, None)),
        DeviceChoice::Auto => match cuda_backend() {
            Ok(b) => Ok((b, None)),
            Err(e) => Ok((Box::new(cpu::CpuBackend::new()), Some(e.to_string()))),
        },
    }
}

#[cfg(feature = "cuda")]
fn cuda_backend() -> Result<Box<dyn Backend>> {
    cuda::CudaBackend::open().map(|b| Box::new(b) as Box<dyn Backend>)
}

#[cfg(not(feature = "cuda"))]
fn cuda_backend() -> Result<Box<dyn Backend>> {
    Err(BackendError::Cuda(
        "this build of hebb has no CUDA support (feature `cuda` off)".into(),
    ))
}
