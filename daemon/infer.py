"""The network: load a ``.keras`` model safely, check it, run it on batches through one compiled function."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import ModelError
from .registry import ModelRef


class Predictor:
    """A loaded, checked model. ``predict`` takes (N, 28, 28) float32 and returns (N, 10) probabilities."""

    def __init__(self, model: object, ref: ModelRef, canary_accuracy: float) -> None:
        import tensorflow as tf

        self.ref = ref
        self.model_id = ref.model_id
        self.canary_accuracy = canary_accuracy
        self._model = model
        self._lock = threading.Lock()
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
            reduce_retracing=True,
        )

    @classmethod
    def load(cls, ref: ModelRef, canary_min_accuracy: float = 0.0) -> Predictor:
        """Load ``ref`` in Keras safe mode (no code from the file) and check it; raises ModelError."""
        if not ref.path.is_file():
            raise ModelError(f"model file not found: {ref.path}")
        try:
            import keras

            model = keras.models.load_model(ref.path, safe_mode=True, compile=False)
        except Exception as exc:  # keras raises many types for a bad archive
            raise ModelError(f"cannot load model {ref.path}: {type(exc).__name__}: {str(exc)[:200]}") from None
        shape_in = tuple(getattr(model, "input_shape", ()) or ())
        shape_out = tuple(getattr(model, "output_shape", ()) or ())
        if shape_in[1:] not in ((28, 28, 1), (28, 28)) or shape_out[1:] != (10,):
            raise ModelError(f"model {ref.path} has input {shape_in} and output {shape_out}; need (28, 28, 1) -> (10,)")
        predictor = cls(model, ref, canary_accuracy=float("nan"))
        x, y = canary()
        probs = predictor.predict(x)
        if probs.shape != (len(x), 10) or not np.all(np.isfinite(probs)):
            raise ModelError(f"model {ref.path} gives non-finite or mis-shaped outputs on the canary set")
        if np.any(probs < -1e-4) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-2):
            raise ModelError(f"model {ref.path} does not output probabilities (softmax)")
        predictor.canary_accuracy = float((probs.argmax(axis=1) == y).mean())
        if predictor.canary_accuracy < canary_min_accuracy:
            raise ModelError(
                f"model {ref.path} scores {predictor.canary_accuracy:.1%} on the canary set "
                f"(canary_min_accuracy = {canary_min_accuracy:.0%})"
            )
        return predictor

    def warm_up(self, max_batch: int) -> None:
        """Run the batch sizes the worker will use once: oneDNN builds its kernels per shape."""
        for n in sorted({1, max_batch}):
            self.predict(np.zeros((n, 28, 28), dtype=np.float32))

    def predict(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        batch = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        with self._lock:
            return np.asarray(self._fn(batch), dtype=np.float32)


def canary() -> tuple[np.ndarray, np.ndarray]:
    """A few hundred MNIST test digits, already normalised, shipped with the package for model checks."""
    path = Path(str(resources.files("digitwatch.daemon").joinpath("models", "canary.npz")))
    with np.load(path, allow_pickle=False) as data:
        return data["x"].astype(np.float32) / 255.0, data["y"].astype(np.int64)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 while TensorFlow loads: its C++ start-up notices (oneDNN, CPU
    features) ignore TF_CPP_MIN_LOG_LEVEL and would break a JSON-lines log. Python-level
    errors still propagate as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
