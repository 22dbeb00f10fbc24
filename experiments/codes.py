"""Weight codes of the output projections: the 4-bit QAT model's stored codes against 4-bit
post-training codes of the FP32 model with one symmetric max scale per output (what
`mapping.quantization=post_training` with per_column granularity does on neurram_256). Writes
codes.png and codes.json (fraction of weights at each |code|) into the results folder: the
check of RESULTS section 2's explanation of why 4-bit QAT is less robust to programming noise.

    /usr/bin/python3 experiments/codes.py --out experiments/results
"""
import argparse
import json
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CK = "data/checkpoints"


def qat_codes(path):
    with h5py.File(path) as f:
        return np.concatenate([np.abs(f["quant"][k]["codes"][()]).ravel()
                               for k in f["quant"] if "output_linear" in k])


def post_training_codes(path, bits):
    qmax = 2 ** (bits - 1) - 1
    out = []
    with h5py.File(path) as f:
        for k in f["state_dict"]:
            if "output_linear.0.weight" in k:
                w = f["state_dict"][k][()].reshape(f["state_dict"][k].shape[0], -1)
                scale = np.abs(w).max(axis=1, keepdims=True) / qmax
                out.append(np.abs(np.round(w / scale)).ravel())
    return np.concatenate(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="experiments/results")
    a = p.parse_args()
    models = {"QAT 4 bit (stored codes, one LSQ scale per tensor)": qat_codes(f"{CK}/fmnist196_s4d_h64_n64_l4_qat4.h5"),
              "FP32 + post-training 4 bit (one max scale per output)":
                  post_training_codes(f"{CK}/fmnist196_s4d_h64_n64_l4_fp32.h5", 4)}
    summary = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (name, codes) in enumerate(models.items()):
        fractions = np.bincount(codes.astype(int), minlength=8)[:8] / len(codes)
        summary[name] = {"fraction_per_abs_code": [round(float(x), 4) for x in fractions],
                         "mean_abs_code": round(float(codes.mean()), 3), "weights": int(len(codes))}
        ax.bar(np.arange(8) + (i - 0.5) * 0.4, 100 * fractions, 0.4, label=name)
    ax.set_xlabel("|code| of an output-projection weight (4 bit: 0..7)")
    ax.set_ylabel("weights (%)")
    ax.set_yscale("log")
    ax.set_title("Codes of the H = 64 model's output projections")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "codes.png"), dpi=120)
    with open(os.path.join(a.out, "codes.json.tmp"), "w") as f:
        json.dump(summary, f, indent=2)
    os.replace(os.path.join(a.out, "codes.json.tmp"), os.path.join(a.out, "codes.json"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
