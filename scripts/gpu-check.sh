#!/usr/bin/env bash
# Everything a GPU machine has to confirm about the CUDA back end, in one go.
#
#   scripts/gpu-check.sh prepare     # here (with a Rust toolchain): builds the release `hebb`
#                                    # and the parity test binary into carry/ (git-ignored), with
#                                    # Fashion-MNIST when its Debian package is installed
#   scripts/gpu-check.sh run [OUT]   # on the GPU machine (no toolchain needed), from the
#                                    # repository root: CUDA primitive semantics and the parity
#                                    # suite with HEBB_REQUIRE_CUDA=1,
#                                    # `hebb bench` on cuda and on a 2-thread CPU (exact and
#                                    # mini-batch training), device memory; report in OUT
#                                    # (default ./gpu-report)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
prepare)
    cargo build --release -p hebb
    bins=$(cargo test --release -p hebb-tests --test parity --test cuda_semantics --no-run \
        --message-format=json 2>/dev/null | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])')
    mkdir -p carry
    cp target/release/hebb carry/hebb
    while read -r name path; do cp "$path" "carry/$name"; done <<< "$bins"
    strip carry/hebb carry/parity carry/cuda_semantics
    # Fashion-MNIST (Debian package dataset-fashion-mnist), about 30 MB, when installed here.
    if [ -d /usr/share/datasets/fashion-mnist ]; then
        mkdir -p carry/fashion-mnist
        cp /usr/share/datasets/fashion-mnist/*-ubyte.gz carry/fashion-mnist/
    fi
    du -sh carry/*
    ;;
run)
    out="${2:-gpu-report}"
    mkdir -p "$out"
    export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    smi=
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 \
            > "$out/memory.csv" &
        smi=$!
        trap 'kill $smi 2>/dev/null || true' EXIT
    fi
    # GPU_CHECK_SAMPLES limits the training samples per layer (default: a whole epoch).
    samples=(${GPU_CHECK_SAMPLES:+--samples "$GPU_CHECK_SAMPLES"})
    # The parity binary finds the embedded data relative to the repository root.
    HEBB_REQUIRE_CUDA=1 carry/cuda_semantics --include-ignored 2>&1 | tee "$out/semantics.txt"
    HEBB_REQUIRE_CUDA=1 RAYON_NUM_THREADS=2 carry/parity --include-ignored ${GPU_CHECK_PARITY_FILTER:-} 2>&1 |
        tee "$out/parity.txt"
    batches=1,16,64,256
    carry/hebb bench --device cuda --batch "$batches" "${samples[@]}" --json "$out/bench-cuda.json" 2>&1 |
        tee "$out/bench-cuda.txt"
    RAYON_NUM_THREADS=2 carry/hebb bench --device cpu --batch "$batches" "${samples[@]}" \
        --json "$out/bench-cpu.json" 2>&1 | tee "$out/bench-cpu.txt"
    # Adaptive thresholds (homeostasis) on the GPU: the igarss2023 preset's layers.
    for dev in cuda cpu; do
        RAYON_NUM_THREADS=2 carry/hebb bench --device "$dev" --paper igarss2023 "${samples[@]}" \
            --repeat 1 --json "$out/bench-$dev-igarss.json" 2>&1 | tee "$out/bench-$dev-igarss.txt"
    done
    if [ -d carry/fashion-mnist ]; then
        for dev in cuda cpu; do
            RAYON_NUM_THREADS=2 carry/hebb bench --device "$dev" --batch "$batches" \
                "${samples[@]}" --data carry/fashion-mnist --json "$out/bench-$dev-fashion.json" 2>&1 |
                tee "$out/bench-$dev-fashion.txt"
        done
    fi
    if [ -n "$smi" ]; then
        kill "$smi" 2>/dev/null || true
        echo "peak device memory (MiB): $(sort -n "$out/memory.csv" | tail -1)" |
            tee "$out/memory.txt"
    fi
    ;;
*)
    echo "usage: $0 prepare | run [OUT]" >&2
    exit 2
    ;;
esac
