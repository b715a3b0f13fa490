"""Marks a writer draws round or under the digit: rings and boxes (apart or touching it), underlines."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .measure import EIGHT, box_edges, convex, median, pen_width, quantile, stroke_width
from .params import PARAMS

P = PARAMS.marks


def rings_around(labels: np.ndarray, n: int) -> list[int]:
    """Components drawn round other ink - a ring or a box drawn by hand around the digit (read with
    it, it makes a 0). Printed boxes are straight and go with the printed lines."""
    if n < 2:
        return []
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = ndimage.find_objects(labels)
    edges = box_edges(boxes)
    rings = []
    for i in np.flatnonzero(np.minimum(edges[:, 1] - edges[:, 0], edges[:, 3] - edges[:, 2]) >= P.least_mark):
        within = np.flatnonzero(
            (edges[:, 0] > edges[i, 0])
            & (edges[:, 1] < edges[i, 1])
            & (edges[:, 2] > edges[i, 2])
            & (edges[:, 3] < edges[i, 3])
            & (areas >= P.least_piece * areas[i])
        )
        if areas[within].sum() >= P.least_held * areas[i] and _is_ring_around(labels, int(i), within, areas, boxes):
            rings.append(int(i))
    return rings


def _is_ring_around(labels: np.ndarray, i: int, within: np.ndarray, areas: np.ndarray, boxes: list) -> bool:
    """Does component ``i`` enclose the components ``within`` its box (a gap in it up to a sixth of its
    size closed)?"""
    sr, sc = boxes[i]
    h, w = sr.stop - sr.start, sc.stop - sc.start
    ring = labels[sr, sc] == i + 1
    hole = enclosed(ring) & ~ring
    if hole.sum() < P.least_hole * (hole.sum() + ring.sum()):
        return False
    inside = np.bincount(labels[sr, sc][hole], minlength=len(areas) + 1)[1:]
    held = within[inside[within] >= P.held_share * areas[within]]
    if len(held) == 0 or areas[held].sum() < P.least_held * areas[i]:
        return False
    # What it encloses is a digit, not a mark in a 0: it spans much of the ring.
    box = box_edges([boxes[j] for j in held])
    span = max(box[:, 1].max() - box[:, 0].min(), box[:, 3].max() - box[:, 2].min())
    return span >= P.held_span * max(h, w)


def enclosed(piece: np.ndarray) -> np.ndarray:
    """``piece`` with what it encloses, a gap in it up to a sixth of its size closed: grown by a
    twelfth of its size, a ring drawn in one go closes (its ends may not quite meet); filled, then
    shrunk back, it covers what it encloses."""
    grow = max(1, round(max(piece.shape) / P.gap_parts))
    pad = grow + 1  # (paper all round what grows: the paper outside is the piece of it at a corner)
    paper, _ = ndimage.label(ndimage.distance_transform_cdt(~np.pad(piece, pad), "taxicab") > grow)
    shrunk = ndimage.distance_transform_cdt(paper != paper[0, 0], "taxicab") > grow
    return shrunk[pad:-pad, pad:-pad] | piece


def touching(labels: np.ndarray, boxes: list, ink: np.ndarray) -> np.ndarray:
    """The marks drawn round or under the digit that touch it - one piece with it: a ring read with
    it, a 0 (see :func:`ring_of`), a line so close under it that the detection's smoothing joined
    them (see :func:`line_under`). ``boxes``: the components' (``ndimage.find_objects``); ``ink``:
    the map they were found in. Returns the marks' pixels."""
    marks = np.zeros(labels.shape, dtype=bool)
    for i, (sr, sc) in enumerate(boxes):
        if min(sr.stop - sr.start, sc.stop - sc.start) >= P.least_mark:
            piece = labels[sr, sc] == i + 1
            mark = ring_of(piece) if round_the_middle(piece) else None
            if mark is None:
                mark = line_under(piece, ink[sr, sc])
            if mark is not None:
                marks[sr, sc] |= mark
    return marks


def line_under(piece: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray | None:
    """The line in ``piece`` when it is a flat line drawn under the digit, close to it - read with
    it, a 2 (a 7, a 9, a 0). Such a line is the piece's bottom across its whole width, straight,
    runs on past the digit either side, and the digit comes down to it away from its ends (a 2's
    base starts where its stroke comes down; drawn apart, it is a 2's still). A digit as narrow
    as a 1 keeps it: read with it, it is a 1's foot, and a 1 with a flag and no foot reads as a 7.
    With ``ink``, ``piece`` is one component: the line only touches the digit where the ink is
    weak - a line close to the digit that the detection's smoothing joined to it. (A line that
    really touches the digit is not taken away: 2s are often written with a base running on
    past both sides of where the stroke comes down - 147 of MNIST's 70,000 digits, 125 of them
    2s, pass the shape tests alone; none passes this one.) Returns the line's pixels, or None."""
    shape = _flat_bottom(piece)
    if shape is None:
        return None
    line, rest, pen = shape
    w = piece.shape[1]
    rest_rows, rest_cols = np.flatnonzero(rest.any(axis=1)), np.flatnonzero(rest.any(axis=0))
    tall = np.ptp(rest_rows) + 1 if len(rest_rows) else 0
    if tall < P.digit_pens * pen or np.ptp(rest_cols) + 1 < P.least_digit_aspect * tall:
        return None
    if min(rest_cols[0], w - 1 - rest_cols[-1]) < max(1, P.line_past * w):
        return None
    lowest = np.flatnonzero(rest[max(0, int(rest_rows[-1] - pen / 2 - 1)) :].any(axis=0))
    margin = max(P.line_end_pens * pen, P.line_past * w)
    if lowest.min() < margin or lowest.max() > w - 1 - margin:
        return None
    if ink is not None:  # strokes are where the ink is at least half as strong as at their core
        strong = piece & (ink >= P.stroke_strength * quantile(ink[piece], P.core_q))
        parts, _ = ndimage.label(strong, EIGHT)
        if np.intersect1d(parts[line & strong], parts[rest & strong]).any():
            return None
    return line


def _flat_bottom(piece: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(line, the rest, the line's pen width) when ``piece``'s bottom is a straight, nearly flat line
    across its whole width; else None."""
    h, w = piece.shape
    low = h - 2 - int(P.line_slope * w)  # a quick test first (most digits fail it): both ends low
    if not (piece[low:, 0].any() and piece[low:, -1].any()):
        return None
    rows = np.arange(h)[:, None]
    bottom = h - 1 - np.argmax(piece[::-1], axis=0)  # (a column without ink: its last row)
    end = max(P.least_line_end, w // P.line_end_parts)
    left, right = median(bottom[:end]), median(bottom[-end:])
    under = left + (right - left) * np.arange(w) / (w - 1)
    straight = np.count_nonzero(np.abs(bottom - under) <= P.line_wobble) >= P.line_straight * w
    if abs(right - left) > P.line_slope * w or not straight:
        return None
    above = np.where(~piece & (rows < bottom), rows, -1).max(axis=0)
    pen = median(np.concatenate([bottom[:end] - above[:end], bottom[-end:] - above[-end:]]))
    line = piece & (rows > under - pen - 1)
    return line, piece & ~line, pen


def ring_of(piece: np.ndarray) -> np.ndarray | None:
    """The ring in ``piece`` when it is a ring with the digit it was drawn round touching it. Such a
    piece is round and convex, and besides the pen's band along its outline it holds ink deeper
    inside (ring_depth) that spans much of it. A digit's own strokes lie along its outline, save
    a crossing (an 8's waist), the inner side of a thick stroke (measured by the thicker strokes'
    width, and lying along the band, not apart from it), or one stroke across its loop from side
    to side: a slashed zero, an 8 or a 0 drawn like a theta - all digits. (So is a ring round a 1
    that touches it at both ends: at the working scale it is a slashed zero.) Returns the band
    without the digit's strokes, or None."""
    h, w = piece.shape
    filled = enclosed(piece)
    area = filled.sum()
    if (filled & ~piece).sum() < P.least_hole * area or area > P.ring_round * h * w:
        return None
    pen = pen_width(piece, P.ring_pen_q)
    depth = ndimage.distance_transform_edt(np.pad(filled, 1))[1:-1, 1:-1]
    band = P.ring_depth * pen + 1
    inner = piece & (depth > band)
    if inner.sum() < P.least_inner * piece.sum():
        return None
    rows, cols = np.nonzero(inner)
    if max(np.ptp(rows), np.ptp(cols)) + 1 < P.held_span * max(h, w) or not convex(filled):
        return None
    # The digit's strokes run on into the band up to the ring.
    digit = ndimage.binary_dilation(inner, EIGHT, iterations=math.ceil(band), mask=piece & (depth > pen + 1))
    ring = piece & ~digit
    if (digit & ndimage.binary_dilation(ring, EIGHT)).sum() > P.inner_side * digit.sum():
        return None  # the inner side of a thick stroke
    rows, cols = np.nonzero(digit)
    one_stroke = digit.sum() < P.one_stroke * stroke_width(digit) * (max(np.ptp(rows), np.ptp(cols)) + 1)
    crossings = ring & ndimage.binary_dilation(digit, EIGHT, iterations=P.crossing_reach)
    if one_stroke and ndimage.label(crossings, EIGHT)[1] >= 2:
        return None  # one stroke across the loop from side to side
    return ring


def round_the_middle(piece: np.ndarray, near: float = P.ring_reach) -> bool:
    """A quick test first (most digits fail it): does ink come ``near`` both ends of the middle row
    and column of ``piece``'s box and of the rows and columns a sixth away from them, as a ring
    round it does, and lie between the ends - the digit - on one of them?"""
    h, w = piece.shape
    a, b, c, d = math.ceil(near * w), int((1 - near) * w), math.ceil(near * h), int((1 - near) * h)
    if not (
        piece[h // 2, :a].any() and piece[h // 2, b:].any() and piece[:c, w // 2].any() and piece[d:, w // 2].any()
    ):
        return False  # (the middle row and column alone, the quickest)
    rows, cols = piece[[h // 3, h // 2, 2 * h // 3]], piece[:, [w // 3, w // 2, 2 * w // 3]].T
    for lines, first, last in ((rows, a, b), (cols, c, d)):
        if not (lines[:, :first].any(axis=1).all() and lines[:, last:].any(axis=1).all()):
            return False
    crossings = [np.count_nonzero(lines[:, 1:] & ~lines[:, :-1], axis=1) + lines[:, 0] for lines in (rows, cols)]
    return bool(max(crossings[0].max(), crossings[1].max()) >= P.ring_crossings)


def underlines(candidates: list[int], areas: np.ndarray, edges: np.ndarray, labels: np.ndarray) -> list[int]:
    """The ``candidates`` that are a flat line drawn under all the other ink (of some size), apart
    from it and at least half as wide. Read with the digit, such a line turns a 7 into a 2. Where
    the digit comes down close to it, it is a line only as :func:`line_under` sees one."""
    cand = np.asarray(candidates, dtype=np.int64)
    box = edges[cand]
    height, width = box[:, 1] - box[:, 0], box[:, 3] - box[:, 2]
    lines = []
    for k in np.flatnonzero((height <= P.flat_line * width) & (width >= P.least_underline)):
        others = (cand != cand[k]) & (areas[cand] >= P.least_piece * areas[cand[k]])
        if not others.any():
            continue
        top, bottom = box[others, 0].min(), box[others, 1].max()
        left, right = box[others, 2].min(), box[others, 3].max()
        tall = bottom - top
        if tall < P.digit_pens * height[k] or box[k, 1] <= bottom:
            continue
        if min(right, box[k, 3]) - max(left, box[k, 2]) < P.underline_overlap * (right - left):
            continue
        if box[k, 0] - bottom < max(P.least_line_end, P.line_past * tall):
            region = (slice(min(top, box[k, 0]), box[k, 1]), slice(min(left, box[k, 2]), max(right, box[k, 3])))
            if line_under(np.isin(labels[region], 1 + cand[others | (cand == cand[k])])) is None:
                continue
        lines.append(int(cand[k]))
    return lines
