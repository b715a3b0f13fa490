"""The systemd watchdog is fed while the daemon makes progress, whatever the size of a batch, and
starved when the worker is stuck (so systemd restarts a hung daemon)."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from pathlib import Path

from conftest import Daemon
from PIL import Image, ImageDraw

LINKS = 256  # one full batch (max_batch) of big pictures
MAX_GAP_S = 5.0  # half the WatchdogSec the test announces (10 s)


class NotifySocket:
    """A stand-in for systemd's notification socket: a bound AF_UNIX datagram socket, every
    message kept with the time it arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()

    def times(self, prefix: str) -> list[float]:
        return [t for t, m in self.messages if m.startswith(prefix)]


def _big_digit(path: Path) -> None:
    """A 12-megapixel scan of a 7 (4000 x 3000, grayscale PNG)."""
    img = Image.new("L", (4000, 3000), 235)
    ImageDraw.Draw(img).line([(1800, 700), (2300, 700), (1950, 2300)], fill=30, width=120)
    img.save(path)


def test_watchdog_pings_through_a_long_batch(daemon_factory, tmp_path: Path, monkeypatch) -> None:
    """256 links to one 12 MP picture at once: the batch takes many seconds, and WATCHDOG=1 still
    arrives at least every 5 s from READY until the last row is out (it used to be sent once per
    batch: 256 such pictures passed WatchdogSec and systemd killed the daemon, in a loop)."""
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "10000000"}
    monkeypatch.delenv("WATCHDOG_PID", raising=False)  # else the daemon would take the pings as another's
    try:
        d: Daemon = daemon_factory(env=env).start()
        source = tmp_path / "big-7.png"
        _big_digit(source)
        for i in range(LINKS):
            os.link(source, d.inbox / f"big-{i:03d}.png")
        rows = d.wait_rows(LINKS, timeout=240)
        finished = time.monotonic()
        assert d.stop() == 0
    finally:
        notify.close()
    assert all(r["status"] != "error" for r in rows), [r["error"] for r in rows if r["error"]][:3]
    (ready,) = notify.times("READY=1")
    pings = [t for t in notify.times("WATCHDOG=1") if ready <= t <= finished]
    marks = [ready, *pings, finished]
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    sizes = [e["size"] for e in d.events() if e.get("event") == "batch"]
    print(f"longest gap {max(gaps):.2f} s over {finished - ready:.1f} s, {len(pings)} pings; batches {sizes}")
    assert max(gaps) < MAX_GAP_S, f"longest gap {max(gaps):.1f} s; batches {sizes}"


def test_stuck_worker_starves_the_watchdog(tmp_path: Path, monkeypatch) -> None:
    """A heartbeat that stops moving stops the pings (systemd then restarts the daemon); pings
    resume when it moves again."""
    from digitwatch.daemon.sdnotify import Watchdog

    notify = NotifySocket(tmp_path / "notify.sock")
    beat = [time.monotonic()]
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    dog = Watchdog(lambda: beat[0], stale_s=0.5, timeout_s=0.2)  # a ping every 0.05 s
    try:
        dog.start()
        time.sleep(0.4)
        fresh = len(notify.times("WATCHDOG=1"))
        time.sleep(0.3)  # the heartbeat is now stale
        stalled_at = len(notify.times("WATCHDOG=1"))
        time.sleep(0.5)
        after_stall = len(notify.times("WATCHDOG=1"))
        beat[0] = time.monotonic()
        time.sleep(0.3)
        resumed = len(notify.times("WATCHDOG=1"))
    finally:
        dog.stop()
        notify.close()
    assert fresh >= 3
    assert after_stall - stalled_at <= 1  # at most one in flight when it went stale
    assert resumed > after_stall
