"""Pictures of digits in handwriting styles MNIST lacks, drawn as users draw them - training data.

The bundled model reads MNIST's writers well and other writers' styles badly (issue 29): boxy,
calculator-like digits, 1s curved like "(" or flagged or footed, straight-tailed 9s, closed 4s
are read as other digits with high confidence. No real data set holds enough of them, so they
are synthesised: each style of :mod:`training.style_shapes` is a digit's centre line, and every
picture draws it anew from a :class:`numpy.random.Generator` -

* the shape: corners jittered one by one (uneven stroke lengths), the whole shape bent by a smooth
  random warp and the strokes wobbled (an unsteady hand), slanted (shear -0.3..0.3), rotated
  (+-10 degrees) and stretched (aspect);
* the pen: a width from a thin pen (2.5% of the digit's height) to a marker (17%), and pen pressure:
  ink darkness varying along the strokes;
* the picture: a canvas 28 to 400 px (square or page-shaped), the digit 30-90% of its height,
  dark ink on light paper mostly, light ink on a dark ground sometimes, mild noise or blur now and
  then; returned as an 8-bit grey array, as a user would save it.

Strokes are drawn by :func:`training.pens.pen_alpha` and laid on the canvas by
:func:`training.paper.paste`, the helpers the MNIST-based renders use. ``bench/styles.py`` reads
every style through the daemon's path and prints the bundled model's accuracy per style.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .paper import canvas_size, dark_ink, digit_height, paste, position, smooth_noise
from .pens import _affine, _place_paths, fit_box, pen_alpha
from .style_shapes import SHAPES

# The style names of each digit (render picks one at random; a test can draw every one).
STYLES: dict[int, tuple[str, ...]] = {d: tuple(n for n, (digit, _) in SHAPES.items() if digit == d) for d in range(10)}

CANVAS = (28, 400)  # canvas height range in px: a tiny paint-program canvas to a large drawing
MIN_DIGIT_PX = 14.0  # a digit is at least this tall: no user draws a 6 px digit on a 28 px canvas
FILL = (0.3, 0.9)  # digit height as a fraction of the canvas height
PEN = (0.025, 0.17)  # pen width as a fraction of the digit's height, thin pen to marker (log-uniform)
CORNER_JITTER = 0.28  # std of a line vertex's own move, in design units (the digit is 10 tall)
WARP = 0.3  # largest amplitude of the smooth warp, in design units: a bent, unevenly sized shape
STEP = 0.3  # design units between points when densifying: the wobble needs points to move
WOBBLE = 0.02  # largest wobble std as a fraction of the digit's height (smoothed along the stroke)
SLANT = 0.3  # largest shear: forward or backward slant
ROTATION = 10.0  # largest rotation in degrees
STRETCH = 0.2  # largest relative change of the digit's width (aspect ratio)
PRESSURE = 0.45  # largest loss of ink darkness where the pen presses lightly
LIGHT_ON_DARK = 0.12  # share of pictures with light ink on a dark ground (chalk board, inverted app)
NOISE = 0.25  # share of pictures with sensor-like noise
BLUR = 0.15  # share of pictures slightly blurred (a soft brush, a resized screenshot)


class Drawing(NamedTuple):
    """One rendered picture and where its strokes are (for tests and contact sheets)."""

    picture: np.ndarray  # uint8 (H, W) grey
    paths: list[np.ndarray]  # stroke centre lines in picture pixels, (n, 2) arrays of (x, y)
    width: float  # pen width in px
    dark_ink: bool  # True for dark ink on a light ground


def _densify(points: np.ndarray) -> np.ndarray:
    """Points every STEP design units or closer along a polyline ((n, 2)), keeping every vertex."""
    seg = points[1:] - points[:-1]
    k = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / STEP).astype(int))
    idx = np.repeat(np.arange(len(seg)), k)
    frac = np.concatenate([np.arange(n) / n for n in k])
    return np.concatenate([points[idx] + seg[idx] * frac[:, None], points[-1:]])


def _shape(style: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The style's strokes in design units, jittered, densified and warped ((n, 2) arrays)."""
    strokes = []
    for s in SHAPES[style][1]:
        pts = s[:, :2] + rng.normal(0.0, CORNER_JITTER, (len(s), 2)) * s[:, 2:3]
        strokes.append(_densify(pts))
    allp = np.concatenate(strokes)
    freq = rng.uniform(0.2, 1.4, (2, 2, 2)) * rng.choice([-1, 1], (2, 2, 2)) * 2 * np.pi / 10  # term, axis, x/y
    amp = rng.uniform(0, WARP, (2, 2))
    phase = rng.uniform(0, 2 * np.pi, (2, 2))
    warp = np.zeros_like(allp)
    for term in range(2):
        warp += amp[term] * np.sin(allp @ freq[term].T + phase[term])
    splits = np.cumsum([len(p) for p in strokes])[:-1]
    return np.split(allp + warp, splits)


def draw(style: str, rng: np.random.Generator) -> Drawing:
    """A picture of ``style`` (a name from :data:`STYLES`) drawn with fresh random choices from ``rng``."""
    canvas = canvas_size(rng, *CANVAS)
    h, w = canvas
    frac = rng.uniform(max(FILL[0], min(MIN_DIGIT_PX / h, FILL[1])), FILL[1])
    height = digit_height(canvas, frac)
    pen = max(1.0, height * math.exp(rng.uniform(math.log(PEN[0]), math.log(PEN[1]))))
    m = _affine(rng, rot=ROTATION, shear=SLANT, stretch=STRETCH)
    paths, _ = _place_paths(_shape(style, rng), height, m, max_width=0.96 * w - pen - 2)
    raw = pen_alpha(paths, pen, jitter=rng.uniform(0, WOBBLE) * height, rng=rng)
    alpha = fit_box(raw, canvas)
    shrink = alpha.shape[0] / raw.shape[0]  # fit_box shrinks a digit too wide for its canvas
    alpha = alpha * (1.0 - rng.uniform(0, PRESSURE) / (1.0 + np.exp(-smooth_noise(alpha.shape, height / 3, rng))))
    dark = rng.random() >= LIGHT_ON_DARK
    if dark:
        ground, ink = rng.uniform(0.8, 1.0), float(np.mean(dark_ink(rng)))
    else:
        ground, ink = rng.uniform(0.0, 0.25), rng.uniform(0.7, 1.0)
    top, left = position(canvas, alpha.shape, rng)
    page = np.full((h, w, 1), ground, np.float32)
    paste(page, alpha, (ink,), top, left)
    grey = page[..., 0]
    if rng.random() < BLUR:
        grey = ndimage.gaussian_filter(grey, rng.uniform(0.3, 0.5 + h / 400))
    if rng.random() < NOISE:
        grey = grey + rng.normal(0, rng.uniform(0.005, 0.035), grey.shape).astype(np.float32)
    picture = np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    pad = pen + 2  # pen_alpha's margin round the strokes
    placed = [(p + pad) * shrink + (left, top) for p in paths]
    return Drawing(picture, placed, pen * shrink, dark)


def render_style(style: str, rng: np.random.Generator) -> np.ndarray:
    """A uint8 grey picture (H, W) of ``style``."""
    return draw(style, rng).picture


def render(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A uint8 grey picture (H, W) of ``digit`` in one of its styles, picked at random."""
    names = STYLES[digit]
    return render_style(names[int(rng.integers(len(names)))], rng)


def labels(n: int, seed: int) -> np.ndarray:
    """``n`` labels, as balanced over 0-9 as ``n`` allows, in a random order."""
    return np.random.default_rng([seed, 0, n]).permutation(np.arange(n) % 10)


def sample(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` pictures with their labels (int64), balanced over 0-9; the same for the same seed.
    Picture ``i`` depends only on (seed, i, its label), so a batch can be split across processes."""
    y = labels(n, seed)
    return [render(int(d), np.random.default_rng([seed, 1, i])) for i, d in enumerate(y)], y
