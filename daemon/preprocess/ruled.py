"""Ruled lines left out of the ink found: a form's (a line a number is written on, its box, a comb's
ticks, a grid's walls, a box round one digit) and a ruled page's. No digit has a thin straight
stroke that long; left in, the lines join a number's digits into one piece of ink, or a box reads as a 0."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage

from .context import bounds
from .measure import label, pieces
from .params import PARAMS

P = PARAMS.ruled


class Ruling(NamedTuple):
    """The ink found without its ruled lines, its 8-connected components, and a ruled page's lines or
    a box round one digit left out (a crop of the page re-read finer holds only part of them, too
    little to tell them from strokes: zoom blanks them there)."""

    found: np.ndarray
    labels: np.ndarray
    n: int
    ruling: np.ndarray | None


def without_ruling(found: np.ndarray) -> Ruling | None:
    """``found`` without its ruled lines and the pieces of boxes between them, or without a box round
    one digit; None when it has neither (the ink as it is)."""
    box = bounds(found)
    lines = _under_number(found, *box)
    if lines is not None:  # a form's lines: the sides of its boxes between them go too
        kept = _uncrossed(found, lines)
        labels, n = label(kept)
        sides = box_sides(labels, lines)
        if sides:
            kept = kept & ~pieces(labels, n, sides)
            labels, n = label(kept)
        return Ruling(kept, labels, n, None)
    # A ruled page's lines, or a box round one digit: a page has no boxes, the pieces between its lines stay.
    page = _across_page(found, box[2], box[3])
    if page is not None:
        kept = _uncrossed(found, page)
    else:
        frame = box_frame(found, *box)
        if frame is None:
            return None
        kept = found & ~frame
    return Ruling(kept, *label(kept), found & ~kept)


def _uncrossed(found: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """``found`` without ``lines``, but for their pixels where a stroke crosses them (:func:`crossed`)."""
    rest = found & ~lines
    return rest | crossed(rest, lines)


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
    if np.count_nonzero(runs.any(axis=0)) < P.line_span * (right - left):  # (overlapping digits' strokes, merged)
        return None
    return runs if _thickness(runs) <= P.line_thin * (bottom - top) else None


def _across_page(found: np.ndarray, left: int, right: int) -> np.ndarray | None:
    """Thin horizontal runs across ruling_length of the picture, line_length times as long as the rest
    of the ink is tall and running past it on both sides by ruling_past of its height: a ruled page's
    lines under and through what is written on it, and its margin line down it. A digit's bar (a 7's,
    a 2's foot) ends at a stroke."""
    length = round(P.ruling_length * found.shape[1])
    # (no row holding that much ink holds such a run: the opening is not needed)
    if right - left < length or length < P.line_least or np.count_nonzero(found, axis=1).max() < length:
        return None
    runs = _runs(found, length)
    columns = np.flatnonzero(runs.any(axis=0))
    if not len(columns):
        return None
    margin = _runs(found.T, round(P.ruling_length * found.shape[0])).T  # (a margin line down the page)
    rest = found & ~runs & ~margin
    if not rest.any():
        return None
    top, bottom, within_left, within_right = bounds(rest)
    past = P.ruling_past * (bottom - top)
    if columns[0] > within_left - past or columns[-1] + 1 < within_right + past:
        return None
    if len(columns) < P.line_length * (bottom - top):
        return None
    return runs | margin if _thickness(runs) <= P.line_thin * (bottom - top) else None


def box_frame(found: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray | None:
    """The pixels of a box drawn round the digit (a form's field for one digit): thin straight sides
    along the four edges of the ink, each running frame_cover of its length, round ink as tall as a
    digit that spans neither the box's width nor its height (a boxy 0 holds nothing, a boxy 8 only
    its bar, a boxy slashed 0 a stroke from corner to corner). None when there is no such box.
    ``top``... ``right``: the ink's box (bottom and right exclusive)."""
    h, w = bottom - top, right - left
    if min(h, w) < P.line_least:
        return None
    if np.count_nonzero(found[top : top + 2, left:right].any(axis=0)) < P.frame_cover * w:  # (a digit's top: a few)
        return None
    rows, cols = max(2, round(P.frame_band * h)), max(2, round(P.frame_band * w))
    across, down = _runs(found, round(P.frame_cover * w)), _runs(found.T, round(P.frame_cover * h)).T
    frame = np.zeros_like(found)
    sides = [
        (slice(top, top + rows), slice(None), across),
        (slice(bottom - rows, bottom), slice(None), across),
        (slice(None), slice(left, left + cols), down),
        (slice(None), slice(right - cols, right), down),
    ]
    for band_rows, band_cols, runs in sides:
        side = runs[band_rows, band_cols]
        if not side.any():
            return None
        frame[band_rows, band_cols] |= side
    inner = found & ~frame
    if not inner.any():
        return None
    t, b, l, r = bounds(inner)
    spans = (l <= left + cols and r >= right - cols) or (t <= top + rows and b >= bottom - rows)
    return None if spans or b - t < P.frame_digit * h else frame


def crossed(rest: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The pixels of ``lines`` where a stroke of ``rest`` crosses them: ink just above and just below
    (a vertical closing as tall as the lines are thick), so a digit written across a line keeps them."""
    kernel = np.ones((2 * max(1, round(_thickness(lines))) + 3, 1), np.uint8)
    closed: np.ndarray = cv2.morphologyEx(np.ascontiguousarray(rest).view(np.uint8), cv2.MORPH_CLOSE, kernel)
    return lines & closed.view(bool)


def _thickness(lines: np.ndarray) -> float:
    """The lines' mean thickness in pixels: their pixels per column covered, per band of rows (a box has
    two); 0 when there are none."""
    rows = np.asarray(lines.any(axis=1))
    bands = int(np.count_nonzero(rows[1:] & ~rows[:-1])) + int(rows[0])
    columns = int(np.count_nonzero(lines.any(axis=0)))
    return int(np.count_nonzero(lines)) / (columns * bands) if bands else 0.0


def _runs(found: np.ndarray, length: int) -> np.ndarray:
    """The pixels of ``found`` in horizontal runs ``length`` long or longer (a morphological opening)."""
    kernel = np.ones((1, length | 1), np.uint8)  # (odd: an even one shifts the opening by a pixel)
    runs: np.ndarray = cv2.morphologyEx(np.ascontiguousarray(found).view(np.uint8), cv2.MORPH_OPEN, kernel)
    return runs.view(bool)


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
