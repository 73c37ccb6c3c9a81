//! Kernel sources (embedded) and their NVRTC compilation, also usable without a GPU to check that
//! every kernel compiles (`tests/tests/nvrtc.rs`, `scripts/nvrtc-check.sh`).

use cudarc::nvrtc::{CompileError, CompileOptions, Ptx, compile_ptx_with_opts};

/// Definitions shared by every kernel file.
pub const COMMON: &str = include_str!("../kernels/common.cuh");

/// Kernel files and the functions each defines.
pub const KERNEL_FILES: &[(&str, &str, &[&str])] = &[
    (
        "encode.cu",
        include_str!("../kernels/encode.cu"),
        &["encode_images"],
    ),
    (
        "sim.cu",
        include_str!("../kernels/sim.cu"),
        &["train_layer", "layer_times"],
    ),
    (
        "infer.cu",
        include_str!("../kernels/infer.cu"),
        &["forward_final", "pack_bits"],
    ),
];

/// The full program of one kernel file: generated parameter slots, common definitions, file.
pub fn program(file: &str) -> String {
    format!(
        "{}\n// ---- common.cuh\n{COMMON}\n// ---- {}\n",
        super::layout::prelude(),
        file
    ) + KERNEL_FILES
        .iter()
        .find(|f| f.0 == file)
        .map_or("", |f| f.1)
}

/// The NVRTC target for a compute capability: the real architecture when this build knows it,
/// else `None`.
pub fn sm_arch(major: i32, minor: i32) -> Option<&'static str> {
    Some(match (major, minor) {
        (7, 5) => "sm_75",
        (8, 0) => "sm_80",
        (8, 6) => "sm_86",
        (8, 7) => "sm_87",
        (8, 9) => "sm_89",
        (9, 0) => "sm_90",
        (10, 0) => "sm_100",
        (10, 3) => "sm_103",
        (11, 0) => "sm_110",
        (12, 0) => "sm_120",
        (12, 1) => "sm_121",
        _ => return None,
    })
}

/// Virtual architecture (PTX) fallback for a compute capability.
pub fn fallback_arch(major: i32) -> &'static str {
    if major >= 8 {
        "compute_80"
    } else {
        "compute_75"
    }
}

fn describe(file: &str, arch: &str, e: CompileError) -> String {
    match e {
        CompileError::CompileError { nvrtc, log, .. } => format!(
            "NVRTC failed to compile {file} for {arch} ({nvrtc:?}):\n{}",
            log.to_string_lossy().trim_end()
        ),
        e => format!("NVRTC failed on {file} for {arch}: {e:?}"),
    }
}

/// Compiles one kernel file to PTX for `arch` (e.g. `sm_90`, `compute_80`).
pub fn compile(file: &str, arch: &'static str) -> Result<Ptx, String> {
    let opts = CompileOptions {
        arch: Some(arch),
        name: Some(file.to_string()),
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    compile_ptx_with_opts(program(file), opts).map_err(|e| describe(file, arch, e))
}

/// Message for a missing NVRTC library.
pub const NO_NVRTC: &str = "NVRTC library not found (libnvrtc.so.13): install the CUDA 13 \
     toolkit's NVRTC, or `pip install nvidia-cuda-nvrtc==13.0.88` and add its \
     nvidia/cu13/lib folder to LD_LIBRARY_PATH";

/// Compiles every kernel file for every architecture in `archs` without touching a GPU.
/// Returns one line per compilation (file, arch, PTX size), or every failure.
pub fn compile_check(archs: &[&'static str]) -> Result<Vec<String>, String> {
    // SAFETY: only tries to dlopen the library.
    let present = std::panic::catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() })
        .unwrap_or(false);
    if !present {
        return Err(NO_NVRTC.into());
    }
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for &(file, _, _) in KERNEL_FILES {
        for &arch in archs {
            match std::panic::catch_unwind(|| compile(file, arch)) {
                Ok(Ok(ptx)) => ok.push(format!(
                    "{file} [{arch}]: {} bytes of PTX",
                    ptx.to_src().len()
                )),
                Ok(Err(e)) => errs.push(e),
                Err(_) => errs.push(format!("NVRTC panicked on {file} for {arch}")),
            }
        }
    }
    if errs.is_empty() {
        Ok(ok)
    } else {
        Err(errs.join("\n\n"))
    }
}
