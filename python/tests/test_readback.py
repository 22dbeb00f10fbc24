"""ProgrammedChip.weights() and the cell map of conductances() (issue #33): on the ideal chip the
realised weights are the quantized ones; on a noisy chip, rebuilding each weight from the cells
with the map gives what weights() reports."""

import os

import numpy as np
import pytest

qs4dsim = pytest.importorskip("qs4dsim")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")
TRAIN = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_train.h5")


def rebuild(c, outputs, inputs):
    """The weight matrix from the cells, with the map alone (numpy, independent of the C++)."""
    acc = np.zeros((outputs, inputs))
    for k in range(len(c["tiles"])):
        g = c["g_uS"][k].astype(np.float64)
        ref_cols = np.flatnonzero(c["col_reference"][k])
        for r in np.flatnonzero(c["row_input"][k] >= 0):
            i = c["row_input"][k][r]
            reference = g[r, ref_cols[0]] if len(ref_cols) else c["g_min_uS"]
            for col in np.flatnonzero(c["col_output"][k] >= 0):
                acc[c["col_output"][k][col], i] += (c["col_sign"][k][col] * c["col_significance"][k][col] *
                                                    (g[r, col] - reference) / c["step_uS"])
    acc -= c["offset"]
    return acc * np.asarray(c["scale"])[:, None]


@pytest.mark.parametrize("chip, extra", [("ideal", {}), ("neurram_256", {}),
                                         ("pcm_512", {"mapping.encoding": "offset"})])
def test_weights_are_what_the_cells_hold(chip, extra):
    ckpt = qs4dsim.Checkpoint.load(CKPT)
    p = qs4dsim.program(ckpt, qs4dsim.Chip.load(chip, overrides=extra), seed=2)
    p.age("1h" if chip != "ideal" else 0, calibration=qs4dsim.Dataset.load(TRAIN, limit=16).x)
    for name in ("encoder", "s4_layers.1.output_linear"):
        w = p.weights(name)
        realised, quantized = w["realised"], w["quantized"]
        assert realised.shape == quantized.shape
        c = p.conductances(name)
        np.testing.assert_allclose(rebuild(c, *realised.shape), realised, rtol=1e-5,
                                   atol=1e-5 * np.abs(quantized).max())
        if chip == "ideal":
            np.testing.assert_allclose(realised, quantized, rtol=0, atol=1e-6 * np.abs(quantized).max())
        else:
            assert np.abs(realised - quantized).max() > 0  # the devices moved


def test_weights_of_an_unknown_matrix_name_the_chip_s_matrices():
    p = qs4dsim.program(qs4dsim.Checkpoint.load(CKPT), "ideal")
    p.age(0)
    with pytest.raises(qs4dsim.Error, match="it holds: encoder"):
        p.weights("no_such_matrix")
