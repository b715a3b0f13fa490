"""Claim an inbox entry before working on it: an atomic rename into a work folder this daemon owns.

The work folders are ``<state_dir>/work/<instance>/`` - outside the inbox (so
whoever can drop files cannot touch them) but on its filesystem (checked at
start-up, see state.py), so the claim is a rename(2): atomic, and exactly one
of two daemons racing for a file wins. Each running daemon holds an flock on
its instance folder; a folder whose lock is free belongs to a daemon that
died, and the next daemon to start adopts what it left.

A folder is created under a hidden name, locked, then renamed into place, so
a peer never sees an unlocked folder of a live daemon.

The claimed name keeps the original relative path (its bytes, percent-encoded),
so a crash never loses where a file came from - whatever bytes the name holds.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from . import log

SEPARATOR = "__"
NAME_MAX = 250  # under the usual 255-byte limit, leaving room for a numbered variant
PENDING_PREFIX = ".new-"  # a folder being created: not yet locked, never adopted
PENDING_STALE_S = 60.0  # a pending folder this old was left by a daemon that died while creating it


@dataclass(frozen=True)
class Claimed:
    rel: str  # original path relative to the inbox, '/'-separated (undecodable bytes as surrogate escapes)
    path: Path  # where the file sits now, in the work folder


class WorkArea:
    """This daemon's own work folder, locked for as long as the process lives."""

    def __init__(self, work_root: Path) -> None:
        self.root = work_root
        self.instance = f"{os.getpid()}-{time.time_ns():x}"
        self.folder = work_root / self.instance
        self._lock_fd = _create_locked(self.folder)
        self._counter = itertools.count()
        self._log = log.get("digitwatch.claim")

    def claim(self, inbox: Path, path: Path) -> Claimed | None:
        """Rename ``path`` into the work folder; None if it is gone (taken by another daemon, or removed)."""
        rel = path.relative_to(inbox).as_posix()
        target = self._target(rel)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            if self._folder_intact():
                return None
            self._recreate()
            target = self._target(rel)
            try:
                os.rename(path, target)
            except FileNotFoundError:
                return None
        return Claimed(rel, target)

    def _folder_intact(self) -> bool:
        """Is our locked folder still at its path (not removed or renamed away by someone)?"""
        try:
            here, held = os.stat(self.folder), os.fstat(self._lock_fd)
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino) and held.st_nlink > 0

    def _recreate(self) -> None:
        """Our work folder vanished: say so, and make (and lock) a new one under the same name."""
        self._log.error("work_folder_lost", folder=str(self.folder), action="recreated")
        old = self._lock_fd
        self._lock_fd = _create_locked(self.folder)
        os.close(old)

    def _target(self, rel: str) -> Path:
        """A unique name in the work folder that keeps ``rel`` (its tail, if too long for a file name)."""
        prefix = f"{next(self._counter):08x}{SEPARATOR}"
        encoded = quote(os.fsencode(rel), safe="")
        if len(prefix) + len(encoded) > NAME_MAX:
            encoded = encoded[-(NAME_MAX - len(prefix)) :].lstrip("%0123456789ABCDEF")
        return self.folder / (prefix + encoded)

    def abandoned(self) -> list[Abandoned]:
        """Work folders of daemons that are no longer running (their lock was free; now we hold it)."""
        out = []
        for entry in sorted(self.root.iterdir()):
            if entry == self.folder:
                continue
            dead = try_lock(entry)
            if dead is None:
                continue
            if entry.name.startswith(PENDING_PREFIX):  # a peer died while creating its folder
                _remove_empty(dead)
                continue
            out.append(dead)
        return out

    def adopt(self, dead: Abandoned) -> list[Claimed]:
        """Move a dead daemon's remaining claimed files into this work folder, for processing."""
        out = []
        try:
            for entry in sorted(dead.folder.iterdir()):
                rel = original_rel(entry.name)
                target = self._target(rel)
                os.rename(entry, target)
                out.append(Claimed(rel, target))
            dead.folder.rmdir()
        finally:
            os.close(dead.fd)
        return out

    def close(self) -> None:
        os.close(self._lock_fd)
        try:
            self.folder.rmdir()
        except OSError:
            pass  # not empty: the next daemon adopts what is left


@dataclass(frozen=True)
class Abandoned:
    folder: Path
    fd: int  # holds the folder's lock while we adopt it


def _create_locked(folder: Path) -> int:
    """Create ``folder`` locked: made under a hidden name, locked, then renamed into place."""
    pending = folder.with_name(f"{PENDING_PREFIX}{folder.name}")
    pending.mkdir(mode=0o700, parents=True)
    fd = os.open(pending, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(pending, folder)
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_lock(entry: Path) -> Abandoned | None:
    """Lock ``entry`` if its owner is gone; then check it is still the folder we listed (lock, then verify)."""
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None  # adopted and removed by a peer meanwhile, or not a folder
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        here, held = os.stat(entry, follow_symlinks=False), os.fstat(fd)
        if (here.st_dev, here.st_ino) != (held.st_dev, held.st_ino) or held.st_nlink == 0:
            raise FileNotFoundError(entry)  # renamed into place or removed while we locked it
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return Abandoned(entry, fd)


def _remove_empty(dead: Abandoned) -> None:
    try:
        if time.time() - os.fstat(dead.fd).st_mtime > PENDING_STALE_S:
            dead.folder.rmdir()
    except OSError:
        pass  # not empty: left alone, never deleted
    finally:
        os.close(dead.fd)


def original_rel(claimed_name: str) -> str:
    """The original relative path a claimed name keeps (its exact bytes, as surrogate escapes where needed)."""
    _, _, encoded = claimed_name.partition(SEPARATOR)
    return os.fsdecode(unquote_to_bytes(encoded)) if encoded else claimed_name
