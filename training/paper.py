"""Paper, light and compositing for :mod:`training.realistic`'s kinds: canvases, where the digit
goes, ink colours, uneven light, texture, dust, shadows and what a camera adds.

A canvas is an (h, w, 3) float32 array in 0..1; :func:`paste` lays ink coverage (from
:mod:`training.pens`) onto it and :func:`to_image` turns it into an 8-bit picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage


def smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std random field with features about ``scale`` px wide."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.normal(0, 1, (sh, sw)).astype(np.float32)
    big = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    return (big - big.mean()) / max(float(big.std()), 1e-6)


def illumination(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative light falloff: a linear ramp in a random direction times a vignette."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    yy, xx = yy / max(h - 1, 1) - 0.5, xx / max(w - 1, 1) - 0.5
    a = rng.uniform(0, 2 * math.pi)
    ramp = (xx * math.cos(a) + yy * math.sin(a)) * rng.uniform(0.3, 1.0) * strength
    cy, cx = rng.uniform(-0.2, 0.2, 2)
    vignette = ((xx - cx) ** 2 + (yy - cy) ** 2) * rng.uniform(0.2, 1.0) * strength * 1.5
    return np.clip(1.0 + ramp - vignette, 0.3, 1.2)


def canvas_of(shape: tuple[int, int], color: Sequence[float]) -> np.ndarray:
    """An (h, w, 3) float canvas of one colour."""
    return np.broadcast_to(np.asarray(color, np.float32), (*shape, 3)).copy()


def paste(
    canvas: np.ndarray,
    alpha: np.ndarray,
    ink: Sequence[float] | np.ndarray,
    top: int,
    left: int,
    multiply: bool = False,
) -> None:
    """Lay ink of colour ``ink`` with coverage ``alpha`` onto ``canvas`` at (top, left), clipped to the canvas."""
    h, w = canvas.shape[:2]
    t, l = max(top, 0), max(left, 0)
    b, r = min(top + alpha.shape[0], h), min(left + alpha.shape[1], w)
    if b <= t or r <= l:
        return
    a = alpha[t - top : b - top, l - left : r - left, None]
    region = canvas[t:b, l:r]
    ink_arr = np.asarray(ink, np.float32)
    target = region * ink_arr if multiply else ink_arr
    canvas[t:b, l:r] = region * (1 - a) + target * a


def position(
    canvas: tuple[int, int], size: tuple[int, int], rng: np.random.Generator, margin: float = 0.02
) -> tuple[int, int]:
    """Random (top, left) keeping a ``size`` box inside ``canvas`` (with a small margin when it fits)."""
    (ch, cw), (h, w) = canvas, size
    my, mx = int(ch * margin), int(cw * margin)
    top = rng.integers(min(my, max(ch - h, 0)), max(ch - h - my, min(my, max(ch - h, 0))) + 1)
    left = rng.integers(min(mx, max(cw - w, 0)), max(cw - w - mx, min(mx, max(cw - w, 0))) + 1)
    return int(top), int(left)


def canvas_size(rng: np.random.Generator, lo: int, hi: int, square: float = 0.4) -> tuple[int, int]:
    """(height, width) between lo and hi; square with probability ``square``, else a page-ish aspect."""
    h = int(rng.integers(lo, hi + 1))
    if rng.random() < square:
        return h, h
    w = int(np.clip(h * rng.choice([rng.uniform(0.7, 1.45), 1 / 1.414, 1.414, 4 / 3, 3 / 4]), lo * 0.7, hi * 1.1))
    return h, w


def to_image(canvas: np.ndarray, gray: bool = False) -> Image.Image:
    """Float RGB canvas (0..1) -> 8-bit PIL image (mode L when ``gray``)."""
    arr = np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if gray:
        lum = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
        return Image.fromarray(np.clip(lum + 0.5, 0, 255).astype(np.uint8), mode="L")
    return Image.fromarray(arr, mode="RGB")


def digit_height(canvas: tuple[int, int], frac: float, aspect_room: float = 0.95) -> float:
    """Digit height = ``frac`` of the canvas height, capped so even a wide digit fits the width."""
    h, w = canvas
    return max(6.0, min(frac * h, aspect_room * w, aspect_room * h))


def dark_ink(rng: np.random.Generator) -> tuple[float, float, float]:
    """Black, dark-grey or dark-blue ink."""
    kind = rng.choice(["black", "grey", "blue"], p=[0.55, 0.15, 0.3])
    if kind == "black":
        return (rng.uniform(0, 0.08),) * 3
    if kind == "grey":
        return (rng.uniform(0.15, 0.3),) * 3
    return (rng.uniform(0.0, 0.1), rng.uniform(0.05, 0.2), rng.uniform(0.35, 0.6))


def specks(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A few dark dust specks and hairs."""
    h, w = canvas.shape[:2]
    for _ in range(int(rng.integers(1, 9))):
        r = rng.uniform(0.6, 2.5) * max(h, w) / 800
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        yy, xx = np.ogrid[max(0, int(y - 3 * r)) : int(y + 3 * r) + 1, max(0, int(x - 3 * r)) : int(x + 3 * r) + 1]
        dot = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * r * r))[..., None]
        region = canvas[yy.min() : yy.max() + 1, xx.min() : xx.max() + 1]
        region *= 1 - rng.uniform(0.4, 0.9) * dot[: region.shape[0], : region.shape[1]]


def edge_shadow(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Darken a strip along one edge: the scanner lid's shadow where the page ends."""
    h, w = canvas.shape[:2]
    side = rng.integers(4)
    n = h if side < 2 else w
    depth = max(3, int(n * rng.uniform(0.005, 0.035)))
    falloff = np.linspace(0, 1, depth, dtype=np.float32) ** rng.uniform(0.5, 2.0)
    dark = rng.uniform(0.05, 0.3)
    profile = dark + (1 - dark) * falloff  # edge -> inside
    length = w if side < 2 else h
    wobble = 1 + 0.15 * smooth_noise((1, length), length / 4, rng)[0]
    strip = np.clip(1 - (1 - profile[:, None]) * wobble[None, :], 0, 1)  # (depth, length)
    if side == 0:
        canvas[:depth] *= strip[..., None]
    elif side == 1:
        canvas[-depth:] *= strip[::-1, :, None]
    elif side == 2:
        canvas[:, :depth] *= strip.T[..., None]
    else:
        canvas[:, -depth:] *= strip.T[:, ::-1, None]


def board_smudge(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Chalk dust left by a board wiper: soft, mostly horizontal streaks and clouds (added light)."""
    h, w = shape
    small = rng.normal(0, 1, (int(rng.integers(6, 20)), 3)).astype(np.float32)
    streaks = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    clouds = smooth_noise(shape, max(h, w) / rng.uniform(2, 5), rng)
    dust = 0.5 * np.tanh(streaks) + 0.5 * np.tanh(clouds) + 1.0
    return dust * rng.uniform(0.0, 0.04)


def phone_shadow(canvas: np.ndarray, rng: np.random.Generator, angle: float, y: float, x: float) -> None:
    """Darken ``canvas`` by 10-35% on one side of a line through (``y``, ``x``) at ``angle``, with a
    soft edge (2-10% of the shorter side): a phone's or a hand's shadow."""
    h, w = canvas.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    d = (xx - x) * math.cos(angle) + (yy - y) * math.sin(angle)
    canvas *= (1 - rng.uniform(0.1, 0.35) / (1 + np.exp(-d / (rng.uniform(0.02, 0.1) * min(h, w)))))[..., None]


def camera(canvas: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """What a phone camera adds to a scene: a little blur and sensor noise."""
    canvas = ndimage.gaussian_filter(canvas, (rng.uniform(0.5, 1.8),) * 2 + (0,))
    canvas = canvas + rng.normal(0, rng.uniform(0.01, 0.03), (*canvas.shape[:2], 1)).astype(np.float32)
    return to_image(canvas)


def resize_to(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop or zero-pad a 2-D array to ``shape`` (top-left aligned)."""
    out = np.zeros(shape, a.dtype)
    h, w = min(shape[0], a.shape[0]), min(shape[1], a.shape[1])
    out[:h, :w] = a[:h, :w]
    return out
