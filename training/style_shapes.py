"""Digit skeletons in handwriting styles MNIST under-represents, as pen strokes in a design box.

Real writers outside MNIST draw digits MNIST's writers rarely did: boxy, calculator-like digits of
straight strokes and square corners, 1s curved like "(" or with a flag or a foot, crossed 7s and
slashed 0s, closed 4s, 9s with a straight stem, 8s of two circles (issue 29). Each style here is
the centre line of such a digit: a list of strokes, each one pen-down movement, built from line,
arc and Bézier pieces. :mod:`training.styles` jitters, slants and draws them.

Design box: x from 0 to 6 (right), y from 0 to 10 (down), so a digit is 10 units tall and about
6 wide. A stroke is an (n, 3) float array: x, y and a *corner* flag (1 for a line's vertex, whose
position :mod:`training.styles` jitters on its own - uneven stroke lengths; 0 for points sampled
along a curve, which only move with the whole shape).
"""

from __future__ import annotations

import numpy as np

ARC_STEP = 12.0  # degrees between points sampled along an arc: smooth at 400 px after densifying
BEZIER_POINTS = 14  # points sampled along a Bézier curve


def line(*points: tuple[float, float]) -> np.ndarray:
    """A polyline through ``points``; every vertex is a corner."""
    return np.array([(x, y, 1.0) for x, y in points])


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> np.ndarray:
    """An elliptical arc from angle ``start`` to ``end`` in degrees (0 = right, 90 = down, as in
    Pillow: increasing angles turn clockwise on screen; ``end < start`` turns the other way)."""
    n = max(3, int(abs(end - start) / ARC_STEP) + 1)
    a = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a), np.zeros(n)], 1)


def bezier(*control: tuple[float, float]) -> np.ndarray:
    """A quadratic or cubic Bézier curve through its first and last control points."""
    c = np.asarray(control, dtype=np.float64)
    t = np.linspace(0.0, 1.0, BEZIER_POINTS)[:, None]
    if len(c) == 3:
        pts = (1 - t) ** 2 * c[0] + 2 * (1 - t) * t * c[1] + t**2 * c[2]
    else:
        pts = (1 - t) ** 3 * c[0] + 3 * (1 - t) ** 2 * t * c[1] + 3 * (1 - t) * t**2 * c[2] + t**3 * c[3]
    return np.concatenate([pts, np.zeros((len(pts), 1))], 1)


def stroke(*pieces: np.ndarray) -> np.ndarray:
    """One pen-down movement through ``pieces`` in order. Where two pieces meet at one point it is kept
    once, as a corner only when both pieces say so (a line meeting a curve does not kink it)."""
    pts = np.concatenate(pieces)
    same = np.hypot(*(pts[1:, :2] - pts[:-1, :2]).T) < 1e-6
    pts[:-1][same, 2] = np.minimum(pts[:-1][same, 2], pts[1:][same, 2])
    return pts[np.concatenate([[True], ~same])]


def _figure_eight(start: float, end: float) -> np.ndarray:
    """An 8 in one stroke: from the top, down the right of the top loop, across the waist, round the
    bottom loop and back up across the waist (parameter in turns: 0 = top, 0.5 = bottom)."""
    t = np.linspace(start, end, int((end - start) * 44) + 1) * 2 * np.pi
    return np.stack([3 + 2.7 * np.sin(2 * t), 5 - 5 * np.cos(t), np.zeros(len(t))], 1)


OVAL = arc(3, 5, 3, 5, 255, 630)  # from the top, clockwise, just past where it began
TOP_OF_2 = arc(3, 2.8, 2.9, 2.8, 195, 400)  # a 2's hood, from its left end over to its right side
LOOP_OF_9 = arc(2.9, 2.7, 2.8, 2.7, 15, -345)  # a 9's head, counter-clockwise from its right side
LOOP_OF_6 = arc(3.1, 7.3, 2.9, 2.7, 180, -175)  # a 6's belly, entered down its left side
BELLY_OF_5 = arc(2.8, 6.8, 3.1, 3.1, 222, 503)  # a 5's belly, from the stem round to the bottom left
BOX = line((0, 0), (6, 0), (6, 10), (0, 10), (0, 0))  # a calculator 0's outline, drawn as one stroke

# name -> (digit, strokes). Names start with their digit; boxy-* are the calculator-like ones.
SHAPES: dict[str, tuple[int, list[np.ndarray]]] = {
    "0-oval": (0, [OVAL]),
    "0-slashed": (0, [OVAL, line((5.4, 0.6), (0.6, 9.4))]),
    "0-overlap": (0, [arc(3, 5, 3, 5, 300, -85)]),
    "0-boxy": (0, [BOX]),
    "1-bar": (1, [line((3, 0), (3, 10))]),
    "1-curved": (1, [bezier((4.2, 0), (1.6, 5), (4.0, 10))]),
    "1-flag": (1, [line((1.7, 2.6), (3.4, 0), (3.4, 10))]),
    "1-long-flag": (1, [line((1.1, 3.8), (3.6, 0), (3.6, 10))]),
    "1-hook": (1, [stroke(bezier((1.4, 1.3), (2.3, 0.4), (3.4, 0)), line((3.4, 0), (3.4, 10)))]),
    "1-foot": (1, [line((3, 0), (3, 10)), line((1.2, 10), (4.8, 10))]),
    "1-flag-foot": (1, [line((1.5, 2.6), (3.2, 0), (3.2, 10)), line((1.2, 10), (5.2, 10))]),
    "1-italic": (1, [line((1.2, 3.0), (5.0, 0), (2.6, 10)), line((0.6, 10), (4.6, 10))]),
    "2-plain": (2, [stroke(TOP_OF_2, line((5.22, 4.6), (0.2, 10), (6.2, 10)))]),
    "2-looped": (
        2,
        [
            stroke(
                TOP_OF_2, line((5.22, 4.6), (1.9, 9.4)), arc(1.3, 8.8, 0.85, 0.85, 45, 370), line((2.2, 9.2), (6, 9.6))
            )
        ],
    ),
    "2-curved-neck": (
        2,
        [stroke(arc(3, 2.8, 2.8, 2.8, 190, 360), bezier((5.8, 2.8), (5.6, 6.2), (0, 10)), line((0, 10), (6, 10)))],
    ),
    "2-angular": (2, [stroke(bezier((0.2, 1.6), (1.8, -0.4), (5.8, 0.2)), line((5.8, 0.2), (0.2, 10), (6, 10)))]),
    "2-boxy": (2, [line((0, 0), (6, 0), (6, 5), (0, 5), (0, 10), (6, 10))]),
    "3-round": (3, [stroke(arc(3, 2.5, 2.7, 2.5, 200, 460), arc(3, 7.5, 3, 2.5, 265, 515))]),
    "3-flat-top": (3, [stroke(line((0.3, 0), (6, 0), (2.0, 4.4)), arc(3, 7.1, 3, 2.9, 250, 515))]),
    "3-boxy": (3, [line((0, 0), (6, 0), (6, 10), (0, 10)), line((1.5, 5), (6, 5))]),
    "4-open": (4, [line((2.6, 0), (0, 6.5), (6, 6.5)), line((4.5, 2.4), (4.5, 10))]),
    "4-closed": (4, [line((4.5, 10), (4.5, 0), (0, 6.5), (6, 6.5))]),
    "4-crossed": (4, [line((4.0, 0), (0, 6.3), (6, 6.3)), line((4.9, 1.0), (4.5, 10))]),
    "4-boxy": (4, [line((0.3, 0), (0.3, 5.5), (6, 5.5)), line((4.8, 0), (4.8, 10))]),
    "5-attached": (5, [stroke(line((5.8, 0), (0.8, 0), (0.6, 4.5)), BELLY_OF_5)]),
    "5-detached": (5, [stroke(line((0.8, 0.4), (0.6, 4.5)), BELLY_OF_5), line((1.6, 0), (6, -0.1))]),
    "5-boxy": (5, [line((6, 0), (0, 0), (0, 5), (6, 5), (6, 10), (0, 10))]),
    "6-round": (6, [stroke(bezier((5, 0.2), (0.6, 1.6), (0.2, 7.3)), LOOP_OF_6)]),
    "6-straight": (6, [stroke(line((4.6, 0), (0.2, 7.3)), LOOP_OF_6)]),
    "6-boxy": (6, [line((6, 0), (0, 0), (0, 10), (6, 10), (6, 5), (0, 5))]),
    "7-plain": (7, [line((0, 0), (6, 0), (2.2, 10))]),
    "7-crossed": (7, [line((0, 0), (6, 0), (2.2, 10)), line((2.2, 5.1), (6, 4.9))]),
    "7-curved-stem": (7, [stroke(line((0, 0), (6, 0)), bezier((6, 0), (3.2, 3.8), (2.8, 10)))]),
    "7-hooked": (7, [line((0, 1.8), (0.3, 0), (6, 0), (2.5, 10))]),
    "7-boxy": (7, [line((0, 0), (6, 0), (6, 10))]),
    "8-two-circles": (8, [arc(3, 2.6, 2.4, 2.6, 90, 455), arc(3, 7.4, 3, 2.6, 270, 635)]),
    "8-snowman": (8, [arc(3, 2.2, 1.9, 2.2, 90, 455), arc(3, 7.0, 3, 3.0, 270, 635)]),
    "8-figure": (8, [_figure_eight(-0.05, 1.02)]),
    "8-boxy": (8, [BOX, line((0, 5), (6, 5))]),
    "9-straight": (9, [stroke(LOOP_OF_9, line((5.6, 3.4), (5.6, 10)))]),
    "9-curved": (9, [stroke(LOOP_OF_9, bezier((5.6, 3.4), (5.8, 8.8), (2.4, 10)))]),
    "9-diagonal": (9, [stroke(LOOP_OF_9, line((5.6, 3.4), (3.6, 10)))]),
    "9-hooked": (9, [stroke(LOOP_OF_9, bezier((5.6, 3.4), (5.9, 9.8), (1.0, 10.4), (0.4, 8.2)))]),
    "9-boxy": (9, [line((6, 5), (0, 5), (0, 0), (6, 0), (6, 10), (0, 10))]),
    "9-boxy-open": (9, [line((6, 5), (0, 5), (0, 0), (6, 0), (6, 10))]),
}
