"""Training digits drawn as users' pictures, read back the way the daemon reads them.

MNIST digits pass through ``normalize`` as clean 28x28 arrays; users' files do
not: a phone photo or a JPEG scan reaches the network after decoding, paper
and shadow removal, cropping and scaling, and keeps traces of all of them. A
recipe with ``rendered = N`` adds N training digits per network drawn as one
of the kinds of :mod:`training.realistic` (a pen drawing, a photo on a desk, a
scan, ...), saved in that kind's file format, decoded by the daemon's decoder
and normalised - the network learns the inputs it will serve.

A render can lose its digit (a shadow across a thin stroke, a crop into the
ink), or make an MNIST digit whose label is doubtful unreadable. A *teacher*
(the model served so far) filters them: renders it misreads are left out (0.6%
of them), so they never teach a wrong label. Measured with one member of the
bundled ensemble retrained on MNIST plus 20,000 renders: without that filter
the ensemble missed 216 of 21,600 rendered test digits, with it 198 (before:
214); a filter by the render's likeness to its MNIST input caught too few of
the misread renders to be useful.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from digitwatch.daemon.errors import ImageError
from digitwatch.daemon.recognize import Limits, digit_input

from . import realistic


def _render_chunk(job: tuple[np.ndarray, np.ndarray, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    digits, numbers, seed = job
    kinds = list(realistic.KINDS)
    out = np.zeros((len(digits), 28, 28), np.float32)
    kind_of = np.zeros(len(digits), np.int8)
    read = np.zeros(len(digits), bool)
    for i, (digit, number) in enumerate(zip(digits, numbers)):
        rng = np.random.default_rng([seed, int(number)])
        k = int(rng.integers(len(kinds)))
        data, _ = realistic.encode(realistic.KINDS[kinds[k]](digit, rng), kinds[k], rng)
        kind_of[i] = k
        try:
            out[i] = digit_input(data, Limits().max_pixels)[0][0]  # the view training sees (normalize's)
            read[i] = True
        except ImageError:  # the render lost the digit (refused as blank): not a training example
            pass
    return out, kind_of, read


def render(x: np.ndarray, seed: int, workers: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each digit of ``x`` (uint8 (N, 28, 28)) drawn as a random kind, encoded, decoded and normalised.

    Returns (inputs float32 (N, 28, 28), kind index per digit into ``realistic.KINDS``, read: whether
    the daemon found a digit at all). Reproducible from ``seed``, whatever ``workers`` is.
    """
    workers = workers or os.cpu_count() or 1
    numbers = np.arange(len(x))
    jobs = [(x[c], numbers[c], seed) for c in np.array_split(np.arange(len(x)), max(1, workers * 8)) if len(c)]
    if workers == 1 or len(x) < 200:
        parts = [_render_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_render_chunk, jobs))
    return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


def training_pictures(
    x: np.ndarray, y: np.ndarray, n: int, seed: int, teacher: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """``n`` digits of ``x`` (drawn with ``seed``) as served inputs (M, 28, 28) with their labels.

    Renders the daemon refuses are left out, and with a ``teacher`` (inputs (N, 28, 28, 1) ->
    probabilities (N, 10)) those it misreads; the counts say how many.
    """
    pick = np.sort(np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False))
    inputs, _, read = render(x[pick], seed)
    keep = read.copy()
    if teacher is not None and read.any():
        keep[read] = teacher(inputs[read][..., None]).argmax(1) == y[pick][read]
    counts = {"drawn": int(len(pick)), "refused": int((~read).sum()), "misread": int((read & ~keep).sum())}
    return inputs[keep], y[pick][keep], counts
