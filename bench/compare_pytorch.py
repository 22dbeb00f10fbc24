#!/usr/bin/env python3
"""Digital inference throughput: PyTorch (Debian's torch, OpenBLAS) against qs4dsim, same
checkpoint, same inputs, same thread count. Prints samples/s for each and the ratio.

    /usr/bin/python3 bench/compare_pytorch.py --qs4dsim build/bin/qs4dsim --threads 2

Without --checkpoint it writes a model of the size issue #2 names (H = 64, N = 64, 4 layers) with
the state-spaces initialisation. Inputs are the first --samples test images of sequential
Fashion-MNIST (L = 784) from Debian's dataset-fashion-mnist.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from qs4d import checkpoint, data  # noqa: E402
from qs4d.model import S4Model  # noqa: E402


def pytorch_rate(model, x, batch, repeats):
    with torch.no_grad():
        model(torch.from_numpy(x[:batch]))  # warm-up
        t0 = time.perf_counter()
        n = 0
        for _ in range(repeats):
            for i in range(0, len(x), batch):
                model(torch.from_numpy(x[i:i + batch]))
                n += len(x[i:i + batch])
        return n / (time.perf_counter() - t0)


def qs4dsim_rate(binary, ckpt, dataset, mode, batch, threads, workdir, repeats):
    rates = []
    for r in range(repeats):
        out = os.path.join(workdir, f"eval_{mode}_{r}.json")
        subprocess.run([binary, "eval", ckpt, "--data", dataset, "--mode", mode, "--batch",
                        str(batch), "--threads", str(threads), "--json", out], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            rates.append(json.load(f)["samples_per_s"])
    return max(rates)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qs4dsim", required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        ckpt = args.checkpoint
        if ckpt is None:
            torch.manual_seed(0)
            ckpt = os.path.join(work, "h64_n64_l4.h5")
            checkpoint.save(S4Model(d_input=1, d_output=10, d_model=64, n_layers=4, d_state=64,
                                    dropout=0.0), ckpt)
        model = checkpoint.load(ckpt)
        images, labels = data.fashion_mnist()["test"]
        x = data.to_sequences(images[:args.samples])
        dataset = os.path.join(work, "inputs.h5")
        data.write_dataset(dataset, x, labels[:args.samples], "fashion_mnist_784_test_head", 10,
                           "dataset-fashion-mnist")
        torch_rate = pytorch_rate(model, x, args.batch, args.repeats)
        print(f"checkpoint {ckpt}: H={model.d_model} N={model.d_state} layers={model.n_layers} "
              f"L={x.shape[1]} batch={args.batch} threads={args.threads} samples={len(x)}")
        print(f"pytorch {torch.__version__} (conv, FFT)  {torch_rate:9.1f} samples/s")
        for mode in ("conv", "recurrent"):
            rate = qs4dsim_rate(args.qs4dsim, ckpt, dataset, mode, args.batch, args.threads,
                                work, args.repeats)
            print(f"qs4dsim {mode:<10}            {rate:9.1f} samples/s  "
                  f"ratio {rate / torch_rate:5.2f}x")


if __name__ == "__main__":
    main()
