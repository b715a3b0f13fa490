"""Realistic pictures as files: each kind's mix of formats (PNG, JPEG, TIFF, BMP, WebP) and
:func:`write_set`, a labelled folder of them plus ``labels.csv`` (columns file,label,kind).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .kinds import KINDS

# (format, weight) per kind; kinds not listed use DEFAULT_FORMATS
DEFAULT_FORMATS = [("png", 0.45), ("jpeg", 0.33), ("tiff", 0.08), ("bmp", 0.06), ("webp", 0.08)]


FORMATS = {
    "small": [("png", 1.0)],
    "scan": [("jpeg", 1.0)],
    "rgba": [("png", 1.0)],
    "photo": [("jpeg", 1.0)],
    "shadow": [("jpeg", 1.0)],
}


EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "bmp": "bmp", "webp": "webp"}


def encode(img: Image.Image, kind: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Encode ``img`` in a format drawn from the kind's format mix; returns (bytes, file extension)."""
    table = FORMATS.get(kind, DEFAULT_FORMATS)
    names = [f for f, _ in table]
    weights = np.array([p for _, p in table], float)
    fmt = str(rng.choice(names, p=weights / weights.sum()))
    buf = io.BytesIO()
    if fmt == "jpeg":
        lo, hi = (50, 90) if kind in ("scan", "photo", "shadow") else (60, 95)
        img = img.convert("RGB") if img.mode not in ("L", "RGB") else img
        img.save(buf, "JPEG", quality=int(rng.integers(lo, hi + 1)), subsampling=int(rng.choice([0, 2])))
    elif fmt == "webp":
        if rng.random() < 0.4:
            img.save(buf, "WEBP", lossless=True)
        else:
            img.save(buf, "WEBP", quality=int(rng.integers(70, 96)))
    elif fmt == "tiff":
        img.save(buf, "TIFF", compression=str(rng.choice(["raw", "tiff_lzw", "tiff_deflate"])))
    elif fmt == "bmp":
        img.save(buf, "BMP")
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue(), EXTENSIONS[fmt]


def write_set(
    out_dir: str | Path, x: np.ndarray, y: np.ndarray, kinds: Iterable[str], n_per_kind: int, seed: int
) -> list[tuple[Path, int, str]]:
    """Write ``n_per_kind`` images of each kind into ``out_dir`` plus ``labels.csv``; return (path, label, kind) rows.

    The same random sample of ``n_per_kind`` digits of ``x`` (uint8 (N, 28, 28),
    white on black) is rendered in every kind, so kinds compare on equal digits.
    Everything is reproducible from ``seed``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})")
    pick = np.random.default_rng(seed).choice(len(x), size=n_per_kind, replace=n_per_kind > len(x))
    rows: list[tuple[Path, int, str]] = []
    for kind in kinds:
        salt = zlib.crc32(kind.encode())  # stable per kind, independent of the order kinds are given in
        for i, idx in enumerate(pick):
            rng = np.random.default_rng([seed, salt, i])
            data, ext = encode(KINDS[kind](x[idx], rng), kind, rng)
            path = out / f"{kind}_{i:05d}.{ext}"
            path.write_bytes(data)
            rows.append((path, int(y[idx]), kind))
    with open(out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "kind"])
        writer.writerows((p.name, label, kind) for p, label, kind in rows)
    return rows
