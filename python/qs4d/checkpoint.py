"""Checkpoint format v1 (HDF5): writer and reader for the PyTorch side.

Layout (docs/formats.md, "Checkpoint", is the authority):
  root attributes  format_version=1, d_input, d_output, d_model, d_state, n_layers, prenorm (0/1),
                   norm ("layer"|"batch"), norm_eps
  /state_dict/<name>   every tensor of S4Model.state_dict(), under its own name
  /quant/<name>        optional, one group per quantized tensor (attributes bits, symmetric, axis;
                       datasets codes, scale, optional zero_point)
  /meta                optional, attributes describing task, dataset, accuracy, training config
"""

from __future__ import annotations

import json
import os
import tempfile

import h5py
import numpy as np
import torch

from .model import S4Model

FORMAT_VERSION = 1


def _write_attrs(group, attrs: dict):
    for key, value in attrs.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        group.attrs[key] = value


def save(model: S4Model, path: str, quant: dict | None = None, meta: dict | None = None,
         state_dict: dict | None = None, state_quant: dict | None = None):
    """Writes `model` (or an explicit state_dict with model's config) atomically to `path`.

    quant maps a tensor name to {"bits", "symmetric", "axis", "codes", "scale"[, "zero_point"]};
    state_quant maps "s4_layers.{i}.x" to {"bits", "granularity", "calibration", "step"}, the
    grid each layer's state was trained on (docs/model.md, "The state on a grid").
    """
    sd = state_dict if state_dict is not None else model.state_dict()
    config = model.config()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            for key in ("d_input", "d_output", "d_model", "d_state", "n_layers", "prenorm"):
                f.attrs[key] = np.int64(config[key])
            f.attrs["norm"] = config["norm"]
            f.attrs["norm_eps"] = np.float64(config["norm_eps"])
            g = f.create_group("state_dict")
            for name, tensor in sd.items():
                arr = tensor.detach().cpu().numpy()
                if arr.dtype.kind == "f":
                    arr = arr.astype(np.float32)
                g.create_dataset(name, data=arr)
            if quant:
                q = f.create_group("quant")
                for name, spec in quant.items():
                    qg = q.create_group(name)
                    qg.attrs["bits"] = np.int64(spec["bits"])
                    qg.attrs["symmetric"] = np.int64(1 if spec.get("symmetric", True) else 0)
                    qg.attrs["axis"] = np.int64(spec.get("axis", -1))
                    qg.create_dataset("codes", data=np.asarray(spec["codes"], dtype=np.int32))
                    qg.create_dataset("scale", data=np.asarray(spec["scale"], dtype=np.float32))
                    if "zero_point" in spec:
                        qg.create_dataset("zero_point",
                                          data=np.asarray(spec["zero_point"], dtype=np.int32))
            if state_quant:
                q = f.create_group("state_quant")
                for name, spec in state_quant.items():
                    qg = q.create_group(name)
                    qg.attrs["bits"] = np.int64(spec["bits"])
                    qg.attrs["granularity"] = spec["granularity"]
                    qg.attrs["calibration"] = spec["calibration"]
                    qg.create_dataset("step", data=np.asarray(spec["step"], dtype=np.float32))
            if meta:
                _write_attrs(f.create_group("meta"), meta)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str, dropout: float = 0.0, **model_kwargs) -> S4Model:
    """Builds an S4Model from a v1 checkpoint (eval mode; dropout applies when trained on)."""
    with h5py.File(path, "r") as f:
        version = int(f.attrs["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: format_version {version}, expected {FORMAT_VERSION}")
        norm = f.attrs["norm"]
        norm = norm.decode() if isinstance(norm, bytes) else str(norm)
        model = S4Model(d_input=int(f.attrs["d_input"]), d_output=int(f.attrs["d_output"]),
                        d_model=int(f.attrs["d_model"]), n_layers=int(f.attrs["n_layers"]),
                        d_state=int(f.attrs["d_state"]), prenorm=bool(f.attrs["prenorm"]),
                        norm=norm, norm_eps=float(f.attrs["norm_eps"]), dropout=dropout,
                        **model_kwargs)
        sd = {name: torch.from_numpy(np.asarray(ds[()])) for name, ds in f["state_dict"].items()}
    model.load_state_dict(sd)
    return model.eval()
