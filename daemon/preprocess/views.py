"""What callers use: :func:`normalize` (training's input) and :func:`views` (serving's)."""

from __future__ import annotations

import numpy as np

from .box import boxed, views_of
from .context import Context, Judge, Strokes
from .number import Lattice, candidates, picture_box, single
from .params import PARAMS
from .pipeline import AFTER_NUMBER, run, timed_step

WORK_MAX = PARAMS.work_max
B = PARAMS.box


def normalize(gray: np.ndarray, work_max: int = WORK_MAX) -> np.ndarray:
    """Return the 28x28 float32 MNIST-style image (white ink on black, 0..1) of ``gray``.

    ``gray`` is a 2-D luminance array: floats in 0..1, or any integer dtype
    (scaled by the dtype's range). Raises :class:`NoDigitError` when there is
    no digit to read. ``work_max``: the longest side of the reduced copy the
    digit is looked for on first (see recognize.digit_input for a finer one).
    """
    found = strokes(gray, work_max)
    return timed_step("box", lambda: boxed(found, B.min_stroke))


def views(gray: np.ndarray, work_max: int = WORK_MAX) -> np.ndarray:
    """The digit in ``gray`` as the network reads it when serving: (V, 28, 28) float32, V = 1 or 2.

    The first view is :func:`normalize`'s. A pen line thinner than MNIST's pens says nothing
    about how thick the writer's digit would have been in MNIST, and the network's answer on a
    doubtful shape can hang on it: when the strokes are thin enough to be thickened to
    thick_stroke, that is the second view, which the network reads when it is unsure of the first
    (recognize.SECOND_LOOK), the answers averaged. Raises like normalize.
    """
    return _views(strokes(gray, work_max))


def _views(found: Strokes) -> np.ndarray:
    return timed_step("box", lambda: views_of(found))


def read(gray: np.ndarray, work_max: int = WORK_MAX, max_digits: int = 1, one_digit: Judge | None = None) -> Lattice:
    """What the network reads of ``gray``: the one digit's :func:`views` as a lattice of one candidate,
    or, when ``max_digits`` > 1 and the picture holds a number, its candidate digits (number.candidates).
    A number written low on a wide picture is read again at a finer working scale, so its digits
    are not a few pixels tall; so is a wide piece small on a large page (two close digits, or one
    the zoom stage reads when that finds no number). ``one_digit``: the segment checker, which spares a wide piece it is
    sure is one digit the number's reading (number.one_digit)."""
    ctx = run(Context(gray, work_max=work_max, max_digits=max_digits, one_digit=one_digit))
    if ctx.low_line is not None or ctx.small_piece:
        finer = min(PARAMS.number.most_work, _finer(ctx, work_max))
        if finer > work_max:
            again = run(Context(gray, work_max=finer, max_digits=max_digits, one_digit=one_digit, refine=False))
            if again.number is not None:
                return again.number
        if ctx.low_line is not None:
            return candidates(ctx, ctx.low_line)
        ctx.small_piece = False  # no number there: one digit, read as before (the zoom stage, then the crop)
        run(ctx, AFTER_NUMBER)
    if ctx.number is None:
        assert ctx.strokes is not None
        return single(_views(ctx.strokes), picture_box(ctx, *ctx.box()))
    return ctx.number


def _finer(ctx: Context, work_max: int) -> int:
    """The working copy's side to read again on: a low line brought to least_height, a small wide
    piece to the zoom stage's min_digit_work (a reduction by a whole factor less, at least)."""
    if ctx.low_line is not None:
        return int(work_max * PARAMS.number.least_height / max(ctx.low_line.height, 1.0))
    factor = max(1, min(ctx.factor - 1, ctx.factor * max(ctx.extent(), 1) // PARAMS.zoom.min_digit_work))
    return -(-max(ctx.g.shape) // factor)


def strokes(gray: np.ndarray, work_max: int = WORK_MAX) -> Strokes:
    """All the stages up to the thickening: what normalize and views share."""
    result = run(Context(gray, work_max=work_max)).strokes
    assert result is not None
    return result
