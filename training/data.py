"""Load MNIST: a Keras-style mnist.npz, a folder of the four idx files, or Keras' download; and
:func:`default_mnist_path`, the one place that knows where a checkout finds its MNIST archive."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from digitwatch.daemon.errors import DataError, OfflineError

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


REPO = Path(__file__).resolve().parents[1]  # the checkout (training/ is one of its top-level folders)
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist.npz"  # the full archive kept next to the checkout
MNIST_SAMPLE = REPO / "tests" / "data" / "mnist-sample.npz"  # first 4,000 train and 1,000 test digits


def default_mnist_path(env: Mapping[str, str] | None = None) -> Path:
    """Where a checkout's tools (bench, training scripts) find MNIST: ``$MNIST_NPZ`` when set (even if
    it is wrong, so that :func:`load` names it), else ``../shared/data/mnist.npz`` next to the
    checkout, else the sample shipped with the tests. ``digitwatch train``/``evaluate`` do not use
    it: without ``--data`` they take Keras' download, as an installed package has no checkout."""
    named = (os.environ if env is None else env).get("MNIST_NPZ")
    if named:
        return Path(named)
    return SHARED_MNIST if SHARED_MNIST.is_file() else MNIST_SAMPLE


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8, 0..9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def load(path: str | os.PathLike[str] | None) -> Mnist:
    """Load and check MNIST from ``path``; with None, Keras' cached download."""
    if path is None:
        return _check(_download(), "keras.datasets.mnist")
    p = Path(path)
    if not p.exists():
        raise DataError(f"--data {p}: no such file or folder")
    arrays = _from_idx_folder(p) if p.is_dir() else _from_npz(p)
    return _check(arrays, str(p))


def _download() -> dict[str, np.ndarray]:
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # keras raises a bare Exception wrapping URLError
        local = default_mnist_path()
        hint = f"; this checkout has --data {local}" if local.is_file() and local != MNIST_SAMPLE else ""
        raise OfflineError(
            "cannot download MNIST (no network?): pass --data PATH to a mnist.npz "
            f"or a folder of the four idx files ({type(exc).__name__}){hint}"
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _from_npz(p: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(p, allow_pickle=False) as npz:
            missing = [k for k in IDX_FILES if k not in npz.files]
            if missing:
                raise DataError(f"--data {p}: missing arrays {missing} (expected x_train, y_train, x_test, y_test)")
            return {k: npz[k] for k in IDX_FILES}
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"--data {p}: not a readable .npz archive ({exc})") from None


def _from_idx_folder(p: Path) -> dict[str, np.ndarray]:
    out = {}
    for key, stem in IDX_FILES.items():
        candidates = [
            p / stem,
            p / f"{stem}.gz",
            p / stem.replace("-idx", ".idx"),
            p / f"{stem.replace('-idx', '.idx')}.gz",
        ]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"--data {p}: no {stem} or {stem}.gz in this folder")
        out[key] = _read_idx(found)
    return out


def _read_idx(f: Path) -> np.ndarray:
    opener = gzip.open if f.suffix == ".gz" else open
    try:
        with opener(f, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{f}: cannot read ({exc})") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{f}: not an idx file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape))
    if len(raw) != header + count:
        raise DataError(f"{f}: idx header says {shape} but the file holds {len(raw) - header} values")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _check(a: dict[str, np.ndarray], source: str) -> Mnist:
    for split in ("train", "test"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise DataError(f"{source}: x_{split}/y_{split} must be uint8, got {x.dtype}/{y.dtype}")
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{source}: x_{split} must have shape (N, 28, 28), got {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{source}: y_{split} must have shape ({len(x)},), got {y.shape}")
        if len(x) == 0:
            raise DataError(f"{source}: x_{split} is empty")
        if y.max() > 9:
            raise DataError(f"{source}: y_{split} holds labels outside 0..9")
    return Mnist(a["x_train"], a["y_train"], a["x_test"], a["y_test"], source)
