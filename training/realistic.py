"""Realistic user images of handwritten digits, made from MNIST digits.

Users do not drop MNIST: they drop pen drawings from a paint program, marker strokes, phone photos
of a sheet on a desk or under a shadow, flatbed scans, faint pencil, chalk on a board, transparent
PNGs, digits cropped tight and small digits in a corner of a big page. Each *kind* is a pure
function ``(digit, rng) -> PIL.Image.Image`` that turns one MNIST digit (28x28 uint8, white ink on
black) into such a picture, drawing every free parameter from the given
:class:`numpy.random.Generator`.

Two uses: ``bench/accuracy.py`` measures recognition on such pictures of MNIST *test* digits, and
the robust recipe also trains on pictures of *training* digits (:mod:`training.rendered`).

The generator is split by job; this module gathers the public names:

* :mod:`training.pens` - the digit's strokes: the writer's own (bitmap) or a pen along its skeleton;
* :mod:`training.paper` - paper, light, ink colours, dust, shadows, the camera;
* :mod:`training.kinds` - the kinds, one function each, and :data:`KINDS`;
* :mod:`training.picture_files` - formats per kind, :func:`encode` and :func:`write_set`.

Only numpy, Pillow and scipy are needed (no TensorFlow, no scikit-image).
"""

from __future__ import annotations

from .kinds import (
    DESKS,
    KINDS,
    light_on_dark,
    marked,
    marker,
    off_centre,
    pencil,
    photo,
    rgba,
    scan,
    shadow,
    small,
    thin_pen,
    tight,
)
from .paper import smooth_noise
from .pens import BLOT_RATIO, UP, bitmap_alpha, digit_strokes, is_blotted, pen_alpha, stroke_width
from .picture_files import DEFAULT_FORMATS, EXTENSIONS, FORMATS, encode, write_set

__all__ = [
    "BLOT_RATIO",
    "DEFAULT_FORMATS",
    "DESKS",
    "EXTENSIONS",
    "FORMATS",
    "KINDS",
    "UP",
    "bitmap_alpha",
    "digit_strokes",
    "encode",
    "is_blotted",
    "light_on_dark",
    "marked",
    "marker",
    "off_centre",
    "pen_alpha",
    "pencil",
    "photo",
    "rgba",
    "scan",
    "shadow",
    "small",
    "smooth_noise",
    "stroke_width",
    "thin_pen",
    "tight",
    "write_set",
]
