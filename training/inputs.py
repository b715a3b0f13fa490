"""Turn MNIST arrays into network inputs, through the same function the daemon serves with."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from digitwatch.daemon.errors import ImageError
from digitwatch.daemon.preprocess import normalize


def _normalize_chunk(chunk: np.ndarray) -> np.ndarray:
    out = np.empty(chunk.shape, dtype=np.float32)
    for i, img in enumerate(chunk):
        try:
            out[i] = normalize(img)
        except ImageError:  # a near-blank MNIST digit: keep it as it is
            out[i] = img / 255.0
    return out


def prepare(x: np.ndarray, use_normalize: bool, workers: int | None = None) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in 0..1; ``use_normalize`` as the recipe says."""
    if not use_normalize:
        return (x.astype(np.float32) / 255.0)[..., None]
    workers = workers or os.cpu_count() or 1
    if len(x) < 2000 or workers == 1:
        return _normalize_chunk(x)[..., None]
    chunks = np.array_split(x, workers * 4)
    with ProcessPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(_normalize_chunk, chunks)))[..., None]
