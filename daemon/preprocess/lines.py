"""Printed lines and form boxes: ruling a digit was written across or inside, told from its strokes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .measure import runs
from .params import PARAMS

P = PARAMS.printed


def without_printed_lines(mask: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``mask`` without printed straight lines: dark ruling on a page, the box of a form field.

    Light ruling (a notebook's blue lines) never reaches the ink threshold; dark lines do, and
    a digit drawn across one, or inside a box, would otherwise be read together with it. A line
    is a band of rows (or columns) that an ink component crosses from side to side.

    * A component with such bands along three of its sides is a box: the sides go. An empty box
      goes when there is other ink inside it (a digit written in it without touching it); a lone
      one stays (a 0 drawn with a rectangle tool).
    * A band goes when it spans the page and runs well past both ends of the rest of its
      component - a ruled line with a digit written across it, not a 7's bar or a 1's stem.
    * A lone thin line goes when it lies flat (no digit is a dash), or stands the page's full
      height beside other ink (a notebook's margin); other upright strokes may be 1s and stay.
    ``labels`` are the 8-connected components of ``mask``; the result is ``mask`` itself when
    nothing was taken out.
    """
    height, width = mask.shape
    total = int(mask.sum())
    out = mask
    for i, (sr, sc) in enumerate(ndimage.find_objects(labels)):
        comp = labels[sr, sc] == i + 1
        h, w = comp.shape
        if max(h, w) < P.least_line:
            continue
        # Rows / columns the component crosses from side to side, in thin bands: a thick stroke
        # is crossed by all its rows, a printed line by one to three.
        rows = _bands(comp, axis=1) if w >= P.least_line else np.zeros(h, bool)
        cols = _bands(comp, axis=0) if h >= P.least_line else np.zeros(w, bool)
        if not (rows.any() or cols.any()):
            continue
        if h <= max(P.thin_line, w // P.line_length) or w <= max(P.thin_line, h // P.line_length):  # a lone line
            area = int(comp.sum())
            margin = h >= P.page_span * height and total - area >= P.margin_rest * area
            if not (w > h or margin):
                continue
            if out is mask:
                out = mask.copy()
            out[sr, sc] &= ~comp
            continue
        if min(h, w) < P.least_line:  # a stroke, not a line with ink attached across it
            continue
        edge = max(P.least_box_edge, round(P.box_edge * min(h, w)))
        sides = (rows[:edge].any(), rows[-edge:].any(), cols[:edge].any(), cols[-edge:].any())
        is_box = bool(sum(sides) >= P.box_sides)
        if not (is_box or w >= P.page_span * width or h >= P.page_span * height):
            continue
        lines = _lines_of(comp, rows, cols, mask[sr, sc], is_box, w >= P.page_span * width, h >= P.page_span * height)
        if lines is None:
            continue
        strip, rows_band, cols_band = lines
        if out is mask:
            out = mask.copy()
        out[sr, sc] &= ~strip | _bridged(comp & ~strip, strip, rows_band, cols_band)
    return out


def _lines_of(
    comp: np.ndarray, rows: np.ndarray, cols: np.ndarray, around: np.ndarray, is_box: bool, wide: bool, tall: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(the pixels to take out, the horizontal bands, the vertical bands) of a component crossed by
    lines (``rows``, ``cols``): a box's sides, or lines across the whole page (``wide``, ``tall``)
    running well past the rest of it; None when nothing goes. ``around``: the mask in its box."""
    rows_band, cols_band = ndimage.binary_dilation(rows), ndimage.binary_dilation(cols)
    if is_box:
        strip = (rows_band[:, None] | cols_band[None, :]) & comp
        if (comp & ~strip).sum() < P.box_fringe:  # nothing in it but its own fringe
            if int((around & ~comp).sum()) < P.least_inside_box:
                return None
            strip = comp
        return strip, rows_band, cols_band
    # Only lines across the whole page: a digit's bar may run past its other strokes.
    rows_band &= wide
    cols_band &= tall
    rest = comp & ~rows_band[:, None] & ~cols_band[None, :]
    rows_band &= _runs_past(rest, axis=0)
    cols_band &= _runs_past(rest, axis=1)
    strip = (rows_band[:, None] | cols_band[None, :]) & comp
    return (strip, rows_band, cols_band) if strip.any() else None


def _bands(comp: np.ndarray, axis: int) -> np.ndarray:
    """The rows (``axis`` 1) or columns (``axis`` 0) ``comp`` crosses from side to side, in thin bands."""
    across = comp.shape[axis]
    return _thin_bands(comp.sum(axis=axis) >= P.crossing * across, max(P.thin_line, across // P.band_parts))


def _bridged(rest: np.ndarray, strip: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The pixels of the removed lines where a stroke of ``rest`` crossed them - ink on both sides
    of a line, straight across - so that a 0 written over ruled lines does not fall apart.
    ``rows`` / ``cols`` flag the removed horizontal / vertical bands."""
    out = np.zeros_like(rest)
    for band, axis in ((rows, 0), (cols, 1)):
        if not band.any() or not rest.any():
            continue
        reach = max(stop - start for start, stop in runs(band)) + 2  # across the thickest line and a pixel each side
        shape = (reach, 1) if axis == 0 else (1, reach)
        across = band[:, None] if axis == 0 else band[None, :]
        closed = ndimage.binary_closing(np.pad(rest, reach), structure=np.ones(shape, bool))
        out |= closed[reach:-reach, reach:-reach] & strip & across
    return out


def _thin_bands(full: np.ndarray, limit: int) -> np.ndarray:
    """``full`` (1-D bool) keeping only runs of at most ``limit`` consecutive True values."""
    if not full.any():
        return full
    out = np.zeros_like(full)
    for start, stop in runs(full):
        if stop - start <= limit:
            out[start:stop] = True
    return out


def _runs_past(rest: np.ndarray, axis: int) -> bool:
    """True when the line along ``axis`` (its full length being ``rest.shape[1 - axis]``) runs well past
    both ends of the ink ``rest`` attached to it - a ruled line crossing a digit, not a 1's stem
    with its flag at one end or a 7's bar with the stroke hanging from its end."""
    length = rest.shape[1 - axis]
    along = np.flatnonzero(rest.any(axis=axis))
    if len(along) == 0:
        return False
    return along[0] >= P.runs_past * length and length - 1 - along[-1] >= P.runs_past * length
