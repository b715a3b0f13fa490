"""Shadows: a shadow's edge, or light falling off, taken for the digit in a page-sized window - the pen is
measured where the ink is strong."""

from __future__ import annotations

from .context import Context
from .measure import pen_width
from .params import PARAMS
from .refit import will_reset

P = PARAMS.shadow


def needed(ctx: Context) -> bool:
    """Only a working copy this big has shadows worth the check (a drawing a few dozen pixels wide has
    none, and the check costs it 10%); a sheet on a desk has its pen measured already."""
    return ctx.sheet is None and max(ctx.small.shape) >= P.min_side


def check(ctx: Context) -> None:
    """Stage: where shadows cover more of the map than the digit, what was taken for it is much wider
    than the pen strokes on the page: the pen is measured where the ink is strong (what shadows leave
    in the map is fainter than a pen's line), and the width held to a pen and a half."""
    if not needed(ctx) or will_reset(ctx):
        return
    assert ctx.found is not None and ctx.detect is not None and ctx.paper is not None and ctx.dark is not None
    strong = ctx.found & (ctx.detect >= P.strong_ink * ctx.paper.peak)
    pen = min(pen_width(ctx.found), pen_width(strong, P.strong_pen_q))
    ctx.width = min(ctx.width, P.pens * pen)
