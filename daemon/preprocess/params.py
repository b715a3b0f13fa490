"""Every threshold of the reading path, one frozen table per stage; each field says why it is what it is.

Shares are of the picture's range (0..1 ink scale), of a side or of an area as the comment says. To
try a rule switched off or moved, replace a stage's table in its module (``marks.P = replace(...)``).
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
class Shadow:
    """Shadows taken for the digit (shadow.py)."""

    min_side: int = 100  # working copies this big are checked (a small drawing has no shadows; costs it 10%)
    strong_ink: float = 0.5  # the pen is measured where the ink is this share of its peak: shadows are fainter
    strong_pen_q: float = 0.5  # ...its median width there
    pens: float = 1.5  # what was taken for the digit is held to this many pen widths
    fine_pen: float = 4.0  # a photo's strokes wider than this are looked for again with a fine window...
    fine_window: int = 9  # ...this wide, a few thin pen strokes (wider ones lose their middles in it)
    found_share: float = 0.5  # the fine window's digit holds this much of the ink found there, or the pen is not thin


@dataclass(frozen=True)
class Sheet:
    """A sheet of paper on a desk (sheet.py, desk.py)."""

    desk_min_side: int = 200  # only pictures this big are looked at as photos of a sheet on a desk
    desk_border: float = 0.4  # a desk shows along at least this fraction of the picture's border...
    dark_desk: float = 0.2  # ...or, when it is at least this much darker than the sheet,
    dark_desk_border: float = 0.25  # along this fraction (a sheet filling most of the picture)
    dark_desk_width: float = 0.07  # ...as a band at least this fraction of the picture wide
    grainy_desk_round: float = 0.75  # a grainy desk as light as the sheet is looked for round this much of the border
    page_contrast: float = 0.08  # a desk is at least this much darker than the sheet lying on it
    page_side: int = 64  # a sheet on a desk is looked for on a copy about this size (or up to twice it)
    grain_opening: int = 3  # the grain search's opening (iterations): a band of desk narrower than twice it goes
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
    frame_band_steps: int = 3  # a sheet's band at the frame runs this many grain openings in
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
    texture_most_contrast: float = 3.0  # the grain search takes desks at most this many page contrasts darker
    strong_step_q: float = 0.99  # the strongest steps in the picture: the sheet's edges
    enclosing_share: float = 0.4  # steps this share of the strongest enclose the sheet


@dataclass(frozen=True)
class Printed:
    """Printed lines, boxes and paragraphs (printed.py)."""

    least_block: int = 12  # a block of print is at least this tall on the working copy
    text_wide: float = 1.5  # ...and this much wider than tall
    print_fill: float = 0.35  # ...fills this much of its box (paragraphs 0.57-0.81, a digit's strokes ~0.1-0.2)
    glyph_peak_q: float = 0.99  # glyphs are ink halfway between the crop's median and this quantile
    print_pieces: int = 80  # a block falls into this many pieces or more at full resolution (a pencil digit: under 50)
    blank_row: float = 0.01  # a row with less ink than this share of its width is space between lines
    least_glyph: int = 2  # glyphs are at least this tall (px): smaller pieces are grain
    glyphs_per_block: int = 4  # ...and at most a quarter of the block's height
    least_gaps: int = 2  # lines of print have at least this many blank runs between them
    least_line: int = 12  # a component shorter than this (px) is no printed line
    crossing: float = 0.85  # a row crossed from side to side has ink along this share of it
    thin_line: int = 3  # a printed line is at most this thick (px)...
    band_parts: int = 8  # ...or an 8th of the component's side
    line_length: int = 10  # a lone line is 10 times longer than thick
    page_span: float = 0.9  # a ruled line or a notebook's margin spans this share of the page
    margin_rest: float = 0.2  # a margin stands beside other ink at least this share of its own
    least_box_edge: int = 2  # a box's sides are looked for within this many rows...
    box_edge: float = 0.12  # ...or this share of its side, of its edges
    box_sides: int = 3  # a box has lines along at least three of its sides
    box_fringe: int = 5  # an empty box holds fewer pixels than this besides its sides
    least_inside_box: int = 3  # an empty box goes when at least this much other ink lies in its box
    runs_past: float = 0.15  # a ruled line runs this share of its length past the digit's ink either side


@dataclass(frozen=True)
class Marks:
    """Rings, boxes and underlines drawn round or under the digit (marks.py)."""

    least_mark: int = 12  # a ring or line is at least this long each way (px): smaller pieces are strokes
    least_piece: float = 0.04  # pieces smaller than this share of the mark do not count as what it marks
    least_held: float = 0.05  # a ring holds ink of at least this share of its own
    least_hole: float = 0.3  # a ring encloses paper of at least this share of its filled area
    held_share: float = 0.9  # a piece is held when this share of it lies inside the ring
    held_span: float = 0.4  # what a ring holds spans this share of it: a digit, not a mark in a 0
    gap_parts: int = 12  # a ring's gap up to a sixth of its size is closed (grown by a twelfth)
    line_slope: float = 0.2  # a line drawn under a digit rises or falls at most this much of its length
    least_line_end: int = 2  # a line's ends are measured over at least this many columns...
    line_end_parts: int = 10  # ...or a tenth of it
    line_wobble: float = 1.5  # a straight line's bottom stays within this many px of the straight...
    line_straight: float = 0.9  # ...along this share of it
    digit_pens: float = 3.0  # the digit above a line is at least this many line widths tall
    least_digit_aspect: float = 0.5  # ...and at least half as wide as tall (a 1 keeps its foot)
    line_past: float = 0.05  # the line runs this share of its length past the digit either side
    line_end_pens: float = 1.5  # the digit comes down to it this many pens from its ends at least
    stroke_strength: float = 0.5  # a stroke is ink at least this share of the core's...
    core_q: float = 0.9  # ...taken at this quantile of the piece's ink
    ring_round: float = 0.88  # a ring fills at most this much of its box (an ellipse pi/4, a box ~1)
    ring_pen_q: float = 0.75  # a ring's pen is its thicker strokes' width (the inner side of a thick stroke)
    ring_depth: float = 1.5  # ink deeper than this many pen widths inside a ring-shaped piece is a digit it touches
    least_inner: float = 0.05  # ...when it is at least this share of the piece
    inner_side: float = 0.3  # ink lying this much along the ring's band is a thick stroke's inner side
    one_stroke: float = 1.6  # a digit with less ink than this many pen-widths by its length is one stroke
    crossing_reach: int = 2  # a stroke meets the ring within this many px (iterations)
    ring_reach: float = 0.2  # the quick test: ink comes within this share of both ends of the middle lines
    ring_crossings: int = 3  # ...and one of them crosses ink this many times (ring, digit, ring)
    flat_line: float = 0.4  # an underline is at most this share as tall as wide
    least_underline: int = 6  # ...and at least this wide (px)
    underline_overlap: float = 0.5  # ...and lies under at least this share of the ink above it


@dataclass(frozen=True)
class Select:
    """Digit selection (select.py)."""

    in_band: float = 0.3  # a piece with this share of it in the border band is border noise
    least_piece_pixels: int = 2  # a piece joining the digit has at least this many pixels...
    least_piece: float = 0.04  # ...and this share of the largest piece
    grain_pieces: int = 8  # ink found in this many pieces or more is a digit on mottled or grainy paper...
    piece_strength: float = 0.6  # ...where a piece joins the digit only when its ink is this strong, relative
    one_piece: float = 0.6  # a digit whose largest piece holds this share of its ink was drawn in one piece
    least_digit_pixels: int = 3  # a digit has at least this many pixels: fewer are specks
    frame_reach_pens: float = 3.0  # a piece cut off by the frame lies within this many pen widths of the digit
    large_share: float = 0.5  # pieces at least this share of the largest may be the digit instead of it
    around_window: int = 9  # the desk's grain round a piece is measured in a ring this wide
    dot_reach: float = 0.15  # a dot joins the digit this share of its extent away at most (or its own size)
    piece_reach: float = 0.35  # another piece joins it this share of its extent away at most
    dot_pens: float = 3.0  # a dot is at most this many pen widths each way
    hug_depth: float = 0.25  # an edge line stays within this share of the picture from its edge...
    hug_length: float = 0.5  # ...and runs along this share of the edge


@dataclass(frozen=True)
class Row:
    """Several digits in a row (row.py)."""

    same_line: float = 0.5  # boxes overlapping this share of the shorter height stand on one line
    digit_ink: float = 0.3  # another digit has at least this share of the ink
    within_gap: float = 0.1  # pieces this far apart (of the digit's height), side by side, may be digits in a row
    tallest_piece: float = 0.5  # a digit in a group holds a piece at least half as tall (not a dashed line)
    digit_height: float = 0.6  # another digit is at least this share as tall
    least_aspect: float = 0.25  # ...and not a bare upright line: this share as wide as tall


@dataclass(frozen=True)
class Zoom:
    """A small digit re-read at full resolution (zoom.py)."""

    min_digit_work: int = 48  # a digit smaller than this on a reduced page is re-done at full resolution
    grainy_extent: int = 16  # a digit this big on grainy paper is read at the working scale...
    grain_share: float = 0.1  # ...grainy: the paper's noise is this share of the ink's contrast
    least_margin: int = 2  # the crop reaches this far round the digit (working px), or half its extent
    mark_margin: int = 2  # the marks' pixels made paper reach this far round them (iterations)
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
    shadow: Shadow = field(default_factory=Shadow)
    sheet: Sheet = field(default_factory=Sheet)
    printed: Printed = field(default_factory=Printed)
    marks: Marks = field(default_factory=Marks)
    select: Select = field(default_factory=Select)
    row: Row = field(default_factory=Row)
    zoom: Zoom = field(default_factory=Zoom)
    box: Box = field(default_factory=Box)


PARAMS = Params()
