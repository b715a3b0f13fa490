"""The preprocessing pool: processes give the same results as threads, and a worker that dies
(as a decoder crashing on a hostile file would) costs a retry, not the daemon."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
from conftest import dark_on_light
from digitwatch.daemon.pool import PreparePool
from digitwatch.daemon.recognize import Limits, Prepared


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
    assert all(np.array_equal(_views(p), _views(q)) for p, q in zip(a, b))


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


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _running(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_die_with_the_daemon(daemon_factory, test_digits) -> None:
    """kill -9 of the daemon must not leave its preprocessing workers behind as orphans."""
    import time

    d = daemon_factory().start()
    dark_on_light(test_digits[0][0]).save(d.inbox / "one.png")
    d.wait_rows(1)
    workers = [p for p in _children_of(d.proc.pid) if "spawn_main" in open(f"/proc/{p}/cmdline").read()]
    assert len(workers) == 2
    d.kill()
    deadline = time.monotonic() + 10
    while any(_running(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _running(p)], "orphaned workers"


def _views(p: Prepared) -> np.ndarray | None:
    """A picture's candidates' views, stacked (one candidate for a digit)."""
    return None if p.x is None else np.concatenate(p.x.x)
