"""What callers use: :func:`normalize` (training's input) and :func:`views` (serving's)."""

from __future__ import annotations

import numpy as np

from .box import boxed, growth
from .context import Context, Strokes
from .params import PARAMS
from .pipeline import run, timed_step

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
    found = strokes(gray, work_max)
    widths = (B.min_stroke, B.thick_stroke) if growth(found, B.thick_stroke) >= 1.0 else (B.min_stroke,)
    return timed_step("box", lambda: np.stack([boxed(found, least) for least in widths]))


def strokes(gray: np.ndarray, work_max: int = WORK_MAX) -> Strokes:
    """All the stages up to the thickening: what normalize and views share."""
    result = run(Context(gray, work_max=work_max)).strokes
    assert result is not None
    return result
