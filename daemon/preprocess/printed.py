"""Paragraphs of print on a page, merged into blocks on the reduced copy, told from the handwritten digit."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .context import Context
from .errors import NoDigitError
from .measure import EIGHT, as_unit_float, median, quantile, runs, stroke_width
from .params import PARAMS
from .select import digit

P = PARAMS.printed


def without_print(ctx: Context) -> None:
    """Stage: paragraphs of print on a page, merged into blocks on the reduced copy, are taken out
    (print merges into blocks only on a reduced copy; a zoomed crop was cleared on its page)."""
    if not (ctx.allow_zoom and ctx.factor > 1):
        return
    assert ctx.found is not None and ctx.dark is not None and ctx.detect is not None and ctx.marks is not None
    text = print_blocks(ctx.g, ctx.factor, ctx.found, ctx.dark)
    if not text.any():
        return
    ctx.found = ctx.found & ~text
    try:
        ctx.mask, marks, ctx.beside = digit(ctx.found, ctx.detect, ctx.sheet)
    except NoDigitError:
        raise NoDigitError("no digit found: only printed text") from None
    ctx.marks, ctx.width = marks | text, stroke_width(ctx.mask)


def print_blocks(g: np.ndarray, factor: int, found: np.ndarray, dark: bool) -> np.ndarray:
    """The ink in ``found`` (on the working copy, ``factor`` times smaller than ``g``) that is lines
    of print. A page's paragraphs merge into blocks there, wider than tall and bigger than the
    digit written on the page, and were read as the digit; at full resolution such a block falls
    into dozens of glyphs and words, a fraction of its height each, in lines with blank rows
    between them (a digit is one to a few pieces - or, in pencil on grainy paper, dozens of grains
    along strokes that leave few rows of its box blank; a digit's strokes fill little of the box
    that lines of print merge into)."""
    labels, _ = ndimage.label(found, EIGHT)
    text = np.zeros_like(found)
    for i, (sr, sc) in enumerate(ndimage.find_objects(labels)):
        h, w = sr.stop - sr.start, sc.stop - sc.start
        if h < P.least_block or w < P.text_wide * h or np.count_nonzero(labels[sr, sc] == i + 1) < P.print_fill * h * w:
            continue
        crop = as_unit_float(g[sr.start * factor : sr.stop * factor, sc.start * factor : sc.stop * factor])
        ink = 1.0 - crop if dark else crop
        strong = ink > (median(ink) + quantile(ink, P.glyph_peak_q)) / 2
        glyphs, n = ndimage.label(strong, EIGHT)
        if n < P.print_pieces:
            continue
        heights = np.asarray([rows.stop - rows.start for rows, _ in ndimage.find_objects(glyphs)])
        blank = strong.sum(axis=1) <= P.blank_row * crop.shape[1]  # the space between lines
        between = sum(1 for start, stop in runs(blank) if start > 0 and stop < len(blank))
        glyph_sized = P.least_glyph <= median(heights) <= crop.shape[0] / P.glyphs_per_block
        if glyph_sized and between >= P.least_gaps:  # (glyphs, not grains)
            text[sr, sc] |= labels[sr, sc] == i + 1
    return text
