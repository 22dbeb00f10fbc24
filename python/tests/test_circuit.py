"""qs4dsim circuit against an independent nodal solution written here with scipy (issue #13):
every node kept (no merging), sources and senses as known voltages, SuperLU on the rest."""
import os
import subprocess

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

BIN = os.environ.get("QS4D_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")


def nodal_currents(G, V, r_row, r_col, r_drv, r_sense):
    """Column currents (batch, cols) in uA for conductances G (uS) and row voltages V (V)."""
    R, C = G.shape
    n = 2 * R * C + R + C                       # row nodes, column nodes, sources, senses
    row = lambda i, j: i * C + j
    col = lambda i, j: R * C + i * C + j
    src = lambda i: 2 * R * C + i
    sen = lambda j: 2 * R * C + R + j
    a, b, g = [], [], []

    def edge(p, q, cond):
        a.append(p), b.append(q), g.append(cond)
    for i in range(R):
        edge(src(i), row(i, 0), 1e6 / r_drv)
        for j in range(C - 1):
            edge(row(i, j), row(i, j + 1), 1e6 / r_row)
        for j in range(C):
            edge(row(i, j), col(i, j), G[i, j])
    for j in range(C):
        for i in range(R - 1):
            edge(col(i, j), col(i + 1, j), 1e6 / r_col)
        edge(col(R - 1, j), sen(j), 1e6 / r_sense)
    a, b, g = np.array(a), np.array(b), np.array(g)
    lap = sp.coo_matrix((np.concatenate([g, g, -g, -g]),
                         (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
                        shape=(n, n)).tocsr()
    known = np.arange(2 * R * C, n)
    free = np.arange(2 * R * C)
    vk = np.zeros((len(known), V.shape[0]))
    vk[:R] = V.T                                   # senses stay at 0 V
    vu = spla.splu(lap[free][:, free].tocsc()).solve(-(lap[free][:, known] @ vk))
    volts = np.zeros((n, V.shape[0]))
    volts[free], volts[known] = vu, vk
    # Current into each sense node through its one element.
    return ((volts[[col(R - 1, j) for j in range(C)]] - 0.0) * (1e6 / r_sense)).T


def run_circuit(tmp_path, G, V, **ohm):
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["G"], f["v"] = G, V
    args = [BIN, "circuit", "--in", str(tmp_path / "in.h5"), "--out", str(tmp_path / "out.h5")]
    for key, value in ohm.items():
        args += [f"--{key.replace('_', '-')}", repr(value)]
    subprocess.run(args, check=True, capture_output=True)
    with h5py.File(tmp_path / "out.h5") as f:
        return f["i"][()], f["A"][()]


@pytest.mark.parametrize("r", [0.5, 1.0, 2.5])
def test_exact_solver_matches_independent_nodal_solution_256(tmp_path, r):
    rng = np.random.default_rng(0)
    # 4-bit codes on differential pairs in a 1-100 uS window, as the reviewer used.
    codes = rng.integers(-7, 8, size=(256, 128))
    pos = 1 + 99 * np.clip(codes, 0, None) / 7
    neg = 1 + 99 * np.clip(-codes, 0, None) / 7
    G = np.empty((256, 256))
    G[:, 0::2], G[:, 1::2] = pos, neg
    V = rng.uniform(-0.2, 0.2, size=(3, 256))
    ohm = dict(row_wire_ohm=r, col_wire_ohm=r, driver_ohm=10.0, sense_ohm=1.0)
    got, A = run_circuit(tmp_path, G, V, **ohm)
    ref = nodal_currents(G, V, r, r, 10.0, 1.0)
    assert np.abs(got - ref).max() <= 1e-6 * np.abs(ref).max()
    assert np.allclose(got, V @ A.T, rtol=0, atol=1e-9 * np.abs(got).max())
    # The wires matter here: the ideal product is far off (the first-order model's failure).
    assert np.abs(V @ G - ref).max() > 0.05 * np.abs(ref).max()


def test_zero_resistance_is_the_ideal_product(tmp_path):
    rng = np.random.default_rng(1)
    G = rng.uniform(0, 50, size=(20, 30))
    V = rng.uniform(-1, 1, size=(4, 20))
    got, A = run_circuit(tmp_path, G, V)
    assert np.array_equal(A, G.T)
    assert np.allclose(got, V @ G, rtol=1e-12, atol=0)


def test_bad_input_is_refused(tmp_path):
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["G"], f["v"] = np.ones((3, 4)), np.ones((2, 5))
    r = subprocess.run([BIN, "circuit", "--in", str(tmp_path / "in.h5"), "--out",
                        str(tmp_path / "o.h5")], capture_output=True, text=True)
    assert r.returncode != 0 and "'/v' has 5 columns, expected 3" in r.stderr


def nonlinear_nodal_currents(G, v, v0, r_row, r_col, r_drv, r_sense):
    """Column currents (cols,) in uA for one input vector with cells I = G v0 sinh(dV / v0),
    solved here with scipy's root finder on every node's Kirchhoff equation (no shared code)."""
    from scipy.optimize import root
    R, C = G.shape
    row = lambda i, j: i * C + j
    col = lambda i, j: R * C + i * C + j
    wires = []                                   # (node or ('src', i), node or ('sen', j), g)
    for i in range(R):
        wires.append((("src", i), row(i, 0), 1e6 / r_drv))
        for j in range(C - 1):
            wires.append((row(i, j), row(i, j + 1), 1e6 / r_row))
    for j in range(C):
        for i in range(R - 1):
            wires.append((col(i, j), col(i + 1, j), 1e6 / r_col))
        wires.append((col(R - 1, j), ("sen", j), 1e6 / r_sense))

    def volt(x, node):
        if isinstance(node, tuple):
            return v[node[1]] if node[0] == "src" else 0.0
        return x[node]

    def kcl(x):
        out = np.zeros(2 * R * C)                # current leaving each node
        for p, q, g in wires:
            i = g * (volt(x, p) - volt(x, q))
            if not isinstance(p, tuple):
                out[p] += i
            if not isinstance(q, tuple):
                out[q] -= i
        for i in range(R):
            for j in range(C):
                cur = G[i, j] * v0 * np.sinh((x[row(i, j)] - x[col(i, j)]) / v0)
                out[row(i, j)] += cur
                out[col(i, j)] -= cur
        return out

    sol = root(kcl, np.zeros(2 * R * C), method="hybr", tol=1e-14)
    # Accepted on its own Kirchhoff residual, not on hybr's verdict: at tol 1e-14 MINPACK may stop
    # with "xtol too small" at a solution already exact to rounding (seen on one CI machine).
    residual = np.abs(kcl(sol.x)).max()
    assert residual < 1e-9, (sol.message, residual)  # uA; the column currents are 0.5-40 uA
    return np.array([sol.x[col(R - 1, j)] * 1e6 / r_sense for j in range(C)])


def test_nonlinear_cells_match_an_independent_root_finder(tmp_path):
    """--cell-v0: Newton on the nodal equations against scipy's root finder on a 4 x 3 tile
    (cells 1-100 uS, v0 = 0.25 V, inputs up to 0.4 V: sinh well away from linear)."""
    rng = np.random.default_rng(9)
    G = rng.uniform(1.0, 100.0, size=(4, 3))
    V = rng.uniform(-0.4, 0.4, size=(2, 4))
    ohm = dict(row_wire_ohm=200.0, col_wire_ohm=300.0, driver_ohm=1000.0, sense_ohm=500.0)
    i_nl, _ = run_circuit(tmp_path, G, V, cell_v0=0.25, **ohm)
    i_lin, _ = run_circuit(tmp_path, G, V, **ohm)
    for b in range(V.shape[0]):
        ref = nonlinear_nodal_currents(G, V[b], 0.25, 200.0, 300.0, 1000.0, 500.0)
        np.testing.assert_allclose(i_nl[b], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
        assert np.abs(i_nl[b] - i_lin[b]).max() > 1e-3 * np.abs(i_lin[b]).max()  # it is nonlinear
