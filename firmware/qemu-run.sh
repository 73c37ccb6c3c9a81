#!/usr/bin/env bash
# Cargo runner for thumbv7em-none-eabihf: runs an ELF on QEMU's netduinoplus2 (STM32F405,
# Cortex-M4F) and decodes its defmt output with defmt-print. The exit status is the firmware's
# semihosting exit code (0 pass, 1 mismatch, 2 model rejected, 3 fixture error, 4 core error,
# 101 panic, 102 defmt panic, 103 HardFault), or 124 when QEMU_TIMEOUT (seconds) runs out.
#
#   QEMU_TIMEOUT   wall-clock limit (default 300)
#   QEMU_EXTRA     extra QEMU flags, e.g. "-icount shift=0,align=off,sleep=off" (exact counts)
#   DEFMT_FORMAT   defmt-print log format (default "{L} {s}")
set -euo pipefail
elf="$1"
shift || true
# shellcheck disable=SC2206 # QEMU_EXTRA is a list of flags
qemu=(timeout "${QEMU_TIMEOUT:-300}" qemu-system-arm
    -machine netduinoplus2 -cpu cortex-m4
    -nographic -monitor none -serial null
    -semihosting-config enable=on,target=native
    ${QEMU_EXTRA:-}
    -kernel "$elf")
fmt='{L} {s}' # assigned first: "{s}" inside ${..:-..} would close the expansion early
fmt="${DEFMT_FORMAT:-$fmt}"
# Every ELF linked with -Tdefmt.x has a .defmt section; only real defmt users define
# _defmt_version_. No `grep -q`: it would SIGPIPE readelf and fail under pipefail.
if readelf -sW "$elf" | grep '_defmt_version_' >/dev/null; then
    "${qemu[@]}" | defmt-print -e "$elf" --log-format "$fmt"
else
    "${qemu[@]}"
fi
