"""The stages in order, run over one :class:`Context`, with per-stage timing hooks (off by default)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from . import box, desk, ink, number, refit, shadow, size, zoom
from .context import Context

Stage = Callable[[Context], None]
T = TypeVar("T")

# A reading of a picture (or of a crop of it, in the zoom stage): each stage reads and fills the context;
# the first that sets ``ctx.strokes`` (or ``ctx.number``) ends it.
READ: list[tuple[str, Stage]] = [
    ("reduce", size.reduce),  # the working copy
    ("sheet", desk.find_sheet),  # a photo's desk round the sheet becomes paper
    ("ink", ink.first_read),  # ink on a page-sized window's map, the digit on it, its stroke width
    ("shadow", shadow.check),  # a shadow taken for the digit: the pen measured on strong ink, a fine retry
    ("paper", refit.refit),  # the paper's level again with a window fitted to the strokes
    ("refuse", ink.refuse),  # a blank page refused, or several digits when one is asked for
    ("number", number.segment),  # several digits, or one too wide to be sure: candidate digits for the network
    ("zoom", zoom.zoom),  # a small digit on a large page re-read at full resolution
    ("crop", box.crop),  # the soft ink map cropped to the digit
]
STAGES: list[tuple[str, Stage]] = [("size", size.prepare), *READ]
AFTER_NUMBER = READ[[name for name, _ in READ].index("number") + 1 :]  # one digit after all (views.read)

_timings: dict[str, list[float]] | None = None
_clock: Callable[[], float] = time.perf_counter


def run(ctx: Context, stages: list[tuple[str, Stage]] = STAGES) -> Context:
    """Run ``stages`` over ``ctx`` in order until one sets the result (``ctx.strokes`` or ``ctx.number``)."""
    for name, stage in stages:
        if ctx.done():
            break
        if _timings is None:
            stage(ctx)
            continue
        started = _clock()
        try:
            stage(ctx)
        finally:
            _timings[name].append(_clock() - started)
    return ctx


def timed_step(name: str, step: Callable[[], T]) -> T:
    """``step()``, its time recorded under ``name`` when timing is on (the boxing, after the stages)."""
    if _timings is None:
        return step()
    started = _clock()
    try:
        return step()
    finally:
        _timings[name].append(_clock() - started)


@contextmanager
def timed(clock: Callable[[], float] = time.perf_counter) -> Iterator[dict[str, list[float]]]:
    """Record each stage's time by ``clock`` (seconds, one entry per run of it) while inside - wall
    time, or ``time.process_time`` on a busy machine; the zoom stage's includes the stages of its
    re-read, which are recorded under their own names as well."""
    global _timings, _clock
    previous, _timings, _clock = (_timings, _clock), defaultdict(list), clock
    try:
        yield _timings
    finally:
        _timings, _clock = previous
