"""Ink versus paper: the detection map, the paper's noise on it, hysteresis thresholds, and refusing a blank page."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage

from .context import Context, Paper, bounds
from .errors import FaintInkError, NoDigitError, SeveralDigitsError
from .measure import (
    box_mean,
    label,
    median,
    median_mostly_zero,
    otsu,
    pieces,
    quantile,
    robust_std,
    sample,
    stroke_width,
)
from .paper import ink_map
from .params import PARAMS
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


def detected(ink: np.ndarray) -> Detected:
    """The detection map (``ink`` lightly smoothed), the paper's figures on it, and the ink found in it,
    ruled lines left out (:func:`ruled_lines`)."""
    detect = smooth(ink)
    paper = paper_noise(detect, ink)
    found, labels, n = hysteresis(detect, paper)
    lines = ruled_lines(found)
    if lines is not None:
        found = found & ~lines | crossed(found & ~lines, lines)
        labels, n = label(found)
        sides = box_sides(labels, lines)
        if sides:
            found = found & ~pieces(labels, n, sides)
            labels, n = label(found)
    return Detected(detect, paper, found, labels, n)


def ruled_lines(found: np.ndarray) -> np.ndarray | None:
    """The pixels of ruled lines in the ink ``found``: thin horizontal runs, either under or over a
    number (:func:`_under_number`) or across a ruled page, past the ends of what is written on it
    (:func:`_across_page`). None when there are none."""
    top, bottom, left, right = bounds(found)
    lines = _under_number(found, top, bottom, left, right)
    return lines if lines is not None else _across_page(found, left, right)


def _under_number(found: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray | None:
    """Thin horizontal runs longer than line_length times the ink's height, from end to end of the ink
    - an underline a number of three digits or more is written on, a form box's edge; no digit has a
    stroke that long, nor a flat one (a USPS 2) that thin. None when the ink is not that wide (a digit
    alone: its test is one bounding box)."""
    length = round(P.line_length * (bottom - top))
    if right - left < length or length < P.line_least:
        return None
    runs = _runs(found, length)
    rows, columns = np.asarray(runs.any(axis=1)), np.flatnonzero(runs.any(axis=0))
    if len(columns) < P.line_span * (right - left):  # (strokes of overlapping digits, merged: not end to end)
        return None
    return runs if _thin(runs, rows, len(columns), bottom - top) else None


def _across_page(found: np.ndarray, left: int, right: int) -> np.ndarray | None:
    """Thin horizontal runs across ruling_length of the picture, line_length times as long as the rest
    of the ink is tall and running past it on both sides by ruling_past of its height: a ruled page's
    lines under and through what is written on it. A digit's bar (a 7's, a 2's foot) ends at a stroke."""
    length = round(P.ruling_length * found.shape[1])
    if right - left < length or length < P.line_least:
        return None
    runs = _runs(found, length)
    columns = np.flatnonzero(runs.any(axis=0))
    rest = found & ~runs
    if not len(columns) or not rest.any():
        return None
    top, bottom, within_left, within_right = bounds(rest)
    past = P.ruling_past * (bottom - top)
    if columns[0] > within_left - past or columns[-1] + 1 < within_right + past:
        return None
    if len(columns) < P.line_length * (bottom - top):
        return None
    return runs if _thin(runs, np.asarray(runs.any(axis=1)), len(columns), bottom - top) else None


def crossed(rest: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The pixels of ``lines`` where a stroke of ``rest`` crosses them: ink just above and just below
    (a vertical closing as tall as the lines are thick), so a digit written across a line keeps them."""
    kernel = np.ones((2 * _thickness(lines) + 3, 1), np.uint8)
    closed: np.ndarray = cv2.morphologyEx(np.ascontiguousarray(rest).view(np.uint8), cv2.MORPH_CLOSE, kernel)
    return lines & closed.view(bool)


def _thickness(lines: np.ndarray) -> int:
    """The lines' mean thickness in pixels: their pixels per column covered, per band of rows."""
    rows = np.asarray(lines.any(axis=1))
    bands = max(1, int(np.count_nonzero(rows[1:] & ~rows[:-1])) + int(rows[0]))
    return max(1, round(int(np.count_nonzero(lines)) / max(1, int(np.count_nonzero(lines.any(axis=0)))) / bands))


def _runs(found: np.ndarray, length: int) -> np.ndarray:
    """The pixels of ``found`` in horizontal runs ``length`` long or longer (a morphological opening)."""
    kernel = np.ones((1, length | 1), np.uint8)  # (odd: an even one shifts the opening by a pixel)
    runs: np.ndarray = cv2.morphologyEx(np.ascontiguousarray(found).view(np.uint8), cv2.MORPH_OPEN, kernel)
    return runs.view(bool)


def _thin(runs: np.ndarray, rows: np.ndarray, columns: int, height: int) -> bool:
    """Whether the bands of ``runs`` are, on average, no thicker than line_thin of ``height``."""
    bands = int(np.count_nonzero(rows[1:] & ~rows[:-1])) + int(rows[0])  # (a box has two)
    return bands > 0 and int(np.count_nonzero(runs)) <= P.line_thin * height * columns * bands


def box_sides(labels: np.ndarray, lines: np.ndarray) -> list[int]:
    """The pieces (0-based) that belong to a form's boxes: thin upright pieces running from a ruled line
    above them to one below (the sides of a box round a number, the walls between its cells), or
    short ones standing on a line (a comb field's ticks). A digit in a box seldom touches both its top
    and its bottom, and stands taller than a tick."""
    boxes = ndimage.find_objects(labels)
    tallest = max((rows.stop - rows.start for rows, _ in boxes), default=0)
    out = []
    for i, (rows, cols) in enumerate(boxes):
        t, b = rows.start, rows.stop
        if cols.stop - cols.start > P.side_thin * (b - t):
            continue
        above, below = lines[max(t - 2, 0) : t, cols].any(), lines[b : b + 2, cols].any()
        if (above and below) or ((above or below) and b - t <= P.tick_height * tallest):
            out.append(i)
    return out


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
    ctx.ink, ctx.dark = ink_map(ctx.small, tight=not ctx.photo_sized, plain=True, dark=ctx.dark)
    reading = detected(ctx.ink)
    ctx.detect, ctx.paper, ctx.found = reading.detect, reading.paper, reading.found
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
