"""The Python module qs4dsim against the command line it shares its code with.

Needs the module on the path (scripts/test.sh sets PYTHONPATH=build/bindings) and QS4D_BIN. Under
scripts/test.sh (QS4D_REQUIRE_MODULE=1) a missing module is a failure, not a skip.
"""
import json
import os
import subprocess
import threading

import h5py
import numpy as np
import pytest

BIN = os.environ.get("QS4D_BIN")
BIN = os.path.abspath(BIN) if BIN else None
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h64_n64_l4_qat4.h5")
DATA = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_test.h5")
# The calibration split eval finds beside DATA (never the evaluated samples).
TRAIN = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_train.h5")
if not os.path.exists(DATA) and BIN:  # a fresh clone: the test split ctest wrote (prepare_datasets)
    DATA = os.path.join(os.path.dirname(os.path.dirname(BIN)), "fixtures", "datasets", "fashion_mnist_196_test.h5")

try:
    import qs4dsim
except ImportError as e:  # pragma: no cover - depends on the build
    if os.environ.get("QS4D_REQUIRE_MODULE"):
        raise ImportError(f"qs4dsim not importable ({e}); build with QS4D_BUILD_PYTHON=ON and set "
                          "PYTHONPATH=build/bindings") from e
    pytest.skip("qs4dsim not built (PYTHONPATH=build/bindings)", allow_module_level=True)

pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")

LIMIT = 120


@pytest.fixture(scope="module")
def ckpt():
    return qs4dsim.Checkpoint.load(CKPT)


@pytest.fixture(scope="module")
def data():
    return qs4dsim.Dataset.load(DATA, limit=LIMIT)


@pytest.fixture(scope="module")
def cal():
    return qs4dsim.Dataset.load(TRAIN, limit=64)


def cli_json(tmp_path, *args):
    out = tmp_path / "out.json"
    subprocess.run([BIN, *args, "--json", str(out)], check=True, capture_output=True)
    return json.loads(out.read_text())


def test_loaders(ckpt, data):
    info = ckpt.info
    assert info["d_model"] == 64 and info["n_layers"] == 4 and info["d_output"] == 10
    assert data.x.shape == (LIMIT, 196, 1) and data.y.dtype == np.int64 and len(data) == LIMIT
    chip = qs4dsim.Chip.load("pcm_512", overrides={"periphery.adc_bits": 6})
    assert chip.spec["periphery"]["adc_bits"] == 6 and chip.name == "pcm_512"


# What two runs of the same evaluation may report differently: how long they took.
TIMINGS = {"seconds", "samples_per_s", "seconds_per_analog_pass", "seconds_per_digital_pass"}


def untimed(report):
    return {k: v for k, v in report.items() if k not in TIMINGS}


def test_digital_evaluate_equals_cli(tmp_path, ckpt, data):
    """One library call under both, one set of defaults: with no options, the module's evaluate
    of a Dataset and `qs4dsim eval` report the same JSON, timings aside (#29)."""
    cli = cli_json(tmp_path, "eval", CKPT, "--data", DATA, "--limit", str(LIMIT))
    mine = qs4dsim.evaluate(ckpt, data)
    assert untimed(mine) == untimed(cli)
    assert cli["run"]["seed"] == 1 and cli["run"]["chip"] is None and cli["run"]["limit"] == LIMIT
    # Arrays give the same numbers; the report names them as arrays.
    arrays = qs4dsim.evaluate(ckpt, data.x, data.y)
    assert arrays["accuracy"] == cli["accuracy"] and arrays["n_correct"] == cli["n_correct"]
    assert arrays["data"] == "<numpy arrays>"
    assert arrays["run"]["data_fingerprint"] == cli["run"]["data_fingerprint"]
    with pytest.raises(qs4dsim.Error, match="holds its own labels"):
        qs4dsim.evaluate(ckpt, data, data.y)
    with pytest.raises(qs4dsim.Error, match="y \\(the labels\\)"):
        qs4dsim.evaluate(ckpt, data.x)


def test_chip_evaluate_of_a_dataset_equals_cli(tmp_path, ckpt, data):
    cli = cli_json(tmp_path, "eval", CKPT, "--data", DATA, "--limit", str(LIMIT), "--chip", "pcm_512")
    mine = qs4dsim.evaluate(ckpt, data, chip="pcm_512", calibration=TRAIN)
    mine["calibration"]["found_beside"] = True  # the CLI found the file the module was given
    mine["run"]["calibration"]["found_beside"] = True
    assert untimed(mine) == untimed(cli)


def test_analog_evaluate_equals_cli(tmp_path, ckpt, data):
    cli = cli_json(tmp_path, "eval", CKPT, "--data", DATA, "--limit", str(LIMIT), "--chip", "pcm_512", "--trials", "2",
                   "--times", "1s,1d", "--seed", "3")
    chip = qs4dsim.Chip.load("pcm_512")
    mine = qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, trials=2, times=["1s", "1d"], seed=3, threads=2,
                            calibration=TRAIN)
    assert set(mine) == set(cli)
    assert mine["results"] == cli["results"]
    assert mine["run"]["data_fingerprint"] == cli["run"]["data_fingerprint"]
    assert mine["energy_pJ_per_inference"] == cli["energy_pJ_per_inference"]
    assert mine["write_verify"] == cli["write_verify"]
    # the same samples; the CLI found them beside the data, the module was given the file
    assert {**mine["calibration"], "found_beside": True} == cli["calibration"]
    assert cli["calibration"]["disjoint_from_evaluated"] and cli["calibration"]["found_beside"]


def test_programmed_chip_reproduces_eval(ckpt, data, cal):
    chip = qs4dsim.Chip.load("pcm_512")
    ref = qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, trials=1, times=["1s", "1d"], seed=5,
                           calibration=cal.x)
    p = qs4dsim.program(ckpt, chip, seed=5)
    for index, time in enumerate(["1s", "1d"]):
        p.age(time, calibration=cal.x, time_index=index)
        logits = p.forward(data.x)
        accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y))
        assert accuracy == ref["results"][index]["analog_accuracy_mean"]
    # Split into two calls with the right first_sample, the logits are the same.
    whole = p.forward(data.x)
    parts = np.concatenate([p.forward(data.x[:50]), p.forward(data.x[50:], first_sample=50)])
    np.testing.assert_array_equal(whole, parts)
    g = p.conductances("encoder")
    assert g["g_uS"].shape[1:] == (512, 512) and g["time_s"] == 86400.0
    assert np.any(g["g_uS"] != g["target_uS"])  # drifted


def test_counts_and_energy(ckpt, data, cal):
    p = qs4dsim.program(ckpt, qs4dsim.Chip.load("pcm_512"), seed=1)
    with pytest.raises(qs4dsim.Error, match="no actions counted"):
        p.energy()
    p.age("1s", calibration=cal.x)
    p.forward(data.x[:8], count=True)
    c = p.counts()
    assert c["samples"] == 8 and c["adc_conversions"] > 0 and c["programming_pulses"] > 0
    e = p.energy()
    assert e["energy_pJ_per_inference"] > 0 and "breakdown_pJ" in e


def test_forward_logits_equal_predict(tmp_path, ckpt, data):
    x = data.x[:16]
    inputs = tmp_path / "x.h5"
    with h5py.File(inputs, "w") as f:
        f["/x"] = x
    out = tmp_path / "logits.h5"
    subprocess.run([BIN, "predict", CKPT, str(inputs), "--input-dataset", "/x", "--out", str(out)], check=True,
                   capture_output=True)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(ckpt.predict(x), f["/logits"][()])


def test_bad_input_raises(ckpt, data):
    with pytest.raises(qs4dsim.Error, match="expected inputs shaped"):
        qs4dsim.evaluate(ckpt, data.x[0], data.y)
    bad = data.x.copy()
    bad[3, 5, 0] = np.nan
    with pytest.raises(qs4dsim.Error, match="expected a finite value"):
        qs4dsim.evaluate(ckpt, bad, data.y)
    with pytest.raises(qs4dsim.Error, match="outside"):
        qs4dsim.evaluate(ckpt, data.x, data.y + 10)
    with pytest.raises(qs4dsim.Error, match="no_such_chip"):
        qs4dsim.Chip.load("no_such_chip")
    with pytest.raises(qs4dsim.Error, match="bogus"):
        qs4dsim.Chip.load("pcm_512", overrides={"periphery.bogus": 1})
    with pytest.raises(qs4dsim.Error, match="time"):
        qs4dsim.evaluate(ckpt, data.x, data.y, chip=qs4dsim.Chip.load("pcm_512"), times=["soon"])
    with pytest.raises(qs4dsim.Error):
        qs4dsim.Checkpoint.load(DATA)  # a dataset is not a checkpoint
    p = qs4dsim.program(ckpt, qs4dsim.Chip.load("pcm_512"))
    with pytest.raises(qs4dsim.Error, match="not been aged"):
        p.forward(data.x)
    with pytest.raises(qs4dsim.Error, match="calibrat"):
        p.age("1s")
    with pytest.raises(qs4dsim.Error, match="holds"):
        p.conductances("no_such_matrix")


def test_two_threads_at_once(ckpt, data, cal):
    chip = qs4dsim.Chip.load("pcm_512")
    serial = [qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, seed=s, energy_samples=0,
                               calibration=cal.x)["results"]
              for s in (1, 2)]
    results = [None, None]

    def run(i):
        results[i] = qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, seed=i + 1, threads=1,
                                      energy_samples=0, calibration=cal.x)["results"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == serial


def quantize(w, bits):
    """Max-based symmetric per-row quantization, written out here as the reference."""
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(w).max(axis=1) / qmax
    return np.round(w / scale[:, None]) * scale[:, None], scale


def test_perturb_matches_the_hand_formula():
    """Differential pairs on an ideal device with constant programming noise sigma: each weight
    is off by scale_j (e+ - e-) / step, std scale_j sqrt(2) sigma / step (no clamping: the window
    starts at 10 uS, 40 sigma away)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 128)).astype(np.float32)
    sigma, bits = 0.25, 4
    chip = qs4dsim.Chip.load("ideal", overrides={
        "device.g_min_uS": 10.0, "device.g_max_uS": 35.0,
        "device.programming": {"kind": "constant", "sigma_uS": sigma},
        "mapping.weight_bits": bits})
    wq, scale = quantize(w.astype(np.float64), bits)
    exact = qs4dsim.perturb(qs4dsim.Chip.load("ideal", overrides={"mapping.weight_bits": bits}), {"w": w})["w"]
    np.testing.assert_allclose(exact, wq, rtol=1e-5, atol=1e-6)
    step = (35.0 - 10.0) / (2 ** (bits - 1) - 1)
    got = qs4dsim.perturb(chip, {"w": w}, seed=7)["w"]
    z = (got - wq) / (scale[:, None] * np.sqrt(2) * sigma / step)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    again = qs4dsim.perturb(chip, {"w": w}, seed=7)["w"]
    np.testing.assert_array_equal(got, again)
    assert not np.array_equal(got, qs4dsim.perturb(chip, {"w": w}, seed=8)["w"])


def test_device_program_and_read():
    dev = qs4dsim.Device.load("rram_generic")
    targets = np.full((200, 200), 50.0, dtype=np.float32)
    p = dev.program(targets, seed=1)
    assert p.g_uS.shape == (200, 200) and p.pulses.shape == (200, 200)
    free = p.stuck == 0
    # write-verify to 2 % of the target (50 uS snapped to the nearest of the 16 levels), where it
    # verified
    np.testing.assert_allclose(p.target_uS, 5.0 + 7 * 95.0 / 15, rtol=1e-6)
    ok = free & (p.unverified == 0)
    assert ok.mean() > 0.99
    assert np.all(np.abs(p.g_uS[ok] - p.target_uS[ok]) <= 0.02 * p.target_uS[ok] + 1e-4)
    later = dev.at_time(p, "1d", seed=2)
    np.testing.assert_array_equal(later, dev.at_time(p, 86400.0, seed=2))
    read = dev.read(p, "1d", seed=2)
    rel = (read[free] - later[free]) / later[free]
    assert abs(rel.std() - 0.01) < 0.001  # the preset's 1 % read noise
    with pytest.raises(qs4dsim.Error, match="time"):
        dev.at_time(p, "-1s")


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's Python session, as written (paths relative to the repository root)."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("<!-- python-example -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    code = block.replace('plt.savefig("encoder_drift.png")', f'plt.savefig(r"{tmp_path / "drift.png"}")')
    assert code != block
    # a fresh clone has no data/datasets until qs4d.data runs; the test split ctest wrote serves
    code = code.replace('"data/datasets/fashion_mnist_196_test.h5"', repr(DATA))
    code = code.replace('"data/datasets/fashion_mnist_196_train.h5"', repr(TRAIN))
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "drift.png").stat().st_size > 1000


def test_calibrate_equals_eval_calibrate(tmp_path, ckpt, data, cal):
    """eval --calibrate N and ProgrammedChip.calibrate on the same N samples agree exactly, and the
    module's evaluate(calibrate=N) equals the command line's."""
    chip = qs4dsim.Chip.load("pcm_512")
    cli = cli_json(tmp_path, "eval", CKPT, "--data", DATA, "--limit", str(LIMIT), "--chip", "pcm_512",
                   "--times", "1d", "--seed", "2", "--calibrate", "64")
    mine = qs4dsim.evaluate(ckpt, data.x, data.y, chip=chip, times=["1d"], seed=2, calibrate=64,
                            calibration=TRAIN)
    assert mine["results"] == cli["results"] and mine["run"]["calibrate_outputs"] == 64
    p = qs4dsim.program(ckpt, chip, seed=2)
    p.age("1d", calibration=cal.x)
    p.calibrate(cal.x, samples=64)
    accuracy = float(np.mean(p.forward(data.x).argmax(1) == data.y))
    assert accuracy == mine["results"][0]["analog_accuracy_mean"]


def test_perturb_with_given_scales_holds_those_codes():
    """With scales given (as a QAT checkpoint's), the noise-free chip holds round(W / s) * s, not a
    re-quantization with its own max-based scales."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(16, 32)).astype(np.float32)
    s = np.abs(w).max(axis=1) / 20  # most weights beyond the 4-bit range: clipped to +-7
    chip = qs4dsim.Chip.load("ideal", overrides={"mapping.weight_bits": 4})
    got = qs4dsim.perturb(chip, {"w": w}, scales={"w": s})["w"]
    expect = np.clip(np.round(w / s[:, None]), -7, 7) * s[:, None]
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    with pytest.raises(qs4dsim.Error, match="one per output"):
        qs4dsim.perturb(chip, {"w": w}, scales={"w": s[:3]})


def test_chip_noise_is_straight_through():
    """qs4d.hwa.ChipNoise: the forward value is the chip's weights, the gradient reaches w as is."""
    import torch
    from qs4d.hwa import ChipNoise
    noise = ChipNoise("neurram_256", noise_scale=4.0, seed=3)
    noise.step = 5
    w = torch.randn(32, 16, 1, requires_grad=True)
    scale = torch.full((32, 1, 1), float(w.detach().abs().max()) / 7)
    out = noise(2, "w", w, 4, scale)
    assert out.shape == w.shape and not torch.equal(out.detach(), w.detach())
    held = qs4dsim.perturb(noise.chip, {"w": w.detach().reshape(32, 16).numpy()}, seed=(3 << 40) + (5 << 8) + 2,
                           bits=4, read_noise=False, scales={"w": scale.reshape(-1).double().numpy()})["w"]
    np.testing.assert_allclose(out.detach().reshape(32, 16).numpy(), held, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones((32, 16, 1), dtype=np.float32))


def test_train_with_chip_records_it(tmp_path):
    """qs4d.train --chip runs hardware-aware QAT end to end and says so in /meta."""
    from qs4d import data as qdata
    rng = np.random.default_rng(0)
    prefix = str(tmp_path / "tiny")
    for split, n in (("train", 96), ("val", 32), ("test", 32)):
        x = rng.normal(size=(n, 16, 1)).astype(np.float32)
        y = (x.mean(axis=(1, 2)) > 0).astype(np.int64)
        qdata.write_dataset(f"{prefix}_{split}.h5", x, y, "tiny", 2, "test")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                                    os.path.join(ROOT, "python")])))
    out = tmp_path / "hwa.h5"
    r = subprocess.run(["/usr/bin/python3", "-m", "qs4d.train", "--data", prefix, "--out", str(out),
                        "--work-dir", str(tmp_path / "w"), "--d-model", "8", "--d-state", "4", "--n-layers", "1",
                        "--epochs", "1", "--bits", "4", "--chip", "neurram_256", "--hwa-noise-scale", "2",
                        "--hwa-times", "0,1d", "--threads", "1"],
                       check=True, capture_output=True, text=True, env=env, cwd=os.path.join(ROOT, "python"))
    with h5py.File(out, "r") as f:
        meta = json.loads(f["meta"].attrs["hardware_aware"])
    assert meta == {"chip": "neurram_256", "noise_scale": 2.0, "times": ["0", "1d"], "read_noise": False}
    # one line says whose noise, at which times, and that the programming spread acts at t = 0 only
    line = next(l for l in r.stdout.splitlines() if l.startswith("hardware-aware training"))
    assert "chip neurram_256 (device rram_wan2022, relaxation_table drift, programming spread x2)" in line
    assert "drawn at 0, 1d after programming" in line and "acts only at t = 0" in line
    # each step draws at its time in turn
    from qs4d.hwa import ChipNoise
    noise = ChipNoise("neurram_256", times="0,1d")
    assert [(setattr(noise, "step", k), noise.time)[1] for k in range(3)] == ["0", "1d", "0"]


def test_train_refuses_to_overwrite_a_shipped_checkpoint_and_warns_at_chance(tmp_path):
    from qs4d import data as qdata
    rng = np.random.default_rng(1)
    prefix = str(tmp_path / "noise")
    for split, n in (("train", 64), ("val", 16), ("test", 64)):
        qdata.write_dataset(f"{prefix}_{split}.h5", rng.normal(size=(n, 8, 1)).astype(np.float32),
                            rng.integers(0, 4, n), "noise", 4, "test")
    shipped = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")
    common = ["/usr/bin/python3", "-m", "qs4d.train", "--data", prefix, "--work-dir", str(tmp_path / "w"),
              "--d-model", "4", "--d-state", "4", "--n-layers", "1", "--epochs", "1", "--threads", "1"]
    r = subprocess.run(common + ["--out", shipped], capture_output=True, text=True,
                       cwd=os.path.join(ROOT, "python"))
    assert r.returncode != 0 and "--overwrite-shipped" in r.stderr
    # labels drawn at random: nothing to learn, and the trainer says so
    r = subprocess.run(common + ["--out", str(tmp_path / "chance.h5"), "--lr", "0"], capture_output=True,
                       text=True, cwd=os.path.join(ROOT, "python"), check=True)
    assert "near chance" in r.stdout
