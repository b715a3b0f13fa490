"""A short soak (bench/soak.py runs the long one): steady stream, no leaks, nothing lost or doubled."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import soak


def test_short_soak(tmp_path: Path) -> None:
    figures = soak.soak(files=1500, rate=150, root=tmp_path)
    print(figures)
    assert figures["written"] == 1500, "the test's writer stopped early"
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["exit_code"] == 0
    assert figures["rows"] == 1500
    assert figures["fds_end"] <= figures["fds_start"] + 4, "file descriptors leak"
    assert figures["queue_max"] <= 10000
    assert figures["rss_end_mib"] < figures["rss_start_mib"] + 150, "memory grows"
