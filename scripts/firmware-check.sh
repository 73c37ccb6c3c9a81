#!/usr/bin/env bash
# Builds the firmware for thumbv7em-none-eabihf, runs it under QEMU (netduinoplus2, STM32F405)
# and checks it against the host:
#   infer    16-bit model: every prediction and feature CRC must equal the host's (exit 0)
#   infer8   the same for the 8-bit export
#   learn    on-device STDP: weight CRC after every sample must equal the host trainer's
#   hopfield on-device Hebbian storage (weight CRC) and recall of every cue (sweeps, end,
#            state CRC, overlap, energy) must equal the host's
#   oja      on-device Oja learning: weight CRC every 50 samples and at the end = host's
#   sanger   the same for Sanger's rule (3 components)
#   diehl    Diehl & Cook: inference of a trained network from flash (counts CRC, presentations,
#            both votes per digit), label assignment on the device (assignments/proportions
#            CRC) and learning of a small network (weights/θ CRC after every digit) = host's
#   events   SpikeSEG's event pipeline on a generated sky: hot-pixel and background filters,
#            windows, voxel grids, event encoder, layers and decoder mask per window = host's
#   corrupt  model with a flipped byte: must be rejected at boot (exit 2, CRC mismatch)
# The firmware's exit code is the verdict (the expected values are inside the fixtures); the
# script also diffs the printed per-sample lines with firmware/*.expected.txt (written by the
# host) and prints flash, static RAM, stack high-water mark and instructions per inference,
# learning step, recall, rate-rule update, Diehl & Cook digit and event window.
#
# Usage: scripts/firmware-check.sh [--host]
#   --host   also recompute every expectation in the fixtures with the host
#            (cargo test -p hebb-tests --test firmware_fixture)
# Environment: QEMU_TIMEOUT (seconds per run, default 120), KEEP=dir (keep the logs there).
# Needs only rustup/cargo: qemu-system-arm (and binutils) come from apt-get, the target from
# rustup, defmt-print from cargo install, each only when missing.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
host_check=0
for a in "$@"; do
    case "$a" in
    --host) host_check=1 ;;
    -h | --help)
        sed -n '2,27p' "$0"
        exit 0
        ;;
    *)
        echo "unknown argument: $a" >&2
        exit 2
        ;;
    esac
done

target=thumbv7em-none-eabihf
# Honours CARGO_TARGET_DIR and build.target-dir.
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
elf_dir="${target_dir:-$root/target}/$target/firmware"
logs=${KEEP:-$(mktemp -d)}
mkdir -p "$logs"
fail=0

step() { printf '\n== %s\n' "$*"; }

# --- 1. tools (idempotent) -------------------------------------------------------------------
step "tools"
apt_install() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}
need_pkgs=()
command -v qemu-system-arm >/dev/null || need_pkgs+=(qemu-system-arm)
{ command -v size >/dev/null && command -v readelf >/dev/null; } || need_pkgs+=(binutils)
if [ ${#need_pkgs[@]} -gt 0 ]; then apt_install "${need_pkgs[@]}"; fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
command -v defmt-print >/dev/null || cargo install defmt-print --locked --version 1.2.0
qemu-system-arm --version | head -n1
defmt-print --version

# --- 2. build ----------------------------------------------------------------------------------
step "build (cargo build --profile firmware -p hebb-firmware --target $target)"
cargo build --profile firmware -p hebb-firmware --target "$target"

# --- 3. run ------------------------------------------------------------------------------------
export QEMU_EXTRA="-icount shift=0,align=off,sleep=off"
export QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}
export DEFMT_FORMAT='{L} {s}'
run() { # run <bin>: output to $logs/<bin>.log, exit code to rc
    set +e
    firmware/qemu-run.sh "$elf_dir/$1" >"$logs/$1.log" 2>&1
    rc=$?
    set -e
}
check_lines() { # check_lines <bin> <prefix regex> <expected file>
    if diff <(grep -E "^($2) " "$logs/$1.log") "$3" >"$logs/$1.diff"; then
        echo "$1: printed lines equal $(basename "$3") ($(wc -l <"$3") lines)"
    else
        echo "$1: printed lines differ from $(basename "$3"):" >&2
        head -n 20 "$logs/$1.diff" >&2
        fail=1
    fi
}

for b in infer infer8 learn hopfield oja sanger diehl events; do
    step "run $b"
    run "$b"
    grep -vE '^(result|learn [0-9]|cue [0-9]|oja [0-9]|sanger [0-9]|infer [0-9]|assign [0-9]|window [0-9]|INFO  (sample|  winner|cue|  digit|  window))' "$logs/$b.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "$b: FAILED with exit code $rc (log: $logs/$b.log)" >&2
        tail -n 20 "$logs/$b.log" >&2
        fail=1
    else
        echo "$b: exit 0"
    fi
    case "$b" in
    infer) check_lines infer result firmware/samples.expected.txt ;;
    infer8) check_lines infer8 result firmware/samples8.expected.txt ;;
    learn) check_lines learn 'learn|final' firmware/learn.expected.txt ;;
    hopfield) check_lines hopfield 'store|cue' firmware/hopfield.expected.txt ;;
    oja) check_lines oja 'oja|final' firmware/oja.expected.txt ;;
    sanger) check_lines sanger 'sanger|final' firmware/sanger.expected.txt ;;
    diehl) check_lines diehl 'infer|assign|assigned|learn' firmware/diehl.expected.txt ;;
    events) check_lines events 'window|filter' firmware/events.expected.txt ;;
    esac
done

step "run corrupt (must be rejected)"
run corrupt
cat "$logs/corrupt.log"
if [ "$rc" -eq 2 ] && grep -q 'model rejected: CrcMismatch' "$logs/corrupt.log"; then
    echo "corrupt: rejected with exit 2 (CRC mismatch), as required"
else
    echo "corrupt: expected exit 2 with a CRC mismatch, got exit $rc" >&2
    fail=1
fi

# --- 4. host -----------------------------------------------------------------------------------
if [ "$host_check" = 1 ]; then
    step "host: recompute the fixtures' expectations"
    cargo test -p hebb-tests --test firmware_fixture || fail=1
fi

# --- 5. report ---------------------------------------------------------------------------------
step "summary (QEMU $(qemu-system-arm --version | head -n1 | awk '{print $4}'), $(date -u +%F))"
field() { grep -E "$2" "$logs/$1.log" | tail -n1 | sed -E "s/^(INFO  )?//" || true; }
printf '%-8s %10s %10s %s\n' bin flash static_ram "(bytes: flash = text+data, static RAM = data+bss)"
for b in infer infer8 learn hopfield oja sanger diehl events corrupt; do
    read -r text data bss _ < <(size "$elf_dir/$b" | tail -n1)
    printf '%-8s %10d %10d\n' "$b" $((text + data)) $((data + bss))
done
for b in infer infer8; do
    echo "$b: $(field $b '^accuracy'); $(field $b '^instructions per inference')"
    echo "$b: $(field $b '^stages'); $(field $b '^memory')"
done
echo "learn: $(field learn '^instructions per learning step'); $(field learn '^memory')"
echo "hopfield: $(field hopfield '^instructions for storage'); $(field hopfield '^memory')"
echo "hopfield: $(field hopfield '^instructions per recall')"
echo "hopfield: $(field hopfield '^instructions per energy2')"
for b in oja sanger; do
    echo "$b: $(field $b '^instructions per'); $(field $b '^memory')"
done
echo "diehl: $(field diehl '^accuracy'); $(field diehl '^memory')"
echo "diehl: $(field diehl '^instructions per inference digit')"
echo "diehl: $(field diehl '^instructions per assignment digit')"
echo "diehl: $(field diehl '^instructions per learning digit')"
echo "events: $(field events '^instructions per window'); $(field events '^memory')"
echo "events: $(field events '^instructions per 1000 events')"
echo "logs: $logs"
if [ "$fail" -ne 0 ]; then
    echo "firmware check FAILED" >&2
    exit 1
fi
echo "firmware check passed"
