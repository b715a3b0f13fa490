"""Real handwriting sets as training and measuring data: fixed, disjoint parts; pictures read as served."""

from __future__ import annotations

import io

import numpy as np
import pytest
from digitwatch.daemon.errors import DataError
from digitwatch.daemon.recognize import Limits, digit_input
from digitwatch.training import writers
from PIL import Image


def test_parts_are_fixed_disjoint_and_in_order_with_a_gap_after_training() -> None:
    ws = writers.load("uci")
    parts = {name: ws.part(name) for name in ("train", "held-out", "calibration")}
    n = len(ws.y)
    gap = ws.x[round(n * 0.4) : round(n * 0.5)]  # writers next to the training part: read by no one
    joined = np.concatenate([parts["train"].x, gap, parts["held-out"].x, parts["calibration"].x])
    assert np.array_equal(joined, ws.x)  # in the set's own order, no digit twice
    assert len(parts["held-out"].y) == pytest.approx(len(ws.y) * 0.4, abs=1)
    assert np.array_equal(writers.load("uci").part("held-out").x, parts["held-out"].x)  # the same every time
    with pytest.raises(DataError, match="unknown part"):
        ws.part("test")


def test_a_missing_set_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setitem(writers.LOADERS, "usps", (tmp_path / "nope.npz", writers.LOADERS["usps"][1]))
    assert "usps" not in writers.available()
    with pytest.raises(DataError, match=r"nope\.npz"):
        writers.load("usps")


def test_pictures_are_a_users_files_at_each_size() -> None:
    digit = writers.load("uci").x[0]
    for index, (factor, _) in enumerate(writers.SIZES):
        img = Image.open(io.BytesIO(writers.picture(digit, index)))
        assert img.size == (8 * factor, 8 * factor)
        assert np.asarray(img).min() < 100 < np.asarray(img).max()  # dark ink on light paper


def test_served_inputs_are_what_the_daemon_reads() -> None:
    part = writers.load("uci").part("calibration")
    x, y = writers.served_inputs(part, (0, 2), workers=1)
    assert x.shape[1:] == (28, 28) and x.dtype == np.float32 and len(x) == len(y) == 2 * len(part.y)
    first = digit_input(writers.picture(part.x[0], 2), Limits().max_pixels)[0][0]
    assert np.array_equal(x[1], first)
    assert list(y[:4]) == [part.y[0], part.y[0], part.y[1], part.y[1]]
