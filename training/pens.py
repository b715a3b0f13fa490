"""How a digit's strokes are drawn, for :mod:`training.realistic`'s kinds.

Two ways, both from one MNIST digit (28x28 uint8, white ink on black):

* *bitmap* (:func:`bitmap_alpha`, :func:`own_strokes`): the digit upscaled smoothly, thresholded
  with a soft edge and grown or shrunk by a grey morphology - keeps the writer's own stroke shape;
* *pen* (:func:`digit_strokes`, :func:`pen_alpha`, :func:`stroke_alpha`): the digit's skeleton
  (Zhang-Suen thinning of the upscaled digit), traced into polylines, smoothed, and redrawn with a
  chosen pen width - what a drawing made with a mouse, tablet or marker looks like.

A skeleton only stands for a digit written with an even pen. Where the writer's ink ran into a blot
(a loop of a 6, 8 or 9 filled in, a 3 whose middle cusp drowned), the blot thins to a line of another
shape - a filled 6 becomes an "l", a 9 a "7" - and redrawing that line would test the generator, not
the recogniser. Such digits (:func:`is_blotted`, about 3% of MNIST, mostly 2s and 6s) are drawn with
the writer's own strokes in every kind.

Every function returns ink coverage: a float32 array in 0..1 (1 = full ink).
"""

from __future__ import annotations

import math

import numpy as np
from digitwatch.training.strokes import zhang_suen
from PIL import Image, ImageDraw
from scipy import ndimage

UP = 4  # upscale factor of the 28x28 digit before thresholding / thinning


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
    seen: set[frozenset[tuple[int, int]]] = set()
    paths: list[np.ndarray] = []

    def walk(start: tuple[int, int], nxt: tuple[int, int]) -> np.ndarray:
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


def _upscale(digit: np.ndarray, factor: int, resample: Image.Resampling = Image.Resampling.BICUBIC) -> np.ndarray:
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
    """Transform stroke paths by ``m`` and scale them so the digit is ``height`` px tall
    (at most ``max_width`` wide)."""
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
    box = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
    out = Image.fromarray(alpha.astype(np.float32), mode="F").resize(
        box, Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    )
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def pen_paths(
    digit: np.ndarray, height: float, rng: np.random.Generator, max_width: float = math.inf
) -> list[np.ndarray]:
    """The digit's stroke centre lines, slanted randomly and scaled to ``height`` px (empty for a blank or
    blotted digit: see :func:`is_blotted`)."""
    paths = [] if is_blotted(digit) else digit_strokes(digit)
    return _place_paths(paths, height, _affine(rng), max_width)[0] if paths else []


def stroke_alpha(
    digit: np.ndarray,
    height: float,
    width: float,
    rng: np.random.Generator,
    box: tuple[int, int],
    antialias: bool = True,
    jitter: float = 0.0,
) -> np.ndarray:
    """Pen strokes of the digit, ``height`` px tall, slanted randomly, drawn ``width`` px wide, fitting ``box``."""
    paths = pen_paths(digit, height, rng, max_width=0.96 * box[1] - width - 2)
    if not paths:
        return fit_box(bitmap_alpha(digit, height, rng), box)
    return fit_box(pen_alpha(paths, width, antialias=antialias, jitter=jitter, rng=rng), box)


def fit_box(alpha: np.ndarray, box: tuple[int, int], room: float = 0.98) -> np.ndarray:
    """Shrink ``alpha`` (keeping its aspect) when it does not fit ``room`` of the canvas ``box``."""
    scale = min(room * box[0] / alpha.shape[0], room * box[1] / alpha.shape[1])
    return alpha if scale >= 1.0 else scaled(alpha, scale)


def scaled(alpha: np.ndarray, scale: float) -> np.ndarray:
    """Ink coverage ``alpha`` resized by ``scale`` (box filter: coverage is kept)."""
    size = (max(1, int(alpha.shape[1] * scale)), max(1, int(alpha.shape[0] * scale)))
    return np.asarray(
        Image.fromarray(alpha.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX), dtype=np.float32
    )


def stroke_width(digit: np.ndarray) -> float:
    """Mean stroke width of an MNIST digit in 28x28 pixels (area / half the edge length)."""
    mask = _upscale(digit, UP) > 0.4
    area = int(mask.sum())
    edge = area - int(ndimage.binary_erosion(mask, np.ones((3, 3), bool)).sum())
    return 2.0 * area / max(edge, 1) / UP


def own_strokes(
    digit: np.ndarray, height: float, rng: np.random.Generator, width: tuple[float, float], box: tuple[int, int]
) -> np.ndarray:
    """The writer's own strokes, slanted, ``height`` px tall, grown or thinned to a width drawn from
    ``width`` (in 28x28 px)."""
    grow = rng.uniform(*width) - stroke_width(digit)
    return fit_box(bitmap_alpha(digit, height, rng, grow=grow, m=_affine(rng)), box)
