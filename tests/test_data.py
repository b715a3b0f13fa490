"""Loading MNIST in both formats, and clear errors for bad data."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import cli
from digitwatch.daemon.errors import DataError
from digitwatch.training import data


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_matches_npz(tmp_path: Path, mnist_path: Path, gz: bool) -> None:
    ref = data.load(mnist_path)
    for key, stem in data.IDX_FILES.items():
        write_idx(tmp_path / stem, getattr(ref, key)[:300], gz)
    got = data.load(tmp_path)
    assert np.array_equal(got.x_train, ref.x_train[:300]) and np.array_equal(got.y_test, ref.y_test[:300])


def test_npz(mnist_path: Path) -> None:
    d = data.load(mnist_path)
    assert d.x_train.shape[1:] == (28, 28) and d.x_train.dtype == np.uint8 and len(d.x_test) >= 1000


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    base = {
        "x_train": np.zeros((10, 28, 28), np.uint8),
        "y_train": np.zeros(10, np.uint8),
        "x_test": np.zeros((5, 28, 28), np.uint8),
        "y_test": np.zeros(5, np.uint8),
    }
    base.update(arrays)
    np.savez(path, **base)
    return path


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"x_train": np.zeros((10, 32, 32), np.uint8)}, "shape (N, 28, 28)"),
        ({"x_train": np.zeros((10, 28, 28), np.float32)}, "uint8"),
        ({"y_test": np.zeros(4, np.uint8)}, "y_test"),
        ({"y_train": np.full(10, 12, np.uint8)}, "labels outside"),
    ],
)
def test_bad_npz(tmp_path: Path, arrays: dict, words: str) -> None:
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        data.load(_npz(tmp_path / "bad.npz", **arrays))


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        data.load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        data.load(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="train-images"):
        data.load(tmp_path)


def test_train_with_bad_data_fails_clearly_and_publishes_nothing(tmp_path: Path) -> None:
    bad = _npz(tmp_path / "bad.npz", x_train=np.zeros((10, 28, 28), np.float64))
    for path, words in ((bad, ["x_train", "uint8", "float64"]), (tmp_path / "missing.npz", ["--data", "no such file"])):
        r = cli("train", "--data", str(path), "--checkpoint", str(tmp_path / "ck"), "--epochs", "1", cwd=tmp_path)
        assert r.returncode == 65, r.stderr
        (line,) = r.stderr.strip().splitlines()  # one line, no traceback
        assert line.startswith("digitwatch: error: ") and str(path) in line, line
        assert all(w in line for w in words), (words, line)
        assert not (tmp_path / "ck").exists() or not any((tmp_path / "ck").iterdir())


def test_offline_error_names_data_flag(tmp_path: Path) -> None:
    env = {
        "KERAS_HOME": str(tmp_path / "keras"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    r = cli("train", "--checkpoint", str(tmp_path / "ck"), "--epochs", "1", cwd=tmp_path, env=env)
    assert r.returncode == 69, r.stderr
    assert "--data" in r.stderr.splitlines()[-1] and "download" in r.stderr.splitlines()[-1]
    assert not (tmp_path / "ck").exists()
    datasets = tmp_path / "keras" / "datasets"
    assert datasets.is_dir(), "the download was not tried under KERAS_HOME (a cached copy elsewhere?)"
    assert not os.listdir(datasets), f"a failed download left files: {os.listdir(datasets)}"
