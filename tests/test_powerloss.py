"""Power loss, enumerated (after ALICE, OSDI 2014): record every durable operation of a run, build each
crash state POSIX allows, recover on it, and check that every input has exactly one row and is kept.

The run: the daemon's own claim, publish, finish and recover code in process (stub network and decoder:
under test is the order of file operations), CSV and JSON, one file of each batch of 3 refused. Daemon 1
publishes 2 batches, dies with one recorded and one claimed; daemon 2 recovers; daemon 3 recovers each state.

The crash model. Operations are recorded in order through daemon/fsutil.py (``set_tracer``), the
claims' renames too, and each journal COMMIT (durable when it returns: WAL + synchronous=FULL). At a
crash point, an operation before it persists for sure when it is *synced* before the crash point:
- a created file's entry, an unlink, a mkdir: a later fsync of its folder;
- a rename (atomic, as ALICE assumes): a later fsync of its destination folder;
- a file's contents: a later fsync of the file (else it may be empty after the crash).
Every other operation may or may not have persisted, independently (reordering included): each subset
of them is one crash state (all 2^k when k <= MAX_EXHAUSTIVE, else a seeded sample).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import os
import random
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from digitwatch.daemon import claim as claim_mod
from digitwatch.daemon import config, fsutil
from digitwatch.daemon import worker as worker_mod
from digitwatch.daemon.claim import WorkArea
from digitwatch.daemon.journal import Journal
from digitwatch.daemon.preprocess.number import single
from digitwatch.daemon.recognize import Limits, Prepared
from digitwatch.daemon.service import recover
from digitwatch.daemon.watch import scan
from digitwatch.daemon.worker import Worker

BATCHES, PER_BATCH = 4, 3  # 2 published, 1 recorded when killed, 1 claimed when killed
MAX_EXHAUSTIVE = 8  # up to 256 subsets of un-synced operations per crash point; beyond, a sample
SAMPLE = 64  # subsets drawn when there are more un-synced operations than that
SEED = 27
SHM = "/dev/shm"  # tmpfs: fsync costs nothing there, and the crash model does not need a real disk


class _Predictor:
    model_id = "stub"

    def predict(self, x: np.ndarray, quick: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((len(x), 10), np.float32)
        out[:, 7] = 1.0
        return out


class _Keeper:
    current: Any = _Predictor()


class _Pool:
    """Decoding stub: inputs named ``bad-*`` cannot be read (they go to failed/)."""

    def prepare(self, paths: list[Path], limits: Limits, progress: object = None) -> list[Prepared]:
        digit = single(np.zeros((1, 28, 28), np.float32), (0, 0, 28, 28))
        digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
        return [
            Prepared(d, None, "unreadable") if "bad-" in p.name else Prepared(d, digit) for d, p in zip(digests, paths)
        ]

    def close(self) -> None:
        pass


class _RecordingOs:
    """``os`` for claim.py with its renames recorded (claim.py calls os.rename directly)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def rename(src: Any, dst: Any) -> None:
        fsutil.rename(src, dst)


def make_cfg(root: Path) -> config.Config:
    cfg = config.load(
        None,
        env={},
        overrides={
            **{k: str(root / k) for k in ("inbox", "outbox", "archive", "failed", "checkpoint")},
            "formats": "csv,json",
            "decode_processes": "false",
            "decode_workers": "1",
        },
    )
    config.ensure_folders(cfg)
    return cfg


def make_worker(cfg: config.Config, work: WorkArea, journal: Journal) -> Worker:
    worker = Worker(cfg, None, work, journal, _Keeper(), threading.Event())
    worker._pool.close()
    worker._pool = _Pool()
    return worker


def process(worker: Worker, claims: list) -> None:
    started = time.perf_counter()
    worker.publish(claims, worker._prepare(claims), started)


def db_bytes(path: Path) -> bytes:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.serialize()


@dataclass
class Run:
    root: Path
    base: Path  # the tree before the first recorded operation (treated as durable)
    base_db: bytes
    db_rel: str
    ops: list[dict[str, Any]]
    inputs: dict[str, bytes]


def start_work_area(cfg: config.Config) -> WorkArea:
    """A daemon's work folder; claim.py creates it with Path.mkdir, out of fsutil's sight: recorded here."""
    work = WorkArea(cfg.state_dir / "work")
    fsutil.trace("mkdir", path=work.folder)
    return work


class _Killed(Exception):
    """kill -9 between a batch's journal record and its publication."""


def _killed(*_: object) -> bool:
    raise _Killed


def record_run(tmp: Path, monkeypatch: pytest.MonkeyPatch, picture: Callable[[int], bytes] | None = None) -> Run:
    """Daemon 1 publishes batches 0 and 1, dies after recording batch 2 and after claiming batch 3;
    daemon 2 starts, recovers (finishes batch 2, re-does batch 3). Every durable operation recorded."""
    root = tmp / "run"
    cfg = make_cfg(root)
    batches = [
        [f"{'bad-' if i == PER_BATCH - 1 else ''}b{b}-{i}.png" for i in range(PER_BATCH)] for b in range(BATCHES)
    ]
    names = [name for batch in batches for name in batch]
    inputs = {n: picture(i) if picture and "bad-" not in n else f"input {n}\n".encode() for i, n in enumerate(names)}
    for name, data in inputs.items():
        (cfg.inbox / name).write_bytes(data)
    journal = Journal(cfg.state_dir / "journal.sqlite")
    base = tmp / "base"
    shutil.copytree(root, base, symlinks=True, ignore=shutil.ignore_patterns("journal.sqlite*"))
    base_db = db_bytes(journal.path)
    ops: list[dict[str, Any]] = []

    def tracer(op: dict[str, Any]) -> None:
        if op["op"] == "commit":
            op["db"] = db_bytes(Path(op["path"]))
        ops.append(op)

    def claim(names: list[str]) -> list:
        paths = [cfg.inbox / n for n in names]
        claims = [c for c in (worker._claim(p) for p in paths) if c is not None]
        worker._sync_claims(paths)
        return claims

    monkeypatch.setattr(claim_mod, "os", _RecordingOs())
    previous = fsutil.set_tracer(tracer)
    try:
        work = start_work_area(cfg)
        worker = make_worker(cfg, work, journal)
        assert recover(cfg, work, journal) == []
        for names in batches[:-2]:
            process(worker, claim(names))
        with monkeypatch.context() as m:
            m.setattr(worker_mod, "finish", _killed)
            with pytest.raises(_Killed):
                process(worker, claim(batches[-2]))
        claim(batches[-1])
        journal.close()
        work.close()  # its lock is free: the next daemon adopts what it left
        work = start_work_area(cfg)
        journal = Journal(cfg.state_dir / "journal.sqlite")
        worker = make_worker(cfg, work, journal)
        backlog = recover(cfg, work, journal)
        assert len(backlog) == PER_BATCH
        process(worker, backlog)
    finally:
        fsutil.set_tracer(previous)
        monkeypatch.undo()
    journal.close()
    work.close()
    return Run(root, base, base_db, str((cfg.state_dir / "journal.sqlite").relative_to(root)), ops, inputs)


# --- the crash model ------------------------------------------------------------------------------

SYNC_OPS = ("fsync", "fsync_dir")


def synced(ops: list[dict[str, Any]], i: int, crash: int) -> bool:
    """Does operation ``i`` surely persist when power is lost just before operation ``crash``?"""
    op = ops[i]
    kind = op["op"]
    if kind == "commit":
        return True
    after = ops[i + 1 : crash]
    if kind == "data":
        return any(o["op"] == "fsync" and o["path"] == op["path"] for o in after)
    folder = os.path.dirname(op["dst"] if kind in ("rename", "link") else op["path"])
    return any(o["op"] == "fsync_dir" and o["path"] == folder for o in after)


def expand(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A write is two things that persist separately: the new entry (empty) and its contents."""
    out = []
    for op in ops:
        if op["op"] == "write":
            out.append({"op": "create", "path": op["path"]})
            out.append({"op": "data", "path": op["path"], "data": op.get("data", b"")})
        else:
            out.append(op)
    return out


def crash_states(ops: list[dict[str, Any]], rng: random.Random) -> list[tuple[int, frozenset[int]]]:
    """(crash point, indices of the un-synced operations that persisted anyway)."""
    states = []
    for crash in range(len(ops) + 1):
        maybe = [i for i in range(crash) if ops[i]["op"] not in SYNC_OPS and not synced(ops, i, crash)]
        if len(maybe) <= MAX_EXHAUSTIVE:
            subsets = itertools.chain.from_iterable(itertools.combinations(maybe, r) for r in range(len(maybe) + 1))
            states += [(crash, frozenset(s)) for s in subsets]
        else:
            states += [(crash, frozenset(i for i in maybe if rng.random() < 0.5)) for _ in range(SAMPLE)]
    return states


def materialise(run: Run, ops: list[dict[str, Any]], crash: int, chosen: frozenset[int], dest: Path) -> None:
    shutil.copytree(run.base, dest, symlinks=True)
    src, dst = str(run.root), str(dest)

    def here(path: str) -> str:
        assert path.startswith(src), path
        return dst + path[len(src) :]

    db = run.base_db
    for i in range(crash):
        op = ops[i]
        kind = op["op"]
        if kind in SYNC_OPS or not (i in chosen or synced(ops, i, crash)):
            continue
        try:
            if kind == "commit":
                db = op["db"]
            elif kind == "create":
                Path(here(op["path"])).write_bytes(b"")
            elif kind == "data":
                with open(here(op["path"]), "r+b") as fh:  # the contents reach the inode, wherever it is now
                    fh.write(op["data"])
            elif kind == "rename":
                os.replace(here(op["src"]), here(op["dst"]))
            elif kind == "link":
                os.link(here(op["src"]), here(op["dst"]))
            elif kind == "unlink":
                os.unlink(here(op["path"]))
            elif kind == "mkdir":
                os.mkdir(here(op["path"]))
            else:
                raise AssertionError(f"no replay for {kind}")
        except (FileNotFoundError, FileExistsError, NotADirectoryError):
            pass  # it depends on an operation that did not persist: it did not either
    (dest / run.db_rel).write_bytes(db)
    relocate_journal(dest / run.db_rel, src, dst)


def relocate_journal(path: Path, old: str, new: str) -> None:
    """The journal holds absolute paths: point them into the copy (every text column of every table)."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in con.execute(f"PRAGMA table_info({table})").fetchall():
                if kind.upper() == "TEXT":
                    con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new))
        con.commit()
    finally:
        con.close()


# --- recovery on a crash state and the checks ------------------------------------------------------


def restart(root: Path) -> None:
    """What the daemon does at start: recover, then process whatever is in the inbox."""
    cfg = make_cfg(root)
    work = WorkArea(cfg.state_dir / "work")
    journal = Journal(cfg.state_dir / "journal.sqlite")
    try:
        worker = make_worker(cfg, work, journal)
        backlog = recover(cfg, work, journal)
        if backlog:
            process(worker, backlog)
        paths = sorted(scan(cfg.inbox, cfg.ignore_patterns, cfg.recursive))
        claims = [c for c in (worker._claim(p) for p in paths) if c is not None]
        if claims:
            worker._sync_claims(paths)
            process(worker, claims)
    finally:
        journal.close()
        work.close()


def _text(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def check(root: Path, inputs: dict[str, bytes]) -> list[str]:
    """Every input: one row, kept once (archive/ or failed/ with its error file), byte for byte."""
    problems = []
    rows: list[str] = []
    for path in sorted((root / "outbox").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows += [r["file"] for r in csv.DictReader(fh)]
    json_rows = [r["file"] for p in sorted((root / "outbox").glob("*.json")) for r in json.loads(p.read_text())]
    for name, data in inputs.items():
        if rows.count(name) != 1:
            problems.append(f"{name}: {rows.count(name)} CSV rows")
        if json_rows.count(name) != 1:
            problems.append(f"{name}: {json_rows.count(name)} JSON rows")
        stem = name.removesuffix(".png")
        kept = [
            p
            for folder in (root / "archive", root / "failed")
            for p in folder.iterdir()
            if (p.name == name or p.name.startswith(stem + ".")) and not p.name.endswith(".error.txt")
        ]
        if len(kept) != 1 or kept[0].name != name:
            problems.append(f"{name}: kept as {[f'{k.parent.name}/{k.name}' for k in kept]}")
        elif kept[0].read_bytes() != data:
            problems.append(f"{name}: contents changed")
        elif name.startswith("bad-") != (kept[0].parent.name == "failed"):
            problems.append(f"{name}: in {kept[0].parent.name}/")
        elif name.startswith("bad-") and not _text(kept[0].parent / f"{name}.error.txt"):
            problems.append(f"{name}: no error file")
    left = [p.name for p in (root / "inbox").iterdir()]
    work = config.default_state_dir(root / "inbox", {}) / "work"
    assert work.is_dir(), work
    left += [p.name for p in work.rglob("*") if p.is_file()]
    left += [p.name for p in (root / "outbox").iterdir() if p.name.startswith(".")]
    if left:
        problems.append(f"left behind: {left}")
    return problems


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory when /dev/shm is there: hundreds of states, each with real fsyncs."""
    if os.path.isdir(SHM) and os.access(SHM, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="digitwatch-powerloss-", dir=SHM))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


def test_every_power_loss_state_recovers_exactly_once(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = scratch
    started = time.monotonic()
    run = record_run(tmp_path, monkeypatch)
    ops = expand(run.ops)
    assert sum(o["op"] == "commit" for o in ops) == 2 * BATCHES  # record + forget per batch
    assert [o["op"] for o in ops].count("mkdir") == 2  # two daemons' work folders
    assert sum(o["op"] == "fsync_dir" for o in ops) > 0
    states = crash_states(ops, random.Random(SEED))
    failures: list[str] = []
    for crash, chosen in states:
        dest = tmp_path / "state"
        materialise(run, ops, crash, chosen, dest)
        restart(dest)
        problems = check(dest, run.inputs)
        if problems:
            last = ops[crash - 1]["op"] if crash else "-"
            failures.append(f"crash before op {crash} (after {last}), persisted {sorted(chosen)}: {problems[:3]}")
        shutil.rmtree(dest)
    elapsed = time.monotonic() - started
    print(f"power loss: {len(ops)} operations, {len(states)} crash states, {elapsed:.1f} s")
    assert not failures, f"{len(failures)} of {len(states)} crash states lose or double:\n" + "\n".join(failures[:10])
