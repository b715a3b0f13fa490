"""The preprocessing pool: processes give the same results as threads, and a worker that dies
(as a decoder crashing on a hostile file would) costs a retry, not the daemon."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
from conftest import dark_on_light
from digitwatch.daemon.pool import PreparePool
from digitwatch.daemon.procpool import DeadlinePool, Failure
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


def _job(i: int, sleep_s: float = 0.0, exit_code: int | None = None, tries: str = "") -> tuple[int, int]:
    """A pool task (module level, for spawn): note the try, perhaps die, sleep; its index and pid."""
    if tries:
        with open(tries, "a") as f:
            f.write(f"{i}\n")
    if exit_code is not None:
        os._exit(exit_code)
    time.sleep(sleep_s)
    return i, os.getpid()


def test_deadline_in_the_middle_of_a_chunk() -> None:
    """Tasks go out in chunks of 8 here (32 over 2 processes): task 4 hangs in the middle of the
    first. Its deadline counts from its own start, not the chunk's (tasks 0-3 take 1.2 s, more
    than the timeout): it alone times out. Tasks 0-3 had sent their results (each took longer
    than FLUSH_S) and keep them; 5-7, queued behind it, run on another process."""
    pool = DeadlinePool(2, _job, timeout_s=1.0)
    try:
        pool.wait_ready()
        before = set(pool.pids())
        tasks = [(i, 0.3 if i < 4 else 0.0) for i in range(32)]
        tasks[4] = (4, 30.0)
        started = time.monotonic()
        results = pool.run(tasks)
        took = time.monotonic() - started
        after = set(pool.pids())
    finally:
        pool.close()
    (victim,) = before - after
    assert len(after) == 2
    assert results[4] == Failure("timeout")
    assert [r[0] for r in results if not isinstance(r, Failure)] == [i for i in range(32) if i != 4]
    assert {results[i][1] for i in range(4)} == {victim}
    assert victim not in {results[i][1] for i in range(5, 8)}
    assert took < 8


def test_crash_in_the_middle_of_a_chunk(tmp_path: Path) -> None:
    """Task 5 kills its process in the middle of a chunk, twice: it alone fails, after exactly
    one retry; the tasks before it (whose results died unsent) and after it get results."""
    tries = tmp_path / "tries"
    tasks: list[tuple] = [(i,) for i in range(32)]
    tasks[5] = (5, 0.0, 3, str(tries))
    pool = DeadlinePool(2, _job, timeout_s=30.0)
    try:
        pool.wait_ready()
        results = pool.run(tasks)
        assert len(pool.pids()) == 2
    finally:
        pool.close()
    assert results[5] == Failure("crash")
    assert tries.read_text().split() == ["5", "5"]
    assert [r[0] for r in results if not isinstance(r, Failure)] == [i for i in range(32) if i != 5]


def test_on_done_once_per_task(tmp_path: Path) -> None:
    """A crash and a deadline in chunks: tasks the parent saw end and then lost with their
    process are run again, but counted once."""
    calls: list[int] = []
    tasks: list[tuple] = [(i,) for i in range(32)]
    tasks[3] = (3, 0.0, 3, str(tmp_path / "tries"))
    tasks[12] = (12, 30.0)
    pool = DeadlinePool(2, _job, timeout_s=1.0)
    try:
        pool.wait_ready()
        results = pool.run(tasks, on_done=lambda: calls.append(1))
    finally:
        pool.close()
    assert results[3] == Failure("crash") and results[12] == Failure("timeout")
    assert sum(not isinstance(r, Failure) for r in results) == 30
    assert len(calls) == 32


def test_on_done_as_each_task_ends() -> None:
    """Task 0 ends at once; task 1, in the same chunk, sleeps 2 s: on_done tells of task 0 then
    (the heartbeat), not when the chunk's results arrive."""
    calls: list[float] = []
    pool = DeadlinePool(1, _job, timeout_s=10.0)
    try:
        pool.wait_ready()
        started = time.monotonic()
        results = pool.run([(0,), (1, 2.0), (2,), (3,)], on_done=lambda: calls.append(time.monotonic() - started))
    finally:
        pool.close()
    assert [r[0] for r in results] == [0, 1, 2, 3]
    assert len(calls) == 4
    assert calls[0] < 1.2 and calls[-1] >= 2.0


def test_results_in_order_over_many_chunks() -> None:
    """600 tasks of uneven length over 2 processes, twice on the same pool, then one: each
    result lands at its task's place, and both processes take part."""
    pool = DeadlinePool(2, _job, timeout_s=10.0)
    try:
        pool.wait_ready()
        calls: list[int] = []
        for turn in (1, 2):
            results = pool.run([(i, 0.002 if i % 7 == 0 else 0.0) for i in range(600)], lambda: calls.append(1))
            assert [r[0] for r in results] == list(range(600))
            assert {r[1] for r in results} == set(pool.pids())
            assert len(calls) == 600 * turn
        assert [r[0] for r in pool.run([(7,)])] == [7]
    finally:
        pool.close()


def test_process_that_does_not_start_its_task_is_replaced() -> None:
    """A process stopped (SIGSTOP) before it takes its tasks never stamps a start: its first task
    is timed out from when it was sent, the other goes to a new process."""
    pool = DeadlinePool(1, _job, timeout_s=1.0)
    try:
        pool.wait_ready()
        (stopped,) = pool.pids()
        os.kill(stopped, signal.SIGSTOP)
        started = time.monotonic()
        results = pool.run([(0,), (1,)])
        took = time.monotonic() - started
        assert stopped not in pool.pids()
    finally:
        pool.close()
    assert results[0] == Failure("timeout")
    assert results[1][0] == 1 and results[1][1] != stopped
    assert took < 8
