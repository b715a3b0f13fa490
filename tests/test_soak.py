"""A short soak (bench/soak.py runs the long one): steady stream, no leaks, nothing lost or doubled."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
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


# Events that mean a daemon lost a thread or a process, or gave up.
FATAL_EVENTS = {"worker_died", "publisher_failed", "prepare_worker_died", "forced_exit"}


@pytest.mark.slow
def test_two_daemons_on_one_inbox_for_minutes(daemon_factory, tmp_path: Path) -> None:
    """Two daemons share one inbox under a steady stream for TWO_DAEMONS_S seconds (default 600;
    ``make test-slow``): neither crashes or logs a fatal event, every file has exactly one row,
    and both daemons took work. TWO_DAEMONS_RATE files a second (default 30)."""
    seconds = float(os.environ.get("TWO_DAEMONS_S", "600"))
    rate = float(os.environ.get("TWO_DAEMONS_RATE", "30"))
    a = daemon_factory().start(timeout=120)
    b = daemon_factory(log_path=tmp_path / "daemon-b.log").start(timeout=120)
    pool = soak.make_pool(200)
    produced: list[str] = []
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        started = time.monotonic()
        try:
            for i in itertools.count():
                if stop.wait(max(0.0, started + i / rate - time.monotonic())):
                    return
                if time.monotonic() - started >= seconds:
                    return
                name = f"t{i:06d}.png"
                tmp = a.inbox / f".{name}.part"  # hidden while written: ignored until renamed
                tmp.write_bytes(pool[i % len(pool)])
                os.rename(tmp, a.inbox / name)
                produced.append(name)
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        while producer.is_alive():
            dead = [d.log_path.name for d in (a, b) if not d.alive()]
            assert not dead, f"{dead} exited after {len(produced)} files:\n{a.tail(10)}\n{b.tail(10)}"
            producer.join(1.0)
    finally:
        stop.set()
        producer.join()
    assert not failure, failure
    assert len(produced) >= 0.9 * rate * seconds, f"the producer fell behind: {len(produced)} files"
    deadline = time.monotonic() + 120
    while len(a.rows()) < len(produced) and time.monotonic() < deadline:
        assert a.alive() and b.alive(), f"a daemon exited:\n{a.tail(10)}\n{b.tail(10)}"
        time.sleep(0.2)
    codes = {d.log_path.name: d.stop(timeout=60) for d in (a, b)}  # drains: late duplicates would show
    assert codes == {"daemon.log": 0, "daemon-b.log": 0}, codes
    counts = Counter(r["file"] for r in a.rows())
    lost = [n for n in produced if n not in counts]
    doubled = {n: c for n, c in counts.items() if c > 1}
    assert not lost and not doubled, f"{len(lost)} lost {lost[:5]}, {len(doubled)} doubled {list(doubled)[:5]}"
    assert set(counts) == set(produced)
    assert all((a.archive / n).exists() or (a.failed / n).exists() for n in produced)
    for d in (a, b):
        fatal = [e for e in d.events() if e.get("event") in FATAL_EVENTS or e.get("level") == "critical"]
        assert not fatal, f"{d.log_path.name}: {fatal[:3]}"
    taken = {d.log_path.name: sum(int(e["size"]) for e in d.events("batch")) for d in (a, b)}
    assert sum(taken.values()) == len(produced), taken
    assert min(taken.values()) > 0, f"one daemon took no file: {taken}"
    print(f"two daemons, {seconds:.0f} s at {rate:g}/s: {len(produced)} files, taken {taken}")
