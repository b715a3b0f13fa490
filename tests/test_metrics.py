"""Metrics and health of a real ``digitwatch run``: /metrics parsed by prometheus_client's own parser and
checked against the outbox's rows, the textfile never half-written, /healthz 503 when the watcher is down or
the worker stalls, and ``status --json`` saying the same."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from conftest import Daemon, cli, dark_on_light
from prometheus_client.parser import text_string_to_metric_families

NAMES = (  # every family README's metrics table promises
    "digitwatch_files",
    "digitwatch_file_latency_seconds",
    "digitwatch_batch_size",
    "digitwatch_batch_duration_seconds",
    "digitwatch_queue_depth",
    "digitwatch_model_info",
    "digitwatch_model_reloads",
    "digitwatch_last_publish_timestamp_seconds",
    "digitwatch_watcher_up",
    "digitwatch_worker_heartbeat_age_seconds",
    "digitwatch_healthy",
)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition, through prometheus_client's parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def families(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def serving(d: Daemon) -> str:
    """The base URL of the daemon's endpoint (it listens on port 0: the kernel's choice, logged)."""
    return f"http://127.0.0.1:{d.wait_event('metrics_serving')['port']}"


def wait_health(base: str, code: int, timeout: float) -> tuple[float, dict]:
    """Poll /healthz until it answers ``code``; (seconds it took, its JSON)."""
    started = time.monotonic()
    while True:
        got, body = get(base + "/healthz")
        if got == code:
            return time.monotonic() - started, json.loads(body)
        assert time.monotonic() - started < timeout, f"/healthz still {got} after {timeout} s: {body!r}"
        time.sleep(0.05)


def test_metrics_match_the_outbox_and_the_textfile_is_always_whole(daemon_factory, test_digits, tmp_path) -> None:
    x, _ = test_digits
    prom = tmp_path / "textfile" / "digitwatch.prom"
    prom.parent.mkdir()
    d: Daemon = daemon_factory(
        "--metrics-address", "127.0.0.1:0", "--metrics-file", str(prom), "--metrics-interval-s", "0.2"
    ).start()
    base = serving(d)
    seen: list[str] = []
    broken: list[str] = []
    done = threading.Event()

    def read_textfile() -> None:  # as node_exporter would, as fast as it can
        while not done.is_set():
            try:
                text = prom.read_text()
            except FileNotFoundError:
                continue
            try:
                if families(text) != set(NAMES):
                    broken.append(text)
            except Exception:
                broken.append(text)
            if not seen or seen[-1] != text:
                seen.append(text)

    reader = threading.Thread(target=read_textfile)
    reader.start()
    try:
        for i in range(40):
            dark_on_light(x[i]).save(d.inbox / f"d{i:02d}.png")
            if i % 10 == 9:
                time.sleep(0.3)  # several batches, several textfiles
        for name in ("junk.png", "empty.png"):
            (d.inbox / name).write_bytes(b"not a picture" if name == "junk.png" else b"")
        rows = d.wait_rows(42)
        by_status = Counter(r["status"] for r in rows)
        assert by_status["error"] == 2
        deadline = time.monotonic() + 10
        while True:  # the rows are published a moment before the counters move
            status, body = get(base + "/metrics")
            assert status == 200
            got = samples(body.decode())
            total = sum(got[("digitwatch_files_total", (("status", s),))] for s in ("ok", "low_confidence", "error"))
            if total >= len(rows) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for s in ("ok", "low_confidence", "error"):
            assert got[("digitwatch_files_total", (("status", s),))] == by_status[s], s
        assert got[("digitwatch_file_latency_seconds_count", ())] == len(rows)
        assert 0 < got[("digitwatch_file_latency_seconds_sum", ())] < 60 * len(rows)
        assert got[("digitwatch_batch_size_sum", ())] == len(rows)
        assert got[("digitwatch_batch_size_count", ())] == len(d.events("batch"))
        assert got[("digitwatch_batch_duration_seconds_count", ())] == len(d.events("batch"))
        assert got[("digitwatch_queue_depth", ())] == 0
        assert got[("digitwatch_watcher_up", ())] == 1 and got[("digitwatch_healthy", ())] == 1
        assert time.time() - 60 < got[("digitwatch_last_publish_timestamp_seconds", ())] <= time.time()
        (model,) = {r["model"] for r in rows}
        assert got[("digitwatch_model_info", (("model_id", model), ("source", "bundled")))] == 1
        assert got[("digitwatch_model_reloads_total", (("result", "loaded"),))] == 0
        assert any(name == "process_resident_memory_bytes" for name, _ in got)  # the process collector
        assert set(NAMES) <= families(body.decode())
        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["healthy"] is True
        assert get(base + "/nothing")[0] == 404
        assert d.stop() == 0
    finally:
        done.set()
        reader.join()
    assert not broken, f"{len(broken)} reads of the textfile were not a whole exposition: {broken[0][:300]!r}"
    assert len(seen) >= 3, "the textfile was never rewritten while read"
    final = samples(prom.read_text())  # written at stop: the last counts
    for s in ("ok", "low_confidence", "error"):
        assert final[("digitwatch_files_total", (("status", s),))] == by_status[s], s
    assert not any(name.startswith("process_") for name, _ in final)  # node_exporter has its own process_*
    assert [p.name for p in prom.parent.iterdir()] == ["digitwatch.prom"]  # no temporary left behind


def test_healthz_goes_503_when_the_watcher_is_down(daemon_factory, tmp_path) -> None:
    d: Daemon = daemon_factory("--metrics-address", "127.0.0.1:0").start()
    base = serving(d)
    wait_health(base, 200, timeout=5)
    d.inbox.rmdir()  # the watched folder gone: the watcher stops and waits for it
    took, verdict = wait_health(base, 503, timeout=3)
    assert "inbox watcher is down" in verdict["reasons"] and verdict["watcher_alive"] is False
    print(f"503 after {took:.2f} s")
    metrics = samples(get(base + "/metrics")[1].decode())
    assert metrics[("digitwatch_watcher_up", ())] == 0 and metrics[("digitwatch_healthy", ())] == 0
    deadline = time.monotonic() + 10  # the status file is rewritten once a second
    while True:
        r = cli("status", "--json", "--inbox", str(d.inbox))
        report = json.loads(r.stdout)  # one JSON object, nothing else on stdout
        if r.returncode != 0 or time.monotonic() > deadline:
            break
    assert r.returncode == 4 and report["running"] and not report["healthy"], (r.returncode, r.stdout)
    assert "inbox watcher is down" in report["reasons"]
    d.inbox.mkdir()
    took, _ = wait_health(base, 200, timeout=15)
    print(f"200 again after {took:.2f} s")
    assert d.stop() == 0


def test_healthz_goes_503_when_the_worker_stalls(daemon_factory, test_digits, tmp_path) -> None:
    """A journal locked by another process holds the worker in SQLite's busy wait (30 s): no progress.
    With file_timeout_s 0.5 and stall_margin_s 1, /healthz must say so within seconds, then recover."""
    d: Daemon = daemon_factory(
        "--metrics-address", "127.0.0.1:0", "--file-timeout-s", "0.5", "--stall-margin-s", "1"
    ).start()
    base = serving(d)
    wait_health(base, 200, timeout=5)
    lock = sqlite3.connect(d.state / "journal.sqlite", timeout=10, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        dark_on_light(test_digits[0][0]).save(d.inbox / "held.png")
        took, verdict = wait_health(base, 503, timeout=1.5 + 3)  # the stall limit, then 3 s
        assert any(r.startswith("worker stalled") for r in verdict["reasons"]), verdict
        assert verdict["watcher_alive"] is True
        print(f"503 after {took:.2f} s")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_health(base, 200, timeout=10)
    assert [r["file"] for r in d.wait_rows(1)] == ["held.png"]
    assert d.stop() == 0
