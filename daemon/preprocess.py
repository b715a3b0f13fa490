"""Turn any grayscale picture of one digit into what the network was trained on.

MNIST digits are white ink on black, size-normalised to fit a 20x20 box
(aspect ratio kept), anti-aliased, and centred by centre of mass in 28x28.
:func:`normalize` does the same to a user's picture. It is pure (array in,
array out) and is used both by inference and by training, so the two never
drift apart. Serving reads the digit through :func:`views`: the same input, and
where the pen was thin, a second one with its strokes thickened further.

The steps, in order:

0. a picture enlarged with square pixels (pixel art) is taken back to its own size; a picture
   smaller than a photo whose frame is crossed by ink (a digit cut at its strokes) gets paper
   added round it;
1. work on a reduced copy (block mean) so large scans cost the same as small
   drawings; a block mean keeps a thin pen line as a fainter line rather than
   dropping it; in a photo of a sheet lying on a desk, the desk around the sheet becomes paper;
2. polarity: ink is whatever lies on the far side of the paper level (the
   median), so dark-on-light and light-on-dark both work;
3. paper: a grey opening much wider than a stroke estimates the (possibly
   uneven) background, which is subtracted;
4. ink vs paper: Otsu's threshold on the ink map, refused when the contrast
   does not stand out of the paper's noise (blank page -> :class:`NoDigitError`)
   - or, where ink covers half the picture (a digit cropped tight), when it does
   not stand apart from the paper as a level of its own;
5. specks and border noise are dropped, and so are printed lines, paragraphs of print (a block on
   the reduced copy, dozens of glyphs at full resolution) and marks a writer draws round or under
   the digit (a ring - apart from it or touching it -, a box, an underline); the digit is the
   largest ink component plus the ones near it; more than one digit standing in a row (a number)
   is :class:`SeveralDigitsError`, not a guess at one of them;
6. a digit that is small on a large page is re-done on a crop at full
   resolution;
7. stroke width is measured and thin strokes are thickened so that, at 28x28,
   they are at least as wide as MNIST's thinnest pens (MIN_STROKE); for serving, a second
   view thickens them to a middling MNIST pen (THICK_STROKE): how thick a thin line would
   have been in MNIST is not in the picture, so where the network is unsure of the first
   view it reads the second too, and the answers are averaged;
8. crop, scale into 20x20 keeping aspect ratio, pad to 28x28, shift so the
   centre of mass sits in the middle.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

from .errors import ImageError

SIZE = 28
BOX = 20
WORK_MAX = 192  # longest side of the working copy, in pixels
FINE_WORK_MAX = 384  # ...when nothing stood out on it (a thin digit a few percent of a big page)
MIN_DIGIT_WORK = 48  # a digit smaller than this on a reduced page is re-done at full resolution
MIN_STROKE = 2.2  # thinnest stroke at 28x28, in pixels (MNIST's pens are ~2-4); what training sees
THICK_STROKE = 3.0  # ...and in serving's second view of a thin-pen digit (see views)
MIN_CONTRAST = 0.03  # ink must differ from paper by at least this much (0..1 scale)...
MIN_SNR = 6.0  # ...and by this many standard deviations of the paper's noise
PEAK_PIXELS = 8  # the ink's peak is the 99.9th percentile, or the 8th brightest pixel if that is higher:
# a thin 1 near the corner of a big scan covers only a dozen pixels of the reduced page
SMOOTH_MIN_SIDE = 40  # working copies at least this big are smoothed for detection
PHOTO_MIN_SIDE = 384  # smaller pictures may be digits cropped tight (= decode's JPEG draft floor)
DESK_MIN_SIDE = 200  # only pictures this big are looked at as photos of a sheet on a desk
DESK_BORDER = 0.4  # a desk shows along at least this fraction of the picture's border...
DARK_DESK = 0.2  # ...or, when it is at least this much darker than the sheet,
DARK_DESK_BORDER = 0.25  # along this fraction (a sheet filling most of the picture)
DARK_DESK_WIDTH = 0.07  # ...as a band at least this fraction of the picture wide
GRAINY_DESK_ROUND = 0.75  # a grainy desk about as light as the sheet is looked for round this much of the border first
PAGE_CONTRAST = 0.08  # a desk is at least this much darker than the sheet lying on it
PAGE_SIDE = 64  # a sheet on a desk is looked for on a copy about this size (or up to twice it)
GRAIN_OPENING = 3  # the grain search's opening, in iterations: a band of desk narrower than twice it goes
SHADOW_MIN_SIDE = 100  # working copies this big are checked for a shadow taken for the digit
FINE_WINDOW = 9  # ...with a background window this wide, a few thin pen strokes...
FINE_PEN = 4.0  # ...as thin as this at most (wider ones start losing their middles in it)
BLANK_SHEET_PEN = 2.0  # a sheet with nothing dark on it is read as if written with a thin pen

FRAME_INK = 0.25  # a picture whose frame spans this much of its range (10th to 90th percentile) has ink on it...
FRAME_PAD = 0.12  # ...and this much paper (of the longer side) is added round it
GRAIN_PIECES = 8  # ink found in this many pieces or more is a digit on mottled or grainy paper...
PIECE_STRENGTH = 0.6  # ...where a piece joins the digit only when its ink is this strong, relative to the largest
RING_DEPTH = 1.5  # ink deeper than this many pen widths inside a ring-shaped piece is a digit the ring touches
RING_ROUND = 0.88  # such a piece is round: it fills at most this much of its box (an ellipse pi/4, a box ~1)
TEXT_WIDE = 1.5  # a block of print merged at the working scale is this much wider than tall...
PRINT_PIECES = 80  # ...and falls into this many pieces or more at full resolution (a pencil digit: under 50)
PRINT_FILL = (
    0.35  # ...and fills this much of its box at the working scale (paragraphs 0.57-0.81, a digit's strokes ~0.1-0.2)
)
WITHIN_GAP = 0.1  # pieces of the digit this far apart (of its height), side by side, may be digits in a row
PEN_REFIT = 1.5  # a window fitted to a sheet's pen is fitted again to the digit's strokes when they are this much wider
LINE_SLOPE = 0.2  # a line drawn under a digit rises or falls at most this much of its length
MIN_UNZOOMED = 8  # a picture enlarged with square pixels is read at its own size, but no smaller than this

_EIGHT = np.ones((3, 3), dtype=bool)


class Paper(NamedTuple):
    """What the detection map says about the paper and the ink on it (see _paper_noise)."""

    peak: float  # the ink's peak (99.9th percentile, away from the image's edges)
    level: float  # the paper's level (median)
    spread: float  # robust standard deviation of the paper's noise
    contrast: float  # how far the ink stands out of the paper, smoothed or not


class Sheet(NamedTuple):
    """A sheet of paper found lying on a desk in a photo (see _off_page_as_paper)."""

    mask: np.ndarray  # where the sheet is, on the working copy
    pen: float  # stroke width of the ink on it, in working-copy pixels (BLANK_SHEET_PEN: nothing dark on it)
    grainy_desk: np.ndarray | None = None  # the working copy as it was, when the desk was found by its grain


class Candidate(NamedTuple):
    """A sheet on a desk as one of _off_page_as_paper's searches sees it, on the coarse copy."""

    sheet: np.ndarray  # where the sheet may be
    desk: np.ndarray  # what is taken for the desk
    contrast: float  # how far the sheet stands out of the desk
    cut: float | None  # level below which the sheet is inked (None: below its local level by contrast / 2)
    grainy: bool = False  # the desk was told from the sheet by its grain (not a shadowed part of the page)
    border: float = DESK_BORDER  # the least share of the picture's border the desk must show along


class Strokes(NamedTuple):
    """The digit's ink, cropped to it, before its strokes are thickened and it is boxed."""

    soft: np.ndarray  # soft ink map, 0..1, ink bright
    width: float  # stroke width, in its pixels
    extent: int  # its longer side, in its pixels


class NoDigitError(ImageError):
    """The picture holds no ink that could be a digit (blank page, pure noise)."""


class FaintInkError(NoDigitError):
    """Nothing in the picture stands out of the paper's noise: a blank page, or ink too faint or
    thin at the scale the picture was read at."""


class SeveralDigitsError(ImageError):
    """The picture holds more than one digit (a number written in a row): which one is meant is not
    for the reader to guess."""


class Found(NamedTuple):
    """What :func:`_digit_components` found on a mask of ink."""

    digit: np.ndarray  # the digit's pixels
    marks: np.ndarray  # rings, boxes and underlines drawn round or under it
    beside: int  # how many more digits stand in a row with it (see _digits_beside)


def normalize(gray: np.ndarray, work_max: int = WORK_MAX) -> np.ndarray:
    """Return the 28x28 float32 MNIST-style image (white ink on black, 0..1) of ``gray``.

    ``gray`` is a 2-D luminance array: floats in 0..1, or any integer dtype
    (scaled by the dtype's range). Raises :class:`NoDigitError` when there is
    no digit to read. ``work_max``: the longest side of the reduced copy the
    digit is looked for on first (see :func:`digit_input` for a finer one).
    """
    return _boxed(_strokes(gray, work_max), MIN_STROKE)


def views(gray: np.ndarray, work_max: int = WORK_MAX) -> np.ndarray:
    """The digit in ``gray`` as the network reads it when serving: (V, 28, 28) float32, V = 1 or 2.

    The first view is :func:`normalize`'s. A pen line thinner than MNIST's pens says nothing
    about how thick the writer's digit would have been in MNIST, and the network's answer on a
    doubtful shape can hang on it: when the strokes are thin enough to be thickened to
    THICK_STROKE, that is the second view, which the network reads when it is unsure of the first
    (recognize.SECOND_LOOK), the answers averaged. On 80,400 rendered pictures: 611 misses -> 588,
    the held-out samples' 424 -> 410. Raises like normalize.
    """
    strokes = _strokes(gray, work_max)
    widths = (MIN_STROKE, THICK_STROKE) if _growth(strokes, THICK_STROKE) >= 1.0 else (MIN_STROKE,)
    return np.stack([_boxed(strokes, least) for least in widths])


def _strokes(gray: np.ndarray, work_max: int) -> Strokes:
    """Steps 0-7 up to the thickening: what normalize and views share."""
    g = np.asarray(gray)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ImageError(f"expected a 2-D grayscale image, got shape {g.shape}")
    if g.dtype != np.uint8:
        g = _as_unit_float(g)  # 8-bit images stay 8-bit until reduced: converting a scan costs ms
    g = _paper_beyond_frame(_unzoomed(g))
    return _ink_of_digit(g, allow_zoom=True, factor=max(1, -(-max(g.shape) // work_max)))


def _unzoomed(g: np.ndarray) -> np.ndarray:
    """``g`` at its own size when it was enlarged with square pixels (nearest neighbour: pixel art,
    a small drawing zoomed in a paint program) - every run of equal rows and of equal columns away
    from the frame is a whole number of blocks. The blocks hold nothing the small picture does not,
    while their staircase edges, scaled into the 20x20 box, read as a stroke's wobble.

    The middle row and column are looked at first: a picture with detail of its own (anti-aliased
    strokes, paper's noise) shows a run of one pixel there, which settles it in a microsecond or two
    without a full pass."""
    h, w = g.shape
    if min(h, w) < 2 * MIN_UNZOOMED:
        return g
    row, col = g[h // 2], g[:, w // 2]
    steps = row[1:] != row[:-1]
    if (steps[1:] & steps[:-1]).any() or _block(steps) == 1 or _block(col[1:] != col[:-1]) == 1:
        return g
    rows, cols = (g[1:] != g[:-1]).any(axis=1), (g[:, 1:] != g[:, :-1]).any(axis=0)
    k = math.gcd(_block(rows), _block(cols))
    k = max((d for d in range(1, k + 1) if k % d == 0 and -(-min(h, w) // d) >= MIN_UNZOOMED), default=1)
    if k < 2:
        return g
    first_row, first_col = int(np.argmax(rows)) + 1, int(np.argmax(cols)) + 1  # where the first whole block starts
    return g[np.unique(np.r_[0, np.arange(first_row % k, h, k)])][
        :, np.unique(np.r_[0, np.arange(first_col % k, w, k)])
    ]


def _block(changed: np.ndarray) -> int:
    """The greatest common divisor of the lengths of the runs between the True values of ``changed``
    (line i differs from line i + 1) - the runs cut by the frame left out; 0 when there are none."""
    starts = np.flatnonzero(changed)
    return int(np.gcd.reduce(np.diff(starts))) if len(starts) > 1 else 0


def _paper_beyond_frame(g: np.ndarray) -> np.ndarray:
    """``g`` with paper added round it when it may be a digit cropped so tight that its strokes run
    into the frame (a crop of a scan or a drawing): every later step takes what lies beyond the
    frame for more of the picture - mirrored, a stroke along the frame is twice as wide and passes
    for paper - and ink in the border band for noise.

    The paper is the frame's pixels near one end of its range: the end most of the four corners lie
    at (a digit's strokes seldom reach more than two corners of the box round it - a 7's bar, a
    2's foot - while they may cover most of the frame, as a small 0 cut at its strokes does), or,
    two against two, where most of the frame lies."""
    h, w = g.shape
    if max(h, w) >= PHOTO_MIN_SIDE or min(h, w) < 3:
        return g
    frame = g[_ring(g.shape, 1)].astype(np.float32)
    near = FRAME_INK * (float(g.max()) - float(g.min()))
    lo, hi, middle = _quantile(frame, 0.1), _quantile(frame, 0.9), _median(frame)
    if hi - lo <= near:
        return g
    corners = np.array([g[0, 0], g[0, -1], g[-1, 0], g[-1, -1]], np.float32)
    votes = int(np.sum(hi - corners < corners - lo)) - int(np.sum(hi - corners > corners - lo))
    end = hi if votes > 0 or (votes == 0 and hi - middle < middle - lo) else lo
    paper = _median(frame[np.abs(frame - end) <= near])
    pad = min(max(2, round(FRAME_PAD * max(h, w))), (PHOTO_MIN_SIDE - 1 - max(h, w)) // 2)  # (not a photo yet)
    if pad < 1:
        return g
    return np.pad(g, pad, constant_values=np.asarray(paper).astype(g.dtype))


def _as_unit_float(gray: np.ndarray) -> np.ndarray:
    a = np.asarray(gray)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(np.iinfo(a.dtype).max)
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(a, 0.0, 1.0)


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of each f x f block as float32 0..1 (Pillow's reduce: a box filter in C, on 8-bit data
    if that is what we have - several times faster than numpy on a scan)."""
    if f > 1:
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).reduce(f))
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a


def _ink_of_digit(g: np.ndarray, allow_zoom: bool, factor: int, dark: bool | None = None) -> Strokes:
    """The digit's ink in ``g`` (soft map, 0..1, ink bright), cropped to it, and its stroke width.

    ``factor`` is the reduction of the working copy (see :func:`normalize`);
    ``dark``, the ink's polarity when it is known already (a crop of a page read before)."""
    small = _block_mean(g, factor)
    sheet = None
    photo_sized = max(g.shape) >= PHOTO_MIN_SIDE
    if allow_zoom and max(g.shape) >= DESK_MIN_SIDE:
        small, sheet = _off_page_as_paper(small)
    if sheet is None:
        ink, dark = _ink_map(small, tight=not photo_sized, plain=True, dark=dark)
        # Detection works on a lightly smoothed copy, so paper grain and JPEG noise do not pass
        # for ink; the digit is still rendered from the unsmoothed map. Tiny (MNIST-sized) inputs
        # are left as they are.
        detect, paper, found = _detected(ink)
        try:
            mask, marks, beside = _digit_components(found, detect)
            width = _stroke_width(mask)
        except NoDigitError:
            # In a photo, shading can outshine a faint thin digit in a page-sized window until only
            # specks of it pass the threshold: it is looked for again with the finest window.
            if not photo_sized or max(small.shape) < SHADOW_MIN_SIDE:
                raise
            width = 0.0
        # A shadow's edge, or light falling off, can pass for the digit in a page-sized window:
        # then what was taken for it is much wider than the pen strokes on the page. Where shadows
        # cover more of the map than the digit, the pen is measured where the ink is strong: what
        # they leave in the map is fainter than a pen's line. (Pictures of paper: a drawing a few
        # dozen pixels wide has no shadows, and the check costs it 10%.)
        if max(small.shape) >= SHADOW_MIN_SIDE:
            pen = min(_pen_width(found), _pen_width(found & (detect >= 0.5 * paper.peak), 0.5))
            width = min(width, 1.5 * pen)
            if photo_sized and width > FINE_PEN:  # (else a pen half as wide is thinner than any line)
                width = _fine_pen(small, dark, width, found)
    else:
        width = sheet.pen  # a photo's shadows would pass for the digit in a page-sized window
    # The paper's shading can be as wide as the first, image-sized background window: with the
    # strokes' width known, estimate the paper again with a window fitted to them.
    window = _stroke_window(width)
    if sheet is not None or 2 * window < _paper_window(small):
        for _ in range(2):
            ink, dark = _ink_map(small, window, tight=not photo_sized, plain=sheet is None, dark=dark)
            detect, paper, found = _detected(ink)
            mask, marks, beside = _digit_components(found, detect, sheet)
            width = _stroke_width(mask)
            # A sheet's pen is measured under a level that follows a thick marker's strokes down:
            # a window fitted to it can be narrower than where strokes meet, and hollow them there.
            if sheet is None or _stroke_window(width) <= PEN_REFIT * window:
                break
            window = _stroke_window(width)
    if allow_zoom and factor > 1:  # (print merges into blocks only on a reduced copy)
        text = _print_blocks(g, factor, found, dark)
        if text.any():
            found = found & ~text
            try:
                mask, marks, beside = _digit_components(found, detect, sheet)
            except NoDigitError:
                raise NoDigitError("no digit found: only printed text") from None
            marks, width = marks | text, _stroke_width(mask)
    if allow_zoom:  # (a zoomed crop was accepted already, on the whole page)
        _refuse_noise(paper, detect)
        if beside:
            raise SeveralDigitsError("more than one digit, side by side: a picture is read as one digit")
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    extent = max(bottom - top, right - left)

    # On grainy paper the block mean is what lifts a faint digit out of the grain; a digit already
    # nearly MNIST-sized here is read at this scale rather than from a finer, grainier crop.
    grainy = extent >= 16 and paper.spread > 0.1 * max(paper.peak - paper.level, 1e-6)
    if allow_zoom and factor > 1 and extent < MIN_DIGIT_WORK and not grainy:
        margin = max(2, extent // 2)
        t, b = max(0, top - margin) * factor, min(small.shape[0], bottom + margin) * factor
        l, r = max(0, left - margin) * factor, min(small.shape[1], right + margin) * factor
        # Only as much resolution as brings the digit to MIN_DIGIT_WORK px: a faint digit that
        # block means lifted out of grainy paper drowns in the grain again at full resolution.
        zoom = max(1, min(factor - 1, extent * factor // MIN_DIGIT_WORK))
        crop = g[t:b, l:r]
        region = (slice(t // factor, b // factor), slice(l // factor, r // factor))  # the crop, on ``small``
        if sheet is not None:  # the desk next to a digit near the sheet's edge is no part of it
            crop = _paper_outside(crop, sheet.mask[region], factor, small[region])
        if marks.any():  # a ring round the digit, cut by the crop, would no longer pass for one
            off = ndimage.binary_dilation(marks, _EIGHT, iterations=2)
            # The paper under a mark is the paper round it: one level for all of them left a step
            # where a shadow darkens the page, read as a stroke.
            close = ndimage.grey_closing if dark else ndimage.grey_opening
            crop = _paper_outside(crop, ~off[region], factor, close(small[region], size=_stroke_window(width)))
        try:
            zoomed = _ink_of_digit(crop, allow_zoom=False, factor=zoom, dark=dark)
        except NoDigitError:
            zoomed = None
        # A digit fills about the middle half of its crop; "ink" to the crop's edges is grain.
        if zoomed is not None and not (
            zoomed.soft.shape[0] * zoom >= 0.85 * (b - t) and zoomed.soft.shape[1] * zoom >= 0.85 * (r - l)
        ):
            return zoomed

    soft = ink[top:bottom, left:right] * ndimage.binary_dilation(mask, _EIGHT)[top:bottom, left:right]
    core = _quantile(soft[mask[top:bottom, left:right]], 0.9)
    return Strokes(np.clip(soft / max(core, 1e-6), 0.0, 1.0), width, extent)


def _print_blocks(g: np.ndarray, factor: int, found: np.ndarray, dark: bool) -> np.ndarray:
    """The ink in ``found`` (on the working copy, ``factor`` times smaller than ``g``) that is lines
    of print. A page's paragraphs merge into blocks there, wider than tall and bigger than the
    digit written on the page, and were read as the digit; at full resolution such a block falls
    into dozens of glyphs and words, a fraction of its height each, in lines with blank rows
    between them (a digit is one to a few pieces - or, in pencil on grainy paper, dozens of grains
    along strokes that leave few rows of its box blank; a digit's strokes fill little of the box
    that lines of print merge into)."""
    labels, _ = ndimage.label(found, _EIGHT)
    text = np.zeros_like(found)
    for i, (sr, sc) in enumerate(ndimage.find_objects(labels)):
        h, w = sr.stop - sr.start, sc.stop - sc.start
        if h < 12 or w < TEXT_WIDE * h or np.count_nonzero(labels[sr, sc] == i + 1) < PRINT_FILL * h * w:
            continue
        crop = _as_unit_float(g[sr.start * factor : sr.stop * factor, sc.start * factor : sc.stop * factor])
        ink = 1.0 - crop if dark else crop
        strong = ink > (_median(ink) + _quantile(ink, 0.99)) / 2
        pieces, n = ndimage.label(strong, _EIGHT)
        if n < PRINT_PIECES:
            continue
        heights = np.asarray([rows.stop - rows.start for rows, _ in ndimage.find_objects(pieces)])
        blank = strong.sum(axis=1) <= 0.01 * crop.shape[1]  # the space between lines
        between = sum(1 for start, stop in _runs(blank) if start > 0 and stop < len(blank))
        if 2 <= _median(heights) <= crop.shape[0] / 4 and between >= 2:  # (glyphs, not grains)
            text[sr, sc] |= labels[sr, sc] == i + 1
    return text


def _off_page_as_paper(small: np.ndarray) -> tuple[np.ndarray, Sheet | None]:
    """A photo of a sheet of paper lying on a darker desk: the desk, off the sheet, becomes paper.

    Where the desk shows around the sheet it is as dark as ink and wider than the page's shading:
    it would be read as the digit. A desk is a dark surround along at least 40% of the border (a
    quarter when it is much darker than the sheet), separated by a sharp step from a light,
    compact sheet that covers the picture's middle and a tenth of it or more and has ink on it, and
    much wider than that ink's strokes. The sheet is looked for as the smooth region amid a grainy
    desk about as light as it, by its level, then - a shadow may darken part of it to the desk's
    level or below - by the sharp steps around it. The desk's own grain goes with it. Returns the
    picture with the desk made paper and the :class:`Sheet`, or the picture unchanged and None."""
    # Desk and sheet are big: they are looked for at half the working scale (a quarter of the cost).
    f = _coarse_factor(small.shape)
    coarse = _block_mean(small, f)
    h, w = coarse.shape
    middle = (slice(2 * h // 5, 3 * h // 5 + 1), slice(2 * w // 5, 3 * w // 5 + 1))
    ring = _ring(coarse.shape)
    # Quick refusal first (most pictures): no desk darkens enough of the border, nor roughens it.
    centre = _median(coarse[middle])
    dark_only = _quantile(coarse[ring], DESK_BORDER) > centre - PAGE_CONTRAST / 2
    light = dark_only and _quantile(coarse[ring], DARK_DESK_BORDER) > centre - DARK_DESK / 2
    grain = _Grain.of(coarse, middle, ring)
    along_edges = grain.desk_along(DESK_BORDER)
    if light and along_edges is None:
        return small, None
    # Closing takes dark strokes narrower than ~5% of the image away, opening the light grain of
    # a desk; the desk and the sheet stay.
    size = max(3, max(h, w) // 20)
    closed = ndimage.grey_opening(ndimage.grey_closing(coarse, size=size), size=size)
    steps = _sharp_steps(closed)
    level = _enlarged_smoothly(closed, small.shape)
    for candidate in _candidates(closed, steps, coarse, middle, ring, dark_only, light, grain):
        sheet = _accepted(small, level, f, ring, candidate) if candidate else None
        if sheet is not None:
            # Detail on the desk stays ink where it is darker than the desk by a quarter of this
            # contrast: on a grainy desk, by several times its grain, so the grain goes with it.
            grain = _median(_roughness(coarse, candidate.desk & ~candidate.sheet))
            # A desk as smooth as paper may be the shadowed part of the page (see _desk_as_paper).
            smooth = not candidate.grainy and 25 * grain < candidate.contrast / 2
            filled = _desk_as_paper(small, level, sheet.mask, max(candidate.contrast, 25 * grain), smooth)
            return filled, sheet._replace(grainy_desk=small if candidate.grainy else None)
    return small, None


def _coarse_factor(shape: tuple[int, ...]) -> int:
    """The reduction of the working copy at which a sheet and its desk are looked for."""
    return 2 if max(shape) > 2 * PAGE_SIDE else 1


def _candidates(
    closed: np.ndarray,
    steps: np.ndarray,
    coarse: np.ndarray,
    middle: tuple[slice, slice],
    ring: np.ndarray,
    dark_only: bool,
    light: bool,
    grain: _Grain,
) -> Iterator[Candidate | None]:
    """The searches' candidates, in order. A desk along less than DESK_BORDER of the border passed
    the quick test only by being very dark; the grain search has a test of the border of its own.
    Last, a sheet filling most of a photo whose grainy desk shows along one or two of its edges -
    the only search for a border that passed the quick test by its grain alone (``light``)."""

    def dark_enough(candidate: Candidate | None) -> Candidate | None:
        return None if candidate and dark_only and candidate.contrast < DARK_DESK else candidate

    along_edges = grain.desk_along(DESK_BORDER)
    if not light:
        round_it = grain.desk_along(GRAINY_DESK_ROUND)
        yield _sheet_by_texture(closed, coarse, middle, ring, round_it) if round_it else None
        yield dark_enough(_sheet_by_level(closed, steps, middle, ring))
        yield dark_enough(_sheet_by_edges(closed, steps, middle, ring, grainy=along_edges is not None))
    if along_edges:
        candidate = _sheet_by_texture(closed, coarse, middle, ring, along_edges)
        # The grain's opening drops the band of desk along the picture's edge where it is narrow.
        yield candidate._replace(border=DARK_DESK_BORDER) if candidate else None


def _accepted(small: np.ndarray, level: np.ndarray, f: int, ring: np.ndarray, candidate: Candidate) -> Sheet | None:
    """The :class:`Sheet` (on ``small``, ``f`` times the coarse copy) if ``candidate`` is one;
    ``level`` is the desk's and the sheet's level without the ink, on ``small``."""
    desk, contrast, cut = candidate.desk, candidate.contrast, candidate.cut
    sheet = ndimage.binary_erosion(candidate.sheet, iterations=2)  # the sheet's blurred edge is neither
    labels, n = ndimage.label(sheet)
    if n > 1:  # a sheet is one piece: what a narrow leak into the desk joined to it is cut off again
        sheet = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    # A shadow along one edge is left to _edge_huggers; a thick digit touching the border, with
    # white canvas around it, is no desk; nor is the inside of a thick 0, or a stroke of chalk, a
    # sheet: a sheet is a compact quadrilateral, mostly paper, filling most of its bounding box.
    rows, cols = np.nonzero(sheet)
    border = (desk & ~sheet)[ring].mean()
    if (
        len(rows) == 0
        or border < (DARK_DESK_BORDER if contrast >= DARK_DESK else candidate.border)
        or sheet.mean() < 0.1
    ):
        return None
    if (sheet & ~desk).sum() < 0.6 * len(rows) or len(rows) < 0.6 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1):
        return None
    desk_width = f * ndimage.distance_transform_edt(~sheet & desk).max()
    # A desk along little of the border shows as a wide band; a scanner's dark edge is narrow.
    if border < DESK_BORDER and desk_width < DARK_DESK_WIDTH * max(small.shape):
        return None
    coarse_sheet, sheet = sheet, _enlarged(sheet, f, small.shape)
    # In a digit cropped tight the "desk" would be the digit's own thick strokes, the "sheet" the
    # paper between them: a desk is much wider than the strokes of the ink on the sheet.
    # Ink is what lies below the cut between desk and paper, or well below the paper: a pencil's
    # grey (or a thin pen's, at this scale) lies above the cut on a dark desk.
    below = level - min(contrast / 2, 2 * PAGE_CONTRAST)
    ink = (small < (below if cut is None else np.maximum(below, cut))) & sheet
    if ink.sum() < 3:
        # Nothing this dark on it: a blank sheet, or ink as faint as a light pencil's - or a thick
        # dark digit taken for desk, biting into the "sheet" around it; a sheet is convex.
        return Sheet(sheet, BLANK_SHEET_PEN) if _convex(coarse_sheet) else None
    pen = _stroke_width(ink)
    if desk_width < 3 * pen:
        return None
    return Sheet(sheet, pen)


def _convex(region: np.ndarray) -> bool:
    """Whether ``region`` fills its convex hull (a sheet of paper does; a sheet a digit bites into does not)."""
    from scipy.spatial import ConvexHull, QhullError

    points = np.argwhere(region)
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):
        return False
    return len(points) >= 0.94 * hull.volume


def _enlarged_smoothly(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``a`` resized to ``shape`` with bilinear interpolation."""
    if a.shape == shape:
        return a
    return np.asarray(Image.fromarray(a).resize(shape[::-1], Image.Resampling.BILINEAR))


def _sharp_steps(closed: np.ndarray) -> np.ndarray:
    """How sharp a step each pixel of ``closed`` is on: a sheet's edge goes from desk to paper within
    a pixel or two; light falling off towards a scan's corners, or a shadow's edge (a phone's, a
    hand's), changes gradually whatever its depth. A step counts only as far as it is steeper over
    3 pixels than a ramp as steep over 9 would be."""
    sharp = ndimage.maximum_filter(closed, 3) - ndimage.minimum_filter(closed, 3)
    wide = ndimage.maximum_filter(closed, 9) - ndimage.minimum_filter(closed, 9)
    return np.maximum(4 * sharp - wide, 0.0) / 3


def _sheet_by_level(
    closed: np.ndarray, steps: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray
) -> Candidate | None:
    """A sheet lighter than the desk as a whole, split from it by Otsu's threshold."""
    cut = _otsu(closed, 1.0)
    dark = closed < cut
    # The sheet covers much of the picture, its middle included. (A board is dark around light chalk.)
    if dark.mean() > 0.75 or not dark.any() or np.median(closed[middle]) < cut:
        return None
    paper, desk = _median(closed[~dark]), _median(closed[dark])
    edge = dark & ~ndimage.binary_erosion(dark, border_value=1)
    if paper - desk < PAGE_CONTRAST or np.median(steps[edge]) < 0.5 * (paper - desk):
        return None
    # The sheet: the light region under the middle (opened: grain on a light desk may touch its
    # edge in places), joined by whatever no sharp step separates from the middle - the part of
    # the sheet a shadow darkens - unless that region leaks out to the border.
    sheet = _under_middle(ndimage.binary_opening(~dark, iterations=2), middle)
    smooth = _under_middle(steps < 0.5 * (paper - desk), middle)
    if smooth[ring].mean() <= 0.75:
        sheet |= smooth
    return Candidate(sheet, dark, paper - desk, cut)


def _roughness(coarse: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """How grainy the picture is around each pixel: the median over 5x5 of how far each pixel lies
    from its 3x3 mean. Shading and a shadow's ramp are nearly linear and leave it low; a pen line,
    narrower than half the window, does not move the median. With ``where`` (a mask), the same
    values at those pixels only, in row-major order - a fraction of the cost."""
    deviation = np.abs(coarse - ndimage.uniform_filter(coarse, 3))
    if where is None:
        return ndimage.median_filter(deviation, 5)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(deviation, 2, mode="symmetric"), (5, 5))
    return np.partition(windows[where].reshape(-1, 25), 12, axis=1)[:, 12]


class _Grain(NamedTuple):
    """How grainy the picture's middle and border are (see _roughness), measured once per picture."""

    inside: float  # the middle where it is smoothest (its lower quartile: a thick digit's strokes cover much of it)
    border: np.ndarray  # the roughness along the border, per pixel

    @classmethod
    def of(cls, coarse: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray) -> _Grain:
        centre = np.zeros(coarse.shape, bool)
        centre[middle] = True
        return cls(_quantile(_roughness(coarse, centre), 0.25), _roughness(coarse, ring))

    def desk_along(self, share: float) -> tuple[float, float] | None:
        """(inside, outside) when a desk several times as grainy as the middle (carpet, stone, a
        coarse wood) may show along ``share`` of the border; else None."""
        outside = _quantile(self.border, 1 - share)
        if outside < 3 * self.inside or outside < 0.004:
            return None
        return self.inside, outside


def _sheet_by_texture(
    closed: np.ndarray, coarse: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray, grain: tuple[float, float]
) -> Candidate | None:
    """A smooth sheet on a grainy desk of about the sheet's own level: the smooth region around the
    middle; ``grain`` is the middle's and the border's (see _Grain.desk_along)."""
    inside, outside = grain
    rough = _roughness(coarse)
    # The desk is grainy all over and reaches the border; a pen's strokes and a shadow's edge are
    # grainy only along lines, which an opening takes away.
    grainy = ndimage.binary_opening(rough >= np.sqrt(inside * outside), iterations=GRAIN_OPENING)
    labels, _ = ndimage.label(grainy)
    desk = np.isin(labels, np.unique(labels[ring & grainy]))
    sheet = _under_middle(~desk, middle)
    if not sheet.any() or sheet.all():
        return None
    contrast = float(np.median(closed[sheet]) - np.median(closed[~sheet]))
    if contrast > 3 * PAGE_CONTRAST:  # a desk this much darker is found by its level, edges and all
        return None
    return Candidate(sheet, ~sheet, max(contrast, PAGE_CONTRAST), None, grainy=True)


def _sheet_by_edges(
    closed: np.ndarray, steps: np.ndarray, middle: tuple[slice, slice], ring: np.ndarray, grainy: bool = False
) -> Candidate | None:
    """A sheet partly in shadow - as dark there as the desk, or darker - is the region around the
    middle that the strongest sharp steps in the picture enclose. On a ``grainy`` desk seen along
    the border, where a corner of the sheet runs into the frame its two edges may stop a few pixels
    apart: the narrow way out to the desk between them is opened away. (Not elsewhere: a scanner's
    dark edge, cut off that way, would pass for a desk.)"""
    strong = _quantile(steps, 0.99)
    if strong < PAGE_CONTRAST:
        return None
    enclosed = ndimage.maximum_filter(steps, 3) < 0.4 * strong
    if grainy:
        enclosed = ndimage.binary_opening(enclosed, iterations=2)
    sheet = _under_middle(enclosed, middle)
    return Candidate(sheet, ~sheet, strong, None)


def _ring(shape: tuple[int, int], band: int | None = None) -> np.ndarray:
    """Mask of the picture's border: a band ``band`` px wide (default 3% of the shorter side, at
    least a pixel)."""
    band = band or max(1, round(0.03 * min(shape)))
    ring = np.ones(shape, bool)
    ring[band:-band, band:-band] = False
    return ring


def _enlarged(a: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    """``a`` with each pixel repeated f x f times, cut to ``shape``."""
    return a if f == 1 else np.repeat(np.repeat(a, f, axis=0), f, axis=1)[: shape[0], : shape[1]]


def _desk_as_paper(
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
    size = max(5, max(h, w) // 8)
    support = ndimage.uniform_filter(sheet.astype(np.float32), size)
    level = ndimage.uniform_filter(np.where(sheet, small, 0.0).astype(np.float32), size) / np.maximum(support, 1e-6)
    known = sheet | (support >= 0.3)
    rows, cols = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    thick, desk = _thick_ink_off_sheet(closed, sheet, contrast)
    if thick.any():  # measured against the desk, not against itself
        thick = ndimage.binary_dilation(thick, _EIGHT, iterations=2)
        closed = np.where(thick, desk, closed)
    depth = small - ndimage.minimum_filter(closed, 5)  # below the desk's level: negative
    ink = depth < -0.25 * contrast
    filled = level[rows, cols] + np.where(ink, depth if smooth else depth + 0.25 * contrast, 0.0)
    return np.where(sheet | (thick & ink), small, filled)


def _thick_ink_off_sheet(closed: np.ndarray, sheet: np.ndarray, contrast: float) -> tuple[np.ndarray, float]:
    """Where, off the ``sheet``, the desk's level (``closed``) is a dark island: much darker than
    nearly all of the desk, and apart from the picture's frame. A thick marker's blob or loop is
    wider than the closing that takes strokes away, so it stays in the desk's level; a sheet search
    that took it (or the shaded part of the page round it) for desk would make it paper. A desk
    reaches the frame; what lies darker than it, inside it, is ink. Returns the islands and the
    desk's level they are measured against."""
    off = ~sheet
    if not off.any():
        return off, 0.0
    desk = _quantile(closed[off], 0.1)
    island, n = ndimage.label(off & (closed < desk - 0.5 * contrast), _EIGHT)
    framed = np.unique(island[_ring(island.shape, 1)])
    return (island > 0) & ~np.isin(island, framed), desk


def _fine_pen(small: np.ndarray, dark: bool, width: float, found: np.ndarray) -> float:
    """The stroke width of the digit a fine window finds, if it is under half of ``width`` (else
    ``width``). A soft shadow, or light falling off, leaves broad faint blobs in a page-sized
    window's map (where ``found`` is the ink) that outshine a thin pen's faint digit; a window a
    few thin strokes wide takes them away and leaves the strokes. Strokes wider than that window
    lose their middles in it: where the digit it finds is wider than FINE_PEN, or holds under half
    the ink ``found`` there, the pen is not thin."""
    ink, _ = _ink_map(small, FINE_WINDOW, plain=True, dark=dark)
    detect, _, fine_found = _detected(ink)
    try:
        mask = _digit_components(fine_found, detect).digit
    except NoDigitError:
        return width
    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    fine = _stroke_width(mask)
    thin = 2 * fine <= width and fine <= FINE_PEN
    return fine if thin and mask[box].sum() >= 0.5 * found[box].sum() else width


def _outline(sheet: np.ndarray) -> np.ndarray:
    """A band along the edge of the ``sheet`` (inside it: off it is paper already), as wide as
    _digit_components' border band of the picture - 3% of its shorter side."""
    band = max(1, round(0.03 * min(sheet.shape)))
    return sheet & ~ndimage.binary_erosion(sheet, iterations=band, border_value=1)


def _under_middle(region: np.ndarray, middle: tuple[slice, slice]) -> np.ndarray:
    """The connected part of ``region`` covering most of the ``middle`` box, its holes filled."""
    labels, _ = ndimage.label(region)
    counts = np.bincount(labels[middle].ravel())
    counts[0] = 0
    return ndimage.binary_fill_holes(labels == int(np.argmax(counts))) if counts.any() else np.zeros_like(region)


def _paper_outside(crop: np.ndarray, keep: np.ndarray, factor: int, paper: np.ndarray | None = None) -> np.ndarray:
    """``crop`` (full resolution) with the pixels outside ``keep`` (a mask at 1/``factor``: the sheet, or
    all but marks drawn round the digit) set to the paper: ``paper``, the working copy's level
    there (at 1/``factor``, 0..1), or else the median of the pixels kept. (On a photo one level for
    all of the desk would leave a step where a shadow darkens the sheet up to its edge, and the
    step would be read as a stroke: the desk takes the level the working copy gave it, that of
    the paper next to it.)"""
    on = _enlarged(keep, factor, crop.shape)
    if on.all() or not on.any():
        return crop
    out = crop.copy()
    if paper is None:
        out[~on] = np.median(crop[on])
        return out
    level = _enlarged_smoothly(paper.astype(np.float32), (paper.shape[0] * factor, paper.shape[1] * factor))
    level = level[: crop.shape[0], : crop.shape[1]][~on]
    out[~on] = np.round(level * 255) if crop.dtype == np.uint8 else level
    return out


def _detected(ink: np.ndarray) -> tuple[np.ndarray, Paper, np.ndarray]:
    """The detection map (``ink`` lightly smoothed), the paper's figures on it, and the ink found in it."""
    detect = _smooth(ink)
    paper = _paper_noise(detect, ink)
    return detect, paper, _ink_mask(detect, paper)


def _smooth(ink: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(ink, 3) if min(ink.shape) >= SMOOTH_MIN_SIDE else ink


def _stroke_window(width: float) -> int:
    return max(7, int(round(3 * width)) | 1)


def _paper_window(a: np.ndarray) -> int:
    return max(7, max(a.shape) // 3)


def _ink_map(
    a: np.ndarray, window: int | None = None, tight: bool = False, plain: bool = False, dark: bool | None = None
) -> tuple[np.ndarray, bool]:
    """Ink strength per pixel (distance from the local paper level, on the ink's side), and whether
    the ink is dark - ``dark`` if given, else decided here (see _dark_ink).

    The paper level is a grey opening (it removes bright structures narrower than ``window``,
    i.e. the ink once made bright), smoothed - or, in a ``tight`` crop that ink covers most of,
    or a ``tight`` or ``plain`` picture (no sheet on a desk) with a flat border, the paper's one
    level (see _paper_level)."""
    smooth = ndimage.uniform_filter(a, 3) if min(a.shape) >= 3 else a
    paper, ink_heavy = _paper_level(smooth, tight, plain)
    if dark is None:
        dark = _dark_ink(smooth, paper, tight)
    if dark:
        a, smooth, paper = 1.0 - a, 1.0 - smooth, 1.0 - paper  # dark ink on light paper: make ink bright
    if ink_heavy:  # the paper between a tight crop's thick strokes is narrower than any window
        return np.clip(a - paper, 0.0, None), dark
    size = window or _paper_window(a)
    # The opening of the smoothed image follows the paper's mean, not its noisiest dark grains.
    background = ndimage.grey_opening(smooth, size=(min(size, a.shape[0]), min(size, a.shape[1])))
    # Smoothing takes the plateaus out of the opening but pulls it below the paper where the paper
    # darkens steeply (a vignetted scan's edges), which would read as ink: never go below the opening.
    background = np.maximum(ndimage.uniform_filter(background, max(3, size // 2)), background)
    return np.clip(a - background, 0.0, None), dark


def _dark_ink(smooth: np.ndarray, paper: float, tight: bool) -> bool:
    """Whether the ink is darker than the ``paper``: the paper's level lies nearer the light end of
    the picture's range - unless what lies further from it on the light side is wide: light
    falling off, the lit side of a shadow's edge (a thin or faint pen's ink lies less far below
    the paper than that lies above it). Wide light is what a page-window grey opening keeps, where
    it takes light ink away: the ink is dark when the light that is not wide reaches less far
    than the dark, or when narrow dark detail (what a closing takes away) stands out more than
    narrow light detail while the light extreme is mostly wide."""
    lo, hi = paper - float(smooth.min()), float(smooth.max()) - paper
    if lo >= hi:
        return True
    if tight:  # (in a tight crop the strokes may be wider than any window)
        return False
    size = tuple(min(_paper_window(smooth), n) for n in smooth.shape)
    opened = ndimage.grey_opening(smooth, size=size)
    if hi - (_quantile(opened, 0.999) - paper) < lo:
        return True
    dark = _quantile(ndimage.grey_closing(smooth, size=size) - smooth, 0.999)
    light = _quantile(smooth - opened, 0.999)
    return light < 0.6 * hi and dark > light


def _paper_level(smooth: np.ndarray, tight: bool, plain: bool = False) -> tuple[float, bool]:
    """The paper's level, and whether ink covers most of the picture (a thick digit cropped tight).

    The paper's level is the median - unless the picture may be a ``tight`` crop (too small to
    be a photo, where a desk the sheet was not found on would look the same) and the border, where
    the paper still is in a tight crop, tells otherwise: its median lies at one end of the
    picture's range, far from the overall median. (A scan's edges darkened by vignetting or a
    shadow lie in between.) In a ``tight`` or ``plain`` picture whose border is one flat level, that
    level is the paper's everywhere: a digit drawn with a big brush has blots wider than any window."""
    level = _median(_sample(smooth))
    h, w = smooth.shape
    lo, hi = float(smooth.min()), float(smooth.max())
    span = hi - lo
    if not (tight or plain) or min(h, w) < 8 or span <= 0:
        return level, False
    border = smooth[_ring(smooth.shape)]
    edge = _median(border)
    if tight and abs(edge - level) > 0.5 * span and min(edge - lo, hi - edge) < 0.15 * span:
        return edge, True
    # A canvas whose border is one flat level: ink in it may be wider than any window (a blob of a
    # digit drawn with the biggest brush), and a window would hollow it out.
    if _quantile(border, 0.9) - _quantile(border, 0.1) <= 0.04 * span and abs(edge - level) < 0.1 * span:
        return edge, True
    return level, False


def _ink_mask(ink: np.ndarray, paper: Paper) -> np.ndarray:
    """Hysteresis: pixels above the low threshold that connect to pixels above the high one.

    A pen's pressure (or a scanner) leaves parts of a stroke fainter than the rest; Otsu's
    threshold alone would cut the faint bar off a 7."""
    high, low = _threshold(ink, paper)
    labels, n = ndimage.label(ink > low, _EIGHT)
    strong = np.zeros(n + 1, dtype=bool)
    strong[np.unique(labels[ink > high])] = True
    strong[0] = False
    return strong[labels]


def _paper_noise(ink: np.ndarray, raw: np.ndarray) -> Paper:
    """Peak ink, paper level, robust std of the paper's noise and contrast of the detection map ``ink``.

    The peak ignores the image's edges (scanner shadows). ``contrast`` is the larger of the peak
    over the paper in ``ink`` and in the unsmoothed ``raw``: smoothing for detection spreads a
    faint 1-pixel pencil line over three and must not push it under MIN_CONTRAST, while a digit
    of a dozen pixels on a big page only reaches the peak quantile once smoothing has spread it."""
    h, w = ink.shape
    edge = (slice(h // 25, h - h // 25), slice(w // 25, w - w // 25)) if min(h, w) >= 50 else (slice(None), slice(None))
    sample = _sample(ink)
    median = _median(sample)
    inner, raw_inner = ink[edge], raw[edge]
    top = max(0.999, 1.0 - PEAK_PIXELS / inner.size)
    peak = _quantile(inner, top)
    contrast = peak - median
    if contrast < MIN_CONTRAST:  # only then can the unsmoothed map change the verdict
        contrast = max(contrast, _quantile(raw_inner, top) - _median(_sample(raw)))
    return Paper(peak, median, _robust_std(sample, median), contrast)


def _refuse_noise(paper: Paper, ink: np.ndarray) -> None:
    """NoDigitError unless the ink stands out of the paper's noise (blank or noise-only pages).

    Judged on the final ink map, after the paper's shading was estimated with a window fitted
    to the strokes - mottled paper would otherwise drown a faint digit."""
    if paper.contrast >= MIN_CONTRAST and (paper.peak - paper.level >= MIN_SNR * paper.spread or _ink_apart(ink)):
        return
    raise FaintInkError("no digit found: the image has no ink that stands out of the background")


def _ink_apart(ink: np.ndarray) -> bool:
    """True when ink covers a good part of the picture and stands apart from the paper as a level
    of its own - a digit cropped tight to its strokes, where the paper's median and spread (taken
    over the whole picture) are half ink.

    Otsu's split of the ink map: the upper level must lie MIN_SNR robust standard deviations of
    the lower level above it. Noise alone splits into halves only ~3 of them apart."""
    sample = _sample(ink)
    top = float(sample.max())
    if top <= 0:
        return False
    cut = _otsu(sample, top)
    low, high = sample[sample < cut], sample[sample >= cut]
    if low.size == 0 or high.size < 0.2 * sample.size:
        return False
    level = _median(low)
    apart = _median(high) - level
    return apart >= MIN_CONTRAST and apart >= MIN_SNR * _robust_std(low, level)


def _robust_std(a: np.ndarray, centre: float) -> float:
    """Standard deviation of ``a``'s noise around ``centre`` from the median absolute deviation."""
    return 1.4826 * _median(np.abs(a - centre))


def _threshold(ink: np.ndarray, paper: Paper) -> tuple[float, float]:
    """(high, low) thresholds: Otsu's, and a lower one for faint parts of strokes (see _ink_mask)."""
    peak, median, spread, contrast = paper
    if contrast < MIN_CONTRAST or peak <= median:
        raise FaintInkError("no digit found: the image has no ink that stands out of the background")
    high = min(max(_otsu(ink, peak), 0.2 * peak, median + 3.0 * spread), 0.6 * peak)
    return high, min(high, max(0.4 * high, median + 4.0 * spread))


def _otsu(a: np.ndarray, top: float, bins: int = 64) -> float:
    """Otsu's threshold of the values of ``a`` (0..``top``, larger values counted in the last bin)."""
    index = np.minimum((a * (bins / top)).astype(np.int32), bins - 1)
    hist = np.bincount(index.ravel(), minlength=bins).astype(np.float64)
    centers = (np.arange(bins) + 0.5) * (top / bins)
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = m0 / np.maximum(w0, 1e-12)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1e-12)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(centers[int(np.argmax(between))])


def _without_printed_lines(mask: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``mask`` without printed straight lines: dark ruling on a page, the box of a form field.

    Light ruling (a notebook's blue lines) never reaches the ink threshold; dark lines do, and
    a digit drawn across one, or inside a box, would otherwise be read together with it. A line
    is a band of rows (or columns) that an ink component crosses from side to side.

    * A component with such bands along three of its sides is a box: the sides go. An empty box
      goes when there is other ink inside it (a digit written in it without touching it); a lone
      one stays (a 0 drawn with a rectangle tool).
    * A band goes when it spans the page and runs well past both ends of the rest of its
      component - a ruled line with a digit written across it, not a 7's bar or a 1's stem.
    * A lone thin line goes when it lies flat (no digit is a dash), or stands the page's full
      height beside other ink (a notebook's margin); other upright strokes may be 1s and stay.
    ``labels`` are the 8-connected components of ``mask``; the result is ``mask`` itself when
    nothing was taken out.
    """
    height, width = mask.shape
    total = int(mask.sum())
    out = mask
    for i, (sr, sc) in enumerate(ndimage.find_objects(labels)):
        comp = labels[sr, sc] == i + 1
        h, w = comp.shape
        if max(h, w) < 12:
            continue
        # Rows / columns the component crosses from side to side, in thin bands: a thick stroke
        # is crossed by all its rows, a printed line by one to three.
        rows = _thin_bands(comp.sum(axis=1) >= 0.85 * w, max(3, w // 8)) if w >= 12 else np.zeros(h, bool)
        cols = _thin_bands(comp.sum(axis=0) >= 0.85 * h, max(3, h // 8)) if h >= 12 else np.zeros(w, bool)
        if not (rows.any() or cols.any()):
            continue
        if h <= max(3, w // 10) or w <= max(3, h // 10):  # a lone thin line
            area = int(comp.sum())
            margin = h >= 0.9 * height and total - area >= 0.2 * area
            if not (w > h or margin):
                continue
            if out is mask:
                out = mask.copy()
            out[sr, sc] &= ~comp
            continue
        if min(h, w) < 12:  # a stroke, not a line with ink attached across it
            continue
        edge = max(2, round(0.12 * min(h, w)))
        is_box = sum((rows[:edge].any(), rows[-edge:].any(), cols[:edge].any(), cols[-edge:].any())) >= 3
        if not (is_box or w >= 0.9 * width or h >= 0.9 * height):
            continue
        rows_band, cols_band = ndimage.binary_dilation(rows), ndimage.binary_dilation(cols)
        if is_box:
            strip = (rows_band[:, None] | cols_band[None, :]) & comp
            if (comp & ~strip).sum() < 5:  # nothing in it but its own fringe
                if int((mask[sr, sc] & ~comp).sum()) < 3:
                    continue
                strip = comp
        else:
            # Only lines across the whole page: a digit's bar may run past its other strokes.
            rows_band &= w >= 0.9 * width
            cols_band &= h >= 0.9 * height
            rest = comp & ~rows_band[:, None] & ~cols_band[None, :]
            rows_band &= _runs_past(rest, axis=0)
            cols_band &= _runs_past(rest, axis=1)
            strip = (rows_band[:, None] | cols_band[None, :]) & comp
            if not strip.any():
                continue
        if out is mask:
            out = mask.copy()
        out[sr, sc] &= ~strip | _bridged(comp & ~strip, strip, rows_band, cols_band)
    return out


def _bridged(rest: np.ndarray, strip: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The pixels of the removed lines where a stroke of ``rest`` crossed them - ink on both sides
    of a line, straight across - so that a 0 written over ruled lines does not fall apart.
    ``rows`` / ``cols`` flag the removed horizontal / vertical bands."""
    out = np.zeros_like(rest)
    for band, axis in ((rows, 0), (cols, 1)):
        if not band.any() or not rest.any():
            continue
        thickest = max(stop - start for start, stop in _runs(band))
        shape = (thickest + 2, 1) if axis == 0 else (1, thickest + 2)
        across = band[:, None] if axis == 0 else band[None, :]
        out |= (
            ndimage.binary_closing(np.pad(rest, thickest + 2), structure=np.ones(shape, bool))[
                thickest + 2 : -(thickest + 2), thickest + 2 : -(thickest + 2)
            ]
            & strip
            & across
        )
    return out


def _runs(full: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of consecutive True values in the 1-D bool array ``full``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], full, [False])).astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _thin_bands(full: np.ndarray, limit: int) -> np.ndarray:
    """``full`` (1-D bool) keeping only runs of at most ``limit`` consecutive True values."""
    if not full.any():
        return full
    out = np.zeros_like(full)
    for start, stop in _runs(full):
        if stop - start <= limit:
            out[start:stop] = True
    return out


def _runs_past(rest: np.ndarray, axis: int) -> bool:
    """True when the line along ``axis`` (its full length being ``rest.shape[1 - axis]``) runs well past
    both ends of the ink ``rest`` attached to it - a ruled line crossing a digit, not a 1's stem
    with its flag at one end or a 7's bar with the stroke hanging from its end."""
    length = rest.shape[1 - axis]
    along = np.flatnonzero(rest.any(axis=axis))
    if len(along) == 0:
        return False
    return along[0] >= 0.15 * length and length - 1 - along[-1] >= 0.15 * length


def _digit_components(mask: np.ndarray, ink: np.ndarray, sheet: Sheet | None = None) -> Found:
    """Keep the digit: the largest ink component and those close to it; drop specks and edge lines.
    ``sheet``: the sheet of paper in a photo - a band along its edge is a border like the
    picture's own, and on a grainy desk faint ink off it is the desk's (see :func:`_faint_off_sheet`).
    Returns the digit, the marks drawn round or under it (see :func:`_rings_around`) and how many
    more digits stand beside it."""
    labels, n = ndimage.label(mask, _EIGHT)
    marks = _pieces(labels, n, _rings_around(labels, n))
    if marks.any():
        mask = mask & ~marks
        labels, n = ndimage.label(mask, _EIGHT)
    cleaned = _without_printed_lines(mask, labels)
    if cleaned is not mask:
        mask = cleaned
        labels, n = ndimage.label(mask, _EIGHT)
    boxes = ndimage.find_objects(labels)
    touching = _marks_touching(labels, boxes, ink)
    if touching.any():
        marks, mask = marks | touching, mask & ~touching
        labels, n = ndimage.label(mask, _EIGHT)
        boxes = ndimage.find_objects(labels)
    if n == 0:
        raise NoDigitError("no digit found: no ink after thresholding")
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    h, w = mask.shape
    band_r, band_c = max(1, round(h * 0.03)), max(1, round(w * 0.03))
    border = np.zeros_like(mask)
    border[:band_r, :] = border[-band_r:, :] = True
    border[:, :band_c] = border[:, -band_c:] = True
    faint = np.zeros(n, dtype=bool)
    if sheet is not None:  # a sliver of desk or a shadow left along the sheet's edge is no digit
        border |= _outline(sheet.mask)
        if sheet.grainy_desk is not None:
            faint = _faint_off_sheet(labels, n, ink, border | ~sheet.mask, areas, sheet.grainy_desk)
    in_band = np.bincount(labels[border], minlength=n + 1)[1:] > 0.3 * areas
    hugging = _edge_huggers(labels, n, boxes)

    candidates = [i for i in range(n) if not in_band[i] and not hugging[i] and not faint[i]]
    if not candidates:  # ink along the picture's edge may be the digit in a tight crop...
        in_frame = np.zeros(n)
        if sheet is not None and sheet.grainy_desk is not None:  # ...not where a sheet on a grainy desk runs into it
            in_frame = np.bincount(labels[_sheet_at_frame(sheet.mask)], minlength=n + 1)[1:]
        candidates = [i for i in range(n) if not faint[i] and in_frame[i] <= 0.3 * areas[i]]
    if not candidates:
        raise NoDigitError("no digit found: nothing on the sheet of paper")
    edges = _box_edges(boxes)
    lines = _underlines(candidates, areas, edges, labels)
    if lines and len(lines) < len(candidates):
        candidates = [i for i in candidates if i not in lines]
        marks = marks | _pieces(labels, n, lines)
    largest = _strongest_large(labels, ink, areas, candidates)
    min_area = max(2, 0.04 * areas[largest])
    rest = [i for i in candidates if i != largest and areas[i] >= min_area]
    if len(candidates) >= GRAIN_PIECES:
        rest = _strong_pieces(labels, ink, largest, rest)
    keep = _grown(edges, largest, rest, {})
    # A digit drawn in one piece: a dot beside it is a full stop, a pen's rest or a speck. (A faint
    # digit on grainy paper falls into pieces, dot-sized ones among them: there every piece counts.)
    if len(keep) > 1 and areas[largest] >= 0.6 * areas[keep].sum():
        keep = _grown(edges, largest, rest, _dots(labels, largest, rest, boxes, edges))
    if areas[keep].sum() < 3:
        raise NoDigitError("no digit found: only specks of ink")
    keep += _cut_by_frame(labels, n, keep, [i for i in range(n) if in_band[i] and not hugging[i] and not faint[i]])
    others = [i for i in candidates if i not in keep]
    beside = _digits_beside(labels, ink, edges, areas, keep, others) + _digits_within(edges, areas, keep)
    return Found(_pieces(labels, n, keep), marks, beside)


def _strongest_large(labels: np.ndarray, ink: np.ndarray, areas: np.ndarray, candidates: list[int]) -> int:
    """The piece the digit grows from: the largest of ``candidates`` - unless another at least half
    its size has ink much stronger than its own (by PIECE_STRENGTH): then the largest is texture
    that passed the threshold (a grainy desk beside the sheet, read with a window fitted to a
    thin pen), and the strongest of those pieces is the digit's."""
    largest = max(candidates, key=lambda i: areas[i])
    large = [i for i in candidates if areas[i] >= 0.5 * areas[largest]]
    if len(large) < 2:
        return largest
    strength = np.asarray(ndimage.median(ink, labels, np.asarray(large) + 1))
    strongest = int(np.argmax(strength))
    if strength[large.index(largest)] < PIECE_STRENGTH * strength[strongest]:
        return large[strongest]
    return largest


def _cut_by_frame(labels: np.ndarray, n: int, keep: list[int], banded: list[int]) -> list[int]:
    """Those of ``banded`` (pieces in the border band, left out as noise) that meet the picture's
    frame next to where the digit (``keep``) meets it: a digit running out of the picture and back
    in - a 7's corner cut off by the frame - falls into pieces there, and the one along the frame
    was dropped (the 7 read as a 1). Next to: within three of the digit's pen widths."""
    if not banded:
        return []
    frame = _ring(labels.shape, 1)
    digit = _pieces(labels, n, keep)
    at = digit & frame
    if not at.any():
        return []
    reach = max(1, round(3 * _stroke_width(digit)))
    near = ndimage.binary_dilation(at, _EIGHT, iterations=reach) & frame
    meeting = set(np.unique(labels[near]).tolist())
    return [i for i in banded if i + 1 in meeting and i not in keep]


def _digits_beside(
    labels: np.ndarray, ink: np.ndarray, edges: np.ndarray, areas: np.ndarray, keep: list[int], others: list[int]
) -> int:
    """How many of ``others`` are digits of their own in a row with the one kept (a number): about as
    tall as it (see _digit_sized), with about as much ink, as dark (a blotch of mottled paper is
    fainter), on the same line. A stray stroke, a full stop, a speck or an underline is none of these."""
    if not others:
        return 0
    t, b = edges[keep, 0].min(), edges[keep, 1].max()
    which = np.asarray(others)
    top, bottom, left, right = edges[which].T
    in_line = np.minimum(b, bottom) - np.maximum(t, top) >= 0.5 * np.minimum(b - t, bottom - top)
    like = which[_digit_sized(top, bottom, left, right, b - t) & in_line & (areas[which] >= 0.3 * areas[keep].sum())]
    if len(like) == 0:
        return 0
    middle = np.asarray(ndimage.median(ink, labels, np.r_[like, keep[0]] + 1))
    return int(np.sum(middle[:-1] >= PIECE_STRENGTH * middle[-1]))


def _digits_within(edges: np.ndarray, areas: np.ndarray, keep: list[int]) -> int:
    """How many more digits the pieces kept as one hold: written close, digits in a row join the
    first as its pieces, but they fall into groups side by side with paper between them - each
    about as tall as all of them, with about as much ink, and holding a piece at least half as tall
    (a dashed line beside a 1 - MNIST's crops keep some - is short pieces)."""
    if len(keep) < 2:
        return 0
    t, b = edges[keep, 0].min(), edges[keep, 1].max()
    gap = WITHIN_GAP * (b - t)
    groups: list[list[int]] = []  # [left, right, top, bottom, area, tallest piece]
    for i in sorted(keep, key=lambda i: edges[i, 2]):
        top, bottom, left, right = edges[i].tolist()
        if groups and left < groups[-1][1] + gap:
            g = groups[-1]
            g[1], g[2], g[3] = max(g[1], right), min(g[2], top), max(g[3], bottom)
            g[4], g[5] = g[4] + int(areas[i]), max(g[5], bottom - top)
        else:
            groups.append([left, right, top, bottom, int(areas[i]), bottom - top])
    if len(groups) < 2:
        return 0
    left, right, top, bottom, area, tallest = np.array(groups).T
    digits = _digit_sized(top, bottom, left, right, b - t) & (area >= 0.3 * area.max()) & (tallest >= 0.5 * (b - t))
    return max(0, int(np.sum(digits)) - 1)


def _digit_sized(top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray, height: int) -> np.ndarray:
    """Which boxes are another digit beside one ``height`` tall: about as tall, and not a bare upright
    line - MNIST's crops keep slivers of the next box's ruling beside a 1, and two upright strokes
    side by side are as much a 1 and a line as an 11."""
    return (bottom - top >= 0.6 * height) & (right - left >= 0.25 * (bottom - top))


def _pieces(labels: np.ndarray, n: int, which: list[int]) -> np.ndarray:
    """The pixels of components ``which`` (0-based) of ``labels`` (``n`` of them): np.isin's answer by
    a lookup table, at a fraction of its cost."""
    table = np.zeros(n + 1, dtype=bool)
    table[np.asarray(which, dtype=np.int64) + 1] = True
    return table[labels]


def _strong_pieces(labels: np.ndarray, ink: np.ndarray, largest: int, rest: list[int]) -> list[int]:
    """The pieces of ``rest`` whose ink is about as strong as the ``largest`` piece's, at its peak or
    its median. Mottled paper passes the threshold as many faint blobs round a small digit, and
    taken with it they make it a cloud; a faint piece of a digit on clean paper is its own ink
    (see GRAIN_PIECES)."""
    index = np.asarray(rest + [largest]) + 1
    peak, middle = (np.asarray(f(ink, labels, index)) for f in (ndimage.maximum, ndimage.median))
    ratio = np.maximum(peak[:-1] / max(peak[-1], 1e-6), middle[:-1] / max(middle[-1], 1e-6))
    return [i for i, r in zip(rest, ratio) if r >= PIECE_STRENGTH]


def _sheet_at_frame(sheet: np.ndarray) -> np.ndarray:
    """The part of the ``sheet`` that runs into the picture's frame, as far in as a band of desk the
    grain search's opening drops: on a grainy desk the sheet may have taken such a band in, and
    what lies there (the step to the sheet's real edge, the desk's grains) is no digit."""
    step = GRAIN_OPENING * _coarse_factor(sheet.shape)
    band = sheet & _ring(sheet.shape, 3 * step)
    # (the sheet found stops a step short of the picture's edge)
    return ndimage.binary_propagation(band & _ring(sheet.shape, step), mask=band)


def _faint_off_sheet(
    labels: np.ndarray, n: int, ink: np.ndarray, off: np.ndarray, areas: np.ndarray, picture: np.ndarray
) -> np.ndarray:
    """Per component: does it lie mostly ``off`` the sheet (or along its edge), on a grainy desk,
    without standing out of it? What the desk made paper still shows - its darkest grains, the
    seams of the fill, the step at the sheet's edge - is fainter than MIN_CONTRAST, or than MIN_SNR
    times the roughness of the ``picture`` (as it was before) around it. (Only a desk found by its
    grain is surely desk: one found by its level or by sharp steps may be the shadowed part of
    the page, and a thin digit in that shadow is as faint.)"""
    mostly_off = np.bincount(labels[off], minlength=n + 1)[1:] > 0.3 * areas
    if not mostly_off.any():
        return mostly_off
    index = np.arange(1, n + 1)
    strength = np.asarray(ndimage.median(ink, labels, index))
    around = np.where(labels == 0, ndimage.grey_dilation(labels, size=9), 0)  # a ring round each
    ring = np.isin(around, index[mostly_off])
    desk = np.asarray(ndimage.median(_roughness(picture, ring), around[ring], index))
    return mostly_off & ((strength < MIN_CONTRAST) | (strength < MIN_SNR * np.nan_to_num(desk)))


def _grown(edges: np.ndarray, largest: int, rest: list[int], dots: dict[int, int]) -> list[int]:
    """The ``largest`` component and those of ``rest`` close to it (growing: a piece that joins
    brings others within reach); a dot of ``dots`` (component -> size) only when about its own
    size from it. ``edges`` are the components' boxes (see :func:`_box_edges`)."""
    keep, rest, box = [largest], list(rest), edges.tolist()
    t, b, l, r = box[largest]
    changed = True
    while changed:
        changed = False
        extent = max(b - t, r - l)
        for i in list(rest):
            top, bottom, left, right = box[i]
            gap = max(0, top - b, t - bottom, left - r, l - right)
            if gap <= (max(dots[i], 0.15 * extent) if i in dots else 0.35 * extent):
                keep.append(i)
                rest.remove(i)
                t, b, l, r = min(t, top), max(b, bottom), min(l, left), max(r, right)
                changed = True
    return keep


def _dots(labels: np.ndarray, largest: int, rest: list[int], boxes: list, edges: np.ndarray) -> dict[int, int]:
    """Components of ``rest`` no longer than three pen widths each way (measured on the ``largest``),
    with their size: a dot joins the digit only when it is about that close to it - a stray dot
    or a full stop taken with the digit shrinks and shifts it (a 1 read as a 7)."""
    if not rest:
        return {}
    pen = _stroke_width(labels[boxes[largest]] == largest + 1)
    sides = np.maximum(edges[rest, 1] - edges[rest, 0], edges[rest, 3] - edges[rest, 2])
    return {i: int(side) for i, side in zip(rest, sides) if side <= 3 * pen}


def _rings_around(labels: np.ndarray, n: int) -> list[int]:
    """Components drawn round other ink - a ring or a box drawn by hand around the digit (read with
    it, it makes a 0). Printed boxes are straight and go with the printed lines."""
    if n < 2:
        return []
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = ndimage.find_objects(labels)
    edges = _box_edges(boxes)
    rings = []
    for i in np.flatnonzero(np.minimum(edges[:, 1] - edges[:, 0], edges[:, 3] - edges[:, 2]) >= 12):
        within = np.flatnonzero(
            (edges[:, 0] > edges[i, 0])
            & (edges[:, 1] < edges[i, 1])
            & (edges[:, 2] > edges[i, 2])
            & (edges[:, 3] < edges[i, 3])
            & (areas >= 0.04 * areas[i])
        )
        if areas[within].sum() >= 0.05 * areas[i] and _is_ring_around(labels, int(i), within, areas, boxes, edges):
            rings.append(int(i))
    return rings


def _box_edges(boxes: list) -> np.ndarray:
    """(n, 4) array of each component's box: top, bottom, left, right (bottom and right exclusive)."""
    return np.array([(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in boxes], dtype=np.int64).reshape(-1, 4)


def _is_ring_around(
    labels: np.ndarray, i: int, within: np.ndarray, areas: np.ndarray, boxes: list, edges: np.ndarray
) -> bool:
    """Does component ``i`` enclose the components ``within`` its box (a gap in it up to a sixth of its
    size closed)?"""
    sr, sc = boxes[i]
    h, w = sr.stop - sr.start, sc.stop - sc.start
    ring = labels[sr, sc] == i + 1
    hole = _enclosed(ring) & ~ring
    if hole.sum() < 0.3 * (hole.sum() + ring.sum()):
        return False
    inside = np.bincount(labels[sr, sc][hole], minlength=len(areas) + 1)[1:]
    enclosed = within[inside[within] >= 0.9 * areas[within]]
    if len(enclosed) == 0 or areas[enclosed].sum() < 0.05 * areas[i]:
        return False
    # What it encloses is a digit, not a mark in a 0: it spans much of the ring.
    box = edges[enclosed]
    span = max(box[:, 1].max() - box[:, 0].min(), box[:, 3].max() - box[:, 2].min())
    return span >= 0.4 * max(h, w)


def _enclosed(piece: np.ndarray) -> np.ndarray:
    """``piece`` with what it encloses, a gap in it up to a sixth of its size closed: grown by a
    twelfth of its size, a ring drawn in one go closes (its ends may not quite meet); filled, then
    shrunk back, it covers what it encloses."""
    grow = max(1, round(max(piece.shape) / 12))
    pad = grow + 1  # (paper all round what grows: the paper outside is the piece of it at a corner)
    paper, _ = ndimage.label(ndimage.distance_transform_cdt(~np.pad(piece, pad), "taxicab") > grow)
    shrunk = ndimage.distance_transform_cdt(paper != paper[0, 0], "taxicab") > grow
    return shrunk[pad:-pad, pad:-pad] | piece


def _marks_touching(labels: np.ndarray, boxes: list, ink: np.ndarray) -> np.ndarray:
    """The marks drawn round or under the digit that touch it - one piece with it: a ring read with
    it, a 0 (see :func:`_ring_of`), a line so close under it that the detection's smoothing joined
    them (see :func:`_line_under`). ``boxes``: the components' (``ndimage.find_objects``); ``ink``:
    the map they were found in. Returns the marks' pixels."""
    marks = np.zeros(labels.shape, dtype=bool)
    for i, (sr, sc) in enumerate(boxes):
        if min(sr.stop - sr.start, sc.stop - sc.start) >= 12:
            piece = labels[sr, sc] == i + 1
            mark = _ring_of(piece) if _round_the_middle(piece) else None
            if mark is None:
                mark = _line_under(piece, ink[sr, sc])
            if mark is not None:
                marks[sr, sc] |= mark
    return marks


def _line_under(piece: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray | None:
    """The line in ``piece`` when it is a flat line drawn under the digit, close to it - read with
    it, a 2 (a 7, a 9, a 0). Such a line is the piece's bottom across its whole width, straight,
    runs on past the digit either side, and the digit comes down to it away from its ends (a 2's
    base starts where its stroke comes down; drawn apart, it is a 2's still). A digit as narrow
    as a 1 keeps it: read with it, it is a 1's foot, and a 1 with a flag and no foot reads as a 7.
    With ``ink``, ``piece`` is one component: the line only touches the digit where the ink is
    weak - a line close to the digit that the detection's smoothing joined to it. (A line that
    really touches the digit is not taken away: 2s are often written with a base running on
    past both sides of where the stroke comes down - 147 of MNIST's 70,000 digits, 125 of them
    2s, pass the shape tests alone; none passes this one.) Returns the line's pixels, or None."""
    h, w = piece.shape
    low = h - 2 - int(LINE_SLOPE * w)  # a quick test first (most digits fail it): both ends low
    if not (piece[low:, 0].any() and piece[low:, -1].any()):
        return None
    rows = np.arange(h)[:, None]
    bottom = h - 1 - np.argmax(piece[::-1], axis=0)  # (a column without ink: its last row)
    end = max(2, w // 10)
    left, right = _median(bottom[:end]), _median(bottom[-end:])
    under = left + (right - left) * np.arange(w) / (w - 1)
    if abs(right - left) > LINE_SLOPE * w or np.count_nonzero(np.abs(bottom - under) <= 1.5) < 0.9 * w:
        return None
    above = np.where(~piece & (rows < bottom), rows, -1).max(axis=0)
    pen = _median(np.concatenate([bottom[:end] - above[:end], bottom[-end:] - above[-end:]]))
    line = piece & (rows > under - pen - 1)
    rest = piece & ~line
    rest_rows, rest_cols = np.flatnonzero(rest.any(axis=1)), np.flatnonzero(rest.any(axis=0))
    tall = np.ptp(rest_rows) + 1 if len(rest_rows) else 0
    if tall < 3 * pen or np.ptp(rest_cols) + 1 < 0.5 * tall:
        return None
    if min(rest_cols[0], w - 1 - rest_cols[-1]) < max(1, 0.05 * w):
        return None
    lowest = np.flatnonzero(rest[max(0, int(rest_rows[-1] - 0.5 * pen - 1)) :].any(axis=0))
    margin = max(1.5 * pen, 0.05 * w)
    if lowest.min() < margin or lowest.max() > w - 1 - margin:
        return None
    if ink is not None:  # strokes are where the ink is at least half as strong as at their core
        strong = piece & (ink >= 0.5 * _quantile(ink[piece], 0.9))
        parts, _ = ndimage.label(strong, _EIGHT)
        if np.intersect1d(parts[line & strong], parts[rest & strong]).any():
            return None
    return line


def _ring_of(piece: np.ndarray) -> np.ndarray | None:
    """The ring in ``piece`` when it is a ring with the digit it was drawn round touching it. Such a
    piece is round and convex, and besides the pen's band along its outline it holds ink deeper
    inside (RING_DEPTH) that spans much of it. A digit's own strokes lie along its outline, save
    a crossing (an 8's waist), the inner side of a thick stroke (measured by the thicker strokes'
    width, and lying along the band, not apart from it), or one stroke across its loop from side
    to side: a slashed zero, an 8 or a 0 drawn like a theta - all digits. (So is a ring round a 1
    that touches it at both ends: at the working scale it is a slashed zero.) Returns the band
    without the digit's strokes, or None."""
    h, w = piece.shape
    filled = _enclosed(piece)
    area = filled.sum()
    if (filled & ~piece).sum() < 0.3 * area or area > RING_ROUND * h * w:
        return None
    pen = _pen_width(piece, 0.75)
    depth = ndimage.distance_transform_edt(np.pad(filled, 1))[1:-1, 1:-1]
    band = RING_DEPTH * pen + 1
    inner = piece & (depth > band)
    if inner.sum() < 0.05 * piece.sum():
        return None
    rows, cols = np.nonzero(inner)
    if max(np.ptp(rows), np.ptp(cols)) + 1 < 0.4 * max(h, w) or not _convex(filled):
        return None
    # The digit's strokes run on into the band up to the ring.
    digit = ndimage.binary_dilation(inner, _EIGHT, iterations=math.ceil(band), mask=piece & (depth > pen + 1))
    ring = piece & ~digit
    if (digit & ndimage.binary_dilation(ring, _EIGHT)).sum() > 0.3 * digit.sum():
        return None  # the inner side of a thick stroke
    rows, cols = np.nonzero(digit)
    one_stroke = digit.sum() < 1.6 * _stroke_width(digit) * (max(np.ptp(rows), np.ptp(cols)) + 1)
    if one_stroke and ndimage.label(ring & ndimage.binary_dilation(digit, _EIGHT, iterations=2), _EIGHT)[1] >= 2:
        return None  # one stroke across the loop from side to side
    return ring


def _round_the_middle(piece: np.ndarray, near: float = 0.2) -> bool:
    """A quick test first (most digits fail it): does ink come ``near`` both ends of the middle row
    and column of ``piece``'s box and of the rows and columns a sixth away from them, as a ring
    round it does, and lie between the ends - the digit - on one of them?"""
    h, w = piece.shape
    a, b, c, d = math.ceil(near * w), int((1 - near) * w), math.ceil(near * h), int((1 - near) * h)
    if not (
        piece[h // 2, :a].any() and piece[h // 2, b:].any() and piece[:c, w // 2].any() and piece[d:, w // 2].any()
    ):
        return False  # (the middle row and column alone, the quickest)
    rows, cols = piece[[h // 3, h // 2, 2 * h // 3]], piece[:, [w // 3, w // 2, 2 * w // 3]].T
    for lines, first, last in ((rows, a, b), (cols, c, d)):
        if not (lines[:, :first].any(axis=1).all() and lines[:, last:].any(axis=1).all()):
            return False
    runs = [np.count_nonzero(lines[:, 1:] & ~lines[:, :-1], axis=1) + lines[:, 0] for lines in (rows, cols)]
    return bool(max(runs[0].max(), runs[1].max()) >= 3)


def _underlines(candidates: list[int], areas: np.ndarray, edges: np.ndarray, labels: np.ndarray) -> list[int]:
    """The ``candidates`` that are a flat line drawn under all the other ink (of some size), apart
    from it and at least half as wide. Read with the digit, such a line turns a 7 into a 2. Where
    the digit comes down close to it, it is a line only as :func:`_line_under` sees one."""
    cand = np.asarray(candidates, dtype=np.int64)
    box = edges[cand]
    height, width = box[:, 1] - box[:, 0], box[:, 3] - box[:, 2]
    lines = []
    for k in np.flatnonzero((height <= 0.4 * width) & (width >= 6)):
        others = (cand != cand[k]) & (areas[cand] >= 0.04 * areas[cand[k]])
        if not others.any():
            continue
        top, bottom = box[others, 0].min(), box[others, 1].max()
        left, right = box[others, 2].min(), box[others, 3].max()
        tall = bottom - top
        if tall < 3 * height[k] or box[k, 1] <= bottom:
            continue
        if min(right, box[k, 3]) - max(left, box[k, 2]) < 0.5 * (right - left):
            continue
        if box[k, 0] - bottom < max(2, 0.05 * tall):
            region = (slice(min(top, box[k, 0]), box[k, 1]), slice(min(left, box[k, 2]), max(right, box[k, 3])))
            if _line_under(np.isin(labels[region], 1 + cand[others | (cand == cand[k])])) is None:
                continue
        lines.append(int(cand[k]))
    return lines


def _edge_huggers(labels: np.ndarray, n: int, boxes: list) -> np.ndarray:
    """Per component: does it run along half of an image edge while staying within a quarter of
    the image from it? A scanner lid's shadow or the page's edge does; a digit does not (a 7 whose
    bar lies on the top edge of a tight crop reaches down through the whole image)."""
    h, w = labels.shape
    out = np.zeros(n, dtype=bool)
    if not (labels[0].any() or labels[-1].any() or labels[:, 0].any() or labels[:, -1].any()):
        return out
    for line, length, near in (
        (labels[0, :], w, lambda b: b[0].stop <= 0.25 * h),
        (labels[-1, :], w, lambda b: b[0].start >= 0.75 * h),
        (labels[:, 0], h, lambda b: b[1].stop <= 0.25 * w),
        (labels[:, -1], h, lambda b: b[1].start >= 0.75 * w),
    ):
        touching = np.bincount(line, minlength=n + 1)[1:]
        for i in np.flatnonzero(touching >= 0.5 * length):
            out[i] |= near(boxes[i])
    return out


def _sample(a: np.ndarray, target: int = 4096) -> np.ndarray:
    """Every k-th pixel in both directions: enough for a median of the paper, at a fraction of the cost."""
    k = max(1, int((a.size / target) ** 0.5))
    return a[::k, ::k]


def _quantile(a: np.ndarray, q: float) -> float:
    """The ``q`` quantile (nearest rank): np.partition, without np.percentile's overhead."""
    flat = a.ravel()
    k = min(len(flat) - 1, int(q * len(flat)))
    return float(np.partition(flat, k)[k])


def _median(a: np.ndarray) -> float:
    """np.median, exactly (the mean of the two middle values of an even count), without its overhead."""
    flat = np.ravel(a)
    k = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, k)[k])
    part = np.partition(flat, (k - 1, k))
    if flat.dtype.kind == "f":
        return float((part[k - 1] + part[k]) / 2)
    return float(np.mean(part[k - 1 : k + 1]))


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: a stroke of width w and length L has area w*L and ~2L edge pixels."""
    area = int(mask.sum())
    interior = ndimage.binary_erosion(mask, structure=np.ones((3, 3), dtype=bool), border_value=0)
    edge = area - int(interior.sum())
    return 2.0 * area / max(edge, 1)


def _pen_width(mask: np.ndarray, q: float = 0.25) -> float:
    """The width of the thinner strokes in ``mask``: twice the distance to the background along
    the strokes' middle lines, its ``q`` quantile (lower quartile: a pen's width even where a wide
    shadow takes up more of the mask than the digit does)."""
    if not mask.any():
        return 0.0
    dt = ndimage.distance_transform_cdt(mask, "chessboard")  # (a tenth of the Euclidean one's cost)
    middle = mask & (dt >= ndimage.maximum_filter(dt, 3))
    return 2.0 * _quantile(dt[middle], q)


def _growth(strokes: Strokes, least: float) -> float:
    """How many pixels wider the strokes must grow to be ``least`` px wide at 28x28."""
    return least / (BOX / max(strokes.extent, 1)) - strokes.width


def _thicken(strokes: Strokes, least: float) -> np.ndarray:
    """The soft ink map, its strokes grey-dilated when they would end up thinner than ``least`` px at 28x28."""
    soft, grow = strokes.soft, _growth(strokes, least)
    if grow < 1.0:
        return soft
    size = int(round(grow)) + 1
    pad = size
    padded = np.pad(soft, pad)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    disk = (yy**2 + xx**2) <= ((size - 1) / 2 + 0.5) ** 2
    return ndimage.grey_dilation(padded, footprint=disk)


def _boxed(strokes: Strokes, least: float) -> np.ndarray:
    """The digit as the network reads it, its strokes at least ``least`` px wide at 28x28."""
    return _to_mnist_box(_thicken(strokes, least))


def _to_mnist_box(soft: np.ndarray) -> np.ndarray:
    """Fit into 20x20 keeping aspect ratio, pad to 28x28, centre by centre of mass."""
    rows, cols = np.nonzero(soft > 0.05)
    soft = soft[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = soft.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(soft.astype(np.float32))
    fitted = np.asarray(img.resize((nw, nh), Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR))
    fitted = np.clip(fitted, 0.0, 1.0)
    total = fitted.sum()
    cy, cx = ndimage.center_of_mass(fitted) if total > 0 else ((nh - 1) / 2, (nw - 1) / 2)
    top = int(round(SIZE / 2 - 0.5 - cy))
    left = int(round(SIZE / 2 - 0.5 - cx))
    top = min(max(top, 0), SIZE - nh)
    left = min(max(left, 0), SIZE - nw)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + nh, left : left + nw] = fitted
    return out
