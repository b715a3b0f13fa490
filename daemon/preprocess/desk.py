"""Sheet on a desk, the verdict: a photo's desk, round the sheet found, becomes paper."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .context import Context, Sheet
from .measure import (
    EIGHT,
    block_mean,
    border_band,
    convex,
    enlarged,
    enlarged_smoothly,
    grey_closed,
    grey_opened,
    median,
    quantile,
    ring,
)
from .measure import stroke_width as measure_stroke_width
from .params import PARAMS
from .sheet import Candidate, Grain, candidates, coarse_factor, roughness, sharp_steps

P = PARAMS.sheet


def find_sheet(ctx: Context) -> None:
    """Stage: in a photo of a sheet lying on a desk, the desk round the sheet becomes paper."""
    if ctx.allow_zoom and max(ctx.g.shape) >= P.desk_min_side:
        ctx.small, ctx.sheet = off_page_as_paper(ctx.small)


def off_page_as_paper(small: np.ndarray) -> tuple[np.ndarray, Sheet | None]:
    """A photo of a sheet of paper lying on a darker desk: the desk, off the sheet, becomes paper.

    Where the desk shows around the sheet it is as dark as ink and wider than the page's shading:
    it would be read as the digit. A desk is a dark surround along at least 40% of the border (a
    quarter when it is much darker than the sheet), separated by a sharp step from a light,
    compact sheet that covers the picture's middle and a tenth of it or more and has ink on it, and
    much wider than that ink's strokes. The sheet is looked for by its level, then - a shadow may
    darken part of it to the desk's level or below - by the sharp steps around it. The desk's own
    grain goes with it. Returns the picture with the desk made paper and the :class:`Sheet`, or the
    picture unchanged and None."""
    # Desk and sheet are big: they are looked for at half the working scale (a quarter of the cost).
    f = coarse_factor(small.shape)
    coarse = block_mean(small, f)
    h, w = coarse.shape
    m = P.middle_parts
    middle = (slice(2 * h // m, 3 * h // m + 1), slice(2 * w // m, 3 * w // m + 1))
    border = ring(coarse.shape)
    # Quick refusal first (most pictures): no desk darkens enough of the border, nor roughens it.
    centre = median(coarse[middle])
    dark_only = quantile(coarse[border], P.desk_border) > centre - P.page_contrast / 2
    light = dark_only and quantile(coarse[border], P.dark_desk_border) > centre - P.dark_desk / 2
    if light:
        return small, None
    grain = Grain.of(coarse, middle, border)
    # Closing takes dark strokes narrower than ~5% of the image away, opening the light grain of
    # a desk; the desk and the sheet stay.
    size = max(P.least_closing, max(h, w) // P.closing_parts)
    closed = grey_opened(grey_closed(coarse, size), size)
    steps = sharp_steps(closed)
    level = enlarged_smoothly(closed, small.shape)
    for candidate in candidates(closed, steps, coarse, middle, border, dark_only, grain):
        sheet = accepted(small, level, f, border, candidate) if candidate else None
        if sheet is not None and candidate is not None:
            # Detail on the desk stays ink where it is darker than the desk by a quarter of this
            # contrast: on a grainy desk, by several times its grain, so the grain goes with it.
            desk_grain = median(roughness(coarse, candidate.desk & ~candidate.sheet))
            # A desk as smooth as paper may be the shadowed part of the page (see desk_as_paper).
            smooth = P.grain_to_contrast * desk_grain < candidate.contrast / 2
            contrast = max(candidate.contrast, P.grain_to_contrast * desk_grain)
            filled = desk_as_paper(small, level, sheet.mask, contrast, smooth)
            return filled, sheet
    return small, None


def accepted(small: np.ndarray, level: np.ndarray, f: int, border: np.ndarray, candidate: Candidate) -> Sheet | None:
    """The :class:`Sheet` (on ``small``, ``f`` times the coarse copy) if ``candidate`` is one;
    ``level`` is the desk's and the sheet's level without the ink, on ``small``."""
    desk, contrast, cut = candidate.desk, candidate.contrast, candidate.cut
    sheet = ndimage.binary_erosion(candidate.sheet, iterations=P.edge_erosion)  # its blurred edge is neither
    labels, n = ndimage.label(sheet)
    if n > 1:  # a sheet is one piece: what a narrow leak into the desk joined to it is cut off again
        sheet = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    # A shadow along one edge is no desk; a thick digit touching the border, with
    # white canvas around it, is no desk; nor is the inside of a thick 0, or a stroke of chalk, a
    # sheet: a sheet is a compact quadrilateral, mostly paper, filling most of its bounding box.
    rows, cols = np.nonzero(sheet)
    shown = (desk & ~sheet)[border].mean()
    if (
        len(rows) == 0
        or shown < (P.dark_desk_border if contrast >= P.dark_desk else candidate.border)
        or sheet.mean() < P.least_sheet
    ):
        return None
    compact = len(rows) >= P.sheet_fill * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    if (sheet & ~desk).sum() < P.sheet_paper * len(rows) or not compact:
        return None
    desk_width = f * ndimage.distance_transform_edt(~sheet & desk).max()
    # A desk along little of the border shows as a wide band; a scanner's dark edge is narrow.
    if shown < P.desk_border and desk_width < P.dark_desk_width * max(small.shape):
        return None
    coarse_sheet, sheet = sheet, enlarged(sheet, f, small.shape)
    # In a digit cropped tight the "desk" would be the digit's own thick strokes, the "sheet" the
    # paper between them: a desk is much wider than the strokes of the ink on the sheet.
    # Ink is what lies below the cut between desk and paper, or well below the paper: a pencil's
    # grey (or a thin pen's, at this scale) lies above the cut on a dark desk.
    below = level - min(contrast / 2, P.ink_below * P.page_contrast)
    ink = (small < (below if cut is None else np.maximum(below, cut))) & sheet
    if ink.sum() < P.least_ink:
        # Nothing this dark on it: a blank sheet, or ink as faint as a light pencil's - or a thick
        # dark digit taken for desk, biting into the "sheet" around it; a sheet is convex.
        return Sheet(sheet, P.blank_sheet_pen) if convex(coarse_sheet) else None
    pen = measure_stroke_width(ink)
    if desk_width < P.desk_pens * pen:
        return None
    return Sheet(sheet, pen)


def desk_as_paper(
    small: np.ndarray, closed: np.ndarray, sheet: np.ndarray, contrast: float, smooth: bool
) -> np.ndarray:
    """``small`` with the desk's level (what closing and opening kept, off the ``sheet``) replaced by
    the paper's local mean level near the sheet's edge - a mean over a window of the sheet's pixels
    only, carried out to the image's edges from the nearest place it is known. Anything darker
    than the desk on it by a quarter of ``contrast`` stays: ink near a scan's darkened edge is not
    a desk. Only what lies beyond that stays (the desk's grain goes) - unless the desk is
    ``smooth``, as paper is: it may be the shadowed part of the page, and ink on it keeps its
    whole depth (a thin digit's strokes crossing into a lamp's hard-edged shadow were erased
    down to specks)."""
    h, w = small.shape
    size = max(P.least_fill_window, max(h, w) // P.fill_window_parts)
    support = ndimage.uniform_filter(sheet.astype(np.float32), size)
    level = ndimage.uniform_filter(np.where(sheet, small, 0.0).astype(np.float32), size) / np.maximum(
        support, PARAMS.measure.eps_level
    )
    known = sheet | (support >= P.known_support)
    rows, cols = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    thick, desk = thick_ink_off_sheet(closed, sheet, contrast)
    if thick.any():  # measured against the desk, not against itself
        thick = ndimage.binary_dilation(thick, EIGHT, iterations=P.thick_grow)
        closed = np.where(thick, desk, closed)
    depth = small - ndimage.minimum_filter(closed, P.desk_min_window)  # below the desk's level: negative
    kept = P.kept_depth * contrast
    ink = depth < -kept
    filled = level[rows, cols] + np.where(ink, depth if smooth else depth + kept, 0.0)
    return np.where(sheet | (thick & ink), small, filled)


def thick_ink_off_sheet(closed: np.ndarray, sheet: np.ndarray, contrast: float) -> tuple[np.ndarray, float]:
    """Where, off the ``sheet``, the desk's level (``closed``) is a dark island: much darker than
    nearly all of the desk, and apart from the picture's frame. A thick marker's blob or loop is
    wider than the closing that takes strokes away, so it stays in the desk's level; a sheet search
    that took it (or the shaded part of the page round it) for desk would make it paper. A desk
    reaches the frame; what lies darker than it, inside it, is ink. Returns the islands and the
    desk's level they are measured against."""
    off = ~sheet
    if not off.any():
        return off, 0.0
    desk = quantile(closed[off], P.desk_dark_q)
    island, _ = ndimage.label(off & (closed < desk - P.island_depth * contrast), EIGHT)
    framed = np.unique(island[ring(island.shape, 1)])
    return (island > 0) & ~np.isin(island, framed), desk


def outline(sheet: np.ndarray) -> np.ndarray:
    """A band along the edge of the ``sheet`` (inside it: off it is paper already), as wide as the
    picture's border band."""
    band = border_band(sheet.shape)
    return sheet & ~ndimage.binary_erosion(sheet, iterations=band, border_value=1)
