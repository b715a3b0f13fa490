"""Ink versus paper: the detection map, the paper's noise on it, hysteresis thresholds, and refusing a blank page."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .context import Context, Paper
from .errors import FaintInkError, NoDigitError, SeveralDigitsError
from .measure import box_mean, label, median, median_mostly_zero, otsu, quantile, robust_std, sample, stroke_width
from .paper import ink_and_level
from .params import PARAMS
from .ruled import without_ruling
from .select import digit

P = PARAMS.ink
SMOOTH = PARAMS.measure.smooth_window


class Detected(NamedTuple):
    """One reading of an ink map: the map smoothed for detection, the paper's figures, the ink found."""

    detect: np.ndarray
    paper: Paper
    found: np.ndarray
    labels: np.ndarray  # the 8-connected components of ``found`` (numbered as ndimage.label numbers them)
    n: int  # ...how many
    ruling: np.ndarray | None  # a ruled page's lines or a box round the digit, left out of ``found`` (ruled.py)


def detected(ink: np.ndarray) -> Detected:
    """The detection map (``ink`` lightly smoothed), the paper's figures on it, and the ink found in it,
    a form's or a ruled page's lines left out (ruled.without_ruling)."""
    detect = smooth(ink)
    paper = paper_noise(detect, ink)
    found, labels, n = hysteresis(detect, paper)
    ruled = without_ruling(found)
    if ruled is None:
        return Detected(detect, paper, found, labels, n, None)
    return Detected(detect, paper, *ruled)


def smooth(ink: np.ndarray) -> np.ndarray:
    """Lightly smoothed, so paper grain and JPEG noise do not pass for ink; tiny (MNIST-sized) maps as they are."""
    return box_mean(ink, SMOOTH) if min(ink.shape) >= P.smooth_min_side else ink


def ink_mask(ink: np.ndarray, paper: Paper) -> np.ndarray:
    """Hysteresis: pixels above the low threshold that connect to pixels above the high one.

    A pen's pressure (or a scanner) leaves parts of a stroke fainter than the rest; Otsu's
    threshold alone would cut the faint bar off a 7."""
    return hysteresis(ink, paper)[0]


def hysteresis(ink: np.ndarray, paper: Paper) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`ink_mask`, with its components: the strong ones of the low threshold's, renumbered in
    order - as labelling the mask again would number them, without doing it."""
    high, low = threshold(ink, paper)
    labels, n = label(ink > low)
    strong = np.bincount(labels[ink > high], minlength=n + 1) > 0
    strong[0] = False
    if np.count_nonzero(strong) == n:  # every piece reaches the high threshold (a clean picture)
        return labels > 0, labels, n
    table = np.where(strong, np.cumsum(strong), 0).astype(labels.dtype)
    return strong[labels], table[labels], int(np.count_nonzero(strong))


def paper_noise(ink: np.ndarray, raw: np.ndarray) -> Paper:
    """Peak ink, paper level, robust std of the paper's noise and contrast of the detection map ``ink``.

    The peak ignores the image's edges (scanner shadows). ``contrast`` is the larger of the peak
    over the paper in ``ink`` and in the unsmoothed ``raw``: smoothing for detection spreads a
    faint 1-pixel pencil line over three and must not push it under min_contrast, while a digit
    of a dozen pixels on a big page only reaches the peak quantile once smoothing has spread it."""
    h, w = ink.shape
    if min(h, w) >= P.edge_min_side:
        eh, ew = h // P.edge_parts, w // P.edge_parts
        edge = (slice(eh, h - eh), slice(ew, w - ew))
    else:
        edge = (slice(None), slice(None))
    picked = sample(ink)
    level = median_mostly_zero(picked)
    inner, raw_inner = ink[edge], raw[edge]
    top = max(P.peak_q, 1.0 - P.peak_pixels / inner.size)
    peak = quantile(inner, top)
    contrast = peak - level
    if contrast < P.min_contrast:  # only then can the unsmoothed map change the verdict
        contrast = max(contrast, quantile(raw_inner, top) - median_mostly_zero(sample(raw)))
    return Paper(peak, level, robust_std(picked, level), contrast)


def refuse_noise(paper: Paper, ink: np.ndarray) -> None:
    """FaintInkError unless the ink stands out of the paper's noise (blank or noise-only pages).

    Judged on the final ink map, after the paper's shading was estimated with a window fitted
    to the strokes - mottled paper would otherwise drown a faint digit."""
    if paper.contrast >= P.min_contrast and (paper.peak - paper.level >= P.min_snr * paper.spread or ink_apart(ink)):
        return
    raise FaintInkError("no digit found: the image has no ink that stands out of the background")


def ink_apart(ink: np.ndarray) -> bool:
    """True when ink covers a good part of the picture and stands apart from the paper as a level
    of its own - a digit cropped tight to its strokes, where the paper's median and spread (taken
    over the whole picture) are half ink.

    Otsu's split of the ink map: the upper level must lie min_snr robust standard deviations of
    the lower level above it. Noise alone splits into halves only ~3 of them apart."""
    picked = sample(ink)
    top = float(picked.max())
    if top <= 0:
        return False
    cut = otsu(picked, top)
    low, high = picked[picked < cut], picked[picked >= cut]
    if low.size == 0 or high.size < P.apart_share * picked.size:
        return False
    level = median(low)
    apart = median(high) - level
    return apart >= P.min_contrast and apart >= P.min_snr * robust_std(low, level)


def threshold(ink: np.ndarray, paper: Paper) -> tuple[float, float]:
    """(high, low) thresholds: Otsu's, and a lower one for faint parts of strokes (see :func:`ink_mask`)."""
    peak, level, spread, contrast = paper
    if contrast < P.min_contrast or peak <= level:
        raise FaintInkError("no digit found: the image has no ink that stands out of the background")
    high = min(max(otsu(ink, peak), P.high_least * peak, level + P.high_noise * spread), P.high_most * peak)
    return high, min(high, max(P.low_share * high, level + P.low_noise * spread))


def first_read(ctx: Context) -> None:
    """Stage: the ink on a page-sized window's map, and the digit's stroke width on it (a sheet on a
    desk has its pen measured already: a photo's shadows would pass for the digit in a page-sized window).
    In a photo, shading can outshine a faint thin digit in a page-sized window until only specks of
    it pass the threshold: the width is left at 0 for the shadow stage to look again finely."""
    if ctx.sheet is not None:
        ctx.width = ctx.sheet.pen
        return
    ctx.ink, ctx.dark, ctx.flat = ink_and_level(ctx.small, tight=not ctx.photo_sized, plain=True, dark=ctx.dark)
    reading = detected(ctx.ink)
    ctx.detect, ctx.paper, ctx.found, ctx.ruling = reading.detect, reading.paper, reading.found, reading.ruling
    try:
        ctx.mask, ctx.beside = digit(ctx.found, ctx.detect, labelled=(reading.labels, reading.n))
        ctx.width = stroke_width(ctx.mask)
    except NoDigitError:
        if not ctx.photo_sized or max(ctx.small.shape) < PARAMS.shadow.min_side:
            raise
        ctx.width = 0.0


def refuse(ctx: Context) -> None:
    """Stage: a page whose ink does not stand out of its noise, or holding digits in a row, is refused."""
    if not ctx.allow_zoom:  # (a zoomed crop was accepted already, on the whole page)
        return
    assert ctx.paper is not None and ctx.detect is not None
    refuse_noise(ctx.paper, ctx.detect)
    if ctx.beside and ctx.max_digits <= 1:
        raise SeveralDigitsError("more than one digit, side by side: a picture is read as one digit")
