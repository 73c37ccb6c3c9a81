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
            assert_eq!(
                lines.len(),
                2 * hebb::backend::cuda::source::KERNEL_FILES.len()
            );
            for l in lines {
                eprintln!("ok: {l}");
            }
        }
        Err(e) => panic!("kernel compilation failed:\n{e}"),
    }
}
