"""Digit selection: of the ink found, the digit - marks and printed lines taken out, specks, edge lines
and desk left aside, the largest piece grown by the pieces near it - and how many digits stand beside it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from . import marks as mark_rules
from .context import Sheet
from .desk import outline, sheet_at_frame
from .errors import NoDigitError
from .lines import without_printed_lines
from .measure import EIGHT, box_edges, label, pieces, ring, stroke_width
from .params import PARAMS
from .row import digits_beside, digits_within
from .sheet import roughness

P = PARAMS.select


class Found(NamedTuple):
    """What :func:`digit` found on a mask of ink."""

    digit: np.ndarray  # the digit's pixels
    marks: np.ndarray  # rings, boxes and underlines drawn round or under it
    beside: int  # how many more digits stand in a row with it (see row.digits_beside)


class Pieces(NamedTuple):
    """A mask of ink and its 8-connected components."""

    mask: np.ndarray
    labels: np.ndarray
    n: int

    @classmethod
    def of(cls, mask: np.ndarray) -> Pieces:
        labels, n = label(mask)
        return cls(mask, labels, n)

    def without_whole(self, which: list[int]) -> Pieces:
        """These pieces with components ``which`` (0-based) taken out whole: the others renumbered in
        order, as labelling the smaller mask again would number them, at the cost of a lookup."""
        keep = np.ones(self.n + 1, dtype=bool)
        keep[np.asarray(which, dtype=np.int64) + 1] = False
        table = np.where(keep, np.cumsum(keep) - 1, 0).astype(self.labels.dtype)
        return Pieces(self.mask & table[self.labels].astype(bool), table[self.labels], self.n - len(set(which)))


def digit(
    mask: np.ndarray, ink: np.ndarray, sheet: Sheet | None = None, labelled: tuple[np.ndarray, int] | None = None
) -> Found:
    """Keep the digit: the largest ink component and those close to it; drop specks and edge lines.
    ``sheet``: the sheet of paper in a photo - a band along its edge is a border like the
    picture's own, and on a grainy desk faint ink off it is the desk's (see :func:`faint_off_sheet`).
    Returns the digit, the marks drawn round or under it and how many more digits stand beside it.
    ``labelled``: the components of ``mask`` when known already (labels, how many)."""
    found = Pieces.of(mask) if labelled is None else Pieces(mask, *labelled)
    rings = mark_rules.rings_around(found.labels, found.n)
    marks = pieces(found.labels, found.n, rings)
    if rings:
        found = found.without_whole(rings)
    cleaned = without_printed_lines(found.mask, found.labels)
    if cleaned is not found.mask:
        found = Pieces.of(cleaned)
    boxes = ndimage.find_objects(found.labels)
    touching = mark_rules.touching(found.labels, boxes, ink)
    if touching.any():
        marks = marks | touching
        found = Pieces.of(found.mask & ~touching)
        boxes = ndimage.find_objects(found.labels)
    return _choose(found, boxes, ink, marks, sheet)


def _choose(found: Pieces, boxes: list, ink: np.ndarray, marks: np.ndarray, sheet: Sheet | None) -> Found:
    """The digit among the clean pieces (see :func:`digit`)."""
    mask, labels, n = found
    if n == 0:
        raise NoDigitError("no digit found: no ink after thresholding")
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    border = _border(mask.shape)
    if n == 1 and sheet is None:  # the common case, one piece of ink: it is the digit unless it is border noise
        lone = _lone_piece(mask, labels, boxes, border, int(areas[0]))
        if lone is not None:
            return Found(lone, marks, 0)
    faint = np.zeros(n, dtype=bool)
    if sheet is not None:  # a sliver of desk or a shadow left along the sheet's edge is no digit
        border |= outline(sheet.mask)
        if sheet.grainy_desk is not None:
            faint = faint_off_sheet(labels, n, ink, border | ~sheet.mask, areas, sheet.grainy_desk)
    in_band = np.bincount(labels[border], minlength=n + 1)[1:] > P.in_band * areas
    hugging = edge_huggers(labels, n, boxes)

    candidates = [i for i in range(n) if not in_band[i] and not hugging[i] and not faint[i]]
    if not candidates:  # ink along the picture's edge may be the digit in a tight crop...
        in_frame: np.ndarray = np.zeros(n)
        if sheet is not None and sheet.grainy_desk is not None:  # ...not where a sheet on a grainy desk runs into it
            in_frame = np.bincount(labels[sheet_at_frame(sheet.mask)], minlength=n + 1)[1:]
        candidates = [i for i in range(n) if not faint[i] and in_frame[i] <= P.in_band * areas[i]]
    if not candidates:
        raise NoDigitError("no digit found: nothing on the sheet of paper")
    edges = box_edges(boxes)
    lines = mark_rules.underlines(candidates, areas, edges, labels)
    if lines and len(lines) < len(candidates):
        candidates = [i for i in candidates if i not in lines]
        marks = marks | pieces(labels, n, lines)
    largest = strongest_large(labels, ink, areas, candidates)
    min_area = max(P.least_piece_pixels, P.least_piece * areas[largest])
    rest = [i for i in candidates if i != largest and areas[i] >= min_area]
    if len(candidates) >= P.grain_pieces:
        rest = strong_pieces(labels, ink, largest, rest)
    keep = grown(edges, largest, rest, {})
    # A digit drawn in one piece: a dot beside it is a full stop, a pen's rest or a speck. (A faint
    # digit on grainy paper falls into pieces, dot-sized ones among them: there every piece counts.)
    if len(keep) > 1 and areas[largest] >= P.one_piece * areas[keep].sum():
        keep = grown(edges, largest, rest, dots(labels, largest, rest, boxes, edges))
    if areas[keep].sum() < P.least_digit_pixels:
        raise NoDigitError("no digit found: only specks of ink")
    keep += cut_by_frame(labels, n, keep, [i for i in range(n) if in_band[i] and not hugging[i] and not faint[i]])
    others = [i for i in candidates if i not in keep]
    beside = digits_beside(labels, ink, edges, areas, keep, others) + digits_within(edges, areas, keep)
    return Found(pieces(labels, n, keep), marks, beside)


def _lone_piece(mask: np.ndarray, labels: np.ndarray, boxes: list, border: np.ndarray, area: int) -> np.ndarray | None:
    """The digit when the ink is one piece that is no border noise nor edge line: what the general
    selection would keep (no other piece to grow by, underline or stand beside it); None to leave the
    piece to it."""
    if np.count_nonzero(mask & border) > P.in_band * area or edge_huggers(labels, 1, boxes)[0]:
        return None
    if area < P.least_digit_pixels:
        raise NoDigitError("no digit found: only specks of ink")
    return mask.copy()


def _border(shape: tuple[int, int]) -> np.ndarray:
    """The picture's border band, a few percent of each side (scanner shadows, the page's edge)."""
    h, w = shape
    band_r, band_c = max(1, round(h * PARAMS.measure.border_share)), max(1, round(w * PARAMS.measure.border_share))
    border = np.zeros(shape, dtype=bool)
    border[:band_r, :] = border[-band_r:, :] = True
    border[:, :band_c] = border[:, -band_c:] = True
    return border


def strongest_large(labels: np.ndarray, ink: np.ndarray, areas: np.ndarray, candidates: list[int]) -> int:
    """The piece the digit grows from: the largest of ``candidates`` - unless another at least half
    its size has ink much stronger than its own (by piece_strength): then the largest is texture
    that passed the threshold (a grainy desk beside the sheet, read with a window fitted to a
    thin pen), and the strongest of those pieces is the digit's."""
    largest = max(candidates, key=lambda i: areas[i])
    large = [i for i in candidates if areas[i] >= P.large_share * areas[largest]]
    if len(large) < 2:
        return largest
    strength = np.asarray(ndimage.median(ink, labels, np.asarray(large) + 1))
    strongest = int(np.argmax(strength))
    if strength[large.index(largest)] < P.piece_strength * strength[strongest]:
        return large[strongest]
    return largest


def cut_by_frame(labels: np.ndarray, n: int, keep: list[int], banded: list[int]) -> list[int]:
    """Those of ``banded`` (pieces in the border band, left out as noise) that meet the picture's
    frame next to where the digit (``keep``) meets it: a digit running out of the picture and back
    in - a 7's corner cut off by the frame - falls into pieces there, and the one along the frame
    was dropped (the 7 read as a 1). Next to: within a few of the digit's pen widths."""
    if not banded:
        return []
    frame = ring(labels.shape, 1)
    kept = pieces(labels, n, keep)
    at = kept & frame
    if not at.any():
        return []
    reach = max(1, round(P.frame_reach_pens * stroke_width(kept)))
    near = ndimage.binary_dilation(at, EIGHT, iterations=reach) & frame
    meeting = set(np.unique(labels[near]).tolist())
    return [i for i in banded if i + 1 in meeting and i not in keep]


def strong_pieces(labels: np.ndarray, ink: np.ndarray, largest: int, rest: list[int]) -> list[int]:
    """The pieces of ``rest`` whose ink is about as strong as the ``largest`` piece's, at its peak or
    its median. Mottled paper passes the threshold as many faint blobs round a small digit, and
    taken with it they make it a cloud; a faint piece of a digit on clean paper is its own ink
    (see grain_pieces)."""
    index = np.asarray([*rest, largest]) + 1
    peak, middle = (np.asarray(f(ink, labels, index)) for f in (ndimage.maximum, ndimage.median))
    eps = PARAMS.measure.eps_level
    ratio = np.maximum(peak[:-1] / max(peak[-1], eps), middle[:-1] / max(middle[-1], eps))
    return [i for i, r in zip(rest, ratio) if r >= P.piece_strength]


def faint_off_sheet(
    labels: np.ndarray, n: int, ink: np.ndarray, off: np.ndarray, areas: np.ndarray, picture: np.ndarray
) -> np.ndarray:
    """Per component: does it lie mostly ``off`` the sheet (or along its edge), on a grainy desk,
    without standing out of it? What the desk made paper still shows - its darkest grains, the
    seams of the fill, the step at the sheet's edge - is fainter than min_contrast, or than min_snr
    times the roughness of the ``picture`` (as it was before) around it. (Only a desk found by its
    grain is surely desk: one found by its level or by sharp steps may be the shadowed part of
    the page, and a thin digit in that shadow is as faint.)"""
    mostly_off = np.bincount(labels[off], minlength=n + 1)[1:] > P.in_band * areas
    if not mostly_off.any():
        return mostly_off
    index = np.arange(1, n + 1)
    strength = np.asarray(ndimage.median(ink, labels, index))
    around = np.where(labels == 0, ndimage.grey_dilation(labels, size=P.around_window), 0)  # a ring round each
    near = np.isin(around, index[mostly_off])
    desk = np.asarray(ndimage.median(roughness(picture, near), around[near], index))
    faint = (strength < PARAMS.ink.min_contrast) | (strength < PARAMS.ink.min_snr * np.nan_to_num(desk))
    return mostly_off & faint


def grown(edges: np.ndarray, largest: int, rest: list[int], dots: dict[int, int]) -> list[int]:
    """The ``largest`` component and those of ``rest`` close to it (growing: a piece that joins
    brings others within reach); a dot of ``dots`` (component -> size) only when about its own
    size from it. ``edges`` are the components' boxes (see measure.box_edges)."""
    keep, rest, box = [largest], list(rest), edges.tolist()
    t, b, l, r = box[largest]
    changed = True
    while changed:
        changed = False
        extent = max(b - t, r - l)
        for i in list(rest):
            top, bottom, left, right = box[i]
            gap = max(0, top - b, t - bottom, left - r, l - right)
            if gap <= (max(dots[i], P.dot_reach * extent) if i in dots else P.piece_reach * extent):
                keep.append(i)
                rest.remove(i)
                t, b, l, r = min(t, top), max(b, bottom), min(l, left), max(r, right)
                changed = True
    return keep


def dots(labels: np.ndarray, largest: int, rest: list[int], boxes: list, edges: np.ndarray) -> dict[int, int]:
    """Components of ``rest`` no longer than a few pen widths each way (measured on the ``largest``),
    with their size: a dot joins the digit only when it is about that close to it - a stray dot
    or a full stop taken with the digit shrinks and shifts it (a 1 read as a 7)."""
    if not rest:
        return {}
    pen = stroke_width(labels[boxes[largest]] == largest + 1)
    sides = np.maximum(edges[rest, 1] - edges[rest, 0], edges[rest, 3] - edges[rest, 2])
    return {i: int(side) for i, side in zip(rest, sides) if side <= P.dot_pens * pen}


def edge_huggers(labels: np.ndarray, n: int, boxes: list) -> np.ndarray:
    """Per component: does it run along half of an image edge while staying within a quarter of
    the image from it? A scanner lid's shadow or the page's edge does; a digit does not (a 7 whose
    bar lies on the top edge of a tight crop reaches down through the whole image)."""
    h, w = labels.shape
    out = np.zeros(n, dtype=bool)
    if not (labels[0].any() or labels[-1].any() or labels[:, 0].any() or labels[:, -1].any()):
        return out
    near, far = P.hug_depth, 1 - P.hug_depth
    for line, length, close in (
        (labels[0, :], w, lambda b: b[0].stop <= near * h),
        (labels[-1, :], w, lambda b: b[0].start >= far * h),
        (labels[:, 0], h, lambda b: b[1].stop <= near * w),
        (labels[:, -1], h, lambda b: b[1].start >= far * w),
    ):
        touching = np.bincount(line, minlength=n + 1)[1:]
        for i in np.flatnonzero(touching >= P.hug_length * length):
            out[i] |= close(boxes[i])
    return out
