"""Realistic user images of handwritten digits, made from MNIST digits.

Users do not drop MNIST: they drop pen drawings from a paint program, marker
strokes, phone photos of a sheet on a desk or under a shadow, flatbed scans, faint pencil, chalk
on a board, transparent PNGs, digits cropped tight and small digits in a corner
of a big page. Each *kind* below
is a pure function ``(digit, rng) -> PIL.Image.Image`` that turns one MNIST
digit (28x28 uint8, white ink on black) into such a picture, drawing every
free parameter (size, position, stroke width, colours, contrast, noise) from
the given :class:`numpy.random.Generator`.

Two uses: ``bench/accuracy.py`` measures recognition on such pictures of MNIST
*test* digits, and the robust recipe also trains on pictures of *training*
digits (:mod:`training.rendered`).

:func:`write_set` writes a labelled set of such files in varied formats
(PNG, JPEG, TIFF, BMP, WebP) plus ``labels.csv`` (columns file,label,kind).

Only numpy, Pillow and scipy are needed (no TensorFlow, no scikit-image).
Strokes are built two ways:

* *bitmap*: the digit upscaled smoothly, thresholded with a soft edge and
  grown or shrunk by a grey morphology - keeps the writer's own stroke shape;
* *pen*: the digit's skeleton (Zhang-Suen thinning of the upscaled digit),
  traced into polylines, smoothed, and redrawn with a chosen pen width -
  what a drawing made with a mouse, tablet or marker looks like.

A skeleton only stands for a digit written with an even pen. Where the writer's
ink ran into a blot (a loop of a 6, 8 or 9 filled in, a 3 whose middle cusp
drowned), the blot thins to a line of another shape - a filled 6 becomes an
"l", a 9 a "7" - and redrawing that line would test the generator, not the
recogniser. Such digits (:func:`is_blotted`, about 3% of MNIST, mostly 2s and 6s) are drawn with
the writer's own strokes in every kind.
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from digitwatch.training.strokes import zhang_suen
from PIL import Image, ImageDraw
from scipy import ndimage

UP = 4  # upscale factor of the 28x28 digit before thresholding / thinning

# --------------------------------------------------------------------------
# Skeleton: Zhang-Suen thinning and tracing into smooth polylines
# --------------------------------------------------------------------------


def _neighbours(skel: np.ndarray) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Graph of skeleton pixels; a diagonal link is dropped when a 4-neighbour path already joins the two."""
    pts = set(zip(*np.nonzero(skel)))
    graph: dict[tuple[int, int], list[tuple[int, int]]] = {p: [] for p in pts}
    for y, x in pts:
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                q = (y + dy, x + dx)
                if (dy or dx) and q in pts:
                    if dy and dx and ((y + dy, x) in pts or (y, x + dx) in pts):
                        continue
                    graph[(y, x)].append(q)
    return graph


def _trace(graph: dict[tuple[int, int], list[tuple[int, int]]]) -> list[np.ndarray]:
    """Split a skeleton graph into polylines between end points / junctions (and closed loops)."""
    seen: set[frozenset] = set()
    paths: list[np.ndarray] = []

    def walk(start, nxt):
        path = [start, nxt]
        seen.add(frozenset((start, nxt)))
        prev, cur = start, nxt
        while len(graph[cur]) == 2:
            step = graph[cur][0] if graph[cur][0] != prev else graph[cur][1]
            edge = frozenset((cur, step))
            if edge in seen:
                break
            seen.add(edge)
            path.append(step)
            prev, cur = cur, step
        return np.asarray(path, dtype=np.float64)

    keys = sorted(p for p, n in graph.items() if len(n) != 2)
    for p in keys:
        for q in graph[p]:
            if frozenset((p, q)) not in seen:
                paths.append(walk(p, q))
    for p in sorted(graph):  # loops without end points or junctions (an "0")
        for q in graph[p]:
            if frozenset((p, q)) not in seen:
                paths.append(walk(p, q))
    paths += [np.asarray([p], dtype=np.float64) for p in keys if not graph[p]]  # isolated dots
    return paths


def _smooth(path: np.ndarray, window: int) -> np.ndarray:
    """Moving-average a polyline (end points kept; closed loops wrap)."""
    if len(path) < 3 or window < 2:
        return path
    closed = len(path) > 3 and np.abs(path[0] - path[-1]).max() <= 1
    k = min(window, len(path) - 1) | 1
    kernel = np.ones(k) / k
    if closed:
        ext = np.concatenate([path[-k:], path, path[:k]])
        out = np.stack([np.convolve(ext[:, i], kernel, "same") for i in range(2)], 1)[k:-k]
    else:
        ext = np.concatenate([np.repeat(path[:1], k, 0), path, np.repeat(path[-1:], k, 0)])
        out = np.stack([np.convolve(ext[:, i], kernel, "same") for i in range(2)], 1)[k:-k]
        out[0], out[-1] = path[0], path[-1]
    return out


BLOT_RATIO = 1.85  # thickest / typical half-width along the skeleton above which a digit is blotted


def is_blotted(digit: np.ndarray, threshold: float = 0.45) -> bool:
    """True when the digit's strokes swell into blots: the 97th percentile of the stroke's half-width
    along its skeleton exceeds BLOT_RATIO times the median (an even pen stays near 1.2-1.6)."""
    mask = _upscale(digit, UP) > threshold
    skeleton = zhang_suen(mask)
    if not skeleton.any():
        return False
    half = ndimage.distance_transform_edt(mask)[skeleton]
    return float(np.quantile(half, 0.97)) > BLOT_RATIO * float(np.median(half))


def digit_strokes(
    digit: np.ndarray, threshold: float = 0.45, spur: int = 6, spur_width: float = 0.8, window: int = 7
) -> list[np.ndarray]:
    """Polylines ((n, 2) arrays of (x, y), in 28x28 pixel units) following the centre of the digit's strokes.

    Thinning leaves spurs: short branches from a junction to a free end, made by
    the corners of a blunt, thick stroke end. A branch is dropped when it is
    shorter than ``spur`` pixels (at 4x scale) or than ``spur_width`` times the
    stroke's half-width at its junction.
    """
    up = _upscale(digit, UP)
    mask = up > threshold
    paths = _trace(_neighbours(zhang_suen(mask)))
    if not paths:
        return []
    half_width = ndimage.distance_transform_edt(mask)
    degree: dict[tuple[int, int], int] = {}
    for path in paths:
        for p in (path[0], path[-1]):
            key = (int(p[0]), int(p[1]))
            degree[key] = degree.get(key, 0) + 1

    def is_spur(path: np.ndarray) -> bool:
        ends = [(int(p[0]), int(p[1])) for p in (path[0], path[-1])]
        deg = sorted(degree[e] for e in ends)
        if deg[0] != 1 or deg[1] < 3:
            return False  # a whole stroke, a loop, or a link between two junctions
        junction = ends[0] if degree[ends[0]] >= 3 else ends[1]
        return len(path) < max(spur, spur_width * half_width[junction])

    kept = [p for p in paths if not is_spur(p)] or paths
    kept = [_extend_ends(p, mask, [degree[(int(e[0]), int(e[1]))] == 1 for e in (p[0], p[-1])]) for p in kept]
    return [(_smooth(p, window)[:, ::-1] + 0.5) / UP for p in kept]


def _extend_ends(path: np.ndarray, mask: np.ndarray, free: list[bool], back: int = 6) -> np.ndarray:
    """Grow the free ends of a (row, col) path straight on to the edge of ``mask``.

    Thinning eats about half a stroke width off every free end; this gives it back.
    """
    if len(path) < 2:
        return path
    out = path
    for at_start, is_free in zip((True, False), free):
        if not is_free:
            continue
        end = out[0] if at_start else out[-1]
        ref = out[min(back, len(out) - 1)] if at_start else out[max(-back - 1, -len(out))]
        step = end - ref
        norm = float(np.hypot(*step))
        if norm < 1e-6:
            continue
        step /= norm
        grown = []
        pos = end.copy()
        for _ in range(40):
            pos = pos + step
            r, c = int(round(pos[0])), int(round(pos[1]))
            if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c]):
                break
            grown.append(pos.copy())
        if len(grown) > 1:
            tip = np.asarray(grown[:-1], dtype=np.float64)  # stop just inside the ink
            out = np.concatenate([tip[::-1], out]) if at_start else np.concatenate([out, tip])
    return out


# --------------------------------------------------------------------------
# Stroke rendering
# --------------------------------------------------------------------------


def _upscale(digit: np.ndarray, factor: int, resample=Image.Resampling.BICUBIC) -> np.ndarray:
    """28x28 uint8 -> (28*factor)^2 float32 in 0..1."""
    img = Image.fromarray(np.asarray(digit, dtype=np.float32) / 255.0, mode="F")
    out = np.asarray(img.resize((28 * factor, 28 * factor), resample), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def _affine(rng: np.random.Generator, rot: float = 10.0, shear: float = 0.15, stretch: float = 0.12) -> np.ndarray:
    """A random 2x2 matrix: small rotation (degrees), shear and aspect change - a writer's slant."""
    a = math.radians(rng.uniform(-rot, rot))
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    s = np.array([[1.0, rng.uniform(-shear, shear)], [0.0, 1.0]])
    d = np.diag([1.0 + rng.uniform(-stretch, stretch), 1.0])
    return r @ s @ d


def _place_paths(
    paths: list[np.ndarray], height: float, m: np.ndarray, max_width: float = math.inf
) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Transform stroke paths by ``m`` and scale them so the digit is ``height`` px tall (at most ``max_width`` wide)."""
    moved = [p @ m.T for p in paths]
    allp = np.concatenate(moved)
    lo, hi = allp.min(0), allp.max(0)
    scale = min(height / max(hi[1] - lo[1], 1e-6), max_width / max(hi[0] - lo[0], 1e-6))
    placed = [(p - lo) * scale for p in moved]
    return placed, ((hi[0] - lo[0]) * scale, (hi[1] - lo[1]) * scale)


def pen_alpha(
    paths: list[np.ndarray],
    width: float,
    antialias: bool = True,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Ink coverage (float 0..1) of ``paths`` (pixel coordinates) drawn with a round pen ``width`` px wide."""
    ss = 1 if not antialias else (4 if width < 6 else 2)
    pad = width + 2
    allp = np.concatenate(paths)
    w = int(math.ceil(allp[:, 0].max() + 2 * pad))
    h = int(math.ceil(allp[:, 1].max() + 2 * pad))
    layer = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(layer)
    r = max(width * ss / 2.0, 0.5)
    for p in paths:
        q = p + pad
        if jitter and rng is not None and len(q) > 3:
            wobble = ndimage.gaussian_filter1d(rng.normal(0, jitter, q.shape), 3, axis=0, mode="nearest")
            q = q + wobble
        pts = [(float(x) * ss, float(y) * ss) for x, y in q]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=max(1, int(round(width * ss))))
        step = max(1, len(pts) // 40) if width * ss < 3 else 1
        for x, y in pts[::step] + pts[-1:]:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    if ss > 1:
        layer = layer.resize((w, h), Image.Resampling.BOX)
    return np.asarray(layer, dtype=np.float32) / 255.0


def bitmap_alpha(
    digit: np.ndarray, height: float, rng: np.random.Generator, grow: float = 0.0, m: np.ndarray | None = None
) -> np.ndarray:
    """Ink coverage of the digit's own strokes, ``height`` px tall; ``grow`` thickens (+) or thins (-) in 28x28 px."""
    up = _upscale(digit, UP)
    if m is not None:  # slant the upscaled digit (inverse map for PIL)
        inv = np.linalg.inv(m)
        c = np.array([14 * UP, 14 * UP])
        off = c - inv @ c
        img = Image.fromarray(up, mode="F").transform(
            up.shape[::-1],
            Image.Transform.AFFINE,
            (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]),
            Image.Resampling.BICUBIC,
        )
        up = np.asarray(img, dtype=np.float32)
    if abs(grow) >= 0.25:
        size = max(3, int(round(abs(grow) * UP)) | 1)
        yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
        disk = yy**2 + xx**2 <= ((size - 1) / 2 + 0.3) ** 2
        up = (ndimage.grey_dilation if grow > 0 else ndimage.grey_erosion)(up, footprint=disk)
    t = rng.uniform(0.3, 0.5)
    alpha = np.clip((up - (t - 0.15)) / 0.3, 0.0, 1.0)
    alpha = alpha * alpha * (3 - 2 * alpha)
    rows, cols = np.nonzero(alpha > 0.02)
    if len(rows) == 0:
        alpha, rows, cols = np.clip(up * 4, 0, 1), *np.nonzero(up > 0)
    if len(rows) == 0:
        return np.zeros((max(1, int(height)), max(1, int(height))), np.float32)
    alpha = np.pad(alpha[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1], 2)
    scale = height / alpha.shape[0]
    size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
    out = Image.fromarray(alpha.astype(np.float32), mode="F").resize(
        size, Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    )
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _pen_paths(
    digit: np.ndarray, height: float, rng: np.random.Generator, max_width: float = math.inf
) -> list[np.ndarray]:
    """The digit's stroke centre lines, slanted randomly and scaled to ``height`` px (empty for a blank or
    blotted digit: see :func:`is_blotted`)."""
    paths = [] if is_blotted(digit) else digit_strokes(digit)
    return _place_paths(paths, height, _affine(rng), max_width)[0] if paths else []


def _stroke_alpha(
    digit: np.ndarray,
    height: float,
    width: float,
    rng: np.random.Generator,
    box: tuple[int, int],
    antialias: bool = True,
    jitter: float = 0.0,
) -> np.ndarray:
    """Pen strokes of the digit, ``height`` px tall, slanted randomly, drawn ``width`` px wide, fitting ``box``."""
    paths = _pen_paths(digit, height, rng, max_width=0.96 * box[1] - width - 2)
    if not paths:
        return _fit(bitmap_alpha(digit, height, rng), box)
    return _fit(pen_alpha(paths, width, antialias=antialias, jitter=jitter, rng=rng), box)


def _fit(alpha: np.ndarray, box: tuple[int, int], room: float = 0.98) -> np.ndarray:
    """Shrink ``alpha`` (keeping its aspect) when it does not fit ``room`` of the canvas ``box``."""
    scale = min(room * box[0] / alpha.shape[0], room * box[1] / alpha.shape[1])
    return alpha if scale >= 1.0 else _scaled(alpha, scale)


def stroke_width(digit: np.ndarray) -> float:
    """Mean stroke width of an MNIST digit in 28x28 pixels (area / half the edge length)."""
    mask = _upscale(digit, UP) > 0.4
    area = int(mask.sum())
    edge = area - int(ndimage.binary_erosion(mask, np.ones((3, 3), bool)).sum())
    return 2.0 * area / max(edge, 1) / UP


def _bitmap(
    digit: np.ndarray, height: float, rng: np.random.Generator, width: tuple[float, float], box: tuple[int, int]
) -> np.ndarray:
    """The writer's own strokes, slanted, ``height`` px tall, grown or thinned to a width drawn from ``width`` (28x28 px)."""
    grow = rng.uniform(*width) - stroke_width(digit)
    return _fit(bitmap_alpha(digit, height, rng, grow=grow, m=_affine(rng)), box)


# --------------------------------------------------------------------------
# Paper, compositing, noise
# --------------------------------------------------------------------------


def smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std random field with features about ``scale`` px wide."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.normal(0, 1, (sh, sw)).astype(np.float32)
    big = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    return (big - big.mean()) / max(float(big.std()), 1e-6)


def _illumination(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative light falloff: a linear ramp in a random direction times a vignette."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    yy, xx = yy / max(h - 1, 1) - 0.5, xx / max(w - 1, 1) - 0.5
    a = rng.uniform(0, 2 * math.pi)
    ramp = (xx * math.cos(a) + yy * math.sin(a)) * rng.uniform(0.3, 1.0) * strength
    cy, cx = rng.uniform(-0.2, 0.2, 2)
    vignette = ((xx - cx) ** 2 + (yy - cy) ** 2) * rng.uniform(0.2, 1.0) * strength * 1.5
    return np.clip(1.0 + ramp - vignette, 0.3, 1.2)


def _paper(shape: tuple[int, int], color: Sequence[float]) -> np.ndarray:
    """An (h, w, 3) float canvas of one colour."""
    return np.broadcast_to(np.asarray(color, np.float32), (*shape, 3)).copy()


def _paste(
    canvas: np.ndarray, alpha: np.ndarray, ink: Sequence[float], top: int, left: int, multiply: bool = False
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


def _position(
    canvas: tuple[int, int], size: tuple[int, int], rng: np.random.Generator, margin: float = 0.02
) -> tuple[int, int]:
    """Random (top, left) keeping a ``size`` box inside ``canvas`` (with a small margin when it fits)."""
    (ch, cw), (h, w) = canvas, size
    my, mx = int(ch * margin), int(cw * margin)
    top = rng.integers(min(my, max(ch - h, 0)), max(ch - h - my, min(my, max(ch - h, 0))) + 1)
    left = rng.integers(min(mx, max(cw - w, 0)), max(cw - w - mx, min(mx, max(cw - w, 0))) + 1)
    return int(top), int(left)


def _canvas_size(rng: np.random.Generator, lo: int, hi: int, square: float = 0.4) -> tuple[int, int]:
    """(height, width) between lo and hi; square with probability ``square``, else a page-ish aspect."""
    h = int(rng.integers(lo, hi + 1))
    if rng.random() < square:
        return h, h
    w = int(np.clip(h * rng.choice([rng.uniform(0.7, 1.45), 1 / 1.414, 1.414, 4 / 3, 3 / 4]), lo * 0.7, hi * 1.1))
    return h, w


def _to_image(canvas: np.ndarray, gray: bool = False) -> Image.Image:
    """Float RGB canvas (0..1) -> 8-bit PIL image (mode L when ``gray``)."""
    arr = np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if gray:
        lum = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
        return Image.fromarray(np.clip(lum + 0.5, 0, 255).astype(np.uint8), mode="L")
    return Image.fromarray(arr, mode="RGB")


def _digit_height(canvas: tuple[int, int], frac: float, aspect_room: float = 0.95) -> float:
    """Digit height = ``frac`` of the canvas height, capped so even a wide digit fits the width."""
    h, w = canvas
    return max(6.0, min(frac * h, aspect_room * w, aspect_room * h))


def _dark_ink(rng: np.random.Generator) -> tuple[float, float, float]:
    """Black, dark-grey or dark-blue ink."""
    kind = rng.choice(["black", "grey", "blue"], p=[0.55, 0.15, 0.3])
    if kind == "black":
        return (rng.uniform(0, 0.08),) * 3
    if kind == "grey":
        return (rng.uniform(0.15, 0.3),) * 3
    return (rng.uniform(0.0, 0.1), rng.uniform(0.05, 0.2), rng.uniform(0.35, 0.6))


# --------------------------------------------------------------------------
# The kinds
# --------------------------------------------------------------------------


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
    shape = _canvas_size(rng, 500, 1200)
    height = _digit_height(shape, rng.uniform(0.3, 0.9))
    width = rng.uniform(1.5, 4.0)
    aa = rng.random() < 0.75  # most paint programs anti-alias; MS Paint's pencil does not
    alpha = _stroke_alpha(digit, height, width, rng, shape, antialias=aa, jitter=rng.uniform(0, 0.4) * height / 100)
    canvas = _paper(shape, (1.0, 1.0, 1.0))
    ink = (0.0, 0.0, 0.0) if rng.random() < 0.6 else (rng.uniform(0, 0.1), rng.uniform(0, 0.15), rng.uniform(0.4, 0.65))
    _paste(canvas, alpha, ink, *_position(shape, alpha.shape, rng))
    return _to_image(canvas, gray=rng.random() < 0.15)


def marker(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Thick marker strokes (8-40 px, round joints) on a light 200-800 px canvas."""
    shape = _canvas_size(rng, 200, 800)
    height = _digit_height(shape, rng.uniform(0.45, 0.9))
    width = float(np.clip(rng.uniform(0.07, 0.2) * height, 8, 40))
    height = max(height, width * 4.5)  # keep a 40 px marker from closing the loops of a small digit
    if rng.random() < 0.7:
        alpha = _stroke_alpha(digit, height - width, width, rng, shape)
    else:  # the writer's own stroke shape, grown to a marker's width
        target = width / height * 20  # the marker's width at MNIST scale (digits are 20 px tall there)
        alpha = _bitmap(digit, height, rng, (target, target), shape)
    paper = rng.choice([1.0, rng.uniform(0.88, 1.0)])
    canvas = _paper(shape, (paper, paper, paper * rng.uniform(0.94, 1.0)))
    ink = (
        _dark_ink(rng)
        if rng.random() < 0.8
        else (rng.uniform(0.45, 0.7), rng.uniform(0.0, 0.15), rng.uniform(0.0, 0.15))
    )
    _paste(canvas, alpha * rng.uniform(0.85, 1.0), ink, *_position(shape, alpha.shape, rng))
    return _to_image(canvas, gray=rng.random() < 0.2)


def scan(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A scanned page: grey-ish uneven paper, small ink digit, noise, blur, specks, an edge shadow (JPEG)."""
    shape = _canvas_size(rng, 400, 1600, square=0.2)
    h, w = shape
    level = rng.uniform(0.6, 0.95)
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)], np.float32)
    light = _illumination(shape, rng, rng.uniform(0.05, 0.35))
    texture = 1.0 + rng.uniform(0.005, 0.025) * smooth_noise(shape, rng.uniform(2, 6), rng)
    blotch = 1.0 + rng.uniform(0.0, 0.03) * smooth_noise(shape, rng.uniform(40, 150), rng)
    canvas = (level * light * texture * blotch)[..., None] * tint

    height = _digit_height(shape, rng.uniform(0.08, 0.4))
    if rng.random() < 0.5:
        alpha = _stroke_alpha(digit, height, max(1.5, rng.uniform(0.04, 0.12) * height), rng, shape, jitter=0.3)
    else:
        alpha = _bitmap(digit, height, rng, (1.5, 3.5), shape)
    alpha = alpha * np.clip(1 - 0.12 * np.abs(smooth_noise(alpha.shape, max(3.0, height / 15), rng)), 0, 1)
    ink = np.array(_dark_ink(rng)) / max(level, 1e-3)  # ink transmits a fraction of the paper's light
    _paste(
        canvas,
        alpha * rng.uniform(0.75, 1.0),
        np.clip(ink + rng.uniform(0.05, 0.2), 0, 1),
        *_position(shape, alpha.shape, rng, 0.06),
        multiply=True,
    )

    if rng.random() < 0.5:
        _specks(canvas, rng)
    if rng.random() < 0.4:
        _edge_shadow(canvas, rng)
    if rng.random() < 0.6:
        canvas = ndimage.gaussian_filter(canvas, (rng.uniform(0.4, 1.3),) * 2 + (0,))
    canvas = canvas + rng.normal(0, rng.uniform(0.008, 0.035), (h, w, 1)).astype(np.float32)
    return _to_image(canvas, gray=rng.random() < 0.35)


def _specks(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A few dark dust specks and hairs."""
    h, w = canvas.shape[:2]
    for _ in range(int(rng.integers(1, 9))):
        r = rng.uniform(0.6, 2.5) * max(h, w) / 800
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        yy, xx = np.ogrid[max(0, int(y - 3 * r)) : int(y + 3 * r) + 1, max(0, int(x - 3 * r)) : int(x + 3 * r) + 1]
        dot = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * r * r))[..., None]
        region = canvas[yy.min() : yy.max() + 1, xx.min() : xx.max() + 1]
        region *= 1 - rng.uniform(0.4, 0.9) * dot[: region.shape[0], : region.shape[1]]


def _edge_shadow(canvas: np.ndarray, rng: np.random.Generator) -> None:
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


def pencil(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Faint grey pencil strokes (contrast 0.15-0.4) with graphite grain on white/off-white paper."""
    shape = _canvas_size(rng, 200, 800)
    height = _digit_height(shape, rng.uniform(0.4, 0.85))
    width = float(np.clip(rng.uniform(0.015, 0.05) * height, 1.5, 10.0))
    paths = _pen_paths(digit, height, rng, max_width=0.9 * shape[1])
    if not paths:
        alpha = _bitmap(digit, height, rng, (1.2, 2.5), shape)
    else:
        alpha = pen_alpha(paths, width, jitter=rng.uniform(0.2, 0.8), rng=rng)
    if paths and rng.random() < 0.35:  # sketchy: a second pass over the same lines, slightly off
        again = pen_alpha([p + rng.normal(0, width * 0.4, 2) for p in paths], width * 0.8, jitter=width * 0.4, rng=rng)
        alpha = np.maximum(alpha, _resize_to(again, alpha.shape) * rng.uniform(0.6, 0.9))
    grain = np.clip(0.6 + 0.4 * smooth_noise(alpha.shape, 1.5, rng), 0.1, 1.0)
    alpha = alpha * grain
    paper = rng.uniform(0.9, 1.0)
    canvas = _paper(shape, (paper, paper, paper * rng.uniform(0.93, 1.0)))
    contrast = rng.uniform(0.15, 0.4)
    ink = (paper - contrast,) * 3
    _paste(canvas, alpha, ink, *_position(shape, alpha.shape, rng, 0.05))
    canvas = canvas + rng.normal(0, rng.uniform(0.004, 0.015), (*shape, 1)).astype(np.float32)
    return _to_image(canvas, gray=rng.random() < 0.5)


def light_on_dark(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Chalk on a board: light, broken strokes on black / dark green / dark grey with smudges and noise."""
    shape = _canvas_size(rng, 100, 800)
    board = {
        "black": (rng.uniform(0.02, 0.1),) * 3,
        "green": (rng.uniform(0.08, 0.16), rng.uniform(0.18, 0.3), rng.uniform(0.12, 0.2)),
        "grey": (rng.uniform(0.14, 0.28),) * 3,
    }[str(rng.choice(["black", "green", "grey"]))]
    canvas = _paper(shape, board)
    canvas = canvas + _board_smudge(shape, rng)[..., None]
    height = _digit_height(shape, rng.uniform(0.4, 0.85))
    width = max(2.0, rng.uniform(0.05, 0.13) * height)
    alpha = _stroke_alpha(digit, height, width, rng, shape, jitter=rng.uniform(0, 0.6))
    chalk = np.clip(rng.uniform(0.6, 0.9) + 0.45 * smooth_noise(alpha.shape, rng.uniform(1.0, 2.5), rng), 0, 1)
    chalk = ndimage.gaussian_filter(chalk, 0.6)
    level = rng.uniform(0.75, 0.97)
    _paste(canvas, alpha * chalk, (level, level, level * rng.uniform(0.92, 1.0)), *_position(shape, alpha.shape, rng))
    canvas = canvas + rng.normal(0, rng.uniform(0.01, 0.035), (*shape, 1)).astype(np.float32)
    return _to_image(canvas, gray=rng.random() < 0.3)


def _board_smudge(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Chalk dust left by a board wiper: soft, mostly horizontal streaks and clouds (added light)."""
    h, w = shape
    small = rng.normal(0, 1, (int(rng.integers(6, 20)), 3)).astype(np.float32)
    streaks = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    clouds = smooth_noise(shape, max(h, w) / rng.uniform(2, 5), rng)
    dust = 0.5 * np.tanh(streaks) + 0.5 * np.tanh(clouds) + 1.0
    return dust * rng.uniform(0.0, 0.04)


def rgba(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Black strokes on a fully transparent canvas (RGBA; alpha carries the ink, RGB = 0 where transparent)."""
    shape = _canvas_size(rng, 100, 600)
    height = _digit_height(shape, rng.uniform(0.4, 0.9))
    if rng.random() < 0.7:
        alpha = _stroke_alpha(digit, height, max(2.0, rng.uniform(0.04, 0.14) * height), rng, shape)
    else:
        alpha = _bitmap(digit, height, rng, (1.5, 3.5), shape)
    a = np.zeros(shape, np.float32)
    top, left = _position(shape, alpha.shape, rng)
    a[top : top + alpha.shape[0], left : left + alpha.shape[1]] = alpha[: shape[0] - top, : shape[1] - left]
    out = np.zeros((*shape, 4), np.uint8)
    out[..., 3] = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="RGBA")


def off_centre(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A small digit (10-25% of the canvas) near one corner of a white 300-900 px canvas."""
    shape = _canvas_size(rng, 300, 900)
    h, w = shape
    height = _digit_height(shape, rng.uniform(0.1, 0.25))
    if rng.random() < 0.5:
        alpha = _stroke_alpha(digit, height, max(1.5, rng.uniform(0.06, 0.14) * height), rng, shape)
    else:
        alpha = _bitmap(digit, height, rng, (1.5, 3.5), shape)
    ah, aw = alpha.shape
    region = rng.uniform(0.03, 0.3, 2)  # distance from the corner, as a fraction of the canvas
    top, left = int(region[0] * (h - ah)), int(region[1] * (w - aw))
    if rng.random() < 0.5:
        top = h - ah - top
    if rng.random() < 0.5:
        left = w - aw - left
    paper = rng.uniform(0.94, 1.0)
    canvas = _paper(shape, (paper,) * 3)
    _paste(canvas, alpha, _dark_ink(rng), top, left)
    return _to_image(canvas, gray=rng.random() < 0.3)


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
    shape = _canvas_size(rng, 300, 900)
    h, w = shape
    height = _digit_height(shape, rng.uniform(0.2, 0.32))
    width = max(2.0, rng.uniform(0.04, 0.1) * height)
    alpha = _stroke_alpha(digit, height, width, rng, shape)
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
        alpha = _scaled(alpha, fit)
        top = int(h / 2 + (top - h / 2) * fit)
        left = int(w / 2 + (left - w / 2) * fit)
        width = max(1.0, width * fit)
    path = np.clip(path, lo, hi)
    paper = rng.uniform(0.94, 1.0)
    canvas = _paper(shape, (paper,) * 3)
    ink = _dark_ink(rng)
    _paste(canvas, alpha, ink, top, left)
    pad = round(width + 2)
    _paste(canvas, pen_alpha([path], width), ink, -pad, -pad)
    return _to_image(canvas, gray=rng.random() < 0.3)


def _shrink_to_fit(path: np.ndarray, centre: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """The largest scale (at most 1) about ``centre`` that brings every (x, y) point of ``path`` within ``lo``..``hi``."""
    d = path - centre
    room = np.where(d > 0, (hi - centre) / np.maximum(d, 1e-9), (lo - centre) / np.minimum(d, -1e-9))
    return float(min(1.0, room.min()))


def _scaled(alpha: np.ndarray, scale: float) -> np.ndarray:
    """Ink coverage ``alpha`` resized by ``scale`` (box filter: coverage is kept)."""
    size = (max(1, int(alpha.shape[1] * scale)), max(1, int(alpha.shape[0] * scale)))
    return np.asarray(
        Image.fromarray(alpha.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX), dtype=np.float32
    )


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
    _paste(canvas, alpha * rng.uniform(0.8, 1.0), np.array(_dark_ink(rng)) / paper, top, left, multiply=True)
    canvas *= _illumination((h, w), rng, rng.uniform(0.1, 0.4))[..., None]
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        x = w * rng.uniform(0.2, 0.8)
        _phone_shadow(canvas, rng, angle, h * rng.uniform(0.2, 0.8), x)
    return _camera(canvas, rng)


def shadow(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a sheet that fills the picture, the phone's soft-edged shadow falling across
    the digit (10-35% darker), light falling off; 900-2000 px, blurred a little, noisy (JPEG)."""
    h = int(rng.integers(900, 2001))
    w = int(h * rng.choice([0.75, 4 / 3, 1.0]))
    paper = rng.uniform(0.8, 1.0)
    canvas = _paper((h, w), (paper, paper * rng.uniform(0.95, 1.0), paper * rng.uniform(0.85, 1.0)))
    height = min(h, w) * rng.uniform(0.15, 0.5)
    alpha = _stroke_alpha(digit, height, max(2.0, rng.uniform(0.03, 0.1) * height), rng, (h, w), jitter=0.3)
    top, left = _position((h, w), alpha.shape, rng, 0.15)
    _paste(canvas, alpha * rng.uniform(0.8, 1.0), np.array(_dark_ink(rng)) / paper, top, left, multiply=True)
    canvas *= _illumination((h, w), rng, rng.uniform(0.1, 0.4))[..., None]
    angle = rng.uniform(0, 2 * math.pi)
    y = top + alpha.shape[0] * rng.uniform(0.2, 0.8)
    _phone_shadow(canvas, rng, angle, y, left + alpha.shape[1] * rng.uniform(0.2, 0.8))
    return _camera(canvas, rng)


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
        alpha = _stroke_alpha(digit, height, max(2.0, rng.uniform(0.03, 0.1) * height), rng, shape, jitter=0.3)
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


def _phone_shadow(canvas: np.ndarray, rng: np.random.Generator, angle: float, y: float, x: float) -> None:
    """Darken ``canvas`` by 10-35% on one side of a line through (``y``, ``x``) at ``angle``, with a
    soft edge (2-10% of the shorter side): a phone's or a hand's shadow."""
    h, w = canvas.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    d = (xx - x) * math.cos(angle) + (yy - y) * math.sin(angle)
    canvas *= (1 - rng.uniform(0.1, 0.35) / (1 + np.exp(-d / (rng.uniform(0.02, 0.1) * min(h, w)))))[..., None]


def _camera(canvas: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """What a phone camera adds to a scene: a little blur and sensor noise."""
    canvas = ndimage.gaussian_filter(canvas, (rng.uniform(0.5, 1.8),) * 2 + (0,))
    canvas = canvas + rng.normal(0, rng.uniform(0.01, 0.03), (*canvas.shape[:2], 1)).astype(np.float32)
    return _to_image(canvas)


def _resize_to(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop or zero-pad a 2-D array to ``shape`` (top-left aligned)."""
    out = np.zeros(shape, a.dtype)
    h, w = min(shape[0], a.shape[0]), min(shape[1], a.shape[1])
    out[:h, :w] = a[:h, :w]
    return out


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

# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

# (format, weight) per kind; kinds not listed use DEFAULT_FORMATS
DEFAULT_FORMATS = [("png", 0.45), ("jpeg", 0.33), ("tiff", 0.08), ("bmp", 0.06), ("webp", 0.08)]
FORMATS = {
    "small": [("png", 1.0)],
    "scan": [("jpeg", 1.0)],
    "rgba": [("png", 1.0)],
    "photo": [("jpeg", 1.0)],
    "shadow": [("jpeg", 1.0)],
}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "bmp": "bmp", "webp": "webp"}


def encode(img: Image.Image, kind: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Encode ``img`` in a format drawn from the kind's format mix; returns (bytes, file extension)."""
    table = FORMATS.get(kind, DEFAULT_FORMATS)
    names = [f for f, _ in table]
    weights = np.array([p for _, p in table], float)
    fmt = str(rng.choice(names, p=weights / weights.sum()))
    buf = io.BytesIO()
    if fmt == "jpeg":
        lo, hi = (50, 90) if kind in ("scan", "photo", "shadow") else (60, 95)
        img = img.convert("RGB") if img.mode not in ("L", "RGB") else img
        img.save(buf, "JPEG", quality=int(rng.integers(lo, hi + 1)), subsampling=int(rng.choice([0, 2])))
    elif fmt == "webp":
        if rng.random() < 0.4:
            img.save(buf, "WEBP", lossless=True)
        else:
            img.save(buf, "WEBP", quality=int(rng.integers(70, 96)))
    elif fmt == "tiff":
        img.save(buf, "TIFF", compression=str(rng.choice(["raw", "tiff_lzw", "tiff_deflate"])))
    elif fmt == "bmp":
        img.save(buf, "BMP")
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue(), EXTENSIONS[fmt]


def write_set(
    out_dir: str | Path, x: np.ndarray, y: np.ndarray, kinds: Iterable[str], n_per_kind: int, seed: int
) -> list[tuple[Path, int, str]]:
    """Write ``n_per_kind`` images of each kind into ``out_dir`` plus ``labels.csv``; return (path, label, kind) rows.

    The same random sample of ``n_per_kind`` digits of ``x`` (uint8 (N, 28, 28),
    white on black) is rendered in every kind, so kinds compare on equal digits.
    Everything is reproducible from ``seed``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})")
    pick = np.random.default_rng(seed).choice(len(x), size=n_per_kind, replace=n_per_kind > len(x))
    rows: list[tuple[Path, int, str]] = []
    for kind in kinds:
        salt = zlib.crc32(kind.encode())  # stable per kind, independent of the order kinds are given in
        for i, idx in enumerate(pick):
            rng = np.random.default_rng([seed, salt, i])
            data, ext = encode(KINDS[kind](x[idx], rng), kind, rng)
            path = out / f"{kind}_{i:05d}.{ext}"
            path.write_bytes(data)
            rows.append((path, int(y[idx]), kind))
    with open(out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "kind"])
        writer.writerows((p.name, label, kind) for p, label, kind in rows)
    return rows
