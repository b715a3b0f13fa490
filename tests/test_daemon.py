"""The real ``digitwatch run`` process on temporary folders, fed real image files."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Daemon, cli, dark_on_light, read_rows


def drop(inbox: Path, name: str, digit, via_tmp: bool = False) -> None:
    target = inbox / name
    if via_tmp:
        tmp = inbox / f".{name}.part"
        dark_on_light(digit).save(tmp, format="PNG")
        os.rename(tmp, target)
    else:
        dark_on_light(digit).save(target, format="PNG")


def test_startup_files_stream_and_moves(daemon_factory, test_digits) -> None:
    x, y = test_digits
    d: Daemon = daemon_factory()
    for i in range(5):
        drop(d.inbox, f"early-{i}.png", x[i])
    d.start()
    rows = d.wait_rows(5)
    for i in range(5, 40):
        drop(d.inbox, f"stream-{i}.png", x[i], via_tmp=i % 2 == 0)
        time.sleep(0.01)
    rows = d.wait_rows(40)
    by_file = {r["file"]: r for r in rows}
    assert len(rows) == 40 == len(by_file)
    correct = sum(int(by_file[f"{'early' if i < 5 else 'stream'}-{i}.png"]["digit"]) == y[i] for i in range(40))
    assert correct >= 39
    assert all(r["status"] in ("ok", "low_confidence") and len(r["sha256"]) == 64 for r in rows)
    code = d.stop()  # drains: a row is durable before its input moves to archive/
    assert sorted(p.name for p in d.archive.iterdir()) == sorted(by_file)
    assert list(d.inbox.iterdir()) == []  # the state lives beside the inbox
    assert code == 0


def test_slow_writer_ignored_names_and_bad_files(daemon_factory, test_digits, tmp_path) -> None:
    x, y = test_digits
    d: Daemon = daemon_factory().start()
    png = tmp_path / "whole.png"
    dark_on_light(x[0]).save(png)
    data = png.read_bytes()
    with open(d.inbox / "slow.png", "wb") as fh:  # written in two halves, 1.5 s apart
        fh.write(data[: len(data) // 2])
        fh.flush()
        time.sleep(1.5)
        fh.write(data[len(data) // 2 :])
    for name in (".hidden.png", "download.png.part", "x.tmp", "y.crdownload", "~lock.png"):
        (d.inbox / name).write_bytes(data)
    (d.inbox / "empty.png").write_bytes(b"")
    (d.inbox / "notes.txt").write_text("not an image")
    (d.inbox / "corrupt.png").write_bytes(data[:40] + b"\0" * 50)
    d.wait_rows(4)
    # No sleep to "prove" the ignored files are never taken: a restart's scan, done before "ready",
    # queues every file that has held still in the inbox, in order; a file dropped after "ready" is
    # queued behind them. When its row is in, any ignored file that was not ignored has a row too.
    assert d.stop() == 0
    d.start()
    drop(d.inbox, "sentinel.png", x[1], via_tmp=True)
    d.wait_rows(5)
    code = d.stop()  # drains: a row is durable before its input moves to failed/
    by_file = {r["file"]: r for r in d.rows()}
    assert set(by_file) == {"slow.png", "empty.png", "notes.txt", "corrupt.png", "sentinel.png"}
    assert by_file["slow.png"]["status"] == "ok" and int(by_file["slow.png"]["digit"]) == y[0]
    for name in ("empty.png", "notes.txt", "corrupt.png"):
        assert by_file[name]["status"] == "error" and by_file[name]["error"]
        assert (d.failed / name).exists() and (d.failed / f"{name}.error.txt").read_text().strip()
    for name in (".hidden.png", "download.png.part", "x.tmp", "y.crdownload", "~lock.png"):
        assert (d.inbox / name).exists(), f"ignored file {name} was touched"
    failed_events = d.events("file_failed", all_runs=True)
    assert {e["file"] for e in failed_events} == {"empty.png", "notes.txt", "corrupt.png"}
    assert code == 0


def test_sigterm_mid_burst_loses_nothing(daemon_factory, test_digits) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory("--max-batch", "16").start()
    names = [f"burst-{i:04d}.png" for i in range(300)]
    for i, name in enumerate(names):
        drop(d.inbox, name, x[i % len(x)])
    d.wait_event("batch")  # mid-burst: one batch done, most files still to come
    started = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    d.start()
    rows = d.wait_rows(len(names))
    counts = Counter(r["file"] for r in rows)
    assert set(counts) == set(names) and max(counts.values()) == 1
    assert d.stop() == 0


def test_outbox_read_by_duckdb_and_json_format(daemon_factory, test_digits) -> None:
    import duckdb

    x, _ = test_digits
    d: Daemon = daemon_factory("--formats", "csv,json").start()
    for i in range(12):
        drop(d.inbox, f"d{i}.png", x[i])
    d.wait_rows(12)
    d.stop()
    (n, ok) = duckdb.sql(
        f"SELECT count(*), count(*) FILTER (WHERE status <> 'error') FROM read_csv('{d.outbox}/*.csv')"
    ).fetchall()[0]
    assert n == 12 and ok == 12
    records = [r for f in sorted(d.outbox.glob("*.json")) for r in json.loads(f.read_text())]
    assert sorted(r["file"] for r in records) == sorted(f"d{i}.png" for i in range(12))
    assert all(len(r["probabilities"]) == 10 for r in records)
    assert not [p for p in d.outbox.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, mnist_path) -> Path:
    """A second, different model published by the real training command."""
    ck = tmp_path_factory.mktemp("ck2")
    r = cli("train", "--data", str(mnist_path), "--limit", "3000", "--epochs", "1", "--checkpoint", str(ck), "--quiet")
    assert r.returncode == 0, r.stderr
    return ck


def test_hot_reload_new_model_and_broken_model(daemon_factory, test_digits, small_model: Path) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory("--canary-min-accuracy", "0.5", "--model-poll-s", "0.5").start()
    first = d.wait_event("model_loaded")["model"]
    for i in range(5):
        drop(d.inbox, f"before-{i}.png", x[i])
    d.wait_rows(5)
    d.checkpoint.mkdir(exist_ok=True)
    for f in small_model.iterdir():  # publish: model files first, the manifest last
        if f.name != "latest.json":
            (d.checkpoint / f.name).write_bytes(f.read_bytes())
    (d.checkpoint / "latest.json").write_bytes((small_model / "latest.json").read_bytes())
    new = d.wait_event("model_loaded", count=2)["model"]
    assert new != first
    for i in range(5):
        drop(d.inbox, f"after-{i}.png", x[i])
    rows = d.wait_rows(10)
    models = {r["file"].split("-")[0]: set() for r in rows}
    for r in rows:
        models[r["file"].split("-")[0]].add(r["model"])
    assert models == {"before": {first}, "after": {new}}

    (d.checkpoint / "model-broken.keras").write_bytes(b"PK\x03\x04 truncated")
    (d.checkpoint / "latest.json").write_text(json.dumps({"model_id": "broken", "file": "model-broken.keras"}))
    rejected = d.wait_event("model_rejected")
    assert rejected["model"] == "broken"
    for i in range(3):
        drop(d.inbox, f"later-{i}.png", x[i])
    rows = d.wait_rows(13)
    assert {r["model"] for r in rows if r["file"].startswith("later")} == {new}
    assert d.stop() == 0


def test_a_manifest_gone_for_a_moment_keeps_the_published_model(daemon_factory, test_digits, small_model: Path) -> None:
    """A manifest that is missing or empty for a while (rewritten in place, a share's hiccup) used to
    send the daemon back to the bundled model at the next poll; now only SIGHUP does that."""
    x, _ = test_digits
    d: Daemon = daemon_factory("--canary-min-accuracy", "0.5", "--model-poll-s", "0.2").start()
    bundled = d.wait_event("model_loaded")["model"]
    d.checkpoint.mkdir(exist_ok=True)
    for f in small_model.iterdir():
        if f.name != "latest.json":
            (d.checkpoint / f.name).write_bytes(f.read_bytes())
    (d.checkpoint / "latest.json").write_bytes((small_model / "latest.json").read_bytes())
    published = d.wait_event("model_loaded", count=2)["model"]
    # Half-rewritten for five polls, each seen as it happens: the manifest is a named pipe, so a
    # poll is the daemon opening it to read; the test then closes its end and the daemon reads "".
    manifest = d.checkpoint / "latest.json"
    manifest.unlink()
    os.mkfifo(manifest)
    for _ in range(5):
        deadline = time.monotonic() + 30
        while True:
            try:  # succeeds once a reader has it open: the daemon is polling
                os.close(os.open(manifest, os.O_WRONLY | os.O_NONBLOCK))
                break
            except OSError as exc:  # ENXIO: no reader yet
                assert exc.errno == errno.ENXIO and time.monotonic() < deadline, "the daemon stopped polling"
                time.sleep(0.01)
    parked = d.checkpoint / "parked-pipe"
    os.rename(manifest, parked)  # then gone; a poll already waiting on the pipe is let go (reads "")
    release_deadline = time.monotonic() + 0.5
    while time.monotonic() < release_deadline:
        try:
            os.close(os.open(parked, os.O_WRONLY | os.O_NONBLOCK))
            break
        except OSError:
            time.sleep(0.01)
    parked.unlink()
    # A missing manifest leaves no trace to wait for (the daemon logs no poll), so this one wait
    # stays: five polls at --model-poll-s 0.2.
    time.sleep(1.0)
    for i in range(3):
        drop(d.inbox, f"while-{i}.png", x[i])
    rows = d.wait_rows(3)
    assert {r["model"] for r in rows} == {published}
    assert len([e for e in d.events() if e.get("event") == "model_loaded"]) == 2
    d.proc.send_signal(signal.SIGHUP)  # the operator's way back to the bundled model
    assert d.wait_event("model_loaded", count=3)["model"] == bundled
    assert d.stop() == 0


def test_status_command_and_sd_notify(daemon_factory, test_digits, tmp_path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    d: Daemon = daemon_factory(env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}).start()
    drop(d.inbox, "one.png", test_digits[0][0])
    d.wait_rows(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the status file is rewritten once a second
        r = cli("status", "--json", "--inbox", str(d.inbox))
        if r.returncode == 0 and json.loads(r.stdout)["done"] == 1:
            break
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    assert snap["done"] == 1 and snap["model"] and snap["queue_depth"] == 0 and snap["running"] and snap["healthy"]
    text = cli("status", "--inbox", str(d.inbox)).stdout
    assert "serving, healthy" in text and "{" not in text  # text for a person, no JSON mixed in
    deadline = time.monotonic() + 10  # WATCHDOG_USEC=1 s: pings every half second or so
    while "WATCHDOG=1" not in messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert d.stop() == 0
    deadline = time.monotonic() + 10  # sent before the exit; the listener may not have read it yet
    while "STOPPING=1" not in messages and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    listener.join()
    sock.close()
    assert any(m.startswith("READY=1") for m in messages)
    assert "WATCHDOG=1" in messages and "STOPPING=1" in messages
    r = cli("status", "--inbox", str(d.inbox))
    assert r.returncode == 3 and "not running" in r.stdout


def test_two_daemons_never_take_the_same_file(daemon_factory, test_digits, tmp_path) -> None:
    """Two daemons on one inbox: each file gets exactly one row, and both daemons took files (a
    daemon that never claims anything would make the first half pass on its own)."""
    x, _ = test_digits
    a: Daemon = daemon_factory().start()
    b: Daemon = daemon_factory(root=tmp_path, log_path=tmp_path / "daemon-b.log").start()
    names = [f"f{i:03d}.png" for i in range(200)]
    for i, name in enumerate(names):
        drop(a.inbox, name, x[i % len(x)])
    a.wait_rows(len(names))
    assert a.stop() == 0 and b.stop() == 0  # drains: a late duplicate would be in the outbox now
    counts = Counter(r["file"] for r in read_rows(a.outbox))
    assert set(counts) == set(names) and max(counts.values()) == 1
    taken = {d.log_path.name: sum(int(e["size"]) for e in d.events("batch")) for d in (a, b)}
    assert sum(taken.values()) == len(names), taken
    assert min(taken.values()) > 0, f"one daemon took no file: {taken}"


def test_a_burst_renamed_in_and_renames_inside_the_inbox_are_all_read(daemon_factory, test_digits, tmp_path) -> None:
    """``mv batch/* inbox/`` (2,000 files renamed in at once) while writers rename their temporary
    names inside the inbox: every file read once. (A flat inbox's watch does not ask for moves out,
    so no move is paired; the destination of each move in is what counts - watch._inbox_observer.)"""
    x, _ = test_digits
    d: Daemon = daemon_factory().start()
    staging = tmp_path / "batch"
    staging.mkdir()
    for i in range(2000):
        dark_on_light(x[i % len(x)], size=28).save(staging / f"in-{i:04d}.png", format="PNG")
    started = time.monotonic()
    for f in sorted(staging.iterdir()):
        os.rename(f, d.inbox / f.name)
    for i in range(100):
        drop(d.inbox, f"inside-{i:03d}.png", x[i], via_tmp=True)
    rows = d.wait_rows(2100, timeout=120)
    print(f"2,100 files in {time.monotonic() - started:.1f} s")
    assert d.stop() == 0
    names = Counter(r["file"] for r in d.rows())
    assert len(names) == 2100 and set(names.values()) == {1}
    assert len(rows) == 2100 and not any(n.startswith(".") for n in names)
    for line in d.log_path.read_text().splitlines():  # the decode processes' LiteRT notices kept out of the log
        json.loads(line)
