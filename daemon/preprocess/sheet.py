"""Sheet on a desk, the searches: where a photo's sheet of paper may lie (by level or sharp edges)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .measure import median, otsu, quantile
from .params import PARAMS

P = PARAMS.sheet


class Candidate(NamedTuple):
    """A sheet on a desk as one of the searches sees it, on the coarse copy."""

    sheet: np.ndarray  # where the sheet may be
    desk: np.ndarray  # what is taken for the desk
    contrast: float  # how far the sheet stands out of the desk
    cut: float | None  # level below which the sheet is inked (None: below its local level by contrast / 2)
    border: float = P.desk_border  # the least share of the picture's border the desk must show along


def coarse_factor(shape: tuple[int, ...]) -> int:
    """The reduction of the working copy at which a sheet and its desk are looked for."""
    return 2 if max(shape) > 2 * P.page_side else 1


def candidates(
    closed: np.ndarray,
    steps: np.ndarray,
    coarse: np.ndarray,
    middle: tuple[slice, slice],
    ring: np.ndarray,
    dark_only: bool,
    grain: Grain,
) -> Iterator[Candidate | None]:
    """The searches' candidates, in order: by level, then by the sharp steps round the sheet (a
    desk along less than desk_border of the border passed the quick test only by being very dark)."""

    def dark_enough(candidate: Candidate | None) -> Candidate | None:
        return None if candidate and dark_only and candidate.contrast < P.dark_desk else candidate

    yield dark_enough(by_level(closed, steps, middle, ring))
    yield dark_enough(by_edges(closed, steps, middle, ring, grainy=grain.desk_along(P.desk_border) is not None))


def sharp_steps(closed: np.ndarray) -> np.ndarray:
    """How sharp a step each pixel of ``closed`` is on: a sheet's edge goes from desk to paper within
    a pixel or two; light falling off towards a scan's corners, or a shadow's edge (a phone's, a
    hand's), changes gradually whatever its depth. A step counts only as far as it is steeper over
    3 pixels than a ramp as steep over 9 would be."""
    sharp = ndimage.maximum_filter(closed, P.step_near) - ndimage.minimum_filter(closed, P.step_near)
    wide = ndimage.maximum_filter(closed, P.step_far) - ndimage.minimum_filter(closed, P.step_far)
    ratio = P.step_far / P.step_near
    return np.maximum((ratio + 1) * sharp - wide, 0.0) / ratio


def by_level(closed: np.ndarray, steps: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray) -> Candidate | None:
    """A sheet lighter than the desk as a whole, split from it by Otsu's threshold."""
    cut = otsu(closed, 1.0)
    dark = closed < cut
    # The sheet covers much of the picture, its middle included. (A board is dark around light chalk.)
    if dark.mean() > P.most_dark or not dark.any() or median(closed[middle]) < cut:
        return None
    paper, desk = median(closed[~dark]), median(closed[dark])
    edge = dark & ~ndimage.binary_erosion(dark, border_value=1)
    if paper - desk < P.page_contrast or median(steps[edge]) < P.sharp_share * (paper - desk):
        return None
    # The sheet: the light region under the middle (opened: grain on a light desk may touch its
    # edge in places), joined by whatever no sharp step separates from the middle - the part of
    # the sheet a shadow darkens - unless that region leaks out to the border.
    sheet = under_middle(ndimage.binary_opening(~dark, iterations=P.sheet_opening), middle)
    smooth = under_middle(steps < P.sharp_share * (paper - desk), middle)
    if smooth[ring].mean() <= P.leak_border:
        sheet |= smooth
    return Candidate(sheet, dark, paper - desk, cut)


def roughness(coarse: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """How grainy the picture is around each pixel: the median over 5x5 of how far each pixel lies
    from its 3x3 mean. Shading and a shadow's ramp are nearly linear and leave it low; a pen line,
    narrower than half the window, does not move the median. With ``where`` (a mask), the same
    values at those pixels only, in row-major order - a fraction of the cost."""
    deviation = np.abs(coarse - ndimage.uniform_filter(coarse, PARAMS.measure.smooth_window))
    k = P.grain_window
    if where is None:
        return ndimage.median_filter(deviation, k)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(deviation, k // 2, mode="symmetric"), (k, k))
    return np.partition(windows[where].reshape(-1, k * k), k * k // 2, axis=1)[:, k * k // 2]


class Grain(NamedTuple):
    """How grainy the picture's middle and border are (see :func:`roughness`), measured once per picture."""

    inside: float  # the middle where it is smoothest (its lower quartile: a thick digit's strokes cover much of it)
    border: np.ndarray  # the roughness along the border, per pixel

    @classmethod
    def of(cls, coarse: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray) -> Grain:
        centre = np.zeros(coarse.shape, bool)
        centre[middle] = True
        return cls(quantile(roughness(coarse, centre), P.inside_q), roughness(coarse, ring))

    def desk_along(self, share: float) -> tuple[float, float] | None:
        """(inside, outside) when a desk several times as grainy as the middle (carpet, stone, a
        coarse wood) may show along ``share`` of the border; else None."""
        outside = quantile(self.border, 1 - share)
        if outside < P.grain_ratio * self.inside or outside < P.least_grain:
            return None
        return self.inside, outside


def by_edges(
    closed: np.ndarray, steps: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray, grainy: bool = False
) -> Candidate | None:
    """A sheet partly in shadow - as dark there as the desk, or darker - is the region around the
    middle that the strongest sharp steps in the picture enclose. On a ``grainy`` desk seen along
    the border, where a corner of the sheet runs into the frame its two edges may stop a few pixels
    apart: the narrow way out to the desk between them is opened away. (Not elsewhere: a scanner's
    dark edge, cut off that way, would pass for a desk.)"""
    strong = quantile(steps, P.strong_step_q)
    if strong < P.page_contrast:
        return None
    enclosed = ndimage.maximum_filter(steps, 3) < P.enclosing_share * strong
    if grainy:
        enclosed = ndimage.binary_opening(enclosed, iterations=P.sheet_opening)
    sheet = under_middle(enclosed, middle)
    return Candidate(sheet, ~sheet, strong, None)


def under_middle(region: np.ndarray, middle: tuple[slice, slice]) -> np.ndarray:
    """The connected part of ``region`` covering most of the ``middle`` box, its holes filled."""
    labels, _ = ndimage.label(region)
    counts = np.bincount(labels[middle].ravel())
    counts[0] = 0
    return ndimage.binary_fill_holes(labels == int(np.argmax(counts))) if counts.any() else np.zeros_like(region)
