"""Confidence that means what it says: temperature scaling, its check (ECE), and the ``ok`` threshold.

A network trained with cross-entropy is over-confident on inputs unlike its training data: on real
handwriting by other writers it says 0.99 and is wrong. One number, the temperature T, fitted on a
real calibration split, rescales its answers (``softmax(log p / T)``: the ranking of digits never
changes, only how sure it says it is). The daemon applies the T recorded with the model
(``daemon/infer.py``); ``digitwatch evaluate`` reports the expected calibration error and draws the
reliability diagram, and :func:`threshold_for` finds the confidence above which rows are right as
often as promised.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from digitwatch.daemon.infer import calibrated

# Why this grid: T below 0.5 or above 4 means the network is broken, not over- or under-confident;
# 0.01 steps move the fitted NLL by less than its noise on a few hundred digits.
TEMPERATURES = np.round(np.arange(0.5, 4.0001, 0.01), 2)
BINS = 15  # the usual ECE binning (Guo et al., 2017): wide enough bins for a few thousand answers


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The T that minimises the negative log-likelihood of the true labels ``y`` under ``probs``."""
    nll = [_nll(calibrated(probs, float(t)), y) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(nll))])


def _nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def ece(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the answers binned by confidence, |accuracy - confidence| weighted by
    each bin's share."""
    conf, right, which = _binned(probs, y, bins)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - conf[inside].mean())
    return float(total)


def _binned(probs: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each answer's confidence, whether it is right, and its confidence bin (0..bins-1, equal widths)."""
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == y
    which = np.clip(np.digitize(conf, np.linspace(0.0, 1.0, bins + 1)[1:-1]), 0, bins - 1)
    return conf, right, which


def threshold_for(probs: np.ndarray, y: np.ndarray, target: float) -> float:
    """The lowest confidence threshold at which the answers at or above it are right at least ``target`` of
    the time (1.0 when no threshold reaches it)."""
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == y
    order = np.argsort(-conf)
    kept_right = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    good = np.nonzero(kept_right >= target)[0]
    if not len(good):
        return 1.0
    return float(conf[order][good[-1]])


def reliability_png(probs: np.ndarray, y: np.ndarray, title: str, bins: int = BINS) -> bytes:
    """The reliability diagram: accuracy against confidence per bin, beside the diagonal, with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, right, which = _binned(probs, y, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    acc = np.array([right[which == b].mean() if (which == b).any() else np.nan for b in range(bins)])
    counts = np.bincount(which, minlength=bins)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=(3, 1), sharex=True)
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    top.bar(centers, acc, width=1 / bins, edgecolor="black", alpha=0.7, label="accuracy")
    top.set_ylabel("accuracy")
    top.set_title(f"{title}\nECE {ece(probs, y, bins):.2%}, {len(y)} answers")
    top.legend(loc="upper left")
    bottom.bar(centers, counts, width=1 / bins, edgecolor="black")
    bottom.set_yscale("log")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("answers")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def report(probs: np.ndarray, y: np.ndarray, low_confidence: float) -> dict[str, Any]:
    """Calibration figures for answers ``probs``: ECE, and what the ``ok`` rows would be at the threshold."""
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == y
    ok = conf >= low_confidence
    return {
        "ece": round(ece(probs, y), 5),
        "ok_rows": int(ok.sum()),
        "ok_wrong": int((ok & ~right).sum()),
        "ok_accuracy": round(float(right[ok].mean()), 5) if ok.any() else None,
    }
