"""Converts a checkpoint of the state-spaces S4D example (`example.py` saves
{'model': state_dict, 'acc': ..., 'epoch': ...} with torch.save) into checkpoint format v1.

The architecture is read off the tensor shapes; what the shapes cannot tell (pre- or post-norm,
the norm's epsilon) comes from the flags, with example.py's defaults.

    /usr/bin/python3 -m qs4d.convert --in ckpt.pth --out model.h5 [--prenorm]
"""

from __future__ import annotations

import argparse
import re

import torch

from . import checkpoint
from .model import S4Model


def from_state_spaces(payload, prenorm: bool = False, norm_eps: float = 1e-5) -> S4Model:
    sd = payload["model"] if isinstance(payload, dict) and "model" in payload else payload
    if not isinstance(sd, dict) or "encoder.weight" not in sd:
        raise ValueError("not a state-spaces S4D example checkpoint: no 'model' state_dict with "
                         "'encoder.weight'")
    layers = {int(m.group(1)) for k in sd if (m := re.match(r"s4_layers\.(\d+)\.", k))}
    d_model, d_input = sd["encoder.weight"].shape
    norm = "batch" if "norms.0.running_mean" in sd else "layer"
    model = S4Model(d_input=d_input, d_output=sd["decoder.weight"].shape[0], d_model=d_model,
                    n_layers=len(layers), dropout=0.0, prenorm=prenorm,
                    d_state=2 * sd["s4_layers.0.kernel.C"].shape[1], norm=norm,
                    norm_eps=norm_eps)
    model.load_state_dict(sd)  # strict: unknown or missing names are errors
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--prenorm", action="store_true", help="the model was trained with --prenorm")
    p.add_argument("--norm-eps", type=float, default=1e-5)
    args = p.parse_args(argv)
    payload = torch.load(args.src, map_location="cpu")
    model = from_state_spaces(payload, args.prenorm, args.norm_eps)
    meta = {"converted_from": args.src}
    if isinstance(payload, dict):
        for k in ("acc", "epoch"):
            if k in payload:
                meta[k] = float(payload[k])
    checkpoint.save(model, args.out, meta=meta)
    print(f"wrote {args.out}: H={model.d_model} N={model.d_state} layers={model.n_layers}")


if __name__ == "__main__":
    main()
