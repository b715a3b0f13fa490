"""A site's own labelled pictures (``digitwatch train --data DIR``): what to learn from, and the guard.

DIR holds ``0/``..``9/`` folders of pictures, or a ``labels.csv`` (:mod:`training.labelled` reads
both, through the daemon's own reading path). A fixed part of them is held out; the rest is
learnt beside a rehearsal of MNIST (so the networks do not forget the digits they read well).
Before anything is published, the guard compares the new model with the one it started from on
MNIST's test split and on the held-out pictures: a model that loses more than the tolerance on
either is refused - a mislabelled folder must never reach a running daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.errors import DataError

from . import labelled

HELD_OUT = 0.2  # a fifth of the site's pictures measure the new model: 200 of 1,000 read a 0.5-point change
# Why a third: the site's pictures are a third of what each epoch shows, beside the MNIST rehearsal - enough
# to learn its writers in a few epochs, not so much that the networks forget MNIST (measured: docs/learning-loop.md).
OWN_SHARE = 1 / 3
REHEARSAL = 12_000  # MNIST training digits rehearsed beside the site's pictures: 3 epochs fit in minutes here
FINETUNE_EPOCHS = 3  # epochs of a fine-tune on a site's pictures
GUARD_TOLERANCE = 0.002  # the new model may lose at most 0.2 points on MNIST or on the held-out pictures

Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) -> (N, 10)


def is_labelled_folder(path: Path) -> bool:
    """A folder of a site's pictures (``0/``..``9/`` or ``labels.csv``), not an MNIST idx folder."""
    return path.is_dir() and ((path / "labels.csv").is_file() or any((path / str(d)).is_dir() for d in range(10)))


@dataclass(frozen=True)
class Own:
    x: np.ndarray  # training inputs (M, 28, 28, 1), repeated to OWN_SHARE of an epoch
    y: np.ndarray
    x_held: np.ndarray  # the held-out pictures' inputs (K, 28, 28, 1)
    y_held: np.ndarray
    record: dict[str, Any]


def load(folder: Path, rehearsal: int, seed: int) -> Own:
    """The site's pictures in ``folder`` as served inputs: the training part repeated so it is OWN_SHARE
    of an epoch of ``rehearsal`` MNIST digits, and the held-out part. Refused pictures are counted."""
    items = labelled.scan(folder)
    train_items, held_items = labelled.split(items, held_out=HELD_OUT, seed=seed)
    if not train_items or not held_items:
        raise DataError(f"--data {folder}: too few pictures to hold some out ({len(items)}; at least 10 needed)")
    x, y, refused = labelled.served_inputs(train_items)
    x_held, y_held, refused_held = labelled.served_inputs(held_items)
    if not len(y) or not len(y_held):
        raise DataError(f"--data {folder}: the daemon reads none of these pictures ({len(refused)} refused)")
    repeat = max(1, round(rehearsal * OWN_SHARE / (1 - OWN_SHARE) / len(y)))
    record = {
        "folder": str(folder),
        "pictures": len(items),
        "train": len(train_items),
        "held_out": len(held_items),
        "refused": [f"{path}: {why}" for path, why in [*refused, *refused_held]][:50],
        "repeat": repeat,
    }
    return Own(
        np.tile(x, (repeat, 1, 1))[..., None], np.tile(y, repeat), x_held[..., None], y_held.astype(np.int64), record
    )


def guard(
    before: Predict,
    after: Predict,
    checks: dict[str, tuple[np.ndarray, np.ndarray]],
    tolerance: float = GUARD_TOLERANCE,
    force: bool = False,
) -> dict[str, Any]:
    """Accuracy before and after on each named check set ``(x, y)``; raises DataError when ``after`` loses
    more than ``tolerance`` on any of them, unless ``force`` (then the refusal is only recorded)."""
    figures: dict[str, Any] = {"tolerance": tolerance, "forced": False}
    losses = []
    for name, (x, y) in checks.items():
        was = float(np.mean(before(x).argmax(1) == y))
        now = float(np.mean(after(x).argmax(1) == y))
        figures[name] = {"before": round(was, 5), "after": round(now, 5), "n": len(y)}
        if now < was - tolerance:
            losses.append(f"{name} {was:.2%} -> {now:.2%}")
    if losses and not force:
        raise DataError(
            f"the new model reads worse than the one it started from ({'; '.join(losses)}; the guard allows "
            f"{tolerance:.1%}): not published. Check the labels, or publish anyway with --force"
        )
    figures["forced"] = bool(losses)
    figures["refused_for"] = losses
    return figures
