"""Turn any grayscale picture of one digit into what the network was trained on.

MNIST digits are white ink on black, size-normalised to fit a 20x20 box (aspect ratio kept),
anti-aliased, and centred by centre of mass in 28x28. :func:`normalize` does the same to a user's
picture; serving reads the digit through :func:`views` (the same, and where the pen was thin a
second view with its strokes thickened further). Both run the stages of :mod:`.pipeline` in order
over one :class:`~.context.Context`; every threshold is in :mod:`.params`. See docs/preprocess.md.
"""

from __future__ import annotations

from .context import Strokes
from .errors import FaintInkError, NoDigitError, SeveralDigitsError
from .measure import stroke_width as _stroke_width
from .number import Lattice
from .params import PARAMS
from .views import normalize, read, strokes, views

WORK_MAX = PARAMS.work_max
FINE_WORK_MAX = PARAMS.fine_work_max
MIN_STROKE = PARAMS.box.min_stroke
THICK_STROKE = PARAMS.box.thick_stroke
SIZE = PARAMS.box.size
BOX = PARAMS.box.box

__all__ = [
    "BOX",
    "FINE_WORK_MAX",
    "MIN_STROKE",
    "PARAMS",
    "SIZE",
    "THICK_STROKE",
    "WORK_MAX",
    "FaintInkError",
    "Lattice",
    "NoDigitError",
    "SeveralDigitsError",
    "Strokes",
    "_stroke_width",
    "normalize",
    "read",
    "strokes",
    "views",
]
