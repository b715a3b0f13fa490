"""The preprocessing pool: processes give the same results as threads, and a worker that dies
(as a decoder crashing on a hostile file would) costs a retry, not the daemon."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from conftest import dark_on_light
from digitwatch.daemon.pool import PreparePool
from digitwatch.daemon.recognize import Limits


def _files(tmp_path: Path, test_digits, n: int = 40) -> list[Path]:
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        dark_on_light(test_digits[0][i]).save(path)
        paths.append(path)
    return paths


def test_processes_match_threads(tmp_path: Path, test_digits) -> None:
    paths = _files(tmp_path, test_digits)
    procs, threads = PreparePool(2, processes=True), PreparePool(2, processes=False)
    try:
        a, b = procs.prepare(paths, Limits()), threads.prepare(paths, Limits())
    finally:
        procs.close()
        threads.close()
    assert [p.sha256 for p in a] == [p.sha256 for p in b]
    assert all(np.array_equal(p.x, q.x) for p, q in zip(a, b))


def test_killed_worker_is_replaced(tmp_path: Path, test_digits) -> None:
    paths = _files(tmp_path, test_digits, 20)
    pool = PreparePool(2, processes=True)
    try:
        assert all(p.x is not None for p in pool.prepare(paths, Limits()))
        victim = next(iter(pool._executor._processes))  # a worker's pid
        os.kill(victim, signal.SIGKILL)
        results = pool.prepare(paths, Limits())
        assert len(results) == 20 and sum(p.x is not None for p in results) >= 19
        assert all(p.x is not None for p in pool.prepare(paths, Limits()))
    finally:
        pool.close()
