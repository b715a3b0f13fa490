"""Publish a trained model into the checkpoint folder, atomically.

Keras writes ``.keras`` files in place; a reader that opens a half-written one
gets a misleading error. So: copy under a hidden temporary name, fsync,
rename to ``model-<id>.keras``, fsync the folder, write metrics and curves the
same way, and only then replace ``latest.json``, the one thing readers watch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitwatch.daemon.fsutil import atomic_write
from digitwatch.daemon.registry import MANIFEST, file_id


@dataclass(frozen=True)
class Published:
    model_id: str
    model_path: Path


def publish(model_file: Path, metrics: dict[str, Any], checkpoint: Path) -> Published:
    checkpoint.mkdir(parents=True, exist_ok=True)
    model_id = file_id(model_file)
    stem = f"model-{model_id}"
    model_path = atomic_write(checkpoint / f"{stem}.keras", model_file.read_bytes())
    record = {**metrics, "model_id": model_id, "published_at": _now()}
    atomic_write(checkpoint / f"{stem}.metrics.json", json.dumps(record, indent=2, sort_keys=True).encode())
    atomic_write(checkpoint / f"{stem}.curves.png", curves_png(metrics))
    manifest = {
        "model_id": model_id,
        "file": model_path.name,
        "test_accuracy": metrics.get("test_accuracy"),
        "recipe": metrics.get("recipe"),
        "published_at": record["published_at"],
    }
    atomic_write(checkpoint / MANIFEST, json.dumps(manifest, indent=2).encode())
    return Published(model_id, model_path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def curves_png(metrics: dict[str, Any]) -> bytes:
    """Accuracy and loss per epoch, train vs validation, side by side (as the seed plots them)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = metrics["history"]
    epochs = range(1, len(h["accuracy"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    others = metrics.get("member_histories", [])  # an ensemble: the first member in full, the others' validation
    for ax, key, title in ((left, "accuracy", "Accuracy"), (right, "loss", "Loss")):
        ax.plot(epochs, h[key], "o-", label="training")
        ax.plot(epochs, h[f"val_{key}"], "s-", label="validation")
        for k, other in enumerate(others, start=2):
            ax.plot(range(1, len(other[key]) + 1), other[f"val_{key}"], "-", alpha=0.6, label=f"validation, member {k}")
        members = f", {len(others) + 1} members" if others else ""
        ax.set_title(f"{title} ({metrics['recipe']} recipe{members})")
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
