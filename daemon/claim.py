"""Claim an inbox entry before working on it: an atomic rename into a work folder this daemon owns.

The work folder is ``<inbox>/.digitwatch/work/<instance>/`` - inside the inbox,
so the claim is a same-filesystem rename(2): atomic, and exactly one of two
daemons racing for a file wins. Each running daemon holds an flock on its
instance folder; a folder whose lock is free belongs to a daemon that died,
and the next daemon to start adopts what it left.

The claimed name keeps the original relative path (percent-encoded), so a
crash never loses where a file came from.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

SEPARATOR = "__"
NAME_MAX = 250


@dataclass(frozen=True)
class Claimed:
    rel: str  # original path relative to the inbox, '/'-separated
    path: Path  # where the file sits now, in the work folder


class WorkArea:
    """This daemon's own work folder, locked for as long as the process lives."""

    def __init__(self, work_root: Path) -> None:
        self.root = work_root
        self.instance = f"{os.getpid()}-{time.time_ns():x}"
        self.folder = work_root / self.instance
        self.folder.mkdir(parents=True)
        self._lock_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._counter = itertools.count()

    def claim(self, inbox: Path, path: Path) -> Claimed | None:
        """Rename ``path`` into the work folder; None if it is gone (taken by another daemon, or removed)."""
        rel = path.relative_to(inbox).as_posix()
        target = self._target(rel)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        return Claimed(rel, target)

    def _target(self, rel: str) -> Path:
        """A unique name in the work folder that keeps ``rel`` (its tail, if too long for a file name)."""
        prefix = f"{next(self._counter):08x}{SEPARATOR}"
        encoded = quote(rel, safe="")
        if len(prefix) + len(encoded) > NAME_MAX:
            encoded = encoded[-(NAME_MAX - len(prefix)) :].lstrip("%0123456789ABCDEF")
        return self.folder / (prefix + encoded)

    def abandoned(self) -> list[Abandoned]:
        """Work folders of daemons that are no longer running (their lock was free; now we hold it)."""
        out = []
        for entry in sorted(self.root.iterdir()):
            if entry == self.folder or not entry.is_dir():
                continue
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            out.append(Abandoned(entry, fd))
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


def original_rel(claimed_name: str) -> str:
    _, _, encoded = claimed_name.partition(SEPARATOR)
    return unquote(encoded) or claimed_name
