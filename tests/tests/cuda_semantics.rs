//! The CUDA primitives hebb's kernels rely on, against hand-computed results: warp collectives
//! (shuffles at segment edges, ballots with partial masks, disjoint groups from
//! `__match_any_sync` reducing at once), shared-memory atomics across a block, and dynamic shared
//! memory above 48 KiB, which needs the function attribute. On a GPU these pin down what the
//! hardware does; under the emulator (`scripts/cuda-emu.sh`) they check that it does the same.
//! Without CUDA they say they were skipped (with `HEBB_REQUIRE_CUDA=1` they fail instead).

use cudarc::driver::sys::CUfunction_attribute;
use cudarc::driver::{CudaContext, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use std::sync::Arc;

const SRC: &str = r#"
extern "C" __global__ void warp_ops(unsigned* out) {
    const int t = threadIdx.x, lane = t & 31;
    unsigned* o = out + t * 10;
    o[0] = __ballot_sync(0xffffffffu, lane % 3 == 0);
    o[1] = __shfl_up_sync(0xffffffffu, lane * 10, 3);
    o[2] = __shfl_down_sync(0xffffffffu, lane * 10, 5, 16);
    o[3] = __shfl_xor_sync(0xffffffffu, lane, 1);
    o[4] = __shfl_sync(0xffffffffu, lane + 100, 7);
    const unsigned peers = __match_any_sync(0xffffffffu, lane / 4);
    o[5] = peers;
    o[6] = __reduce_max_sync(peers, (unsigned)((lane * 7) % 11));
    const unsigned halves = __match_any_sync(0xffffffffu, lane < 20);
    o[7] = __reduce_add_sync(halves, (unsigned)lane);
    o[8] = __reduce_min_sync(halves, (unsigned)(40 - lane));
    o[9] = 0;
    if (lane & 1) o[9] = __ballot_sync(0xaaaaaaaau, lane % 4 == 1);
}

extern "C" __global__ void block_ops(int* out, int bytes) {
    extern __shared__ __align__(16) unsigned char smem[];
    // The counters sit at the very end of the dynamic shared memory.
    int* sh = (int*)(smem + bytes) - 7;
    if (threadIdx.x < 7) sh[threadIdx.x] = 0;
    __syncthreads();
    atomicAdd(&sh[threadIdx.x % 7], (int)(threadIdx.x + blockIdx.x));
    __syncthreads();
    if (threadIdx.x < 7) out[blockIdx.x * 7 + threadIdx.x] = sh[threadIdx.x];
}
"#;

/// The device, or `None` (after saying why) when CUDA is not usable.
fn device() -> Option<Arc<CudaContext>> {
    let probe = std::panic::catch_unwind(|| {
        // SAFETY: these only try to dlopen the libraries.
        let driver = unsafe { cudarc::driver::sys::is_culib_present() };
        let nvrtc = unsafe { cudarc::nvrtc::sys::is_culib_present() };
        if !(driver && nvrtc) {
            return Err("no CUDA driver or NVRTC library".to_string());
        }
        CudaContext::new(0).map_err(|e| format!("no CUDA device: {e:?}"))
    });
    let why = match probe {
        Ok(Ok(c)) => return Some(c),
        Ok(Err(why)) => why,
        Err(_) => "probing CUDA panicked".to_string(),
    };
    assert_ne!(
        std::env::var("HEBB_REQUIRE_CUDA").as_deref(),
        Ok("1"),
        "HEBB_REQUIRE_CUDA=1 but {why}"
    );
    eprintln!("skipped: {why}");
    None
}

fn module(ctx: &Arc<CudaContext>) -> Arc<cudarc::driver::CudaModule> {
    let (major, minor) = ctx.compute_capability().expect("compute capability");
    let arch: &'static str = Box::leak(format!("sm_{major}{minor}").into_boxed_str());
    let opts = CompileOptions {
        arch: Some(arch),
        ..Default::default()
    };
    let ptx = compile_ptx_with_opts(SRC, opts).expect("the test kernels compile");
    ctx.load_module(ptx).expect("the test kernels load")
}

#[test]
#[ignore = "needs a CUDA GPU or scripts/cuda-emu.sh; run with --include-ignored"]
fn warp_collectives_match_hand_computed_results() {
    let Some(ctx) = device() else { return };
    let m = module(&ctx);
    let f = m.load_function("warp_ops").expect("warp_ops");
    let s = ctx.default_stream();
    let mut out = s.alloc_zeros::<u32>(64 * 10).expect("alloc");
    let mut lb = s.launch_builder(&f);
    lb.arg(&mut out);
    let cfg = LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (64, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: `warp_ops` writes 10 words per thread of the 64.
    unsafe { lb.launch(cfg) }.expect("launch");
    let got = s.clone_dtoh(&out).expect("copy");
    let every_third: u32 = (0..32).filter(|l| l % 3 == 0).map(|l| 1u32 << l).sum();
    for t in 0..64u32 {
        let lane = t % 32;
        let o = &got[t as usize * 10..t as usize * 10 + 10];
        let seg = lane & !15;
        let group = lane / 4;
        let (lo, hi) = if lane < 20 { (0, 20) } else { (20, 32) };
        let want = [
            every_third,
            if lane < 3 { lane * 10 } else { (lane - 3) * 10 },
            if lane - seg + 5 >= 16 {
                lane * 10
            } else {
                (lane + 5) * 10
            },
            lane ^ 1,
            107,
            0xf << (4 * group),
            (4 * group..4 * group + 4)
                .map(|l| (l * 7) % 11)
                .max()
                .unwrap(),
            (lo..hi).sum(),
            40 - (hi - 1),
            if lane % 2 == 1 { 0x2222_2222 } else { 0 },
        ];
        assert_eq!(o, want, "thread {t}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU or scripts/cuda-emu.sh; run with --include-ignored"]
fn shared_atomics_and_large_dynamic_shared_memory() {
    let Some(ctx) = device() else { return };
    let m = module(&ctx);
    let f = m.load_function("block_ops").expect("block_ops");
    let s = ctx.default_stream();
    let bytes: i32 = 100 * 1024;
    let mut out = s.alloc_zeros::<i32>(3 * 7).expect("alloc");
    let cfg = LaunchConfig {
        grid_dim: (3, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: bytes as u32,
    };
    // Above 48 KiB a launch needs the attribute first: without it, it fails.
    let b = bytes;
    let mut lb = s.launch_builder(&f);
    lb.arg(&mut out).arg(&b);
    // SAFETY: `block_ops` writes 7 ints per block of the 3.
    let without = unsafe { lb.launch(cfg) }.and_then(|_| s.synchronize());
    assert!(without.is_err(), "a 100 KiB launch without the attribute");
    f.set_attribute(
        CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
        b,
    )
    .expect("attribute");
    let mut lb = s.launch_builder(&f);
    lb.arg(&mut out).arg(&b);
    // SAFETY: as above.
    unsafe { lb.launch(cfg) }.expect("launch");
    let got = s.clone_dtoh(&out).expect("copy");
    for blk in 0..3 {
        for i in 0..7 {
            let want: i32 = (0..256).filter(|t| t % 7 == i).map(|t| t + blk).sum();
            assert_eq!(
                got[(blk * 7 + i) as usize],
                want,
                "block {blk}, counter {i}"
            );
        }
    }
}
