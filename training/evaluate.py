"""``digitwatch evaluate``: a model's accuracy on the MNIST test split, through the serving preprocessor."""

from __future__ import annotations

from typing import Any

import numpy as np
from digitwatch.daemon.infer import Predictor
from digitwatch.daemon.registry import ModelRef

from . import data as mnist_data
from .inputs import prepare


def evaluate(ref: ModelRef, data: str | None) -> dict[str, Any]:
    """Accuracy, loss, n and a confusion matrix (rows: true digit, columns: predicted)."""
    ds = mnist_data.load(data)
    predictor = Predictor.load(ref)
    x = prepare(ds.x_test, use_normalize=True)[..., 0]
    probs = np.concatenate([predictor.predict(x[i : i + 1024]) for i in range(0, len(x), 1024)])
    y = ds.y_test.astype(np.int64)
    pred = probs.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    accuracy, loss = scores(probs, y)
    return {
        "model": ref.model_id,
        "model_path": str(ref.path),
        "data": ds.source,
        "inputs": "normalize",
        "n": int(len(y)),
        "accuracy": accuracy,
        "loss": loss,
        "errors": int((pred != y).sum()),
        "confusion": confusion.tolist(),
    }


def scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of predicted probabilities ``probs`` for integer labels ``y``."""
    accuracy = float((probs.argmax(axis=1) == y).mean())
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))
    return accuracy, loss


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"model {report['model']} ({report['model_path']})",
        f"data  {report['data']}: {report['n']} test images through the serving preprocessor",
        f"accuracy {report['accuracy']:.4%}  ({report['errors']} wrong), loss {report['loss']:.4f}",
        "confusion matrix (rows: true digit, columns: predicted):",
        "      " + " ".join(f"{d:>5}" for d in range(10)),
    ]
    lines += [f"  {t}:  " + " ".join(f"{v:>5}" for v in row) for t, row in enumerate(report["confusion"])]
    return "\n".join(lines)
