"""The renderer of handwritten numbers: what it says is written, where the digits are, the gaps it leaves."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from digitwatch.training import data, numbers, writers
from digitwatch.training.numbers import K, Number
from PIL import Image

BLANK = 255 * (1 - K.ink) - 1  # a 'clean' column lighter than this everywhere holds no ink


def ink_columns(number: Number) -> np.ndarray:
    """Which columns of a 'clean' picture hold ink."""
    return (np.asarray(number.image.convert("L")) < BLANK).any(axis=0)


def clean(gap: float, n: int = 6, seed: int = 0, dash_at: int | None = None) -> Number:
    x, y = numbers.digits_of("mnist")
    return numbers.render(np.random.default_rng(seed), x, y, n, gap, dash_at=dash_at, style="clean", source="mnist")


def test_text_digits_and_boxes_agree_and_run_left_to_right_inside_the_picture() -> None:
    for number in numbers.render_set("mnist", 40, (-0.1, 0.4), lengths=(2, 12), seed=3):
        assert number.digits == number.text.replace("-", "")
        assert number.digits.isdigit() and set(number.text) <= set("0123456789-")
        assert 2 <= len(number.digits) <= 12 and len(number.boxes) == len(number.digits)
        assert not number.text.startswith("-") and not number.text.endswith("-") and "--" not in number.text
        assert -0.1 <= number.gap <= 0.4 and number.source == "mnist"
        w, h = number.image.size
        for x0, y0, x1, y1 in number.boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        lefts = [b[0] for b in number.boxes]
        assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts)
        assert number.image.mode in ("L", "RGB")
        paper = np.asarray(number.image.convert("L"))
        assert np.median(paper) > 150 and paper.min() < np.median(paper) - 60  # dark ink on light paper


def test_boxes_hold_the_ink_tightly() -> None:
    number = clean(0.3)
    ink = np.asarray(number.image) < BLANK
    for x0, y0, x1, y1 in number.boxes:
        assert ink[y0:y1, x0].any() and ink[y0:y1, x1 - 1].any()  # ink touches the left and right edges
        assert ink[y0, x0:x1].any() and ink[y1 - 1, x0:x1].any()
        assert 0.75 * number.height <= y1 - y0 <= 1.25 * number.height  # each digit near the number's height
    assert not ink[:, : number.boxes[0][0]].any() and not ink[:, number.boxes[-1][2] :].any()


@pytest.mark.parametrize("gap", [0.12, 0.2, 0.3, 0.6])
def test_a_gap_apart_leaves_that_many_blank_columns(gap: float) -> None:
    for seed in range(4):
        number = clean(gap, n=7, seed=seed)
        cols = ink_columns(number)
        for (_, _, right, _), (left, _, _, _) in zip(number.boxes, number.boxes[1:]):
            assert not cols[right:left].any()  # every column between two digits is blank
            assert left - right >= max(0.12, gap - K.gap_jitter) * number.height - 1
            assert left - right <= (gap + K.gap_jitter) * number.height + 1


@pytest.mark.parametrize("gap", [0.0, 0.05, 0.1])
def test_close_digits_stay_close_and_never_overlap(gap: float) -> None:
    for seed in range(4):
        number = clean(gap, n=7, seed=seed)
        for (_, _, right, _), (left, _, _, _) in zip(number.boxes, number.boxes[1:]):
            assert 0 <= left - right < 0.12 * number.height + 1


def test_a_negative_gap_makes_neighbours_overlap_and_their_ink_merge() -> None:
    number = clean(-0.1, n=6, seed=1)
    for (_, _, right, _), (left, _, _, _) in zip(number.boxes, number.boxes[1:]):
        assert left < right
    ink = np.asarray(number.image) < BLANK
    assert ink[:, number.boxes[0][0] : number.boxes[-1][2]].any(axis=0).all()  # one run of ink, no blank column


def test_overlapping_strokes_merge_as_the_darker_of_the_two() -> None:
    # the same seed draws the same digits, heights, slants and baselines whatever the gap
    apart, over = clean(0.4, n=5, seed=5), clean(-0.1, n=5, seed=5)
    assert apart.text == over.text
    page = np.full(np.asarray(over.image).shape, 255, np.uint8)
    for (ax0, ay0, ax1, ay1), (ox0, oy0, ox1, oy1) in zip(apart.boxes, over.boxes):
        region = page[oy0:oy1, ox0:ox1]
        np.minimum(region, np.asarray(apart.image)[ay0:ay1, ax0:ax1], out=region)  # each digit alone, set anew
    assert np.array_equal(page, np.asarray(over.image))


def test_the_same_seed_gives_the_same_pictures_and_another_seed_others() -> None:
    a = numbers.render_set("mnist", 6, (0.0, 0.3), lengths=(3, 5), seed=7)
    b = numbers.render_set("mnist", 6, (0.0, 0.3), lengths=(3, 5), seed=7)
    c = numbers.render_set("mnist", 6, (0.0, 0.3), lengths=(3, 5), seed=8)
    assert [n.text for n in a] == [n.text for n in b] and [n.boxes for n in a] == [n.boxes for n in b]
    assert all(np.array_equal(np.asarray(p.image), np.asarray(q.image)) for p, q in zip(a, b))
    assert [n.text for n in a] != [n.text for n in c]
    # number i depends on (seed, i) only: a longer set starts with the same numbers
    assert [n.text for n in numbers.render_set("mnist", 8, (0.0, 0.3), lengths=(3, 5), seed=7)[:6]] == [
        n.text for n in a
    ]


def test_a_dash_is_written_between_two_digits() -> None:
    number = clean(0.05, n=9, seed=2, dash_at=5)
    assert number.text[5] == "-" and number.text.count("-") == 1 and len(number.digits) == 9
    assert number.text == number.digits[:5] + "-" + number.digits[5:]
    right, left = number.boxes[4][2], number.boxes[5][0]
    assert left - right >= K.dash[0] * 0.85 * number.height  # room for the dash between the two digits
    strip = np.asarray(number.image)[:, right:left] < BLANK
    rows = np.nonzero(strip.any(axis=1))[0]
    assert strip.any(axis=0).mean() > 0.5  # the dash spans most of the room
    assert rows.max() - rows.min() < 0.25 * number.height  # thin and flat
    mid = np.mean([(b[1] + b[3]) / 2 for b in number.boxes])
    assert abs((rows.min() + rows.max()) / 2 - mid) < 0.2 * number.height  # near mid-height
    with pytest.raises(ValueError, match="dash_at"):
        clean(0.1, n=3, dash_at=3)
    with pytest.raises(ValueError, match="style"):
        numbers.render(np.random.default_rng(0), *numbers.digits_of("mnist"), 3, 0.1, style="chalk")


def test_styles_put_the_ink_on_their_own_paper() -> None:
    x, y = numbers.digits_of("mnist")
    for style in ("paper", "photo"):
        shades = []
        for seed in range(5):
            number = numbers.render(np.random.default_rng(seed), x, y, 4, 0.2, style=style)
            gray = np.asarray(number.image.convert("L"), np.float32)
            inside = np.zeros(gray.shape, bool)
            for x0, y0, x1, y1 in number.boxes:
                inside[y0:y1, x0:x1] = True
            assert gray[inside].min() < gray[~inside].mean() - 60  # ink reads dark against this paper
            shades.append(gray[~inside].std())
        assert max(shades) > 1.0  # not a flat white page: grain, light falloff, noise
    page = np.asarray(clean(0.2).image)
    assert page.ndim == 2 and page[0].min() == 255 and page.min() <= 5  # clean: white page, black ink


def test_every_source_here_loads_its_unseen_digits_white_on_black() -> None:
    assert "mnist" in numbers.sources() and "uci" in numbers.sources()
    assert set(numbers.sources()) == {"mnist", *writers.available()}
    for source in numbers.sources():
        x, y = numbers.digits_of(source)
        assert x.dtype == np.uint8 and x.ndim == 3 and len(x) == len(y) > 100
        assert set(np.unique(y)) == set(range(10))
        assert (x < 128).mean() > 0.6  # white ink on a black ground (Semeion's ink reaches the frame's edges)
        number = numbers.render_set(source, 1, (0.2, 0.2), lengths=(4, 4), seed=0)[0]
        assert len(number.boxes) == 4 and number.source == source
    held = writers.load("uci").part("held-out")
    assert np.array_equal(numbers.digits_of("uci")[0], 255 - held.x)  # the held-out part only
    mnist = data.load(data.default_mnist_path())
    assert np.array_equal(numbers.digits_of("mnist")[0], mnist.x_test)  # the test set, never train


def test_write_saves_pictures_and_their_labels(tmp_path: Path) -> None:
    made = numbers.render_set("mnist", 4, (0.1, 0.3), lengths=(2, 5), seed=1)
    paths = numbers.write(made, tmp_path / "out")
    assert [p.name for p in paths] == ["00000.png", "00001.png", "00002.png", "00003.png"]
    with open(tmp_path / "out" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [p.name for p in paths]
    assert [r["text"] for r in rows] == [n.text for n in made] and [r["digits"] for r in rows] == [
        n.digits for n in made
    ]
    assert [float(r["gap"]) for r in rows] == pytest.approx([n.gap for n in made], abs=1e-4)
    for path, number in zip(paths, made):
        img = Image.open(io.BytesIO(path.read_bytes()))
        assert img.format == "PNG" and img.size == number.image.size
    jpegs = numbers.write(made[:1], tmp_path / "jpeg", fmt="jpeg")
    assert jpegs[0].name == "00000.jpg" and Image.open(jpegs[0]).format == "JPEG"


SAMPLES = Path(__file__).parent / "data" / "numbers"
CASES = {"apart", "close", "touching", "overlapping", "five_flag", "one_seven", "zip4", "thirteen", "single"}


def test_the_committed_samples_are_what_the_script_makes(tmp_path: Path) -> None:
    with open(SAMPLES / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["case"] for r in rows} == CASES and list(rows[0]) == ["file", "text", "digits", "case"]
    boxes = json.loads((SAMPLES / "boxes.json").read_text())
    for r in rows:
        assert r["digits"] == r["text"].replace("-", "") and len(boxes[r["file"]]["boxes"]) == len(r["digits"])
        assert (SAMPLES / r["file"]).stat().st_size < 30_000
    assert {r["text"] for r in rows if r["case"] == "zip4"} == {"94107-1234"}
    assert {r["text"] for r in rows if r["case"] == "one_seven"} == {"17", "71"}
    assert all(len(r["digits"]) == 13 for r in rows if r["case"] == "thirteen")
    script = Path(__file__).resolve().parents[1] / "bench" / "make_number_samples.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SAMPLES.iterdir())
    assert all((tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes() for name in made)


def test_a_slash_is_written_between_two_digits_as_tall_as_they_are_leaning_right() -> None:
    x, y = numbers.digits_of("mnist")
    number = numbers.render(np.random.default_rng(4), x, y, 4, 0.3, dash_at=2, style="clean", mark="/")
    assert number.text == number.digits[:2] + "/" + number.digits[2:] and len(number.boxes) == 4
    right, left = number.boxes[1][2], number.boxes[2][0]
    strip = np.asarray(number.image)[:, right:left] < BLANK
    rows, cols = np.nonzero(strip)
    assert rows.max() - rows.min() >= 0.85 * number.height  # as tall as the digits
    top, bottom = cols[rows <= rows.min() + 2].mean(), cols[rows >= rows.max() - 2].mean()
    assert top > bottom  # its top leans to the right
    with pytest.raises(ValueError, match="mark"):
        numbers.render(np.random.default_rng(0), x, y, 3, 0.1, dash_at=1, mark="+")
