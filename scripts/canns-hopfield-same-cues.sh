#!/usr/bin/env bash
# Hopfield recall in hebb and in CANNs 1.5.0 on the same stored patterns and the same cues:
# hebb stores random patterns (N = 100, 500, 1000; load 0.05-0.20) with CANNs' settings and
# writes its cues and final states (`hebb predict --out`); the Python side stores the same
# patterns with CANNs' HebbianTrainer and recalls the same cues with 20 model.update() calls.
# Needs a release build and a Python with `pip install canns==1.5.0`.
# Usage: scripts/canns-hopfield-same-cues.sh PYTHON [WORKDIR]
set -euo pipefail
PY=${1:?usage: $0 PYTHON [WORKDIR]}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${2:-$(mktemp -d)}
H="$ROOT/target/release/hebb"
cd "$WORK"
for n in 100 500 1000; do
    for a in 0.05 0.10 0.14 0.20; do
        p=$(awk "BEGIN { print int($n * $a) }")
        name="n${n}_a${a}"
        printf 'preset = "hopfield-random"\nseed = 11\n[task]\nneurons = %s\npatterns = %s\nnoise = [0.1]\n[rule]\nkind = "hebbian"\nmean = "global"\n[recall]\nupdate = "sync"\ntie = "zero"\nmax_sweeps = 20\n' "$n" "$p" > "$name.toml"
        "$H" train -c "$name.toml" -o . -n "$name" --overwrite --no-progress --no-tensorboard > /dev/null
        "$H" predict "$name" --noise 0 --out "$name.pat.csv" > /dev/null
        for f in 0.1 0.25; do
            "$H" predict "$name" --noise "$f" --seed 5 --out "$name.f$f.csv" > /dev/null
        done
    done
done
JAX_PLATFORMS=cpu "$PY" "$ROOT/scripts/canns-hopfield-same-cues.py"
echo "results: $WORK/canns_same.json"
