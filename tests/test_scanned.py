"""MNIST digits recorded as the real sets' scanners did: each kind in its set's format, read as served."""

from __future__ import annotations

import numpy as np
import pytest
from digitwatch.daemon.recognize import Limits, digit_input
from digitwatch.training import scanned, writers


def _ink_rows_cols(picture: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(picture < 128)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_each_kind_is_in_its_sets_format(test_digits) -> None:
    x, _ = test_digits
    rng = np.random.default_rng(0)
    uci_levels = set(np.unique(writers.load("uci").x).tolist())
    one = next(i for i, d in enumerate(x) if _ink_rows_cols(255 - d)[1] * 3 < _ink_rows_cols(255 - d)[0])  # narrow
    for digit in (x[0], x[one]):
        usps = scanned.record(digit, "usps", rng)
        assert usps.shape == (16, 16) and usps.dtype == np.uint8
        assert usps.min() == 0 and usps.max() == 255  # grey, full contrast
        assert _ink_rows_cols(usps)[0] >= 15  # the digit fills the height...
        semeion = scanned.record(digit, "semeion", rng)
        assert semeion.shape == (16, 16) and set(np.unique(semeion).tolist()) == {0, 255}
        assert _ink_rows_cols(semeion) == (16, 16)  # ...stretched to fill the square, two levels
        uci = scanned.record(digit, "uci", rng)
        assert uci.shape == (8, 8) and set(np.unique(uci).tolist()) <= uci_levels  # 17 levels
        assert _ink_rows_cols(uci)[0] >= 7
    # USPS keeps the aspect: a narrow 1 stays narrow
    assert _ink_rows_cols(scanned.record(x[one], "usps", rng))[1] <= 8
    with pytest.raises(ValueError, match="unknown scanner"):
        scanned.record(x[0], "fax", rng)


def test_scanned_part_is_read_as_the_daemon_reads_at_every_size(test_digits) -> None:
    x, y = test_digits
    inputs, labels, record = scanned.scanned_part(x, y, 12, seed=3, workers=1)
    sizes = len(writers.SIZES)
    assert record["drawn"] == 12 and [record[k]["digits"] for k in scanned.KINDS] == [4, 4, 4]
    assert inputs.shape == (12 * sizes, 28, 28) and inputs.dtype == np.float32 and len(labels) == len(inputs)
    # the first kind's first digit, at the first size, is what the daemon reads of its picture
    rng = np.random.default_rng([3, 29])
    pick = rng.choice(len(y), size=12, replace=False)
    picture = scanned.record(x[pick[0]], "usps", rng)
    expected = digit_input(writers.picture(picture, 0), Limits().max_pixels)[0][0]
    assert np.array_equal(inputs[0], expected) and labels[0] == y[pick[0]]
    assert list(labels[:sizes]) == [y[pick[0]]] * sizes
    assert scanned.scanned_part(x, y, 0, seed=3)[0].shape == (0, 28, 28)
