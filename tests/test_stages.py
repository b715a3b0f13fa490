"""The preprocessing stages, each alone on small synthetic arrays, and the whole path against a reference
(tests/data/preprocess-reference.npz, written by bench/equivalence.py from the package after the ablation
of issue 28: see docs/ablation.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from digitwatch.daemon.errors import ImageError
from digitwatch.daemon.preprocess import (
    FaintInkError,
    box,
    desk,
    ink,
    normalize,
    paper,
    pipeline,
    row,
    ruled,
    select,
    shadow,
    size,
    views,
    zoom,
)
from digitwatch.daemon.preprocess.context import Context, bounds
from digitwatch.daemon.preprocess.measure import EIGHT
from scipy import ndimage

HERE = Path(__file__).parent
REFERENCE = HERE / "data" / "preprocess-reference.npz"


def page(shape: tuple[int, int] = (64, 64), level: float = 0.95) -> np.ndarray:
    return np.full(shape, level, np.float32)


def seven(shape: tuple[int, int] = (64, 64), ink_level: float = 0.1, width: int = 3) -> np.ndarray:
    """A dark 7 on white paper: a bar and a slanted stem, ``width`` px wide."""
    a = page(shape)
    h, w = shape
    t, l, s = h // 4, w // 3, h // 2
    a[t : t + width, l : l + s // 2 + width] = ink_level
    for k in range(s):
        x = l + s // 2 - k // 2
        a[t + k, x : x + width] = ink_level
    return a


# --- size --------------------------------------------------------------------------------------


def test_size_unzoomed_takes_pixel_art_back_to_its_own_size() -> None:
    small = np.random.default_rng(1).integers(0, 256, (12, 10)).astype(np.uint8)
    big = np.kron(small, np.ones((4, 4), np.uint8))
    assert np.array_equal(size.unzoomed(big), small)
    smooth = np.random.default_rng(2).integers(0, 256, (48, 40)).astype(np.uint8)
    assert size.unzoomed(smooth) is smooth


def test_size_adds_paper_round_a_digit_cropped_at_its_strokes() -> None:
    a = np.full((30, 30), 250, np.uint8)
    a[:, 8:12] = a[:, 18:22] = 10  # a 0 cut at its strokes by the top and bottom of the frame
    a[:3, 8:22] = a[-3:, 8:22] = 10
    padded = size.paper_beyond_frame(a)
    pad = (padded.shape[0] - 30) // 2
    assert pad >= 2 and padded.shape == (30 + 2 * pad, 30 + 2 * pad)
    assert (padded[:pad] == 250).all() and (padded[pad:-pad, pad:-pad] == a).all()


def test_size_adds_no_paper_round_a_photo_in_uneven_light() -> None:
    """A phone photo cropped round its digit: light falls off across the frame, no stroke runs into it.
    Paper added at one level would stand out of the darker side as a ring of ink."""
    ramp = np.linspace(0.45, 0.95, 90, dtype=np.float32)
    a = np.clip(seven((90, 90), ink_level=0.1, width=4) * ramp[None, :] / 0.95, 0, 1)
    assert size.paper_beyond_frame(a) is a
    cut = a.copy()
    cut[:, 40:46] = 0.05  # a stroke the crop cut through, top to bottom
    assert size.paper_beyond_frame(cut).shape[0] > 90


def test_a_shaded_photo_of_a_digit_reads_as_on_even_paper() -> None:
    """The same 7 read from a photo in uneven light and from even paper: the shading is no ink."""
    ramp = np.linspace(0.45, 0.95, 90, dtype=np.float32)
    even = seven((90, 90), ink_level=0.1, width=4)
    shaded = np.clip(even * ramp[None, :] / 0.95, 0, 1)
    assert np.abs(normalize(shaded) - normalize(even)).max() < 0.25


def test_size_prepare_sets_the_working_scale() -> None:
    ctx = Context(np.zeros((1000, 500), np.uint8), work_max=192)
    size.prepare(ctx)
    assert ctx.factor == 6
    with pytest.raises(ImageError):
        size.prepare(Context(np.zeros((4, 4, 3)), work_max=192))


# --- paper and polarity ------------------------------------------------------------------------


def test_paper_makes_dark_ink_bright_on_white_paper() -> None:
    a = seven()
    inked, dark = paper.ink_map(a, tight=True, plain=True)
    assert dark
    assert inked[a < 0.5].min() > 0.5 and inked[a > 0.5].max() < 0.1


def test_paper_keeps_light_ink_on_a_dark_board_bright() -> None:
    a = 1.0 - seven()
    inked, dark = paper.ink_map(a, tight=True, plain=True)
    assert not dark
    assert inked[a > 0.5].min() > 0.5


def test_paper_follows_uneven_paper_under_a_page_window() -> None:
    a = seven((120, 120))
    a *= np.linspace(1.0, 0.6, 120, dtype=np.float32)[None, :]  # light falling off to the right
    inked, _ = paper.ink_map(a, window=9, plain=False)
    assert inked[:, -20:][a[:, -20:] > 0.3].max() < 0.1  # the darkened paper is no ink


# --- ink ---------------------------------------------------------------------------------------


def test_ink_finds_the_strokes_and_refuses_a_blank_page() -> None:
    a = seven()
    inked, _ = paper.ink_map(a, tight=True, plain=True)
    found = ink.detected(inked)
    assert (found.found == (a < 0.5)).mean() > 0.97
    ink.refuse_noise(found.paper, found.detect)
    noise = np.random.default_rng(0).normal(0.9, 0.004, (64, 64)).astype(np.float32)
    blank, _ = paper.ink_map(noise, tight=True, plain=True)
    with pytest.raises(FaintInkError):
        found = ink.detected(blank)
        ink.refuse_noise(found.paper, found.detect)


def test_ink_hysteresis_keeps_a_faint_bar_joined_to_a_strong_stem() -> None:
    a = seven((64, 64))
    a[16:19, :] = np.where(a[16:19, :] < 0.5, 0.6, a[16:19, :])  # the bar written faint
    inked, _ = paper.ink_map(a, tight=True, plain=True)
    found = ink.detected(inked).found
    assert found[16:19].sum() >= 0.8 * (a[16:19] < 0.7).sum()


# --- sheet on a desk ---------------------------------------------------------------------------


def test_desk_round_a_sheet_becomes_paper() -> None:
    a = np.full((160, 160), 0.3, np.float32)  # a dark desk
    a[25:135, 30:130] = 0.9  # the sheet
    a[60:100, 78:82] = 0.1  # a 1 on it
    filled, sheet = desk.off_page_as_paper(a)
    assert sheet is not None
    assert sheet.mask[80, 80] and not sheet.mask[5, 5]
    assert abs(float(filled[5, 5]) - 0.9) < 0.05  # the desk now reads as paper
    assert filled[80, 80] < 0.2  # the ink stays


def test_desk_leaves_a_plain_page_alone() -> None:
    a = seven((160, 160))
    filled, sheet = desk.off_page_as_paper(a)
    assert sheet is None and filled is a


# --- shadows -----------------------------------------------------------------------------------


def test_shadow_check_runs_only_on_big_pictures_and_narrows_a_shadow_to_the_pen() -> None:
    assert not shadow.needed(Context(page(), small=page()))
    big = Context(page((400, 400)), small=seven((120, 120), width=2), photo_sized=True)
    big.ink, big.dark = paper.ink_map(big.small, plain=True)
    big.detect, big.paper, big.found = ink.detected(big.ink)[:3]
    big.width = 12.0  # as if a shadow's broad edge had been taken for the digit
    shadow.check(big)
    assert big.width <= 4.0


def test_a_flat_papers_refit_reads_what_the_first_reading_did_and_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """On paper of one flat level the ink map uses no window, so the refit with a window fitted to the
    pen would read the same map again: it is skipped (and the shadow stage, whose width the refit
    would set back) - the reading the same to the bit as with both run."""
    from digitwatch.daemon.preprocess import refit

    a = np.full((300, 500), 0.95, np.float32)
    a[100:200, 150:400] = seven((100, 250), width=4)  # a photo-sized picture: shadow and refit apply
    steps = [stage for name, stage in pipeline.READ if name in ("reduce", "sheet", "ink", "shadow", "paper")]

    def read() -> Context:
        ctx = Context(a, work_max=192)
        size.prepare(ctx)
        for step in steps:
            step(ctx)
        return ctx

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the refit read the map again")

    with monkeypatch.context() as m:
        m.setattr(refit, "ink_map", not_again)
        quick = read()
    assert quick.flat and refit.unchanged(quick)
    for module in (refit, shadow):
        monkeypatch.setattr(module, "will_reset", lambda ctx: False)
    monkeypatch.setattr(refit, "unchanged", lambda ctx: False)
    calls: list[int] = []
    monkeypatch.setattr(refit, "ink_map", lambda *a, **k: calls.append(1) or paper.ink_map(*a, **k))
    full = read()
    assert calls, "the refit did not run: the test pictures no longer exercise it"
    assert quick.width == full.width and np.array_equal(quick.mask, full.mask) and np.array_equal(quick.ink, full.ink)


# --- digit selection ---------------------------------------------------------------------------


def test_select_keeps_the_digit_and_drops_specks_and_edge_lines() -> None:
    mask = np.zeros((64, 64), bool)
    mask[14:50, 30:34] = True  # the digit
    mask[5, 5] = True  # a speck far from it
    mask[0:2, 4:60] = True  # a scanner's edge line
    found = select.digit(mask, mask.astype(np.float32))
    assert found.digit[14:50, 30:34].all() and found.digit.sum() == 36 * 4
    assert found.beside == 0


def test_row_counts_a_second_digit_beside_the_first() -> None:
    mask = np.zeros((64, 100), bool)
    mask[15:50, 20:32] = True  # one digit-sized blob
    mask[15:50, 40:52] = True  # and another as tall, beside it
    labels, _n = ndimage.label(mask, EIGHT)
    edges = np.array([(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in ndimage.find_objects(labels)])
    areas = np.bincount(labels.ravel())[1:]
    assert row.digits_within(labels, edges, areas, [0, 1]) == 1


# --- zoom --------------------------------------------------------------------------------------


def test_zoom_rereads_a_small_digit_on_a_big_page_at_full_resolution() -> None:
    g = np.random.default_rng(0).normal(240, 2, (1200, 1200)).astype(np.uint8)  # (paper's grain: no pixel art)
    g[560:640, 596:604] = 20  # an 80 px 1 on a 1200 px page: 13 px on the working copy
    ctx = pipeline.run(Context(g, work_max=192), pipeline.STAGES[:-2])  # up to, not including, the zoom
    assert ctx.factor == 7 and ctx.box()[1] - ctx.box()[0] < 20
    zoom.zoom(ctx)
    assert ctx.strokes is not None and ctx.strokes.extent > 40


# --- boxing ------------------------------------------------------------------------------------


def test_box_fits_into_20x20_and_centres_mass_in_28x28() -> None:
    soft = np.zeros((40, 10), np.float32)
    soft[:, 3:7] = 1.0
    out = box.to_mnist_box(soft)
    assert out.shape == (28, 28) and out.dtype == np.float32
    rows, _cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 == 20
    cy, cx = ndimage.center_of_mass(out)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_box_of_nothing_visible_is_an_empty_view() -> None:
    """A number's candidate can hold only faint pixels (the rest of a box's side once a ruled line is
    left out): it reads as no digit, where it raised ZeroDivisionError and lost the file's reading."""
    out = box.to_mnist_box(np.full((12, 3), 0.01, np.float32))
    assert out.shape == (28, 28) and not out.any()


def test_ruled_lines_under_and_round_a_number_are_left_out_of_the_ink() -> None:
    """A line under three digits and a box's sides are no ink of theirs; a digit alone is never looked at."""
    found = np.zeros((40, 120), bool)
    for x in (10, 45, 80):
        found[8:30, x : x + 3] = found[8:11, x : x + 20] = True  # three 7-like digits
    found[33:35, 2:118] = True  # the line they are written on
    lines = ruled.ruled_lines(found)
    assert lines is not None and lines[33:35, 2:118].all() and not lines[:31].any()
    boxed_in = found.copy()
    boxed_in[2:4, 2:118] = True  # ...a box round them: its top and its sides
    boxed_in[2:35, 2:4] = boxed_in[2:35, 116:118] = True
    lines = ruled.ruled_lines(boxed_in)
    assert lines is not None
    labels, _ = ndimage.label(boxed_in & ~lines, np.ones((3, 3)))
    sides = ruled.box_sides(labels, lines)
    assert len(sides) == 2 and ruled.ruled_lines(found[:31, 40:70]) is None  # (one digit: too narrow)


def test_a_box_round_one_digit_is_left_out_but_a_boxy_0_or_8_is_not() -> None:
    """A form's box round one digit: four thin sides along the ink's edges, round a digit. A boxy 0 is
    the same four sides round nothing, a boxy 8 round its bar only: they are digits, no box."""
    rectangle = np.zeros((60, 48), bool)
    rectangle[0:2, :] = rectangle[-2:, :] = rectangle[:, 0:2] = rectangle[:, -2:] = True
    boxed = rectangle.copy()
    boxed[12:48, 22:25] = boxed[12:15, 16:25] = True  # a 1 inside it
    frame = ruled.box_frame(boxed, *bounds(boxed))
    assert frame is not None and (frame == rectangle).all()
    assert ruled.box_frame(rectangle, *bounds(rectangle)) is None  # a boxy 0
    eight = rectangle.copy()
    eight[29:31, :] = True
    assert ruled.box_frame(eight, *bounds(eight)) is None  # a boxy 8: its bar spans the box
    assert ruled.box_frame(boxed[10:50, 10:30], *bounds(boxed[10:50, 10:30])) is None  # the 1 alone


def test_box_thickens_thin_strokes_to_the_least_width() -> None:
    ctx = Context(page(), mask=np.zeros((64, 64), bool), ink=np.zeros((64, 64), np.float32), width=1.0)
    ctx.mask[10:50, 30] = True
    ctx.ink[10:50, 30] = 1.0
    box.crop(ctx)
    assert ctx.strokes is not None
    assert box.thicken(ctx.strokes, 2.2).shape[1] > ctx.strokes.soft.shape[1]
    assert box.growth(ctx.strokes, 3.0) >= 1.0


# --- the pipeline ------------------------------------------------------------------------------


def test_pipeline_times_each_stage_only_when_asked() -> None:
    a = seven()
    with pipeline.timed() as times:
        normalize(a)
    assert {"size", "reduce", "ink", "crop", "box"} <= set(times)
    assert pipeline._timings is None


def test_views_of_a_thin_pen_digit_has_a_second_thicker_view() -> None:
    thin = seven((200, 200), width=2)
    assert views(thin).shape == (2, 28, 28)
    assert views(seven((56, 56), width=5)).shape[0] == 1


# --- the same outputs as the old module --------------------------------------------------------


def _equivalence_module():
    spec = importlib.util.spec_from_file_location(
        "digitwatch_bench_equivalence", HERE.parent / "bench" / "equivalence.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_outputs_as_the_reference() -> None:
    """normalize's and views' outputs (and errors) on 300 MNIST digits (raw and 56x56), the files in
    tests/data, 48 realistic pictures and four refused pictures are the reference's, within 1/255: the
    package's own after the ablation of issue 28 (docs/ablation.md; written by ``python
    bench/equivalence.py --write-reference tests/data/preprocess-reference.npz --reference-from new``)."""
    from digitwatch.daemon import preprocess

    eq = _equivalence_module()
    with np.load(REFERENCE) as ref:
        names, errors = list(ref["names"]), list(ref["errors"])
        stored = {k: ref[k] for k in ref.files}
    realistic = [(str(n), stored[f"bytes_{k}"].tobytes()) for k, n in enumerate(names) if f"bytes_{k}" in stored]
    files = {n for n, _ in eq.file_inputs()}
    inputs = eq.reference_inputs([(n, data) for n, data in realistic if n not in files])
    assert [n for n, _ in inputs] == [str(n) for n in names]
    differ = []
    for k, (name, item) in enumerate(inputs):
        new = eq.outputs(preprocess, item)
        error = "|".join(f"{key}={v}" for key, v in sorted(new.items()) if isinstance(v, str))
        old = {key: stored[f"{key}_{k}"] for key in new if f"{key}_{k}" in stored}
        same = error == errors[k] and all(
            eq.verdict(old[key], value) != "different" for key, value in new.items() if key in old
        )
        if not same or set(old) != {key for key, v in new.items() if not isinstance(v, str)}:
            differ.append(name)
    assert not differ, f"{len(differ)} of {len(inputs)} differ from the reference: {differ[:10]}"


# --- measure: OpenCV in place of scipy.ndimage -------------------------------------------------


@pytest.mark.parametrize("window", [3, 7, 8, (9, 4)])
def test_opencv_filters_give_scipys_values(window: int | tuple[int, int]) -> None:
    """The grey opening and closing by OpenCV are ndimage's to the bit (even windows included); the box
    mean to float32 rounding; the labels number components as ndimage.label does."""
    from digitwatch.daemon.preprocess import measure

    rng = np.random.default_rng(5)
    a = rng.random((41, 37)).astype(np.float32)
    assert np.array_equal(measure.grey_opened(a, window), ndimage.grey_opening(a, size=window))
    assert np.array_equal(measure.grey_closed(a, window), ndimage.grey_closing(a, size=window))
    side = window if isinstance(window, int) else window[0]
    assert np.allclose(measure.box_mean(a, side), ndimage.uniform_filter(a, side), atol=1e-6)
    mask = rng.random((53, 47)) > 0.7
    labels, n = measure.label(mask)
    expected, m = ndimage.label(mask, EIGHT)
    assert n == m and np.array_equal(labels, expected)


@pytest.mark.parametrize("kind", ["zeros", "white", "noise", "uint8"])
@pytest.mark.parametrize("size", [1, 2, 999, 3136, 40_001])
def test_median_and_quantiles_are_numpys_on_runs_of_one_value(kind: str, size: int) -> None:
    """The paper's and the ink's order statistics (a sort, not np.partition, which slows fifty-fold on
    an ink map's zeros) are np.median's and the nearest rank's values, to the bit."""
    from digitwatch.daemon.preprocess import measure

    rng = np.random.default_rng(size)
    a = {
        "zeros": (rng.random(size) * (rng.random(size) > 0.9)).astype(np.float32),
        "white": np.minimum(rng.normal(1.05, 0.1, size), 1.0).astype(np.float32),
        "noise": rng.normal(0.5, 0.1, size),
        "uint8": rng.integers(0, 3, size).astype(np.uint8),
    }[kind]
    assert measure.median(a) == float(np.median(a))
    for q in (0.01, 0.5, 0.99, 1.0):
        k = min(size - 1, int(q * size))
        assert measure.quantile(a, q) == float(np.partition(a, k)[k])
    assert measure.quantiles(a, (0.9, 0.1)) == [measure.quantile(a, 0.9), measure.quantile(a, 0.1)]


def test_a_slanted_strokes_lean_and_sharpest_upright_agree() -> None:
    """line.lean_of (the wide-digit test's quick measure) and line.slant_of (the cuts') on drawn strokes:
    a bar leaning right by 0.3 (x per y, rows downward: -0.3), an upright one, and one leaning past
    most_slant (clipped)."""
    from digitwatch.daemon.preprocess.line import lean_of, slant_of
    from digitwatch.daemon.preprocess.params import PARAMS

    rows = np.repeat(np.arange(40), 3)
    width = np.tile(np.arange(3), 40)
    for slope in (-0.3, 0.0, 0.25):
        ys, xs = rows, np.round(20 + slope * (rows - 20)).astype(np.int64) + width
        assert abs(lean_of(ys, xs) - slope) < 0.02, slope
        assert abs(slant_of(ys, xs) - slope) <= 0.05 + 1e-9, slope  # (its 21 shears are 0.05 apart)
    ys, xs = rows, (20 - 1.5 * (rows - 20)).astype(np.int64) + width
    assert lean_of(ys, xs) == -PARAMS.number.most_slant
    assert lean_of(np.full(5, 3), np.arange(5)) == 0.0  # (one row: no lean to measure)
