import gzip
import os

import numpy as np
import pytest

from qs4d import data


def test_read_idx_checks_header(tmp_path):
    good = tmp_path / "good.gz"
    with gzip.open(good, "wb") as f:
        f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6)))
    assert data.read_idx(str(good)).tolist() == [[0, 1, 2], [3, 4, 5]]
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(5)))
    with pytest.raises(ValueError, match="5 values"):
        data.read_idx(str(short))
    bad = tmp_path / "bad"
    bad.write_bytes(bytes([1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(str(bad))


def test_pooling_averages_2x2_blocks():
    img = np.arange(28 * 28, dtype=np.uint8).reshape(1, 28, 28)
    seq = data.to_sequences(img, pool=2)
    assert seq.shape == (1, 196, 1)
    expected = img[0, :2, :2].astype(np.float32).mean() / 255.0
    assert seq[0, 0, 0] == pytest.approx(expected)
    assert data.to_sequences(img).shape == (1, 784, 1)


@pytest.mark.skipif(not os.path.exists(data.FASHION_DIR), reason="dataset-fashion-mnist absent")
def test_fashion_mnist_split_and_files(tmp_path):
    splits = data.fashion_mnist()
    assert len(splits["train"][0]) == 55000 and len(splits["val"][0]) == 5000
    assert len(splits["test"][0]) == 10000
    (path,) = data.prepare_fashion(str(tmp_path), splits=("val",), lengths=(196,))
    x, y = data.read_dataset(path)
    assert x.shape == (5000, 196, 1) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert sorted(set(y.tolist())) == list(range(10))


def test_mnist_variants_share_digits_and_permutation(tmp_path):
    import json
    pkg = tmp_path / "mnist"
    (pkg / "src" / "digits").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for digit in range(10):
        images = rng.uniform(0, 1, size=(310, 784)).round(3)
        (pkg / "src" / "digits" / f"{digit}.json").write_text(
            json.dumps({"data": images.reshape(-1).tolist()}))
    data.prepare_mnist(str(tmp_path / "out"), str(pkg))
    x, y = data.read_dataset(str(tmp_path / "out" / "mnist_784_test.h5"))
    xp, yp = data.read_dataset(str(tmp_path / "out" / "pmnist_784_test.h5"))
    xs, _ = data.read_dataset(str(tmp_path / "out" / "mnist_196_test.h5"))
    assert x.shape == (2000, 784, 1) and xs.shape == (2000, 196, 1)
    perm = data.pixel_permutation()
    assert sorted(perm.tolist()) == list(range(784))
    np.testing.assert_array_equal(xp, x[:, perm])
    np.testing.assert_array_equal(yp, y)
    np.testing.assert_allclose(xs[:, 0, 0], x[:, [0, 1, 28, 29], 0].mean(axis=1), rtol=1e-6)
    import h5py
    with h5py.File(tmp_path / "out" / "pmnist_784_test.h5") as f:
        np.testing.assert_array_equal(f["permutation"][()], perm)
