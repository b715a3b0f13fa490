"""Poison-file containment across crashes: count how often the daemon died while a file was in hand.

Before work on a batch starts, the journal durably counts one attempt for
each of its files (keyed by inode, which a rename keeps); finishing the batch
clears them. So a file found in a dead daemon's work folder with a count was
being processed when that daemon died. Such suspects are retried one at a
time, with nothing else in hand (the worker waits until the publisher is idle)
- a file that kills the daemon takes no batch-mates down with it - and a
file whose count reaches ``max_attempts`` is not tried again: it gets an error
row and goes to ``failed/``.

A file claimed but not yet started when the daemon died (e.g. during start-up)
is not counted: it was never in hand.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import log
from .claim import Claimed
from .journal import Attempt, Journal
from .results import clean_text

GAVE_UP = "the daemon died {n} times while this file was being processed; not tried again"


class Attempts:
    def __init__(self, journal: Journal, max_attempts: int, max_batch: int) -> None:
        self.journal, self.max_attempts, self.max_batch = journal, max_attempts, max_batch
        self._log = log.get("digitwatch.attempts")

    def plan(self, claims: list[Claimed]) -> list[tuple[list[Claimed], bool]]:
        """Batches for adopted claims, each with whether it must run alone: untried files in full
        batches first, then each suspect alone (nothing else in hand while it is)."""
        counts = dict(zip(claims, self._counts(claims)))
        fresh = [c for c in claims if counts[c] == 0]
        chunks = [(fresh[i : i + self.max_batch], False) for i in range(0, len(fresh), self.max_batch)]
        return chunks + [([c], True) for c in claims if counts[c] > 0]

    def start(self, claims: list[Claimed]) -> dict[Path, str]:
        """Count an attempt at each claim before work starts. Returns {path: error} for the claims that
        already had ``max_attempts``: they are not worked on again."""
        known = [(c, a) for c, a in ((c, attempt_of(c)) for c in claims) if a is not None]
        counts = self.journal.attempts(a for _, a in known)
        given_up: dict[Path, str] = {}
        starting, retrying = [], []
        for (c, a), n in zip(known, counts):
            if n >= self.max_attempts:
                given_up[c.path] = GAVE_UP.format(n=n)
                self._log.error("gave_up", file=clean_text(c.rel), attempts=n)
            else:
                starting.append((a, n + 1))
                if n:
                    retrying.append((c, n + 1))
        self.journal.start_attempts(starting)
        for c, attempt in retrying:  # (said once the attempt is counted: a death from here on is counted)
            self._log.warning("retrying_suspect", file=clean_text(c.rel), attempt=attempt)
        return given_up

    def _counts(self, claims: list[Claimed]) -> list[int]:
        attempts = [attempt_of(c) for c in claims]
        found = iter(self.journal.attempts(a for a in attempts if a is not None))
        return [0 if a is None else next(found) for a in attempts]


def attempt_of(c: Claimed) -> Attempt | None:
    """The journal's key for a claimed file: its inode (None if it is gone)."""
    try:
        st = os.stat(c.path, follow_symlinks=False)
    except OSError:
        return None
    return Attempt(f"{st.st_dev}:{st.st_ino}", c.rel, c.path)
