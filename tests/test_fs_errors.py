"""File-system and SQLite errors: transient ones are waited out with the daemon up, per-file ones send
that file to failed/ with its reason; names always fit; the watcher never hot-loops."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Daemon, dark_on_light
from digitwatch.daemon import config, status
from digitwatch.daemon.archive import finish
from digitwatch.daemon.claim import WorkArea
from digitwatch.daemon.failures import is_transient
from digitwatch.daemon.fsutil import NAME_MAX, move_unique, unique_path
from digitwatch.daemon.journal import Batch, Journal, Move
from digitwatch.daemon.service import recover

Mount = Callable[[Path, str], Path]
Factory = Callable[..., Daemon]
Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture
def tmpfs() -> Iterator[Mount]:
    """Mount a small tmpfs (root only); unmounted at teardown, also when the test fails."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full, to the last page; delete it to free the space."""
    ballast = folder / "ballast.bin"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        size = 1 << 20
        while size >= 512:
            try:
                os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2
    finally:
        os.close(fd)
    return ballast


# --- in process -----------------------------------------------------------------------------------


def test_status_writers_in_two_threads_never_raise(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    errors: list[BaseException] = []
    results: list[bool] = []

    def writer(n: int) -> None:
        try:
            for i in range(3000):
                results.append(status.write(path, {"writer": n, "i": i}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert all(results) and len(results) == 6000
    assert json.loads(path.read_text())["i"] == 2999
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary left behind


def test_status_write_on_a_missing_folder_returns_false(tmp_path: Path) -> None:
    assert status.write(tmp_path / "gone" / "status.json", {}) is False


def test_unique_path_shortens_a_taken_255_byte_name(tmp_path: Path) -> None:
    name = "é" * 125 + "x.png"  # 255 bytes in UTF-8
    assert len(os.fsencode(name)) == NAME_MAX
    (tmp_path / name).write_bytes(b"1")
    seen = {name}
    for _ in range(3):
        p = unique_path(tmp_path, name)
        assert len(os.fsencode(p.name)) <= NAME_MAX and p.name.endswith(".png") and p.name not in seen
        p.write_bytes(b"2")
        seen.add(p.name)


def test_a_move_never_replaces_a_file_of_the_same_name(tmp_path: Path) -> None:
    """move_unique tries the name itself first; taken, the next free numbered name, its content intact."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for k in range(3):
        src = tmp_path / f"in-{k}"
        src.write_bytes(f"{k}".encode())
        assert move_unique(src, folder, "same.png").name == ("same.png" if k == 0 else f"same.{k}.png")
        assert not src.exists()
    assert [(folder / n).read_bytes() for n in ("same.png", "same.1.png", "same.2.png")] == [b"0", b"1", b"2"]


def test_sqlite_full_is_transient_and_the_journal_keeps_working(tmp_path: Path, tmpfs: Mount) -> None:
    fs = tmpfs(tmp_path / "fs", "2m")
    journal = Journal(fs / "journal.sqlite")
    try:
        ballast = fill(fs)
        big = [Move(fs / f"claimed-{i:05d}-{'x' * 200}", f"r{i}", False, "") for i in range(2000)]
        with pytest.raises(sqlite3.OperationalError) as caught:
            journal.record("i", Batch("b1", [], big))
        assert is_transient(caught.value), caught.value
        ballast.unlink()
        journal.record("i", Batch("b2", [], big[:3]))  # no transaction left open by the failure
        assert [b.batch_id for b in journal.unfinished("i")] == ["b2"]
    finally:
        journal.close()


def _cfg(root: Path) -> config.Config:
    keys = ("inbox", "outbox", "archive", "failed", "checkpoint")
    cfg = config.load(None, env={}, overrides={k: str(root / k) for k in keys})
    config.ensure_folders(cfg)
    return cfg


def test_finish_never_archives_inputs_whose_results_are_gone(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    journal = Journal(cfg.state_dir / "journal.sqlite")
    claimed = cfg.state_dir / "work" / "x" / "00000000__a.png"
    claimed.parent.mkdir()
    claimed.write_bytes(b"a")
    batch = Batch("b", [(cfg.outbox / ".r.csv.tmp", cfg.outbox / "r.csv")], [Move(claimed, "a.png", False, "")])
    journal.record("x", batch)
    try:
        assert finish(cfg, batch, journal) is False
        assert claimed.exists() and not list(cfg.archive.iterdir())  # still claimed: it is processed again
        assert journal.unfinished("x") == []
    finally:
        journal.close()


def test_recover_logs_and_continues_when_a_batch_cannot_be_finished(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    journal = Journal(cfg.state_dir / "journal.sqlite")
    dead = WorkArea(cfg.state_dir / "work")
    claimed = dead.folder / "00000000__a.png"
    claimed.write_bytes(b"a")
    tmp = cfg.outbox / ".r.csv.tmp"
    tmp.write_text("file\na.png\n")
    journal.record(dead.instance, Batch("b", [(tmp, cfg.outbox / "r.csv")], [Move(claimed, "a.png", False, "")]))
    dead.close()  # the daemon "died": its lock is free
    shutil.rmtree(cfg.archive)
    cfg.archive.write_text("not a folder")  # every move fails (ENOTDIR on the root: transient)
    work = WorkArea(cfg.state_dir / "work")
    try:
        assert recover(cfg, work, journal) == []  # no exception, nothing adopted
        assert claimed.exists()  # left for the next start, never re-done while its batch is recorded
        assert [b.batch_id for b in journal.unfinished(dead.instance)] == ["b"]
        cfg.archive.unlink()
        cfg.archive.mkdir()
        work.close()
        work = WorkArea(cfg.state_dir / "work")
        assert recover(cfg, work, journal) == []
        assert (cfg.archive / "a.png").read_bytes() == b"a" and not claimed.exists()
    finally:
        work.close()
        journal.close()


# --- the real daemon ------------------------------------------------------------------------------


def test_long_names_archive_and_fail_with_their_error_file(daemon_factory: Factory, test_digits: Digits) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory().start()
    d.archive.mkdir(exist_ok=True)
    taken = "n" * 251 + ".png"  # 255 bytes: a numbered variant does not fit without shortening
    (d.archive / taken).write_bytes(b"already here")
    staged = d.root / "staged.png"
    dark_on_light(x[0]).save(staged)
    bad = "f" * 246 + ".png"  # 250 bytes: "<name>.error.txt" would not fit
    (d.root / "bad.png").write_bytes(b"not an image")
    dropped = time.monotonic()
    os.rename(staged, d.inbox / taken)
    os.rename(d.root / "bad.png", d.inbox / bad)
    rows = d.wait_rows(2, timeout=30)
    while len(list(d.archive.iterdir())) < 2 and time.monotonic() - dropped < 5:
        time.sleep(0.05)
    archived = [p.name for p in d.archive.iterdir() if p.name != taken]
    assert time.monotonic() - dropped < 5, f"archived after {time.monotonic() - dropped:.1f} s: {d.tail()}"
    assert len(archived) == 1 and archived[0].endswith(".png") and len(os.fsencode(archived[0])) <= NAME_MAX
    assert (d.archive / taken).read_bytes() == b"already here"
    assert d.stop() == 0  # drains the last moves
    assert {r["file"]: r["status"] for r in rows} == {taken: "ok", bad: "error"}
    errors = [p for p in d.failed.iterdir() if p.name.endswith(".error.txt")]
    assert (d.failed / bad).exists() and len(errors) == 1, sorted(p.name for p in d.failed.iterdir())
    assert errors[0].name.startswith("f" * 200) and errors[0].read_text().strip()


def test_archive_on_another_file_system_is_copied_never_lost(
    daemon_factory: Factory, test_digits: Digits, tmpfs: Mount
) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory()
    tmpfs(d.archive, "8m")
    tmpfs(d.failed, "8m")
    d.start()
    dark_on_light(x[0]).save(d.root / "good.png")
    os.rename(d.root / "good.png", d.inbox / "good.png")
    (d.inbox / "bad.png").write_bytes(b"not an image")
    d.wait_rows(2, timeout=30)
    assert d.stop() == 0
    assert sorted(os.listdir(d.archive)) == ["good.png"]
    assert sorted(os.listdir(d.failed)) == ["bad.png", "bad.png.error.txt"]
    work = d.state / "work"
    assert work.is_dir(), work
    assert not [p for p in work.rglob("*") if p.is_file()], "inputs left in the work folder"


def test_full_file_system_daemon_stays_up_and_resumes(
    daemon_factory: Factory, test_digits: Digits, tmp_path: Path, tmpfs: Mount
) -> None:
    x, _ = test_digits
    fs = tmpfs(tmp_path / "fs", "24m")
    folders = {k: fs / k for k in ("inbox", "outbox", "archive", "failed")}
    d: Daemon = daemon_factory(*[a for k, p in folders.items() for a in (f"--{k}", str(p))])
    d.inbox, d.outbox, d.archive, d.failed = folders["inbox"], folders["outbox"], folders["archive"], folders["failed"]
    d.inbox.mkdir()
    d.start()
    staging = fs / "staging"
    staging.mkdir()
    names = [f"full-{i}.png" for i in range(5)]
    for i, name in enumerate(names):
        dark_on_light(x[i]).save(staging / name)
    ballast = fill(fs)
    for name in names:
        os.rename(staging / name, d.inbox / name)  # a rename needs no space
    failed = d.wait_event("outbox_write_failed", timeout=60)
    assert "No space left" in failed["reason"] or "full" in failed["reason"], failed
    d.wait_event("status_write_failed", timeout=30)  # the status file is on the full disk too: logged once
    d.wait_event("outbox_write_failed", timeout=60, count=3)  # retried, backing off, the daemon up
    assert d.proc is not None and d.proc.poll() is None, d.tail()
    assert not d.rows()
    ballast.unlink()
    rows = d.wait_rows(len(names), timeout=60)
    assert d.stop() == 0
    assert sorted(r["file"] for r in rows) == names
    assert sorted(os.listdir(d.archive)) == names


def test_a_file_that_cannot_be_archived_goes_to_failed_with_its_reason(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    journal = Journal(cfg.state_dir / "journal.sqlite")
    (cfg.archive / "sub").write_text("a file where the sub-folder should be")
    claimed = cfg.state_dir / "work" / "x" / "00000000__sub%2Fa.png"
    claimed.parent.mkdir()
    claimed.write_bytes(b"a")
    tmp = cfg.outbox / ".r.csv.tmp"
    tmp.write_text("file\nsub/a.png\n")
    batch = Batch("b", [(tmp, cfg.outbox / "r.csv")], [Move(claimed, "sub/a.png", False, "")])
    journal.record("x", batch)
    try:
        assert finish(cfg, batch, journal) is True  # not retried forever
        assert (cfg.failed / "a.png").read_bytes() == b"a"
        assert "cannot move to archive/" in (cfg.failed / "a.png.error.txt").read_text()
        assert (cfg.outbox / "r.csv").exists() and not claimed.exists()
    finally:
        journal.close()


def test_a_retried_finish_never_remakes_results_collected_downstream(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    journal = Journal(cfg.state_dir / "journal.sqlite")
    claimed = cfg.state_dir / "work" / "x" / "00000000__a.png"
    claimed.parent.mkdir()
    claimed.write_bytes(b"a")
    tmp = cfg.outbox / ".r.csv.tmp"
    tmp.write_text("file\na.png\n")
    batch = Batch("b", [(tmp, cfg.outbox / "r.csv")], [Move(claimed, "a.png", False, "")])
    journal.record("x", batch)
    shutil.rmtree(cfg.archive)
    cfg.archive.write_text("not a folder")  # the move fails after the results are published
    published: set[str] = set()
    try:
        with pytest.raises(OSError):
            finish(cfg, batch, journal, published)
        (cfg.outbox / "r.csv").unlink()  # collected downstream while the archive was unusable
        cfg.archive.unlink()
        cfg.archive.mkdir()
        assert finish(cfg, batch, journal, published) is True  # archived, not processed a second time
        assert (cfg.archive / "a.png").exists()
    finally:
        journal.close()
