"""Real handwriting by writers outside MNIST, as pictures a user would drop, read through the serving path.

Three sets (none of them in MNIST): 1,000 USPS zip-code digits and 1,592 Semeion digits
(``../shared/data/other-writers/``), and the 1,797 UCI optical-recognition digits (shipped in
``tests/data``). Each set is split once, for good, in its own order: the first 40% to *train* on,
then a 10% *gap* no one reads, then the *held-out* part (40%) that no training or fitting ever
sees, and last 10% to *calibrate* on (the confidence temperature is fitted there). The sets were
recorded writer after writer (Semeion and UCI in cycles of 0-9 per group of writers), so the gap
keeps the writers trained on out of the held-out and calibration parts: a calibration part next
to the training part shared its writers and fitted a temperature for familiar hands (0.86, where
the held-out part wanted 1.06). Held-out figures say how the model reads people it has not met.

A digit reaches the network as a user's file would: written as a PNG (dark ink on light paper) at
its own size or enlarged, decoded and normalised by the daemon's own ``digit_input`` - training
and measurement read exactly what the daemon serves.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from digitwatch.daemon.errors import DataError, ImageError
from digitwatch.daemon.recognize import Limits, digit_input
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "other-writers"
UCI_CSV = REPO / "tests" / "data" / "optdigits-8x8.csv.gz"
# Where each part of a set starts and ends, as shares of the set. Why 40% held out: 400-720 digits a set, enough
# to read a 0.3-point change; why a 10% gap: a Semeion or UCI cycle of writers is up to 12% of the set, so the
# gap leaves at most one group straddling; why 10% to calibrate: 100-180 digits a set fit one temperature.
PARTS = {"train": (0.0, 0.4), "held-out": (0.5, 0.9), "calibration": (0.9, 1.0), "all": (0.0, 1.0)}
# How a user's picture of a small scanned digit arrives: (factor, resampling). Own size, and enlarged
# the ways viewers, phones and scanners save it; training draws each digit at every one of them.
SIZES: tuple[tuple[int, Image.Resampling], ...] = (
    (1, Image.Resampling.NEAREST),
    (2, Image.Resampling.NEAREST),
    (4, Image.Resampling.BICUBIC),
    (7, Image.Resampling.BILINEAR),
)
MEASURED_SIZES = (0, 2)  # the bench reads each held-out digit at own size and 4x smooth (SIZES indices)


@dataclass(frozen=True)
class WriterSet:
    name: str
    x: np.ndarray  # (N, H, W) uint8, dark ink on light paper (a user's picture)
    y: np.ndarray  # (N,) int64 labels
    source: str

    def part(self, which: str) -> WriterSet:
        """One of PARTS: ``train``, ``calibration``, ``held-out`` or ``all``; fixed for good."""
        if which not in PARTS:
            raise DataError(f"unknown part {which!r}: one of {', '.join(PARTS)}")
        start, end = (round(len(self.y) * share) for share in PARTS[which])
        return WriterSet(self.name, self.x[start:end], self.y[start:end], self.source)


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as d:
        return (255 - d["x"]).astype(np.uint8), d["y"].astype(np.int64)


def _uci(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return (255 - np.round(table[:, :64].reshape(-1, 8, 8) * 255 / 16)).astype(np.uint8), table[:, 64]


LOADERS: dict[str, tuple[Path, Callable[[Path], tuple[np.ndarray, np.ndarray]]]] = {
    "usps": (SHARED / "usps-1000.npz", _npz),
    "semeion": (SHARED / "semeion.npz", _npz),
    "uci": (UCI_CSV, _uci),
}


def available() -> list[str]:
    """The sets whose files this checkout has (UCI always; the shared ones next to a checkout)."""
    return [name for name, (path, _) in LOADERS.items() if path.is_file()]


def load(name: str) -> WriterSet:
    if name not in LOADERS:
        raise DataError(f"unknown handwriting set {name!r}: one of {', '.join(LOADERS)}")
    path, read = LOADERS[name]
    if not path.is_file():
        raise DataError(f"handwriting set {name}: {path} not found")
    x, y = read(path)
    return WriterSet(name, x, y, str(path))


def picture(digit: np.ndarray, size: int) -> bytes:
    """One digit as the PNG a user would drop, at ``SIZES[size]``."""
    factor, resample = SIZES[size]
    img = Image.fromarray(digit)
    if factor > 1:
        img = img.resize((img.width * factor, img.height * factor), resample)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _read_chunk(job: tuple[np.ndarray, tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    digits, sizes = job
    out = np.zeros((len(digits) * len(sizes), 28, 28), np.float32)
    read = np.zeros(len(out), bool)
    for i, digit in enumerate(digits):
        for j, size in enumerate(sizes):
            try:
                out[i * len(sizes) + j] = digit_input(picture(digit, size), Limits().max_pixels)[0][0]
                read[i * len(sizes) + j] = True
            except ImageError:  # refused as blank: not a training example
                pass
    return out, read


def served_inputs(
    ws: WriterSet, sizes: tuple[int, ...] = tuple(range(len(SIZES))), workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every digit of ``ws`` at every size in ``sizes``, as the network's input (the first view the
    daemon reads): float32 (M, 28, 28) and labels; pictures the daemon refuses are left out."""
    workers = workers or os.cpu_count() or 1
    chunks = [c for c in np.array_split(np.arange(len(ws.y)), max(1, workers * 4)) if len(c)]
    jobs = [(ws.x[c], sizes) for c in chunks]
    if workers == 1 or len(ws.y) < 200:
        parts = [_read_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_read_chunk, jobs))
    x = np.concatenate([p[0] for p in parts])
    read = np.concatenate([p[1] for p in parts])
    y = np.repeat(ws.y, len(sizes))
    return x[read], y[read]
