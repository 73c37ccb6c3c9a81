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

pub mod layout;
pub mod source;

use super::{
    Backend, BackendError, FeatureSet, LayerState, LrState, Result, SpikeCache, TrainJob, cpu,
};
use crate::net::Net;
use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute, cudaError_enum};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use hebb_core::layer::validate_thresholds;
use hebb_core::model::LayerArch;
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

/// Cheap fingerprint of a spike cache: its length and a strided sample of its words, plus
/// the first and last 4 KiB in full.
fn fingerprint(d: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ d.len() as u64;
    let mut mix = |x: u64| {
        h = (h ^ x).wrapping_mul(0x0100_0000_01b3).rotate_left(23);
    };
    let edge = d.len().min(4096);
    d[..edge].iter().for_each(|&b| mix(u64::from(b)));
    d[d.len() - edge..].iter().for_each(|&b| mix(u64::from(b)));
    let words = d.len() / 8;
    let stride = (words / 65_536).max(1);
    for i in (0..words).step_by(stride) {
        let b: [u8; 8] = d[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]);
        mix(u64::from_le_bytes(b));
    }
    h
}

impl CudaBackend {
    /// Probes for a usable GPU and compiles the kernels. Never panics: every failure (no driver
    /// library, no device, no NVRTC, compile or load error) is a [`BackendError::Cuda`] that says
    /// what is missing.
    pub fn open() -> Result<Self> {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = catch_unwind(Self::open_inner);
        std::panic::set_hook(prev);
        match r {
            Ok(r) => r,
            Err(p) => Err(cuda(format!(
                "panic while probing CUDA: {}",
                panic_text(&*p)
            ))),
        }
    }

    fn open_inner() -> Result<Self> {
        // SAFETY: only tries to dlopen the library.
        let lib = unsafe { cudarc::driver::sys::is_culib_present() };
        if !lib {
            return Err(cuda(
                "no CUDA driver library (libcuda.so) found: install the NVIDIA driver",
            ));
        }
        let count = match CudaContext::device_count() {
            Ok(n) => n,
            Err(e) if e.0 == cudaError_enum::CUDA_ERROR_NO_DEVICE => 0,
            Err(e) => return Err(cuda(format!("the CUDA driver failed to initialise: {e:?}"))),
        };
        if count <= 0 {
            return Err(cuda("no CUDA device"));
        }
        let ctx = CudaContext::new(0).cx("cannot create a context on CUDA device 0")?;
        // SAFETY: only tries to dlopen the library.
        let nvrtc = unsafe { cudarc::nvrtc::sys::is_culib_present() };
        if !nvrtc {
            return Err(cuda(source::NO_NVRTC));
        }
        let attr = |a| ctx.attribute(a).cx("device attribute");
        let cc = ctx.compute_capability().cx("compute capability")?;
        let dev = DeviceInfo {
            name: ctx.name().cx("device name")?,
            cc,
            mem_mib: ctx.total_mem().cx("device memory")? >> 20,
            sms: attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?.max(1) as u32,
            smem_block: attr(
                CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            )?
            .max(48 * 1024) as usize,
            clock_khz: attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)?.max(1) as u32,
            arch: source::sm_arch(cc.0, cc.1).unwrap_or(source::fallback_arch(cc.0)),
        };
        if cc.0 < 7 || (cc.0 == 7 && cc.1 < 5) {
            return Err(cuda(format!(
                "{} has compute capability {}.{}; CUDA 13 needs 7.5 or newer",
                dev.name, cc.0, cc.1
            )));
        }
        let stream = ctx.default_stream();
        let mut dev = dev;
        // The generic build of one file proves that NVRTC and the module loader work and picks
        // the architecture; the other kernels are specialised per layer on first use.
        let ptx = match source::compile("infer.cu", dev.arch, None) {
            Ok(p) => p,
            Err(first) => {
                let fb = source::fallback_arch(cc.0);
                match source::compile("infer.cu", fb, None) {
                    Ok(p) => {
                        dev.arch = fb;
                        p
                    }
                    Err(_) => return Err(cuda(first)),
                }
            }
        };
        let module = ctx.load_module(ptx).map_err(|e| {
            cuda(format!(
                "loading the kernels failed (is the driver older than NVRTC?): {e:?}"
            ))
        })?;
        let pack = module.load_function("pack_bits").cx("kernel pack_bits")?;
        let mut b = Self {
            ctx,
            stream,
            pack,
            variants: HashMap::new(),
            dev,
            resident: None,
            budget: None,
        };
        b.smoke_test()?;
        Ok(b)
    }

    /// Runs one tiny kernel end to end (allocation, copies, launch, synchronisation), so that a
    /// broken driver shows up at open time.
    fn smoke_test(&mut self) -> Result<()> {
        let mut t = vec![hebb_core::spikes::NEVER; 40];
        t[3] = 0;
        t[33] = 7;
        let d = self.up(&t)?;
        let mut bits = self.zeros::<u32>(2)?;
        let (n, nf, wpf) = (1i32, 40i32, 2i32);
        let mut lb = self.stream.launch_builder(&self.pack);
        lb.arg(&d).arg(&n).arg(&nf).arg(&wpf).arg(&mut bits);
        // SAFETY: arguments match `pack_bits`; the buffers hold n·nf bytes and n·wpf words.
        unsafe { lb.launch(LaunchConfig::for_num_elems(2)) }.cx("test launch")?;
        let got = self.stream.clone_dtoh(&bits).cx("test copy")?;
        if got != [1 << 3, 1 << 1] {
            return Err(cuda(format!("test kernel computed {got:?}")));
        }
        Ok(())
    }

    /// Device and build facts for logs and benchmarks.
    pub fn describe(&self) -> String {
        format!(
            "{} (cc {}.{}, {} MiB, {} SMs, {} KiB shared/block, kernels for {})",
            self.dev.name,
            self.dev.cc.0,
            self.dev.cc.1,
            self.dev.mem_mib,
            self.dev.sms,
            self.dev.smem_block / 1024,
            self.dev.arch
        )
    }

    /// Kernel `name` of `file` specialised for `p` (compiled and loaded on first use).
    fn kernel(
        &mut self,
        file: &'static str,
        name: &'static str,
        p: &Params,
    ) -> Result<CudaFunction> {
        let key = (file, name, p.0);
        if let Some(f) = self.variants.get(&key) {
            return Ok(f.clone());
        }
        let ptx = source::compile(file, self.dev.arch, Some(p)).map_err(cuda)?;
        let m = self
            .ctx
            .load_module(ptx)
            .cx(&format!("loading the {file} kernels"))?;
        let f = m.load_function(name).cx(&format!("kernel {name}"))?;
        self.variants.insert(key, f.clone());
        Ok(f)
    }

    /// Caps the dynamic shared memory a kernel block may use (`None`: the device's limit).
    /// Buffers that do not fit move to global memory; results do not change. For tests.
    pub fn set_shared_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Dynamic shared memory a block may use: the device's limit less what the kernels
    /// declare statically.
    fn smem(&self) -> usize {
        let max = self.dev.smem_block - STATIC_SMEM;
        self.budget.map_or(max, |b| b.min(max))
    }

    fn print_profile(&self, c: &[u64], shared: usize, global: usize) {
        let n = c[8].max(1) as f64;
        let us = |x: u64| x as f64 / n / (f64::from(self.dev.clock_khz) / 1000.0);
        eprintln!(
            "cuda train profile: {n} samples, {:.2} steps and {:.2} picks per sample, \
             {shared} B shared, {global} B global scratch; µs per sample: reset {:.2}, \
             events {:.2}, scatter {:.2}, scan {:.2}, wta {:.2}, stdp {:.2}, total {:.2}",
            c[6] as f64 / n,
            c[7] as f64 / n,
            us(c[0]),
            us(c[1]),
            us(c[2]),
            us(c[3]),
            us(c[4]),
            us(c[5]),
            us(c[0] + c[1] + c[2] + c[3] + c[4] + c[5]),
        );
    }

    /// Device memory in use (total − free), MiB.
    pub fn mem_used_mib(&self) -> Result<usize> {
        let (free, total) = self.ctx.mem_get_info().cx("memory info")?;
        Ok((total - free) >> 20)
    }

    fn up<T: DeviceRepr>(&self, v: &[T]) -> Result<CudaSlice<T>> {
        if v.is_empty() {
            // Zero-length allocations are invalid; kernels never read these.
            // SAFETY: one uninitialised element that nobody reads.
            return unsafe { self.stream.alloc::<T>(1) }.cx("device allocation");
        }
        self.stream.clone_htod(v).cx("copy to device")
    }

    fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        self.stream
            .alloc_zeros::<T>(n.max(1))
            .cx("device allocation")
    }

    fn down<T: DeviceRepr + Default + Clone>(&self, d: &CudaSlice<T>, n: usize) -> Result<Vec<T>> {
        let mut v = vec![T::default(); d.len()];
        self.stream.memcpy_dtoh(d, &mut v).cx("copy from device")?;
        v.truncate(n);
        Ok(v)
    }

    fn set_smem(&self, f: &CudaFunction, bytes: usize) -> Result<()> {
        f.set_attribute(
            CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            bytes as i32,
        )
        .cx("setting the shared memory size")
    }

    /// Blocks for a batched kernel: every SM filled, never more blocks than items.
    fn grid(&self, f: &CudaFunction, threads: u32, smem: usize, items: usize) -> Result<u32> {
        let per_sm = f
            .occupancy_max_active_blocks_per_multiprocessor(threads, smem, None)
            .cx("occupancy")?;
        if per_sm == 0 {
            return Err(cuda(format!(
                "a block of {threads} threads with {smem} bytes of shared memory does not fit an SM"
            )));
        }
        Ok((per_sm * self.dev.sms).min(items.max(1) as u32))
    }

    /// Makes a spike cache resident on the device, uploading it when it is not the one already
    /// there.
    fn make_resident(&mut self, c: &SpikeCache) -> Result<()> {
        let key = (
            c.data.as_ptr() as usize,
            c.data.len(),
            c.per_sample,
            fingerprint(&c.data),
        );
        if self.resident.as_ref().is_none_or(|r| r.key != key) {
            self.resident = None;
            let data = self.up(&c.data)?;
            self.resident = Some(Resident { key, data });
        }
        Ok(())
    }

    fn encode_device(
        &mut self,
        net: &Net,
        images: &CudaSlice<u8>,
        n: usize,
        out: &mut CudaSlice<u8>,
    ) -> Result<()> {
        let e = &net.encoder;
        let (p, pl) = layout::encode_layout(e, self.smem()).map_err(cuda)?;
        if net.filters.len() < e.n_kernel() {
            return Err(hebb_core::Error::BufferTooSmall {
                what: "kernels",
                need: e.n_kernel(),
                got: net.filters.len(),
            }
            .into());
        }
        let ker = self.up(&net.filters[..e.n_kernel()])?;
        let f = &self.kernel("encode.cu", "encode_images", &p)?;
        self.set_smem(f, pl.shared)?;
        let grid = self.grid(f, ENCODE_THREADS, pl.shared, n)?;
        let mut scratch = self.zeros::<u8>(pl.global * grid as usize)?;
        let ni = n as i32;
        let mut lb = self.stream.launch_builder(f);
        lb.arg(&p)
            .arg(images)
            .arg(&ni)
            .arg(&ker)
            .arg(out)
            .arg(&mut scratch);
        let cfg = LaunchConfig {
            grid_dim: (grid, 1, 1),
            block_dim: (ENCODE_THREADS, 1, 1),
            shared_mem_bytes: pl.shared as u32,
        };
        // SAFETY: arguments match `encode_images`; `images` holds n images, `out` n encodings,
        // the scratch grid × SCR bytes.
        unsafe { lb.launch(cfg) }.cx("encode launch")?;
        Ok(())
    }

    fn features_device(&mut self, net: &Net, images: &[u8]) -> Result<Option<FeatureSet>> {
        let e = &net.encoder;
        let plane = e.h() as usize * e.w() as usize;
        let n = images.len() / plane;
        let nf = net.n_features();
        let wpf = words(nf);
        let mut layers = Vec::new();
        for (l, a) in net.arch.iter().enumerate() {
            validate_thresholds(&net.thresholds[l], a.conv.out_c() as usize)?;
            if net.weights[l].len() < a.conv.n_weights() {
                return Err(hebb_core::Error::ShapeMismatch(
                    "weights shorter than the conv geometry",
                )
                .into());
            }
            match layout::forward_layout(a, self.smem()).map_err(cuda)? {
                Some(x) => layers.push(x),
                None => return Ok(None),
            }
        }
        let mut bits = Vec::with_capacity(n * wpf);
        let w_d = net
            .weights
            .iter()
            .zip(&net.arch)
            .map(|(w, a)| self.up(&w[..a.conv.n_weights()]))
            .collect::<Result<Vec<_>>>()?;
        let th_d = net
            .thresholds
            .iter()
            .map(|t| self.up(t))
            .collect::<Result<Vec<_>>>()?;
        let max_len = net
            .arch
            .iter()
            .map(|a| a.conv.input().len().max(a.out_shape().len()))
            .max()
            .unwrap_or(0)
            .max(e.n_out());
        let chunk = BATCH.min(n.max(1));
        let mut ping = self.zeros::<u8>(chunk * max_len)?;
        let mut pong = self.zeros::<u8>(chunk * max_len)?;
        let mut bits_d = self.zeros::<u32>(chunk * wpf)?;
        for c0 in (0..n).step_by(chunk) {
            let cn = chunk.min(n - c0);
            let img = self.up(&images[c0 * plane..(c0 + cn) * plane])?;
            self.encode_device(net, &img, cn, &mut ping)?;
            for (l, (p, pl)) in layers.iter().enumerate() {
                let f = &self.kernel("infer.cu", "forward_final", p)?;
                self.set_smem(f, pl.shared)?;
                let grid = self.grid(f, FORWARD_THREADS, pl.shared, cn)?;
                let ni = cn as i32;
                let mut lb = self.stream.launch_builder(f);
                lb.arg(p)
                    .arg(&ping)
                    .arg(&ni)
                    .arg(&w_d[l])
                    .arg(&th_d[l])
                    .arg(&mut pong);
                let cfg = LaunchConfig {
                    grid_dim: (grid, 1, 1),
                    block_dim: (FORWARD_THREADS, 1, 1),
                    shared_mem_bytes: pl.shared as u32,
                };
                // SAFETY: arguments match `forward_final`; ping holds cn inputs, pong cn outputs.
                unsafe { lb.launch(cfg) }.cx("forward launch")?;
                std::mem::swap(&mut ping, &mut pong);
            }
            let (ni, nfi, wi) = (cn as i32, nf as i32, wpf as i32);
            let mut lb = self.stream.launch_builder(&self.pack);
            lb.arg(&ping).arg(&ni).arg(&nfi).arg(&wi).arg(&mut bits_d);
            let cfg = LaunchConfig {
                grid_dim: ((cn * wpf).div_ceil(256).clamp(1, 65_535) as u32, 1, 1),
                block_dim: (256, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: arguments match `pack_bits`.
            unsafe { lb.launch(cfg) }.cx("pack launch")?;
            bits.extend_from_slice(&self.down(&bits_d, cn * wpf)?);
        }
        Ok(Some(FeatureSet {
            n_features: nf,
            words: wpf,
            bits,
        }))
    }
}

/// Rates of every sample of `order`, replaying the learning-rate schedule (it does not depend on
/// the simulation); `lr` ends where the CPU's would.
fn replay_rates(job: &TrainJob<'_>, n: usize, lr: &mut LrState) -> (Vec<u32>, Vec<u32>) {
    let (mut ap, mut am) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        lr.tick(job.train);
        ap.push(lr.current.a_plus);
        am.push(lr.current.a_minus);
    }
    (ap, am)
}

fn rule_code(r: StdpRule) -> i32 {
    match r {
        StdpRule::Multiplicative => 0,
        StdpRule::Additive => 1,
    }
}

impl CudaBackend {
    /// Mini-batch training (`job.train.batch > 1`), the CPU back end's `train_batches`: per
    /// batch, `train_batch` simulates its samples in parallel (one block each) from the weights
    /// on the device, then `stdp_batch` sums and applies their changes (one block per map). The
    /// weights stay on the device for the whole call.
    fn train_batched(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let (weights, thresholds) = (&mut *st.weights, &*st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        let a = job.arch;
        let g = &a.conv;
        let m = g.out_c() as usize;
        let fan = g.n_weights() / m.max(1);
        if fan > 8 * STDP_THREADS as usize {
            return Err(cuda(format!(
                "mini-batch STDP handles kernels of at most {} synapses, this layer's have {fan}",
                8 * STDP_THREADS
            )));
        }
        let k = job.train.wta.k() as usize;
        let bsz = job.train.batch as usize;
        let mut lr_end = *lr;
        let (ap, am) = replay_rates(job, order.len(), &mut lr_end);
        let mode = SimMode::Train {
            wta: &job.train.wta,
            rule: rule_code(lr.current.rule),
            adapt: None,
        };
        let (p, pl) =
            layout::sim_layout(a, job.steps, mode, TRAIN_THREADS, self.smem()).map_err(cuda)?;
        let nw = g.n_weights();
        let mut w_d = self.up(&weights[..nw])?;
        let th_d = self.up(thresholds)?;
        let order_d = self.up(order)?;
        let ap_d = self.up(&ap)?;
        let am_d = self.up(&am)?;
        let n = order.len();
        let mut win_d = self.zeros::<i32>(n * k * layout::WIN_INTS)?;
        let mut stats_d = self.zeros::<u32>(3 * n)?;
        let sim = self.kernel("sim.cu", "train_batch", &p)?;
        let upd = self.kernel("sim.cu", "stdp_batch", &p)?;
        self.set_smem(&sim, pl.shared)?;
        let grid = self.grid(&sim, TRAIN_THREADS, pl.shared, bsz)?;
        let mut scratch = self.zeros::<u8>(pl.global * grid as usize)?;
        self.make_resident(job.inputs)?;
        let inputs = &self.resident.as_ref().expect("made resident").data;
        for b0 in (0..n).step_by(bsz) {
            let nb = bsz.min(n - b0);
            let ni = nb as i32;
            let ord = order_d.slice(b0..b0 + nb);
            let mut wv =
                win_d.slice_mut(b0 * k * layout::WIN_INTS..(b0 + nb) * k * layout::WIN_INTS);
            let mut sv = stats_d.slice_mut(3 * b0..3 * (b0 + nb));
            let mut lb = self.stream.launch_builder(&sim);
            lb.arg(&p)
                .arg(inputs)
                .arg(&ord)
                .arg(&ni)
                .arg(&mut w_d)
                .arg(&th_d)
                .arg(&mut wv)
                .arg(&mut sv)
                .arg(&mut scratch);
            let cfg = LaunchConfig {
                grid_dim: (grid.min(nb as u32), 1, 1),
                block_dim: (TRAIN_THREADS, 1, 1),
                shared_mem_bytes: pl.shared as u32,
            };
            // SAFETY: arguments match `train_batch`; `ord` indexes the resident cache (checked by
            // the caller), `wv` and `sv` hold the batch's winner records and counters, the
            // scratch grid × SCR bytes.
            unsafe { lb.launch(cfg) }.cx("train_batch launch")?;
            let wv = win_d.slice(b0 * k * layout::WIN_INTS..(b0 + nb) * k * layout::WIN_INTS);
            let sv = stats_d.slice(3 * b0..3 * (b0 + nb));
            let apv = ap_d.slice(b0..b0 + nb);
            let amv = am_d.slice(b0..b0 + nb);
            let mut lb = self.stream.launch_builder(&upd);
            lb.arg(&p)
                .arg(inputs)
                .arg(&ord)
                .arg(&ni)
                .arg(&wv)
                .arg(&sv)
                .arg(&apv)
                .arg(&amv)
                .arg(&mut w_d);
            let cfg = LaunchConfig {
                grid_dim: (m.min(65_535) as u32, 1, 1),
                block_dim: (STDP_THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: arguments match `stdp_batch`; every buffer holds the batch's nb samples.
            unsafe { lb.launch(cfg) }.cx("stdp_batch launch")?;
        }
        let w = self.down(&w_d, nw)?;
        let won = self.down(&win_d, n * k * layout::WIN_INTS)?;
        let st = self.down(&stats_d, 3 * n)?;
        weights[..nw].copy_from_slice(&w);
        for (j, s) in st.chunks_exact(3).enumerate() {
            stats.add(u64::from(s[0]), s[1], s[2]);
            for q in 0..(s[0] as usize).min(k) {
                let map = won[(j * k + q) * layout::WIN_INTS] as usize;
                if let Some(c) = wins.get_mut(map) {
                    *c += 1;
                }
            }
        }
        *lr = lr_end;
        Ok(())
    }
}

impl CudaBackend {
    /// The sequential training loop in one launch of `train_layer`; the layer's adaptive
    /// thresholds (`job.train.homeostasis`), if any, are updated after every sample and written
    /// back.
    fn train_seq(
        &mut self,
        job: &TrainJob<'_>,
        order: &[u32],
        st: &mut LayerState<'_>,
    ) -> Result<()> {
        let homeo = job.train.homeostasis.as_ref();
        let adapt = homeo.is_some();
        let a = job.arch;
        let g = &a.conv;
        let m = g.out_c() as usize;
        validate_thresholds(st.thresholds, m)?;
        if st.weights.len() < g.n_weights() {
            return Err(
                hebb_core::Error::ShapeMismatch("weights shorter than the conv geometry").into(),
            );
        }
        if job.inputs.per_sample != g.input().len() {
            return Err(hebb_core::Error::ShapeMismatch(
                "spike cache samples differ from the layer input",
            )
            .into());
        }
        if st.wins.len() < m {
            return Err(hebb_core::Error::BufferTooSmall {
                what: "wins",
                need: m,
                got: st.wins.len(),
            }
            .into());
        }
        if order.iter().any(|&i| i as usize >= job.inputs.len()) {
            return Err(hebb_core::Error::InvalidParam("sample index out of range").into());
        }
        if order.is_empty() {
            return Ok(());
        }
        if job.train.batch > 1 && homeo.is_none() {
            return self.train_batched(job, order, st);
        }
        let (weights, thresholds) = (&mut *st.weights, &mut *st.thresholds);
        let (lr, wins, stats) = (&mut *st.lr, &mut *st.wins, &mut *st.stats);
        let mut lr_end = *lr;
        let (ap, am) = replay_rates(job, order.len(), &mut lr_end);
        let mode = SimMode::Train {
            wta: &job.train.wta,
            rule: rule_code(lr.current.rule),
            adapt: homeo,
        };
        let threads = std::env::var("HEBB_CUDA_TRAIN_THREADS")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|t| t % 32 == 0 && (32..=1024).contains(t))
            .unwrap_or(TRAIN_THREADS);
        let (p, pl) = layout::sim_layout(a, job.steps, mode, threads, self.smem()).map_err(cuda)?;
        let nw = g.n_weights();
        let mut w_d = self.up(&weights[..nw])?;
        let mut th_d = self.up(&thresholds[..m])?;
        let order_d = self.up(order)?;
        let ap_d = self.up(&ap)?;
        let am_d = self.up(&am)?;
        let mut wins_d = self.zeros::<u32>(m)?;
        let mut stats_d = self.zeros::<u32>(3 * order.len())?;
        let mut scratch = self.zeros::<u8>(pl.global)?;
        let profile = i32::from(std::env::var_os("HEBB_CUDA_PROFILE").is_some());
        let mut prof_d = self.zeros::<u64>(16)?;
        let f = self.kernel("sim.cu", "train_layer", &p)?;
        self.set_smem(&f, pl.shared)?;
        let n_order = i32::try_from(order.len()).map_err(|_| cuda("order too long"))?;
        self.make_resident(job.inputs)?;
        let inputs = &self.resident.as_ref().expect("made resident").data;
        let mut lb = self.stream.launch_builder(&f);
        lb.arg(&p)
            .arg(inputs)
            .arg(&order_d)
            .arg(&n_order)
            .arg(&ap_d)
            .arg(&am_d)
            .arg(&mut w_d)
            .arg(&mut th_d)
            .arg(&mut wins_d)
            .arg(&mut stats_d)
            .arg(&mut scratch)
            .arg(&mut prof_d)
            .arg(&profile);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: pl.shared as u32,
        };
        // SAFETY: arguments match `train_layer`; every index in `order` was checked against
        // the resident cache, the scratch holds SCR bytes for the one block.
        unsafe { lb.launch(cfg) }.cx("train launch")?;
        let w = self.down(&w_d, nw)?;
        let dw = self.down(&wins_d, m)?;
        let st = self.down(&stats_d, 3 * order.len())?;
        if profile != 0 {
            self.print_profile(&self.down(&prof_d, 16)?, pl.shared, pl.global);
        }
        weights[..nw].copy_from_slice(&w);
        if adapt {
            thresholds[..m].copy_from_slice(&self.down(&th_d, m)?);
        }
        for (acc, d) in wins.iter_mut().zip(&dw) {
            *acc += d;
        }
        for s in st.chunks_exact(3) {
            stats.add(u64::from(s[0]), s[1], s[2]);
        }
        *lr = lr_end;
        Ok(())
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
