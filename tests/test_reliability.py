"""Attacks on the real daemon: kill -9 at random moments, an unwritable outbox, hostile inputs,
a lost-event watcher, an overflowing queue. The promise: every input gets exactly one row,
nothing is lost or written twice, nothing outside the configured folders is touched."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Daemon, dark_on_light, read_rows
from PIL import Image


def check_exactly_once(d: Daemon, names: list[str]) -> dict[str, int]:
    rows = read_rows(d.outbox)
    counts = Counter(r["file"] for r in rows)
    lost = [n for n in names if n not in counts]
    doubled = {n: c for n, c in counts.items() if c > 1}
    assert not lost and not doubled, f"lost {lost[:5]}... doubled {list(doubled.items())[:5]}"
    assert set(counts) == set(names)
    for name in names:  # every input sits in archive/ or failed/, nothing stays behind
        assert (d.archive / name).exists() or (d.failed / name).exists(), name
    assert not [p for p in d.outbox.iterdir() if p.name.startswith(".")], "temporary file left in outbox"
    work = d.inbox / ".digitwatch" / "work"
    assert not [p for p in work.rglob("*") if p.is_file()], "claimed files left behind"
    return {"files": len(names), "rows": len(rows), "lost": len(lost), "duplicated": len(doubled)}


def test_chaos_kill9_loses_and_doubles_nothing(daemon_factory, test_digits) -> None:
    x, _ = test_digits
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "7")))
    n_files, kills = int(os.environ.get("CHAOS_FILES", "600")), int(os.environ.get("CHAOS_KILLS", "4"))
    d: Daemon = daemon_factory("--max-batch", "32")
    staging = d.root / "staging"
    staging.mkdir()
    names = [f"c{i:05d}.png" for i in range(n_files)]
    for i, name in enumerate(names):
        dark_on_light(x[i % len(x)]).save(staging / name)
    done = threading.Event()

    def produce() -> None:
        for name in names:
            os.rename(staging / name, d.inbox / name)
            time.sleep(rng.uniform(0, 0.02))
        done.set()

    d.start()
    producer = threading.Thread(target=produce)
    producer.start()
    for _ in range(kills):
        time.sleep(rng.uniform(0.5, 2.5))
        d.kill()  # SIGKILL: no chance to clean up
        d.start()
    producer.join()
    d.wait_rows(n_files, timeout=120)
    time.sleep(0.5)
    assert d.stop() == 0
    figures = check_exactly_once(d, names)
    print(f"chaos: {figures}, kills={kills}")


def test_unwritable_outbox_holds_files_then_catches_up(daemon_factory, test_digits) -> None:
    """The outbox becomes unusable for a while (as root ignores permission bits, the folder is
    swapped for a plain file, which fails every write with ENOTDIR; as a user, chmod 555)."""
    x, _ = test_digits
    d: Daemon = daemon_factory().start()
    parked = d.root / "outbox-parked"
    if os.geteuid() == 0:
        os.rename(d.outbox, parked)
        d.outbox.write_text("not a folder")
    else:
        os.chmod(d.outbox, 0o555)
    names = [f"held-{i}.png" for i in range(10)]
    for i, name in enumerate(names):
        dark_on_light(x[i]).save(d.inbox / name)
    d.wait_event("outbox_write_failed", timeout=30)
    time.sleep(2)
    held = list((d.inbox / ".digitwatch" / "work").rglob("*held-*"))
    assert len(held) == 10, "inputs must stay claimed while the outbox is unwritable"
    assert not list(d.archive.iterdir())
    if os.geteuid() == 0:
        d.outbox.unlink()
        os.rename(parked, d.outbox)
    else:
        os.chmod(d.outbox, 0o755)
    d.wait_rows(10, timeout=60)
    retries = [e for e in d.events() if e.get("event") == "outbox_write_failed"]
    assert len(retries) >= 2 and retries[1]["retry_in_s"] > retries[0]["retry_in_s"]  # backing off
    assert d.stop() == 0
    check_exactly_once(d, names)


def test_hostile_inputs(daemon_factory, test_digits, tmp_path) -> None:
    x, y = test_digits
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    dark_on_light(x[0]).save(secret)
    secret_bytes = secret.read_bytes()
    d: Daemon = daemon_factory("--max-pixels", "20000000", "--max-file-mb", "1").start()
    names = {
        "a,b.png": x[1],
        'q"uote.png': x[2],
        "new\nline.png": x[3],
        "sp ace.png": x[4],
        "ünïcode-数字.png": x[5],
        "=cmd().png": x[6],
        "+1.png": x[7],
        "-2.png": x[8],
        "@sum.png": x[9],
        "\ttab.png": x[10],
        "%2E%2E%2Fetc%2Fx.png": x[11],
        "é" * 120 + ".png": x[13],
    }
    for name, digit in names.items():
        dark_on_light(digit).save(d.inbox / name, format="PNG")
    os.symlink(secret, d.inbox / "link.png")
    (d.inbox / "folder").mkdir()
    dark_on_light(x[12]).save(d.inbox / "folder" / "inside.png")
    (d.inbox / "big.png").write_bytes(b"\x89PNG" + b"\0" * (2 * 2**20))
    Image.new("L", (6000, 6000), 255).save(d.inbox / "huge-canvas.png", optimize=False)
    total = len(names) + 4
    rows = d.wait_rows(total, timeout=60)
    code = d.stop()  # a row is durable before its input moves on: stopping drains the last moves
    by_file = {r["file"]: r for r in rows}
    assert len(rows) == total
    for name in names:
        expected = "'" + name if name[0] in "=+-@\t" else name
        assert expected in by_file, (name, sorted(by_file))
        assert by_file[expected]["status"] != "error"
        assert (d.archive / name).exists()
    assert by_file["link.png"]["status"] == "error" and "symbolic link" in by_file["link.png"]["error"]
    assert secret.read_bytes() == secret_bytes and secret.exists()  # the target is never moved
    assert (d.failed / "link.png").is_symlink()
    assert by_file["folder"]["status"] == "error" and (d.failed / "folder" / "inside.png").exists()
    assert "too large" in by_file["big.png"]["error"]
    assert "too large" in by_file["huge-canvas.png"]["error"]
    assert sorted(os.listdir(outside)) == ["secret.png"]
    assert code == 0


def test_recursive_mode_never_leaves_its_folders(daemon_factory, test_digits, tmp_path) -> None:
    x, _ = test_digits
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dark_on_light(x[0]).save(outside / "victim.png")
    d: Daemon = daemon_factory("--recursive", "true").start()
    (d.inbox / "a" / "b").mkdir(parents=True)
    dark_on_light(x[1]).save(d.inbox / "a" / "b" / "deep.png")
    os.symlink(outside, d.inbox / "escape")  # a symlinked folder is never followed
    dark_on_light(x[2]).save(d.inbox / "a" / "%2E%2E%2F%2E%2E%2Fx.png")
    rows = d.wait_rows(3, timeout=30)
    code = d.stop()  # a row is durable before its input moves on: stopping drains the last moves
    by_file = {r["file"]: r for r in rows}
    assert by_file["a/b/deep.png"]["status"] == "ok" and (d.archive / "a" / "b" / "deep.png").exists()
    assert (d.archive / "a" / "%2E%2E%2F%2E%2E%2Fx.png").exists()
    assert by_file["escape"]["status"] == "error"
    assert (outside / "victim.png").exists() and os.listdir(outside) == ["victim.png"]
    written = {p for p in tmp_path.rglob("*")}
    assert all(str(p).startswith(str(d.root)) or p.parent == outside or p == outside for p in written)
    assert code == 0


def test_queue_overflow_backpressure_loses_nothing(daemon_factory, test_digits) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory("--queue-size", "16", "--max-batch", "16").start()
    staging = d.root / "staging"
    staging.mkdir()
    names = [f"q{i:04d}.png" for i in range(400)]
    for i, name in enumerate(names):
        dark_on_light(x[i % len(x)]).save(staging / name)
    for name in names:
        os.rename(staging / name, d.inbox / name)
    d.wait_rows(len(names), timeout=90)
    assert d.stop() == 0
    check_exactly_once(d, names)


def test_lost_events_are_caught_by_rescan_and_dead_observer_restarted(tmp_path: Path, test_digits) -> None:
    """In-process: the real watchdog observer and scanner, with the observer stopped under them."""
    from digitwatch.daemon import config
    from digitwatch.daemon.intake import Intake
    from digitwatch.daemon.watch import Scanner

    cfg = config.load(
        None,
        env={},
        overrides={
            "inbox": str(tmp_path / "in"),
            "outbox": str(tmp_path / "out"),
            "archive": str(tmp_path / "ar"),
            "failed": str(tmp_path / "fa"),
            "checkpoint": str(tmp_path / "ck"),
            "rescan_interval_s": "1",
            "settle_ms": "100",
        },
    )
    config.ensure_folders(cfg)

    intake = Intake(100, 0.1)
    scanner = Scanner(cfg, intake, on_model_event=lambda: None)
    scanner.start_observer()
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        scanner.observer.stop()  # the observer dies quietly (as on a network-share outage)
        scanner.observer.join(5)
        dark_on_light(test_digits[0][0]).save(cfg.inbox / "while-dead.png")
        deadline = time.monotonic() + 10
        got: list[Path] = []
        while time.monotonic() < deadline and not got:
            got = intake.take(10, 0.01, 0.2)
        assert [p.name for p in got] == ["while-dead.png"]
        assert scanner.observer_restarts >= 1
        intake.release(got)
        os.unlink(got[0])
        dark_on_light(test_digits[0][1]).save(cfg.inbox / "after-restart.png")
        got = intake.take(10, 0.01, 3.0)
        assert [p.name for p in got] == ["after-restart.png"]
    finally:
        stop.set()
        thread.join(5)


def test_polling_mode_fifo_and_vanishing_files(daemon_factory, test_digits) -> None:
    """Polling observer (network shares); a named pipe is refused without blocking; a file that
    disappears before it is claimed is simply gone (no row, no error)."""
    x, y = test_digits
    d: Daemon = daemon_factory("--polling", "true", "--poll-interval-s", "0.2").start()
    for i in range(5):
        dark_on_light(x[i]).save(d.inbox / f"p{i}.png")
    os.mkfifo(d.inbox / "pipe.png")
    (d.inbox / "gone.png").write_bytes(b"x")
    os.unlink(d.inbox / "gone.png")
    rows = d.wait_rows(6, timeout=30)
    by_file = {r["file"]: r for r in rows}
    assert [int(by_file[f"p{i}.png"]["digit"]) for i in range(5)] == list(y[:5])
    assert by_file["pipe.png"]["status"] == "error" and "not a regular file" in by_file["pipe.png"]["error"]
    assert "gone.png" not in by_file
    assert d.stop() == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permission bits cannot deny it")
def test_unreadable_file_is_an_error_row(daemon_factory, test_digits) -> None:
    d: Daemon = daemon_factory().start()
    path = d.inbox / "secret.png"
    dark_on_light(test_digits[0][0]).save(path)
    os.chmod(path, 0)
    (row,) = d.wait_rows(1)
    assert row["status"] == "error" and "Permission denied" in row["error"]
    assert d.stop() == 0
