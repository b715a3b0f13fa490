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
    work = d.state / "work"
    assert work.is_dir(), work
    assert not [p for p in work.rglob("*") if p.is_file()], "claimed files left behind"
    return {"files": len(names), "rows": len(rows), "lost": len(lost), "duplicated": len(doubled)}


def test_chaos_kill9_loses_and_doubles_nothing(daemon_factory, test_digits) -> None:
    """kill -9 while the daemon has work in hand, ``CHAOS_KILLS`` times; every file still gets one row.

    Each kill comes right after the k-th ``batch`` event of that run (k drawn from 1-3), while the
    producer is still feeding that run's share of the files (at least 4 batches of 32), so it hits a
    daemon with files claimed or a batch recorded but not finished - never one still importing
    TensorFlow. The next start must say so: its ``recovered`` events show reclaimed work. Producer and
    killer draw from their own generators seeded from ``CHAOS_SEED``: a seed repeats the schedule.
    """
    x, _ = test_digits
    seed = int(os.environ.get("CHAOS_SEED", "7"))
    n_files, kills = int(os.environ.get("CHAOS_FILES", "600")), int(os.environ.get("CHAOS_KILLS", "4"))
    producer_rng, killer_rng = random.Random(f"producer-{seed}"), random.Random(f"killer-{seed}")
    kill_after = [killer_rng.randint(1, 3) for _ in range(kills)]  # the k-th batch of each run
    d: Daemon = daemon_factory("--max-batch", "32")
    staging = d.root / "staging"
    staging.mkdir()
    names = [f"c{i:05d}.png" for i in range(n_files)]
    for i, name in enumerate(names):
        dark_on_light(x[i % len(x)]).save(staging / name)
    # One share of the files per run of the daemon: share j goes in after kill j (the first at once),
    # while the daemon restarts and runs, so every run has files to work on when it is killed.
    shares = [names[j * n_files // (kills + 1) : (j + 1) * n_files // (kills + 1)] for j in range(kills + 1)]
    assert min(len(s) for s in shares) > 3 * 32, "too few files per run for the kill schedule"
    killed = [threading.Event() for _ in range(kills)]
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for j, share in enumerate(shares):
                if j and not killed[j - 1].wait(600):
                    return
                for name in share:
                    os.rename(staging / name, d.inbox / name)
                    time.sleep(producer_rng.uniform(0, 0.02))
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)

    d.start(timeout=120)
    producer = threading.Thread(target=produce)
    producer.start()
    try:
        for j, k in enumerate(kill_after):
            d.wait_event("batch", timeout=120, count=k)
            d.kill()  # SIGKILL: no chance to clean up
            killed[j].set()
            d.start(timeout=120)
    finally:
        for event in killed:
            event.set()  # never leave the producer waiting
        producer.join()
    assert not failure, failure
    d.wait_rows(n_files, timeout=120)
    assert d.stop() == 0
    figures = check_exactly_once(d, names)
    recovered = d.events("recovered", all_runs=True)
    assert len(recovered) == kills, f"one recovery per kill expected: {recovered}"
    reclaimed = sum(int(e["reclaimed"]) for e in recovered)
    finished = sum(int(e["batches"]) for e in recovered)
    assert reclaimed + finished > 0, f"no kill hit a daemon with work in hand: {recovered}"
    print(
        f"chaos: {figures}, seed={seed}, kills after batches {kill_after}, reclaimed={reclaimed}, "
        f"batches finished by recovery={finished}"
    )


def test_unwritable_outbox_holds_files_then_catches_up(unprivileged_daemon, test_digits) -> None:
    """The outbox becomes read-only for a while (chmod 555, binding: the daemon runs unprivileged)."""
    x, _ = test_digits
    d: Daemon = unprivileged_daemon().start()
    assert os.stat(f"/proc/{d.pid}").st_uid != 0, "the daemon runs as root: permission bits would not bind it"
    os.chmod(d.outbox, 0o555)
    names = [f"held-{i}.png" for i in range(10)]
    for i, name in enumerate(names):
        dark_on_light(x[i]).save(d.inbox / name)
    d.wait_event("outbox_write_failed", timeout=30)
    work = d.state / "work"
    assert work.is_dir(), work
    deadline = time.monotonic() + 30
    while len(held := list(work.rglob("*held-*"))) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(held) == 10, f"inputs must stay claimed while the outbox is unwritable: {held}"
    d.wait_event("outbox_write_failed", timeout=30, count=3)  # retried, and still failing
    assert not list(d.archive.iterdir()) and not d.rows()
    assert len(list(work.rglob("*held-*"))) == 10
    os.chmod(d.outbox, 0o755)
    d.wait_rows(10, timeout=60)
    retries = d.events("outbox_write_failed")
    assert all("Permission denied" in e["reason"] for e in retries), retries
    assert len(retries) >= 2 and retries[1]["retry_in_s"] > retries[0]["retry_in_s"]  # backing off
    assert d.stop() == 0
    check_exactly_once(d, names)


def test_hostile_inputs(daemon_factory, test_digits, tmp_path) -> None:
    x, _ = test_digits
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
    d: Daemon = daemon_factory("--recursive", root=tmp_path / "daemon").start()
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
    strays = [
        p for p in tmp_path.rglob("*") if not p.is_relative_to(d.root) and p not in (outside, outside / "victim.png")
    ]
    assert not strays, f"written outside the daemon's folders: {strays}"
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
    d: Daemon = daemon_factory("--polling", "--poll-interval-s", "0.2").start()
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


def test_unreadable_file_is_an_error_row(unprivileged_daemon, test_digits) -> None:
    """chmod 000 binds the daemon (it runs unprivileged): the file gets an error row, the next one is read."""
    d: Daemon = unprivileged_daemon().start()
    assert os.stat(f"/proc/{d.pid}").st_uid != 0, "the daemon runs as root: permission bits would not bind it"
    path = d.inbox / "secret.png"
    dark_on_light(test_digits[0][0]).save(path)
    os.chmod(path, 0)
    (row,) = d.wait_rows(1)
    assert row["status"] == "error" and "Permission denied" in row["error"], row
    dark_on_light(test_digits[0][1]).save(d.inbox / "plain.png")
    rows = {r["file"]: r for r in d.wait_rows(2)}
    assert rows["plain.png"]["status"] == "ok"
    assert d.stop() == 0
    assert (d.failed / "secret.png").exists()
