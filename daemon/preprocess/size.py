"""Decode-side size handling: pixel art taken back to its own size, paper added round a tight crop."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..errors import ImageError
from .context import Context
from .measure import as_unit_float, block_mean, median, quantile
from .params import PARAMS

P = PARAMS.size


def unzoomed(g: np.ndarray) -> np.ndarray:
    """``g`` at its own size when it was enlarged with square pixels (nearest neighbour: pixel art,
    a small drawing zoomed in a paint program) - every run of equal rows and of equal columns away
    from the frame is a whole number of blocks. The blocks hold nothing the small picture does not,
    while their staircase edges, scaled into the 20x20 box, read as a stroke's wobble.

    The middle row and column are looked at first: a picture with detail of its own (anti-aliased
    strokes, paper's noise) shows a run of one pixel there, which settles it in a microsecond or two
    without a full pass."""
    h, w = g.shape
    if min(h, w) < 2 * P.min_unzoomed:
        return g
    row, col = g[h // 2], g[:, w // 2]
    steps = row[1:] != row[:-1]
    if (steps[1:] & steps[:-1]).any() or block(steps) == 1 or block(col[1:] != col[:-1]) == 1:
        return g
    rows, cols = (g[1:] != g[:-1]).any(axis=1), (g[:, 1:] != g[:, :-1]).any(axis=0)
    k = math.gcd(block(rows), block(cols))
    k = max((d for d in range(1, k + 1) if k % d == 0 and -(-min(h, w) // d) >= P.min_unzoomed), default=1)
    if k < 2:
        return g
    first_row, first_col = int(np.argmax(rows)) + 1, int(np.argmax(cols)) + 1  # where the first whole block starts
    return g[np.unique(np.r_[0, np.arange(first_row % k, h, k)])][
        :, np.unique(np.r_[0, np.arange(first_col % k, w, k)])
    ]


def block(changed: np.ndarray) -> int:
    """The greatest common divisor of the lengths of the runs between the True values of ``changed``
    (line i differs from line i + 1) - the runs cut by the frame left out; 0 when there are none."""
    starts = np.flatnonzero(changed)
    return int(np.gcd.reduce(np.diff(starts))) if len(starts) > 1 else 0


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
    frame = np.concatenate([g[0, :], g[1:, -1], g[-1, -2::-1], g[-2:0:-1, 0]]).astype(np.float32)  # (in order round)
    near = P.frame_ink * (float(g.max()) - float(g.min()))
    if float(frame.max()) - float(frame.min()) <= near:  # (a clean frame: its quantiles are no further apart)
        return g
    lo, hi, middle = quantile(frame, P.frame_low_q), quantile(frame, P.frame_high_q), median(frame)
    if hi - lo <= near or not ink_on_frame(frame, near):
        return g
    corners = np.array([g[0, 0], g[0, -1], g[-1, 0], g[-1, -1]], np.float32)
    votes = int(np.sum(hi - corners < corners - lo)) - int(np.sum(hi - corners > corners - lo))
    end = hi if votes > 0 or (votes == 0 and hi - middle < middle - lo) else lo
    paper = median(frame[np.abs(frame - end) <= near])
    pad = min(max(P.least_pad, round(P.frame_pad * max(h, w))), (PARAMS.photo_min_side - 1 - max(h, w)) // 2)
    if pad < 1:  # (the padded picture must not reach a photo's size)
        return g
    return np.pad(g, pad, constant_values=np.asarray(paper).astype(g.dtype))


def ink_on_frame(ring: np.ndarray, near: float) -> bool:
    """Whether the frame's pixels, in order round it (``ring``), stand ``near`` or more off their running
    median: strokes the crop cut through. A frame that only varies slowly is paper in uneven light (a
    phone photo cropped to the digit), and paper added at one level would stand out of it as a ring of ink."""
    window = max(P.frame_window_least, len(ring) // P.frame_window_parts) | 1
    return float(np.abs(ring - ndimage.median_filter(ring, window, mode="wrap")).max()) >= near


def prepare(ctx: Context) -> None:
    """Stage: a 2-D picture as the later stages take it, unzoomed, paper round a tight crop, and the
    working scale - the reduction that brings its longer side to ``work_max`` or under."""
    g = np.asarray(ctx.g)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ImageError(f"expected a 2-D grayscale image, got shape {g.shape}")
    if g.dtype != np.uint8:
        g = as_unit_float(g)  # 8-bit images stay 8-bit until reduced: converting a scan costs ms
    own = unzoomed(g)
    ctx.g = paper_beyond_frame(own)
    zoomed, pad = g.shape[0] / own.shape[0], (ctx.g.shape[0] - own.shape[0]) // 2
    ctx.origin = (zoomed, pad * zoomed)
    ctx.factor = max(1, -(-max(ctx.g.shape) // ctx.work_max))


def reduce(ctx: Context) -> None:
    """Stage: the working copy (block mean: a thin pen line stays a fainter line rather than dropping out)."""
    ctx.small = block_mean(ctx.g, ctx.factor)
    ctx.photo_sized = max(ctx.g.shape) >= PARAMS.photo_min_side
