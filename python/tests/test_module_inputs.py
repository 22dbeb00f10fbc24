"""The module takes what researchers hold (issue #33): torch tensors as numpy arrays, chips and
devices by name or as dicts, one time or several as text or numbers, 1-D device targets; and
evaluate's defaults are the command line's (seed 1, time 0)."""

import json
import os

import numpy as np
import pytest

qs4dsim = pytest.importorskip("qs4dsim")
torch = pytest.importorskip("torch")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")
DATA = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_test.h5")
TRAIN = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_train.h5")


@pytest.fixture(scope="module")
def setup():
    ckpt = qs4dsim.Checkpoint.load(CKPT)
    data = qs4dsim.Dataset.load(DATA, limit=48)
    cal = qs4dsim.Dataset.load(TRAIN, limit=16)
    return ckpt, data, cal


def test_torch_tensors_give_the_numbers_numpy_gives(setup):
    ckpt, data, cal = setup
    chip = qs4dsim.Chip.load("pcm_512")
    with_numpy = qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, trials=2, times=["0", "1h"], calibration=cal.x)
    # a tensor that needs grad and is not contiguous: detached and laid out on the way in
    x = torch.from_numpy(np.ascontiguousarray(data.x.transpose(1, 0, 2))).transpose(0, 1).requires_grad_(True)
    with_torch = qs4dsim.evaluate(ckpt, x, torch.from_numpy(data.y), chip=chip, trials=2, times=["0", "1h"],
                                  calibration=torch.from_numpy(cal.x))
    assert with_torch["results"] == with_numpy["results"]
    logits = ckpt.predict(torch.from_numpy(data.x))
    assert isinstance(logits, torch.Tensor)
    np.testing.assert_array_equal(logits.numpy(), ckpt.predict(data.x))
    p = qs4dsim.program(ckpt, chip, seed=1)
    p.age("1h", calibration=cal.x)
    out = p.forward(torch.from_numpy(data.x[:8]))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), p.forward(data.x[:8]))
    held = qs4dsim.perturb("ideal", {"w": torch.ones(3, 4)}, read_noise=False)["w"]
    np.testing.assert_allclose(held, np.ones((3, 4)), rtol=1e-6)


def test_names_dicts_and_times_are_accepted(setup):
    ckpt, data, cal = setup
    by_object = qs4dsim.evaluate(ckpt, data.x, data.y, chip=qs4dsim.Chip.load("pcm_512"), trials=2,
                                 times=[0, 3600], calibration=cal.x)
    by_name = qs4dsim.evaluate(ckpt, data.x, data.y, chip="pcm_512", trials=2, times="0,1h", calibration=cal.x)
    spec = json.load(open(os.path.join(ROOT, "data", "chips", "pcm_512.json")))
    by_dict = qs4dsim.evaluate(ckpt, data.x, data.y, chip=spec, trials=2, times=["0", "1h"], calibration=cal.x)
    assert by_object["results"] == by_name["results"] == by_dict["results"]
    one = qs4dsim.evaluate(ckpt, data.x, data.y, chip="pcm_512", times="1h", calibration=cal.x)
    assert [r["time_s"] for r in one["results"]] == [3600]
    assert qs4dsim.Chip.load(spec, overrides={"periphery.adc_bits": 6}).spec["periphery"]["adc_bits"] == 6
    with pytest.raises(qs4dsim.Error, match="expected a qs4dsim.Chip, a preset name"):
        qs4dsim.evaluate(ckpt, data.x, data.y, chip=3)
    with pytest.raises(qs4dsim.Error, match="x: expected inputs shaped"):
        qs4dsim.evaluate(ckpt, object(), data.y)


def test_evaluate_defaults_are_the_command_line_defaults(setup):
    ckpt, data, cal = setup
    report = qs4dsim.evaluate(ckpt, data.x, data.y, chip="pcm_512", calibration=cal.x)
    assert report["seed"] == 1 and [r["time_s"] for r in report["results"]] == [0]
    digital = qs4dsim.evaluate(ckpt, data.x, data.y)
    assert digital["digital_accuracy"] == digital["accuracy"] == report["digital_float_accuracy"]


def test_devices_by_dict_and_one_dimensional_targets():
    spec = json.load(open(os.path.join(ROOT, "data", "devices", "rram_wan2022.json")))
    by_dict = qs4dsim.Device.load(spec, overrides={"programming.scale": 2})
    by_name = qs4dsim.Device.load("rram_wan2022", overrides={"programming.scale": 2})
    targets = np.array([4.0, 12.0, 30.0])
    a, b = by_dict.program(targets, seed=3), by_name.program(torch.from_numpy(targets), seed=3)
    assert a.g_uS.shape == (3,) and a.target_uS.shape == (3,)
    np.testing.assert_array_equal(a.g_uS, b.g_uS)
    np.testing.assert_array_equal(by_dict.at_time(a, "1d", seed=1), by_name.at_time(b, 86400, seed=1))
    assert by_dict.at_time(a, "1d").shape == (3,)
    square = by_name.program(targets.reshape(1, 3), seed=3)
    np.testing.assert_array_equal(square.g_uS[0], b.g_uS)
