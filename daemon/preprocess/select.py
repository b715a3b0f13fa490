"""Digit selection: of the ink found, the digit - specks and border noise left aside, the largest piece
grown by the pieces near it - and how many digits stand beside it."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .context import Sheet
from .desk import outline
from .errors import NoDigitError
from .measure import box_edges, label, labelled_median, labelled_median_and_peak, pieces
from .params import PARAMS
from .row import digits_beside, digits_within

P = PARAMS.select


class Found(NamedTuple):
    """What :func:`digit` found on a mask of ink."""

    digit: np.ndarray  # the digit's pixels
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


def digit(
    mask: np.ndarray, ink: np.ndarray, sheet: Sheet | None = None, labelled: tuple[np.ndarray, int] | None = None
) -> Found:
    """Keep the digit: the largest ink component and those close to it; drop specks and border noise.
    ``sheet``: the sheet of paper in a photo - a band along its edge is a border like the picture's
    own. Returns the digit and how many more digits stand beside it. ``labelled``: the components
    of ``mask`` when known already (labels, how many)."""
    found = Pieces.of(mask) if labelled is None else Pieces(mask, *labelled)
    mask, labels, n = found
    if n == 0:
        raise NoDigitError("no digit found: no ink after thresholding")
    border = border_mask(mask.shape)
    if n == 1 and sheet is None:  # the common case, one piece of ink: it is the digit unless it is border noise
        lone = _lone_piece(mask, border, int(np.count_nonzero(labels)))
        if lone is not None:
            return Found(lone, 0)
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    if sheet is not None:  # a sliver of desk or a shadow left along the sheet's edge is no digit
        border = border | outline(sheet.mask)
    candidates = off_border(labels, n, areas, border)
    edges = box_edges(boxes)
    largest = strongest_large(labels, ink, areas, candidates)
    min_area = max(P.least_piece_pixels, P.least_piece * areas[largest])
    rest = [i for i in candidates if i != largest and areas[i] >= min_area]
    if len(candidates) >= P.grain_pieces:
        rest = strong_pieces(labels, ink, largest, rest)
    keep = grown(edges, largest, rest)
    if areas[keep].sum() < P.least_digit_pixels:
        raise NoDigitError("no digit found: only specks of ink")
    others = [i for i in candidates if i not in keep]
    beside = digits_beside(labels, ink, edges, areas, keep, others) + digits_within(labels, edges, areas, keep)
    return Found(pieces(labels, n, keep), beside)


def _lone_piece(mask: np.ndarray, border: np.ndarray, area: int) -> np.ndarray | None:
    """The digit when the ink is one piece that is no border noise: what the general selection would
    keep (no other piece to grow by or stand beside it); None to leave the piece to it."""
    if np.count_nonzero(mask & border) > P.in_band * area:
        return None
    if area < P.least_digit_pixels:
        raise NoDigitError("no digit found: only specks of ink")
    return mask.copy()


def off_border(labels: np.ndarray, n: int, areas: np.ndarray, border: np.ndarray) -> list[int]:
    """The pieces (0-based) not lying mostly in the ``border`` band - or all, when every one does (ink
    along the edge of a tight crop)."""
    in_band = np.bincount(labels[border], minlength=n + 1)[1:] > P.in_band * areas
    return [i for i in range(n) if not in_band[i]] or list(range(n))


@functools.lru_cache(maxsize=64)
def border_mask(shape: tuple[int, int]) -> np.ndarray:
    """The picture's border band, a few percent of each side (scanner shadows, the page's edge); read
    only, made once a shape."""
    h, w = shape
    band_r, band_c = max(1, round(h * PARAMS.measure.border_share)), max(1, round(w * PARAMS.measure.border_share))
    border = np.zeros(shape, dtype=bool)
    border[:band_r, :] = border[-band_r:, :] = True
    border[:, :band_c] = border[:, -band_c:] = True
    border.flags.writeable = False
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
    strength = labelled_median(ink, labels, np.asarray(large) + 1)
    strongest = int(np.argmax(strength))
    if strength[large.index(largest)] < P.piece_strength * strength[strongest]:
        return large[strongest]
    return largest


def strong_pieces(labels: np.ndarray, ink: np.ndarray, largest: int, rest: list[int]) -> list[int]:
    """The pieces of ``rest`` whose ink is about as strong as the ``largest`` piece's, at its peak or
    its median. Mottled paper passes the threshold as many faint blobs round a small digit, and
    taken with it they make it a cloud; a faint piece of a digit on clean paper is its own ink
    (see grain_pieces)."""
    index = np.asarray([*rest, largest]) + 1
    middle, peak = labelled_median_and_peak(ink, labels, index)
    eps = PARAMS.measure.eps_level
    ratio = np.maximum(peak[:-1] / max(peak[-1], eps), middle[:-1] / max(middle[-1], eps))
    return [i for i, r in zip(rest, ratio) if r >= P.piece_strength]


def grown(edges: np.ndarray, largest: int, rest: list[int]) -> list[int]:
    """The ``largest`` component and those of ``rest`` close to it (growing: a piece that joins
    brings others within reach). ``edges`` are the components' boxes (see measure.box_edges)."""
    keep, rest, box = [largest], list(rest), edges.tolist()
    t, b, l, r = box[largest]
    changed = True
    while changed:
        changed = False
        extent = max(b - t, r - l)
        for i in list(rest):
            top, bottom, left, right = box[i]
            gap = max(0, top - b, t - bottom, left - r, l - right)
            if gap <= P.piece_reach * extent:
                keep.append(i)
                rest.remove(i)
                t, b, l, r = min(t, top), max(b, bottom), min(l, left), max(r, right)
                changed = True
    return keep
