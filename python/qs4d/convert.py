"""Converts a checkpoint of the state-spaces S4D example (`example.py` saves
{'model': state_dict, 'acc': ..., 'epoch': ...} with torch.save) into checkpoint format v1.

The architecture is read off the tensor shapes; what the shapes cannot tell (pre- or post-norm,
the norm's epsilon) comes from the flags, with example.py's defaults, and is checked where it can
be: a batch-norm model's first running mean tells pre-norm (it is then an affine image of the
encoder, E[norm input] = W E[u] + b) from post-norm; with --data, both arrangements are run on a
few samples and a flag that is clearly the worse of the two is refused. A state_dict saved from
nn.DataParallel (every name prefixed with 'module.') is accepted with the prefix stripped.

    /usr/bin/python3 -m qs4d.convert --in ckpt.pth --out model.h5 [--prenorm] [--data test.h5]
"""

from __future__ import annotations

import argparse
import os
import re

import h5py
import numpy as np
import torch

from . import checkpoint, cli
from .model import S4Model

PREFIX = "module."


def state_dict_of(payload, notes: list | None = None) -> dict:
    """The model's state_dict from a torch.save payload; DataParallel's prefix stripped."""
    sd = payload["model"] if isinstance(payload, dict) and "model" in payload else payload
    if not isinstance(sd, dict) or not sd:
        raise ValueError("not a state-spaces S4D example checkpoint: no 'model' state_dict")
    if all(isinstance(k, str) and k.startswith(PREFIX) for k in sd):
        sd = {k[len(PREFIX):]: v for k, v in sd.items()}
        if notes is not None:
            notes.append(f"stripped nn.DataParallel's '{PREFIX}' prefix from {len(sd)} names")
    if "encoder.weight" not in sd:
        some = ", ".join(list(sd)[:3])
        raise ValueError(f"not a state-spaces S4D example checkpoint: no 'encoder.weight' among its "
                         f"{len(sd)} tensors (first: {some})")
    return sd


def _build(sd: dict, prenorm: bool, norm_eps: float) -> S4Model:
    layers = {int(m.group(1)) for k in sd if (m := re.match(r"s4_layers\.(\d+)\.", k))}
    d_model, d_input = sd["encoder.weight"].shape
    norm = "batch" if "norms.0.running_mean" in sd else "layer"
    model = S4Model(d_input=d_input, d_output=sd["decoder.weight"].shape[0], d_model=d_model,
                    n_layers=len(layers), dropout=0.0, prenorm=prenorm,
                    d_state=2 * sd["s4_layers.0.kernel.C"].shape[1], norm=norm,
                    norm_eps=norm_eps)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        def few(names):
            return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts = ([f"missing {few(missing)}"] if missing else []) + \
                ([f"unexpected {few(unexpected)}"] if unexpected else [])
        raise ValueError("the state_dict does not match the S4D example model: " + "; ".join(parts))
    return model.eval()


def from_state_spaces(payload, prenorm: bool = False, norm_eps: float = 1e-5) -> S4Model:
    return _build(state_dict_of(payload), prenorm, norm_eps)


def batchnorm_says_prenorm(sd: dict) -> bool | None:
    """For a batch-norm model, whether the first norm's running mean is an affine image of the
    encoder (pre-norm: the norm sees the encoder's output) to within 5%; None for layer norm."""
    if "norms.0.running_mean" not in sd:
        return None
    w = sd["encoder.weight"].double().numpy()          # (H, d_input)
    b = sd["encoder.bias"].double().numpy()
    target = sd["norms.0.running_mean"].double().numpy() - b
    if w.shape[0] <= w.shape[1] + 2 or np.linalg.norm(target) == 0:
        return None  # too few channels to tell
    m, *_ = np.linalg.lstsq(w, target, rcond=None)
    residual = np.linalg.norm(target - w @ m) / np.linalg.norm(target)
    return bool(residual < 0.05)


def accuracy_both_ways(sd: dict, norm_eps: float, data_path: str, samples: int) -> dict:
    """Accuracy on the first `samples` samples of a dataset file with pre- and post-norm."""
    with h5py.File(data_path, "r") as f:
        if "x" not in f or "y" not in f:
            raise ValueError(f"{data_path}: expected datasets /x and /y (docs/formats.md)")
        x = torch.from_numpy(np.asarray(f["x"][:samples], dtype=np.float32))
        y = torch.from_numpy(np.asarray(f["y"][:samples], dtype=np.int64))
    out = {}
    for prenorm in (False, True):
        model = _build(sd, prenorm, norm_eps)
        if x.shape[-1] != model.d_input:
            raise ValueError(f"{data_path}: /x has d_input {x.shape[-1]}, the model expects {model.d_input}")
        with torch.no_grad():
            out[prenorm] = float((model(x).argmax(-1) == y).float().mean())
    return out


def check_norm_placement(sd: dict, prenorm: bool, norm_eps: float, data_path: str | None,
                         samples: int, notes: list) -> None:
    """Refuses a --prenorm flag that the model's statistics or its accuracy contradict."""
    flag = "--prenorm" if prenorm else "no --prenorm"
    said = batchnorm_says_prenorm(sd)
    if said is not None and said != prenorm:
        kind = "pre-norm" if said else "post-norm"
        raise ValueError(f"converted with {flag}, but the first batch norm's running mean says the model is "
                         f"{kind}; convert {'with' if said else 'without'} --prenorm")
    if data_path:
        acc = accuracy_both_ways(sd, norm_eps, data_path, samples)
        if acc[not prenorm] > acc[prenorm] + 0.10:
            raise ValueError(f"converted with {flag}: {100 * acc[prenorm]:.1f}% on the first {samples} samples of "
                             f"{data_path}, but {100 * acc[not prenorm]:.1f}% "
                             f"{'without' if prenorm else 'with'} --prenorm; convert with the other setting")
        notes.append(f"norm placement checked on {samples} samples of {data_path}: {100 * acc[prenorm]:.1f}% "
                     f"({100 * acc[not prenorm]:.1f}% the other way)")
    elif said is None:
        notes.append("a layer-norm model's norm placement cannot be read off its weights: if it was trained "
                     "with --prenorm, pass --prenorm (add --data TEST.h5 to have it checked)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--prenorm", action="store_true", help="the model was trained with --prenorm")
    p.add_argument("--norm-eps", type=float, default=1e-5)
    p.add_argument("--data", help="a dataset file (HDF5 /x, /y) to check the norm placement on")
    p.add_argument("--samples", type=int, default=256, help="samples of --data used for the check")
    args = p.parse_args(argv)
    try:
        payload = torch.load(args.src, map_location="cpu")
    except FileNotFoundError:
        raise ValueError(f"{args.src}: no such file") from None
    except Exception as e:  # torch raises pickle, zip and runtime errors alike
        raise ValueError(f"{args.src}: not a PyTorch checkpoint ({type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    notes = []
    sd = state_dict_of(payload, notes)
    model = _build(sd, args.prenorm, args.norm_eps)
    check_norm_placement(sd, args.prenorm, args.norm_eps, args.data, args.samples, notes)
    meta = {"converted_from": os.path.basename(args.src)}  # no machine paths in a checkpoint
    if isinstance(payload, dict):
        for k in ("acc", "epoch"):
            if k in payload:
                meta[k] = float(payload[k])
    checkpoint.save(model, args.out, meta=meta)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {args.out}: H={model.d_model} N={model.d_state} layers={model.n_layers} "
          f"{'pre' if model.prenorm else 'post'}-norm ({model.norm} norm)")


if __name__ == "__main__":
    cli.run(main, "qs4d.convert")
