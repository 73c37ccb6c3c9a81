#!/usr/bin/env bash
# Compiles every CUDA kernel of the hebb CUDA back end with NVRTC, without a GPU.
#
# Installs NVRTC 13.0 from PyPI into <repo>/.nvrtc (git-ignored; skipped when already there),
# then runs the gated integration test tests/tests/nvrtc.rs, which compiles each kernel file for
# sm_90 and compute_80 and fails on any compile error (printing the NVRTC log).
#
# Usage: scripts/nvrtc-check.sh [extra cargo args, e.g. --release]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NVRTC_DIR="$ROOT/.nvrtc"
NVRTC_VERSION="13.0.88"
LIB="$NVRTC_DIR/nvidia/cu13/lib"

if [ ! -e "$LIB/libnvrtc.so.13" ] || [ ! -e "$NVRTC_DIR/.version-$NVRTC_VERSION" ]; then
    PY="${PYTHON:-python3}"
    "$PY" -m pip install --quiet --no-deps --upgrade --target "$NVRTC_DIR" \
        "nvidia-cuda-nvrtc==$NVRTC_VERSION"
    touch "$NVRTC_DIR/.version-$NVRTC_VERSION"
fi
if [ ! -e "$LIB/libnvrtc.so.13" ]; then
    echo "nvrtc-check: $LIB/libnvrtc.so.13 missing after install" >&2
    exit 1
fi

cd "$ROOT"
HEBB_NVRTC_CHECK=1 LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    cargo test -p hebb-tests --test nvrtc "$@" -- --nocapture
