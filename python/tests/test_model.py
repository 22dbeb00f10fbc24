import h5py
import numpy as np
import pytest
import torch

from qs4d import checkpoint
from qs4d.model import S4Model

EXPECTED_LAYER_TENSORS = {
    "D": (8,), "kernel.C": (8, 4, 2), "kernel.log_dt": (8,), "kernel.log_A_real": (8, 4),
    "kernel.A_imag": (8, 4), "output_linear.0.weight": (16, 8, 1), "output_linear.0.bias": (16,),
}


def small(norm="layer", prenorm=False, d_input=1, seed=0):
    torch.manual_seed(seed)
    m = S4Model(d_input=d_input, d_output=5, d_model=8, n_layers=2, d_state=8, dropout=0.0,
                prenorm=prenorm, norm=norm)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def test_state_dict_names_follow_state_spaces_example():
    sd = small().state_dict()
    for i in range(2):
        for name, shape in EXPECTED_LAYER_TENSORS.items():
            assert tuple(sd[f"s4_layers.{i}.{name}"].shape) == shape
        assert tuple(sd[f"norms.{i}.weight"].shape) == (8,)
    assert tuple(sd["encoder.weight"].shape) == (8, 1)
    assert tuple(sd["decoder.weight"].shape) == (5, 8)
    assert len(sd) == 4 + 2 * (len(EXPECTED_LAYER_TENSORS) + 2)


def test_batch_norm_carries_running_statistics():
    sd = small(norm="batch").state_dict()
    assert "norms.1.running_var" in sd and "norms.1.num_batches_tracked" in sd


@pytest.mark.parametrize("norm", ["layer", "batch"])
@pytest.mark.parametrize("prenorm", [False, True])
def test_convolution_equals_recurrence(norm, prenorm):
    m = small(norm, prenorm, d_input=3).double()
    x = torch.rand(2, 50, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(m(x), m(x, recurrent=True), atol=1e-10)


def test_checkpoint_round_trip(tmp_path):
    m = small(norm="batch", prenorm=True, d_input=3)
    path = str(tmp_path / "m.h5")
    checkpoint.save(m, path, meta={"task": "test", "config": {"a": 1}})
    with h5py.File(path) as f:
        assert int(f.attrs["format_version"]) == 1
        assert f.attrs["norm"] == "batch" and int(f.attrs["prenorm"]) == 1
        assert f["state_dict/s4_layers.0.kernel.C"].dtype == np.float32
        assert f["meta"].attrs["config"] == '{"a": 1}'
    back = checkpoint.load(path)
    x = torch.rand(3, 20, 3)
    with torch.no_grad():
        assert torch.equal(back(x), m(x))
    assert not list(tmp_path.glob("*.tmp"))
