"""A short soak (bench/soak.py runs the long one): steady stream, no leaks, nothing lost or doubled."""

from __future__ import annotations

from pathlib import Path

import soak  # bench/soak.py: conftest puts bench/ on the path

RATE = 150  # files per second


def test_short_soak(tmp_path: Path) -> None:
    figures = soak.soak(files=1500, rate=RATE, root=tmp_path)
    print(figures)
    assert figures["written"] == 1500, "the test's writer stopped early"
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["exit_code"] == 0
    assert figures["rows"] == 1500
    assert figures["fds_end"] <= figures["fds_start"] + 4, "file descriptors leak"
    # The daemon keeps up: the queue (sampled once a second) never holds more than a second of input.
    # (The old bound, 10,000, was the queue's capacity: it could not fail.)
    assert figures["queue_max"] <= RATE, f"the queue grew to {figures['queue_max']}: the daemon fell behind"
    assert figures["rss_end_mib"] < figures["rss_start_mib"] + 150, "memory grows"
