import os
import subprocess

import h5py
import numpy as np
import pytest
import torch

from qs4d import checkpoint, train
from qs4d.model import S4Model
from qs4d.quant import FakeQuant, QATModel, QuantConfig, stable_abar_codes


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("mode", ["lsq", "max"])
def test_levels_are_symmetric_integers_times_scale(bits, mode):
    torch.manual_seed(bits)
    w = torch.randn(64, 32)
    fq = FakeQuant(bits, mode)
    out = fq(w).detach()
    codes, scale = fq.export(w)
    qmax = 2 ** (bits - 1) - 1
    assert codes.abs().max() <= qmax
    assert torch.equal(out, codes.float() * scale)
    assert len(torch.unique(codes)) <= 2 * qmax + 1
    if bits == 2:
        assert set(torch.unique(codes).tolist()) <= {-1, 0, 1}


def test_max_scale_places_the_largest_weight_on_the_top_level():
    w = torch.tensor([-3.0, -1.0, 0.2, 1.4, 2.0])
    fq = FakeQuant(3, "max")  # qmax = 3, scale = 1
    assert fq(w).tolist() == [-3.0, -1.0, 0.0, 1.0, 2.0]


def test_clipping_and_straight_through_gradient():
    fq = FakeQuant(2, "max")
    w = torch.tensor([-4.0, -0.3, 0.6, 4.0], requires_grad=True)
    out = fq(w)
    assert out.tolist() == [-4.0, 0.0, 0.0, 4.0]  # scale = max|w| = 4; 0.6/4 rounds to 0
    out.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0, 1.0]  # inside [-qmax, qmax] * s everywhere here
    fq = FakeQuant(4, "lsq")
    torch.manual_seed(0)
    w = torch.cat([0.1 * torch.randn(100), torch.tensor([50.0])]).requires_grad_()
    fq(w).sum().backward()
    assert w.grad[-1] == 0.0  # clipped: no gradient through the clamp
    assert fq.log_scale.grad is not None and fq.log_scale.grad.abs().item() > 0


def test_per_channel_scales_follow_their_rows():
    w = torch.tensor([[1.0, -0.4], [100.0, 50.0]])
    fq = FakeQuant(4, "max", axis=0, size=2)
    codes, scale = fq.export(w)
    assert scale.shape == (2,)
    assert codes.tolist() == [[7, -3], [7, 4]]


def test_quantized_abar_stays_inside_the_unit_circle():
    q = torch.tensor([[1.0, 1.0], [1.0, 0.0], [3.0, 3.0], [0.0, -1.0]])
    s = torch.tensor(0.9)
    fixed = stable_abar_codes(q, s) * s
    mags = torch.linalg.norm(fixed, dim=-1)
    assert (mags < 1.0).all()
    assert fixed[1].tolist() == pytest.approx([0.9, 0.0])  # already inside: unchanged


def _model():
    torch.manual_seed(0)
    return S4Model(2, 5, 16, 2, 0.0, d_state=8, prenorm=True, norm="batch").eval()


def test_quantized_model_export_matches_qs4dsim(tmp_path):
    binary = os.environ.get("QS4D_BIN")
    assert binary, "set QS4D_BIN to the qs4dsim binary (scripts/test.sh does)"
    x = torch.rand(3, 70, 2)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["x"] = x.numpy()
    for bits, ssm_bits, per_channel in ((8, 8, False), (4, 8, True), (2, 2, False)):
        q = QATModel(_model(), QuantConfig.uniform(bits, ssm_bits, per_channel=per_channel))
        q.eval()
        with torch.no_grad():
            ref = q(x).numpy()
        sd, quant = q.export_tensors()
        ckpt = str(tmp_path / f"q{bits}.h5")
        checkpoint.save(q.model, ckpt, quant=quant, state_dict=sd)
        for mode in ("conv", "recurrent"):
            out = tmp_path / f"out{bits}{mode}.h5"
            subprocess.run([binary, "predict", ckpt, str(tmp_path / "in.h5"), "--input-dataset",
                            "/x", "--out", str(out), "--mode", mode], check=True,
                           capture_output=True)
            with h5py.File(out) as f:
                assert np.abs(f["logits"][()] - ref).max() < 1e-4, (bits, mode)


def _tiny_dataset(tmp_path, n_train, length):
    """Three separable classes of short sequences, written as PREFIX_{train,val,test}.h5."""
    from qs4d import data
    rng = np.random.default_rng(0)
    prefix = str(tmp_path / "tiny")
    for split, n in (("train", n_train), ("val", n_train // 2), ("test", n_train // 2)):
        y = rng.integers(0, 3, n)
        x = (rng.normal(size=(n, length, 1)) * 0.1 + y[:, None, None]).astype(np.float32)
        data.write_dataset(f"{prefix}_{split}.h5", x, y, "tiny", 3, "test")
    return prefix


def test_smoke_qat_from_float_checkpoint(tmp_path):
    prefix = _tiny_dataset(tmp_path, 64, 16)
    fp32 = str(tmp_path / "fp32.h5")
    common = ["--data", prefix, "--d-model", "8", "--d-state", "4", "--n-layers", "1",
              "--batch", "16", "--threads", "1"]
    train.main(common + ["--out", fp32, "--work-dir", str(tmp_path / "w1"), "--epochs", "2"])
    q = str(tmp_path / "ternary.h5")
    train.main(common + ["--out", q, "--work-dir", str(tmp_path / "w2"), "--epochs", "1",
                         "--init-from", fp32, "--bits", "2", "--ssm-bits", "4"])
    with h5py.File(q) as f:
        codes = f["quant/encoder.weight/codes"][()]
        assert set(np.unique(codes).tolist()) <= {-1, 0, 1}
        assert int(f["quant/s4_layers.0.kernel.Abar"].attrs["bits"]) == 4
        assert "quantization" in f["meta"].attrs


def test_dac_quantizes_each_vector_to_its_own_levels():
    from qs4d.quant import dac_quant
    x = torch.randn(5, 7, 16, requires_grad=True)
    q, s = dac_quant(x, 4, -1)
    levels = (q * 7).detach()
    assert torch.allclose(levels, levels.round(), atol=1e-5)       # codes on 7 levels a side
    assert torch.allclose(q.abs().amax(-1), torch.ones(5, 7))       # each vector's max is full scale
    assert torch.allclose(s.squeeze(-1), x.detach().abs().amax(-1))
    (q * s).sum().backward()                                        # straight through
    assert torch.allclose(x.grad, torch.ones_like(x))


def test_state_quantized_scan_is_the_convolution_at_high_precision():
    torch.manual_seed(1)
    base = _model()
    x = torch.rand(2, 40, 2)
    conv = QATModel(base, QuantConfig.uniform(8)).eval()
    fine = QATModel(base, QuantConfig.uniform(8, state_bits=16)).eval()
    coarse = QATModel(base, QuantConfig.uniform(8, state_bits=3)).eval()
    with torch.no_grad():
        ref, y16, y3 = conv(x), fine(x), coarse(x)
    assert (ref - y16).abs().max() < 1e-3 * ref.abs().max()
    assert (ref - y3).abs().max() > 1e-2 * ref.abs().max()


def test_converter_quantization_changes_the_output_and_trains(tmp_path):
    torch.manual_seed(2)
    base = _model()
    x = torch.rand(3, 30, 2)
    plain = QATModel(base, QuantConfig.uniform(8)).eval()
    conv = QATModel(base, QuantConfig.uniform(8, act_bits=3, adc_bits=4)).eval()
    with torch.no_grad():
        a, b = plain(x), conv(x)
    assert 0 < (a - b).abs().max() < 0.5 * a.abs().max() + 1
    prefix = _tiny_dataset(tmp_path, 32, 12)
    out = str(tmp_path / "conv.h5")
    train.main(["--data", prefix, "--d-model", "4", "--d-state", "4", "--n-layers", "1",
                "--batch", "16", "--threads", "1", "--out", out, "--work-dir", str(tmp_path / "w"),
                "--epochs", "1", "--bits", "2", "--act-bits", "4", "--adc-bits", "6",
                "--state-bits", "6"])
    with h5py.File(out) as f:
        assert '"act_bits": 4' in f["meta"].attrs["quantization"]


def test_fixed_point_state_and_activations_as_qs4dsim_quantize_defines_them(tmp_path):
    torch.manual_seed(4)
    # Layer norm: a training-mode pass (which sets the running ranges) leaves the model as it was.
    base = S4Model(2, 5, 16, 2, 0.0, d_state=8).eval()
    x = torch.rand(2, 40, 2)
    float_model = QATModel(base, QuantConfig.uniform(0)).eval()
    fine = QATModel(base, QuantConfig.uniform(0, x=16, act=16))
    coarse = QATModel(base, QuantConfig.uniform(0, x=3))
    for m in (fine, coarse):  # one training-mode pass sets the running ranges
        m.train()
        with torch.no_grad():
            m(x)
        m.eval()
    with torch.no_grad():
        ref, y16, y3 = float_model(x), fine(x), coarse(x)
    assert (ref - y16).abs().max() < 1e-3 * ref.abs().max()
    assert (ref - y3).abs().max() > 1e-2 * ref.abs().max()
    assert min(float(q.range.min()) for q in fine.x_quant) > 0 and float(fine.act_range.min()) > 0
    # Only Bbar trained: the exported pair keeps Abar on a 16-bit grid; x trains through the scan.
    prefix = _tiny_dataset(tmp_path, 32, 12)
    out = str(tmp_path / "bbar.h5")
    train.main(["--data", prefix, "--d-model", "4", "--d-state", "4", "--n-layers", "1",
                "--batch", "16", "--threads", "1", "--out", out, "--work-dir", str(tmp_path / "w"),
                "--epochs", "1", "--bbar-bits", "4", "--x-bits", "8"])
    with h5py.File(out) as f:
        assert sorted(f["quant"]) == ["s4_layers.0.kernel.Abar", "s4_layers.0.kernel.Bbar"]
        assert int(f["quant/s4_layers.0.kernel.Abar"].attrs["bits"]) == 16
        assert int(f["quant/s4_layers.0.kernel.Bbar"].attrs["bits"]) == 4
        assert '"x": 8' in f["meta"].attrs["quantization"]
