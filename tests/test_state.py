"""The journal and the work folders on their own: names as bytes, attempts, confinement, the lock race."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from digitwatch.daemon.attempts import Attempts, attempt_of
from digitwatch.daemon.claim import PENDING_PREFIX, PENDING_STALE_S, WorkArea, original_rel
from digitwatch.daemon.config import default_state_dir
from digitwatch.daemon.journal import Batch, Journal, Move, Roots

LATIN1 = os.fsdecode(b"sub/caf\xe9 100%.png")  # not UTF-8, with characters percent-encoding must keep


def test_claim_keeps_any_bytes_and_the_journal_stores_them(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    (inbox / "sub").mkdir(parents=True)
    outbox.mkdir()
    (inbox / LATIN1).write_bytes(b"x")
    work = WorkArea(tmp_path / "state" / "work")
    claimed = work.claim(inbox, inbox / LATIN1)
    assert claimed is not None and claimed.rel == LATIN1
    assert original_rel(claimed.path.name) == LATIN1
    journal = Journal(tmp_path / "state" / "j.sqlite", Roots(tmp_path / "state" / "work", outbox))
    outputs = [(outbox / ".results-1.csv.tmp", outbox / "results-1.csv")]
    journal.record(work.instance, Batch("b1", outputs, [Move(claimed.path, claimed.rel, True, "bad \udce9 byte")]))
    (batch,) = journal.unfinished(work.instance)
    assert batch.moves[0].rel == LATIN1 and batch.moves[0].claimed == claimed.path
    assert batch.moves[0].error == "bad \\xe9 byte" and batch.outputs == outputs


def test_attempts_count_across_adoption_and_clear_with_the_batch(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("poison.png", "ok.png"):
        (inbox / name).write_bytes(b"x")
    root = tmp_path / "work"
    journal = Journal(tmp_path / "j.sqlite")
    attempts = Attempts(journal, max_attempts=2, max_batch=8)
    first = WorkArea(root)
    claims = [c for c in (first.claim(inbox, inbox / n) for n in ("poison.png", "ok.png")) if c]
    assert attempts.plan(claims) == [(claims, False)]
    assert attempts.start(claims) == {}
    os.close(first._lock_fd)  # the daemon dies with both files in hand
    second = WorkArea(root)
    (dead,) = second.abandoned()
    adopted = second.adopt(dead)
    assert [alone for _, alone in attempts.plan(adopted)] == [True, True]  # suspects go one at a time
    assert attempts.start(adopted[:1]) == {}  # poison: its second attempt
    assert attempts.start(adopted[1:]) == {}  # then ok.png's, alone
    journal.record(second.instance, Batch("ok", [], [Move(adopted[1].path, adopted[1].rel, False, "")]))
    journal.forget("ok")  # ok.png finished: its count is gone
    assert journal.attempts([attempt_of(c) for c in adopted]) == [2, 0]
    given_up = attempts.start(adopted[:1])
    assert "died 2 times" in given_up[adopted[0].path]


def test_rows_pointing_outside_the_work_root_or_outbox_are_ignored(tmp_path: Path) -> None:
    work_root, outbox = tmp_path / "work", tmp_path / "outbox"
    (work_root / "dead").mkdir(parents=True)
    outbox.mkdir()
    journal = Journal(tmp_path / "j.sqlite", Roots(work_root, outbox))
    inside = Move(work_root / "dead" / "00__a.png", "a.png", False, "")
    journal.record("dead", Batch("good", [(outbox / ".r.tmp", outbox / "r.csv")], [inside]))
    journal.record("dead", Batch("bad1", [], [Move(Path("/etc/passwd"), "p", False, "")]))
    journal.record("dead", Batch("bad2", [(outbox / ".x.tmp", Path("/etc/cron.d/x"))], []))
    journal.record("dead", Batch("bad3", [], [Move(work_root / "other" / "00__b", "b", False, "")]))
    assert [b.batch_id for b in journal.unfinished("dead")] == ["good"]


def test_a_folder_being_created_is_never_adopted(tmp_path: Path) -> None:
    root = tmp_path / "work"
    me = WorkArea(root)
    pending = root / f"{PENDING_PREFIX}123-abc"  # a peer between mkdir and flock
    pending.mkdir()
    stale = root / f"{PENDING_PREFIX}456-def"  # a peer that died there long ago
    stale.mkdir()
    old = time.time() - PENDING_STALE_S - 10
    os.utime(stale, (old, old))
    assert me.abandoned() == []
    assert pending.exists() and not stale.exists()
    peer = WorkArea(root)  # a peer's folder appears already locked
    fd = os.open(peer.folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            raise AssertionError("a new work folder must be locked before it has its name")
        except BlockingIOError:
            pass
    finally:
        os.close(fd)
    assert me.abandoned() == []


def test_the_default_state_dir_is_beside_the_inbox_and_shared(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (tmp_path / "link").symlink_to(inbox)
    expected = tmp_path / ".digitwatch-state" / "in"
    assert default_state_dir(inbox, {}) == default_state_dir(tmp_path / "link", {}) == expected
    assert default_state_dir(inbox, {"STATE_DIRECTORY": "/var/lib/dw:/x"}) == Path("/var/lib/dw")
