//! CUDA back end (cudarc, NVRTC kernels).

use super::{Backend, BackendError, FeatureSet, LrState, Result, SpikeCache, TrainJob, TrainStats};
use crate::net::Net;
use hebb_core::model::LayerArch;

/// CUDA back end.
#[derive(Debug)]
pub struct CudaBackend {
    _private: (),
}

impl CudaBackend {
    /// Probes for a usable GPU.
    pub fn open() -> Result<Self> {
        Err(BackendError::Cuda("CUDA back end not available yet".into()))
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        "cuda".into()
    }
    fn encode(&mut self, _net: &Net, _images: &[u8]) -> Result<SpikeCache> {
        Err(BackendError::Cuda("unavailable".into()))
    }
    fn train(
        &mut self,
        _job: &TrainJob<'_>,
        _weights: &mut [u16],
        _thresholds: &[i32],
        _order: &[u32],
        _lr: &mut LrState,
        _wins: &mut [u32],
        _stats: &mut TrainStats,
    ) -> Result<()> {
        Err(BackendError::Cuda("unavailable".into()))
    }
    fn layer_times(
        &mut self,
        _arch: &LayerArch,
        _steps: u8,
        _weights: &[u16],
        _thresholds: &[i32],
        _inputs: &SpikeCache,
        _inhibit: bool,
    ) -> Result<SpikeCache> {
        Err(BackendError::Cuda("unavailable".into()))
    }
    fn features(&mut self, _net: &Net, _images: &[u8]) -> Result<FeatureSet> {
        Err(BackendError::Cuda("unavailable".into()))
    }
}
