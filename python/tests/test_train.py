import os
import subprocess

import h5py
import numpy as np
import torch

from qs4d import checkpoint, data, train


def _tiny_dataset(tmp_path):
    rng = np.random.default_rng(0)
    prefix = str(tmp_path / "tiny")
    for split, n in (("train", 96), ("val", 32), ("test", 32)):
        y = rng.integers(0, 3, n)
        # Class-dependent mean makes the task learnable in a few steps.
        x = (rng.normal(size=(n, 16, 1)) * 0.1 + y[:, None, None] * 1.0).astype(np.float32)
        data.write_dataset(f"{prefix}_{split}.h5", x, y, "tiny", 3, "test")
    return prefix


def test_smoke_training_exports_and_resumes(tmp_path):
    prefix = _tiny_dataset(tmp_path)
    out = str(tmp_path / "model.h5")
    args = ["--data", prefix, "--out", out, "--work-dir", str(tmp_path / "work"),
            "--d-model", "8", "--d-state", "4", "--n-layers", "1", "--epochs", "6",
            "--batch", "16", "--threads", "1"]
    train.main(args)
    with h5py.File(out) as f:
        assert f["meta"].attrs["test_accuracy"] > 0.6
        assert len(f["state_dict"]) == 13
    model = checkpoint.load(out)
    assert model.d_model == 8
    # Training state is complete: a second run resumes after the last epoch and re-exports.
    train.main(args)
    assert os.path.exists(out)


def test_qs4dsim_predict_matches_pytorch(tmp_path):
    binary = os.environ.get("QS4D_BIN")
    assert binary, "set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)"
    import torch
    from qs4d.model import S4Model
    torch.manual_seed(3)
    m = S4Model(d_input=2, d_output=4, d_model=16, n_layers=2, d_state=8, dropout=0.0).eval()
    path = str(tmp_path / "m.h5")
    checkpoint.save(m, path)
    x = np.random.default_rng(1).uniform(0, 1, size=(5, 60, 2)).astype(np.float32)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["inputs/x"] = x
    subprocess.run([binary, "predict", path, str(tmp_path / "in.h5"), "--input-dataset",
                    "inputs/x", "--out", str(tmp_path / "out.h5")], check=True)
    with h5py.File(tmp_path / "out.h5") as f:
        got = f["logits"][()]
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() < 1e-4


def test_shift_images_moves_pixels_and_zero_fills():
    import torch
    img = torch.zeros(2, 28, 28)
    img[:, 10, 12] = 1.0
    x = img.reshape(2, 784, 1)

    class Fixed:  # the generator's offsets: (dy, dx) = (2, -1) for both images
        def integers(self, lo, hi, size):
            return np.tile(np.array([[2, -1]]), (size[0], 1))

    out = train.shift_images(x, 2, Fixed()).reshape(2, 28, 28)
    assert out[:, 12, 11].tolist() == [1.0, 1.0] and float(out.sum()) == 2.0
    edge = torch.zeros(1, 28, 28)
    edge[0, 27, 0] = 1.0  # moved off the image: gone, nothing wraps around
    assert float(train.shift_images(edge.reshape(1, 784, 1), 2, Fixed()).sum()) == 0.0


def test_checkpoint_meta_has_no_absolute_paths(tmp_path):
    config = train.portable_config({"data": os.path.join(train.REPO_ROOT, "data/datasets/x"),
                                    "out": str(tmp_path / "m.h5"), "work_dir": None})
    assert config["data"] == "data/datasets/x" and config["out"] == "m.h5"


def test_heterogeneous_bits_reach_every_component(tmp_path):
    prefix = _tiny_dataset(tmp_path)
    out = str(tmp_path / "het.h5")
    train.main(["--data", prefix, "--out", out, "--work-dir", str(tmp_path / "w"),
                "--d-model", "8", "--d-state", "4", "--n-layers", "1", "--epochs", "1",
                "--batch", "16", "--threads", "1", "--bits", "4", "--abar-bits", "8",
                "--c-bits", "3", "--encoder-bits", "6"])
    with h5py.File(out) as f:
        bits = {k: int(f["quant"][k].attrs["bits"]) for k in f["quant"]}
    assert bits == {"encoder.weight": 6, "decoder.weight": 4,
                    "s4_layers.0.output_linear.0.weight": 4, "s4_layers.0.kernel.Abar": 8,
                    "s4_layers.0.kernel.Bbar": 4, "s4_layers.0.kernel.C": 3, "s4_layers.0.D": 4}


def test_time_budget_shortens_the_schedule_and_resumes(tmp_path):
    prefix = _tiny_dataset(tmp_path)
    args = ["--data", prefix, "--out", str(tmp_path / "m.h5"), "--work-dir",
            str(tmp_path / "w"), "--d-model", "8", "--d-state", "4", "--n-layers", "1",
            "--epochs", "1000", "--batch", "16", "--threads", "1", "--time-budget", "1e-6"]
    train.main(args)
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["meta"].attrs["epochs_trained"] == 1
    train.main(args)  # resumes with the shortened schedule: nothing left to train
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["meta"].attrs["epochs_trained"] == 1


def test_stop_after_trains_the_first_epochs_of_the_longer_schedule(tmp_path):
    # The shipped H = 64 parent's recipe: 14 epochs of a 25-epoch one-cycle schedule. The saved
    # state keeps the long schedule, so raising --stop-after continues it where it stopped.
    prefix = _tiny_dataset(tmp_path)
    base = ["--data", prefix, "--out", str(tmp_path / "m.h5"), "--work-dir", str(tmp_path / "w"),
            "--d-model", "8", "--d-state", "4", "--n-layers", "1", "--epochs", "5", "--batch", "16",
            "--threads", "1"]
    train.main(base + ["--stop-after", "2"])
    state = torch.load(tmp_path / "w" / "state.pt")
    assert (state["epoch"], state["epochs"]) == (2, 5)
    assert state["sched"]["total_steps"] == 5 * 6  # 96 samples / batch 16: the 5-epoch schedule
    train.main(base + ["--stop-after", "2"])  # the same command again: nothing left to train
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["meta"].attrs["epochs_trained"] == 2
    train.main(base + ["--stop-after", "3"])
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["meta"].attrs["epochs_trained"] == 3
    try:
        train.main(base + ["--stop-after", "6"])
    except SystemExit as e:
        assert "--stop-after 6" in str(e)
    else:
        raise AssertionError("--stop-after beyond --epochs accepted")


def test_shipped_checkpoints_carry_no_absolute_paths():
    import glob
    import json
    folder = os.path.join(train.REPO_ROOT, "data", "checkpoints")
    for path in glob.glob(os.path.join(folder, "*.h5")):
        with h5py.File(path) as f:
            if "meta" not in f or "training_config" not in f["meta"].attrs:
                continue
            raw = f["meta"].attrs["training_config"]
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        for key in train.PATH_ARGS:
            assert not str(config.get(key) or "").startswith("/"), (path, key)


def test_a_ten_step_schedule_trains():
    # torch's one-cycle schedule divides by pct_start * steps - 1: 0.1 * 10 steps was a crash.
    for epochs, steps in ((1, 10), (2, 5), (1, 1), (1, 2), (1, 3)):
        model = torch.nn.Linear(2, 1)
        opt = train.build_optimizer(model, 0.01, 0.0)
        sched = train.build_schedule(opt, epochs, steps)
        for _ in range(epochs * steps):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] < 0.01


def test_resume_restores_optimizer_groups_saved_in_another_order():
    """A state saved by a process whose string hashing ordered the `_optim` groups differently
    (the het sMNIST run of #32 could not resume) loads into the groups in the saved order."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2, bias=False),
                                torch.nn.Linear(2, 5))
    model[0].weight._optim = {"lr": 1e-3, "weight_decay": 0.0}
    model[1].weight._optim = {"weight_decay": 0.0}
    model[2].weight._optim = {"weight_decay": 0.0}
    groups = train.optimizer_groups(model)
    saved_opt = torch.optim.AdamW([groups[0], groups[2], groups[1]], lr=1e-2)
    model(torch.ones(1, 3)).sum().backward()
    saved_opt.step()
    saved = saved_opt.state_dict()
    opt = train.build_optimizer(model, 1e-2, 0.01, saved, "state.pt")
    opt.load_state_dict(saved)
    assert opt.state[model[1].weight]["exp_avg"].shape == model[1].weight.shape
    assert opt.param_groups[1]["params"][0] is model[1].weight
    # The order is fixed without a saved state: the same across processes.
    assert [len(g["params"]) for g in train.optimizer_groups(model)] == [2, 1, 2]
    # A state from another model is refused by name, not loaded into the wrong tensors.
    other = torch.nn.Sequential(torch.nn.Linear(3, 4))
    try:
        train.build_optimizer(other, 1e-2, 0.01, saved, "state.pt")
    except SystemExit as e:
        assert "state.pt" in str(e) and "parameter groups" in str(e)
    else:
        raise AssertionError("a mismatching saved optimiser was accepted")
