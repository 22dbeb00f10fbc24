"""The state on a grid (docs/model.md): the trainer's scan and the simulator's recurrence give the
same codes on the same inputs and steps; an exported checkpoint runs in `qs4dsim eval` exactly as
trained and says so (state_bits); both sides calibrate on the same training rows.

Needs the Python module qs4dsim (PYTHONPATH=build/bindings) and, for the CLI checks, QS4D_BIN."""
import json
import math
import os
import subprocess

import h5py
import numpy as np
import pytest
import torch

from qs4d import checkpoint, data, state_scan
from qs4d.model import S4Model
from qs4d.quant import QATModel, QuantConfig, StateQuantizer

if not state_scan.available():  # pragma: no cover - depends on the build
    if os.environ.get("QS4D_REQUIRE_MODULE"):
        raise ImportError("qs4dsim not importable; set PYTHONPATH=build/bindings")
    pytest.skip("qs4dsim not built (PYTHONPATH=build/bindings)", allow_module_level=True)
import qs4dsim  # noqa: E402

BIN = os.environ.get("QS4D_BIN")


def _model(seed=3, H=6, N=8, layers=2):
    torch.manual_seed(seed)
    m = S4Model(d_input=1, d_output=3, d_model=H, n_layers=layers, d_state=N, dropout=0.0)
    with torch.no_grad():  # slow modes, so the state matters
        for layer in m.s4_layers:
            layer.kernel.log_dt.uniform_(math.log(0.01), math.log(0.05))
    return m


def _export(q, path, L):
    sd, quant = q.export_tensors()
    grid = {f"s4_layers.{i}.x": s.export(L) for i, s in enumerate(q.x_quant)}
    checkpoint.save(q.model, path, quant=quant, state_dict=sd, state_quant=grid)


@pytest.mark.parametrize("granularity,scale", [("mode", "lsq"), ("channel", "percentile"), ("layer", "max")])
def test_trainer_and_simulator_give_identical_codes(tmp_path, granularity, scale):
    """Every step, every mode, every layer: the codes the trainer's compiled scan keeps for its
    backward equal the codes the simulator's recurrence computes from the exported checkpoint."""
    L = 50
    q = QATModel(_model(), QuantConfig.uniform(8, x=5, x_granularity=granularity, x_scale=scale))
    x = torch.rand(8, L, 1)
    q.calibrate_state(x)
    if scale == "lsq":  # move the learned steps off their start
        with torch.no_grad():
            for s in q.x_quant:
                s.log_step.add_(torch.randn_like(s.log_step) * 0.2)
    path = str(tmp_path / "g.h5")
    _export(q, path, L)
    ckpt = qs4dsim.Checkpoint.load(path)
    z = torch.randn(4, 6, L) * 3
    for i, sq in enumerate(q.x_quant):
        a, b, c, d = q.discrete_ssm(i)
        buffer = state_scan.CodeBuffer()
        step = sq.step(L).detach().requires_grad_()  # a gradient asked for: the codes are kept
        state_scan.fixed_point_scan(a, b, c, d, z, step, sq.levels, buffer)
        trainer = buffer.codes.numpy()
        simulator = ckpt.state_codes(i, z.numpy())
        assert trainer.shape == simulator.shape == (4, 6, L, 2, 4)
        assert np.abs(trainer).max() >= 2  # a grid in use, not all zeros
        np.testing.assert_array_equal(trainer, simulator)


def test_exported_checkpoint_runs_as_trained(tmp_path):
    """The simulator's digital recurrent mode ("auto" picks it for a grid) gives the trainer's
    logits; conv mode keeps the state float and is further off."""
    L = 40
    q = QATModel(_model(5), QuantConfig.uniform(6, x=4, x_granularity="mode", x_scale="percentile",
                                                 x_percentile=99.0)).eval()
    x = torch.rand(16, L, 1)
    q.calibrate_state(x)
    path = str(tmp_path / "g.h5")
    _export(q, path, L)
    ckpt = qs4dsim.Checkpoint.load(path)
    with torch.no_grad():
        want = q(x).numpy()
    got = ckpt.predict(x.numpy())
    assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max())
    conv = ckpt.predict(x.numpy(), mode="conv")
    assert np.abs(conv - want).max() > 10 * np.abs(got - want).max()
    if BIN:
        data.write_dataset(str(tmp_path / "d_test.h5"), x.numpy(), np.zeros(16), "d", 3, "t")
        out = tmp_path / "e.json"
        subprocess.run([BIN, "eval", path, "--data", str(tmp_path / "d_test.h5"), "--json", str(out)],
                       check=True, capture_output=True)
        report = json.loads(out.read_text())
        assert report["mode"] == "recurrent" and report["state_bits"] == 4
        subprocess.run([BIN, "eval", path, "--data", str(tmp_path / "d_test.h5"), "--mode", "conv",
                        "--json", str(out)], check=True, capture_output=True)
        assert json.loads(out.read_text())["state_bits"] == 0


def test_a_damaged_grid_is_refused_by_name(tmp_path):
    q = QATModel(_model(), QuantConfig.uniform(8, x=8, x_granularity="channel"))
    q.calibrate_state(torch.rand(2, 20, 1))
    path = str(tmp_path / "g.h5")
    _export(q, path, 20)
    for where, damage, words in (
            ("s4_layers.0.x/step", lambda g: g.__setitem__("step", np.zeros(5, np.float32)), r"shape \(5,\), expected \(6,\)"),
            ("s4_layers.1.x", lambda g: g.attrs.__setitem__("granularity", "row"), "granularity"),
            ("s4_layers.1.x", lambda g: g.attrs.__setitem__("bits", 40), "2..16")):
        bad = str(tmp_path / "bad.h5")
        with open(path, "rb") as src, open(bad, "wb") as dst:
            dst.write(src.read())
        with h5py.File(bad, "a") as f:
            g = f["state_quant/" + where.split("/")[0]]
            if where.endswith("/step"):
                del g["step"]
            damage(g)
        with pytest.raises(ValueError, match=words):
            qs4dsim.Checkpoint.load(bad)


def test_dead_modes_counted_per_layer():
    """A mode whose state never leaves half a step of 0 is dead: a per-layer step far above the
    state switches every mode off, per-mode steps at the percentile keep them."""
    L = 30
    x = torch.rand(8, L, 1)
    coarse = QATModel(_model(), QuantConfig.uniform(0, x=8))
    coarse.calibrate_state(x)
    with torch.no_grad():
        for s in coarse.x_quant:
            s.range.mul_(1e6)
    assert coarse.dead_mode_share(x) == [1.0, 1.0]
    fine = QATModel(_model(), QuantConfig.uniform(0, x=8, x_granularity="mode", x_scale="percentile"))
    fine.calibrate_state(x)
    assert max(fine.dead_mode_share(x)) < 0.1


def test_calibration_rows_are_quantize_rule():
    """The trainer calibrates its grid on the training rows floor(i n / k), the rows `qs4dsim
    quantize` takes for its static scales: on a float model both find the same per-layer range."""
    from qs4d.train import calibration_rows
    assert calibration_rows(10, 4).tolist() == [0, 2, 5, 7]
    if not BIN:
        pytest.skip("QS4D_BIN not set")


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)")
def test_trainer_and_quantize_calibrate_on_the_same_samples(tmp_path):
    from qs4d.train import calibration_rows
    m = _model(7).eval()
    path = str(tmp_path / "m.h5")
    checkpoint.save(m, path)
    rng = np.random.default_rng(4)
    train_x = rng.uniform(0, 1, size=(100, 30, 1)).astype(np.float32)
    data.write_dataset(str(tmp_path / "d_train.h5"), train_x, np.zeros(100), "d", 3, "t")
    data.write_dataset(str(tmp_path / "d_test.h5"), rng.uniform(0, 1, size=(10, 30, 1)).astype(np.float32),
                       np.zeros(10), "d", 3, "t")
    out = tmp_path / "q.json"
    subprocess.run([BIN, "quantize", path, "--data", str(tmp_path / "d_test.h5"), "--components", "x=8",
                    "--calibrate", "16", "--json", str(out)], check=True, capture_output=True)
    cpp = json.loads(out.read_text())["results"][1]["state_scales"]
    q = QATModel(m, QuantConfig.uniform(0, x=8))
    q.calibrate_state(torch.from_numpy(train_x[calibration_rows(100, 16)]))
    py = [float(s.step(30)) for s in q.x_quant]
    assert py == pytest.approx(cpp, rel=1e-4)
    # Other rows give other ranges: the comparison can tell.
    q.calibrate_state(torch.from_numpy(train_x[[1, 3, 5, 9]]))
    assert [float(s.step(30)) for s in q.x_quant] != pytest.approx(cpp, rel=1e-4)


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)")
def test_info_counts_the_state_in_memory(tmp_path):
    """`qs4dsim info` names each layer's grid and counts one sample's state in memory: the 2 x 6 x 4
    modes x (Re, Im) of this model at 4 bits instead of 32 save 2 * 6 * 4 * 2 * 28 / 8 = 336 bytes."""
    import re
    q = QATModel(_model(), QuantConfig.uniform(8, x=4, x_granularity="mode"))
    q.calibrate_state(torch.rand(2, 20, 1))
    path = str(tmp_path / "g.h5")
    _export(q, path, 20)

    def memory(p):
        text = subprocess.run([BIN, "info", p], check=True, capture_output=True, text=True).stdout
        held, fp32 = re.search(r"memory\s+(\d+) bytes.*float32: (\d+) bytes", text).groups()
        return text, int(held), int(fp32)

    text, held, fp32 = memory(path)
    assert "state grid   layer 1: 4 bit, one step per mode, max" in text
    with h5py.File(path, "a") as f:
        del f["state_quant"]
    _, held_float, fp32_same = memory(path)
    assert held_float - held == 336 and fp32_same == fp32


def _converter_chip(bits, ranges, **periphery):
    """An IMSSA-style chip with only the recurrence on the crossbar, on ideal devices, so that its
    state converters are the one thing between it and the digital recurrence."""
    return {"name": "state_converters", "device": "ideal",
            "mapping": {"tile_rows": 128, "tile_cols": 128, "encoding": "differential",
                        "weight_bits": 8, "recurrence_bits": 8},
            "periphery": {"adc_range": "calibrated", "calibration_samples": 16, "adc_headroom": 1.5,
                          "state_dac_bits": bits, "state_adc_bits": bits, "state_ranges": ranges,
                          **periphery},
            "analog_layers": [], "recurrence": "analog"}


def _logit_error(ckpt, chip, x, cal):
    """Mean |logit error| of `chip` against the same chip with ideal state converters (the one
    difference), relative to the mean |logit|."""
    logits = []
    for c in (chip, _converter_chip(0, "calibrated")):
        p = qs4dsim.program(ckpt, c, seed=1)
        p.age(0.0, calibration=cal)
        logits.append(p.forward(x))
    return float(np.abs(logits[0] - logits[1]).mean() / np.abs(logits[1]).mean())


def _grid_checkpoint(tmp_path, L):
    """A small model with x on an 8-bit grid, one percentile step per mode, exported and loaded,
    with 12 evaluated and 16 calibration sequences apart from them."""
    q = QATModel(_model(7), QuantConfig.uniform(8, x=8, x_granularity="mode", x_scale="percentile",
                                                 x_percentile=99.99)).eval()
    q.calibrate_state(torch.rand(24, L, 1))
    path = str(tmp_path / "g.h5")
    _export(q, path, L)
    evaluated = np.random.default_rng(2).uniform(0, 1, (12, L, 1)).astype(np.float32)
    cal = np.random.default_rng(3).uniform(0, 1, (16, L, 1)).astype(np.float32)
    return q, qs4dsim.Checkpoint.load(path), evaluated, cal


def test_state_converters_ranged_by_the_trained_grid(tmp_path):
    """periphery.state_ranges "trained" (docs/model.md): the state converters of an analog
    recurrence take their ranges from the checkpoint's per-mode grid. At 8 bits they follow the
    ideal converters more closely than ranges calibrated per tile (the control); at 16 bits they
    lose nothing; a grid shrunk tenfold clips the state at its bounds (the ranges are the grid's);
    a checkpoint without a grid, or a chip whose ADC ranges are fixed, is refused by name."""
    L = 60
    q, ckpt, evaluated, cal = _grid_checkpoint(tmp_path, L)
    trained = _logit_error(ckpt, _converter_chip(8, "trained"), evaluated, cal)
    calibrated = _logit_error(ckpt, _converter_chip(8, "calibrated"), evaluated, cal)
    assert trained < 0.75 * calibrated, (trained, calibrated)
    assert _logit_error(ckpt, _converter_chip(16, "trained"), evaluated, cal) < 5e-4
    with torch.no_grad():
        for s in q.x_quant:
            s.range.mul_(0.1)
    shrunk = str(tmp_path / "shrunk.h5")
    _export(q, shrunk, L)
    assert _logit_error(qs4dsim.Checkpoint.load(shrunk), _converter_chip(16, "trained"), evaluated, cal) > 0.05
    with pytest.raises(qs4dsim.Error, match='state_ranges.*needs adc_range "calibrated"'):
        qs4dsim.Chip.load(_converter_chip(8, "trained", adc_range=0.5))
    with pytest.raises(qs4dsim.Error, match='state_ranges.*needs signed_inputs "polarity"'):
        qs4dsim.Chip.load(_converter_chip(8, "trained", signed_inputs="two_phase"))
    with pytest.raises(qs4dsim.Error, match='modelled on the column-level read path'):
        qs4dsim.program(ckpt, _converter_chip(8, "trained", read_noise_path="cell"), seed=1)
    plain = str(tmp_path / "plain.h5")
    checkpoint.save(_model(7), plain)
    with pytest.raises(qs4dsim.Error, match="needs a checkpoint trained with its state on a grid"):
        qs4dsim.program(qs4dsim.Checkpoint.load(plain), _converter_chip(8, "trained"), seed=1)


def test_state_dac_per_mode_quantizes_each_row_on_its_own_bound(tmp_path):
    """periphery.state_dac_ranges "mode" (docs/model.md): each row's state DAC clips and quantizes
    at its own mode's trained bound instead of its channel's largest. With a coarse DAC and an
    ideal ADC, the channel's small modes lose their resolution under one scale per channel; the
    DAC per mode follows the ideal converters more closely (the control: the same chip with
    "channel"; this model's mode bounds span a factor of 2 to 7 within a channel). At 16 bits it
    is lossless. Without trained ranges the key is refused (where it acts on nothing it is inert:
    tests/test_chip.cpp)."""
    L = 60
    _, ckpt, evaluated, cal = _grid_checkpoint(tmp_path, L)

    def error(dac_bits, ranges):
        return _logit_error(ckpt, _converter_chip(16, "trained", state_dac_bits=dac_bits, state_dac_ranges=ranges),
                            evaluated, cal)

    per_channel, per_mode = error(8, "channel"), error(8, "mode")  # measured: 0.035 and 0.007
    assert per_mode < 0.5 * per_channel, (per_mode, per_channel)
    assert error(16, "mode") < 5e-4
    with pytest.raises(qs4dsim.Error, match='state_dac_ranges.*needs state_ranges "trained"'):
        qs4dsim.Chip.load(_converter_chip(8, "calibrated", state_dac_ranges="mode"))
    with pytest.raises(qs4dsim.Error, match='state_dac_ranges.*expected "channel" or "mode"'):
        qs4dsim.Chip.load(_converter_chip(8, "trained", state_dac_ranges="row"))
