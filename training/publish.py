"""Publish a trained model into the checkpoint folder, atomically.

Keras writes ``.keras`` files in place; a reader that opens a half-written one
gets a misleading error. So: copy under a hidden temporary name, fsync,
rename to ``model-<id>.keras``, fsync the folder; convert it to LiteRT
(``model-<id>.tflite``, what the daemon serves without TensorFlow) the same way;
write metrics and curves; and only then replace ``latest.json``, the one thing
readers watch. The manifest records each file's hash and the Keras model's
canary accuracy, which the daemon checks the converted model against.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.fsutil import atomic_write
from digitwatch.daemon.registry import MANIFEST, bytes_id, file_id

# Why 1e-4: float32 LiteRT reproduces Keras to ~1e-6 on probabilities (measured on the bundled ensemble);
# a larger gap means the converter changed an op, and the daemon must not serve it.
CONVERSION_MAX_DIFF = 1e-4


@dataclass(frozen=True)
class Published:
    model_id: str
    model_path: Path


@dataclass(frozen=True)
class Converted:
    """A ``.keras`` model converted to LiteRT, with the figures that show the two agree."""

    content: bytes
    keras_canary_accuracy: float
    litert_canary_accuracy: float
    max_abs_diff: float  # largest probability difference between the two on the canary set

    def fields(self, litert_file: str) -> dict[str, Any]:
        return {
            "litert_file": litert_file,
            "litert_id": bytes_id(self.content),
            "keras_canary_accuracy": round(self.keras_canary_accuracy, 6),
            "litert_canary_accuracy": round(self.litert_canary_accuracy, 6),
            "litert_max_abs_diff": float(f"{self.max_abs_diff:.3g}"),
        }


def publish(model_file: Path, metrics: dict[str, Any], checkpoint: Path) -> Published:
    checkpoint.mkdir(parents=True, exist_ok=True)
    model_id = file_id(model_file)
    stem = f"model-{model_id}"
    model_path = atomic_write(checkpoint / f"{stem}.keras", model_file.read_bytes())
    conversion: dict[str, Any] = {}
    try:
        converted = convert(model_file)
    except ConversionError as exc:  # the daemon then serves the .keras through TensorFlow
        print(f"digitwatch: not converted to LiteRT, the daemon will serve it with Keras: {exc}", file=sys.stderr)
    else:
        atomic_write(checkpoint / f"{stem}.tflite", converted.content)
        conversion = converted.fields(f"{stem}.tflite")
    record = {**metrics, **conversion, "model_id": model_id, "published_at": _now()}
    atomic_write(checkpoint / f"{stem}.metrics.json", json.dumps(record, indent=2, sort_keys=True).encode())
    atomic_write(checkpoint / f"{stem}.curves.png", curves_png(metrics))
    manifest = {
        "model_id": model_id,
        "file": model_path.name,
        **{k: v for k, v in conversion.items() if k in ("litert_file", "litert_id", "keras_canary_accuracy")},
        "test_accuracy": metrics.get("test_accuracy"),
        "recipe": metrics.get("recipe"),
        "published_at": record["published_at"],
    }
    atomic_write(checkpoint / MANIFEST, json.dumps(manifest, indent=2).encode())
    return Published(model_id, model_path)


class ConversionError(Exception):
    """The converter failed, or its model does not answer as the Keras model does."""


def convert(model_file: Path) -> Converted:
    """``model_file`` (a ``.keras``) as a float32 LiteRT flatbuffer, checked against Keras on the canary set."""
    from digitwatch.daemon.infer import Predictor, canary, quiet_native_stderr
    from digitwatch.daemon.registry import ModelRef

    x, y = canary()
    try:
        with quiet_native_stderr():  # TensorFlow's converter notices would clutter the training log
            import keras

            model = keras.models.load_model(model_file, safe_mode=True, compile=False)
            reference = np.asarray(model(x[..., None], training=False), dtype=np.float32)
            with tempfile.TemporaryDirectory(prefix="digitwatch-litert-") as tmp:
                out = Path(tmp) / "model.tflite"
                with contextlib.redirect_stdout(io.StringIO()):  # "Saved artifact at ...": stdout carries JSON
                    model.export(str(out), format="litert")
                content = out.read_bytes()
                converted = Predictor.load(ModelRef("candidate", model_file, "file", converted=out))
    except Exception as exc:  # the converter raises many types
        raise ConversionError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
    probs = converted.predict(x)
    diff = float(np.abs(probs - reference).max())
    if diff > CONVERSION_MAX_DIFF:
        raise ConversionError(f"LiteRT answers differ from Keras by up to {diff:.2g} (limit {CONVERSION_MAX_DIFF})")
    keras_acc = float((reference.argmax(axis=1) == y).mean())
    return Converted(content, keras_acc, float((probs.argmax(axis=1) == y).mean()), diff)


def convert_bundled(keras_file: Path) -> dict[str, Any]:
    """Convert the package's bundled model (``daemon/models/default.keras``) beside itself and record the
    figures in its ``.json``, as ``publish`` does for a checkpoint:
    ``python -c "from pathlib import Path; from digitwatch.training.publish import convert_bundled as c;
    print(c(Path('daemon/models/default.keras')))"``."""
    converted = convert(keras_file)
    tflite = atomic_write(keras_file.with_suffix(".tflite"), converted.content)
    meta_path = keras_file.with_suffix(".json")
    meta = {**json.loads(meta_path.read_text()), **converted.fields(tflite.name)}
    atomic_write(meta_path, json.dumps(meta, indent=2, sort_keys=True).encode())
    return converted.fields(tflite.name)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def curves_png(metrics: dict[str, Any]) -> bytes:
    """Accuracy and loss per epoch, train vs validation, side by side (as the seed plots them)."""
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
