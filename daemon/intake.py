"""The queue between the watcher and the worker: de-duplicated, bounded, with a settle check.

A path is offered by events and by rescans, often several times; it is queued
once. A path not known to be complete waits until its size and mtime hold
still for ``settle_s`` (copies over a network, polling mode, files found by a
rescan). When the queue is full, offers are dropped and the intake remembers
to rescan once there is room: back-pressure without losing a file, since a
dropped path is still sitting in the inbox.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from pathlib import Path

LINGER_S = 0.003
ARRIVALS_PER_SLOT = 4  # arrival times kept per queue slot: room for files offered again after an overflow


class Intake:
    def __init__(self, capacity: int, settle_s: float, writing_s: float = 30.0, trust_mtime: bool = True) -> None:
        self.capacity = capacity
        # Local file systems: a file whose mtime is already settle_s old has held still that long,
        # so files found at start-up need not wait. Not on network shares (polling mode), where
        # mtime comes from another machine's clock.
        self.trust_mtime = trust_mtime
        self.settle_s = settle_s
        self.writing_s = max(writing_s, settle_s)
        self._cond = threading.Condition()
        self._ready: collections.deque[Path] = collections.deque()
        self._queued: set[Path] = set()
        self._pending: dict[Path, tuple[int, int, float, float]] = {}  # path -> (size, mtime_ns, since, hold_s)
        self._arrived: dict[Path, float] = {}  # path -> time.monotonic() of its first offer (latency metric)
        self.overflowed = False
        self.closed = False

    def offer(self, path: Path, state: str) -> None:
        """Called from watcher threads. ``state`` is one of:

        - ``ready``: known complete (closed after writing, renamed in): queue now;
        - ``writing``: just created and open: wait for ``ready``, or ``writing_s`` of stillness
          (a writer may pause longer than the settle time between two halves of a file);
        - ``settle``: found by a rescan or a polling observer: queue after ``settle_s`` of stillness.
        """
        with self._cond:
            if path in self._queued or self.closed:
                return
            if len(self._arrived) > ARRIVALS_PER_SLOT * self.capacity:  # offers dropped on overflow, then deleted
                self._arrived = {p: t for p, t in self._arrived.items() if p in self._queued or p in self._pending}
            self._arrived.setdefault(path, time.monotonic())
            if state == "ready":
                self._pending.pop(path, None)
                self._enqueue(path)
            elif state == "settle" and self.trust_mtime and path not in self._pending and self._still(path):
                self._enqueue(path)
            elif path not in self._pending:
                hold = self.writing_s if state == "writing" else self.settle_s
                self._pending[path] = (-1, -1, time.monotonic(), hold)

    def _still(self, path: Path) -> bool:
        try:
            return time.time() - os.lstat(path).st_mtime >= self.settle_s
        except OSError:
            return False

    def _enqueue(self, path: Path) -> None:
        if len(self._ready) >= self.capacity:
            self.overflowed = True
            return
        self._ready.append(path)
        self._queued.add(path)
        self._cond.notify()

    def settle(self) -> None:
        """Move pending paths that held still for ``settle_s`` into the queue; forget vanished ones."""
        now = time.monotonic()
        with self._cond:
            items = list(self._pending.items())
        for path, (size, mtime, since, hold) in items:
            try:
                st = os.lstat(path)
            except OSError:
                with self._cond:
                    self._pending.pop(path, None)
                    self._arrived.pop(path, None)
                continue
            with self._cond:
                if path not in self._pending:
                    continue
                if (st.st_size, st.st_mtime_ns) != (size, mtime):
                    self._pending[path] = (st.st_size, st.st_mtime_ns, now, hold)
                elif now - since >= hold and len(self._ready) < self.capacity:
                    del self._pending[path]
                    self._enqueue(path)

    def take(self, max_n: int, max_wait_s: float, idle_timeout_s: float) -> list[Path]:
        """Wait up to ``idle_timeout_s`` for a first path, then gather up to ``max_n`` within ``max_wait_s``."""
        with self._cond:
            if not self._ready:
                self._cond.wait(idle_timeout_s)
            if not self._ready:
                return []
            # Linger for more only while more keep coming: an idle daemon answers one file at
            # once, a burst still fills large batches (never waiting past max_wait_s).
            deadline = time.monotonic() + max_wait_s
            while len(self._ready) < max_n:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    break
                before = len(self._ready)
                self._cond.wait(min(left, LINGER_S))
                if len(self._ready) == before:
                    break
            batch = [self._ready.popleft() for _ in range(min(max_n, len(self._ready)))]
            return batch

    def release(self, paths: list[Path]) -> None:
        """The worker is done with these paths (claimed or gone): they may be offered again later."""
        with self._cond:
            self._queued.difference_update(paths)
            for path in paths:
                self._arrived.pop(path, None)

    def arrived(self, path: Path) -> float | None:
        """When ``path`` was first offered (time.monotonic()), until it is released."""
        with self._cond:
            return self._arrived.get(path)

    def depth(self) -> int:
        with self._cond:
            return len(self._ready)

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def take_overflow(self) -> bool:
        """True once after the queue overflowed and has room again (time to rescan)."""
        with self._cond:
            if self.overflowed and len(self._ready) < self.capacity // 2:
                self.overflowed = False
                return True
            return False

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
