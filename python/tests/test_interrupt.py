"""Ctrl-C stops a long call of the module promptly (issue #33): a SIGINT 2 s into a long evaluate
ends it within a second more with KeyboardInterrupt, and the module still works after it."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("qs4dsim")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

SCRIPT = r"""
import sys, time, qs4dsim
ckpt = qs4dsim.Checkpoint.load(sys.argv[1] + "/data/checkpoints/fmnist196_s4d_h64_n64_l4_qat4.h5")
data = qs4dsim.Dataset.load(sys.argv[1] + "/data/datasets/fashion_mnist_196_test.h5", limit=2000)
cal = qs4dsim.Dataset.load(sys.argv[1] + "/data/datasets/fashion_mnist_196_train.h5", limit=16)
small = qs4dsim.Dataset.load(sys.argv[1] + "/data/datasets/fashion_mnist_196_test.h5", limit=8)
print("ready", flush=True)
try:
    qs4dsim.evaluate(ckpt, data.x, data.y, chip="pcm_512", trials=40, times="0,1h,1d", calibration=cal.x)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted at", time.time(), flush=True)
    # the module still works after it
    r = qs4dsim.evaluate(ckpt, small.x, small.y, chip="pcm_512", calibration=cal.x, energy_samples=0)
    print("after", r["results"][0]["analog_accuracy_mean"], flush=True)
"""


def test_sigint_stops_a_long_evaluate_within_a_second():
    env = dict(os.environ, OMP_NUM_THREADS="2")
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, ROOT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(2.0)
    sent = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert "finished" not in out and "interrupted" in lines, out
    assert float(lines["interrupted"].split()[-1]) - sent < 1.0, out
    assert float(lines["after"]) >= 0


def test_progress_callback_sees_every_chip_pass():
    ckpt = qs4dsim_module().Checkpoint.load(os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5"))
    q = qs4dsim_module()
    data = q.Dataset.load(os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_test.h5"), limit=200)
    cal = q.Dataset.load(os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_train.h5"), limit=16)
    seen = []
    q.evaluate(ckpt, data.x, data.y, chip="pcm_512", trials=4, times="0,1h", calibration=cal.x,
               energy_samples=0, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (8, 8) and all(t == 8 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    quiet = q.evaluate(ckpt, data.x, data.y, chip="pcm_512", calibration=cal.x, energy_samples=0, progress=False)
    assert quiet["results"]


def qs4dsim_module():
    import qs4dsim
    return qs4dsim
