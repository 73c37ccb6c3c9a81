//! CUDA back end (cudarc, NVRTC kernels): the same integer arithmetic as the core, so weights,
//! spike times and features are bit-identical to [`super::cpu::CpuBackend`].
//!
//! * `encode`: one block per image (filter, normalisation keys, bitonic sort, latency).
//! * `train`: one persistent block of 1,024 threads runs the whole sequential loop over `order`
//!   in one launch (simulate with WTA and early stop, STDP, learning-rate schedule replayed on
//!   the host), weights, potentials and competition state resident in shared memory, the next
//!   sample's input prefetched into registers. Per step: scatter of the step's input events with
//!   shared atomics (one warp per event), scan of the positions they reached, candidate
//!   compaction, winners picked by warp 0.
//! * `train` with adaptive thresholds (homeostasis): the same loop, the thresholds updated after
//!   every sample from the maps' fired bits, and every step simulated (no early stop).
//! * `train` with mini-batches: per batch, `train_batch` simulates the batch's samples in parallel
//!   (one block each, the same simulation code) and records their winners, then `stdp_batch`
//!   sums and applies the changes (one block per map); weights stay on the device.
//! * `layer_times`: one block per sample, full simulation, pooling, pointwise inhibition.
//! * `features`: encoder, then the time-free pass of every layer (IF networks); networks with
//!   leaky neurons fall back to the CPU back end.
//!
//! Kernels are compiled with NVRTC for the device's architecture, specialised per layer
//! configuration (every parameter a compile-time constant, see [`layout`]) on first use and
//! cached (PTX per process, modules per back end). Buffers that do not fit in shared memory
//! move to global memory without changing results.
//!
//! Opening probes the driver, the device and NVRTC inside `catch_unwind`, so a machine without a
//! GPU gets a [`BackendError::Cuda`] that says what is missing, never a panic.
//!
//! Environment (diagnostics): `HEBB_CUDA_PROFILE=1` prints a per-phase time breakdown of every
//! `train` call; `HEBB_CUDA_TRAIN_THREADS` (32..1024, multiple of 32) sets the training block
//! size.

mod device;
mod infer;
mod kernels;
pub mod layout;
pub mod source;
mod train;

use super::{
    Backend, BackendError, FeatureSet, LayerState, LrState, Result, SpikeCache, TrainJob, cpu,
};
use crate::net::Net;
use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute, cudaError_enum};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use hebb_core::model::LayerArch;
use hebb_core::neuron::validate_thresholds;
use hebb_core::spikes::words;
use hebb_core::stdp::StdpRule;
use layout::{Params, SimMode};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Images (or samples) per batched launch; bounds device memory.
const BATCH: usize = 16_384;
/// Shared memory the kernels declare statically (bytes, rounded up).
const STATIC_SMEM: usize = 256;
/// Threads of the training block.
const TRAIN_THREADS: u32 = 1024;
/// Threads of a `layer_times` block.
const SIM_THREADS: u32 = 1024;
/// Threads of an encoder block.
const ENCODE_THREADS: u32 = 512;
/// Threads of a `forward_final` block.
const FORWARD_THREADS: u32 = 512;
/// Threads of a `stdp_batch` block (each handles up to 8 synapses of a kernel).
const STDP_THREADS: u32 = 256;

fn cuda(msg: impl Into<String>) -> BackendError {
    BackendError::Cuda(msg.into())
}

trait Cx<T> {
    fn cx(self, what: &str) -> Result<T>;
}

impl<T, E: std::fmt::Debug> Cx<T> for std::result::Result<T, E> {
    fn cx(self, what: &str) -> Result<T> {
        self.map_err(|e| cuda(format!("{what}: {e:?}")))
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f`, turning a panic inside cudarc (e.g. a driver symbol missing) into an error.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(cuda(format!("{what} panicked: {}", panic_text(&*p)))),
    }
}

/// What the probe found about the device.
#[derive(Debug, Clone)]
struct DeviceInfo {
    name: String,
    cc: (i32, i32),
    mem_mib: usize,
    sms: u32,
    smem_block: usize,
    clock_khz: u32,
    arch: &'static str,
}

/// A kernel variant: file, function, parameters it was specialised for.
type VariantKey = (&'static str, &'static str, [i32; layout::NPARAM]);

/// A spike cache resident on the device, recognised by address, length and a fingerprint.
struct Resident {
    key: (usize, usize, usize, u64),
    data: CudaSlice<u8>,
}

/// CUDA back end.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// `pack_bits` (generic build; also the smoke test).
    pack: CudaFunction,
    /// Specialised kernels, compiled on first use.
    variants: HashMap<VariantKey, CudaFunction>,
    dev: DeviceInfo,
    resident: Option<Resident>,
    budget: Option<usize>,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("device", &self.dev)
            .finish_non_exhaustive()
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        format!(
            "cuda: {} (cc {}.{}, {} MiB)",
            self.dev.name, self.dev.cc.0, self.dev.cc.1, self.dev.mem_mib
        )
    }

    fn encode(&mut self, net: &Net, images: &[u8]) -> Result<SpikeCache> {
        if matches!(net.encoder.mode(), hebb_core::encode::EncodeMode::Events(_)) {
            // The event encoder's sparse scatter runs on the CPU; the layers still run here.
            return crate::backend::cpu::CpuBackend::new().encode(net, images);
        }
        guard("CUDA encode", || {
            let e = &net.encoder;
            let plane = e.h() as usize * e.w() as usize;
            let per = e.n_out();
            let n = images.len() / plane;
            let mut data = Vec::with_capacity(n * per);
            let chunk = BATCH.min(n.max(1));
            let mut out = self.zeros::<u8>(chunk * per)?;
            for c0 in (0..n).step_by(chunk) {
                let cn = chunk.min(n - c0);
                let img = self.up(&images[c0 * plane..(c0 + cn) * plane])?;
                self.encode_device(net, &img, cn, &mut out)?;
                data.extend_from_slice(&self.down(&out, cn * per)?);
            }
            Ok(SpikeCache {
                per_sample: per,
                data,
            })
        })
    }

    fn train(&mut self, job: &TrainJob<'_>, order: &[u32], st: &mut LayerState<'_>) -> Result<()> {
        guard("CUDA train", || self.train_seq(job, order, st))
    }

    fn layer_times(
        &mut self,
        arch: &LayerArch,
        steps: u8,
        weights: &[u16],
        thresholds: &[i32],
        inputs: &SpikeCache,
        inhibit: bool,
    ) -> Result<SpikeCache> {
        guard("CUDA layer_times", || {
            let g = &arch.conv;
            validate_thresholds(thresholds, g.out_c() as usize)?;
            if weights.len() < g.n_weights() {
                return Err(hebb_core::Error::ShapeMismatch(
                    "weights shorter than the conv geometry",
                )
                .into());
            }
            if let Some(pg) = &arch.pool
                && pg.input() != g.output()
            {
                return Err(
                    hebb_core::Error::ShapeMismatch("pool input differs from conv output").into(),
                );
            }
            let per = arch.out_shape().len();
            let n = inputs.len();
            if n == 0 {
                return Ok(SpikeCache {
                    per_sample: per,
                    data: Vec::new(),
                });
            }
            if inputs.per_sample < g.input().len() {
                return Err(hebb_core::Error::BufferTooSmall {
                    what: "input",
                    need: g.input().len(),
                    got: inputs.per_sample,
                }
                .into());
            }
            if inputs.per_sample != g.input().len() {
                // The kernels assume packed samples; re-pack (rare).
                let packed: Vec<u8> = (0..n)
                    .flat_map(|i| inputs.sample(i)[..g.input().len()].to_vec())
                    .collect();
                return self.layer_times(
                    arch,
                    steps,
                    weights,
                    thresholds,
                    &SpikeCache {
                        per_sample: g.input().len(),
                        data: packed,
                    },
                    inhibit,
                );
            }
            let (p, pl) = layout::sim_layout(
                arch,
                steps,
                SimMode::Output { inhibit },
                SIM_THREADS,
                self.smem(),
            )
            .map_err(cuda)?;
            let w_d = self.up(&weights[..g.n_weights()])?;
            let th_d = self.up(thresholds)?;
            let f = self.kernel("sim.cu", "layer_times", &p)?;
            self.set_smem(&f, pl.shared)?;
            let grid = self.grid(&f, SIM_THREADS, pl.shared, n)?;
            let mut scratch = self.zeros::<u8>(pl.global * grid as usize)?;
            let mut out = self.zeros::<u8>(n * per)?;
            let ni = i32::try_from(n).map_err(|_| cuda("too many samples"))?;
            self.make_resident(inputs)?;
            let inputs_d = &self.resident.as_ref().expect("made resident").data;
            let mut lb = self.stream.launch_builder(&f);
            lb.arg(&p)
                .arg(inputs_d)
                .arg(&ni)
                .arg(&w_d)
                .arg(&th_d)
                .arg(&mut out)
                .arg(&mut scratch);
            let cfg = LaunchConfig {
                grid_dim: (grid, 1, 1),
                block_dim: (SIM_THREADS, 1, 1),
                shared_mem_bytes: pl.shared as u32,
            };
            // SAFETY: arguments match `layer_times`; inputs hold n samples, out n outputs, the
            // scratch grid × SCR bytes.
            unsafe { lb.launch(cfg) }.cx("layer_times launch")?;
            let data = self.down(&out, n * per)?;
            Ok(SpikeCache {
                per_sample: per,
                data,
            })
        })
    }

    fn features(&mut self, net: &Net, images: &[u8]) -> Result<FeatureSet> {
        if !net.arch.iter().all(|a| a.neuron.time_free()) {
            // Leaky layers need the time-stepped path: the CPU back end computes it.
            return cpu::CpuBackend::new().features(net, images);
        }
        let r = guard("CUDA features", || self.features_device(net, images))?;
        match r {
            Some(f) => Ok(f),
            None => cpu::CpuBackend::new().features(net, images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernels::fingerprint;
    use super::*;

    #[test]
    fn fingerprint_sees_changes() {
        let a = vec![7u8; 100_000];
        let mut b = a.clone();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b[5] = 1;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&a[..99_992]));
    }

    #[test]
    fn open_never_panics() {
        // On a machine without a GPU this is an error that names what is missing.
        match CudaBackend::open() {
            Ok(b) => assert!(b.name().starts_with("cuda: ")),
            Err(e) => assert!(matches!(e, BackendError::Cuda(_)), "{e}"),
        }
    }
}
