//! Opening the device (driver, NVRTC, probes), memory transfers, launch geometry and the
//! resident input cache.

use super::kernels::fingerprint;
use super::*;

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

    pub(super) fn open_inner() -> Result<Self> {
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
    pub(super) fn smoke_test(&mut self) -> Result<()> {
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

    /// Caps the dynamic shared memory a kernel block may use (`None`: the device's limit).
    /// Buffers that do not fit move to global memory; results do not change. For tests.
    pub fn set_shared_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Dynamic shared memory a block may use: the device's limit less what the kernels
    /// declare statically.
    pub(super) fn smem(&self) -> usize {
        let max = self.dev.smem_block - STATIC_SMEM;
        self.budget.map_or(max, |b| b.min(max))
    }

    pub(super) fn print_profile(&self, c: &[u64], shared: usize, global: usize) {
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

    pub(super) fn up<T: DeviceRepr>(&self, v: &[T]) -> Result<CudaSlice<T>> {
        if v.is_empty() {
            // Zero-length allocations are invalid; kernels never read these.
            // SAFETY: one uninitialised element that nobody reads.
            return unsafe { self.stream.alloc::<T>(1) }.cx("device allocation");
        }
        self.stream.clone_htod(v).cx("copy to device")
    }

    pub(super) fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        self.stream
            .alloc_zeros::<T>(n.max(1))
            .cx("device allocation")
    }

    pub(super) fn down<T: DeviceRepr + Default + Clone>(
        &self,
        d: &CudaSlice<T>,
        n: usize,
    ) -> Result<Vec<T>> {
        let mut v = vec![T::default(); d.len()];
        self.stream.memcpy_dtoh(d, &mut v).cx("copy from device")?;
        v.truncate(n);
        Ok(v)
    }

    pub(super) fn set_smem(&self, f: &CudaFunction, bytes: usize) -> Result<()> {
        f.set_attribute(
            CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            bytes as i32,
        )
        .cx("setting the shared memory size")
    }

    /// Blocks for a batched kernel: every SM filled, never more blocks than items.
    pub(super) fn grid(
        &self,
        f: &CudaFunction,
        threads: u32,
        smem: usize,
        items: usize,
    ) -> Result<u32> {
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
    pub(super) fn make_resident(&mut self, c: &SpikeCache) -> Result<()> {
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
}
