#!/usr/bin/env bash
# Runs a command with the CUDA emulator (tools/cuda-emu) standing in for the CUDA driver and
# NVRTC: hebb's CUDA back end then opens, compiles its kernels (as C++) and runs them on the CPU,
# so the parity suite exercises every kernel on a machine without a GPU.
#
# Usage: scripts/cuda-emu.sh <command...>
#   e.g. scripts/cuda-emu.sh env HEBB_REQUIRE_CUDA=1 cargo test --release -p hebb-tests --test parity
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tools/cuda-emu"
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/cuda-emu"
CXX="${CXX:-g++}"
mkdir -p "$OUT"

build() { # output, source
    if [ ! -e "$1" ] || [ "$2" -nt "$1" ] || [ "$SRC/runtime.h" -nt "$1" ] || [ "$0" -nt "$1" ]; then
        "$CXX" -std=c++17 -O2 -fPIC -shared -Wall -Wextra -DHEBB_EMU_DIR="\"$SRC\"" \
            "$2" -o "$1.tmp" -ldl
        mv "$1.tmp" "$1"
    fi
}
build "$OUT/libcuda.so" "$SRC/driver.cpp"
build "$OUT/libnvrtc.so" "$SRC/nvrtc.cpp"

export HEBB_CUDA_EMU_CACHE="${HEBB_CUDA_EMU_CACHE:-$OUT/kernels}"
export LD_LIBRARY_PATH="$OUT${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
