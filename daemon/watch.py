"""Find files in the inbox: watchdog events, plus a periodic rescan for whatever events missed.

Events say *when* to look; they are never trusted to be complete. inotify's
queue can overflow (watchdog drops that event), network shares send no
events, and a polling observer can die quietly - so the inbox is also listed
at start-up and every ``rescan_interval_s``, and a dead observer is restarted.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver

from . import log

if TYPE_CHECKING:
    from .config import Config
    from .intake import Intake

STATE_NAME = ".digitwatch"
RESTART_FIRST_S = 0.5  # a watcher that died once usually restarts at once
RESTART_MAX_S = 30.0  # a watcher that keeps dying costs one attempt and one log line per 30 s
STABLE_S = 60.0  # alive this long after a restart: the next death starts the back-off afresh
INBOX_CHECK_S = 1.0  # how often a missing inbox is looked for (a stat, no log line)
# inotify_add_watch/inotify_init at the per-user limit (fs.inotify.max_user_watches/instances): poll instead.
INOTIFY_LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})

# offer(path, state): see Intake.offer for the states "ready", "writing", "settle".
Offer = Callable[[Path, str], None]


def ignored(name: str, patterns: tuple[str, ...]) -> bool:
    return name == STATE_NAME or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def wanted(inbox: Path, path: Path, patterns: tuple[str, ...], recursive: bool) -> bool:
    """Is ``path`` an inbox entry the daemon should take (not hidden/ignored, at an allowed depth)?"""
    try:
        rel = path.relative_to(inbox)
    except ValueError:
        return False
    parts = rel.parts
    if not parts or (len(parts) > 1 and not recursive):
        return False
    return not any(ignored(p, patterns) for p in parts)


def scan(inbox: Path, patterns: tuple[str, ...], recursive: bool) -> Iterator[Path]:
    """Every candidate entry in the inbox. Non-recursive: files, links and folders at the top level."""
    stack = [inbox]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if ignored(entry.name, patterns):
                    continue
                if recursive and entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    yield Path(entry.path)


class _Handler(FileSystemEventHandler):
    def __init__(self, inbox: Path, patterns: tuple[str, ...], recursive: bool, offer: Offer, polling: bool):
        self.inbox, self.patterns, self.recursive, self.offer, self.polling = inbox, patterns, recursive, offer, polling

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self.polling:  # a poll cannot see a close: everything must hold still first
            path = event.dest_path if isinstance(event, (FileMovedEvent, DirMovedEvent)) else event.src_path
            state = "settle"
        elif isinstance(event, (FileMovedEvent, DirMovedEvent)):
            path, state = event.dest_path, "settle" if event.is_directory else "ready"
        elif isinstance(event, FileClosedEvent):
            path, state = event.src_path, "ready"
        elif isinstance(event, (FileCreatedEvent, DirCreatedEvent)):
            path, state = event.src_path, "settle" if event.is_directory else "writing"
        else:
            return
        if not path:
            return
        full = Path(os.fsdecode(path))
        if not wanted(self.inbox, full, self.patterns, self.recursive):
            return
        if event.is_directory and self.recursive:
            # Files written before watchdog added a watch on the new folder send no event: list it.
            try:
                for found in scan(full, self.patterns, recursive=True):
                    self.offer(found, "settle")
            except OSError:
                pass  # gone again; the periodic rescan has the last word
            return
        if state == "writing" and os.path.islink(full):
            state = "settle"  # a symbolic link is never "closed after writing"
        self.offer(full, state)


def start_observer(
    inbox: Path, patterns: tuple[str, ...], recursive: bool, polling: bool, poll_interval_s: float, offer: Offer
) -> BaseObserver:
    """Start a watchdog observer on ``inbox`` (inotify by default, polling for network shares)."""
    if polling:
        from watchdog.observers.polling import PollingObserver

        observer: BaseObserver = PollingObserver(timeout=poll_interval_s)
        event_filter = None
    else:
        from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper

        # watchdog holds every IN_MOVED_FROM for 0.5 s to pair it with its IN_MOVED_TO, and its
        # queue sleeps out that delay even when the pair arrived at once - stalling all events
        # behind each rename (a file renamed in from a temporary name waited 0.5 s). The kernel
        # emits both halves of a rename together; an unpaired half is fine for us (the
        # destination of a full-events move is "ready"), so a short delay is enough.
        InotifyMoveEventGrouper.delay = 0.005

        # Full events: a file renamed in from outside the inbox is a move (ready), not a create.
        observer = _inbox_observer()
        event_filter = [FileClosedEvent, FileMovedEvent, FileCreatedEvent, DirCreatedEvent, DirMovedEvent]
    handler = _Handler(inbox, patterns, recursive, offer, polling)
    observer.schedule(handler, str(inbox), recursive=recursive, event_filter=event_filter)
    observer.daemon = True
    observer.start()
    return observer


def _inbox_observer() -> BaseObserver:
    """watchdog's inotify observer with full events, blind to files leaving a flat inbox.

    watchdog looks for the IN_MOVED_FROM of every IN_MOVED_TO by scanning its whole queue of
    events not yet handled: quadratic in a burst of files renamed in (``mv batch/* inbox/``), and
    the claims' renames out of the inbox fill that queue. The moves out do not concern us, so a flat
    inbox's watch does not ask for them and a move in is never paired (its destination is all we
    use). A recursive watch keeps watchdog's pairing: it needs the moves out to follow sub-folders."""
    from watchdog.observers.inotify import InotifyFullEmitter, InotifyObserver
    from watchdog.observers.inotify_c import InotifyConstants
    from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper

    class Unpaired(InotifyMoveEventGrouper):
        def _group_moved_to_event(self, to_event: Any) -> Any:
            return to_event

        def get_queued_moved_from_event(self, cookie: int) -> None:
            return None

    class Emitter(InotifyFullEmitter):
        def get_event_mask_from_filter(self) -> Any:
            mask = super().get_event_mask_from_filter()
            return mask if self.watch.is_recursive else mask & ~InotifyConstants.IN_MOVED_FROM

        def on_thread_start(self) -> None:
            super().on_thread_start()
            if not self.watch.is_recursive and self._inotify is not None:
                self._inotify._move_event_grouper = Unpaired()

    observer = InotifyObserver(generate_full_events=True)
    observer._emitter_class = Emitter
    return observer


def observer_alive(observer: BaseObserver | None) -> bool:
    """The observer thread and each of its emitters must still be running (a stopping observer has none)."""
    if observer is None or not observer.is_alive():
        return False
    emitters = list(observer.emitters)
    return bool(emitters) and all(e.is_alive() for e in emitters)


def _stop_quietly(observer: BaseObserver | None) -> None:
    if observer is None:
        return
    try:
        observer.stop()
    except Exception:  # already dead; we only want its resources gone
        pass


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, None if it is not one: tells a replaced inbox from the watched one."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class _Callback(FileSystemEventHandler):
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.callback()


class Scanner:
    """Settle checks every 100 ms; a full rescan at start, every ``rescan_interval_s`` and after overflow;
    restarts a dead observer (watchdog's observers can die quietly) with back-off; falls back to polling
    when inotify is at its limit; waits for a missing inbox without a hot loop."""

    def __init__(self, cfg: Config, intake: Intake, on_model_event: Callable[[], None]) -> None:
        self.cfg, self.intake, self.on_model_event = cfg, intake, on_model_event
        self.observer: Any = None
        self.observer_restarts = 0
        self.last_scan_error = ""
        self.polling_fallback = False  # inotify could not be used: polling although cfg.polling is off
        self.inbox_missing = False
        self._delay = RESTART_FIRST_S
        self._next_attempt = 0.0
        self._next_inbox_check = 0.0
        self._watched: tuple[int, int] | None = None  # (device, inode) of the folder the observer watches
        self._started_at = 0.0
        self._log = log.get("digitwatch.watch")

    def start_observer(self) -> None:
        """Start watching; on inotify's limits, poll instead (with a warning). Other errors propagate."""
        c = self.cfg
        polling = c.polling or self.polling_fallback
        self._watched = _identity(c.inbox)
        try:
            self.observer = start_observer(
                c.inbox, c.ignore_patterns, c.recursive, polling, c.poll_interval_s, self.intake.offer
            )
        except OSError as exc:
            if polling or exc.errno not in INOTIFY_LIMIT_ERRNOS:
                raise
            self.polling_fallback = True
            self._log.warning(
                "inotify_unavailable", reason=str(exc), action="polling", poll_interval_s=c.poll_interval_s
            )
            self.observer = start_observer(
                c.inbox, c.ignore_patterns, c.recursive, True, c.poll_interval_s, self.intake.offer
            )
            self._started_at = time.monotonic()
            return
        self._started_at = time.monotonic()
        if not polling:  # a new model is published: look now (the keeper also polls)
            try:
                self.observer.schedule(_Callback(self.on_model_event), str(c.checkpoint), recursive=False)
            except OSError as exc:
                self._log.warning("model_watch_unavailable", reason=str(exc), action="model poll only")

    def rescan(self) -> int:
        n = 0
        try:
            for path in scan(self.cfg.inbox, self.cfg.ignore_patterns, self.cfg.recursive):
                self.intake.offer(path, "settle")
                n += 1
        except OSError as exc:
            error = f"cannot list inbox: {exc.strerror or exc}"
            if error != self.last_scan_error:  # once per outage, not once per rescan
                self._log.error("rescan_failed", inbox=str(self.cfg.inbox), reason=error)
            self.last_scan_error = error
            return n
        self.last_scan_error = ""
        return n

    def check_observer(self, now: float) -> None:
        """Restart a dead observer, at most once per back-off delay; wait quietly for a missing inbox.

        The inbox is also looked at while the observer seems alive: a removed folder that an open
        file inside it still pins sends no inotify event, and the observer would watch it forever."""
        if observer_alive(self.observer):
            if now - self._started_at >= STABLE_S:
                self._delay = RESTART_FIRST_S
            if now < self._next_inbox_check:
                return
            self._next_inbox_check = now + INBOX_CHECK_S
            if _identity(self.cfg.inbox) == self._watched:
                return
            self._next_attempt = 0.0  # gone, or replaced by another folder (a share mounted again)
        if now < self._next_attempt:
            return
        dead, self.observer = self.observer, None  # unpublished first: a stopping observer looks alive
        _stop_quietly(dead)
        if not self.cfg.inbox.is_dir():
            if not self.inbox_missing:
                self.inbox_missing = True
                self._log.error("inbox_missing", inbox=str(self.cfg.inbox), action="waiting")
            self._next_attempt = now + INBOX_CHECK_S
            return
        if self.inbox_missing:
            self.inbox_missing = False
            self._log.info("inbox_back", inbox=str(self.cfg.inbox))
        self.observer_restarts += 1
        try:
            self.start_observer()
            self._log.error("observer_restarted", restarts=self.observer_restarts, reason="observer stopped")
        except OSError as exc:
            self._log.error(
                "observer_restart_failed", restarts=self.observer_restarts, reason=str(exc), retry_in_s=self._delay
            )
        self._next_attempt = now + self._delay
        self._delay = min(self._delay * 2, RESTART_MAX_S)
        self.rescan()

    def run(self, stop: threading.Event) -> None:
        next_scan = time.monotonic() + self.cfg.rescan_interval_s
        while not stop.wait(0.1):
            self.intake.settle()
            now = time.monotonic()
            self.check_observer(now)
            if self.inbox_missing:
                continue
            if now >= next_scan or self.intake.take_overflow():
                self.rescan()
                next_scan = time.monotonic() + self.cfg.rescan_interval_s
        _stop_quietly(self.observer)
