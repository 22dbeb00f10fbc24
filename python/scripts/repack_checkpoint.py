"""Rewrites HDF5 files object by object into fresh files, in place.

HDF5 does not reclaim the space of attributes rewritten in place: a checkpoint whose /meta was
edited keeps the old bytes (once, the training machine's absolute paths) in unreferenced space.
A copy holds only what the file references. Every dataset and attribute is compared with the
original before the original is replaced.

    /usr/bin/python3 python/scripts/repack_checkpoint.py data/checkpoints/*.h5
"""
import os
import sys

import h5py
import numpy as np


def same(a, b):
    """Every object, value and attribute of a is in b, equal."""
    def attrs_equal(x, y):
        return set(x.attrs) == set(y.attrs) and all(
            np.array_equal(np.asarray(x.attrs[k]), np.asarray(y.attrs[k])) for k in x.attrs)
    names = []
    a.visit(names.append)
    if not attrs_equal(a, b):
        return False
    for n in names:
        if n not in b or not attrs_equal(a[n], b[n]):
            return False
        if isinstance(a[n], h5py.Dataset) and not (a[n].dtype == b[n].dtype and
                                                   np.array_equal(a[n][()], b[n][()])):
            return False
    return True


def repack(path):
    tmp = path + ".repack"
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name in src:
            src.copy(src[name], dst, name=name)
    with h5py.File(path, "r") as a, h5py.File(tmp, "r") as b:
        if not same(a, b):
            os.remove(tmp)
            raise SystemExit(f"{path}: the copy differs from the original; left unchanged")
    os.replace(tmp, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        repack(p)
        print(f"repacked {p}")
