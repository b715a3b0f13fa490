"""The paper's level again, with a background window fitted to the strokes once their width is known."""

from __future__ import annotations

from .context import Context
from .ink import detected
from .measure import paper_window, stroke_width, stroke_window
from .paper import ink_map
from .params import PARAMS
from .select import digit

P = PARAMS.paper


def refit(ctx: Context) -> None:
    """Stage: the paper's shading can be as wide as the first, picture-sized background window: with
    the strokes' width known, the paper is estimated again with a window fitted to them. A sheet's pen
    is measured under a level that follows a thick marker's strokes down: a window fitted to it can be
    narrower than where strokes meet, and hollow them there - it is fitted once more to the digit."""
    window = stroke_window(ctx.width)
    if not (ctx.sheet is not None or 2 * window < paper_window(ctx.small)):
        return
    if unchanged(ctx):  # (the same map again, and all read off it: only the width the shadow stage held back)
        assert ctx.mask is not None
        ctx.width = stroke_width(ctx.mask)
        return
    for _ in range(P.refits):
        ctx.ink, ctx.dark = ink_map(
            ctx.small, window, tight=not ctx.photo_sized, plain=ctx.sheet is None, dark=ctx.dark
        )
        reading = detected(ctx.ink)
        ctx.detect, ctx.paper, ctx.found, ctx.ruling = reading.detect, reading.paper, reading.found, reading.ruling
        ctx.mask, ctx.beside = digit(ctx.found, ctx.detect, ctx.sheet, (reading.labels, reading.n))
        ctx.width = stroke_width(ctx.mask)
        if ctx.sheet is None or stroke_window(ctx.width) <= P.pen_refit * window:
            break
        window = stroke_window(ctx.width)


def unchanged(ctx: Context) -> bool:
    """Whether the refit would read what the first reading did: a map from the paper's one flat level
    (no window to fit), no sheet, and the digit found on it (else it is looked for again, and fails again)."""
    return ctx.flat and ctx.sheet is None and ctx.mask is not None


def will_reset(ctx: Context) -> bool:
    """Whether the refit will set the stroke width from the digit again, whatever the shadow stage makes
    of it: an unchanged reading whose window, fitted even to this width, is narrower than the first
    (a narrower pen only narrows the window: the refit runs then too)."""
    return unchanged(ctx) and 2 * stroke_window(ctx.width) < paper_window(ctx.small)
