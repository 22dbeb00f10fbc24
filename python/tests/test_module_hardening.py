"""The Python module never crashes the interpreter on bad input (issue #31): each case runs in a
subprocess that must print OK after catching qs4dsim.Error, not die by a signal or raise another
exception type."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")

try:
    import qs4dsim  # noqa: F401
    HAVE = True
except ImportError:
    HAVE = False
pytestmark = pytest.mark.skipif(not HAVE and not os.environ.get("QS4D_REQUIRE_MODULE"),
                                reason="qs4dsim not importable (PYTHONPATH=build/bindings)")

PRELUDE = f"""
import numpy as np, qs4dsim
CKPT = {CKPT!r}
def expect_error(call):
    try:
        call()
    except qs4dsim.Error as e:
        assert str(e), "an empty message"
        return str(e)
    raise SystemExit("no qs4dsim.Error")
"""

CASES = {
    "state scan with H = 0": """
        modes = np.zeros((3, 0, 4), np.float32)
        expect_error(lambda: qs4dsim.state_scan_forward(modes, modes, np.zeros((2, 0, 5), np.float32), 7))
    """,
    "perturb with a 0-row weight": """
        chip = qs4dsim.Chip.load("pcm_512")
        m = expect_error(lambda: qs4dsim.perturb(chip, {"w": np.zeros((0, 4), np.float32)}))
        assert "empty shape" in m, m
        expect_error(lambda: qs4dsim.perturb(chip, {"w": np.zeros((4, 0), np.float32)}))
    """,
    "input numpy cannot convert (a broadcast view of 1e9 x 196 x 1)": """
        ck = qs4dsim.Checkpoint.load(CKPT)
        x = np.broadcast_to(np.float64(0.5), (10**9, 196, 1))
        m = expect_error(lambda: ck.predict(x))
        assert "x" in m, m
    """,
    "absurd and non-finite inputs": """
        ck = qs4dsim.Checkpoint.load(CKPT)
        for v in (3.4e38, np.inf, np.nan):
            x = np.full((2, 196, 1), 0.5, np.float32); x[1, 3, 0] = v
            m = expect_error(lambda: qs4dsim.evaluate(ck, x, np.zeros(2, np.int64)))
            assert "element" in m, m
    """,
    "negative energy samples": """
        ck = qs4dsim.Checkpoint.load(CKPT)
        x = np.full((2, 196, 1), 0.5, np.float32)
        m = expect_error(lambda: qs4dsim.evaluate(ck, x, np.zeros(2, np.int64), chip=qs4dsim.Chip.load("ideal"),
                                                  energy_samples=-3))
        assert "energy_samples" in m, m
    """,
    "NUL byte in a path": """
        for load in (qs4dsim.Checkpoint.load, qs4dsim.Dataset.load, qs4dsim.Chip.load, qs4dsim.Device.load):
            m = expect_error(lambda: load(CKPT + "\\0.h5"))
            assert "NUL" in m, m
    """,
    "a FIFO as chip": """
        import os, tempfile
        d = tempfile.mkdtemp(); fifo = os.path.join(d, "chip.json"); os.mkfifo(fifo)
        m = expect_error(lambda: qs4dsim.Chip.load(fifo))
        assert "FIFO" in m, m
    """,
    "invalid UTF-8 and terminal escapes in /meta": """
        import h5py, shutil, tempfile, os
        path = os.path.join(tempfile.mkdtemp(), "m.h5"); shutil.copy(CKPT, path)
        with h5py.File(path, "a") as f:
            f["meta"].attrs["bad"] = np.bytes_(b"\\xff\\xfe\\x1b[2J")
        info = qs4dsim.Checkpoint.load(path).info
        assert info["meta"]["bad"] == "\\\\xff\\\\xfe\\\\x1b[2J", info["meta"]["bad"]
    """,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_module_refuses_without_crashing(name):
    code = PRELUDE + textwrap.dedent(CASES[name]) + "\nprint('OK')\n"
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                       cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), \
        f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
