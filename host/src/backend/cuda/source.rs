//! Kernel sources (embedded) and their NVRTC compilation, also usable without a GPU to check that
//! every kernel compiles (`tests/tests/nvrtc.rs`, `scripts/nvrtc-check.sh`).

use super::layout::Params;
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx, compile_ptx_with_opts};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

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
        &["train_layer", "train_batch", "stdp_batch", "layer_times"],
    ),
    (
        "infer.cu",
        include_str!("../kernels/infer.cu"),
        &["forward_final", "pack_bits"],
    ),
];

/// The full program of one kernel file: generated parameter slots, the specialisation header
/// (`None`: parameters read at run time), common definitions, file.
pub fn program(file: &str, spec: Option<&Params>) -> String {
    // `#line` makes NVRTC report errors against the files as they are in the repository.
    format!(
        "{}{}\n#line 1 \"common.cuh\"\n{COMMON}\n#line 1 \"{}\"\n",
        super::layout::prelude(),
        spec.map(super::layout::spec_header).unwrap_or_default(),
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

/// Compiles one kernel file to PTX for `arch` (e.g. `sm_90`, `compute_80`), specialised for
/// `spec` when given. PTX is cached for the life of the process (one entry per program and
/// architecture), so every back end opened later reuses it.
pub fn compile(file: &str, arch: &'static str, spec: Option<&Params>) -> Result<Ptx, String> {
    type Cache = Mutex<HashMap<(String, &'static str), String>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let src = program(file, spec);
    let key = (src, arch);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(Ptx::from_src(p));
    }
    let opts = CompileOptions {
        arch: Some(arch),
        name: Some(file.to_string()),
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    let ptx = compile_ptx_with_opts(&key.0, opts).map_err(|e| describe(file, arch, e))?;
    let text = ptx.to_src();
    if let Ok(mut c) = cache.lock() {
        c.insert(key, text.clone());
    }
    Ok(Ptx::from_src(text))
}

/// Message for a missing NVRTC library.
pub const NO_NVRTC: &str = "NVRTC library not found (libnvrtc.so.13): install the CUDA 13 \
     toolkit's NVRTC, or `pip install nvidia-cuda-nvrtc==13.0.88` and add its \
     nvidia/cu13/lib folder to LD_LIBRARY_PATH";

/// The specialised variants the back end compiles for the layers of a preset (every kernel
/// file with the parameters of each layer), for compile checks.
pub fn preset_variants(preset: &str) -> Result<Vec<(&'static str, Params)>, String> {
    use super::layout::{SimMode, encode_layout, forward_layout, sim_layout};
    let cfg = crate::config::TrainConfig::preset(preset).map_err(|e| e.to_string())?;
    let net = crate::net::Net::from_config(&cfg, &mut hebb_core::rng::Rng::new(cfg.seed))
        .map_err(|e| e.to_string())?;
    let budget = 227 * 1024;
    let mut v = vec![("encode.cu", encode_layout(&net.encoder, budget)?.0)];
    for (l, a) in net.arch.iter().enumerate() {
        let t = crate::net::layer_train(&cfg.layers[l], l).map_err(|e| e.to_string())?;
        let steps = net.encoder.steps();
        let train = SimMode::Train {
            wta: &t.wta,
            rule: 0,
            adapt: t.homeostasis.as_ref(),
        };
        v.push(("sim.cu", sim_layout(a, steps, train, 1024, budget)?.0));
        let out = SimMode::Output { inhibit: true };
        v.push(("sim.cu", sim_layout(a, steps, out, 1024, budget)?.0));
        if let Some((p, _)) = forward_layout(a, budget)? {
            v.push(("infer.cu", p));
        }
    }
    Ok(v)
}

/// Compiles every kernel file for every architecture in `archs` without touching a GPU, both
/// generic and specialised for the layers of every preset. Returns one line per compilation
/// (file, arch, PTX size), or every failure.
pub fn compile_check(archs: &[&'static str]) -> Result<Vec<String>, String> {
    // SAFETY: only tries to dlopen the library.
    let present = std::panic::catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() })
        .unwrap_or(false);
    if !present {
        return Err(NO_NVRTC.into());
    }
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    let mut jobs: Vec<(&'static str, Option<Params>, String)> = KERNEL_FILES
        .iter()
        .map(|f| (f.0, None, "generic".to_string()))
        .collect();
    for preset in crate::config::PRESETS {
        for (file, p) in preset_variants(preset)? {
            jobs.push((file, Some(p), preset.to_string()));
        }
    }
    for (file, spec, what) in &jobs {
        for &arch in archs {
            match std::panic::catch_unwind(|| compile(file, arch, spec.as_ref())) {
                Ok(Ok(ptx)) => ok.push(format!(
                    "{file} [{arch}, {what}]: {} bytes of PTX",
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
