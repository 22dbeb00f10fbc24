"""Writes docs/tutorial.ipynb: the Python half of docs/tutorial.md as a notebook (issue #33).

    /usr/bin/python3 python/scripts/make_tutorial_notebook.py

The test suite executes it (python/tests/test_notebook.py) with nbconvert; the kernel starts in
docs/, with the module importable (PYTHONPATH=build/bindings, or an installed wheel).
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CELLS = [
    ("md", """# QS4D-Sim from Python

The shipped 4-bit S4D model on simulated memristor chips, from a notebook: its accuracy as the
chip ages, what the devices hold, and a small sweep. Open it where it is (the kernel starts in
docs/) after a build (`PYTHONPATH=build/bindings`) or after
`pip install --no-build-isolation --no-deps .`. The data
comes from `python3 -m qs4d.data --out data/datasets --splits test,train --lengths 196`."""),
    ("code", """import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import qs4dsim

# Jupyter and nbconvert start the kernel in the notebook's folder, docs/: the repository is one up.
ckpt = qs4dsim.Checkpoint.load("../data/checkpoints/fmnist196_s4d_h64_n64_l4_qat4.h5")
test = qs4dsim.Dataset.load("../data/datasets/fashion_mnist_196_test.h5", limit=300)
train = qs4dsim.Dataset.load("../data/datasets/fashion_mnist_196_train.h5", limit=16)  # ADC calibration only
ckpt.info["d_model"], ckpt.info["n_layers"], len(test)"""),
    ("md", """## Accuracy as the chip ages

Four PCM chips (`pcm_512`), read right after programming and up to a day later. The ADC ranges
are calibrated on 16 training images, never on the images scored; the report's interval is the
95% t-interval of the mean over the chips."""),
    ("code", """report = qs4dsim.evaluate(ckpt, test.x, test.y, chip="pcm_512", trials=4, times="0,1h,1d",
                          calibration=train.x, energy_samples=0)
t = [r["time_s"] for r in report["results"]]
mean = [100 * r["analog_accuracy_mean"] for r in report["results"]]
low = [100 * r["analog_accuracy_ci95"][0] for r in report["results"]]
high = [100 * r["analog_accuracy_ci95"][1] for r in report["results"]]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.fill_between(range(len(t)), low, high, alpha=0.3, label="95% interval over 4 chips")
ax.plot(range(len(t)), mean, "o-", label="analog, mean")
ax.axhline(100 * report["digital_accuracy"], color="gray", ls=":", label="digital, quantized")
ax.set_xticks(range(len(t)), ["0 s", "1 h", "1 d"])
ax.set_ylabel("accuracy (%)")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
report["calibration"]["samples"], mean"""),
    ("md", """## What the devices hold

One chip, aged to a day: the weights its conductances realise now against the quantized weights
the checkpoint asked for (`ProgrammedChip.weights`), and the conductances around their targets."""),
    ("code", """chip = qs4dsim.program(ckpt, "pcm_512", seed=1)
chip.age("1d", calibration=train.x)
w = chip.weights("encoder")
g = chip.conductances("encoder")
fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2))
a.plot(w["quantized"].ravel(), w["realised"].ravel(), ".", ms=2)
a.set_xlabel("quantized weight"); a.set_ylabel("realised after 1 day")
used = g["target_uS"] > 0
b.hist((g["g_uS"] - g["target_uS"])[used].ravel(), bins=80)
b.set_xlabel("conductance - target (uS)")
fig.tight_layout()
float(np.corrcoef(w["quantized"].ravel(), w["realised"].ravel())[0, 1])"""),
    ("md", """## A small sweep: ADC resolution

Each point is two chips at one day; the same seeds at every point, so the chips differ only in
their converters."""),
    ("code", """bits = [4, 5, 6, 8]
rows = []
for b in bits:
    r = qs4dsim.evaluate(ckpt, test.x, test.y, chip=qs4dsim.Chip.load("pcm_512", {"periphery.adc_bits": b}),
                         trials=2, times="1d", calibration=train.x, energy_samples=0)["results"][0]
    rows.append((b, 100 * r["analog_accuracy_mean"], 100 * r["analog_accuracy_min"], 100 * r["analog_accuracy_max"]))
b_, m_, lo_, hi_ = map(np.array, zip(*rows))
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.errorbar(b_, m_, yerr=[m_ - lo_, hi_ - m_], marker="o", capsize=3, label="2 chips: mean, min-max")
ax.set_xlabel("ADC bits"); ax.set_ylabel("accuracy (%) after 1 day")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
rows"""),
]


def main():
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in CELLS:
        nb.cells.append(new_markdown_cell(text) if kind == "md" else new_code_cell(text))
    path = os.path.join(ROOT, "docs", "tutorial.ipynb")
    nbformat.write(nb, path)
    print(path)


if __name__ == "__main__":
    main()
