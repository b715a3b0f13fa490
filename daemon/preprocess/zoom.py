"""A digit small on a large page is read again on a crop at full resolution (as much as brings it to
min_digit_work pixels), the desk round it made paper first."""

from __future__ import annotations

import numpy as np

from .context import Context, Paper
from .errors import NoDigitError
from .measure import enlarged, enlarged_smoothly, median
from .params import PARAMS

P = PARAMS.zoom


def zoom(ctx: Context) -> None:
    """Stage: re-read a small digit on a full-resolution crop; its reading is the result unless its
    "ink" reaches the crop's edges (a digit fills about the middle half of its crop: that is grain).
    On grainy paper the block mean is what lifts a faint digit out of the grain: a digit already
    nearly MNIST-sized is read at this scale rather than from a finer, grainier crop."""
    from .pipeline import READ, run  # (the pipeline runs this stage: it is imported when the stage runs)

    if not (ctx.allow_zoom and ctx.factor > 1):
        return
    assert ctx.paper is not None
    top, bottom, left, right = ctx.box()
    extent = max(bottom - top, right - left)
    paper, factor = ctx.paper, ctx.factor
    if extent >= P.min_digit_work or (extent >= P.grainy_extent and grainy(paper)):
        return
    margin = max(P.least_margin, extent // 2)
    t, b = max(0, top - margin) * factor, min(ctx.small.shape[0], bottom + margin) * factor
    l, r = max(0, left - margin) * factor, min(ctx.small.shape[1], right + margin) * factor
    # Only as much resolution as brings the digit to min_digit_work px: a faint digit that block
    # means lifted out of grainy paper drowns in the grain again at full resolution.
    scale = max(1, min(factor - 1, extent * factor // P.min_digit_work))
    crop = ctx.g[t:b, l:r]
    region = (slice(t // factor, b // factor), slice(l // factor, r // factor))  # the crop, on ``small``
    if ctx.sheet is not None:  # the desk next to a digit near the sheet's edge is no part of it
        crop = paper_outside(crop, ctx.sheet.mask[region], factor, ctx.small[region])
    if ctx.ruling is not None:  # nor a box round it or a ruled page's lines, left out on the page
        crop = paper_outside(crop, ~ctx.ruling[region], factor)  # (the paper's median: the lines are ink)
    sub = Context(crop, factor=scale, allow_zoom=False, dark=ctx.dark)
    try:
        zoomed = run(sub, READ).strokes
    except NoDigitError:
        return
    assert zoomed is not None
    h, w = zoomed.soft.shape
    if not (h * scale >= P.edge_to_edge * (b - t) and w * scale >= P.edge_to_edge * (r - l)):
        ctx.strokes = zoomed


def grainy(paper: Paper) -> bool:
    """Paper whose noise is grain_share of the ink's contrast or more."""
    return paper.spread > P.grain_share * max(paper.peak - paper.level, PARAMS.measure.eps_level)


def paper_outside(crop: np.ndarray, keep: np.ndarray, factor: int, paper: np.ndarray | None = None) -> np.ndarray:
    """``crop`` (full resolution) with the pixels outside ``keep`` (a mask at 1/``factor``: the sheet, or
    all but marks drawn round the digit) set to the paper: ``paper``, the working copy's level
    there (at 1/``factor``, 0..1), or else the median of the pixels kept. (On a photo one level for
    all of the desk would leave a step where a shadow darkens the sheet up to its edge, and the
    step would be read as a stroke: the desk takes the level the working copy gave it, that of
    the paper next to it.)"""
    on = enlarged(keep, factor, crop.shape)
    if on.all() or not on.any():
        return crop
    out = crop.copy()
    if paper is None:
        out[~on] = median(crop[on])
        return out
    level = enlarged_smoothly(paper.astype(np.float32), (paper.shape[0] * factor, paper.shape[1] * factor))
    level = level[: crop.shape[0], : crop.shape[1]][~on]
    out[~on] = np.round(level * 255) if crop.dtype == np.uint8 else level
    return out
