"""Poison pills and state integrity, on the real daemon: names that are not UTF-8, a file in hand
each time the daemon is killed, a planted journal, an unsafe state folder, signals at start-up."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote_to_bytes

import numpy as np
from conftest import Daemon, dark_on_light
from digitwatch.daemon.errors import ExitCode
from digitwatch.daemon.results import Result, to_csv
from PIL import Image

LATIN1 = b"caf\xe9.png"  # a Latin-1 name, as an SMB share or an old scanner writes it: not UTF-8
FAST_POLL_S = 0.005  # the kill tests react to a log line within a few ms


def drop(inbox: Path, name: str | bytes, digit: np.ndarray) -> None:
    """Write a PNG beside the inbox, then rename it in (a complete file appears at once)."""
    staging = inbox.parent / "staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / "digit.png"
    dark_on_light(digit).save(tmp, format="PNG")
    os.rename(tmp, os.path.join(os.fsencode(inbox), os.fsencode(name)))


def state_dir(d: Daemon) -> Path:
    """The default state folder: beside the inbox, never inside it."""
    return d.root / ".digitwatch-state" / "inbox"


def events(d: Daemon, name: str) -> list[dict]:
    return [e for e in d.events() if e.get("event") == name]


def wait_for(d: Daemon, name: str, match: dict | None = None, timeout: float = 90) -> dict:
    """The first event ``name`` whose fields include ``match``, polled every few ms (so a kill lands
    while the daemon still holds the file it just announced)."""
    deadline = time.monotonic() + timeout
    assert d.proc is not None
    with open(d.log_path, "rb") as fh:
        fh.seek(d._log_offset)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = fh.read()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("event") == name and all(_has(e.get(k), v) for k, v in (match or {}).items()):
                    return e
            if not chunk:
                if d.proc.poll() is not None:
                    raise AssertionError(f"daemon exited ({d.proc.returncode}) before '{name}':\n{d.tail()}")
                time.sleep(FAST_POLL_S)
    raise AssertionError(f"no '{name}' {match} within {timeout}s:\n{d.tail()}")


def _has(value: object, wanted: object) -> bool:
    return wanted in value if isinstance(value, list) else value == wanted


def test_a_name_that_is_not_utf8_gets_its_row_and_keeps_its_bytes(daemon_factory, test_digits) -> None:
    x, y = test_digits
    d: Daemon = daemon_factory("--formats", "csv,json")
    drop(d.inbox, LATIN1, x[0])
    drop(d.inbox, "plain.png", x[1])
    d.start()
    rows = d.wait_rows(2)
    assert d.stop() == 0
    assert not events(d, "worker_died") and not events(d, "claim_failed")
    by_file = {r["file"]: r for r in rows}
    assert set(by_file) == {"caf\\xe9.png", "plain.png"}  # CSV: undecodable bytes shown as \xNN
    assert by_file["caf\\xe9.png"]["digit"] == str(y[0]) and by_file["plain.png"]["digit"] == str(y[1])
    records = [r for p in sorted(d.outbox.glob("*.json")) for r in json.loads(p.read_text(encoding="utf-8"))]
    exact = {unquote_to_bytes(r["file_bytes"]) for r in records}
    assert exact == {LATIN1, b"plain.png"}  # JSON: the exact bytes, which name the archived file
    assert sorted(os.listdir(os.fsencode(d.archive))) == sorted(exact)
    assert os.listdir(os.fsencode(d.inbox)) == [b"staging"] or not os.listdir(os.fsencode(d.inbox))


def test_a_file_in_hand_at_three_deaths_goes_to_failed_and_the_others_get_rows(daemon_factory, test_digits) -> None:
    """kill -9 each time the daemon announces it holds the poison file: in its first batch, then each
    retry (alone). At the next start it is not tried again: an error row, and failed/ with the reason.
    Its batch-mates, in hand at the first death too, are retried alone and get ordinary rows."""
    x, _ = test_digits
    d: Daemon = daemon_factory("--log-level", "debug")
    # ~0.6 s of decoding and preprocessing: the kill, a few ms after the announcement, lands in it.
    noise = np.random.default_rng(0).integers(0, 256, (3000, 3000), dtype=np.uint8)
    Image.fromarray(noise).save(d.root / "poison.png", compress_level=0)
    os.rename(d.root / "poison.png", d.inbox / "poison.png")
    for i, name in enumerate(["a.png", "b.png"]):
        drop(d.inbox, name, x[i])
    d.start(wait_ready=False)
    wait_for(d, "batch_started", {"files": "poison.png"})
    held_at_kill = []
    for attempt in (2, 3, None):
        d.kill()
        held_at_kill.append([p.name for p in (state_dir(d) / "work").rglob("*poison.png")])
        assert not [r for r in d.rows() if r["file"] == "poison.png"], "the poison file finished before the kill"
        d.start(wait_ready=False)
        if attempt:
            wait_for(d, "retrying_suspect", {"file": "poison.png", "attempt": attempt})
    assert all(len(h) == 1 for h in held_at_kill), held_at_kill  # in hand each time
    gave_up = wait_for(d, "gave_up", {"file": "poison.png"})
    assert gave_up["attempts"] == 3
    rows = d.wait_rows(3)
    assert d.stop() == 0
    by_file = {r["file"]: r for r in rows}
    assert Counter(r["file"] for r in rows) == Counter(["poison.png", "a.png", "b.png"])
    assert by_file["poison.png"]["status"] == "error" and "died 3 times" in by_file["poison.png"]["error"]
    assert by_file["a.png"]["status"] != "error" and by_file["b.png"]["status"] != "error"
    assert (d.failed / "poison.png").exists()
    assert "died 3 times" in (d.failed / "poison.png.error.txt").read_text()
    assert sorted(p.name for p in d.archive.iterdir()) == ["a.png", "b.png"]


def plant(journal: Path, instance: str, outputs: list[list[str]], claimed: Path, rel: str) -> None:
    """Write a batch row the way an attacker with write access to the journal would."""
    db = sqlite3.connect(journal)
    db.executescript(
        "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, instance TEXT NOT NULL, outputs TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS moves (claimed TEXT PRIMARY KEY, batch TEXT NOT NULL, rel TEXT NOT NULL,"
        " failed INTEGER NOT NULL, error TEXT NOT NULL);"
    )
    db.execute("INSERT INTO batches VALUES (?, ?, ?)", (f"planted-{instance}", instance, json.dumps(outputs)))
    db.execute("INSERT INTO moves VALUES (?, ?, ?, 0, '')", (str(claimed), f"planted-{instance}", rel))
    db.commit()
    db.close()


def test_planted_journal_rows_pointing_outside_are_ignored(daemon_factory, test_digits, tmp_path) -> None:
    """Rows planted in the journal of the state folder, and in a legacy inbox/.digitwatch/ (which
    whoever drops files could write), name files outside: they are left alone, with an error event.
    The legacy folder's claimed file is taken over and gets its row; the legacy folder leaves the inbox."""
    x, _ = test_digits
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = [outside / "passwd", outside / "shadow"]
    for v in victims:
        v.write_text("secret\n")
    d: Daemon = daemon_factory()
    legacy = d.inbox / ".digitwatch"
    (legacy / "work" / "111-dead").mkdir(parents=True)
    dark_on_light(x[0]).save(legacy / "work" / "111-dead" / "00000000__held.png", format="PNG")
    plant(legacy / "journal.sqlite", "111-dead", [[str(outside / ".t"), str(outside / "r.csv")]], victims[0], "p")
    (state_dir(d) / "work" / "222-dead").mkdir(parents=True, mode=0o700)
    os.chmod(state_dir(d).parent, 0o700)
    os.chmod(state_dir(d), 0o700)
    os.chmod(state_dir(d) / "work", 0o700)
    plant(state_dir(d) / "journal.sqlite", "222-dead", [], victims[1], "s")
    d.start()
    rows = d.wait_rows(1)
    assert d.stop() == 0
    ignored = events(d, "journal_row_ignored")
    assert sorted(e["instance"] for e in ignored) == ["111-dead", "222-dead"]
    assert all(v.read_text() == "secret\n" for v in victims)
    assert not list(d.archive.rglob("passwd")) and not list(d.archive.rglob("shadow"))
    assert [r["file"] for r in rows] == ["held.png"] and (d.archive / "held.png").exists()
    assert not legacy.exists() and events(d, "legacy_state_adopted")
    assert list(state_dir(d).glob("legacy-*/journal.sqlite"))


def test_state_lives_beside_the_inbox_private(daemon_factory, test_digits) -> None:
    d: Daemon = daemon_factory().start()
    drop(d.inbox, "one.png", test_digits[0][0])
    d.wait_rows(1)
    assert d.stop() == 0
    assert sorted(p.name for p in d.inbox.iterdir()) == ["staging"] or not list(d.inbox.iterdir())
    assert (state_dir(d) / "journal.sqlite").is_file() and (state_dir(d) / "status.json").is_file()
    for folder in (state_dir(d).parent, state_dir(d), state_dir(d) / "work"):
        assert os.stat(folder).st_mode & 0o777 == 0o700, folder


def run_to_exit(d: Daemon, timeout: float = 60) -> tuple[int, str]:
    d.start(wait_ready=False)
    assert d.proc is not None
    code = d.proc.wait(timeout)
    return code, d.log_path.read_text(errors="replace").strip()


def test_unsafe_state_folders_stop_the_start_with_one_clear_line(daemon_factory, tmp_path) -> None:
    shm = Path("/dev/shm")
    elsewhere = shm / f"digitwatch-test-{os.getpid()}" if shm.is_dir() else None
    if elsewhere is not None and os.stat(shm).st_dev != os.stat(tmp_path).st_dev:
        d: Daemon = daemon_factory("--state-dir", str(elsewhere), root=tmp_path / "a")
        code, out = run_to_exit(d)
        assert code == 78 and len(out.splitlines()) == 1 and "another filesystem" in out, out
    open_to_all = tmp_path / "b" / "state"
    open_to_all.mkdir(parents=True)
    os.chmod(open_to_all, 0o777)
    d = daemon_factory("--state-dir", str(open_to_all), root=tmp_path / "b")
    code, out = run_to_exit(d)
    assert code == 78 and len(out.splitlines()) == 1 and "writable by group or others" in out, out
    if os.geteuid() == 0:
        foreign = tmp_path / "c" / "state"
        foreign.mkdir(parents=True, mode=0o700)
        os.chown(foreign, 12345, 12345)
        d = daemon_factory("--state-dir", str(foreign), root=tmp_path / "c")
        code, out = run_to_exit(d)
        assert code == 78 and len(out.splitlines()) == 1 and "owned by uid 12345" in out, out
    inside = daemon_factory("--state-dir", str(tmp_path / "d" / "inbox" / "state"), root=tmp_path / "d")
    code, out = run_to_exit(inside)
    assert code == 78 and "must not be inside the inbox" in out, out


def test_sighup_at_startup_and_a_lost_work_folder(daemon_factory, test_digits) -> None:
    """A SIGHUP while TensorFlow loads does not kill the daemon; a work folder removed under it is
    recreated with an error event, and the next file still gets its row."""
    d: Daemon = daemon_factory()
    d.start(wait_ready=False)
    wait_for(d, "starting")
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    d.wait_event("ready")
    work = state_dir(d) / "work"
    (mine,) = [p for p in work.iterdir() if not p.name.startswith(".")]
    mine.rmdir()  # empty while idle
    drop(d.inbox, "after.png", test_digits[0][1])
    rows = d.wait_rows(1)
    assert d.stop() == 0
    assert [r["file"] for r in rows] == ["after.png"]
    assert events(d, "work_folder_lost")


def test_sigterm_at_startup_stops_cleanly(daemon_factory) -> None:
    d: Daemon = daemon_factory()
    d.start(wait_ready=False)
    wait_for(d, "starting")
    assert d.stop(signal.SIGTERM, timeout=120) == 0  # not killed by the default action, not 70
    assert wait_for(d, "stopped")["clean"] is True


def test_csv_escaping_is_reversible() -> None:
    from digitwatch.daemon.results import csv_unescape  # here: the old code has none, and fails only this test

    cells = ["=1+1", "'=1+1", "''=1+1", "'", "plain.png", "-2.png", "@x", "\tt", "it's.png", ""]
    rows = [Result(c, None, None, "error", c, "m", "t", "", c) for c in cells]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8"), newline="")))
    assert [csv_unescape(r["file"]) for r in parsed] == cells
    assert [csv_unescape(r["error"]) for r in parsed] == cells
    assert parsed[0]["file"] == "'=1+1" and parsed[1]["file"] == "''=1+1"  # no longer the same cell
    assert parsed[4]["file"] == "plain.png" and parsed[8]["file"] == "it's.png"


def test_a_thread_traceback_is_one_json_event() -> None:
    code = (
        "import threading\n"
        "from digitwatch.daemon import log\n"
        "log.setup('json')\n"
        "t = threading.Thread(target=lambda: 1 / 0, name='worker'); t.start(); t.join()\n"
        "raise RuntimeError('main')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    events_ = [json.loads(line) for line in lines]  # every line is JSON
    assert [e["event"] for e in events_] == ["thread_crashed", "uncaught_exception"]
    assert events_[0]["thread"] == "worker" and "ZeroDivisionError" in events_[0]["exception"]
    assert "RuntimeError: main" in events_[1]["exception"]


def test_one_files_bad_data_or_claim_error_never_escapes_the_worker(tmp_path: Path) -> None:
    """The worker's per-file containment, on its own: an exception of any type while claiming a file
    is logged (the file stays in the inbox); a file that breaks the network's batch gets an error row
    and its batch-mates their rows."""
    from types import SimpleNamespace

    from digitwatch.daemon.claim import Claimed
    from digitwatch.daemon.recognize import Prepared
    from digitwatch.daemon.worker import Worker

    errors: list[tuple[str, dict]] = []

    def explode(*_: object) -> None:
        raise ValueError("not an OSError")

    fake = SimpleNamespace(
        work=SimpleNamespace(claim=explode),
        cfg=SimpleNamespace(inbox=tmp_path, low_confidence=0.5, max_digits=12),
        _error=lambda event, **kw: errors.append((event, kw)),
        _log=SimpleNamespace(exception=lambda *a, **k: None),
    )
    assert Worker._claim(fake, tmp_path / "x.png") is None  # type: ignore[arg-type]
    assert errors and errors[0][0] == "claim_failed" and "ValueError" in errors[0][1]["reason"]

    class Predictor:
        model_id = "m"

        def predict(self, x: np.ndarray, quick: np.ndarray | None = None) -> np.ndarray:
            if np.isnan(x).any():
                raise FloatingPointError("NaN in the input")
            return np.tile(np.eye(10, dtype=np.float32)[3], (len(x), 1))

    fake._classify_one = lambda *a: Worker._classify_one(fake, *a)  # type: ignore[arg-type]
    from digitwatch.daemon.preprocess.number import single

    box = (0, 0, 28, 28)
    good, bad = single(np.zeros((1, 28, 28), np.float32), box), single(np.full((1, 28, 28), np.nan, np.float32), box)
    claims = [Claimed(os.fsdecode(LATIN1), tmp_path / "a"), Claimed("b.png", tmp_path / "b")]
    results = Worker._classify(fake, claims, [Prepared("s1", good), Prepared("s2", bad)], Predictor())  # type: ignore[arg-type]
    assert [(r.file, r.status, r.digit) for r in results] == [("caf\\xe9.png", "ok", 3), ("b.png", "error", None)]
    assert "FloatingPointError" in results[1].error and results[0].file_bytes == "caf%E9.png"


def test_a_stop_that_timed_out_is_a_failure_exit() -> None:
    from types import SimpleNamespace

    from digitwatch.daemon import service

    closed: list[str] = []
    work = SimpleNamespace(close=lambda: closed.append("work"))
    journal = SimpleNamespace(close=lambda: closed.append("journal"))
    assert service._closed(False, 0, work, journal, None) == ExitCode.software == 70  # type: ignore[arg-type]
    assert closed == []  # the worker may still hold claims: the next start re-does them
    assert service._closed(True, 0, work, journal, None) == 0  # type: ignore[arg-type]
    assert closed == ["work", "journal"]
