"""Handwritten *numbers* (several digits in one picture) for the segmentation tests and benchmark.

Digits come from MNIST's test set or the held-out part of the other-writer sets (never from what the
model trained on). Each is cropped to its ink, enlarged smoothly to its own height, slanted, set on a
jittered baseline and placed left to right with a chosen gap between neighbouring ink boxes (a share of
the digit height; negative overlaps, ink merging by max). The ink map then goes on paper the way the
realistic kinds do it (:mod:`training.paper`): scan-like paper, a camera's photo, or a clean white page.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from digitwatch.daemon.errors import DataError
from PIL import Image
from scipy import ndimage

from . import data, writers
from .paper import camera, dark_ink, illumination, phone_shadow, smooth_noise, specks, to_image
from .picture_files import EXTENSIONS


@dataclass(frozen=True)
class Knobs:
    height: tuple[int, int] = (28, 90)  # the number's digit height H in px: a small crop up to a close scan
    own_height: float = 0.12  # each digit's height varies by this share of H: writers do not keep a size
    shear: float = 0.25  # the number's slant (x shift per px of height): upright to a strong italic
    own_shear: float = 0.05  # each digit leans a little off the number's slant
    baseline: float = 0.06  # baseline jitter, share of H: hand-written digits do not sit on a ruler
    gap_jitter: float = 0.02  # per-pair gap jitter, share of H, kept inside the caller's gap band
    bands: tuple[float, ...] = (0.0, 0.12)  # gap band edges (overlapping | close/touching | apart)
    dash: tuple[float, float] = (0.35, 0.09)  # a dash's length and thickness as shares of H (a pen stroke)
    dash_gap: float = 0.08  # least gap round a dash: a writer lifts the pen between a digit and a dash
    dash_share: float = 0.1  # share of render_set's numbers of 4+ digits written with a dash (zip+4, IDs)
    slash: tuple[float, float] = (0.95, 1.15)  # a slash's height as a share of H (a date, a fraction)...
    slash_lean: tuple[float, float] = (0.25, 0.6)  # ...leaning this much more than the digits (x per y)
    margin: tuple[float, float] = (0.3, 1.0)  # paper round the ink, share of H per side
    ink: float = 0.1  # coverage above which a pixel is ink (crops and boxes)
    binary_blur: float = 0.5  # blur (source px) of a two-level digit (Semeion): enlarging shows its stair steps
    camera_share: float = 0.25  # scans that also pass through camera blur and noise (a phone scan app)


K = Knobs()
STYLES = ("paper", "photo", "clean")
MARKS = ("-", "/")  # marks written between digits: a dash (zip+4, IDs), a slash (dates, fractions)


@dataclass(frozen=True)
class Number:
    image: Image.Image  # dark ink on light paper, mode L or RGB
    text: str  # what is written, left to right: digits and marks ("94107-1234")
    digits: str  # only the digits ("941071234")
    boxes: list[tuple[int, int, int, int]]  # (x0, y0, x1, y1) of each digit's ink, x1/y1 exclusive
    gap: float  # the gap asked for, share of the digit height
    source: str
    height: float = 0.0  # H, the number's digit height in px (gaps are shares of it)


def sources() -> list[str]:
    """The digit sources this checkout has: ``mnist`` (its test set) and the writer sets found."""
    return (["mnist"] if data.default_mnist_path().is_file() else []) + writers.available()


@cache
def digits_of(source: str) -> tuple[np.ndarray, np.ndarray]:
    """Digit images (N, h, w) uint8, white ink on black, and labels: MNIST test, or a writer set's held-out part."""
    if source == "mnist":
        mnist = data.load(data.default_mnist_path())
        x, y = mnist.x_test, mnist.y_test.astype(np.int64)
    else:
        held = writers.load(source).part("held-out")
        x, y = 255 - held.x, held.y  # writer sets are stored dark on light
    x.flags.writeable = False
    return x, y


def glyph(digit: np.ndarray, height: float, shear: float) -> np.ndarray:
    """A digit (white on black uint8) cropped to its ink, enlarged smoothly to ``height`` px and slanted by
    ``shear`` (top to the right when positive): float32 coverage 0..1, cropped to its ink again."""
    src = np.asarray(digit, np.float32) / 255.0
    rows, cols = np.nonzero(src > K.ink)
    if not len(rows):
        raise DataError("a digit without ink")
    src = src[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    s = height / src.shape[0]
    if np.isin(src, (0.0, 1.0)).all():  # padded: room for the blurred edge, cropped again below
        s = height / (src.shape[0] + 2.56 * K.binary_blur)  # coverage 0.1 lies 1.28 sigma out of a blurred edge
        src = ndimage.gaussian_filter(np.pad(src, 1), K.binary_blur)
    h = math.ceil(s * src.shape[0]) + 2
    w = math.ceil(s * src.shape[1] + abs(shear) * h) + 2
    ox = abs(shear) * h / 2 + 1  # x_out = s*x_in + shear*(h/2 - y_out) + ox
    coeffs = (1 / s, shear / s, (-ox - shear * h / 2) / s, 0.0, 1 / s, -1 / s)
    img = Image.fromarray(src, mode="F").transform((w, h), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)
    out = np.clip(np.asarray(img, np.float32), 0.0, 1.0)
    rows, cols = np.nonzero(out > K.ink)
    return out[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _band_gap(rng: np.random.Generator, gap: float) -> float:
    """``gap`` +- the jitter, never crossing a band edge the asked gap lies on or beyond."""
    lo = max((e for e in K.bands if e <= gap), default=-math.inf)
    hi = min((e for e in K.bands if e > gap), default=math.inf)
    return float(np.clip(gap + rng.uniform(-K.gap_jitter, K.gap_jitter), lo, np.nextafter(hi, -math.inf)))


def compose(
    rng: np.random.Generator,
    digits: list[np.ndarray],
    labels: list[int],
    gap: float,
    *,
    dash_at: int | None = None,
    style: str = "paper",
    source: str = "",
    height: float | None = None,
    mark: str = "-",
) -> Number:
    """``digits`` (white on black uint8) written in this order as one number, ``height`` px tall (else
    drawn from ``K.height``), ``mark`` ("-" a dash, "/" a slash) before digit ``dash_at``; see :func:`render`."""
    if mark not in MARKS:
        raise ValueError(f"unknown mark {mark!r}: one of {' '.join(MARKS)}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    if dash_at is not None and not 0 < dash_at < len(digits):
        raise ValueError(f"dash_at={dash_at}: a dash goes between two of the {len(digits)} digits")
    height = float(rng.uniform(*K.height)) if height is None else height
    slant = rng.uniform(-K.shear, K.shear)
    pieces: list[tuple[np.ndarray, float, bool]] = []  # (coverage, bottom y, is a digit)
    for i, digit in enumerate(digits):
        if i == dash_at and mark == "/":
            thick = max(2.0, height * K.dash[1] * rng.uniform(0.85, 1.3))
            bar = _slash(height * rng.uniform(*K.slash), max(0.0, slant + rng.uniform(*K.slash_lean)), thick)
            pieces.append((bar, height * (1 + rng.uniform(-K.baseline, K.baseline)), False))
        elif i == dash_at:
            length, thick = height * K.dash[0] * rng.uniform(0.85, 1.15), max(2.0, height * K.dash[1])
            bar = np.ones((round(thick), round(length)), np.float32)
            pieces.append((bar, height * (0.5 + rng.uniform(-K.baseline, K.baseline)) + thick / 2, False))
        own = height * (1 + rng.uniform(-K.own_height, K.own_height))
        g = glyph(digit, own, slant + rng.uniform(-K.own_shear, K.own_shear))
        pieces.append((g, height * (1 + rng.uniform(-K.baseline, K.baseline)), True))
    lefts, x = [], 0
    for i, (cov, _, _) in enumerate(pieces):
        lefts.append(x)
        if i + 1 < len(pieces):
            nearby_dash = not (pieces[i][2] and pieces[i + 1][2])
            step = _band_gap(rng, max(gap, K.dash_gap) if nearby_dash else gap)
            x = max(x + 1, x + cov.shape[1] + math.floor(step * height + 0.5))
    tops = [round(bottom - cov.shape[0]) for cov, bottom, _ in pieces]
    y0 = min(tops)
    ink_h = max(t - y0 + cov.shape[0] for t, (cov, _, _) in zip(tops, pieces))
    ink_w = max(left + cov.shape[1] for left, (cov, _, _) in zip(lefts, pieces))
    m = [round(height * rng.uniform(*K.margin)) for _ in range(4)]  # top, right, bottom, left
    alpha = np.zeros((ink_h + m[0] + m[2], ink_w + m[1] + m[3]), np.float32)
    boxes = []
    for top, left, (cov, _, is_digit) in zip(tops, lefts, pieces):
        t, l = top - y0 + m[0], left + m[3]
        region = alpha[t : t + cov.shape[0], l : l + cov.shape[1]]
        np.maximum(region, cov, out=region)
        if is_digit:
            boxes.append((l, t, l + cov.shape[1], t + cov.shape[0]))
    text = "".join(str(int(v)) for v in labels)
    if dash_at is not None:
        text = text[:dash_at] + mark + text[dash_at:]
    return Number(_on_paper(alpha, rng, style), text, text.replace(mark, ""), boxes, gap, source, height)


def _slash(height: float, lean: float, thick: float) -> np.ndarray:
    """A pen stroke from bottom left to top right, ``height`` px tall, leaning ``lean``: coverage 0..1."""
    h, w = math.ceil(height), math.ceil(lean * height + thick)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    (x0, y0), (x1, y1) = (thick / 2, h - thick / 2), (w - thick / 2, thick / 2)
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    distance = np.hypot(xs - x0 - t * dx, ys - y0 - t * dy)
    return np.clip(thick / 2 - distance + 0.5, 0, 1).astype(np.float32)


def _coarse(
    field: Callable[[tuple[int, int], np.random.Generator, float], np.ndarray],
    shape: tuple[int, int],
    rng: np.random.Generator,
    strength: float,
) -> np.ndarray:
    """A slowly varying ``field`` (light falloff) drawn at a quarter of ``shape`` and enlarged: 10x faster."""
    small = field((max(2, shape[0] // 4), max(2, shape[1] // 4)), rng, strength).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize(shape[::-1], Image.Resampling.BILINEAR))


def _on_paper(alpha: np.ndarray, rng: np.random.Generator, style: str) -> Image.Image:
    """The ink map written with a dark pen: on a white page (clean), scanned paper or a photo."""
    if style == "clean":
        return Image.fromarray(np.clip((1 - alpha) * 255 + 0.5, 0, 255).astype(np.uint8), mode="L")
    shape = (alpha.shape[0], alpha.shape[1])
    phone = style == "photo" or rng.random() < K.camera_share  # paper.camera blurs and adds sensor noise
    paper = rng.uniform(0.8, 0.98)
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)], np.float32)
    strength = rng.uniform(0.15, 0.4) if style == "photo" else rng.uniform(0.02, 0.12)
    base = np.float32(paper) * _coarse(illumination, shape, rng, strength)
    if not phone:  # a scan: the paper's grain and a slight blur of the ink (a camera's noise and blur hide both)
        base *= 1.0 + np.float32(rng.uniform(0.005, 0.02)) * smooth_noise(shape, rng.uniform(2, 6), rng)
        alpha = ndimage.gaussian_filter(alpha, rng.uniform(0.3, 0.8))
    ink = np.clip(np.asarray(dark_ink(rng), np.float32) / paper + rng.uniform(0.0, 0.1), 0, 1)
    # ink transmits a share of the paper's light (paper.paste with multiply=True, in one pass)
    canvas = base[..., None] * (tint - alpha[..., None] * (tint * (1 - ink) * np.float32(rng.uniform(0.8, 1.0))))
    if style == "photo" and rng.random() < 0.3:
        h, w = shape
        with np.errstate(over="ignore"):  # the shadow's soft edge saturates far from it
            phone_shadow(canvas, rng, rng.uniform(0, 2 * math.pi), h * rng.uniform(0.2, 0.8), w * rng.uniform(0.2, 0.8))
    elif style == "paper" and rng.random() < 0.3:
        specks(canvas, rng)
    return camera(canvas, rng) if phone else to_image(canvas, gray=rng.random() < 0.4)


def render(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    gap: float,
    *,
    dash_at: int | None = None,
    style: str = "paper",
    source: str = "",
    mark: str = "-",
) -> Number:
    """``n`` random digits of ``images`` (white on black uint8) written as one number, ``gap`` (share of the
    digit height, negative overlaps) between neighbouring ink boxes, ``mark`` (a dash, a slash) before
    digit ``dash_at``."""
    pick = rng.choice(len(images), size=n, replace=n > len(images))
    glyphs, values = [images[i] for i in pick], [int(labels[i]) for i in pick]
    return compose(rng, glyphs, values, gap, dash_at=dash_at, style=style, source=source, mark=mark)


def render_set(
    source: str,
    count: int,
    gaps: tuple[float, float],
    lengths: tuple[int, int] = (2, 12),
    seed: int = 0,
    styles: tuple[str, ...] = ("paper", "photo"),
    dated: bool = False,
) -> list[Number]:
    """``count`` numbers from ``source``'s digits: gap uniform in ``gaps``, length uniform in ``lengths``
    (inclusive), style drawn from ``styles``; number ``i`` depends only on (seed, i). ``dated``: each
    with a slash between two of its digits (a date, a fraction) instead of the odd dash."""
    images, labels = digits_of(source)
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        gap = float(rng.uniform(*gaps))
        style = str(rng.choice(list(styles)))
        dash: int | None
        if dated:
            mark, dash = "/", int(rng.integers(1, n))
        else:
            mark, dash = "-", int(rng.integers(2, n - 1)) if n >= 4 and rng.random() < K.dash_share else None
        out.append(render(rng, images, labels, n, gap, dash_at=dash, style=style, source=source, mark=mark))
    return out


def write(numbers: list[Number], folder: Path, fmt: str = "png") -> list[Path]:
    """Each number's picture as ``folder/00000.<ext>``... (``fmt`` a PIL format) and ``labels.csv``
    (file,text,digits,gap,source); returns the pictures' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, number in enumerate(numbers):
        path = folder / f"{i:05d}.{EXTENSIONS.get(fmt, fmt)}"
        number.image.save(path, format=fmt.upper(), **({"quality": 85} if fmt == "jpeg" else {}))
        paths.append(path)
    with open(folder / "labels.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "text", "digits", "gap", "source"])
        out.writerows((p.name, n.text, n.digits, f"{n.gap:.4f}", n.source) for p, n in zip(paths, numbers))
    return paths
