"""Decode-side size handling: paper added round a tight crop, the working scale and copy."""

from __future__ import annotations

import numpy as np

from ..errors import ImageError
from .context import Context
from .measure import as_unit_float, block_mean, median, quantile
from .params import PARAMS

P = PARAMS.size


def paper_beyond_frame(g: np.ndarray) -> np.ndarray:
    """``g`` with paper added round it when it may be a digit cropped so tight that its strokes run
    into the frame (a crop of a scan or a drawing): every later step takes what lies beyond the
    frame for more of the picture - mirrored, a stroke along the frame is twice as wide and passes
    for paper - and ink in the border band for noise.

    The paper is the frame's pixels near one end of its range: the end most of the four corners lie
    at (a digit's strokes seldom reach more than two corners of the box round it - a 7's bar, a
    2's foot - while they may cover most of the frame, as a small 0 cut at its strokes does), or,
    two against two, where most of the frame lies."""
    h, w = g.shape
    if max(h, w) >= PARAMS.photo_min_side or min(h, w) < P.least_framed_side:
        return g
    frame = np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]]).astype(np.float32)  # (order: no matter)
    near = P.frame_ink * (float(g.max()) - float(g.min()))
    if float(frame.max()) - float(frame.min()) <= near:  # (a clean frame: its quantiles are no further apart)
        return g
    lo, hi, middle = quantile(frame, P.frame_low_q), quantile(frame, P.frame_high_q), median(frame)
    if hi - lo <= near:
        return g
    corners = np.array([g[0, 0], g[0, -1], g[-1, 0], g[-1, -1]], np.float32)
    votes = int(np.sum(hi - corners < corners - lo)) - int(np.sum(hi - corners > corners - lo))
    end = hi if votes > 0 or (votes == 0 and hi - middle < middle - lo) else lo
    paper = median(frame[np.abs(frame - end) <= near])
    pad = min(max(P.least_pad, round(P.frame_pad * max(h, w))), (PARAMS.photo_min_side - 1 - max(h, w)) // 2)
    if pad < 1:  # (the padded picture must not reach a photo's size)
        return g
    return np.pad(g, pad, constant_values=np.asarray(paper).astype(g.dtype))


def prepare(ctx: Context) -> None:
    """Stage: a 2-D picture as the later stages take it, paper round a tight crop, and the
    working scale - the reduction that brings its longer side to ``work_max`` or under."""
    g = np.asarray(ctx.g)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ImageError(f"expected a 2-D grayscale image, got shape {g.shape}")
    if g.dtype != np.uint8:
        g = as_unit_float(g)  # 8-bit images stay 8-bit until reduced: converting a scan costs ms
    ctx.g = paper_beyond_frame(g)
    ctx.factor = max(1, -(-max(ctx.g.shape) // ctx.work_max))


def reduce(ctx: Context) -> None:
    """Stage: the working copy (block mean: a thin pen line stays a fainter line rather than dropping out)."""
    ctx.small = block_mean(ctx.g, ctx.factor)
    ctx.photo_sized = max(ctx.g.shape) >= PARAMS.photo_min_side
