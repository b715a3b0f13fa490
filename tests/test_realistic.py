"""The realistic-picture generator (training/realistic.py and its kinds, training/kinds.py): what its kinds promise."""

from __future__ import annotations

import math

import numpy as np
from digitwatch.training import kinds, realistic


def test_a_mark_too_big_for_the_canvas_shrinks_the_scene_rather_than_being_cut_onto_the_digit() -> None:
    """``marked`` promises a mark apart from the digit. A ring or box running off a narrow canvas
    was clipped to its edge - straight onto the digit (seed 1 marked_00426: a 5 whose tail ran
    into the clipped ring, read as 0). The scene is now scaled about the canvas's middle until
    the mark fits."""
    w, h = 300, 420
    centre = np.array([w / 2, h / 2])
    a = np.linspace(0, 2 * math.pi, 120)
    ring = np.stack([centre[0] + 190 * np.cos(a), centre[1] + 150 * np.sin(a)], axis=1)  # wider than the canvas
    lo, hi = np.array([5.0, 5.0]), np.array([w - 6.0, h - 6.0])
    fit = kinds._shrink_to_fit(ring, centre, lo, hi)
    shrunk = (ring - centre) * fit + centre
    assert 0.7 < fit < 1.0
    assert np.all(shrunk >= lo - 1e-6) and np.all(shrunk <= hi + 1e-6)
    assert np.isclose(np.max(np.abs(shrunk[:, 0] - centre[0])), hi[0] - centre[0])  # as big as fits, no smaller
    assert kinds._shrink_to_fit(ring * 0.5 + centre * 0.5, centre, lo, hi) == 1.0  # a mark that fits stays


def test_marked_pictures_that_had_to_shrink_still_hold_the_digit(test_digits, monkeypatch) -> None:
    """The scenes that did not fit (1 of these 60) are drawn smaller, digit and mark alike: a light
    canvas of the drawn size with dark ink on it."""
    x, _ = test_digits
    fits: list[float] = []
    shrink = kinds._shrink_to_fit
    monkeypatch.setattr(kinds, "_shrink_to_fit", lambda *a: fits.append(shrink(*a)) or fits[-1])
    for i in range(60):
        img = np.asarray(realistic.marked(x[i], np.random.default_rng([1, i])).convert("L"), np.float32) / 255
        assert min(img.shape) >= 0.7 * 300
        assert np.median(img) > 0.9 and img.min() < 0.3
        if fits[-1] < 1:
            assert (img < 0.5).sum() > 100  # the digit's and the mark's strokes, not a speck
    assert any(f < 1 for f in fits)
