"""pip install . makes a wheel that works from any directory (issue #33): the module, the qs4d
package and the presets, installed into a fresh virtual environment (with the system's torch,
numpy and h5py) and used from a folder outside the source tree."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("QS4D_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does): the build to package")


def test_the_wheel_installs_and_works_outside_the_tree(tmp_path):
    build = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))  # BIN is BUILD/bin/qs4dsim
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QS4D_DATA_DIR")}
    env["QS4D_BUILD_DIR"] = build
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-deps", "--no-index",
                        ROOT], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    away = tmp_path / "elsewhere"
    away.mkdir()
    script = """
import numpy as np, qs4dsim, qs4d.model
assert qs4dsim.data_dir().endswith("qs4dsim_data"), qs4dsim.data_dir()
chip = qs4dsim.Chip.load("pcm_512")
dev = qs4dsim.Device.load("rram_wan2022")
g = dev.program(np.array([5.0, 20.0]), seed=1).g_uS
print("ok", chip.name, g.shape, qs4dsim.__file__)
"""
    r = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, env=env,
                       cwd=away)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok pcm_512 (2,)") and str(venv) in r.stdout
    assert not os.path.exists(os.path.join(ROOT, "qs4dsim.egg-info"))  # the tree stays clean
