"""Experiment 6: accuracy against the number of SSM modes and channels kept.

Prunes a checkpoint by magnitude (qs4d.prune) to each point of two lines, fewer modes at all
channels and fewer channels at all modes, without fine-tuning, and measures every pruned model
with `qs4dsim eval`. The shipped fine-tuned pruned model, when present, is added as a reference
row. Writes a CSV: modes, channels, parameters, accuracy, fine_tuned.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from qs4d import checkpoint  # noqa: E402
from qs4d.prune import prune  # noqa: E402


def evaluate(qs4dsim: str, ckpt: str, data: str, limit: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "eval.json")
        subprocess.run([qs4dsim, "eval", ckpt, "--data", data, "--limit", str(limit), "--json", out],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)["accuracy"]


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--qs4dsim", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--reference", default="data/checkpoints/fmnist196_s4d_h48_n32_l4_pruned_qat4.h5",
                   help="a fine-tuned pruned checkpoint to add as a reference row")
    args = p.parse_args(argv)
    model = checkpoint.load(args.checkpoint)
    H, M = model.d_model, model.d_state // 2
    points = sorted({(m, H) for m in (M, 3 * M // 4, M // 2, M // 4, M // 8, 1)} |
                    {(M, c) for c in (H, 7 * H // 8, 3 * H // 4, 5 * H // 8, H // 2, 3 * H // 8)},
                    reverse=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for modes, channels in points:
            small = prune(model, modes, channels)
            path = os.path.join(tmp, f"m{modes}_c{channels}.h5")
            checkpoint.save(small, path)
            acc = evaluate(args.qs4dsim, path, args.data, args.limit)
            rows.append(dict(modes=modes, channels=channels, parameters=parameters(small),
                             accuracy=acc, fine_tuned=0))
            print(f"modes {modes:3d} channels {channels:3d}: {acc:.4f}", flush=True)
    if args.reference and os.path.exists(args.reference):
        ref = checkpoint.load(args.reference)
        acc = evaluate(args.qs4dsim, args.reference, args.data, args.limit)
        rows.append(dict(modes=ref.d_state // 2, channels=ref.d_model, parameters=parameters(ref),
                         accuracy=acc, fine_tuned=1))
        print(f"fine-tuned reference {args.reference}: {acc:.4f}")
    tmp_out = args.out + ".tmp"
    with open(tmp_out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp_out, args.out)


if __name__ == "__main__":
    main()
