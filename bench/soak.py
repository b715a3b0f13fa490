"""Soak test: a steady stream of files into a real ``digitwatch run`` for minutes on end.

    python bench/soak.py                      # 30,000 files at 150/s (~3.5 minutes)
    python bench/soak.py --files 2000 --rate 200 --json out.json

Samples the daemon once a second - RSS, open file descriptors, queue depth from its status
file, drop-to-archive latency of every 50th file - and checks at the end that every input has
exactly one row. Prints a table; writes the figures as JSON. The test suite runs a short one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from harness import Daemon, load_test_digits, open_fds, proc_status
from PIL import Image


def make_pool(n: int, data: Path | None = None) -> list[bytes]:
    """``n`` distinct small PNGs (dark MNIST test digits on white, 56x56), as bytes."""
    import io

    x, _ = load_test_digits(data)
    out = []
    for digit in x[:n]:
        buf = io.BytesIO()
        Image.fromarray(255 - digit).resize((56, 56)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def soak(files: int, rate: float, extra: list[str] | None = None, root: Path | None = None) -> dict:
    """Run the soak; return its figures."""
    root = root or Path(tempfile.mkdtemp(prefix="digitwatch-soak-"))
    pool = make_pool(200)
    daemon = Daemon(root, *(extra or []), settle_ms=None).start(timeout=120)
    status_file = daemon.state / "status.json"
    samples: list[dict] = []
    written: dict[str, float] = {}
    latencies: list[tuple[float, float]] = []  # (time since start, ms)
    started = time.monotonic()
    done_writing = threading.Event()
    stop_watching = threading.Event()  # set when the run is over: files the daemon lost are never archived

    produced = [0]  # files written so far; a writer that fails must not pass for a daemon that lost files

    def produce() -> None:
        try:
            for i in range(files):
                time.sleep(max(0.0, started + i / rate - time.monotonic()))
                name = f"s{i:06d}.png"
                tmp = root / "inbox" / f".{name}.part"
                tmp.write_bytes(pool[i % len(pool)])
                os.rename(tmp, root / "inbox" / name)
                produced[0] = i + 1
                if i % 50 == 0:
                    written[name] = time.monotonic()
        finally:
            done_writing.set()

    def watch_latency() -> None:
        pending: dict[str, float] = {}
        while True:
            for name in list(written):
                pending[name] = written.pop(name)
            for name, t in list(pending.items()):
                if (root / "archive" / name).exists():
                    latencies.append((t - started, (time.monotonic() - t) * 1000))
                    del pending[name]
            if stop_watching.is_set() or (done_writing.is_set() and not pending and not written):
                return
            time.sleep(0.002)

    producer = threading.Thread(target=produce, daemon=True)
    watcher = threading.Thread(target=watch_latency, daemon=True)
    producer.start()
    watcher.start()
    while True:
        try:
            rss, fds = proc_status(daemon.pid)["VmRSS"], open_fds(daemon.pid)
            snap = json.loads(status_file.read_text()) if status_file.exists() else {}
        except (OSError, ValueError, KeyError):
            if not daemon.alive():
                break  # it died: the figures below say what was lost
            continue
        samples.append(
            {
                "t": time.monotonic() - started,
                "rss_mib": rss,
                "fds": fds,
                "queue": snap.get("queue_depth", 0),
                "done": snap.get("done", 0) + snap.get("failed", 0),
            }
        )
        if done_writing.is_set() and samples[-1]["done"] >= produced[0]:
            break
        if time.monotonic() - started > files / rate + 300:
            break
        time.sleep(1.0)
    producer.join()
    watcher.join(30)
    stop_watching.set()
    watcher.join()
    code = daemon.stop(timeout=60, force=True)
    rows = [r["file"] for r in daemon.rows()]
    counts = Counter(rows)
    third = max(1, len(latencies) // 3)
    first_ms = [ms for _, ms in latencies[:third]]
    last_ms = [ms for _, ms in latencies[-third:]]
    return {
        "files": files,
        "rate_per_s": rate,
        "seconds": round(samples[-1]["t"], 1),
        "rows": len(rows),
        "written": produced[0],
        "lost": sum(1 for i in range(produced[0]) if f"s{i:06d}.png" not in counts),
        "duplicated": sum(1 for c in counts.values() if c > 1),
        "rss_start_mib": round(samples[0]["rss_mib"], 1),
        "rss_end_mib": round(samples[-1]["rss_mib"], 1),
        "rss_max_mib": round(max(s["rss_mib"] for s in samples), 1),
        "fds_start": samples[0]["fds"],
        "fds_end": samples[-1]["fds"],
        "queue_max": max(s["queue"] for s in samples),
        "latency_p50_first_third_ms": round(statistics.median(first_ms), 1) if first_ms else None,
        "latency_p50_last_third_ms": round(statistics.median(last_ms), 1) if last_ms else None,
        "latency_max_ms": round(max(ms for _, ms in latencies), 1) if latencies else None,
        "exit_code": code,
        "root": str(root),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=30000)
    p.add_argument("--rate", type=float, default=150.0, help="files per second")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--daemon-arg", action="append", default=[], help="extra argument for digitwatch run")
    p.add_argument("--keep", action="store_true", help="keep the folders (default: removed when all is well)")
    args = p.parse_args(argv)
    figures = soak(args.files, args.rate, args.daemon_arg)
    ok = (
        figures["written"] == args.files
        and figures["lost"] == 0
        and figures["duplicated"] == 0
        and figures["exit_code"] == 0
    )
    if ok and not args.keep:
        shutil.rmtree(figures["root"], ignore_errors=True)
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
