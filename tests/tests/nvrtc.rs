//! Compiles every CUDA kernel with NVRTC (no GPU needed). Runs only with `HEBB_NVRTC_CHECK=1`
//! (see `scripts/nvrtc-check.sh`, which installs NVRTC and sets `LD_LIBRARY_PATH`); then a
//! missing NVRTC library or any compile error fails the test.

#[test]
fn every_kernel_compiles_with_nvrtc() {
    if std::env::var("HEBB_NVRTC_CHECK").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set HEBB_NVRTC_CHECK=1 (scripts/nvrtc-check.sh) to compile the kernels"
        );
        return;
    }
    match hebb::backend::cuda::source::compile_check(&["sm_90", "compute_80"]) {
        Ok(lines) => {
            assert!(lines.len() > 2 * hebb::backend::cuda::source::KERNEL_FILES.len());
            for l in lines {
                eprintln!("ok: {l}");
            }
        }
        Err(e) => panic!("kernel compilation failed:\n{e}"),
    }
}

/// Writes the PTX of every kernel file to `$HEBB_NVRTC_DUMP/<file>.ptx` (for inspection).
#[test]
fn dump_ptx() {
    let Ok(dir) = std::env::var("HEBB_NVRTC_DUMP") else {
        return;
    };
    for &(file, _, _) in hebb::backend::cuda::source::KERNEL_FILES {
        let ptx = hebb::backend::cuda::source::compile(file, "sm_90", None).expect("compiles");
        std::fs::write(format!("{dir}/{file}.ptx"), ptx.to_src()).expect("write");
    }
    let variants =
        hebb::backend::cuda::source::preset_variants("kheradpisheh2018").expect("variants");
    for (i, (file, p)) in variants.iter().enumerate() {
        let ptx = hebb::backend::cuda::source::compile(file, "sm_90", Some(p)).expect("compiles");
        std::fs::write(format!("{dir}/kh-{i}-{file}.ptx"), ptx.to_src()).expect("write");
    }
}
