"""The segment checker: a small network that tells a whole digit from a fragment or a merged pair.

The digit network reads half a 0 as a 6 and a touching 04 as a 4, both at confidences near 1: its
answer cannot tell a cut through a digit from a cut between two. This network can: it reads each
candidate of a number's lattice (preprocess.number) as the digit network does - its 28x28 view -
with the candidate's shape on the line (width, height, offset: the boxing throws them away), and
answers how likely it is to be exactly one digit. It learns from numbers drawn by
training/numbers.py out of training digits only (MNIST's training set, the writer sets' training
parts), a fifth of them with a dash or a slash (a date) between two digits; a candidate is one digit
when its box matches a written digit's (IoU >= MATCH) - a slash, shaped as a 1, is not.

    python -m digitwatch.training.segments --out daemon/models/segments.tflite [--pictures 40000] [--epochs 10]
    python -m digitwatch.training.segments --out NEW.tflite --requantise OLD.tflite  # a float32 one, as served now
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.errors import ImageError
from digitwatch.daemon.recognize import Limits, picture_input

from . import data, numbers, writers

MATCH = 0.75  # a candidate is a written digit when their boxes overlap this much (intersection over union)
GAPS = (-0.12, 0.4)  # overlapping to well apart: every band the reader meets
LENGTHS = (2, 6)  # digits a number: enough neighbours for every kind of cut
EPOCHS = 10  # the held-out loss levels off from the 8th on ~460k candidates
PICTURES = 40000  # 2.5 times 16,000: 95.9% of held-out candidates right, not 94.8% (docs/numbers.md)
MARKED = 0.2  # numbers with a dash or a slash between digits: a slash is no digit, though shaped as a 1
SEED = 5


def train_digits() -> list[tuple[np.ndarray, np.ndarray]]:
    """Digits no test or benchmark reads: MNIST's training set, the writer sets' training parts."""
    mnist = data.load(data.default_mnist_path())
    out = [(mnist.x_train, mnist.y_train.astype(np.int64))]
    for name in writers.available():
        part = writers.load(name).part("train")
        out.append((255 - part.x, part.y))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (S, 4) with boxes ``b`` (T, 4), x0 y0 x1 y1: (S, T)."""
    x0, y0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x1, y1 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1)


def _chunk(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of pictures [start, stop): views (N, 28, 28), shapes (N, 3), labels (N,) 1 = one digit."""
    start, stop = job
    sets = train_digits()
    xs, shapes, ys = [], [], []
    for i in range(start, stop):
        rng = np.random.default_rng([SEED, i])
        images, labels = sets[int(rng.integers(len(sets)))]
        n = int(rng.integers(LENGTHS[0], LENGTHS[1] + 1))
        style = str(rng.choice(list(numbers.STYLES)))
        mark_at = int(rng.integers(1, n)) if rng.random() < MARKED else None
        mark = str(rng.choice(list(numbers.MARKS)))
        gap = float(rng.uniform(*GAPS))
        drawn = numbers.render(rng, images, labels, n, gap, style=style, dash_at=mark_at, mark=mark)
        buf = io.BytesIO()
        drawn.image.save(buf, format="PNG")
        try:
            lattice, _ = picture_input(buf.getvalue(), Limits(), judged=False)  # (every cut: the checker's own lessons)
        except ImageError:
            continue
        if not lattice.segmented:  # read as one digit: no candidates to choose among
            continue
        match = _iou(lattice.boxes, np.asarray(drawn.boxes)).max(axis=1) >= MATCH
        xs += [v[0] for v in lattice.x]
        shapes.append(lattice.shape)
        ys.append(match)
    if not xs:
        return np.zeros((0, 28, 28), np.float32), np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
    return np.stack(xs), np.concatenate(shapes), np.concatenate(ys).astype(np.float32)


def candidates(pictures: int, workers: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    workers = workers or os.cpu_count() or 1
    edges = np.linspace(0, pictures, workers * 8 + 1).astype(int)
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_chunk, [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def model() -> object:
    """The checker: the view through two convolutions, joined by the shape, to one probability."""
    import keras

    view = keras.Input((28, 28, 1), name="view")
    shape = keras.Input((3,), name="shape")
    h = keras.layers.Conv2D(32, 3, activation="relu")(view)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Concatenate()([h, keras.layers.Dense(16, activation="relu")(shape)])
    h = keras.layers.Dense(64, activation="relu")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="one_digit")(h)
    net = keras.Model([view, shape], out)
    net.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return net


def to_tflite(net: object) -> bytes:
    """The checker as served: int8 weights (float activations), as the digit network - 24 us a candidate
    instead of 56 in float32. Its dense layer over [the view's features; the shape's] is written as two
    summed (:func:`_split`): quantised as one input, the shape's three numbers would share the view's scale."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_split(net))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


def _split(net: Any) -> Any:
    """:func:`model`'s network with the same weights and answers, its joint dense layer W [h; s] + b
    computed as (W_h h + b) + W_s s."""
    import keras

    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = {layer.get_weights()[0].shape: layer for layer in net.layers if isinstance(layer, keras.layers.Dense)}
    joint = next(layer for k, layer in dense.items() if k[0] > 64)  # (the one over the view and the shape)
    kernel, bias = joint.get_weights()
    views = kernel.shape[0] - 16  # (the shape's branch gives the last 16 inputs)
    view = keras.Input((28, 28, 1), name="view")
    shape = keras.Input((3,), name="shape")
    c1, c2 = (keras.layers.Conv2D(c.filters, 3, activation="relu") for c in convs)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(c2(keras.layers.MaxPooling2D()(c1(view)))))
    branch = keras.layers.Dense(16, activation="relu")
    of_view, of_shape = keras.layers.Dense(kernel.shape[1]), keras.layers.Dense(kernel.shape[1], use_bias=False)
    joined = keras.layers.Activation("relu")(keras.layers.Add()([of_view(h), of_shape(branch(shape))]))
    last = keras.layers.Dense(1, activation="sigmoid", name="one_digit")
    split = keras.Model([view, shape], last(joined))
    for mine, theirs in ((c1, convs[0]), (c2, convs[1]), (branch, dense[(3, 16)]), (last, dense[(kernel.shape[1], 1)])):
        mine.set_weights(theirs.get_weights())
    of_view.set_weights([kernel[:views], bias])
    of_shape.set_weights([kernel[views:]])
    return split


def from_float(content: bytes) -> Any:
    """:func:`model`'s network again from a float32 ``.tflite`` of it (its weights read back), for
    ``--requantise``: a checker trained before int8 weights, served as :func:`to_tflite` serves one now."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    it.allocate_tensors()
    weights = {}  # each convolution's and dense layer's (kernel, bias), by the kernel's shape (LiteRT's layout)
    for op in it._get_ops_details():  # (a private call: a tool run by hand, never by the daemon)
        if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED"):
            kernel = it.get_tensor(int(op["inputs"][1]))
            at = int(op["inputs"][2]) if len(op["inputs"]) > 2 else -1  # (-1: a bias of zeros, left out)
            weights[kernel.shape] = (kernel, it.get_tensor(at) if at >= 0 else np.zeros(kernel.shape[0], np.float32))
    net: Any = model()
    for layer in net.layers:
        if not layer.get_weights():
            continue
        kernel = layer.get_weights()[0]
        if kernel.ndim == 4:  # (LiteRT keeps a convolution's kernel as out, h, w, in)
            k, b = weights[(kernel.shape[3], *kernel.shape[:3])]
            layer.set_weights([k.transpose(1, 2, 3, 0), b])
        else:  # (and a dense layer's as out, in)
            k, b = weights[kernel.shape[::-1]]
            layer.set_weights([k.T, b])
    return net


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the segment checker on numbers drawn from training digits.")
    ap.add_argument("--out", type=Path, required=True, help="the .tflite to write")
    ap.add_argument("--pictures", type=int, default=PICTURES)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument(
        "--requantise", type=Path, metavar="OLD", help="write OLD (a float32 checker) as served now, untrained"
    )
    args = ap.parse_args(argv)
    started = time.perf_counter()
    if args.requantise is not None:
        args.out.write_bytes(to_tflite(from_float(args.requantise.read_bytes())))
        return
    x, shape, y = candidates(args.pictures)
    print(
        f"{len(y):,} candidates from {args.pictures:,} numbers, {y.mean():.1%} whole digits, "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    import keras

    keras.utils.set_random_seed(SEED)
    order = np.random.default_rng(SEED).permutation(len(y))
    x, shape, y = x[order][..., None], shape[order], y[order]
    cut = int(0.9 * len(y))
    net = model()
    net.fit(  # type: ignore[attr-defined]
        [x[:cut], shape[:cut]],
        y[:cut],
        validation_data=([x[cut:], shape[cut:]], y[cut:]),
        epochs=args.epochs,
        batch_size=256,
        verbose=2,
    )
    args.out.write_bytes(to_tflite(net))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
