"""qs4dsim circuit against ngspice (issue #35): the netlist is written by `qs4dsim circuit
--netlist` straight from the documented convention (circuit/netlist.cpp, not from the
solvers' network), ngspice solves it at tight tolerances, and the two sets of column currents
must agree to 1e-9 of the largest. A hand-solved 2 x 2 network checks the convention first."""
import os
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest

BIN = os.environ.get("QS4D_BIN")
NGSPICE = shutil.which("ngspice")
pytestmark = [
    pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)"),
    pytest.mark.skipif(not NGSPICE, reason="ngspice is not installed (bash scripts/setup.sh installs it)"),
]
OHM_KEYS = ("row_wire_ohm", "col_wire_ohm", "driver_ohm", "sense_ohm", "access_ohm")


def circuit(tmp_path, G, V, v0=0.0, threads=None, **ohm):
    """Runs qs4dsim circuit; returns its currents (uA) and the netlist it wrote."""
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["G"], f["v"] = G, V
    args = [BIN, "circuit", "--in", str(tmp_path / "in.h5"), "--out", str(tmp_path / "out.h5"),
            "--netlist", str(tmp_path / "tile.cir")]
    if v0 > 0:
        args += ["--cell-v0", repr(v0)]
    if threads is not None:
        args += ["--threads", str(threads)]
    for key, value in ohm.items():
        args += [f"--{key.replace('_', '-')}", repr(value)]
    subprocess.run(args, check=True, capture_output=True, text=True)
    with h5py.File(tmp_path / "out.h5") as f:
        return f["i"][()], (tmp_path / "tile.cir").read_text()


def ngspice(tmp_path, netlist, batch, cols):
    """ngspice's column currents (batch x cols, uA) for a netlist from --netlist."""
    path = tmp_path / "spice.cir"
    path.write_text(netlist)
    run = subprocess.run([NGSPICE, "-b", str(path)], capture_output=True, text=True, timeout=120)
    out = np.full((batch, cols), np.nan)
    b = -1
    for line in run.stdout.splitlines():
        if m := re.match(r"^vector (\d+)$", line.strip()):
            b = int(m.group(1))
        elif m := re.match(r"^i\(vt(\d+)\)\s*=\s*(\S+)$", line.strip()):
            out[b, int(m.group(1))] = float(m.group(2)) * 1e6
    assert np.isfinite(out).all(), f"ngspice printed no currents:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    return out


def test_hand_solved_2x2_network_by_both(tmp_path):
    # No wires, a driver per row and ideal senses: row i's node sits at
    # v_i g_d / (g_d + G_i0 + G_i1), and column j collects the sum over rows of G_ij times it.
    G = np.array([[10.0, 40.0], [25.0, 5.0]])  # uS
    V = np.array([[0.2, -0.1], [0.05, 0.3]])
    r_d = 5000.0
    g_d = 1e6 / r_d
    node = V * g_d / (g_d + G.sum(axis=1))
    expected = node @ G
    got, netlist = circuit(tmp_path, G, V, driver_ohm=r_d)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(ngspice(tmp_path, netlist, 2, 2), expected, rtol=1e-9)


def random_case(seed):
    """A tile up to 32 x 32 with empty cells, and random wires, driver, sense and access."""
    rng = np.random.default_rng(seed)
    rows, cols = (int(x) for x in rng.integers(1, 33, size=2))
    G = rng.uniform(1.0, 100.0, size=(rows, cols))
    G[rng.random((rows, cols)) < 0.15] = 0.0   # stuck-off devices and unused cells
    ranges = dict(row_wire_ohm=(0.2, 3.0), col_wire_ohm=(0.2, 3.0), driver_ohm=(10.0, 200.0),
                  sense_ohm=(1.0, 50.0), access_ohm=(100.0, 5000.0))
    ohm = {k: (0.0 if rng.random() < 0.3 else float(rng.uniform(*ranges[k]))) for k in OHM_KEYS}
    V = rng.uniform(-0.4, 0.4, size=(2, rows))
    return G, V, ohm


@pytest.mark.parametrize("v0", [0.0, 0.25], ids=["linear", "sinh"])
@pytest.mark.parametrize("seed", range(6))
def test_random_tiles_agree_with_ngspice(tmp_path, seed, v0):
    G, V, ohm = random_case(seed)
    got, netlist = circuit(tmp_path, G, V, v0=v0, **ohm)
    ref = ngspice(tmp_path, netlist, *got.shape)
    scale = np.abs(ref).max()
    assert np.abs(got - ref).max() <= 1e-9 * scale, (G.shape, ohm)


def test_sinh_tile_with_empty_cells_and_every_resistance(tmp_path):
    # The case issue #35 found refused as singular: zero cells with access nodes.
    rng = np.random.default_rng(7)
    G = rng.uniform(1.0, 100.0, size=(12, 9))
    G[::3, 1::2] = 0.0
    V = rng.uniform(-0.4, 0.4, size=(3, 12))
    ohm = dict(row_wire_ohm=1.0, col_wire_ohm=0.5, driver_ohm=50.0, sense_ohm=10.0, access_ohm=1000.0)
    got, netlist = circuit(tmp_path, G, V, v0=0.25, **ohm)
    ref = ngspice(tmp_path, netlist, 3, 9)
    assert np.abs(got - ref).max() <= 1e-9 * np.abs(ref).max()
    # Without wires and access resistance too (every node joined but the cells').
    got, netlist = circuit(tmp_path, G, V, v0=0.25)
    np.testing.assert_allclose(got, ngspice(tmp_path, netlist, 3, 9), rtol=0,
                               atol=1e-9 * np.abs(got).max())


def test_thread_count_changes_nothing(tmp_path):
    G, V, ohm = random_case(11)
    one, _ = circuit(tmp_path, G, V, threads=1, **ohm)
    two, _ = circuit(tmp_path, G, V, threads=2, **ohm)
    assert np.array_equal(one, two)
