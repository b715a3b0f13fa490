"""The sd_notify protocol (READY, WATCHDOG, STOPPING, STATUS): a datagram to $NOTIFY_SOCKET; the watchdog thread."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

from . import log

# Pings per WatchdogSec: systemd suggests two; four leave room for a slow tick on a busy machine.
PINGS_PER_TIMEOUT = 4


def notify(message: str) -> bool:
    """Send ``message`` to systemd; False when not running under a notify-type unit."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half the unit's WatchdogSec), or None when not asked for."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


class Watchdog:
    """Sends WATCHDOG=1 from its own thread, as long as the worker shows progress.

    The worker's heartbeat moves whenever it waits for work and as each file of a batch is
    done, so a batch of any size keeps the pings going; a worker stuck for ``stale_s`` stops
    them, and systemd restarts the daemon one WatchdogSec later. Does nothing when systemd does
    not watch this process."""

    def __init__(self, heartbeat: Callable[[], float], stale_s: float, timeout_s: float | None = None) -> None:
        half = watchdog_interval()
        self.timeout_s = timeout_s if timeout_s is not None else None if half is None else 2 * half
        self.heartbeat, self.stale_s = heartbeat, stale_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._log = log.get("digitwatch.watchdog")

    def start(self) -> None:
        if self.timeout_s:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        assert self.timeout_s
        every = self.timeout_s / PINGS_PER_TIMEOUT
        withheld = False
        while not self._stop.wait(every):
            age = time.monotonic() - self.heartbeat()
            if age <= self.stale_s:
                notify("WATCHDOG=1")
                withheld = False
            elif not withheld:  # once per stall: systemd will act on it
                self._log.error("watchdog_withheld", heartbeat_age_s=round(age, 1), stale_s=self.stale_s)
                withheld = True
