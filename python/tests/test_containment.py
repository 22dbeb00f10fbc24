"""Untrusted HDF5 files are read once, in a bounded child process (issue #31): the parent never
calls libhdf5 on them, keeps its own deadline, opens regular files only, and refuses a bad
QS4D_READ_TIMEOUT_S. Each case runs the command line in a subprocess that must end with one
error line, never a signal, within seconds and a few hundred MB."""
import os
import resource
import shutil
import signal
import struct
import subprocess
import threading
import time

import h5py
import numpy as np
import pytest

BIN = os.environ.get("QS4D_BIN")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CKPT = os.path.join(ROOT, "data", "checkpoints", "fmnist196_s4d_h32_n32_l3.h5")
REPRO = os.path.join(ROOT, "tests", "reproducers")
pytestmark = pytest.mark.skipif(not BIN, reason="set QS4D_BIN (scripts/test.sh does)")


def run(args, env=None, timeout=60, preexec_fn=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    r = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})), preexec_fn=preexec_fn)
    return r, time.monotonic() - start, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def refused(r, *words):
    assert r.returncode not in (0,) and r.returncode < 128 and r.returncode > 0, (r.returncode, r.stderr)
    line = r.stderr.strip()
    assert line.count("\n") == 0, line
    for w in words:
        assert w in line, line
    return line


def huge_attribute_checkpoint(path):
    """A shipped checkpoint whose /meta carries a fixed-length string attribute, patched on disk to
    claim 4 GB (the datatype message's 4-byte size): a 60 KB file that asks for far more."""
    shutil.copy(CKPT, path)
    with h5py.File(path, "a") as f:
        f["meta"].attrs.create("huge", np.bytes_("x" * 4660), dtype="S4660")
    data = bytearray(open(path, "rb").read())
    marker = struct.pack("<I", 4660)
    hits = [i for i in range(len(data) - 8) if data[i] & 0x0F == 3 and data[i + 4:i + 8] == marker]
    assert hits, "no string datatype of size 4660 in the file"
    for i in hits:
        data[i + 4:i + 8] = struct.pack("<I", 0xFFFFFF00)
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("verb", ["info", "eval", "predict"])
def test_attribute_claiming_gigabytes_is_refused_quickly_and_small(tmp_path, verb):
    bad = str(tmp_path / "huge.h5")
    huge_attribute_checkpoint(bad)
    args = {"info": ["info", bad],
            "eval": ["eval", bad, "--data", bad],
            "predict": ["predict", bad, bad, "--input-dataset", "/x", "--out", str(tmp_path / "o.h5")]}[verb]
    r, seconds, peak_kb = run(args)
    refused(r, "huge.h5")
    assert seconds < 10, seconds
    assert peak_kb < 1024 * 1024, f"{peak_kb} KB"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "5s", "1e1", "99999999999", ""])
def test_bad_read_timeout_is_an_error_naming_the_variable(value):
    r, _, _ = run(["info", CKPT], env={"QS4D_READ_TIMEOUT_S": value})
    refused(r, "QS4D_READ_TIMEOUT_S", "1 to 86400")


def test_deadline_holds_when_the_launcher_blocks_sigalrm():
    block = lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # noqa: E731
    r, seconds, _ = run(["info", os.path.join(REPRO, "hdf5_endless_loop.h5")],
                        env={"QS4D_READ_TIMEOUT_S": "2"}, timeout=30, preexec_fn=block)
    refused(r, "did not finish within 2 s")
    assert seconds < 6, seconds


def test_fifo_and_device_are_refused_without_blocking(tmp_path):
    fifo = str(tmp_path / "fifo.h5")
    os.mkfifo(fifo)
    r, seconds, _ = run(["info", fifo], timeout=20)
    refused(r, "fifo.h5", "is a FIFO, expected a regular file")
    r, _, _ = run(["info", "/dev/zero"], timeout=20)
    refused(r, "/dev/zero", "is a character device")
    r, _, _ = run(["info", str(tmp_path)], timeout=20)
    refused(r, "is a directory")


def test_swapping_the_file_during_reads_never_crashes_the_parent(tmp_path):
    """The path flips between a good checkpoint and one that crashes libhdf5 while 200 reads run:
    each read ends normally or with one error line (the child read whichever file the parent
    opened), never with a signal."""
    good, bad = str(tmp_path / "good.h5"), str(tmp_path / "bad.h5")
    shutil.copy(CKPT, good)
    shutil.copy(os.path.join(REPRO, "hdf5_attr_exists_crash.h5"), bad)
    target = str(tmp_path / "swapped.h5")
    shutil.copy(good, target)
    stop = threading.Event()

    def flip():
        k = 0
        while not stop.is_set():
            tmp = target + ".new"
            shutil.copy(bad if k % 2 else good, tmp)
            os.replace(tmp, target)
            k += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        outcomes = set()
        for _ in range(200):
            r = subprocess.run([BIN, "info", target], capture_output=True, text=True, timeout=60)
            assert 0 <= r.returncode < 128, (r.returncode, r.stderr)
            outcomes.add(r.returncode)
    finally:
        stop.set()
        flipper.join()
    assert outcomes, "no read ran"


def test_results_never_write_through_a_planted_symlink(tmp_path):
    """Result files go through an exclusively created temporary with an unpredictable name and a
    rename: a symlink planted at the result's own path is replaced, its target left as it was,
    and no temporary is left behind. The old temporary name (OUT.tmp.PID) is planted too, for the
    next hundred process ids."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    with h5py.File(tmp_path / "tile.h5", "w") as f:
        f["G"], f["v"] = np.full((2, 2), 10.0), np.full((1, 2), 0.1)
    out_json, out_h5 = tmp_path / "r.json", tmp_path / "i.h5"
    pid = os.getpid()
    for out in (out_json, out_h5):
        os.symlink(victim, out)
        for k in range(1, 100):
            os.symlink(victim, f"{out}.tmp.{pid + k}")
    data = os.path.join(ROOT, "data", "datasets", "fashion_mnist_196_test.h5")
    if not os.path.exists(data):  # a fresh clone: the test split ctest wrote
        data = os.path.join(os.path.dirname(os.path.dirname(BIN)), "fixtures", "datasets", "fashion_mnist_196_test.h5")
    r, _, _ = run(["eval", CKPT, "--data", data, "--limit", "20", "--json", str(out_json)])
    assert r.returncode == 0, r.stderr
    r, _, _ = run(["circuit", "--in", str(tmp_path / "tile.h5"), "--out", str(out_h5)])
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious\n"
    assert not out_json.is_symlink() and '"accuracy"' in out_json.read_text()
    assert not out_h5.is_symlink() and h5py.File(out_h5)["i"].shape == (1, 2)
    leftovers = [p for p in os.listdir(tmp_path) if ".tmp." in p and not os.path.islink(tmp_path / p)]
    assert leftovers == []
