"""The segment checker (daemon/segment_check.py, trained by training/segments.py) tells a whole digit
from a fragment or a merged pair, on candidates the reading path really makes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from digitwatch.daemon import segment_check
from digitwatch.daemon.recognize import Limits, prepare
from digitwatch.training import segments

DATA = Path(__file__).parent / "data" / "numbers"


def test_whole_digits_score_high_and_fragments_low() -> None:
    checker = segment_check.bundled()
    assert checker is not None, "daemon/models/segments.tflite is bundled"
    truth = json.loads((DATA / "boxes.json").read_text())
    whole, other = [], []
    for name in ("apart-1.png", "close-1.png", "touching-1.png", "five_flag-1.png"):
        lattice = prepare(DATA / name, Limits()).x
        assert lattice is not None and lattice.segmented, name
        p = checker(np.stack([v[0] for v in lattice.x]), lattice.shape)
        match = segments._iou(lattice.boxes, np.asarray(truth[name]["boxes"])).max(axis=1) >= segments.MATCH
        whole += list(p[match])
        other += list(p[~match])
    assert len(whole) >= 12 and len(other) >= 12, (len(whole), len(other))
    assert np.mean(whole) > 0.7 and np.mean(other) < 0.3, (np.mean(whole), np.mean(other))


def test_training_candidates_are_labelled_both_ways() -> None:
    x, shape, y = segments._chunk((0, 12))
    assert x.shape[1:] == (28, 28) and shape.shape == (len(x), 3) and len(y) == len(x) >= 40
    assert 0.2 < y.mean() < 0.8  # whole digits and fragments / merged pairs both
    assert np.all(shape[y == 1, 0] < 2.0)  # no whole digit is twice as wide as the line is high


def test_the_served_checker_is_the_trained_one_with_int8_weights() -> None:
    """to_tflite writes the network as served (its joint dense layer split in two, int8 weights): the split
    answers as the network to float precision, the int8 file within quantisation of it, and a float32
    checker read back (``--requantise``) is the same network."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    net = segments.model()
    rng = np.random.default_rng(0)
    views = (rng.random((64, 28, 28, 1)) * (rng.random((64, 1, 1, 1)) > 0.5)).astype(np.float32)
    shapes = (rng.random((64, 3)) * 2).astype(np.float32)
    expected = np.asarray(net([views, shapes]))[:, 0]  # type: ignore[operator]
    split = segments._split(net)
    assert np.abs(np.asarray(split([views, shapes]))[:, 0] - expected).max() < 1e-5
    content = segments.to_tflite(net)
    served = segment_check.SegmentChecker(content)(views[..., 0], shapes)
    assert np.abs(served - expected).max() < 0.05
    float32 = tf.lite.TFLiteConverter.from_keras_model(net).convert()
    assert len(content) < 0.4 * len(float32)  # int8 weights
    again = segments.from_float(float32)
    assert np.abs(np.asarray(again([views, shapes]))[:, 0] - expected).max() < 1e-6  # type: ignore[operator]
