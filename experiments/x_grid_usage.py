"""How much of the S4D state a fixed-point grid for x keeps alive (RESULTS.md section 7).

With one static scale per layer, a mode whose increments Bbar u stay below half a grid step is
rounded to 0 at every step and never leaves it. For each layer this counts the modes (channel,
complex mode) whose state is 0 at every step of every given digit ("dead"), and the test
accuracy of the same forward, for a checkpoint with the grid's range either calibrated as
`qs4dsim quantize` does (largest |Re x|, |Im x| of the float state on --calibrate training
digits) or as trained (--state: the best epoch of a `qs4d.train --x-bits` run's state.pt).

    PYTHONPATH=build/bindings:python /usr/bin/python3 experiments/x_grid_usage.py \\
        data/checkpoints/smnist784_s4d_h64_n64_l4_fp32.h5 --bits 8 --data data/datasets/mnist_784
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from qs4d import checkpoint, state_scan
from qs4d.data import read_dataset
from qs4d.quant import QATModel, QuantConfig


def grid_model(path, bits, state, calibration):
    """The checkpoint with x on a `bits` grid, its range trained (state.pt) or calibrated."""
    model = QATModel(checkpoint.load(path), QuantConfig.uniform(0, x=bits))
    if state:
        best = torch.load(state, map_location="cpu", weights_only=False)["best_state"]
        model.load_state_dict(best)
    else:  # as qs4dsim quantize: the float state's peaks, every layer run in float
        model.calibrate_state(calibration)
    return model.eval()


def dead_modes(model, x, bits):
    """Per layer: the share of modes whose state is 0 at every step of every digit of x, and
    the logits."""
    shares = model.dead_mode_share(x)
    with torch.no_grad():
        logits = model(x)
    return shares, logits


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--bits", type=int, required=True)
    p.add_argument("--data", required=True, help="dataset prefix: PREFIX_train.h5, PREFIX_test.h5")
    p.add_argument("--state", help="a qs4d.train --x-bits run's state.pt: the trained ranges")
    p.add_argument("--limit", type=int, default=500, help="test digits")
    p.add_argument("--calibrate", type=int, default=256, help="training digits for the ranges")
    p.add_argument("--json", help="append the result as one JSON line")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not state_scan.available():
        sys.exit("needs the qs4dsim module: PYTHONPATH=build/bindings")
    xtr, _ = read_dataset(args.data + "_train.h5")
    xte, yte = read_dataset(args.data + "_test.h5")
    keep = np.linspace(0, len(xtr) - 1, min(args.calibrate, len(xtr))).round().astype(int)
    model = grid_model(args.checkpoint, args.bits, args.state,
                       torch.from_numpy(xtr[keep].astype(np.float32)))
    x = torch.from_numpy(xte[:args.limit].astype(np.float32))
    y = torch.from_numpy(yte[:args.limit].astype(np.int64))
    shares, logits = dead_modes(model, x, args.bits)
    weights = f"best epoch in {args.state}" if args.state else os.path.basename(args.checkpoint)
    result = {"weights": weights, "bits": args.bits,
              "range": "trained" if args.state else f"calibrated on {len(keep)} training digits",
              "digits": len(x), "accuracy": round(float((logits.argmax(1) == y).float().mean()), 4),
              "dead_mode_share_per_layer": [round(s, 4) for s in shares]}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
