"""Paper and polarity: the paper's level (flat, or a grey opening for uneven paper) and which side of it ink lies on."""

from __future__ import annotations

import numpy as np

from .measure import box_mean, grey_closed, grey_opened, median, paper_window, quantile, quantiles, ring, sample
from .params import PARAMS

P = PARAMS.paper
SMOOTH = PARAMS.measure.smooth_window


def ink_map(
    a: np.ndarray, window: int | None = None, tight: bool = False, plain: bool = False, dark: bool | None = None
) -> tuple[np.ndarray, bool]:
    """:func:`ink_and_level`'s ink map and polarity."""
    ink, dark, _ = ink_and_level(a, window, tight, plain, dark)
    return ink, dark


def ink_and_level(
    a: np.ndarray, window: int | None = None, tight: bool = False, plain: bool = False, dark: bool | None = None
) -> tuple[np.ndarray, bool, bool]:
    """Ink strength per pixel (distance from the local paper level, on the ink's side), and whether
    the ink is dark - ``dark`` if given, else decided here (see :func:`dark_ink`).

    The paper level is a grey opening (it removes bright structures narrower than ``window``,
    i.e. the ink once made bright), smoothed - or, in a ``tight`` crop that ink covers most of,
    or a ``tight`` or ``plain`` picture (no sheet on a desk) with a flat border, the paper's one
    level (see :func:`paper_level`) - the third value: then no window was used, and another changes nothing."""
    smooth = box_mean(a, SMOOTH) if min(a.shape) >= SMOOTH else a
    paper, ink_heavy = paper_level(smooth, tight, plain)
    if dark is None:
        dark = dark_ink(smooth, paper, tight)
    if dark:
        a, smooth, paper = 1.0 - a, 1.0 - smooth, 1.0 - paper  # dark ink on light paper: make ink bright
    if ink_heavy:  # the paper between a tight crop's thick strokes is narrower than any window
        return np.clip(a - paper, 0.0, None), dark, True
    size = window or paper_window(a)
    # The opening of the smoothed image follows the paper's mean, not its noisiest dark grains.
    background = grey_opened(smooth, (min(size, a.shape[0]), min(size, a.shape[1])))
    # Smoothing takes the plateaus out of the opening but pulls it below the paper where the paper
    # darkens steeply (a vignetted scan's edges), which would read as ink: never go below the opening.
    background = np.maximum(box_mean(background, max(3, size // 2)), background)
    return np.clip(a - background, 0.0, None), dark, False


def dark_ink(smooth: np.ndarray, paper: float, tight: bool) -> bool:
    """Whether the ink is darker than the ``paper``: the paper's level lies nearer the light end of
    the picture's range - unless what lies further from it on the light side is wide: light
    falling off, the lit side of a shadow's edge (a thin or faint pen's ink lies less far below
    the paper than that lies above it). Wide light is what a page-window grey opening keeps, where
    it takes light ink away: the ink is dark when the light that is not wide reaches less far
    than the dark, or when narrow dark detail (what a closing takes away) stands out more than
    narrow light detail while the light extreme is mostly wide."""
    lo, hi = paper - float(smooth.min()), float(smooth.max()) - paper
    if lo >= hi:
        return True
    if tight:  # (in a tight crop the strokes may be wider than any window)
        return False
    size = tuple(min(paper_window(smooth), n) for n in smooth.shape)
    opened = grey_opened(smooth, size)
    if hi - (quantile(opened, P.extreme_q) - paper) < lo:
        return True
    dark = quantile(grey_closed(smooth, size) - smooth, P.extreme_q)
    light = quantile(smooth - opened, P.extreme_q)
    return light < P.wide_light * hi and dark > light


def paper_level(smooth: np.ndarray, tight: bool, plain: bool = False) -> tuple[float, bool]:
    """The paper's level, and whether ink covers most of the picture (a thick digit cropped tight).

    The paper's level is the median - unless the picture may be a ``tight`` crop (too small to
    be a photo, where a desk the sheet was not found on would look the same) and the border, where
    the paper still is in a tight crop, tells otherwise: its median lies at one end of the
    picture's range, far from the overall median. (A scan's edges darkened by vignetting or a
    shadow lie in between.) In a ``tight`` or ``plain`` picture whose border is one flat level, that
    level is the paper's everywhere: a digit drawn with a big brush has blots wider than any window."""
    level = median(sample(smooth))
    h, w = smooth.shape
    lo, hi = float(smooth.min()), float(smooth.max())
    span = hi - lo
    if not (tight or plain) or min(h, w) < P.least_side or span <= 0:
        return level, False
    border = smooth[ring(smooth.shape)]
    edge = median(border)
    if tight and abs(edge - level) > P.tight_apart * span and min(edge - lo, hi - edge) < P.tight_end * span:
        return edge, True
    # A canvas whose border is one flat level: ink in it may be wider than any window (a blob of a
    # digit drawn with the biggest brush), and a window would hollow it out.
    high, low = quantiles(border, (P.flat_high_q, P.flat_low_q))
    flat = high - low <= P.flat_spread * span
    if flat and abs(edge - level) < P.flat_near * span:
        return edge, True
    return level, False
