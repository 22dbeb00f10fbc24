"""qs4dsim quantize against an independent NumPy implementation of the same post-training
quantization (component by component, recurrent mode, float64)."""
import json
import math
import os
import subprocess

import h5py
import numpy as np
import pytest
import torch

from qs4d import checkpoint, data
from qs4d.model import S4Model

BIN = os.environ.get("QS4D_BIN")


def qmax(bits):
    return 2 ** (bits - 1) - 1


def quant(v, bits, scale=None):
    """Symmetric round-to-nearest; scale max|v|/qmax unless given (complex: over re and im)."""
    if np.iscomplexobj(v):
        peak = max(np.abs(v.real).max(), np.abs(v.imag).max())
        s = peak / qmax(bits) if scale is None else scale
        return quant(v.real, bits, s) + 1j * quant(v.imag, bits, s)
    s = np.abs(v).max() / qmax(bits) if scale is None else scale
    return np.clip(np.round(v / s), -qmax(bits), qmax(bits)) * s


def reference_logits(m, x, bits, state_scales=None, act_scales=None, peaks=None):
    """The model in float64, stepped through time, with the named components quantized; state_scales
    per layer may be one number or one per mode (H, M). `peaks` (a list), when given, receives each
    layer's per-mode largest |Re x|, |Im x|."""
    def q(name, v):
        return quant(v, bits[name]) if name in bits else v

    def act(slot, v):
        return quant(v, bits["act"], act_scales[slot]) if "act" in bits else v

    sd = {k: v.double().numpy() for k, v in m.state_dict().items()}
    h = act(0, x) @ q("encoder", sd["encoder.weight"]).T + sd["encoder.bias"]   # (B, L, H)
    for i, layer in enumerate(m.s4_layers):
        a, b, c = (t.detach().numpy().astype(np.complex128) for t in layer.kernel.discrete())
        a, b, c = q("abar", a), q("bbar", b), q("c", c)
        d = q("d", sd[f"s4_layers.{i}.D"])
        state = np.zeros((x.shape[0],) + a.shape, dtype=np.complex128)
        ys = []
        for t in range(x.shape[1]):
            state = a * state + b * h[:, t, :, None]
            if "x" in bits:
                state = quant(state, bits["x"], np.asarray(state_scales[i]))
            if peaks is not None:
                top = np.maximum(np.abs(state.real), np.abs(state.imag)).max(0)
                peak = top if t == 0 else np.maximum(peak, top)
            ys.append(2 * (c * state).sum(-1).real + d * h[:, t])
        if peaks is not None:
            peaks.append(peak)
        y = np.stack(ys, axis=1)
        y = 0.5 * y * (1 + np.vectorize(math.erf)(y / math.sqrt(2)))
        w = q("projections", sd[f"s4_layers.{i}.output_linear.0.weight"][:, :, 0])
        g = act(1 + i, y) @ w.T + sd[f"s4_layers.{i}.output_linear.0.bias"]
        H = g.shape[-1] // 2
        h = h + g[..., :H] / (1 + np.exp(-g[..., H:]))
        mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
        h = (h - mu) / np.sqrt(var + m.norm_eps) * sd[f"norms.{i}.weight"] + sd[f"norms.{i}.bias"]
    pooled = h.mean(1)
    return act(len(m.s4_layers) + 1, pooled) @ q("decoder", sd["decoder.weight"]).T + \
        sd["decoder.bias"]


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)")
@pytest.mark.parametrize("components", [
    "abar=4", "bbar=3,c=3,d=4", "encoder=4,projections=3,decoder=4", "x=6", "act=5",
    "all=6"])
def test_quantize_matches_numpy_reference(tmp_path, components):
    torch.manual_seed(5)
    m = S4Model(d_input=1, d_output=4, d_model=8, n_layers=2, d_state=8, dropout=0.0).eval()
    with torch.no_grad():  # slower modes than the default init, so the state matters
        for layer in m.s4_layers:
            layer.kernel.log_dt.uniform_(math.log(0.01), math.log(0.05))
    path = str(tmp_path / "m.h5")
    checkpoint.save(m, path)
    x = np.random.default_rng(2).uniform(0, 1, size=(80, 40, 1))
    bits = {}
    for item in components.split(","):
        name, b = item.split("=")
        names = ["encoder", "projections", "decoder", "abar", "bbar", "c", "d", "x", "act"]
        bits.update({n: int(b) for n in (names if name == "all" else [name])})
    data.write_dataset(str(tmp_path / "d_test.h5"), x.astype(np.float32), np.zeros(80), "d", 4, "t")
    # The static scales come from a calibration split of their own (found beside the data).
    calibration = np.random.default_rng(3).uniform(0, 1, size=(80, 40, 1)).astype(np.float32)
    data.write_dataset(str(tmp_path / "d_train.h5"), calibration, np.zeros(80), "d", 4, "t")
    out, logits_file = tmp_path / "q.json", str(tmp_path / "logits.h5")
    subprocess.run([BIN, "quantize", path, "--data", str(tmp_path / "d_test.h5"), "--components",
                    components, "--json", str(out), "--calibrate", "80", "--logits",
                    logits_file], check=True, capture_output=True)
    row = json.loads(out.read_text())["results"][1]
    # The calibrated static scales are qs4dsim's (from the JSON); all the rest is computed here.
    expected = reference_logits(m, x.astype(np.float32).astype(np.float64), bits,
                                row["state_scales"], row["activation_scales"])
    with h5py.File(logits_file) as f:
        got = f["logits"][()]
    # float32 against float64; a rounding that lands on the other side of a code boundary may
    # move one value by one step, so compare where it matters: the logits themselves, closely.
    assert np.abs(got - expected).max() < 2e-3 * max(1.0, np.abs(expected).max())
    assert np.median(np.abs(got - expected)) < 1e-5 * max(1.0, np.abs(expected).max())
    if "abar" in bits:
        a = np.concatenate([lay.kernel.discrete()[0].detach().numpy().ravel()
                            for lay in m.s4_layers])
        unstable = sum(int((np.abs(quant(lay.kernel.discrete()[0].detach().numpy()
                                             .astype(np.complex128), bits["abar"])) >= 1).sum())
                       for lay in m.s4_layers)
        assert row["unstable_modes"] == unstable and row["modes"] == a.size


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)")
@pytest.mark.parametrize("granularity", ["mode", "channel"])
def test_quantize_x_per_mode_matches_numpy(tmp_path, granularity):
    """--x-granularity: each mode's (or channel's) own step, its calibration peak / qmax, found here
    from the float model on the calibration samples and applied in the float64 reference."""
    torch.manual_seed(6)
    m = S4Model(d_input=1, d_output=4, d_model=8, n_layers=2, d_state=8, dropout=0.0).eval()
    with torch.no_grad():
        for layer in m.s4_layers:
            layer.kernel.log_dt.uniform_(math.log(0.01), math.log(0.05))
    path = str(tmp_path / "m.h5")
    checkpoint.save(m, path)
    x = np.random.default_rng(2).uniform(0, 1, size=(60, 40, 1)).astype(np.float32)
    calibration = np.random.default_rng(3).uniform(0, 1, size=(60, 40, 1)).astype(np.float32)
    data.write_dataset(str(tmp_path / "d_test.h5"), x, np.zeros(60), "d", 4, "t")
    data.write_dataset(str(tmp_path / "d_train.h5"), calibration, np.zeros(60), "d", 4, "t")
    logits_file, out = str(tmp_path / "logits.h5"), tmp_path / "q.json"
    subprocess.run([BIN, "quantize", path, "--data", str(tmp_path / "d_test.h5"), "--components", "x=5",
                    "--x-granularity", granularity, "--calibrate", "60", "--logits", logits_file,
                    "--json", str(out)], check=True, capture_output=True)
    peaks = []
    reference_logits(m, calibration.astype(np.float64), {}, peaks=peaks)
    if granularity == "channel":
        peaks = [np.repeat(p.max(1, keepdims=True), p.shape[1], axis=1) for p in peaks]
    steps = [p / qmax(5) for p in peaks]
    assert json.loads(out.read_text())["results"][1]["state_scales"] == pytest.approx([s.max() for s in steps], rel=1e-5)
    expected = reference_logits(m, x.astype(np.float64), {"x": 5}, steps)
    with h5py.File(logits_file) as f:
        got = f["logits"][()]
    assert np.median(np.abs(got - expected)) < 1e-5 * max(1.0, np.abs(expected).max())
    layer_wide = reference_logits(m, x.astype(np.float64), {"x": 5}, [s.max() for s in steps])
    assert np.abs(layer_wide - expected).max() > 10 * np.median(np.abs(got - expected))  # the test can tell


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)")
def test_quantize_rejects_unknown_components(tmp_path):
    m = S4Model(d_input=1, d_output=2, d_model=4, n_layers=1, d_state=4, dropout=0.0)
    checkpoint.save(m, str(tmp_path / "m.h5"))
    data.write_dataset(str(tmp_path / "d.h5"), np.zeros((2, 5, 1), np.float32), np.zeros(2), "d",
                       2, "t")
    r = subprocess.run([BIN, "quantize", str(tmp_path / "m.h5"), "--data",
                        str(tmp_path / "d.h5"), "--components", "state=8"], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "state=8" in r.stderr and "abar" in r.stderr


def test_a_qat_run_of_x_hands_its_trained_grid_to_quantize(tmp_path):
    from qs4d import train
    rng = np.random.default_rng(0)
    prefix = str(tmp_path / "tiny")
    for split, n in (("train", 32), ("val", 16), ("test", 16)):
        y = rng.integers(0, 3, n)
        x = (rng.normal(size=(n, 12, 1)) * 0.1 + y[:, None, None]).astype(np.float32)
        data.write_dataset(f"{prefix}_{split}.h5", x, y, "tiny", 3, "test")
    path = str(tmp_path / "x8.h5")
    train.main(["--data", prefix, "--d-model", "4", "--d-state", "4", "--n-layers", "2",
                "--batch", "16", "--threads", "1", "--out", path, "--work-dir", str(tmp_path / "w"),
                "--epochs", "1", "--x-bits", "8"])
    with h5py.File(path) as f:
        steps = [float(f[f"state_quant/s4_layers.{i}.x/step"][()]) for i in range(2)]
        assert f["state_quant/s4_layers.0.x"].attrs["granularity"] == "layer"
    assert min(steps) > 0
    out = tmp_path / "q.json"
    r = subprocess.run([BIN, "quantize", path, "--data", prefix + "_test.h5", "--components", "x=8",
                        "--json", str(out)], check=True, capture_output=True, text=True)
    assert "x's steps as trained" in r.stdout
    row = json.loads(out.read_text())["results"][1]
    assert row["state_scale_source"] == "trained"
    assert row["state_scales"] == pytest.approx(steps, rel=1e-6)
    # An older checkpoint's /meta x_ranges (one range per layer) still counts as trained; a
    # damaged one is refused by name.
    with h5py.File(path, "a") as f:
        del f["state_quant"]
        f["meta"].attrs["x_ranges"] = "[1.0, -2.0]"
    r = subprocess.run([BIN, "quantize", path, "--data", prefix + "_test.h5", "--components", "x=8"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "/meta attribute x_ranges" in r.stderr and "-2.0" in r.stderr
