"""Every threshold of the reading path, one frozen table per stage; each field says why it is what it is.

Shares are of the picture's range (0..1 ink scale), of a side or of an area as the comment says. To
try a rule switched off or moved, replace a stage's table in its module (``select.P = replace(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measure:
    """Shared measurements (measure.py)."""

    sample_pixels: int = 4096  # pixels sampled for a paper median: enough, at a fraction of the cost
    mad_to_std: float = 1.4826  # median absolute deviation to standard deviation, for Gaussian noise
    otsu_bins: int = 64  # histogram bins for Otsu's threshold: finer bins only add noise
    eps_div: float = 1e-12  # guards Otsu's class means against empty classes
    eps_level: float = 1e-6  # guards divisions by an ink or paper level that may be 0
    pen_quantile: float = 0.25  # a pen is the thinner strokes: a wide shadow may cover more of the mask than the digit
    least_window: int = 7  # no background window narrower: it would follow the strokes themselves
    strokes_per_window: int = 3  # a window three strokes wide keeps the paper's level under the strokes
    paper_window_parts: int = 3  # the first window is a third of the picture: wider than any digit's strokes
    border_share: float = 0.03  # the border band is 3% of a side: scanner shadows and page edges lie in it
    convex_fill: float = 0.94  # a region fills its convex hull this much to be convex (a sheet, a ring)
    smooth_window: int = 3  # light smoothing (paper grain, JPEG noise) over a pen's width, no more


@dataclass(frozen=True)
class Size:
    """Decode-side size handling (size.py)."""

    min_unzoomed: int = 8  # a picture enlarged with square pixels is read at its own size, but no smaller than this
    least_framed_side: int = 3  # a picture narrower has no frame apart from its ink
    frame_ink: float = 0.25  # a frame spanning this much of the range (10th to 90th percentile) has ink on it
    frame_low_q: float = 0.1  # the frame's low end (a quantile: a few dark pixels of noise do not count)
    frame_high_q: float = 0.9  # ...and its high end
    frame_window_parts: int = 4  # ink on a frame stands off the running median over a quarter of it (a side)...
    frame_window_least: int = 5  # ...or over this many pixels at least; slow shading follows the median
    least_pad: int = 2  # at least this much paper is added round a tight crop (px)
    frame_pad: float = 0.12  # ...and this much of its longer side: room for the border band and a window


@dataclass(frozen=True)
class Paper:
    """Paper level and polarity (paper.py)."""

    extreme_q: float = 0.999  # a map's extreme, short of the few brightest pixels (noise)
    wide_light: float = 0.6  # light is mostly wide when narrow light reaches less than this of the light extreme
    least_side: int = 8  # a picture narrower has no border apart from its ink
    tight_apart: float = 0.5  # a tight crop's border lies this far (of the range) from the overall median...
    tight_end: float = 0.15  # ...and this near one end of the range: paper round a thick digit
    flat_high_q: float = 0.9  # a border's spread is from this quantile...
    flat_low_q: float = 0.1  # ...to this one (a stroke crossing the border does not count)
    flat_spread: float = 0.04  # a border this flat (of the range) is one level: a canvas, not paper with shading
    flat_near: float = 0.1  # ...and that level is the paper's when the median lies this near it
    refits: int = 2  # a window fitted to a sheet's pen is fitted to the digit's strokes once more at most
    pen_refit: float = 1.5  # ...when they are this much wider than the window's pen


@dataclass(frozen=True)
class Ink:
    """Ink versus paper (ink.py)."""

    smooth_min_side: int = 40  # maps at least this big are smoothed for detection (MNIST-sized ones are clean)
    edge_min_side: int = 50  # maps this big have their edges (scanner shadows) left out of the peak...
    edge_parts: int = 25  # ...a 25th of each side
    peak_q: float = 0.999  # the ink's peak is the 99.9th percentile...
    peak_pixels: int = 8  # ...or the 8th brightest pixel: a thin 1 on a big scan covers a dozen pixels
    min_contrast: float = 0.03  # ink must differ from paper by at least this much (0..1 scale)...
    min_snr: float = 6.0  # ...and by this many standard deviations of the paper's noise
    apart_share: float = 0.2  # ink stands apart as a level of its own only when it covers this much of the map
    high_least: float = 0.2  # the high threshold is at least this share of the peak (noise-free pictures)...
    high_noise: float = 3.0  # ...and this many noise deviations above the paper
    high_most: float = 0.6  # ...and at most this share of the peak: a faint stroke's core still passes
    low_share: float = 0.4  # the low threshold (faint parts of strokes) is this share of the high one...
    low_noise: float = 4.0  # ...but this many noise deviations above the paper at least


@dataclass(frozen=True)
class Ruled:
    """A form's and a ruled page's lines (ruled.py)."""

    line_length: float = 2.0  # a horizontal run this many times the ink's height is a ruled line, no stroke...
    line_least: int = 12  # ...and this many pixels at least (a wide dash of a tiny picture is no line)...
    line_thin: float = 0.15  # ...and thin: this share of the ink's height thick at most, on average...
    line_span: float = 0.8  # ...and running under or over this share of the ink's width
    ruling_length: float = 0.6  # a run across this share of the picture's width may be a ruled page's line...
    ruling_past: float = 0.25  # ...when it runs past the rest of the ink by this share of its height, both sides
    side_thin: float = 0.25  # a box's side between ruled lines is no wider than this share of its height
    tick_height: float = 0.5  # a thin piece on one ruled line, this share of the tallest piece at most, is a tick
    frame_cover: float = 0.9  # a box round one digit: each side a straight run this share of the ink's extent...
    frame_band: float = 0.12  # ...lying within this share of it from the edge (thin, printed)...
    frame_digit: float = 0.3  # ...round ink at least this share of its height (a boxy 0 holds none)


@dataclass(frozen=True)
class Shadow:
    """Shadows taken for the digit (shadow.py)."""

    min_side: int = 100  # working copies this big are checked (a small drawing has no shadows; costs it 10%)
    strong_ink: float = 0.5  # the pen is measured where the ink is this share of its peak: shadows are fainter
    strong_pen_q: float = 0.5  # ...its median width there
    pens: float = 1.5  # what was taken for the digit is held to this many pen widths


@dataclass(frozen=True)
class Sheet:
    """A sheet of paper on a desk (sheet.py, desk.py)."""

    desk_min_side: int = 200  # only pictures this big are looked at as photos of a sheet on a desk
    desk_border: float = 0.4  # a desk shows along at least this fraction of the picture's border...
    dark_desk: float = 0.2  # ...or, when it is at least this much darker than the sheet,
    dark_desk_border: float = 0.25  # along this fraction (a sheet filling most of the picture)
    dark_desk_width: float = 0.07  # ...as a band at least this fraction of the picture wide
    page_contrast: float = 0.08  # a desk is at least this much darker than the sheet lying on it
    page_side: int = 64  # a sheet on a desk is looked for on a copy about this size (or up to twice it)
    blank_sheet_pen: float = 2.0  # a sheet with nothing dark on it is read as if written with a thin pen
    least_closing: int = 3  # the desk's level: a closing at least this wide...
    closing_parts: int = 20  # ...and a 20th of the picture: dark strokes narrower than ~5% go
    grain_to_contrast: float = 25.0  # detail on a grainy desk stays ink only when darker by this many grains
    edge_erosion: int = 2  # the sheet's blurred edge (iterations) is neither sheet nor desk
    least_sheet: float = 0.1  # a sheet covers at least this share of the picture
    sheet_paper: float = 0.6  # ...is mostly paper, not desk (share of its pixels)
    sheet_fill: float = 0.6  # ...and fills this much of its bounding box (a compact quadrilateral)
    ink_below: float = 2.0  # ink on the sheet lies at most this many page contrasts below its level
    least_ink: int = 3  # fewer dark pixels than this on a sheet: a blank sheet
    desk_pens: float = 3.0  # a desk is this many times wider than the pen on the sheet (not a thick stroke)
    least_fill_window: int = 5  # the paper's level carried onto the desk is a mean over at least this window...
    fill_window_parts: int = 8  # ...and an 8th of the picture
    known_support: float = 0.3  # the level is known where this share of its window is sheet
    thick_grow: int = 2  # a thick ink island off the sheet is grown this much (iterations) round its blurred edge
    desk_min_window: int = 5  # the desk's level under detail is the minimum over this window
    kept_depth: float = 0.25  # detail darker than the desk by this share of the contrast stays ink
    desk_dark_q: float = 0.1  # the desk's dark level, short of its darkest tenth
    island_depth: float = 0.5  # a thick ink island lies this share of the contrast below the desk
    step_near: int = 3  # a sheet's edge is sharp over this many pixels...
    step_far: int = 9  # ...unlike a ramp as steep over this many (a shadow's edge)
    most_dark: float = 0.75  # a "desk" covering more of the picture than this is the sheet's ink (a board)
    sharp_share: float = 0.5  # the edge between sheet and desk is a sharp step of this share of their contrast
    sheet_opening: int = 2  # grain touching the sheet's edge is opened away (iterations)
    leak_border: float = 0.75  # what no sharp step parts from the middle is sheet, unless it covers the border
    grain_window: int = 5  # grain is the median deviation over this window: a pen line narrower than half is no grain
    middle_parts: int = 5  # the picture's middle is its middle fifth each way (the sheet covers it)
    inside_q: float = 0.25  # the middle's grain where it is smoothest (a thick digit covers much of it)
    grain_ratio: float = 3.0  # a desk is this many times as grainy as the middle
    least_grain: float = 0.004  # ...and at least this grainy (JPEG noise is less)
    strong_step_q: float = 0.99  # the strongest steps in the picture: the sheet's edges
    enclosing_share: float = 0.4  # steps this share of the strongest enclose the sheet


@dataclass(frozen=True)
class Select:
    """Digit selection (select.py)."""

    in_band: float = 0.3  # a piece with this share of it in the border band is border noise
    least_piece_pixels: int = 2  # a piece joining the digit has at least this many pixels...
    least_piece: float = 0.04  # ...and this share of the largest piece
    grain_pieces: int = 8  # ink found in this many pieces or more is a digit on mottled or grainy paper...
    piece_strength: float = 0.6  # ...where a piece joins the digit only when its ink is this strong, relative
    least_digit_pixels: int = 3  # a digit has at least this many pixels: fewer are specks
    large_share: float = 0.5  # pieces at least this share of the largest may be the digit instead of it
    piece_reach: float = 0.35  # another piece joins it this share of its extent away at most


@dataclass(frozen=True)
class Row:
    """Several digits in a row (row.py)."""

    same_line: float = 0.5  # boxes overlapping this share of the shorter height stand on one line
    digit_ink: float = 0.3  # another digit has at least this share of the ink
    tallest_piece: float = 0.5  # a digit in a group holds a piece at least half as tall (not a dashed line)
    digit_height: float = 0.6  # another digit is at least this share as tall
    least_aspect: float = 0.25  # ...and not a bare upright line: this share as wide as tall


@dataclass(frozen=True)
class Number:
    """A number's ink split into candidate digits (number.py) and the path read through them (numbers.py)."""

    split_width: float = 0.6  # a group of a number wider than this share of the line's height may hold touching digits
    lone_split_width: float = 0.75  # ...and a picture's one piece (narrower: a thin pen's single digit, uncut)
    least_piece: float = 0.02  # a piece of a number has this share of the largest piece's ink (less: a speck)
    reference_height: float = 0.6  # pieces this share of the tallest are digits the line is measured on
    join_overlap: float = 0.5  # pieces sharing this share of the narrower one's columns are one digit's (a 5's flag)
    join_gap: float = 0.0  # a candidate digit may span groups whose columns meet (a broken stroke); apart: never
    mark_height: float = 0.4  # a group shorter than this share of the line is a mark (dash, comma), not a digit
    off_line_height: float = 0.3  # ink off the line read this share of its height tall may be another line's digits
    dash_aspect: float = 1.5  # ...a dash when this many times as wide as tall
    slash_lean: float = -0.1  # a digit-tall group leaning right this much more than the line (x per y, up)...
    slash_thin: float = 0.07  # ...and as straight as a line to this share of the height is a slash (a date)
    sure_one_digit: float = 0.95  # a wide piece the segment checker judges one whole digit this surely is not cut...
    sure_most_wide: float = 1.5  # ...unless wider than this share of its height (few digits are; the checker erred)
    least_cut_height: int = 16  # one piece of ink lower than this (picture px) is read as one digit, never cut
    least_part: float = 0.15  # a cut leaves at least this share of the height on each side (no sliver digits)
    least_digit: float = 0.25  # a group holds at most its width over this share of the height in digits
    most_parts: int = 4  # a candidate digit joins at most this many parts
    most_slant: float = 0.5  # slants up to this (x per y) are taken out before cutting...
    slants: int = 21  # ...looked for in this many steps
    slant_pixels: int = 2000  # ...on about this many of the ink's pixels
    wide_digit: float = 1.2  # in a row of digits, a candidate wider than this share of the height costs
    wide_penalty: float = 6.0  # ...this per share more (MNIST: 99% of digits are narrower than 1.25)
    lone_wide_digit: float = 1.25  # one piece of ink alone is more likely one wide digit (a 0, a 2):
    lone_wide_penalty: float = 4.0  # ...its halves, read alone, can pass for digits too
    short_digit: float = 0.55  # a candidate shorter than this share costs short_penalty per share less
    short_penalty: float = 8.0
    digit_cost: float = 1.0  # every candidate digit costs this (log): a digit split in two must read e times surer
    least_height: int = 28  # a line lower than this (working px) is read again at a finer working scale
    most_work: int = 1536  # ...whose longer side is at most this


@dataclass(frozen=True)
class Zoom:
    """A small digit re-read at full resolution (zoom.py)."""

    min_digit_work: int = 48  # a digit smaller than this on a reduced page is re-done at full resolution
    grainy_extent: int = 16  # a digit this big on grainy paper is read at the working scale...
    grain_share: float = 0.1  # ...grainy: the paper's noise is this share of the ink's contrast
    least_margin: int = 2  # the crop reaches this far round the digit (working px), or half its extent
    edge_to_edge: float = 0.85  # "ink" spanning this share of the crop both ways is grain, not the digit


@dataclass(frozen=True)
class Box:
    """Boxing to MNIST's 28x28 (box.py)."""

    size: int = 28  # MNIST's picture
    box: int = 20  # ...and the box its digits are fitted into
    core_q: float = 0.9  # the strokes' core (full ink) is this quantile of the digit's ink
    visible: float = 0.05  # ink fainter than this is left out of the box fitted
    min_stroke: float = 2.2  # thinnest stroke at 28x28 (MNIST's pens are ~2-4): what training sees
    thick_stroke: float = 3.0  # ...and in serving's second view of a thin-pen digit


@dataclass(frozen=True)
class Params:
    """The whole table."""

    work_max: int = 192  # longest side of the working copy, in pixels
    fine_work_max: int = 384  # ...when nothing stood out on it (a thin digit a few percent of a big page)
    photo_min_side: int = 384  # smaller pictures may be digits cropped tight (= decode's JPEG draft floor)
    measure: Measure = field(default_factory=Measure)
    size: Size = field(default_factory=Size)
    paper: Paper = field(default_factory=Paper)
    ink: Ink = field(default_factory=Ink)
    ruled: Ruled = field(default_factory=Ruled)
    shadow: Shadow = field(default_factory=Shadow)
    sheet: Sheet = field(default_factory=Sheet)
    select: Select = field(default_factory=Select)
    row: Row = field(default_factory=Row)
    number: Number = field(default_factory=Number)
    zoom: Zoom = field(default_factory=Zoom)
    box: Box = field(default_factory=Box)


PARAMS = Params()
