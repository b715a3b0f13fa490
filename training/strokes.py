"""Uniform-width pen strokes from MNIST digits, for training.

MNIST was written with pens on paper: strokes vary in width and have soft
edges. People who draw with a mouse, a tablet or a thin pen produce strokes of
one width. ``restroke`` redraws a digit along its skeleton with a chosen
uniform width, so the network also learns that look (the "stroke-width
changes" augmentation of the robust recipe).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

UPSCALE = 3


def zhang_suen(mask: np.ndarray) -> np.ndarray:
    """Thin a binary image to a one-pixel-wide 8-connected skeleton (Zhang & Suen, 1984)."""
    img = np.pad(np.asarray(mask, dtype=bool).astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            b = sum(p.astype(np.int32) for p in ring[:8])
            a = sum(((ring[k] == 0) & (ring[k + 1] == 1)).astype(np.int32) for k in range(8))
            cond = (img[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1)
            if step == 0:
                cond &= ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                cond &= ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            if cond.any():
                img[1:-1, 1:-1][cond] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def restroke(digit: np.ndarray, width: float) -> np.ndarray:
    """A 28x28 uint8 digit (white on black) redrawn along its skeleton with strokes ``width`` px wide."""
    size = digit.shape[0] * UPSCALE
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR), np.float32) / 255
    skeleton = zhang_suen(big > 0.5)
    if not skeleton.any():
        return digit
    distance = ndimage.distance_transform_edt(~skeleton)
    radius = width * UPSCALE / 2
    pen = np.clip(radius + 0.5 - distance, 0.0, 1.0)  # anti-aliased edge
    small = np.asarray(Image.fromarray(pen.astype(np.float32)).reduce(UPSCALE))
    return (np.clip(small, 0, 1) * 255).round().astype(np.uint8)


def _restroke_chunk(args: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    digits, widths = args
    return np.stack([restroke(d, w) for d, w in zip(digits, widths)])


def restroke_some(x: np.ndarray, fraction: float, seed: int, width: tuple[float, float] = (1.5, 3.2)) -> np.ndarray:
    """A copy of ``x`` in which a random ``fraction`` of the digits are redrawn with uniform strokes."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    rng = np.random.default_rng(seed)
    picked = np.flatnonzero(rng.random(len(x)) < fraction)
    widths = rng.uniform(*width, size=len(picked))
    out = x.copy()
    if len(picked) == 0:
        return out
    parts = np.array_split(np.arange(len(picked)), max(1, (os.cpu_count() or 1) * 4))
    jobs = [(x[picked[p]], widths[p]) for p in parts if len(p)]
    if len(picked) < 2000:
        done = [_restroke_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            done = list(pool.map(_restroke_chunk, jobs))
    out[picked] = np.concatenate(done)
    return out
