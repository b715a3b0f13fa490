"""Boxing: the digit's soft ink cropped to it, its thin strokes thickened, fitted into 20x20 and centred
by mass in 28x28 - MNIST's own normalisation."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from .context import Context, Strokes, bounds
from .measure import centre_of_mass, core_scaled, resized
from .params import PARAMS

P = PARAMS.box


def crop(ctx: Context) -> None:
    """Stage: the soft ink map (the unsmoothed one: detection's smoothing is for finding the digit),
    cropped to the digit and a pixel round it, scaled so the strokes' core is full ink."""
    assert ctx.ink is not None and ctx.mask is not None
    top, bottom, left, right = ctx.box()
    ctx.strokes = cropped(ctx.ink[top:bottom, left:right], ctx.mask[top:bottom, left:right], ctx.width)


def cropped(ink: np.ndarray, mask: np.ndarray, width: float) -> Strokes:
    """A digit's strokes from its ink map and pixels, both cropped to its box (the mask is empty round
    it): the ink within a pixel of the digit, scaled so the strokes' core is full ink."""
    return Strokes(core_scaled(ink, mask, P.core_q), width, max(mask.shape))


def growth(strokes: Strokes, least: float) -> float:
    """How many pixels wider the strokes must grow to be ``least`` px wide at 28x28."""
    return least / (P.box / max(strokes.extent, 1)) - strokes.width


def thicken(strokes: Strokes, least: float) -> np.ndarray:
    """The soft ink map, its strokes grey-dilated when they would end up thinner than ``least`` px at 28x28."""
    soft, grow = strokes.soft, growth(strokes, least)
    if grow < 1.0:
        return soft
    size = int(round(grow)) + 1
    padded = cv2.copyMakeBorder(soft, size, size, size, size, cv2.BORDER_CONSTANT, value=0)  # (np.pad's, 7x faster)
    anchor = ((size - 1) // 2, (size - 1) // 2)  # (ndimage.grey_dilation's window; the disk is symmetric)
    return cv2.dilate(padded, disk(size), anchor=anchor)


@cache
def disk(size: int) -> np.ndarray:
    """A disk of ``size`` pixels across, as a dilation kernel."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    return ((yy**2 + xx**2) <= ((size - 1) / 2 + 0.5) ** 2).astype(np.uint8)


def boxed(strokes: Strokes, least: float) -> np.ndarray:
    """The digit as the network reads it, its strokes at least ``least`` px wide at 28x28."""
    return to_mnist_box(thicken(strokes, least))


def views_of(strokes: Strokes) -> np.ndarray:
    """The digit's views, (V, 28, 28): boxed at min_stroke, and at thick_stroke too when its pen is thin
    enough to be thickened that far (see views.views)."""
    first = boxed(strokes, P.min_stroke) if strokes.boxed is None else strokes.boxed
    if growth(strokes, P.thick_stroke) < 1.0:
        return first[None]
    return np.stack([first, boxed(strokes, P.thick_stroke)])


def to_mnist_box(soft: np.ndarray) -> np.ndarray:
    """Fit into 20x20 keeping aspect ratio, pad to 28x28, centre by centre of mass; an empty box when
    none of it is visible (a number's candidate of faint pixels only: it reads as no digit)."""
    top, bottom, left, right = bounds(soft > P.visible)
    if bottom <= top:
        return np.zeros((P.size, P.size), dtype=np.float32)
    soft = soft[top:bottom, left:right]
    h, w = soft.shape
    scale = P.box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    fitted = np.clip(resized(soft, nh, nw, bilinear=scale >= 1), 0.0, 1.0)
    cy, cx = centre_of_mass(fitted)
    size = P.size
    top = min(max(int(round(size / 2 - 0.5 - cy)), 0), size - nh)
    left = min(max(int(round(size / 2 - 0.5 - cx)), 0), size - nw)
    out = np.zeros((size, size), dtype=np.float32)
    out[top : top + nh, left : left + nw] = fitted
    return out
