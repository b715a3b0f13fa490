"""``digitwatch evaluate``: a model's accuracy and calibration on MNIST's test split and on real handwriting
by other writers (the held-out parts of :mod:`training.writers`), through the serving preprocessor."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.fsutil import atomic_write
from digitwatch.daemon.infer import Predictor
from digitwatch.daemon.registry import ModelRef

from . import calibrate, labelled, own, writers
from . import data as mnist_data
from .inputs import prepare


def evaluate(
    ref: ModelRef, data: str | None, real: bool = False, low_confidence: float = 0.8, plots: Path | None = None
) -> dict[str, Any]:
    """MNIST test (from ``data``; or, when ``data`` is a folder of a site's labelled pictures, all of them)
    and, with ``real``, every real set's held-out part: accuracy, loss, ECE,
    the ``ok`` rows at ``low_confidence`` and their errors, a confusion matrix (rows: true digit, columns:
    predicted). With ``plots``, a reliability diagram and a confusion matrix PNG per set in that folder."""
    from tqdm import tqdm

    predictor = Predictor.load(ref)
    loaders: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, str]]] = {}
    if data and own.is_labelled_folder(Path(data)):  # a site's labelled pictures, every one of them
        loaders["own"] = lambda: _site(Path(str(data)))
        data_source = data
    else:
        ds = mnist_data.load(data)
        loaders["mnist"] = lambda: (prepare(ds.x_test, True)[..., 0], ds.y_test.astype(np.int64), ds.source)
        data_source = ds.source
    if real:
        for name in writers.available():
            loaders[name] = functools.partial(_held_out, name)
    report: dict[str, Any] = {
        "model": ref.model_id,
        "model_path": str(ref.path),
        "temperature": ref.temperature,
        "low_confidence": low_confidence,
    }
    for name, load in tqdm(loaders.items(), unit="set", file=sys.stderr, disable=not sys.stderr.isatty()):
        x, y, source = load()
        alone = np.ones(len(x), bool)  # (each a picture of one digit, as the daemon serves it)
        probs = np.concatenate(
            [predictor.predict(x[i : i + 1024], alone[i : i + 1024]) for i in range(0, len(x), 1024)]
        )
        report[name] = _scores(probs, y, source, low_confidence)
        if plots is not None:
            plots.mkdir(parents=True, exist_ok=True)
            title = f"{name}: model {ref.model_id}"
            atomic_write(plots / f"reliability-{name}.png", calibrate.reliability_png(probs, y, title))
            atomic_write(plots / f"confusion-{name}.png", _confusion_png(report[name]["confusion"], title))
    # The first set's figures at the top level too, for scripts written against the MNIST-only report.
    first = report[next(iter(loaders))]
    report.update({k: first[k] for k in ("n", "accuracy", "loss", "errors", "confusion")})
    report["data"] = data_source
    return report


def _site(folder: Path) -> tuple[np.ndarray, np.ndarray, str]:
    items = labelled.scan(folder)
    x, y, refused = labelled.served_inputs(items)
    return x, y, f"{folder}: {len(items)} pictures, {len(refused)} refused by the daemon"


def _held_out(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    part = writers.load(name).part("held-out")
    x, y = writers.served_inputs(part, writers.MEASURED_SIZES)
    return x, y, f"{part.source} (held-out part, own size and 4x)"


def _scores(probs: np.ndarray, y: np.ndarray, source: str, low_confidence: float) -> dict[str, Any]:
    pred = probs.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    accuracy, loss = scores(probs, y)
    return {
        "data": source,
        "n": int(len(y)),
        "accuracy": accuracy,
        "loss": loss,
        "errors": int((pred != y).sum()),
        **calibrate.report(probs, y, low_confidence),
        "confusion": confusion.tolist(),
    }


def scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of predicted probabilities ``probs`` for integer labels ``y``."""
    accuracy = float((probs.argmax(axis=1) == y).mean())
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))
    return accuracy, loss


def _confusion_png(confusion: list[list[int]], title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array(confusion)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(m), cmap="Blues")
    for (t, p), v in np.ndenumerate(m):
        if v:
            ax.text(p, t, str(v), ha="center", va="center", fontsize=7, color="white" if t == p else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("read as")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"model {report['model']} ({report['model_path']}), temperature {report['temperature']:g}",
        f"{'set':8s} {'n':>6s} {'accuracy':>9s} {'errors':>7s} {'ECE':>6s}  ok rows wrong (confidence >= "
        f"{report['low_confidence']:g})",
    ]
    for name in ("own", "mnist", *writers.LOADERS):
        if name in report:
            r = report[name]
            lines.append(
                f"{name:8s} {r['n']:6d} {r['accuracy']:9.2%} {r['errors']:7d} {r['ece']:6.2%}  "
                f"{r['ok_wrong']} of {r['ok_rows']}"
            )
    lines += [f"{report['data']}: confusion matrix (rows: true digit, columns: predicted):"]
    lines.append("      " + " ".join(f"{d:>5}" for d in range(10)))
    lines += [f"  {t}:  " + " ".join(f"{v:>5}" for v in row) for t, row in enumerate(report["confusion"])]
    return "\n".join(lines)
