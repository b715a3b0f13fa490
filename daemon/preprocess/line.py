"""A number's line of ink: its pieces found and deslanted, grouped by column, its height, its marks,
and the candidate cuts of a group too wide for one digit (number.py makes the candidates)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .context import Context, bounds
from .errors import NoDigitError
from .measure import label
from .params import PARAMS
from .select import border_mask, off_border

P = PARAMS.number


@dataclass
class Group:
    """Pieces of ink standing in one column (one digit, or several touching)."""

    left: float  # deslanted extent
    right: float
    top: int
    bottom: int
    ys: np.ndarray  # its pixels' rows...
    xs: np.ndarray  # ...columns...
    xp: np.ndarray  # ...and deslanted columns

    @classmethod
    def of(cls, ys: np.ndarray, xs: np.ndarray, slant: float) -> Group:
        xp = deslanted(ys, xs, slant)
        return cls(float(xp.min()), float(xp.max()), int(ys.min()), int(ys.max()) + 1, ys, xs, xp)

    def join(self, other: Group) -> None:
        self.left, self.right = min(self.left, other.left), max(self.right, other.right)
        self.top, self.bottom = min(self.top, other.top), max(self.bottom, other.bottom)
        self.ys, self.xs = np.concatenate([self.ys, other.ys]), np.concatenate([self.xs, other.xs])
        self.xp = np.concatenate([self.xp, other.xp])


@dataclass
class Line:
    """A line of ink read as a number: its groups, its digits' height, and which groups are digits and marks."""

    groups: list[Group]
    height: float
    digits: list[Group]
    marks: list[tuple[Group, str]]
    off_line: int = 0  # digit-sized pieces standing off this line (another line of writing), left out


def find(ctx: Context, slant: float | None = None) -> Line:
    """The line of ink found on ``ctx``: its pieces grouped by column (deslanted), its height, its marks."""
    assert ctx.found is not None and ctx.mask is not None and ctx.ink is not None
    labels, n = label(ctx.found if ctx.beside else ctx.mask)
    if not n:
        raise NoDigitError("no digit found: no ink after thresholding")
    if ctx.beside:
        ids, off_line = _on_line(labels, n)
    else:  # (the selection's digit, all of it; ink beside it off its rows is counted)
        ids, off_line = list(range(n)), _off_selection(ctx.found, ctx.mask)
    pieces = _pieces(labels, ids)
    ys, xs = np.concatenate([p[1] for p in pieces]), np.concatenate([p[2] for p in pieces])
    if slant is None:
        order = np.lexsort((xs, ys))  # (raster order, as the slant's sample is taken)
        slant = slant_of(ys[order], xs[order])
    groups = _groups(pieces, slant)
    height = _line_height(groups)
    marks, digits = [], []
    for g in groups:
        if (g.bottom - g.top) < P.mark_height * height:
            marks.append((g, _mark_kind(g, height)))
        else:
            digits.append(g)
    if not digits:
        raise NoDigitError("no digit found: only marks smaller than a digit")
    return Line(groups, height, digits, marks, off_line)


def _on_line(labels: np.ndarray, n: int) -> tuple[list[int], int]:
    """Pieces on the line of the largest tall piece - not specks, not border noise, overlapping the
    rows of the tall pieces level with it - and how many pieces that could be digits stand off it
    (another line of writing, even in a smaller hand: the reading is of this line only, and says so)."""
    areas, rows = _sized_rows(labels, n, lambda areas, candidates: max(areas[i] for i in candidates))
    sized = list(rows)
    tall = max(b - t for t, b in rows.values())
    ref = [i for i in sized if rows[i][1] - rows[i][0] >= P.reference_height * tall]
    anchor = rows[max(ref, key=lambda i: areas[i])]
    level = [i for i in ref if _same_line(rows[i], anchor)]
    line = (float(np.median([rows[i][0] for i in level])), float(np.median([rows[i][1] for i in level])))
    return [i for i in sized if _same_line(rows[i], line)], _off(rows.values(), line)


def _off_selection(found: np.ndarray, mask: np.ndarray) -> int:
    """How many pieces of ink beside the selection's digit (a wide piece read as a number: all of it is
    the line) could be digits of another line: as _on_line counts them, off the selection's rows."""
    top, bottom = bounds(mask)[:2]
    labels, n = label(found & ~mask)
    if not n:
        return 0
    _, rows = _sized_rows(labels, n, lambda areas, candidates: int(np.count_nonzero(mask)))
    return _off(rows.values(), (top, bottom))


def _sized_rows(
    labels: np.ndarray, n: int, reference: Callable[[np.ndarray, list[int]], float]
) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """The pieces' areas, and the rows (top, bottom) of those that are neither specks (least_piece of
    the ``reference`` area, given the areas and the candidates) nor border noise, by piece."""
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = ndimage.find_objects(labels)
    candidates = off_border(labels, n, areas, border_mask(labels.shape))
    least = max(PARAMS.select.least_piece_pixels, P.least_piece * reference(areas, candidates))
    return areas, {i: (boxes[i][0].start, boxes[i][0].stop) for i in candidates if areas[i] >= least}


def _off(rows: Iterable[tuple[int, int]], line: tuple[float, float]) -> int:
    """How many pieces of these ``rows`` stand off the ``line`` at least off_line_height of it tall."""
    least_off = P.off_line_height * (line[1] - line[0])
    return sum(1 for t, b in rows if b - t >= least_off and not _same_line((t, b), line))


def _same_line(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two row spans overlap by same_line of the shorter."""
    return min(a[1], b[1]) - max(a[0], b[0]) >= PARAMS.row.same_line * min(a[1] - a[0], b[1] - b[0])


_SHEARS = np.linspace(-P.most_slant, P.most_slant, P.slants)  # (the shears slant_of tries, made once)
_ROWS = np.arange(P.slants)


def slant_of(ys: np.ndarray, xs: np.ndarray) -> float:
    """The shear (x per y) that makes the strokes most upright: the sharpest column profile (the
    sum of its squared counts), every shear's profile counted in one bincount."""
    if len(ys) == 0:
        return 0.0
    step = max(1, len(ys) // P.slant_pixels)  # (a sample is as sharp a measure, at a fraction of the cost)
    ys, xs = ys[::step], xs[::step]
    xp = np.round(xs[None, :] - _SHEARS[:, None] * (ys - ys.mean())[None, :]).astype(np.int64)
    low = xp.min(axis=1)
    span = int((xp.max(axis=1) - low).max()) + 1
    xp += (span * _ROWS - low)[:, None]  # (each shear's profile in a span of its own, from 0)
    hist = np.bincount(xp.ravel(), minlength=span * P.slants).reshape(P.slants, span)
    scores = np.einsum("ij,ij->i", hist, hist)
    best, best_score = 0.0, -1.0
    for s, score in zip(_SHEARS.tolist(), scores.tolist()):
        if score > best_score * (1 + 1e-9):  # (the first of equals: the least shear to the left)
            best, best_score = float(s), score
    return best


def regressed(ys: np.ndarray, xs: np.ndarray) -> float | None:
    """Pixels' columns regressed on their rows (x per y; rows grow downward: leaning right is negative);
    None when they lie on one row."""
    dy = ys - ys.mean()
    spread = float(dy @ dy)
    if spread == 0:
        return None
    return float((xs - xs.mean()) @ dy) / spread


def lean_of(ys: np.ndarray, xs: np.ndarray) -> float:
    """How far the ink leans (x per y, as slant_of): :func:`regressed`, within most_slant."""
    lean = regressed(ys, xs)
    return 0.0 if lean is None else min(max(lean, -P.most_slant), P.most_slant)


def deslanted(ys: np.ndarray, xs: np.ndarray, slant: float) -> np.ndarray:
    """Columns with the strokes' slant taken out (rows stay): one frame for every piece of the line."""
    return xs - slant * ys


def _pieces(labels: np.ndarray, ids: list[int]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each piece's label (0-based) and its pixels' rows and columns."""
    boxes = ndimage.find_objects(labels)
    out = []
    for i in ids:
        sl = boxes[i]
        ys, xs = np.nonzero(labels[sl] == i + 1)
        out.append((i, ys + sl[0].start, xs + sl[1].start))
    return out


def _groups(pieces: list[tuple[int, np.ndarray, np.ndarray]], slant: float) -> list[Group]:
    """Pieces that share columns (deslanted) by at least join_overlap of the narrower, as one group."""
    ordered = sorted((Group.of(ys, xs, slant) for _, ys, xs in pieces), key=lambda g: g.left)
    groups: list[Group] = []
    for p in ordered:
        for g in groups:
            overlap = min(g.right, p.right) - max(g.left, p.left) + 1
            if overlap >= P.join_overlap * min(g.right - g.left + 1, p.right - p.left + 1):
                g.join(p)
                break
        else:
            groups.append(p)
    return sorted(groups, key=lambda g: g.left)


def solid(g: Group) -> bool:
    """Whether the group's ink covers every column it spans (deslanted): no paper between its pieces."""
    xp = np.floor(g.xp - g.left).astype(np.int64)
    return bool(np.bincount(np.clip(xp, 0, None)).all())


def _line_height(groups: list[Group]) -> float:
    """The digits' height: the median of the groups' near the tallest (marks and fragments left out)."""
    heights = np.array([g.bottom - g.top for g in groups], float)
    return float(np.median(heights[heights >= P.reference_height * heights.max()]))


def _mark_kind(g: Group, height: float) -> str:
    return "dash" if (g.right - g.left + 1) >= P.dash_aspect * (g.bottom - g.top) else "mark"


def cuts(g: Group, height: float) -> list[float]:
    """Candidate cuts inside a group too wide to be sure it is one digit: the valleys of its
    deslanted column profile, at least least_part of the height from its edges and each other, the
    lowest first, as many as the group's width could hold digits."""
    width = g.right - g.left + 1
    if width <= P.split_width * height:
        return []
    xp = np.floor(g.xp - g.left).astype(np.int64)
    profile = np.bincount(np.clip(xp, 0, None), minlength=int(width) + 1).astype(float)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    edge = P.least_part * height
    reach = max(1, int(edge / 2))
    valleys = [
        c
        for c in range(int(np.ceil(edge)), int(width - edge) + 1)
        if smooth[c] <= smooth[max(0, c - reach) : c + reach + 1].min()
    ]
    chosen: list[int] = []
    most = max(1, int(width / (P.least_digit * height)) - 1)
    for c in sorted(valleys, key=lambda c: smooth[c]):
        if any(abs(c - o) < edge for o in chosen):
            continue
        chosen.append(c)
        if len(chosen) >= most:
            break
    return [g.left + c for c in sorted(chosen)]
