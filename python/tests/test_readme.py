"""README.md as a newcomer reads it (issue #29): its five-minute example runs as written from the
repository root with qs4dsim on the PATH, says what the text says it does, and the README stays
short (the rest lives in docs/)."""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(ROOT, "README.md")
BIN = os.environ.get("QS4D_BIN")


def example_block(text: str) -> str:
    return text.split("<!-- readme-example -->", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_is_short_and_links_exist():
    text = open(README).read()
    assert len(text.splitlines()) <= 200
    for link in re.findall(r"\]\(([^)#]+)\)", text):
        assert os.path.exists(os.path.join(ROOT, link)), link


@pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")
def test_five_minute_example_runs_as_written():
    script = "set -euo pipefail\n" + example_block(open(README).read())
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(BIN)) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(ROOT, "python"), env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    r = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"the README example failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    out = r.stdout
    assert re.search(r"^accuracy\s+0\.\d+ \(\d+ / 500\)", out, re.M)        # the digital reference
    times = re.findall(r"^\s+(1s|1h|1d)\s+0\.\d+", out, re.M)                # one row per time
    assert times == ["1s", "1h", "1d"], times
    assert "analog uses" in out and "TOPS/W" in out                        # the energy report
