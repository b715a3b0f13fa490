"""The reading path's switchable rules, for bench/ablation.py: each turned off by patching what its
callers look up (a stage's parameter table, or the rule's function made a no-op) for the span of a
``with``. See docs/preprocess.md ("Switching a rule off") and docs/ablation.md."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

PKG = "digitwatch.daemon.preprocess"
Patch = tuple[str, str, Callable[[Any], Any]]  # (module, attribute, old value -> new value)


def _module(name: str) -> Any:
    return importlib.import_module(f"{PKG}.{name}")


@contextmanager
def patched(patches: list[Patch]) -> Iterator[None]:
    """Every (module, attribute) set to ``make(old value)`` while inside, restored on leaving."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for module_name, attr, make in patches:
            module = _module(module_name)
            if attr.startswith("stage:"):  # a stage in the pipeline's lists (shared, so changed in place)
                stage = attr.split(":", 1)[1]
                for stages in (module.READ, module.STAGES):
                    k = [name for name, _ in stages].index(stage)
                    saved.append((stages, str(k), stages[k]))
                    stages[k] = (stage, make(stages[k][1]))
                continue
            old = getattr(module, attr)
            saved.append((module, attr, old))
            setattr(module, attr, make(old))
        yield
    finally:
        for module, attr, old in reversed(saved):
            if isinstance(module, list):
                module[int(attr)] = old
            else:
                setattr(module, attr, old)


def params(modules: list[str], **changes: Any) -> list[Patch]:
    """A stage's table (``P``) replaced in each of ``modules`` (those that bind the same table)."""
    return [(m, "P", lambda old, c=changes: replace(old, **c)) for m in modules]


def noop(module: str, attr: str, result: Callable[..., Any]) -> list[Patch]:
    """The rule's function replaced: it returns ``result(*args)`` (what it returns when nothing is found)."""
    return [(module, attr, lambda _old: result)]


def _only_high(old: Callable[..., tuple[float, float]]) -> Callable[..., tuple[float, float]]:
    def threshold(ink: np.ndarray, paper: Any) -> tuple[float, float]:
        high, _ = old(ink, paper)
        return high, high

    return threshold


def _largest(labels: np.ndarray, ink: np.ndarray, areas: np.ndarray, candidates: list[int]) -> int:
    return max(candidates, key=lambda i: areas[i])


def _no_shadow_check(old: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda ctx: False


def _refit_only_unset(old: Callable[[Any], None]) -> Callable[[Any], None]:
    """The window refit only where the first reading left no digit (it is the reading then)."""
    return lambda ctx: old(ctx) if ctx.mask is None else None


# Removed after the first ablation (docs/ablation.md): their code is gone, so they are no longer switched.
REMOVED = [
    "grain search (grainy desk)",
    "faint pieces off a grainy sheet",
    "fine-window retry",
    "print blocks",
    "printed lines and boxes",
    "rings round the digit (apart)",
    "marks touching the digit (ring + line)",
    "ring touching the digit",
    "line under, touching",
    "underlines apart",
    "edge huggers",
    "dots",
    "pieces cut by the frame",
]

# name -> (where, the patches that switch it off). Order: the stages' order.
RULES: dict[str, tuple[str, list[Patch]]] = {
    "pixel-art unzoom": ("size.unzoomed", noop("size", "unzoomed", lambda g: g)),
    "paper beyond the frame": ("size.paper_beyond_frame", noop("size", "paper_beyond_frame", lambda g: g)),
    "sheet on a desk (3 searches)": ("desk.find_sheet", params(["desk", "sheet"], desk_min_side=10**6)),
    "thick ink off the sheet": ("desk.thick_ink_off_sheet", params(["desk", "sheet"], island_depth=1e9)),
    "shadow pen check": ("shadow.check", [("shadow", "needed", _no_shadow_check)]),
    "window refit": ("refit.refit", [("pipeline", "stage:paper", _refit_only_unset)]),
    "strongest large piece": ("select.strongest_large", [("select", "strongest_large", lambda _: _largest)]),
    "strong pieces on grainy paper": (
        "select.strong_pieces",
        noop("select", "strong_pieces", lambda labels, ink, largest, rest: rest),
    ),
    "digits in a row": (
        "row.digits_beside/within",
        noop("select", "digits_beside", lambda *a: 0) + noop("select", "digits_within", lambda *a: 0),
    ),
    "zoom re-read": ("zoom.zoom", params(["zoom"], min_digit_work=0)),
    "hysteresis low threshold": ("ink.threshold", [("ink", "threshold", _only_high)]),
    "ink apart (tight crops)": ("ink.ink_apart", noop("ink", "ink_apart", lambda ink: False)),
    "second, thicker view": ("views (2nd view)", noop("views", "growth", lambda strokes, least: 0.0)),
}


@contextmanager
def off(rules: list[str]) -> Iterator[None]:
    """The named rules switched off together (none: the code as it is)."""
    with ExitStack() as stack:
        for rule in rules:
            stack.enter_context(patched(RULES[rule][1]))
        yield
