"""qs4dsim circuit refuses what it cannot solve (issues #31 and #35): non-finite or absurd
inputs and conductances in every solver mode, named by file, dataset and element; sizes beyond
its stated work limits before any solve; and Newton's divergence said as such."""
import os
import subprocess

import h5py
import numpy as np
import pytest

BIN = os.environ.get("QS4D_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")

MODES = [["--solver", "exact"], ["--solver", "first-order"], ["--solver", "ideal"],
         ["--solver", "exact", "--cell-v0", "0.25"], ["--solver", "exact", "--row-wire-ohm", "1"]]


def refuse(tmp_path, G, V, extra, timeout=30):
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["G"], f["v"] = G, V
    run = subprocess.run([BIN, "circuit", "--in", str(path), "--out", str(tmp_path / "o.h5")] + extra,
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode != 0, run.stdout
    assert not (tmp_path / "o.h5").exists()
    return run.stderr.strip()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e308])
@pytest.mark.parametrize("mode", MODES, ids=lambda m: "_".join(m[1::2]))
def test_non_finite_or_absurd_input_voltage_is_refused_in_every_mode(tmp_path, bad, mode):
    V = np.full((2, 3), 0.1)
    V[1, 2] = bad
    message = refuse(tmp_path, np.full((3, 4), 10.0), V, mode)
    assert "in.h5: '/v' element (1, 2) is" in message and "finite voltage" in message


@pytest.mark.parametrize("bad", [np.nan, -1.0, 1e308])
def test_bad_conductance_is_named(tmp_path, bad):
    G = np.full((3, 4), 10.0)
    G[2, 1] = bad
    message = refuse(tmp_path, G, np.full((1, 3), 0.1), [])
    assert "in.h5: '/G' element (2, 1) is" in message and "uS" in message


@pytest.mark.parametrize("value", ["1e-320", "-1", "1e10", "nan"])
def test_unphysical_resistance_is_refused(tmp_path, value):
    message = refuse(tmp_path, np.full((2, 2), 10.0), np.full((1, 2), 0.1), ["--row-wire-ohm", value])
    assert "row_wire_ohm" in message and "1e-06 .. 1e+09 ohm" in message


def test_work_beyond_the_limits_is_refused_before_solving(tmp_path):
    # 64 x 16384 (the 19 KB file issue #31 found running past 60 s): refused at once.
    message = refuse(tmp_path, np.full((64, 16384), 10.0), np.zeros((1, 64)),
                     ["--row-wire-ohm", "1", "--col-wire-ohm", "1"], timeout=20)
    assert "expected at most 4096" in message
    message = refuse(tmp_path, np.full((1024, 1024), 10.0), np.zeros((1, 1024)),
                     ["--row-wire-ohm", "1"], timeout=20)
    assert "flops, expected at most" in message
    message = refuse(tmp_path, np.full((128, 128), 10.0), np.zeros((100, 128)),
                     ["--cell-v0", "0.25", "--row-wire-ohm", "1"], timeout=20)
    assert "2^20" in message


def test_newton_divergence_names_the_largest_cell_voltage(tmp_path):
    message = refuse(tmp_path, np.full((4, 4), 50.0), np.full((1, 4), 0.4),
                     ["--cell-v0", "0.001", "--driver-ohm", "100"])
    assert "diverged" in message and "largest |V| / v0" in message and "singular" not in message
