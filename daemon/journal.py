"""A crash-safe record of batches between "results written" and "inputs moved".

SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk (the WAL is
fsynced) before ``commit()`` returns, so it survives kill -9 and power loss.

Per batch: results are written to hidden temporary files in the outbox and
fsynced; then one commit records the batch (its temporary and final outbox
names, and where each claimed input goes); then the results are renamed into
place and the inputs moved; then the batch's rows are deleted. A daemon that
restarts after a crash finishes every recorded batch - renames what was not
renamed, moves what was not moved - and re-processes claimed inputs with no
record, whose results were never published. So every input gets exactly one
row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .fsutil import trace

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    outputs TEXT NOT NULL      -- JSON list of [temporary, final] outbox paths
);
CREATE TABLE IF NOT EXISTS moves (
    claimed TEXT PRIMARY KEY,  -- path of the claimed input in the work folder
    batch TEXT NOT NULL REFERENCES batches(id),
    rel TEXT NOT NULL,         -- its original path relative to the inbox
    failed INTEGER NOT NULL,   -- 1: goes to failed/ (with its error), 0: to archive/
    error TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Move:
    claimed: Path
    rel: str
    failed: bool
    error: str


@dataclass(frozen=True)
class Batch:
    batch_id: str
    outputs: list[tuple[Path, Path]]
    moves: list[Move]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def record(self, instance: str, batch: Batch) -> None:
        """Durably record a batch whose results are written (under temporary names) but not yet published."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO batches VALUES (?, ?, ?)",
                    (batch.batch_id, instance, json.dumps([[str(t), str(f)] for t, f in batch.outputs])),
                )
                self._db.executemany(
                    "INSERT INTO moves VALUES (?, ?, ?, ?, ?)",
                    [(str(m.claimed), batch.batch_id, m.rel, int(m.failed), m.error) for m in batch.moves],
                )
                self._commit()
            except BaseException:
                self._rollback()
                raise

    def forget(self, batch_id: str) -> None:
        """The batch is published and its inputs moved."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM moves WHERE batch = ?", (batch_id,))
                self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                self._commit()
            except BaseException:
                self._rollback()
                raise

    def _commit(self) -> None:
        """COMMIT: durable when it returns (WAL, synchronous=FULL); recorded as one durable operation."""
        self._db.execute("COMMIT")
        trace("commit", path=self.path)

    def _rollback(self) -> None:
        """End a failed transaction (a failed COMMIT, e.g. SQLITE_FULL, can leave it open and block every
        later BEGIN) without hiding the error that caused it."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the original error is the one to report; SQLite rolls back on the next use

    def unfinished(self, instance: str) -> list[Batch]:
        """Batches a (dead) daemon instance recorded but did not finish."""
        with self._lock:
            rows = self._db.execute("SELECT id, outputs FROM batches WHERE instance = ?", (instance,)).fetchall()
            out = []
            for batch_id, outputs in rows:
                moves = self._db.execute(
                    "SELECT claimed, rel, failed, error FROM moves WHERE batch = ?", (batch_id,)
                ).fetchall()
                out.append(
                    Batch(
                        batch_id,
                        [(Path(t), Path(f)) for t, f in json.loads(outputs)],
                        [Move(Path(c), r, bool(f), e) for c, r, f, e in moves],
                    )
                )
            return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
