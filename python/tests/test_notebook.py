"""docs/tutorial.ipynb executes from top to bottom (issue #33), as nbconvert runs it: in the system
interpreter's kernel, from the repository root, with the module of this build."""

import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytest.importorskip("nbconvert")
pytest.importorskip("ipykernel")
qs4dsim = pytest.importorskip("qs4dsim")


def test_the_notebook_executes(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(qs4dsim.__file__), os.path.join(ROOT, "python"),
                                                    env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    r = subprocess.run(["/usr/bin/python3", "-m", "nbconvert", "--to", "notebook", "--execute",
                        "--ExecutePreprocessor.timeout=600", "--output-dir", str(tmp_path),
                        os.path.join(ROOT, "docs", "tutorial.ipynb")],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    import nbformat
    nb = nbformat.read(str(tmp_path / "tutorial.ipynb"), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "execute_result" for o in outputs) == 4
