"""Why a picture holds no digit to read."""

from __future__ import annotations

from ..errors import ImageError


class NoDigitError(ImageError):
    """The picture holds no ink that could be a digit (blank page, pure noise)."""


class FaintInkError(NoDigitError):
    """Nothing in the picture stands out of the paper's noise: a blank page, or ink too faint or
    thin at the scale the picture was read at."""


class SeveralDigitsError(ImageError):
    """The picture holds more than one digit (a number written in a row): which one is meant is not
    for the reader to guess."""
