"""MNIST's training digits recorded as the real sets' scanners recorded theirs, for training.

The real sets by other writers (:mod:`training.writers`) reach users as small pictures: USPS's 16x16
grey digits filling the height, Semeion's 16x16 two-level digits stretched to fill the square, UCI's
8x8 digits of 17 levels (a 32x32 bitmap's 4x4 blocks counted). Their training parts hold only
1,756 digits by a few hundred writers; MNIST's thousands of writers, recorded the same three ways,
teach the network how many more hands look at those resolutions - data, not a reading rule. The
pictures then go through the daemon's own reading path at every size of ``writers.SIZES``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from . import writers

KINDS = ("usps", "semeion", "uci")
INK = 0.1  # coverage above which an MNIST pixel is ink (its crop)
SEMEION_CUT = (0.2, 0.5)  # Semeion's binarisation level, drawn per digit (a scanner's threshold varies)
UCI_CUT = (0.15, 0.45)  # the level UCI's 32x32 bitmaps were cut at before their blocks were counted


def _resized(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    """``ink`` (float 0..1) resized to ``width`` x ``height`` with area averaging (a scanner's cells)."""
    img = Image.fromarray(ink.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BOX)
    return np.clip(np.asarray(img, np.float32), 0.0, 1.0)


def _in_square(ink: np.ndarray, side: int) -> np.ndarray:
    """``ink`` scaled to fill ``side`` rows, its aspect kept (at most ``side`` wide), centred in a square."""
    h, w = ink.shape
    width = max(1, min(side, round(w * side / h)))
    out = np.zeros((side, side), np.float32)
    left = (side - width) // 2
    out[:, left : left + width] = _resized(ink, width, side)
    return out


def record(digit: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (28x28 uint8, white on black) as ``kind``'s scanner kept it: dark on light uint8."""
    ink = np.asarray(digit, np.float32) / 255.0
    rows, cols = np.nonzero(ink > INK)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    if kind == "usps":
        grey = _in_square(ink, 16)
        grey /= max(float(grey.max()), 1e-6)
    elif kind == "semeion":
        grey = (_resized(ink, 16, 16) > rng.uniform(*SEMEION_CUT)).astype(np.float32)
    elif kind == "uci":
        bitmap = _in_square(ink, 32) > rng.uniform(*UCI_CUT)
        counts = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))
        return (255 - np.round(counts * 255 / 16)).astype(np.uint8)  # as writers._uci stores UCI's
    else:
        raise ValueError(f"unknown scanner {kind!r}: one of {', '.join(KINDS)}")
    return np.round(255 * (1.0 - grey)).astype(np.uint8)


def scanned_part(
    x_train: np.ndarray, y_train: np.ndarray, n: int, seed: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` of the training digits ``x_train`` (MNIST's, past the validation split), a third recorded each
    way, read at every size as served inputs (M, 28, 28), their labels, and what was drawn."""
    if n <= 0:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64), {}
    rng = np.random.default_rng([seed, 29])
    pick = rng.choice(len(y_train), size=min(n, len(y_train)), replace=False)
    xs, ys, counts = [], [], {}
    for k, kind in enumerate(KINDS):
        chosen = pick[k :: len(KINDS)]
        pictures = np.stack([record(x_train[i], kind, rng) for i in chosen])
        labels = y_train[chosen].astype(np.int64)
        x, y = writers.served_inputs(writers.WriterSet(kind, pictures, labels, "mnist"), workers=workers)
        xs.append(x)
        ys.append(y)
        counts[kind] = {"digits": len(chosen), "inputs": len(y)}
    return np.concatenate(xs), np.concatenate(ys), {"drawn": int(len(pick)), **counts}
