"""The one object the stages work on: the picture, its working copy, and what each stage found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

if TYPE_CHECKING:
    from .line import Line
    from .number import Lattice

Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (N, 28, 28) views, (N, 3) shapes -> (N,) a score each


class Paper(NamedTuple):
    """What the detection map says about the paper and the ink on it (see ink.paper_noise)."""

    peak: float  # the ink's peak (99.9th percentile, away from the image's edges)
    level: float  # the paper's level (median)
    spread: float  # robust standard deviation of the paper's noise
    contrast: float  # how far the ink stands out of the paper, smoothed or not


class Sheet(NamedTuple):
    """A sheet of paper found lying on a desk in a photo (see desk.off_page_as_paper)."""

    mask: np.ndarray  # where the sheet is, on the working copy
    pen: float  # stroke width of the ink on it, in working-copy pixels (blank_sheet_pen: nothing dark on it)


class Strokes(NamedTuple):
    """The digit's ink, cropped to it, before its strokes are thickened and it is boxed."""

    soft: np.ndarray  # soft ink map, 0..1, ink bright
    width: float  # stroke width, in its pixels
    extent: int  # its longer side, in its pixels
    boxed: np.ndarray | None = None  # its view boxed at min_stroke, when already made (number.one_digit)


@dataclass
class Context:
    """One reading of a picture (or, for the zoom stage, of a crop of it) as it goes through the stages."""

    g: np.ndarray  # the picture: uint8, or float32 0..1 (as the size stage left it)
    factor: int = 1  # the working copy is this many times smaller than ``g``
    allow_zoom: bool = True  # False for a crop re-read at full resolution (no desk, print, refusal or zoom)
    dark: bool | None = None  # the ink's polarity, once known (a crop inherits its page's)
    work_max: int = 0  # longest side of the working copy asked for
    small: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # the working copy, 0..1
    photo_sized: bool = False  # big enough to be a photo (not a digit cropped tight)
    sheet: Sheet | None = None  # a sheet of paper found on a desk
    ink: np.ndarray | None = None  # the ink map (0..1, ink bright) the digit is rendered from
    flat: bool = False  # ...taken from the paper's one level, no window: a window fitted later changes nothing
    detect: np.ndarray | None = None  # ...lightly smoothed, for detection
    paper: Paper | None = None  # the paper's figures on the detection map
    found: np.ndarray | None = None  # the ink found on it
    ruling: np.ndarray | None = None  # ...and a ruled page's lines or a box round the digit left out of it
    mask: np.ndarray | None = None  # the digit's pixels
    beside: int = 0  # more digits in a row with it
    width: float = 0.0  # stroke width, in working-copy pixels
    max_digits: int = 1  # more than one: a number is read (number.candidates), not refused
    one_digit: Judge | None = None  # ...how surely a candidate is one whole digit (segment_check), if known
    origin: tuple[float, float] = (1.0, 0.0)  # ``g``'s pixels to the picture's: (scale, then less offset)
    strokes: Strokes | None = None  # the result: set by the stage that finishes the reading...
    number: Lattice | None = None  # ...or this one, a number's candidate digits...
    low_line: Line | None = None  # ...or a number's line too low to cut here: read again finer (views.read)
    refine: bool = True  # False for that finer reading: there is no third
    small_piece: bool = False  # ...or one wide piece small on the page, maybe touching digits: read again finer

    def done(self) -> bool:
        return self.strokes is not None or self.number is not None or self.low_line is not None or self.small_piece

    def box(self) -> tuple[int, int, int, int]:
        """The digit's box on the working copy: top, bottom, left, right (bottom and right exclusive)."""
        assert self.mask is not None
        return bounds(self.mask)

    def extent(self) -> int:
        """The digit's longer side on the working copy."""
        top, bottom, left, right = self.box()
        return max(bottom - top, right - left)


def bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box of ``mask``'s pixels (some must be set): top, bottom, left, right (exclusive) - by
    OpenCV's bounding rectangle, a tenth of np.nonzero's cost."""
    left, top, w, h = cv2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    return top, top + h, left, left + w
