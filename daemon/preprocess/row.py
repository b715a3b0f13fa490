"""Several digits in a row (a number): counted, so the picture is refused rather than one digit guessed."""

from __future__ import annotations

import numpy as np

from .measure import labelled_median
from .params import PARAMS

P = PARAMS.row


def digits_beside(
    labels: np.ndarray, ink: np.ndarray, edges: np.ndarray, areas: np.ndarray, keep: list[int], others: list[int]
) -> int:
    """How many of ``others`` are digits of their own in a row with the one kept (a number): about as
    tall as it (see :func:`digit_sized`), with about as much ink, as dark (a blotch of mottled paper is
    fainter), on the same line. A stray stroke, a full stop, a speck or an underline is none of these."""
    if not others:
        return 0
    t, b = edges[keep, 0].min(), edges[keep, 1].max()
    which = np.asarray(others)
    top, bottom, left, right = edges[which].T
    in_line = np.minimum(b, bottom) - np.maximum(t, top) >= P.same_line * np.minimum(b - t, bottom - top)
    enough = areas[which] >= P.digit_ink * areas[keep].sum()
    like = which[digit_sized(top, bottom, left, right, b - t) & in_line & enough]
    if len(like) == 0:
        return 0
    middle = labelled_median(ink, labels, np.r_[like, keep[0]] + 1)
    return int(np.sum(middle[:-1] >= PARAMS.select.piece_strength * middle[-1]))


def digits_within(labels: np.ndarray, edges: np.ndarray, areas: np.ndarray, keep: list[int]) -> int:
    """How many more digits the pieces kept as one hold: written close, digits in a row join the
    first as its pieces, but they fall into groups side by side with paper between them on every
    row (two slanted 1s written close share columns, not rows' ink) - each about as tall as all of
    them, with about as much ink, and holding a piece at least half as tall (a dashed line beside
    a 1 - MNIST's crops keep some - is short pieces). ``labels``: the pieces' labels (1-based)."""
    if len(keep) < 2:
        return 0
    t, b = edges[keep, 0].min(), edges[keep, 1].max()
    groups: list[list[int]] = []  # [left, right, top, bottom, area, tallest piece]
    members: list[list[int]] = []  # each group's pieces
    for i in sorted(keep, key=lambda i: edges[i, 2]):
        top, bottom, left, right = edges[i].tolist()
        if groups and left < groups[-1][1] and not _right_of(labels, edges, members[-1], i):
            g = groups[-1]
            g[1], g[2], g[3] = max(g[1], right), min(g[2], top), max(g[3], bottom)
            g[4], g[5] = g[4] + int(areas[i]), max(g[5], bottom - top)
            members[-1].append(i)
        else:
            groups.append([left, right, top, bottom, int(areas[i]), bottom - top])
            members.append([i])
    if len(groups) < 2:
        return 0
    _, _, top, bottom, area, tallest = np.array(groups).T
    # (an upright stroke counts here: kept with the digit, it is no ruling's sliver beside the crop)
    sized = (bottom - top >= P.digit_height * (b - t)) & (area >= P.digit_ink * area.max())
    digits = sized & (tallest >= P.tallest_piece * (b - t))
    return max(0, int(np.sum(digits)) - 1)


def _right_of(labels: np.ndarray, edges: np.ndarray, group: list[int], piece: int) -> bool:
    """Whether ``piece`` stands right of ``group``'s pieces with paper between them on every row they
    share, and shares at least half the shorter one's rows (not a flag above a stem)."""
    box = edges[[*group, piece]]
    top, bottom = int(box[:, 0].min()), int(box[:, 1].max())
    left, right = int(box[:, 2].min()), int(box[:, 3].max())
    window = labels[top:bottom, left:right]
    cols = np.arange(right - left)
    mine, its = np.isin(window, np.asarray(group) + 1), window == piece + 1
    rows = mine.any(axis=1) & its.any(axis=1)
    shorter = min(int(np.count_nonzero(mine.any(axis=1))), int(np.count_nonzero(its.any(axis=1))))
    if np.count_nonzero(rows) < P.same_line * shorter:
        return False
    mine_right = np.where(mine[rows], cols, -1).max(axis=1)
    its_left = np.where(its[rows], cols, right - left).min(axis=1)
    return bool((mine_right < its_left).all())


def digit_sized(top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray, height: int) -> np.ndarray:
    """Which boxes are another digit beside one ``height`` tall: about as tall, and not a bare upright
    line - MNIST's crops keep slivers of the next box's ruling beside a 1, and two upright strokes
    side by side are as much a 1 and a line as an 11."""
    return (bottom - top >= P.digit_height * height) & (right - left >= P.least_aspect * (bottom - top))
