"""Issue #32: every checkpoint experiments/train_state_grid.sh wrote (runs/state_grid/NAME.h5),
scored by `qs4dsim eval` on the 2,000 sMNIST test digits (recurrent mode on the trained grid),
with what the training stored (/meta: PyTorch test accuracy, dead-mode share per layer, seconds)
and `qs4dsim info`'s memory ratio against float32, grouped by configuration (x bits, weight
profile) with the mean and the 95% t-interval over training seeds. Writes
experiments/results/smnist_state_grid.json. Rerunning re-scores every checkpoint (about 8 s each).

    /usr/bin/python3 experiments/summarize_state_grid.py [runs/state_grid [RESULTS_DIR]]
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin", "qs4dsim")
DATA = os.path.join(ROOT, "data", "datasets", "mnist_784_test.h5")
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student's t(0.975, df)
NAME = re.compile(r"^(?:(het|het_b8)_)?x(\d+)_(mode|channel|layer)_(lsq|max|percentile)_seed(\d+)\.h5$")


def score(path):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "e.json")
        subprocess.run([BIN, "eval", path, "--data", DATA, "--json", out], check=True, capture_output=True)
        report = json.load(open(out))
    info = subprocess.run([BIN, "info", path], check=True, capture_output=True, text=True).stdout
    ratio = re.search(r"the same in float32: \d+ bytes, ([\d.]+)x this", info)
    with h5py.File(path) as f:
        meta = dict(f["meta"].attrs)
    return {"qs4dsim_eval": report["accuracy"], "state_bits": report["state_bits"],
            "pytorch_test": float(meta["test_accuracy"]), "seed": int(meta["seed"]),
            "dead_mode_share": json.loads(meta["x_dead_mode_share"]) if isinstance(meta.get("x_dead_mode_share"), str)
            else [float(v) for v in meta.get("x_dead_mode_share", [])],
            "train_seconds": float(meta["train_seconds"]),
            "memory_ratio_vs_float32": float(ratio.group(1)) if ratio else None,
            "run": report["run"]}


def summary(values):
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "n": n, "ci95": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    h = T975.get(n - 1, 1.96) * sd / math.sqrt(n)
    return {"mean": mean, "n": n, "std": sd, "ci95": [mean - h, mean + h]}


def verdict(ci95, better="better", worse="worse"):
    """RESULTS' rule: better or worse only where the 95% interval of a difference excludes 0."""
    if ci95 is None:
        return "one value: no interval"
    return better if ci95[0] > 0 else worse if ci95[1] < 0 else "within the spread"


def main(argv):
    runs = argv[0] if argv else os.path.join(ROOT, "runs", "state_grid")
    groups = {}
    for name in sorted(os.listdir(runs)):
        m = NAME.match(name)
        if not m:
            continue
        profile, bits, gran, scale, _ = m.groups()
        key = f"{profile or 'all8'} x{bits} {gran} {scale}"
        row = score(os.path.join(runs, name))
        row["checkpoint"] = name
        groups.setdefault(key, []).append(row)
        print(f"{key:28s} seed {row['seed']}: {100 * row['qs4dsim_eval']:.2f}% (PyTorch {100 * row['pytorch_test']:.2f}%), "
              f"{row['memory_ratio_vs_float32']}x less memory", flush=True)
    out = {"what": __doc__.strip().splitlines()[0], "test_data": DATA, "groups": {}}
    for key, rows in groups.items():
        out["groups"][key] = {"seeds": rows, "qs4dsim_eval": summary([r["qs4dsim_eval"] for r in rows])}
    results = argv[1] if len(argv) > 1 else os.path.join(ROOT, "experiments", "results")
    path = os.path.join(results, "smnist_state_grid.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
