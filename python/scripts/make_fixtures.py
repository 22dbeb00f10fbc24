#!/usr/bin/env python3
"""Writes the test fixtures the C++ tests read (seeded, so every run writes the same files).

  OUT/models/*.h5        small checkpoints with parameters perturbed away from initialisation
  OUT/models/*_io.h5     /x inputs and /logits from the PyTorch model, in float64
  OUT/broken/*.h5        one broken file per failure mode of the loaders
  OUT/manifest.json      what each file is and what the C++ side must find

    /usr/bin/python3 python/scripts/make_fixtures.py --out build/fixtures
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from qs4d import checkpoint  # noqa: E402
from qs4d.model import S4Model  # noqa: E402
from qs4d.quant import QATModel, QuantConfig  # noqa: E402

SEED = 20261128


def perturbed_model(d_input, norm, prenorm, d_model=8, d_state=8, n_layers=2, d_output=5,
                    seed=0):
    """A model whose every parameter differs from its initial value, so no term is trivial."""
    torch.manual_seed(seed)
    model = S4Model(d_input=d_input, d_output=d_output, d_model=d_model, n_layers=n_layers,
                    dropout=0.0, prenorm=prenorm, d_state=d_state, norm=norm)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("log_dt"):
                p.add_(0.3 * torch.randn_like(p))
            elif name.endswith("log_A_real"):
                p.add_(0.4 * torch.randn_like(p))
            elif name.endswith("A_imag"):
                p.add_(0.5 * torch.randn_like(p))
            elif name.startswith("norms") and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.add_(0.2 * torch.randn_like(p))
        if norm == "batch":
            for bn in model.norms:
                bn.running_mean.copy_(0.3 * torch.randn_like(bn.running_mean))
                bn.running_var.copy_(torch.exp(0.4 * torch.randn_like(bn.running_var)))
                bn.num_batches_tracked.fill_(123)
    return model.eval()


def reference_logits(model, x, recurrent=False):
    """Logits of the PyTorch model evaluated in float64 (the most exact reference we have)."""
    m64 = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return m64(torch.from_numpy(x).double(), recurrent=recurrent).numpy()


def write_io(path, x, logits):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x.astype(np.float32))
        f.create_dataset("logits", data=logits)


def make_models(out, manifest):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases = []
    seed = 1
    for norm in ("layer", "batch"):
        for prenorm in (False, True):
            for d_input in (1, 3):
                name = f"{norm}_{'pre' if prenorm else 'post'}_din{d_input}"
                model = perturbed_model(d_input, norm, prenorm, seed=seed)
                seed += 1
                ckpt = os.path.join(out, name + ".h5")
                checkpoint.save(model, ckpt, meta={"task": "fixture", "seed": seed})
                if prenorm:  # h5py writes str as variable-length; numpy bytes as fixed-length
                    with h5py.File(ckpt, "r+") as f:
                        f.attrs["norm"] = np.bytes_(norm)
                x = rng.uniform(-1, 1, size=(4, 37, d_input)).astype(np.float32)
                logits = reference_logits(model, x)
                io = os.path.join(out, name + "_io.h5")
                write_io(io, x, logits)
                cases.append({"name": name, "checkpoint": ckpt, "io": io})
    # Long sequence for FFT vs recurrent agreement, with a wider model.
    model = perturbed_model(2, "layer", True, d_model=16, d_state=16, n_layers=2, seed=99)
    ckpt = os.path.join(out, "long_L1024.h5")
    checkpoint.save(model, ckpt)
    x = rng.uniform(-1, 1, size=(3, 1024, 2)).astype(np.float32)
    io = os.path.join(out, "long_L1024_io.h5")
    write_io(io, x, reference_logits(model, x))
    manifest["models"] = cases
    manifest["long"] = {"checkpoint": ckpt, "io": io}


def quantize_sym(values, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = max(float(np.abs(values).max()), 1e-8) / qmax
    codes = np.clip(np.round(values / scale), -qmax, qmax).astype(np.int32)
    return codes, np.float32(scale)


def make_quantized(out, manifest):
    """A checkpoint whose encoder/decoder and discrete SSM come from /quant."""
    model = perturbed_model(1, "layer", False, seed=7)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    quant = {}
    for name in ("encoder.weight", "decoder.weight", "s4_layers.0.output_linear.0.weight"):
        codes, scale = quantize_sym(sd[name].numpy(), 4)
        quant[name] = {"bits": 4, "symmetric": True, "axis": -1, "codes": codes, "scale": scale}
        sd[name] = torch.from_numpy(codes.astype(np.float32) * scale)
    layer = model.s4_layers[1].kernel
    with torch.no_grad():
        a_bar, b_bar, _ = layer.discrete()
    for key, value in (("Abar", a_bar), ("Bbar", b_bar)):
        codes, scale = quantize_sym(torch.view_as_real(value).numpy(), 8)
        quant[f"s4_layers.1.kernel.{key}"] = {"bits": 8, "symmetric": True, "axis": -1,
                                              "codes": codes, "scale": scale}
    ckpt = os.path.join(out, "quantized.h5")
    checkpoint.save(model, ckpt, quant=quant, state_dict=sd)
    manifest["quantized"] = {"checkpoint": ckpt}
    # Fully ternary (QAT quantizers, every crossbar tensor at 2 bits).
    qat = QATModel(perturbed_model(2, "layer", True, seed=11), QuantConfig.uniform(2))
    sd, quant = qat.export_tensors()
    ckpt = os.path.join(out, "ternary.h5")
    checkpoint.save(qat.model, ckpt, quant=quant, state_dict=sd)
    manifest["ternary"] = {"checkpoint": ckpt}


def edit_copy(src, dst, fn):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)


def make_broken(out, good, manifest):
    os.makedirs(out, exist_ok=True)
    cases = []

    def case(name, kind, contains, fn=None, writer=None):
        path = os.path.join(out, name + ".h5")
        if writer is not None:
            writer(path)
        else:
            edit_copy(good, path, fn)
        cases.append({"file": path, "kind": kind, "contains": contains, "loader": "checkpoint"})

    def not_hdf5(path):
        with open(path, "w") as f:
            f.write("this is a text file, not a checkpoint\n")

    def truncated(path):
        with open(good, "rb") as f:
            raw = f.read()
        with open(path, "wb") as f:
            f.write(raw[: len(raw) // 2])

    sd = "state_dict"
    case("not_hdf5", "unreadable", "not an HDF5 file", writer=not_hdf5)
    case("truncated", "unreadable", "truncated", writer=truncated)
    case("missing_version", "missing", "format_version",
         lambda f: f.attrs.__delitem__("format_version"))
    case("version_2", "unsupported version", "expected 1",
         lambda f: f.attrs.__setitem__("format_version", np.int64(2)))
    case("missing_state_dict", "missing", "/state_dict", lambda f: f.__delitem__(sd))
    case("missing_tensor", "missing", "decoder.bias", lambda f: f[sd].__delitem__("decoder.bias"))
    case("unknown_tensor", "unknown tensor", "s4_layers.0.kernel.B",
         lambda f: f[sd].create_dataset("s4_layers.0.kernel.B", data=np.zeros(8, np.float32)))

    def wrong_shape(f):
        del f[sd]["encoder.weight"]
        f[sd].create_dataset("encoder.weight", data=np.zeros((8, 2), np.float32))
    case("wrong_shape", "wrong shape", "shape (8, 2), expected (8, 1)", wrong_shape)

    def wrong_rank(f):
        del f[sd]["s4_layers.0.output_linear.0.weight"]
        f[sd].create_dataset("s4_layers.0.output_linear.0.weight", data=np.zeros((16, 8), np.float32))
    case("wrong_rank", "wrong rank", "expected rank 3", wrong_rank)

    def wrong_dtype(f):
        del f[sd]["decoder.weight"]
        f[sd].create_dataset("decoder.weight", data=np.zeros((5, 8), np.int32))
    case("wrong_dtype", "wrong type", "expected float32", wrong_dtype)

    def nan_weights(f):
        d = f[sd]["s4_layers.0.D"]
        v = d[()]
        v[3] = np.nan
        d[...] = v
    case("nan_weights", "non-finite value", "element 3 is nan", nan_weights)

    def inf_weights(f):
        d = f[sd]["encoder.bias"]
        v = d[()]
        v[0] = np.inf
        d[...] = v
    case("inf_weights", "non-finite value", "element 0 is inf", inf_weights)
    case("odd_d_state", "bad value", "expected an even number",
         lambda f: f.attrs.__setitem__("d_state", np.int64(7)))
    case("absurd_size", "absurd size", "refusing to allocate",
         lambda f: f.attrs.__setitem__("d_model", np.int64(1_000_000)))
    case("absurd_dim", "absurd size", "refusing to allocate",
         lambda f: f.attrs.__setitem__("d_input", np.int64(10 ** 12)))
    case("zero_layers", "bad value", "expected a positive size",
         lambda f: f.attrs.__setitem__("n_layers", np.int64(0)))
    case("bad_norm", "bad value", "expected \"layer\" or \"batch\"",
         lambda f: f.attrs.__setitem__("norm", "group"))
    case("string_size", "wrong type", "expected an integer",
         lambda f: f.attrs.__setitem__("d_model", "eight"))

    def huge_tensor(f):
        del f[sd]["encoder.weight"]
        f[sd].create_dataset("encoder.weight", shape=(10 ** 6, 10 ** 6), dtype=np.float32,
                             chunks=(64, 64))
    case("huge_tensor", "wrong shape", "expected (8, 1)", huge_tensor)

    def bad_code(f):
        g = f.create_group("quant/encoder.weight")
        g.attrs["bits"] = np.int64(2)
        g.attrs["symmetric"] = np.int64(1)
        g.attrs["axis"] = np.int64(-1)
        g.create_dataset("codes", data=np.full((8, 1), 5, np.int32))
        g.create_dataset("scale", data=np.float32(0.1))
    case("quant_bad_code", "bad value", "expected -1..1", bad_code)

    def unpaired(f):
        g = f.create_group("quant/s4_layers.0.kernel.Abar")
        g.attrs["bits"] = np.int64(8)
        g.attrs["symmetric"] = np.int64(1)
        g.attrs["axis"] = np.int64(-1)
        g.create_dataset("codes", data=np.zeros((8, 4, 2), np.int32))
        g.create_dataset("scale", data=np.float32(0.01))
    case("quant_unpaired", "missing", "kernel.Bbar", unpaired)

    # Dataset files.
    def dataset_case(name, kind, contains, build):
        path = os.path.join(out, name + ".h5")
        with h5py.File(path, "w") as f:
            f.attrs["name"] = name
            f.attrs["n_classes"] = np.int64(10)
            f.attrs["source"] = "make_fixtures.py"
            build(f)
        cases.append({"file": path, "kind": kind, "contains": contains, "loader": "dataset"})

    def ds_rank(f):
        f.create_dataset("x", data=np.zeros((4, 10), np.float32))
        f.create_dataset("y", data=np.zeros(4, np.int64))
    dataset_case("dataset_bad_rank", "wrong rank", "expected rank 3", ds_rank)

    def ds_nan(f):
        x = np.zeros((4, 10, 1), np.float32)
        x[2, 5, 0] = np.nan
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=np.zeros(4, np.int64))
    dataset_case("dataset_nan", "non-finite value", "sample 2 step 5", ds_nan)

    def ds_label(f):
        f.create_dataset("x", data=np.zeros((4, 10, 1), np.float32))
        f.create_dataset("y", data=np.array([0, 1, 12, 3], np.int64))
    dataset_case("dataset_bad_label", "bad value", "label 2 is 12", ds_label)

    def ds_absurd(f):
        f.create_dataset("x", shape=(10 ** 7, 10 ** 6, 1), dtype=np.float32, chunks=(1, 1024, 1))
        f.create_dataset("y", shape=(10 ** 7,), dtype=np.int64, chunks=(1024,))
    dataset_case("dataset_absurd", "absurd size", "refusing to allocate", ds_absurd)

    def ds_missing_y(f):
        f.create_dataset("x", data=np.zeros((4, 10, 1), np.float32))
    dataset_case("dataset_missing_y", "missing", "/y", ds_missing_y)

    manifest["broken"] = cases


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    manifest = {"seed": SEED}
    make_models(os.path.join(out, "models"), manifest)
    make_quantized(os.path.join(out, "models"), manifest)
    make_broken(os.path.join(out, "broken"), manifest["models"][0]["checkpoint"], manifest)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote fixtures to {out}")


if __name__ == "__main__":
    main()
