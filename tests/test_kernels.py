"""The C kernels of the reading path (daemon/kernels/) give their numpy twins' answers exactly."""

from __future__ import annotations

import numpy as np
import pytest
from digitwatch.daemon.preprocess import measure

K = measure._kernels


def test_the_kernels_are_built_here() -> None:
    assert K is not None, "pip install did not build daemon/kernels/ (is a C compiler missing?)"


def _arrays(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Float arrays of the kinds the reading path measures: noise, an ink map's many zeros, a few
    levels, negative values, tiny values, two long ties, both float types, strided views."""
    out = []
    for t in range(count):
        n = int(rng.integers(1, 4000))
        dtype = np.float32 if t % 2 else np.float64
        a = rng.random(n).astype(dtype)
        kind = t % 7
        if kind == 1:
            a[a > 0.4] = 0
        elif kind == 2:
            a = (np.round(a * 4) / 4).astype(dtype)
        elif kind == 3:
            a = (a - 0.5).astype(dtype)
        elif kind == 4:
            a = (rng.normal(size=n) * 1e-30).astype(dtype)
        elif kind == 5:
            a[:] = 0.25
            a[: n // 3] = 0.5
        elif kind == 6:
            a = np.repeat(a, 3)[::3]  # a strided view
        out.append(a)
    return out


def test_kth_and_median_are_numpys_sort_and_median() -> None:
    rng = np.random.default_rng(5)
    for a in _arrays(rng, 3000):
        order = np.sort(a)
        for k in {0, len(a) // 2, len(a) - 1, int(rng.integers(0, len(a)))}:
            assert K.kth(a, k) == float(order[k])
        assert K.median(a) == float(np.median(a)) == measure.median_of_sorted(np.ravel(a))


def test_kth_orders_signed_zeros_infinities_and_nan_as_numpy() -> None:
    a = np.array([np.nan, 1.0, -0.0, np.inf, -np.inf, 0.0, -2.5, 3.0], np.float32)
    order = np.sort(a)
    for k in range(len(a)):
        got, want = K.kth(a, k), float(order[k])
        assert got == want or (np.isnan(got) and np.isnan(want))
    with pytest.raises(IndexError):
        K.kth(a, len(a))
    with pytest.raises(TypeError):
        K.kth(np.zeros(3, np.int32), 0)


def test_otsu_is_the_numpy_otsu() -> None:
    rng = np.random.default_rng(6)
    for i, values in enumerate(_arrays(rng, 2000)):
        a = np.abs(values)
        top = float(a.max()) if a.max() > 0 else 1.0
        top *= (0.5, 1.0, 2.0)[i % 3]  # values above ``top`` land in the last bin
        for bins in (2, 64, 256):
            assert K.otsu(a, top, bins, 1e-12) == measure.otsu_numpy(a, top, bins)


def test_stroke_width_counts_are_the_erosions() -> None:
    rng = np.random.default_rng(7)
    for t in range(2000):
        mask = rng.random((int(rng.integers(1, 50)), int(rng.integers(1, 50)))) < rng.random()
        if t % 3 == 0:
            mask = mask[::2, 1:]  # a strided view
        assert K.ink_and_inner(mask) == (int(mask.sum()), int(measure.eroded(mask).sum()))


def test_resized_is_pillows_resize() -> None:
    """Both of Pillow's orders of passes (down first when the height shrinks much more), either pass
    alone, enlarging and shrinking, strided views: the same float32 pixels."""
    rng = np.random.default_rng(8)
    for t in range(3000):
        a = rng.random(tuple(int(v) for v in rng.integers(1, 90, 2))).astype(np.float32)
        if t % 3 == 0:
            a[a < 0.5] = 0
        if t % 5 == 0 and a.shape[1] > 1:
            a = a[:, ::2]
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        if t % 7 == 0:
            height = a.shape[0]
        elif t % 7 == 1:
            width = a.shape[1]
        bilinear = bool(t % 2)
        want = measure.resized_by_pillow(a, height, width, bilinear)
        assert np.array_equal(measure.resized(a, height, width, bilinear), want)


def test_centre_of_mass_sums_as_numpy() -> None:
    """numpy's pairwise sums (blocks of 128 in eight lanes, halves beyond), float32 and float64: the
    same centre to the last bit, and the middle of an empty picture."""
    rng = np.random.default_rng(9)
    for t in range(3000):
        a = rng.random(tuple(int(v) for v in rng.integers(1, 45, 2))).astype(np.float32)
        if t % 2:
            a[a < 0.6] = 0
        if t % 50 == 0:
            a[:] = 0
        assert K.centre_of_mass(a) == measure.centre_of_mass_numpy(a)


def test_strokes_are_the_cropped_ink_scaled_by_its_core() -> None:
    """box.cropped's soft map: the mask dilated 8 ways, the ink on it, divided by its core quantile, clipped."""
    rng = np.random.default_rng(10)
    for t in range(3000):
        ink = rng.random(tuple(int(v) for v in rng.integers(1, 50, 2))).astype(np.float32)
        if t % 3 == 0:
            ink[ink < 0.3] = 0
        mask = ink > rng.random() * 0.8
        mask.flat[int(rng.integers(0, mask.size))] = True
        if t % 5 == 0 and ink.shape[1] > 2:
            ink, mask = ink[:, 1:], mask[:, 1:]
        if not mask.any():
            continue
        assert np.array_equal(measure.core_scaled(ink, mask, 0.9), measure.core_scaled_numpy(ink, mask, 0.9))
