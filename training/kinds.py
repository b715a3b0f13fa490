"""The kinds of realistic picture: one function per kind, ``(digit, rng) -> PIL.Image.Image``.

Each turns one MNIST digit (28x28 uint8, white ink on black) into a picture a user might drop,
drawing every free parameter (size, position, stroke width, colours, contrast, noise) from ``rng``.
Strokes come from :mod:`training.pens`, paper and light from :mod:`training.paper`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from .paper import (
    board_smudge,
    camera,
    canvas_of,
    canvas_size,
    dark_ink,
    digit_height,
    edge_shadow,
    illumination,
    paste,
    phone_shadow,
    position,
    resize_to,
    smooth_noise,
    specks,
    to_image,
)
from .pens import own_strokes, pen_alpha, pen_paths, scaled, stroke_alpha


def small(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """The seed tutorial's kind: MNIST upscaled to 40-80 px square and inverted (dark on white, PNG)."""
    side = int(rng.integers(40, 81))
    src = np.asarray(digit, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(src > 0.1)
    if len(rows):  # shift by up to two pixels, never pushing ink off the frame
        dy = rng.integers(-max(0, min(2, rows.min() - 1)), max(0, min(2, 26 - rows.max())) + 1)
        dx = rng.integers(-max(0, min(2, cols.min() - 1)), max(0, min(2, 26 - cols.max())) + 1)
        src = np.pad(src, 2)[2 - dy : 30 - dy, 2 - dx : 30 - dx]
    resample = rng.choice([Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS])
    up = np.clip(np.asarray(Image.fromarray(src, mode="F").resize((side, side), resample)), 0, 1)
    grow = rng.choice([0, 0, 0, 1, -1])
    if grow:
        up = (ndimage.grey_dilation if grow > 0 else ndimage.grey_erosion)(up, size=(2, 2))
    paper, ink = rng.uniform(0.9, 1.0), rng.uniform(0.0, 0.2)
    gray = paper - (paper - ink) * up
    return Image.fromarray(np.clip(gray * 255 + 0.5, 0, 255).astype(np.uint8), mode="L")


def thin_pen(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A thin pen drawing (1.5-4 px, black or dark blue) on a big white 500-1200 px paint-program canvas."""
    shape = canvas_size(rng, 500, 1200)
    height = digit_height(shape, rng.uniform(0.3, 0.9))
    width = rng.uniform(1.5, 4.0)
    aa = rng.random() < 0.75  # most paint programs anti-alias; MS Paint's pencil does not
    alpha = stroke_alpha(digit, height, width, rng, shape, antialias=aa, jitter=rng.uniform(0, 0.4) * height / 100)
    canvas = canvas_of(shape, (1.0, 1.0, 1.0))
    ink = (0.0, 0.0, 0.0) if rng.random() < 0.6 else (rng.uniform(0, 0.1), rng.uniform(0, 0.15), rng.uniform(0.4, 0.65))
    paste(canvas, alpha, ink, *position(shape, alpha.shape, rng))
    return to_image(canvas, gray=rng.random() < 0.15)


def marker(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Thick marker strokes (8-40 px, round joints) on a light 200-800 px canvas."""
    shape = canvas_size(rng, 200, 800)
    height = digit_height(shape, rng.uniform(0.45, 0.9))
    width = float(np.clip(rng.uniform(0.07, 0.2) * height, 8, 40))
    height = max(height, width * 4.5)  # keep a 40 px marker from closing the loops of a small digit
    if rng.random() < 0.7:
        alpha = stroke_alpha(digit, height - width, width, rng, shape)
    else:  # the writer's own stroke shape, grown to a marker's width
        target = width / height * 20  # the marker's width at MNIST scale (digits are 20 px tall there)
        alpha = own_strokes(digit, height, rng, (target, target), shape)
    paper = rng.choice([1.0, rng.uniform(0.88, 1.0)])
    canvas = canvas_of(shape, (paper, paper, paper * rng.uniform(0.94, 1.0)))
    ink = (
        dark_ink(rng)
        if rng.random() < 0.8
        else (rng.uniform(0.45, 0.7), rng.uniform(0.0, 0.15), rng.uniform(0.0, 0.15))
    )
    paste(canvas, alpha * rng.uniform(0.85, 1.0), ink, *position(shape, alpha.shape, rng))
    return to_image(canvas, gray=rng.random() < 0.2)


def scan(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A scanned page: grey-ish uneven paper, small ink digit, noise, blur, specks, an edge shadow (JPEG)."""
    shape = canvas_size(rng, 400, 1600, square=0.2)
    h, w = shape
    level = rng.uniform(0.6, 0.95)
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)], np.float32)
    light = illumination(shape, rng, rng.uniform(0.05, 0.35))
    texture = 1.0 + rng.uniform(0.005, 0.025) * smooth_noise(shape, rng.uniform(2, 6), rng)
    blotch = 1.0 + rng.uniform(0.0, 0.03) * smooth_noise(shape, rng.uniform(40, 150), rng)
    canvas = (level * light * texture * blotch)[..., None] * tint

    height = digit_height(shape, rng.uniform(0.08, 0.4))
    if rng.random() < 0.5:
        alpha = stroke_alpha(digit, height, max(1.5, rng.uniform(0.04, 0.12) * height), rng, shape, jitter=0.3)
    else:
        alpha = own_strokes(digit, height, rng, (1.5, 3.5), shape)
    alpha = alpha * np.clip(1 - 0.12 * np.abs(smooth_noise(alpha.shape, max(3.0, height / 15), rng)), 0, 1)
    ink = np.array(dark_ink(rng)) / max(level, 1e-3)  # ink transmits a fraction of the paper's light
    paste(
        canvas,
        alpha * rng.uniform(0.75, 1.0),
        np.clip(ink + rng.uniform(0.05, 0.2), 0, 1),
        *position(shape, alpha.shape, rng, 0.06),
        multiply=True,
    )

    if rng.random() < 0.5:
        specks(canvas, rng)
    if rng.random() < 0.4:
        edge_shadow(canvas, rng)
    if rng.random() < 0.6:
        canvas = ndimage.gaussian_filter(canvas, (rng.uniform(0.4, 1.3),) * 2 + (0,))
    canvas = canvas + rng.normal(0, rng.uniform(0.008, 0.035), (h, w, 1)).astype(np.float32)
    return to_image(canvas, gray=rng.random() < 0.35)


def pencil(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Faint grey pencil strokes (contrast 0.15-0.4) with graphite grain on white/off-white paper."""
    shape = canvas_size(rng, 200, 800)
    height = digit_height(shape, rng.uniform(0.4, 0.85))
    width = float(np.clip(rng.uniform(0.015, 0.05) * height, 1.5, 10.0))
    paths = pen_paths(digit, height, rng, max_width=0.9 * shape[1])
    if not paths:
        alpha = own_strokes(digit, height, rng, (1.2, 2.5), shape)
    else:
        alpha = pen_alpha(paths, width, jitter=rng.uniform(0.2, 0.8), rng=rng)
    if paths and rng.random() < 0.35:  # sketchy: a second pass over the same lines, slightly off
        again = pen_alpha([p + rng.normal(0, width * 0.4, 2) for p in paths], width * 0.8, jitter=width * 0.4, rng=rng)
        alpha = np.maximum(alpha, resize_to(again, alpha.shape) * rng.uniform(0.6, 0.9))
    grain = np.clip(0.6 + 0.4 * smooth_noise(alpha.shape, 1.5, rng), 0.1, 1.0)
    alpha = alpha * grain
    paper = rng.uniform(0.9, 1.0)
    canvas = canvas_of(shape, (paper, paper, paper * rng.uniform(0.93, 1.0)))
    contrast = rng.uniform(0.15, 0.4)
    ink = (paper - contrast,) * 3
    paste(canvas, alpha, ink, *position(shape, alpha.shape, rng, 0.05))
    canvas = canvas + rng.normal(0, rng.uniform(0.004, 0.015), (*shape, 1)).astype(np.float32)
    return to_image(canvas, gray=rng.random() < 0.5)


def light_on_dark(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Chalk on a board: light, broken strokes on black / dark green / dark grey with smudges and noise."""
    shape = canvas_size(rng, 100, 800)
    board = {
        "black": (rng.uniform(0.02, 0.1),) * 3,
        "green": (rng.uniform(0.08, 0.16), rng.uniform(0.18, 0.3), rng.uniform(0.12, 0.2)),
        "grey": (rng.uniform(0.14, 0.28),) * 3,
    }[str(rng.choice(["black", "green", "grey"]))]
    canvas = canvas_of(shape, board)
    canvas = canvas + board_smudge(shape, rng)[..., None]
    height = digit_height(shape, rng.uniform(0.4, 0.85))
    width = max(2.0, rng.uniform(0.05, 0.13) * height)
    alpha = stroke_alpha(digit, height, width, rng, shape, jitter=rng.uniform(0, 0.6))
    chalk = np.clip(rng.uniform(0.6, 0.9) + 0.45 * smooth_noise(alpha.shape, rng.uniform(1.0, 2.5), rng), 0, 1)
    chalk = ndimage.gaussian_filter(chalk, 0.6)
    level = rng.uniform(0.75, 0.97)
    paste(canvas, alpha * chalk, (level, level, level * rng.uniform(0.92, 1.0)), *position(shape, alpha.shape, rng))
    canvas = canvas + rng.normal(0, rng.uniform(0.01, 0.035), (*shape, 1)).astype(np.float32)
    return to_image(canvas, gray=rng.random() < 0.3)


def rgba(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Black strokes on a fully transparent canvas (RGBA; alpha carries the ink, RGB = 0 where transparent)."""
    shape = canvas_size(rng, 100, 600)
    height = digit_height(shape, rng.uniform(0.4, 0.9))
    if rng.random() < 0.7:
        alpha = stroke_alpha(digit, height, max(2.0, rng.uniform(0.04, 0.14) * height), rng, shape)
    else:
        alpha = own_strokes(digit, height, rng, (1.5, 3.5), shape)
    a = np.zeros(shape, np.float32)
    top, left = position(shape, alpha.shape, rng)
    a[top : top + alpha.shape[0], left : left + alpha.shape[1]] = alpha[: shape[0] - top, : shape[1] - left]
    out = np.zeros((*shape, 4), np.uint8)
    out[..., 3] = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="RGBA")


def off_centre(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A small digit (10-25% of the canvas) near one corner of a white 300-900 px canvas."""
    shape = canvas_size(rng, 300, 900)
    h, w = shape
    height = digit_height(shape, rng.uniform(0.1, 0.25))
    if rng.random() < 0.5:
        alpha = stroke_alpha(digit, height, max(1.5, rng.uniform(0.06, 0.14) * height), rng, shape)
    else:
        alpha = own_strokes(digit, height, rng, (1.5, 3.5), shape)
    ah, aw = alpha.shape
    region = rng.uniform(0.03, 0.3, 2)  # distance from the corner, as a fraction of the canvas
    top, left = int(region[0] * (h - ah)), int(region[1] * (w - aw))
    if rng.random() < 0.5:
        top = h - ah - top
    if rng.random() < 0.5:
        left = w - aw - left
    paper = rng.uniform(0.94, 1.0)
    canvas = canvas_of(shape, (paper,) * 3)
    paste(canvas, alpha, dark_ink(rng), top, left)
    return to_image(canvas, gray=rng.random() < 0.3)


def tight(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A digit cropped tight to its ink (0-2 px of margin at MNIST's scale), 1-10x, either polarity:
    what a user gets cropping a drawing or a scan down to the digit."""
    src = np.asarray(digit, np.float32) / 255.0
    rows, cols = np.nonzero(src > 0.15)
    if len(rows) == 0:
        rows, cols = np.array([0, 27]), np.array([0, 27])
    m = int(rng.integers(0, 3))
    crop = src[max(0, rows.min() - m) : rows.max() + 1 + m, max(0, cols.min() - m) : cols.max() + 1 + m]
    if rng.random() < 0.5:  # a square crop: the short side padded
        h, w = crop.shape
        side = max(h, w)
        crop = np.pad(
            crop, (((side - h) // 2, side - h - (side - h) // 2), ((side - w) // 2, side - w - (side - w) // 2))
        )
    scale = rng.uniform(1, 10)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    up = np.clip(np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BICUBIC)), 0, 1)
    if rng.random() < 0.6:
        up = 1.0 - up
    return Image.fromarray(np.clip(up * 255 + 0.5, 0, 255).astype(np.uint8), mode="L")


def marked(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A pen digit with a mark drawn round or under it by the same hand, apart from it: a ring (its
    ends may stop short or overlap), a box (its last side may stop short) or an underline."""
    shape = canvas_size(rng, 300, 900)
    h, w = shape
    height = digit_height(shape, rng.uniform(0.2, 0.32))
    width = max(2.0, rng.uniform(0.04, 0.1) * height)
    alpha = stroke_alpha(digit, height, width, rng, shape)
    ah, aw = alpha.shape
    cy, cx = h / 2 + rng.uniform(-0.03, 0.03) * h, w / 2 + rng.uniform(-0.03, 0.03) * w
    top, left = int(cy - ah / 2), int(cx - aw / 2)
    mark = rng.choice(["ring", "box", "underline"])
    if mark == "ring":
        ry, rx = ah * rng.uniform(0.7, 0.85) + width, max(aw, 0.5 * ah) * rng.uniform(0.7, 0.85) + width
        a = rng.uniform(0, 2 * math.pi) + np.linspace(0, 2 * math.pi * rng.uniform(0.95, 1.05), 120)
        path = np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)
    elif mark == "box":
        m = rng.uniform(0.15, 0.35) * ah + width
        t, b, l, r = top - m, top + ah + m, left - m, left + aw + m
        corners = [(l, t), (r, t), (r, b), (l, b), (l, t + rng.uniform(0, 0.1) * ah)]
        path = np.array(corners) + rng.uniform(-0.03, 0.03, (5, 2)) * ah
    else:
        y = top + ah + rng.uniform(0.08, 0.25) * ah + width
        path = np.array(
            [
                (left - rng.uniform(0, 0.3) * aw, y),
                (left + aw + rng.uniform(0, 0.3) * aw, y + rng.uniform(-0.05, 0.05) * ah),
            ]
        )
    # A mark running off the canvas would be cut onto the digit: the digit and its mark are drawn
    # smaller instead, about the canvas's middle, so the mark stays apart from the digit.
    lo, hi = np.array([width + 1, width + 1]), np.array([w - width - 2, h - width - 2])
    middle = np.array([w / 2, h / 2])
    fit = _shrink_to_fit(path, middle, lo, hi)
    if fit < 1.0:
        path = (path - middle) * fit + middle
        alpha = scaled(alpha, fit)
        top = int(h / 2 + (top - h / 2) * fit)
        left = int(w / 2 + (left - w / 2) * fit)
        width = max(1.0, width * fit)
    path = np.clip(path, lo, hi)
    paper = rng.uniform(0.94, 1.0)
    canvas = canvas_of(shape, (paper,) * 3)
    ink = dark_ink(rng)
    paste(canvas, alpha, ink, top, left)
    pad = round(width + 2)
    paste(canvas, pen_alpha([path], width), ink, -pad, -pad)
    return to_image(canvas, gray=rng.random() < 0.3)


def _shrink_to_fit(path: np.ndarray, centre: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """The largest scale (at most 1) about ``centre`` that brings every (x, y) point of ``path``
    within ``lo``..``hi``."""
    d = path - centre
    room = np.where(d > 0, (hi - centre) / np.maximum(d, 1e-9), (lo - centre) / np.minimum(d, -1e-9))
    return float(min(1.0, room.min()))


DESKS = [(0.45, 0.3, 0.18), (0.25, 0.25, 0.27), (0.6, 0.6, 0.58), (0.1, 0.1, 0.1), (0.7, 0.55, 0.4)]


def photo(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a sheet with a pen digit on it, lying askew on a desk that shows around it:
    wood, grey, black or light grey, textured; light falling off, sometimes a soft shadow of the
    phone across it; 900-2400 px, blurred a little, noisy (JPEG)."""
    h = int(rng.integers(900, 2401))
    w = int(h * rng.choice([0.75, 4 / 3, 1.0]))
    desk = np.asarray(DESKS[int(rng.integers(len(DESKS)))], np.float32) * rng.uniform(0.7, 1.1)
    canvas = np.broadcast_to(desk, (h, w, 3)) * (1 + 0.08 * smooth_noise((h, w), rng.uniform(5, 40), rng))[..., None]
    # The sheet: 60-110% of the frame each way, turned up to 12 degrees, corners off by perspective.
    ph, pw = h * rng.uniform(0.6, 1.1), w * rng.uniform(0.6, 1.1)
    cy, cx = h / 2 + rng.uniform(-0.15, 0.15) * h, w / 2 + rng.uniform(-0.15, 0.15) * w
    a = math.radians(rng.uniform(-12, 12))
    turn = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    corners = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]]) @ turn.T + [cx, cy]
    corners += rng.normal(0, 0.02 * min(h, w), corners.shape)
    outline = Image.new("L", (w, h), 0)
    ImageDraw.Draw(outline).polygon([tuple(c) for c in corners], fill=255)
    on_sheet = ndimage.gaussian_filter(np.asarray(outline, np.float32) / 255.0, 1.0)[..., None]
    paper = rng.uniform(0.8, 1.0)
    sheet = np.array([paper, paper * rng.uniform(0.95, 1.0), paper * rng.uniform(0.85, 1.0)], np.float32)
    canvas = canvas * (1 - on_sheet) + sheet * on_sheet
    side = min(ph, pw)
    height = side * rng.uniform(0.15, 0.5)
    inner = [cx, cy] + 0.9 * (corners - [cx, cy])
    alpha, top, left = _written_on(inner, digit, height, side, (cy, cx), rng, (h, w))
    paste(canvas, alpha * rng.uniform(0.8, 1.0), np.array(dark_ink(rng)) / paper, top, left, multiply=True)
    canvas *= illumination((h, w), rng, rng.uniform(0.1, 0.4))[..., None]
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        x = w * rng.uniform(0.2, 0.8)
        phone_shadow(canvas, rng, angle, h * rng.uniform(0.2, 0.8), x)
    return camera(canvas, rng)


def shadow(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a sheet that fills the picture, the phone's soft-edged shadow falling across
    the digit (10-35% darker), light falling off; 900-2000 px, blurred a little, noisy (JPEG)."""
    h = int(rng.integers(900, 2001))
    w = int(h * rng.choice([0.75, 4 / 3, 1.0]))
    paper = rng.uniform(0.8, 1.0)
    canvas = canvas_of((h, w), (paper, paper * rng.uniform(0.95, 1.0), paper * rng.uniform(0.85, 1.0)))
    height = min(h, w) * rng.uniform(0.15, 0.5)
    alpha = stroke_alpha(digit, height, max(2.0, rng.uniform(0.03, 0.1) * height), rng, (h, w), jitter=0.3)
    top, left = position((h, w), alpha.shape, rng, 0.15)
    paste(canvas, alpha * rng.uniform(0.8, 1.0), np.array(dark_ink(rng)) / paper, top, left, multiply=True)
    canvas *= illumination((h, w), rng, rng.uniform(0.1, 0.4))[..., None]
    angle = rng.uniform(0, 2 * math.pi)
    y = top + alpha.shape[0] * rng.uniform(0.2, 0.8)
    phone_shadow(canvas, rng, angle, y, left + alpha.shape[1] * rng.uniform(0.2, 0.8))
    return camera(canvas, rng)


def _written_on(
    inner: np.ndarray,
    digit: np.ndarray,
    height: float,
    side: float,
    centre: tuple[float, float],
    rng: np.random.Generator,
    shape: tuple[int, int],
) -> tuple[np.ndarray, int, int]:
    """The digit's pen strokes and (top, left), its box inside the sheet shrunk to ``inner``: a person
    writes on the sheet, never onto the desk. Tried at 20 places near the sheet's ``centre``, then
    drawn smaller (at most 10 sizes)."""
    cy, cx = centre
    for _ in range(10):
        alpha = stroke_alpha(digit, height, max(2.0, rng.uniform(0.03, 0.1) * height), rng, shape, jitter=0.3)
        for _ in range(20):
            top = int(cy - alpha.shape[0] / 2 + rng.uniform(-0.2, 0.2) * side)
            left = int(cx - alpha.shape[1] / 2 + rng.uniform(-0.2, 0.2) * side)
            bottom, right = top + alpha.shape[0], left + alpha.shape[1]
            if all(_inside(inner, point) for point in ((left, top), (right, top), (left, bottom), (right, bottom))):
                return alpha, top, left
        height *= 0.8
    return alpha, top, left


def _inside(polygon: np.ndarray, point: tuple[float, float]) -> bool:
    """Whether ``point`` (x, y) lies inside the convex ``polygon`` (corners in order, either way round)."""
    signs = []
    for k in range(len(polygon)):
        (ax, ay), (bx, by) = polygon[k], polygon[(k + 1) % len(polygon)]
        signs.append((bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax))
    return all(v >= 0 for v in signs) or all(v <= 0 for v in signs)


KINDS: dict[str, Callable[[np.ndarray, np.random.Generator], Image.Image]] = {
    "small": small,
    "thin_pen": thin_pen,
    "marker": marker,
    "scan": scan,
    "pencil": pencil,
    "light_on_dark": light_on_dark,
    "rgba": rgba,
    "off_centre": off_centre,
    "tight": tight,
    "photo": photo,
    "shadow": shadow,
    "marked": marked,
}
