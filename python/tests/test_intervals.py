"""eval --chip reports a 95% t-interval of the mean over chips (issue #30), checked against scipy's
Student t quantile on the per-chip accuracies the same report lists: below 30 chips (the table)
and above (the Cornish-Fisher expansion)."""
import json
import math
import os
import subprocess

import pytest
from scipy import stats

BIN = os.environ.get("QS4D_BIN")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")
pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")


def data_path():
    path = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_test.h5")
    if os.path.exists(path):
        return path
    return os.path.join(os.path.dirname(os.path.dirname(BIN)), "fixtures", "datasets", "fashion_mnist_196_test.h5")


@pytest.mark.parametrize("chips", [1, 3, 40])
def test_ci95_is_the_t_interval_over_chips(tmp_path, chips):
    out = tmp_path / "e.json"
    subprocess.run([BIN, "eval", CKPT, "--data", data_path(), "--limit", "200", "--chip", "pcm_512",
                    "--trials", str(chips), "--times", "1s,1d", "--energy-samples", "0", "--json", str(out)],
                   check=True, capture_output=True, text=True)
    spreads = []
    for r in json.loads(out.read_text())["results"]:
        acc = r["analog_accuracy_per_trial"]
        assert r["chips"] == chips == len(acc)
        if chips == 1:
            assert r["analog_accuracy_ci95"] is None
            continue
        n = len(acc)
        mean = sum(acc) / n
        sd = math.sqrt(sum((a - mean) ** 2 for a in acc) / (n - 1))
        half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        lo, hi = r["analog_accuracy_ci95"]
        assert abs(lo - (mean - half)) <= 1e-4 * max(half, 1e-9) + 1e-9
        assert abs(hi - (mean + half)) <= 1e-4 * max(half, 1e-9) + 1e-9
        spreads.append(half)
    assert chips == 1 or max(spreads) > 0, "the chips should differ somewhere"
