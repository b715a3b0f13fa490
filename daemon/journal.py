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

Names are stored as bytes (BLOB, ``os.fsencode``): a file name need not be
UTF-8. Rows written by older versions (TEXT) read back the same way. Every
path read back is checked to lie where the daemon puts such files (its work
root, the outbox) before anyone acts on it: a planted row is ignored.

The journal also counts attempts: how often processing of a claimed file
started (keyed by its inode, which adopting a dead daemon's files keeps). A
file whose attempts never finished has been in hand each time the daemon died.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import log
from .fsutil import trace

LOOKUP_CHUNK = 500  # files looked up in one query (SQLite allows 32,766 parameters since 3.32, 999 before)
SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    outputs TEXT NOT NULL      -- JSON list of [temporary, final] outbox paths
);
CREATE TABLE IF NOT EXISTS moves (
    claimed TEXT PRIMARY KEY,  -- path of the claimed input in the work folder (bytes)
    batch TEXT NOT NULL REFERENCES batches(id),
    rel TEXT NOT NULL,         -- its original path relative to the inbox (bytes)
    failed INTEGER NOT NULL,   -- 1: goes to failed/ (with its error), 0: to archive/
    error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    file TEXT PRIMARY KEY,     -- '<st_dev>:<st_ino>' of the claimed input (a rename keeps it)
    rel BLOB NOT NULL,         -- its original relative path: a reused inode of another name starts afresh
    claimed BLOB NOT NULL,     -- where it sat when the last attempt started (forget() clears it with its batch)
    count INTEGER NOT NULL     -- attempts started and never finished
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


@dataclass(frozen=True)
class Roots:
    """Where journal paths may point: claimed inputs in ``work/<instance>/``, results in ``outbox/``."""

    work: Path
    outbox: Path


@dataclass(frozen=True)
class Attempt:
    file: str  # '<st_dev>:<st_ino>'
    rel: str
    claimed: Path


class Journal:
    def __init__(self, path: Path, roots: Roots | None = None) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        self._roots = roots
        self._log = log.get("digitwatch.journal")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def record(self, instance: str, batch: Batch) -> None:
        """Durably record a batch whose results are written (under temporary names) but not yet published."""
        self._write(instance, batch, "INSERT")

    def adopt_batch(self, instance: str, batch: Batch) -> None:
        """Record a batch taken over from an older journal (idempotent: a second import changes nothing)."""
        self._write(instance, batch, "INSERT OR IGNORE")

    def _write(self, instance: str, batch: Batch, verb: str) -> None:
        outputs = json.dumps([[str(t), str(f)] for t, f in batch.outputs])
        moves = [(_b(m.claimed), batch.batch_id, _b(m.rel), int(m.failed), _text(m.error)) for m in batch.moves]
        with self._lock, self._transaction():
            self._db.execute(f"{verb} INTO batches VALUES (?, ?, ?)", (batch.batch_id, instance, outputs))
            self._db.executemany(f"{verb} INTO moves VALUES (?, ?, ?, ?, ?)", moves)

    def forget(self, batch_id: str) -> None:
        """The batch is published and its inputs moved: its attempts are over too."""
        with self._lock, self._transaction():
            self._db.execute(
                "DELETE FROM attempts WHERE claimed IN (SELECT CAST(claimed AS BLOB) FROM moves WHERE batch = ?)",
                (batch_id,),
            )
            self._db.execute("DELETE FROM moves WHERE batch = ?", (batch_id,))
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    def unfinished(self, instance: str) -> list[Batch]:
        """Batches a (dead) daemon instance recorded but did not finish; rows pointing elsewhere are ignored."""
        with self._lock:
            rows = self._db.execute("SELECT id, outputs FROM batches WHERE instance = ?", (instance,)).fetchall()
            out = []
            for batch_id, outputs in rows:
                moves = self._db.execute(
                    "SELECT claimed, rel, failed, error FROM moves WHERE batch = ?", (batch_id,)
                ).fetchall()
                batch = Batch(
                    batch_id,
                    [(Path(t), Path(f)) for t, f in json.loads(outputs)],
                    [Move(Path(_s(c)), _s(r), bool(f), _s(e)) for c, r, f, e in moves],
                )
                if self._trusted(instance, batch):
                    out.append(batch)
            return out

    def _trusted(self, instance: str, batch: Batch) -> bool:
        if self._roots is None:
            return True
        work, outbox = _real(self._roots.work / instance), _real(self._roots.outbox)
        bad = [str(p) for pair in batch.outputs for p in pair if _real(p.parent) != outbox]
        bad += [str(m.claimed) for m in batch.moves if _real(m.claimed.parent) != work]
        if bad:
            self._log.error("journal_row_ignored", batch=batch.batch_id, instance=instance, outside=bad[:5])
        return not bad

    def attempts(self, files: Iterable[Attempt]) -> list[int]:
        """How many attempts at each file started and never finished (0 for a file never tried)."""
        wanted = list(files)
        found: dict[str, tuple[str, int]] = {}
        with self._lock:
            for at in range(0, len(wanted), LOOKUP_CHUNK):  # (one query a chunk, not one a file)
                keys = [a.file for a in wanted[at : at + LOOKUP_CHUNK]]
                query = f"SELECT file, rel, count FROM attempts WHERE file IN ({', '.join('?' * len(keys))})"
                found.update((file, (_s(rel), int(count))) for file, rel, count in self._db.execute(query, keys))
        return [found[a.file][1] if a.file in found and found[a.file][0] == a.rel else 0 for a in wanted]

    def start_attempts(self, files: Iterable[tuple[Attempt, int]]) -> None:
        """Record each file's attempt count (the one starting now included), durably, before any work on
        it starts; the counts come from :meth:`attempts`, read just before."""
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?)",
                [(a.file, _b(a.rel), _b(a.claimed), n) for a, n in files],
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db, self._path = db, path

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._rollback()
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._rollback()  # a failed COMMIT (disk full) can leave it open and block every later BEGIN
            raise
        trace("commit", path=self._path)  # durable on return (WAL, synchronous=FULL): one recorded operation

    def _rollback(self) -> None:
        """End a failed transaction without hiding the error that caused it."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the original error is the one to report; SQLite rolls back on the next use


def _b(value: str | os.PathLike[str]) -> bytes:
    """A name as the bytes the file system holds (surrogate escapes back to their bytes)."""
    return os.fsencode(value)


def _s(value: str | bytes) -> str:
    """Back from storage: bytes (this version) or text (older journals)."""
    return os.fsdecode(value)


def _text(value: str) -> str:
    """Text SQLite can store: undecodable bytes as \\xNN."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _real(path: Path) -> str:
    return os.path.realpath(path)
