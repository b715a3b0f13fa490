"""Publish a trained model into the checkpoint folder, atomically.

Keras writes ``.keras`` files in place; a reader that opens a half-written one
gets a misleading error. So: copy under a hidden temporary name, fsync,
rename to ``model-<id>.keras``, fsync the folder; convert it to LiteRT
(``model-<id>.tflite``, what the daemon serves without TensorFlow: weights in int8,
``SERVED_VARIANT``) the same way;
write metrics and curves; and only then replace ``latest.json``, the one thing
readers watch. The manifest records each file's hash and the Keras model's
canary accuracy, which the daemon checks the converted model against.

``python -m digitwatch.training.publish OUT_DIR`` converts the bundled model into every
variant and prints their figures against Keras on the MNIST test split (docs/serving.md).
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
from digitwatch.daemon.config import Config
from digitwatch.daemon.fsutil import atomic_write
from digitwatch.daemon.infer import CONVERSION_TOLERANCE, quiet_native_stderr
from digitwatch.daemon.registry import MANIFEST, bytes_id, file_id

# Why dynamic-range int8 (int8 weights, float activations): a fifth of float32's CPU per image (~145 us against
# ~710), the same answers on all 10,000 MNIST test digits, 5 near ties of 8,778 real pictures (docs/serving.md).
SERVED_VARIANT = "dynamic-int8"
# The LiteRT variants a model can be published as: Keras' export hands these settings to TFLiteConverter.
# "full-int8" (int8 activations too) needs a representative dataset, so only ``compare`` builds it.
VARIANTS = ("dynamic-int8", "float32", "float16")
# Why 99.5%: int8 weights move probabilities (up to ~0.02) but changed no MNIST answer, only near ties elsewhere;
# more than one canary digit in 300 answered otherwise than by Keras means the conversion changed the network.
MIN_CANARY_AGREEMENT = 0.995
# The conversion's fields the manifest carries: what the daemon checks, and the variant for a reader.
MANIFEST_FIELDS = ("litert_file", "litert_id", "litert_variant", "keras_canary_accuracy")


@dataclass(frozen=True)
class Published:
    model_id: str
    model_path: Path


@dataclass(frozen=True)
class Converted:
    """A ``.keras`` model converted to LiteRT, with the figures that show the two agree."""

    content: bytes
    variant: str  # one of VARIANTS
    keras_canary_accuracy: float
    litert_canary_accuracy: float
    agreement: float  # share of the canary digits both answer alike
    max_abs_diff: float  # largest probability difference between the two on the canary set

    def fields(self, litert_file: str) -> dict[str, Any]:
        return {
            "litert_file": litert_file,
            "litert_id": bytes_id(self.content),
            "litert_variant": self.variant,
            "keras_canary_accuracy": round(self.keras_canary_accuracy, 6),
            "litert_canary_accuracy": round(self.litert_canary_accuracy, 6),
            "litert_canary_agreement": round(self.agreement, 6),
            "litert_max_abs_diff": float(f"{self.max_abs_diff:.3g}"),
        }


def publish(model_file: Path, metrics: dict[str, Any], checkpoint: Path, variant: str = SERVED_VARIANT) -> Published:
    """``variant``: how the LiteRT file is converted (``SERVED_VARIANT``, or "float32" to serve as trained)."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    model_id = file_id(model_file)
    stem = f"model-{model_id}"
    model_path = atomic_write(checkpoint / f"{stem}.keras", model_file.read_bytes())
    conversion: dict[str, Any] = {}
    try:
        converted = convert(model_file, variant)
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
        **{k: v for k, v in conversion.items() if k in MANIFEST_FIELDS},
        "test_accuracy": metrics.get("test_accuracy"),
        "temperature": metrics.get("temperature", 1.0),
        "recipe": metrics.get("recipe"),
        "published_at": record["published_at"],
    }
    atomic_write(checkpoint / MANIFEST, json.dumps(manifest, indent=2).encode())
    return Published(model_id, model_path)


class ConversionError(Exception):
    """The converter failed, or its model does not answer as the Keras model does."""


def convert(model_file: Path, variant: str = SERVED_VARIANT) -> Converted:
    """``model_file`` (a ``.keras``) as a LiteRT flatbuffer of ``variant``, checked against Keras on the canary
    set: its accuracy within ``CONVERSION_TOLERANCE`` of Keras' and its answers the same as Keras' on
    ``MIN_CANARY_AGREEMENT`` of the digits. (The daemon checks ``canary_min_accuracy``, its own setting, at load.)"""
    from digitwatch.daemon.infer import canary

    x, y = canary()
    try:
        with quiet_native_stderr():  # TensorFlow's converter notices would clutter the training log
            import keras

            model = keras.models.load_model(model_file, safe_mode=True, compile=False)
            reference = np.asarray(model(x[..., None], training=False), dtype=np.float32)
            content, probs = _export(model, variant, model_file)
    except Exception as exc:  # the converter raises many types
        raise ConversionError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
    keras_acc = float((reference.argmax(axis=1) == y).mean())
    litert_acc = float((probs.argmax(axis=1) == y).mean())
    agreement = float((probs.argmax(axis=1) == reference.argmax(axis=1)).mean())
    if abs(litert_acc - keras_acc) > CONVERSION_TOLERANCE:
        raise ConversionError(
            f"LiteRT ({variant}) scores {litert_acc:.1%} on the canary set, Keras {keras_acc:.1%} "
            f"(need within {CONVERSION_TOLERANCE:.1%})"
        )
    if agreement < MIN_CANARY_AGREEMENT:
        raise ConversionError(
            f"LiteRT ({variant}) answers as Keras on {agreement:.1%} of the canary set "
            f"(need {MIN_CANARY_AGREEMENT:.1%})"
        )
    return Converted(content, variant, keras_acc, litert_acc, agreement, float(np.abs(probs - reference).max()))


def _export(
    model: Any, variant: str, model_file: Path, representative: np.ndarray | None = None
) -> tuple[bytes, np.ndarray]:
    """The LiteRT bytes of ``model`` as ``variant``, and its probabilities on the canary set as the daemon
    computes them (through ``Predictor``). ``representative`` (N, 28, 28) inputs make "full-int8"."""
    import tensorflow as tf
    from digitwatch.daemon.infer import Predictor, canary
    from digitwatch.daemon.registry import ModelRef

    settings: dict[str, Any] = {}
    if variant != "float32":
        settings["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        settings["target_spec"] = {"supported_types": [tf.float16]}
    if variant == "full-int8":
        if representative is None:
            raise ValueError("full-int8 needs a representative dataset")
        batches = representative.astype(np.float32)[:, None, :, :, None]
        settings["representative_dataset"] = lambda: ([b] for b in batches)
    elif variant not in VARIANTS:
        raise ValueError(f"unknown LiteRT variant {variant!r}; known: {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory(prefix="digitwatch-litert-") as tmp:
        out = Path(tmp) / "model.tflite"
        if variant != "full-int8" and len(_members(model)) > 1:
            out.write_bytes(_cascade(model, settings, Path(tmp) / "saved"))
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # "Saved artifact at ...": stdout carries JSON
                model.export(str(out), format="litert", **settings)
        converted = Predictor.load(ModelRef("candidate", model_file, "file", converted=out))
        return out.read_bytes(), converted.predict(canary()[0])


def _members(model: Any) -> list[Any]:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def _cascade(model: Any, settings: dict[str, Any], folder: Path) -> bytes:
    """An ensemble as one LiteRT file with the CASCADE signatures (weights shared): the ensemble, its
    first network alone, and the ensemble's answer given the first's - so the daemon can answer a
    digit its first network is sure of at a third of the cost (daemon/infer.py)."""
    import keras
    import tensorflow as tf
    from digitwatch.daemon.infer import CASCADE

    members = _members(model)
    first, others = members[0], members[1:]
    x = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")
    given = tf.TensorSpec([None, 10], tf.float32, name="first")

    def finish(x: Any, first: Any) -> dict[str, Any]:
        return {"probs": (first + tf.add_n([m(x, training=False) for m in others])) / len(members)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(CASCADE[0], lambda x: {"probs": model(x, training=False)}, input_signature=[x])
    archive.add_endpoint(CASCADE[1], lambda x: {"probs": first(x, training=False)}, input_signature=[x])
    archive.add_endpoint(CASCADE[2], finish, input_signature=[x, given])
    archive.write_out(str(folder), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder), signature_keys=list(CASCADE))
    for key, value in settings.items():
        if key == "target_spec":
            converter.target_spec.supported_types = value["supported_types"]
        else:
            setattr(converter, key, value)
    return bytes(converter.convert())


def convert_bundled(keras_file: Path, variant: str = SERVED_VARIANT) -> dict[str, Any]:
    """Convert the package's bundled model (``daemon/models/default.keras``) beside itself and record the
    figures in its ``.json``, as ``publish`` does for a checkpoint:
    ``python -c "from pathlib import Path; from digitwatch.training.publish import convert_bundled as c;
    print(c(Path('daemon/models/default.keras')))"``."""
    converted = convert(keras_file, variant)
    tflite = atomic_write(keras_file.with_suffix(".tflite"), converted.content)
    meta_path = keras_file.with_suffix(".json")
    meta = {**json.loads(meta_path.read_text()), **converted.fields(tflite.name)}
    atomic_write(meta_path, json.dumps(meta, indent=2, sort_keys=True).encode())
    return converted.fields(tflite.name)


def bundle(model_file: Path, models: Path) -> dict[str, Any]:
    """Make a published model (``model-<id>.keras`` with its ``.metrics.json`` beside it) the package's
    default: ``default.keras`` and ``default.json`` (its metrics, with the temperature and held-out figures
    measured again on the real sets' parts as they are now) in ``models``, then converted as
    :func:`convert_bundled` does. ``python -m digitwatch.training.publish
    --bundle CHECKPOINT/model-<id>.keras`` (into ``daemon/models``)."""
    from .ensemble import load_predict
    from .extra import calibration_fit

    metrics = json.loads(model_file.with_suffix(".metrics.json").read_text())
    keep = {k: v for k, v in metrics.items() if k not in MANIFEST_FIELDS and not k.startswith("litert_")}
    with quiet_native_stderr():
        predict = load_predict(model_file)
    keep.update(calibration_fit(predict))  # on today's parts
    atomic_write(models / "default.keras", model_file.read_bytes())
    atomic_write(models / "default.json", json.dumps(keep, indent=2, sort_keys=True).encode())
    return convert_bundled(models / "default.keras")


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


def compare(out_dir: Path, keras_file: Path, data: Path, representative: int = 500) -> list[dict[str, Any]]:
    """Convert ``keras_file`` into every variant (and "full-int8", calibrated on the first ``representative``
    MNIST training digits through ``normalize``) as ``out_dir/<variant>.tflite``, and score each against
    Keras on the MNIST test split through ``normalize`` (as ``digitwatch evaluate`` feeds it)."""
    from digitwatch.daemon.infer import Predictor
    from digitwatch.daemon.registry import ModelRef

    from . import data as mnist_data
    from .inputs import prepare

    ds = mnist_data.load(str(data))
    x, y = prepare(ds.x_test, use_normalize=True)[..., 0], ds.y_test.astype(np.int64)
    calibration = prepare(ds.x_train[:representative], use_normalize=True)[..., 0]
    with quiet_native_stderr():
        import keras

        model = keras.models.load_model(keras_file, safe_mode=True, compile=False)
        reference = np.asarray(model.predict(x[..., None], batch_size=500, verbose=0), dtype=np.float32)
    rows = [_scores("keras", reference, reference, y)]
    out_dir.mkdir(parents=True, exist_ok=True)
    for variant in ("float32", *[v for v in VARIANTS if v != "float32"], "full-int8"):
        with quiet_native_stderr():
            content, _ = _export(model, variant, keras_file, calibration)
        path = atomic_write(out_dir / f"{variant}.tflite", content)
        served = Predictor.load(ModelRef(variant, path, "file"))
        probs = np.concatenate([served.predict(x[i : i + 1000]) for i in range(0, len(x), 1000)])
        rows.append(_scores(variant, probs, reference, y) | {"file": str(path), "bytes": len(content)})
    return rows


def _scores(name: str, probs: np.ndarray, reference: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    answer, sure = probs.argmax(axis=1), probs.max(axis=1) >= Config.low_confidence
    return {
        "variant": name,
        "accuracy": float((answer == y).mean()),
        "errors": int((answer != y).sum()),
        "agreement": float((answer == reference.argmax(axis=1)).mean()),
        "max_abs_diff": float(f"{np.abs(probs - reference).max():.3g}"),
        "ok_wrong": int((sure & (answer != y)).sum()),
        "low_confidence": int((~sure).sum()),
    }


if __name__ == "__main__":
    # python -m digitwatch.training.publish OUT_DIR [MNIST_NPZ]: every variant of the bundled model, scored
    # python -m digitwatch.training.publish --bundle MODEL.keras: make a published model the bundled default
    from digitwatch.daemon.registry import bundled
    from digitwatch.training.data import default_mnist_path

    if sys.argv[1] == "--bundle":
        print(json.dumps(bundle(Path(sys.argv[2]), Path(__file__).resolve().parents[1] / "daemon" / "models")))
        sys.exit(0)

    mnist = Path(sys.argv[2]) if len(sys.argv) > 2 else default_mnist_path()
    for row in compare(Path(sys.argv[1]), bundled().path, mnist):
        print(json.dumps(row), flush=True)
