"""Upgrade path: take over the state an older version kept inside the inbox (``inbox/.digitwatch/``).

Once, at start-up: the old work folders of daemons that are no longer running
move into the state folder (same filesystem: renames), the old journal's
unfinished batches are copied into the new journal with their paths moved
along (rows that point anywhere else are ignored, see journal.py), and the
old folder leaves the inbox (``<state_dir>/legacy-<time>``). Recovery then
finishes those batches and re-does the other claimed files as usual. While a
daemon of the old version still holds one of those folders, nothing is moved
(a warning says so) and the next start tries again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from . import log
from .claim import Abandoned, try_lock
from .config import Config
from .fsutil import fsync_dir
from .journal import Journal, Roots

LEGACY_NAME = ".digitwatch"  # the state folder inside the inbox, up to this version


def migrate(cfg: Config, journal: Journal) -> int:
    """Move a legacy state folder's work across; the number of work folders taken over."""
    old = cfg.inbox / LEGACY_NAME
    if not old.is_dir() or old.is_symlink():
        return 0
    logger = log.get("digitwatch.legacy")
    logger.warning("legacy_state_found", folder=str(old), action="taking over its work, then moving it out")
    old_work, new_work = old / "work", cfg.state_dir / "work"
    held: list[Abandoned] = []
    try:
        for entry in sorted(old_work.iterdir()) if old_work.is_dir() else []:
            if entry.is_symlink() or not entry.is_dir():
                continue  # not a work folder: moves out with the rest, untouched
            dead = try_lock(entry)
            if dead is None:
                logger.warning("legacy_state_in_use", folder=str(entry), action="left for the next start")
                return 0
            held.append(dead)
        batches = _take_batches(old, Roots(old_work, cfg.outbox), journal, new_work, held)
        for dead in held:
            os.rename(dead.folder, new_work / dead.folder.name)
        fsync_dir(new_work)
        parked = cfg.state_dir / f"legacy-{time.time_ns():x}"
        os.rename(old, parked)
        fsync_dir(cfg.state_dir)
        fsync_dir(cfg.inbox)
    finally:
        for dead in held:
            os.close(dead.fd)
    logger.warning("legacy_state_adopted", work_folders=len(held), batches=batches, moved_to=str(parked))
    return len(held)


def _take_batches(old: Path, roots: Roots, journal: Journal, new_work: Path, held: list[Abandoned]) -> int:
    """Copy the old journal's unfinished batches of these folders into ours, claimed paths moved along."""
    path = old / "journal.sqlite"
    if not path.is_file():
        return 0
    legacy = Journal(path, roots)
    count = 0
    try:
        for dead in held:
            instance = dead.folder.name
            for batch in legacy.unfinished(instance):
                moves = [dataclasses.replace(m, claimed=new_work / instance / m.claimed.name) for m in batch.moves]
                journal.adopt_batch(instance, dataclasses.replace(batch, moves=moves))
                count += 1
    finally:
        legacy.close()
    return count
