# Recall in CANNs 1.5.0 on exactly hebb's stored patterns and cues (read from hebb's trajectory
# CSVs in the working folder, written by scripts/canns-hopfield-same-cues.sh), with CANNs'
# defaults: HebbianTrainer (global mean, zero diagonal, 1/P), AmariHopfieldNetwork (synchronous,
# sign, theta 0), 20 model.update() calls per cue.
import csv
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")
t0 = time.time()
import brainstate as bs  # noqa: E402
from canns.models.brain_inspired import AmariHopfieldNetwork  # noqa: E402
from canns.trainer import HebbianTrainer  # noqa: E402

print("import", round(time.time() - t0, 1), "s", file=sys.stderr)


def states(path):
    """Each cue's states in order: the cue first, then one per sweep."""
    cues = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            s = np.array(
                [1.0 if ch == "+" else (-1.0 if ch == "-" else 0.0) for ch in row["state"]],
                dtype=np.float32,
            )
            cues.setdefault(int(row["cue"]), []).append(s)
    return cues


out = []
for n in (100, 500, 1000):
    for a in ("0.05", "0.10", "0.14", "0.20"):
        name = f"n{n}_a{a}"
        pats = states(f"{name}.pat.csv")
        P = len(pats)
        X = np.stack([pats[i][0] for i in range(P)])
        model = AmariHopfieldNetwork(num_neurons=n)
        HebbianTrainer(model).train([x for x in X])
        for f in ("0.1", "0.25"):
            traj = states(f"{name}.f{f}.csv")
            ov_c, ov_h, perfect_c, perfect_h, same = [], [], 0, 0, 0
            for i in range(P):
                cue, hebb_final = traj[i][0], traj[i][-1]
                model.s.value = bs.random.randn(n) * 0 + cue
                for _ in range(20):
                    model.update(None)
                s = np.asarray(model.s.value)
                oc, oh = float(s @ X[i]) / n, float(hebb_final @ X[i]) / n
                ov_c.append(oc)
                ov_h.append(oh)
                perfect_c += oc >= 1 - 1e-9
                perfect_h += oh >= 1 - 1e-9
                same += bool(np.array_equal(np.sign(s), hebb_final))
            out.append(dict(n=n, alpha=float(a), P=P, noise=float(f),
                            canns_overlap=float(np.mean(ov_c)), hebb_overlap=float(np.mean(ov_h)),
                            canns_perfect=perfect_c / P, hebb_perfect=perfect_h / P,
                            same_final=same / P))
            print(json.dumps(out[-1]), flush=True)
json.dump(out, open("canns_same.json", "w"), indent=1)
print("total", round(time.time() - t0, 1), "s", file=sys.stderr)
