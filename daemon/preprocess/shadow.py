"""Shadows: a shadow's edge, or light falling off, taken for the digit in a page-sized window - the pen is
measured where the ink is strong, and a photo's thin digit looked for again with a fine window."""

from __future__ import annotations

import numpy as np

from .context import Context
from .errors import NoDigitError
from .ink import detected
from .measure import pen_width, stroke_width
from .paper import ink_map
from .params import PARAMS
from .select import digit

P = PARAMS.shadow


def needed(ctx: Context) -> bool:
    """Only a working copy this big has shadows worth the check (a drawing a few dozen pixels wide has
    none, and the check costs it 10%); a sheet on a desk has its pen measured already."""
    return ctx.sheet is None and max(ctx.small.shape) >= P.min_side


def check(ctx: Context) -> None:
    """Stage: where shadows cover more of the map than the digit, what was taken for it is much wider
    than the pen strokes on the page: the pen is measured where the ink is strong (what shadows leave
    in the map is fainter than a pen's line), and the width held to a pen and a half."""
    if not needed(ctx):
        return
    assert ctx.found is not None and ctx.detect is not None and ctx.paper is not None and ctx.dark is not None
    strong = ctx.found & (ctx.detect >= P.strong_ink * ctx.paper.peak)
    pen = min(pen_width(ctx.found), pen_width(strong, P.strong_pen_q))
    ctx.width = min(ctx.width, P.pens * pen)
    if ctx.photo_sized and ctx.width > P.fine_pen:  # (else a pen half as wide is thinner than any line)
        ctx.width = fine_pen(ctx.small, ctx.dark, ctx.width, ctx.found)


def fine_pen(small: np.ndarray, dark: bool, width: float, found: np.ndarray) -> float:
    """The stroke width of the digit a fine window finds, if it is under half of ``width`` (else
    ``width``). A soft shadow, or light falling off, leaves broad faint blobs in a page-sized
    window's map (where ``found`` is the ink) that outshine a thin pen's faint digit; a window a
    few thin strokes wide takes them away and leaves the strokes. Strokes wider than that window
    lose their middles in it: where the digit it finds is wider than fine_pen, or holds under half
    the ink ``found`` there, the pen is not thin."""
    ink, _ = ink_map(small, P.fine_window, plain=True, dark=dark)
    reading = detected(ink)
    try:
        mask = digit(reading.found, reading.detect, labelled=(reading.labels, reading.n)).digit
    except NoDigitError:
        return width
    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    fine = stroke_width(mask)
    thin = 2 * fine <= width and fine <= P.fine_pen
    return fine if thin and mask[box].sum() >= P.found_share * found[box].sum() else width
