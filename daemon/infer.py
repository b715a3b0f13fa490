"""The network: load a checked model, run it on batches.

Two runtimes behind one ``Predictor``:

* **LiteRT** (``ai_edge_litert``), the serving path: the model converted at publish time
  (``model-<id>.tflite``, int8 weights: ~200 us CPU an image instead of ~710 in float32),
  imported in ~0.1 s instead of TensorFlow's ~5 s, and no TensorFlow in the process at all.
  Before it serves, its canary accuracy must reach ``canary_min_accuracy`` and lie within
  ``CONVERSION_TOLERANCE`` of the Keras model's, recorded at publish - the check that the
  conversion kept the network's answers (publish also required them to agree digit by digit).
  A ``.tflite`` given by hand (``predict --model``) is served as it is, checked on the canary set.
* **Keras**, the fallback for a checkpoint published before conversion existed (only a
  ``.keras``): TensorFlow is imported then, lazily, with its native notices muted.

Every file is read once through ``registry.read_checked`` (confined, size-capped,
hash-checked) and parsed from those bytes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import registry
from .errors import ModelError
from .registry import ModelRef

# Why 0.5 points: int8-weight LiteRT moves probabilities by up to ~0.02 but changed no MNIST answer (its canary
# accuracy equals Keras'); two digits of 300 changing side flag a conversion that lost the network.
CONVERSION_TOLERANCE = 0.005
# Why 16 at most: LiteRT fixes the batch size per interpreter (a resize costs 2-50 ms), so a batch runs as
# chunks of these sizes, no padding wasted; the int8-weight ensemble costs least per image in chunks of 16
# (~140 us CPU, ~210 at 256: its activations stay in cache); 16 calls for 256 images add nothing measurable.
BUCKETS = (16, 4, 1)
# Why one thread: the decode processes keep every core busy while the network runs (a burst: a second
# interpreter thread spins beside them, 4% more CPU an image), and a batch of one is slower with two.
THREADS = 1
# Why 0.9999: a digit takes the first network's answer alone when it is this sure (a third of the networks' cost).
# On MNIST test, the real sets' held-out parts and the number bench, no answer changed (docs/serving.md).
FIRST_SURE = 0.9999
# The signatures of a model published for that cascade (training/publish.py): the ensemble; its first network;
# the ensemble's answer given the first network's (the others run).
CASCADE = ("ensemble", "first", "finish")

Runner = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 -> (N, 10) float32
QuickRunner = Callable[[np.ndarray, np.ndarray], np.ndarray]  # the same, and which rows may take the first network's


class Predictor:
    """A loaded, checked model. ``predict`` takes (N, 28, 28) float32 and returns (N, 10) probabilities."""

    def __init__(
        self,
        run: Runner,
        ref: ModelRef,
        runtime: str,
        warm: Callable[[int], None] | None = None,
        quick: QuickRunner | None = None,
    ) -> None:
        self.ref = ref
        self.model_id = ref.model_id
        self.runtime = runtime  # "litert" or "keras"
        self.canary_accuracy = float("nan")
        self._run = run
        self._quick = quick  # the cascade, when the model has one (LiteRT, published with CASCADE)
        self._warm = warm
        self._lock = threading.Lock()
        self._keras: Any = None

    @property
    def _model(self) -> Any:
        """The Keras model itself, for callers that look inside it (tests/test_train.py reads the members);
        loaded on first use when LiteRT serves (TensorFlow is imported then)."""
        if self._keras is None:
            check_id = self.ref.model_id if self.ref.folder is not None else None
            self._keras = _load_keras(registry.read_checked(self.ref.path, self.ref.folder, check_id), self.ref.path)
        return self._keras

    @classmethod
    def load(cls, ref: ModelRef, canary_min_accuracy: float = 0.0) -> Predictor:
        """Load ``ref`` (its LiteRT file when it has one, else the ``.keras`` in Keras safe mode:
        no code from the file) and check it on the canary set; raises ModelError."""
        if ref.problem:
            raise ModelError(ref.problem)
        check_id = ref.model_id if ref.folder is not None else None  # a file given by hand has no manifest
        keras_bytes = registry.read_checked(ref.path, ref.folder, check_id)
        if ref.folder is None and ref.path.suffix == ".tflite":  # a LiteRT file given by hand (predict --model)
            predictor = cls.litert(_LiteRT(keras_bytes, ref.path), replace(ref, converted=ref.path))
        elif ref.converted is not None and litert_available():
            if ref.folder is not None and (ref.converted_id is None or ref.keras_canary is None):
                raise ModelError(f"manifest names {ref.converted.name} without its litert_id and keras_canary_accuracy")
            lite = _LiteRT(registry.read_checked(ref.converted, ref.folder, ref.converted_id), ref.converted)
            predictor = cls.litert(lite, ref)
        else:
            model = _load_keras(keras_bytes, ref.path)
            predictor = cls(_compiled(model), ref, "keras")
            predictor._keras = model
        predictor._check_canary(canary_min_accuracy)
        return predictor

    @classmethod
    def litert(cls, lite: _LiteRT, ref: ModelRef) -> Predictor:
        return cls(lite, ref, "litert", warm=lite.warm_up, quick=lite.quick if lite.cascades else None)

    @property
    def cascades(self) -> bool:
        """Whether a digit may take the first network's answer alone (see :meth:`predict`)."""
        return self._quick is not None

    def _check_canary(self, canary_min_accuracy: float) -> None:
        path = self.ref.converted if self.runtime == "litert" else self.ref.path
        x, y = canary()
        probs = self.predict(x)
        if probs.shape != (len(x), 10) or not np.all(np.isfinite(probs)):
            raise ModelError(f"model {path} gives non-finite or mis-shaped outputs on the canary set")
        if np.any(probs < -1e-4) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-2):
            raise ModelError(f"model {path} does not output probabilities (softmax)")
        self.canary_accuracy = float((probs.argmax(axis=1) == y).mean())
        if self.canary_accuracy < canary_min_accuracy:
            raise ModelError(
                f"model {path} scores {self.canary_accuracy:.1%} on the canary set "
                f"(canary_min_accuracy = {canary_min_accuracy:.0%})"
            )
        keras_figure = self.ref.keras_canary
        if (
            self.runtime == "litert"
            and keras_figure is not None
            and abs(self.canary_accuracy - keras_figure) > CONVERSION_TOLERANCE
        ):
            raise ModelError(
                f"converted model {path} scores {self.canary_accuracy:.1%} on the canary set, "
                f"the Keras model {keras_figure:.1%} at publish: the conversion changed its answers"
            )
        if self._quick is not None:  # the first network alone must answer as the ensemble where it is sure
            quick = self.predict(x, quick=np.ones(len(x), bool))
            if (quick.argmax(axis=1) != probs.argmax(axis=1)).mean() > CONVERSION_TOLERANCE:
                raise ModelError(f"model {path}: its first network, where sure, answers otherwise than the ensemble")

    def warm_up(self, max_batch: int) -> None:
        """Prepare every batch size the worker will use, so the first full batch is not slow."""
        if self._warm is not None:
            with self._lock:
                self._warm(max_batch)
            return
        for n in sorted({1, max_batch}):  # Keras: oneDNN builds its kernels per shape
            self.predict(np.zeros((n, 28, 28), dtype=np.float32))

    def predict(self, x: np.ndarray, quick: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities: the network's, at the temperature recorded with the model. ``quick``
        (N,) bool: the rows that may take the first network's answer alone where it is FIRST_SURE (when
        the model cascades); the others get the ensemble's."""
        if len(x) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        batch = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        with self._lock:
            if self._quick is not None and quick is not None and quick.any():
                probs = np.asarray(self._quick(batch, np.asarray(quick, bool)), dtype=np.float32)
            else:
                probs = np.asarray(self._run(batch), dtype=np.float32)
        return calibrated(probs, self.ref.temperature)


def calibrated(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)``: the same ranking, confidence rescaled (training/calibrate.py)."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


class _LiteRT:
    """A LiteRT model: one interpreter per size in BUCKETS, made on first use; a batch runs as
    chunks of those sizes, largest first. Calls are serialised by the Predictor's lock. A model
    published with the CASCADE signatures also answers :meth:`quick`."""

    def __init__(self, content: bytes, path: Path, threads: int = THREADS) -> None:
        self._content = content
        self._path = path
        self._threads = threads
        # size -> each signature's call on a chunk of that size ("ensemble" alone for a plain model)
        self._by_size: dict[int, dict[str, Callable[..., np.ndarray]]] = {}
        self.cascades = False
        self._interpreter(BUCKETS[-1])  # parse and check it now: a bad file fails the load, not a batch

    def _interpreter(self, n: int) -> dict[str, Callable[..., np.ndarray]]:
        made = self._by_size.get(n)
        if made is not None:
            return made
        from ai_edge_litert.interpreter import Interpreter

        try:
            with _first_native_notice():
                it = Interpreter(model_content=self._content, num_threads=self._threads)
                if set(CASCADE) <= set(it.get_signature_list()):
                    it.allocate_tensors()  # (LiteRT applies its delegate, and prints its notice, on the first)
                    made = {name: _signature_call(it.get_signature_runner(name), n, self._path) for name in CASCADE}
                    self.cascades = True
                else:
                    made = {"ensemble": _plain_call(it, n, self._path)}
        except ModelError:
            raise
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for a bad flatbuffer
            raise ModelError(f"cannot load model {self._path}: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._by_size[n] = made
        return made

    def _chunked(self, name: str, x: np.ndarray, *more: np.ndarray) -> np.ndarray:
        out = [
            self._interpreter(size)[name](x[i : i + size], *(m[i : i + size] for m in more))
            for i, size in chunks(len(x), BUCKETS)
        ]
        return np.concatenate(out)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._chunked("ensemble", x)

    def quick(self, x: np.ndarray, may: np.ndarray) -> np.ndarray:
        """The first network on every row; the ensemble's answer where a row may not take it alone or
        it is less than FIRST_SURE sure (the other networks run on those rows only)."""
        first = self._chunked("first", x)
        again = ~(may & (first.max(axis=1) >= FIRST_SURE))
        if again.any():
            first[again] = self._chunked("finish", x[again], first[again])
        return first

    def warm_up(self, max_batch: int) -> None:
        for size in BUCKETS:
            if size <= max(1, max_batch):
                self._interpreter(size)


def _shape_check(shape_in: tuple[int, ...], shape_out: tuple[int, ...], dtype: Any, path: Path) -> None:
    if shape_in[1:] not in ((28, 28, 1), (28, 28)) or shape_out[1:] != (10,) or dtype != np.float32:
        raise ModelError(f"model {path} has input {shape_in} and output {shape_out}; need (28, 28, 1) -> (10,)")


def _plain_call(it: Any, n: int, path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A one-signature model's interpreter, sized for chunks of ``n``, as a call."""
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    shape_in = tuple(inp["shape_signature"])
    _shape_check(shape_in, tuple(out["shape_signature"]), inp["dtype"], path)
    shape = (n, *shape_in[1:])
    it.resize_tensor_input(inp["index"], list(shape))
    it.allocate_tensors()  # ~16 ms; the first call then costs ~10 ms more, once: no warm-up call
    index_in, index_out = inp["index"], out["index"]

    def call(x: np.ndarray) -> np.ndarray:
        it.set_tensor(index_in, x.reshape(shape))
        it.invoke()
        return it.get_tensor(index_out).copy()  # the tensor's buffer is reused by the next call

    return call


def _signature_call(runner: Any, n: int, path: Path) -> Callable[..., np.ndarray]:
    """One CASCADE signature (inputs ``x``, and ``first`` for "finish"; output ``probs``) as a call on
    chunks of ``n`` (the runner resizes on its first call only: every chunk it gets is that size)."""
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    if "x" not in inputs or "probs" not in outputs:
        raise ModelError(f"model {path}: a cascade signature without input 'x' or output 'probs'")
    shape_in = tuple(inputs["x"]["shape_signature"])
    _shape_check(shape_in, tuple(outputs["probs"]["shape_signature"]), inputs["x"]["dtype"], path)
    shape = (n, *shape_in[1:])

    def call(x: np.ndarray, *first: np.ndarray) -> np.ndarray:
        feeds = {"x": x.reshape(shape)} if not first else {"x": x.reshape(shape), "first": first[0]}
        return np.array(runner(**feeds)["probs"], dtype=np.float32)

    return call


def chunks(n: int, buckets: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    """(start, size) of the chunks a batch of ``n`` runs as: sizes from ``buckets`` (largest first, 1 last)."""
    i = 0
    for size in buckets:
        while n - i >= size:
            yield i, size
            i += size


def _load_keras(content: bytes, path: Path) -> Any:
    """A ``.keras`` model in safe mode (no code from the file), from the checked bytes; imports TensorFlow."""
    try:
        with quiet_native_stderr():
            import keras
        with tempfile.TemporaryDirectory(prefix="digitwatch-model-") as tmp:
            copy = Path(tmp) / "model.keras"  # Keras reads a path; this one holds the bytes that were checked
            copy.write_bytes(content)
            model = keras.models.load_model(copy, safe_mode=True, compile=False)
    except Exception as exc:  # keras raises many types for a bad archive
        raise ModelError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    shape_in = tuple(getattr(model, "input_shape", ()) or ())
    shape_out = tuple(getattr(model, "output_shape", ()) or ())
    if shape_in[1:] not in ((28, 28, 1), (28, 28)) or shape_out[1:] != (10,):
        raise ModelError(f"model {path} has input {shape_in} and output {shape_out}; need (28, 28, 1) -> (10,)")
    return model


def _compiled(model: Any) -> Runner:
    """The model as one compiled function over any batch size."""
    import tensorflow as tf

    fn = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
        reduce_retracing=True,
    )
    return lambda x: np.asarray(fn(x))


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def canary() -> tuple[np.ndarray, np.ndarray]:
    """A few hundred MNIST test digits, already normalised, shipped with the package for model checks."""
    path = Path(str(resources.files("digitwatch.daemon").joinpath("models", "canary.npz")))
    with np.load(path, allow_pickle=False) as data:
        return data["x"].astype(np.float32) / 255.0, data["y"].astype(np.int64)


_noticed = threading.Lock()
_notice_done = False


@contextlib.contextmanager
def _first_native_notice() -> Iterator[None]:
    """LiteRT prints "Created TensorFlow Lite XNNPACK delegate" once per process, on fd 2: mute only
    that first time, so log lines from other threads are not lost later."""
    global _notice_done
    with _noticed:
        if _notice_done:
            yield
            return
        with quiet_native_stderr():
            yield
        _notice_done = True


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
