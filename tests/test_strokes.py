"""Uniform-width redrawing of MNIST digits (training augmentation)."""

from __future__ import annotations

import numpy as np
import pytest
from digitwatch.training.strokes import restroke, restroke_some, zhang_suen
from PIL import Image
from scipy import ndimage


def test_skeleton_is_one_pixel_wide() -> None:
    bar = np.zeros((20, 40), bool)
    bar[8:13, 5:35] = True
    skeleton = zhang_suen(bar)
    assert skeleton.any() and skeleton.sum(axis=0).max() == 1


def pen_width(digit: np.ndarray, zoom: int = 8) -> float:
    """The width of a digit's strokes in px: twice the Euclidean distance to the paper along the
    strokes' skeleton (its median), on a copy ``zoom`` times larger; minus one pixel of the zoomed
    copy, as distances run between pixel centres (a stroke n px wide has n+1 at its middle)."""
    side = digit.shape[0] * zoom
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) > 127
    distance = ndimage.distance_transform_edt(ink)
    return float(2 * np.median(distance[zhang_suen(ink)]) - 1) / zoom


WIDTHS = [1.6, 2.4, 3.2]


@pytest.mark.parametrize("width", WIDTHS)
def test_restroke_draws_the_requested_width(test_digits, width: float) -> None:
    """Within a quarter of the 0.8 px between the widths asked for (it was 0.9: wider than the gap,
    so a 2.4 px request drawn at 1.6 or 3.2 passed). Measured by ``pen_width``: the daemon's
    ``_stroke_width`` (2 x area / edge at 28x28) reads these three as 2.0, 2.1 and 2.6."""
    x, _ = test_digits
    measured = [pen_width(restroke(d, width)) for d in x[:30]]
    assert abs(float(np.median(measured)) - width) < 0.2, measured


def test_wider_requests_draw_wider_strokes(test_digits) -> None:
    x, _ = test_digits
    for d in x[:10]:
        widths = [pen_width(restroke(d, w)) for w in WIDTHS]
        assert widths == sorted(widths) and widths[-1] - widths[0] > 1.2, widths


def test_restroke_some_is_reproducible(test_digits) -> None:
    x, _ = test_digits
    a, b = restroke_some(x[:200], 0.3, seed=5), restroke_some(x[:200], 0.3, seed=5)
    changed = (a != x[:200]).any(axis=(1, 2)).mean()
    assert np.array_equal(a, b) and 0.15 < changed < 0.45
