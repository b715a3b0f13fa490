"""Uniform-width redrawing of MNIST digits (training augmentation)."""

from __future__ import annotations

import numpy as np
import pytest
from digitwatch.daemon.preprocess import _stroke_width
from digitwatch.training.strokes import restroke, restroke_some, zhang_suen


def test_skeleton_is_one_pixel_wide() -> None:
    bar = np.zeros((20, 40), bool)
    bar[8:13, 5:35] = True
    skeleton = zhang_suen(bar)
    assert skeleton.any() and skeleton.sum(axis=0).max() == 1


@pytest.mark.parametrize("width", [1.6, 2.4, 3.2])
def test_restroke_draws_the_requested_width(test_digits, width: float) -> None:
    x, _ = test_digits
    measured = [_stroke_width(restroke(d, width) > 127) for d in x[:30]]
    assert abs(float(np.median(measured)) - width) < 0.9, measured


def test_restroke_some_is_reproducible(test_digits) -> None:
    x, _ = test_digits
    a, b = restroke_some(x[:200], 0.3, seed=5), restroke_some(x[:200], 0.3, seed=5)
    changed = (a != x[:200]).any(axis=(1, 2)).mean()
    assert np.array_equal(a, b) and 0.15 < changed < 0.45
