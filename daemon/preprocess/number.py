"""A number: the ink on the line split into candidate digits for the network to choose among.

Over-segmentation, then recognition picks the path (the classic zip-code and cheque readers'
way): the line is deslanted, its pieces grouped by column (a 5's floating flag, a broken stroke
join their digit), a group too wide for one digit gets candidate cuts at the valleys of its
column profile, and every run of consecutive parts that could be one digit is boxed as a single
digit is (box.boxed) - the network reads them all in the batch's one call, and
numbers.read_number walks the lattice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .box import boxed, cropped, views_of
from .context import Context, Strokes
from .line import Group, Line, cuts, deslanted, find, lean_of, regressed, slant_of, solid
from .params import PARAMS
from .zoom import grainy

P = PARAMS.number


@dataclass(frozen=True)
class Lattice:
    """Candidate digits of one picture: a reading is a path of candidates from part 0 to part ``parts``."""

    x: list[np.ndarray]  # each candidate's views, (V, 28, 28) as preprocess.views gives a single digit
    spans: list[tuple[int, int]]  # the parts [i, j) each candidate covers
    prior: np.ndarray  # (S,) log-prior of each candidate's shape (0: a digit's shape; below: too wide, too short)
    shape: np.ndarray  # (S, 3) each candidate's width, height and middle's offset from the line's, shares of its height
    boxes: np.ndarray  # (S, 4) int: x0, y0, x1, y1 of each candidate on the picture
    parts: int  # how many parts the line was cut into
    height: float  # the line's height, in working-copy pixels
    marks: tuple[tuple[int, str], ...]  # non-digit marks left out: (how many parts stand before it, what)
    off_line: int = 0  # digit-sized pieces off the line read (another line of writing), left out
    alone: tuple[bool, ...] = ()  # each candidate is one whole group, paper round it (not cut from touching ink)
    slash: tuple[bool, ...] = ()  # each candidate is one straight stroke leaning like a date's slash (slashed)

    @property
    def size(self) -> int:
        return len(self.x)

    @property
    def segmented(self) -> bool:
        """Read as a number (candidates to choose among), not as a picture's one digit (:func:`single`)."""
        return self.height > 0


def single(views: np.ndarray, box: tuple[int, int, int, int]) -> Lattice:
    """The lattice of a picture of one digit: one candidate, one part."""
    boxes = np.asarray([box], np.int64)
    shape = np.zeros((1, 3), np.float32)
    return Lattice([views], [(0, 1)], np.zeros(1, np.float32), shape, boxes, 1, 0.0, (), 0, (True,))


def picture_box(ctx: Context, top: int, bottom: int, left: int, right: int) -> tuple[int, int, int, int]:
    """A box on the working copy (rows and columns, ends exclusive) as x0, y0, x1, y1 on the picture."""
    zoomed, offset = ctx.origin
    scale = ctx.factor * zoomed
    return (
        round(left * scale - offset),
        round(top * scale - offset),
        round(right * scale - offset),
        round(bottom * scale - offset),
    )


def segment(ctx: Context) -> None:
    """Stage: when a number may be asked for and the page holds digits in a row, or one piece too
    wide to be sure it is one digit, the line's candidate digits are the result - or, when the line
    is too low on a reduced working copy, the line alone, to be read again finer (views.read); a wide
    piece small on such a copy is read again finer too, unless the checker is sure it is one digit."""
    if ctx.max_digits <= 1 or not ctx.allow_zoom:
        return
    slant = None
    if not ctx.beside:
        found = wide(ctx)
        if found is None:
            return
        strokes = one_digit(ctx, found)
        if small_on_page(ctx):  # (the zoom stage reads one digit: unless the checker is sure, read it again finer)
            ctx.small_piece = strokes is None and ctx.refine
            return
        if strokes is not None:  # (the crop stage's own: the zoom stage passes over a digit this wide)
            ctx.strokes = strokes
            return
        assert ctx.mask is not None
        slant = slant_of(*np.nonzero(ctx.mask))  # (the cuts need the sharpest upright, wide() a quick lean)
    row = find(ctx, slant)
    if ctx.refine and ctx.factor > 1 and row.height < P.least_height:
        ctx.low_line = row  # (its candidates are boxed only if the finer reading finds no number)
        return
    ctx.number = candidates(ctx, row)


def wide(ctx: Context) -> float | None:
    """The deslanted width of the one digit found when it is too wide, so, to be sure it is one digit
    (touching digits); None when it is not. Deslanted by its lean (:func:`line.lean_of`: a tenth of
    the sharpest profile's cost, slant_of), which the segment checker's judgement needs no finer."""
    top, bottom, left, right = ctx.box()
    height = bottom - top
    if right - left <= P.lone_split_width * height:  # (the common case: deslanting seldom widens a digit)
        return None
    if height * ctx.factor < P.least_cut_height:
        return None  # (too few pixels to cut a digit from its neighbour)
    assert ctx.paper is not None
    if grainy(ctx.paper):
        return None  # (on grainy paper the grain the digit took in would be cut into digits)
    assert ctx.mask is not None
    ys, xs = np.nonzero(ctx.mask)
    xp = deslanted(ys, xs, lean_of(ys, xs))
    width = float(xp.max() - xp.min() + 1)
    return width if width > P.lone_split_width * height else None


def small_on_page(ctx: Context) -> bool:
    """The selection is small on a reduced working copy: the zoom stage reads one digit of it at full resolution."""
    return ctx.factor > 1 and ctx.extent() < PARAMS.zoom.min_digit_work


def one_digit(ctx: Context, width: float) -> Strokes | None:
    """The wide piece's strokes when the segment checker (``ctx.one_digit``) is sure it is one whole
    digit - a wide 0, 2 or 4 rather than touching digits - so it is read as one, uncut: the number's
    lattice costs ten times the digit's reading, and most wide pieces are single digits. Judged on
    the view and shape the lattice would give the piece as a whole candidate."""
    if ctx.one_digit is None:
        return None
    assert ctx.ink is not None and ctx.mask is not None
    top, bottom, left, right = ctx.box()
    if width > P.sure_most_wide * (bottom - top):
        return None
    strokes = cropped(ctx.ink[top:bottom, left:right], ctx.mask[top:bottom, left:right], ctx.width)
    shape = np.array([[width / (bottom - top), 1.0, 0.0]], np.float32)  # (one group: its own line)
    view = boxed(strokes, PARAMS.box.min_stroke)
    sure = float(ctx.one_digit(view[None], shape)[0]) >= P.sure_one_digit
    return strokes._replace(boxed=view) if sure else None


def candidates(ctx: Context, line: Line) -> Lattice:
    """The line's candidate digits: each digit group, cut at its column profile's valleys when too
    wide, and runs of neighbouring parts, boxed as single digits are."""
    groups, height, digits, marks = line.groups, line.height, line.digits, line.marks
    middle = float(np.median([(g.top + g.bottom) / 2 for g in digits]))
    cut_at = {id(g): cuts(g, height) for g in digits}
    sure: dict[int, Strokes] = {}  # (a group judged whole, its strokes and view: boxed once)
    if ctx.one_digit is not None and (ctx.beside or len(digits) > 1):  # (a lone piece was judged: one_digit)
        sure = _sure_whole(ctx, [g for g in digits if cut_at[id(g)]], height, middle)
        for g in digits:
            if id(g) in sure:
                cut_at[id(g)] = []
    parts: list[tuple[Group, float, float]] = []  # (group, deslanted left, right) of each part
    for g in digits:
        edges = [g.left, *cut_at[id(g)], g.right + 1]
        parts += [(g, a, b) for a, b in itertools.pairwise(edges)]
    # One solid group: one wide digit or touching ones, with no row to measure a digit's width by.
    lone = len(digits) == 1 and solid(digits[0])
    builder = _Builder(ctx, height, middle, lone, sure)
    join = [False] + [  # a candidate may run on into the next group across a gap this narrow (a broken stroke)
        a[0] is b[0] or b[0].left - a[0].right <= P.join_gap * height for a, b in itertools.pairwise(parts)
    ]
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            if j > i + 1 and not join[j - 1]:
                break
            g = parts[i][0]
            whole = parts[j - 1][0] is g and (i == 0 or parts[i - 1][0] is not g)
            whole = whole and (j == len(parts) or parts[j][0] is not g)
            if j - i <= P.most_parts or whole:  # (a group is always a candidate of its own)
                builder.add([p[0] for p in parts[i:j]], parts[i][1], parts[j - 1][2], (i, j), whole)
    # The selection's one digit, whole (a flag taken for a mark, a piece paper parts from the rest
    # are its own), when it is no wider than one digit: a number's digits then do not pass for one.
    left, right = min(g.left for g in groups), max(g.right for g in groups) + 1
    if not ctx.beside and len(groups) > 1 and right - left <= P.lone_wide_digit * height:
        builder.add(groups, left, right, (0, len(parts)), True)
    mark_at = tuple(
        (sum(1 for p in parts if p[1] < m.left), kind) for m, kind in sorted(marks, key=lambda mk: mk[0].left)
    )
    return builder.done(len(parts), height, mark_at, line.off_line)


def _sure_whole(ctx: Context, groups: list[Group], height: float, middle: float) -> dict[int, Strokes]:
    """The groups the segment checker is sure are one whole digit each (as number.one_digit, for a
    group of a line), by id, with their strokes: they are not cut - a wide 0 of a zip code is one
    candidate, not three. A group wider than sure_most_wide of the line's height is cut whatever it says."""
    groups = [g for g in groups if g.right - g.left + 1 <= P.sure_most_wide * height]
    if not groups:
        return {}
    assert ctx.one_digit is not None
    pieces = [_piece(ctx, g.ys, g.xs) for g in groups]
    views = [boxed(strokes, PARAMS.box.min_stroke) for *_, strokes in pieces]
    shapes = [_shape(float(g.xp.max() - g.xp.min() + 1), t, b, height, middle) for g, (t, b, *_) in zip(groups, pieces)]
    judged = ctx.one_digit(np.stack(views), np.asarray(shapes, np.float32)) >= P.sure_one_digit
    return {id(g): p[4]._replace(boxed=v) for g, p, v, ok in zip(groups, pieces, views, judged) if ok}


def _piece(ctx: Context, ys: np.ndarray, xs: np.ndarray) -> tuple[int, int, int, int, Strokes]:
    """The box (top, bottom, left, right) of some of the line's pixels, and their strokes as a digit's."""
    assert ctx.ink is not None
    t, b, l, r = _box(ys, xs)
    part = np.zeros((b - t, r - l), bool)
    part[ys - t, xs - l] = True
    return t, b, l, r, cropped(ctx.ink[t:b, l:r], part, ctx.width)


def _box(ys: np.ndarray, xs: np.ndarray) -> tuple[int, int, int, int]:
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _shape(width: float, top: int, bottom: int, line: float, middle: float) -> tuple[float, float, float]:
    """A candidate's width (deslanted), height and middle's offset from the line's, shares of its height."""
    return width / line, (bottom - top) / line, ((top + bottom) / 2 - middle) / line


class _Builder:
    """Boxes candidates as single digits are boxed, with their shape prior and picture box."""

    def __init__(self, ctx: Context, height: float, middle: float, lone: bool, known: dict[int, Strokes]) -> None:
        self.ctx, self.height, self.middle, self.lone, self.known = ctx, height, middle, lone, known
        self.shape: list[tuple[float, float, float]] = []
        self.x: list[np.ndarray] = []
        self.spans: list[tuple[int, int]] = []
        self.prior: list[float] = []
        self.boxes: list[tuple[int, int, int, int]] = []
        self.alone: list[bool] = []
        self.slash: list[bool] = []

    def add(self, groups: list[Group], left: float, right: float, span: tuple[int, int], whole: bool) -> None:
        """A candidate; ``whole``: one whole group (or the lone digit), which gets a thin pen's second view
        (views_of) as a digit alone does - a piece cut from a group reads as well without it."""
        ys, xs, xp = (np.concatenate([getattr(g, k) for g in groups]) for k in ("ys", "xs", "xp"))
        keep = (xp >= left) & (xp < right)
        ys, xs, xp = ys[keep], xs[keep], xp[keep]
        if len(ys) < PARAMS.select.least_digit_pixels:
            return
        known = self.known.get(id(groups[0])) if len(groups) == 1 and whole else None
        # (a group judged whole: its strokes and view are those the checker saw, on the same pixels)
        t, b, l, r, strokes = _piece(self.ctx, ys, xs) if known is None else (*_box(ys, xs), known)
        self.x.append(views_of(strokes) if whole else boxed(strokes, PARAMS.box.min_stroke)[None])
        self.spans.append(span)
        width = float(xp.max() - xp.min() + 1)
        self.prior.append(_prior(width, b - t, self.height, self.lone))
        self.shape.append(_shape(width, t, b, self.height, self.middle))
        self.boxes.append(picture_box(self.ctx, t, b, l, r))
        self.alone.append(whole)
        self.slash.append(whole and len(groups) == 1 and slashed(ys, xp, self.height))

    def done(self, parts: int, height: float, marks: tuple[tuple[int, str], ...], off_line: int) -> Lattice:
        boxes = np.asarray(self.boxes, np.int64).reshape(-1, 4)
        shape = np.asarray(self.shape, np.float32).reshape(-1, 3)
        prior = np.asarray(self.prior, np.float32)
        alone, slash = tuple(self.alone), tuple(self.slash)
        return Lattice(self.x, self.spans, prior, shape, boxes, parts, height, marks, off_line, alone, slash)


def slashed(ys: np.ndarray, xp: np.ndarray, height: float) -> bool:
    """Whether a group's pixels (rows, deslanted columns) lie along one straight stroke that leans
    right more than the line's digits do: a date's or a fraction's slash, which reads as a 1. (Rendered
    dates: 72% of slashes; 2.4% of real writers' 1s, no other digit.)"""
    lean = regressed(ys, xp)
    if lean is None:
        return False
    off = xp - lean * ys
    return lean <= P.slash_lean and float(off.std()) <= P.slash_thin * height


def _prior(width: float, height: int, line: float, lone: bool) -> float:
    """Log-prior of a candidate's shape: a digit is no wider than wide_digit of the line's height
    (lone_wide_digit in a picture of one piece of ink) and no shorter than short_digit of it; each
    share beyond costs its penalty. Every digit costs digit_cost: fewer digits are likelier."""
    wide, penalty = (P.lone_wide_digit, P.lone_wide_penalty) if lone else (P.wide_digit, P.wide_penalty)
    too_wide = max(0.0, width / line - wide)
    too_short = max(0.0, P.short_digit - height / line)
    return -penalty * too_wide - P.short_penalty * too_short - P.digit_cost
