"""End-to-end benchmark of the real ``digitwatch run`` daemon on this machine.

    python bench/bench.py [--quick] [--small N] [--scans N] [--drops N] [--numbers N] [--singles N] [--seed-sample N]
                          [--data PATH] [--json PATH] [--keep] [--workdir DIR]
                          [--random-seed S] [--daemon-arg=ARG ...]

Workloads (each on a fresh daemon with fresh temporary folders; but for
``startup``, the clock starts once the daemon has logged "ready" and its CPU
use has gone quiet, i.e. its start-up work is really done):

* ``startup``: the daemon is spawned with one small file already in the inbox;
  time from spawn until that file's row is in the outbox;
* ``idle``: single small files dropped one at a time into an idle daemon
  (each drop waits for the previous row, then 100-200 ms); latency per file;
* ``burst``: N small images (dark digit on white, 56x56 PNG) renamed into the
  inbox at once; throughput = N / (last row seen - first file renamed in);
* ``scans``: N scan-sized pages (400-1,200 px, half JPEG half PNG, dark digit
  on light paper, digit 30-80% of the page); throughput as for ``burst``;
* ``singles``: N pictures of one MNIST test digit written as the numbers are (same renderer,
  heights and paper) renamed in at once: what a single digit costs on such a picture;
* ``numbers``: N pictures of 5-digit numbers (MNIST test digits standing apart, on paper)
  renamed in at once; pictures/s, digits/s, and a digit's cost over a single digit's on the
  same paper (``singles``; and over the burst's small PNGs): a picture of n digits should cost
  about n single digits;
* ``seed``: the seed tutorial's per-image loop (PIL open, convert L, resize
  28x28, invert, /255, ``model.predict`` one image at a time) over a sample of
  the burst's files, with the model the daemon served.

Images are made from MNIST test digits and written to a staging folder on the
same file system first; they enter the inbox by os.rename, so the clock runs
on the daemon, not on PNG encoding. A thread polls the outbox every ~1 ms and
notes when each row first appears. Memory is read from /proc/PID/status
(VmRSS right after "ready" and at the end of the workload, VmHWM = peak).

Prints a table of figures next to the goals and writes all figures as JSON
(default bench/out/bench.json). Nothing is asserted: it is a measurement.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from harness import Daemon, DaemonError, load_test_digits, mnist_file, proc_status, process_tree, stat_fields
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_JSON = HERE / "out" / "bench.json"

FULL_SIZES = {"small": 5000, "scans": 1000, "drops": 200, "seed_sample": 200, "numbers": 400, "singles": 1000}
QUICK_SIZES = {"small": 200, "scans": 40, "drops": 10, "seed_sample": 20, "numbers": 10, "singles": 20}
NUMBER_DIGITS = 5  # the numbers workload's pictures: five MNIST test digits standing apart (a zip code)

SMALL_SIDE = 56  # px: the seed tutorial's kind of input
SCAN_SIDES = (400, 1200)  # px, each side drawn independently
SCAN_DIGIT_FRACTION = (0.3, 0.8)  # digit height / shorter page side
DROP_PAUSE_S = (0.1, 0.2)  # idle workload: pause between a row appearing and the next drop
POLL_S = 0.001  # outbox poll interval
READY_TIMEOUT_S = 180.0
DROP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0
QUIET_WINDOW_S = 0.5  # a daemon is quiet when it used under QUIET_CPU of a core over this window
QUIET_CPU = 0.06  # (/proc counts CPU time in 10-ms ticks: 3 ticks in 0.5 s)
QUIET_TIMEOUT_S = 30.0

# figure -> (comparison, goal, stretch goal or None); printed next to the figures, never asserted.
GOALS: dict[str, tuple[str, float, float | None]] = {
    "burst.images_per_s": (">=", 1000.0, 2000.0),
    "scans.images_per_s": (">=", 150.0, None),
    "idle.p50_ms": ("<=", 50.0, None),
    "idle.p99_ms": ("<=", 150.0, None),
    "startup.first_result_s": ("<=", 5.0, None),
}


class BenchError(RuntimeError):
    """A workload could not be measured (the daemon died, rows never appeared, ...)."""


# --------------------------------------------------------------------------
# Workload images
# --------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    """The file bytes of ``img`` in ``fmt`` ("PNG" or "JPEG")."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def small_image(digit: np.ndarray) -> bytes:
    """The seed tutorial's input: a dark digit on white, 56x56 PNG."""
    img = Image.fromarray(255 - digit).resize((SMALL_SIDE, SMALL_SIDE), Image.Resampling.BILINEAR)
    return encode(img, "PNG")


def _ink_crop(digit: np.ndarray, pad: int = 2) -> np.ndarray:
    """The digit cropped to its ink, with a small black margin (so resampling keeps soft edges)."""
    rows, cols = np.nonzero(digit.max(axis=1))[0], np.nonzero(digit.max(axis=0))[0]
    if len(rows) == 0:
        return digit
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(crop, pad)


def scan_page(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey page (uint8, 400-1,200 px a side): light paper with uneven light and noise, a dark digit on it."""
    h, w = (int(v) for v in rng.integers(SCAN_SIDES[0], SCAN_SIDES[1] + 1, size=2))
    yy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    tilt_y, tilt_x = rng.uniform(-6.0, 6.0, size=2)
    page = rng.uniform(200.0, 245.0) + tilt_y * yy + tilt_x * xx + rng.normal(0.0, 3.0, (h, w)).astype(np.float32)

    crop = _ink_crop(digit)
    dh = max(8, int(rng.uniform(*SCAN_DIGIT_FRACTION) * min(h, w)))
    dw = max(1, min(w, round(dh * crop.shape[1] / crop.shape[0])))
    alpha = np.asarray(Image.fromarray(crop).resize((dw, dh), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    top, left = int(rng.integers(0, h - dh + 1)), int(rng.integers(0, w - dw + 1))
    region = page[top : top + dh, left : left + dw]
    page[top : top + dh, left : left + dw] = region * (1.0 - alpha) + rng.uniform(15.0, 80.0) * alpha
    return np.clip(page, 0, 255).astype(np.uint8)


def scan_image(digit: np.ndarray, rng: np.random.Generator, jpeg: bool) -> bytes:
    """A scan-sized file: a colour JPEG (phone/camera, slightly warm paper) or a greyscale PNG (flatbed)."""
    gray = scan_page(digit, rng)
    if not jpeg:
        return encode(Image.fromarray(gray), "PNG")
    warm = np.stack([gray, (gray * 0.985).astype(np.uint8), (gray * 0.95).astype(np.uint8)], axis=-1)
    return encode(Image.fromarray(warm), "JPEG", quality=88)


def stage_numbers(
    folder: Path, n: int, x: np.ndarray, y: np.ndarray, seed: int, digits: int = NUMBER_DIGITS
) -> dict[str, str]:
    """Write ``n`` PNGs of ``digits``-digit numbers on paper (digits apart, training/numbers.py) into
    ``folder``; return {file name: the number}."""
    from digitwatch.training.numbers import render

    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        number = render(rng, x, y, digits, float(rng.uniform(0.12, 0.4)), style="paper")
        name = f"number-{k:04d}.png"
        number.image.save(folder / name, format="PNG")
        labels[name] = number.digits
    return labels


def pick(n: int, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` test digits (without repetition while the set lasts)."""
    return rng.permutation(len(labels))[:n] if n <= len(labels) else rng.integers(0, len(labels), n)


def stage_small(
    folder: Path, prefix: str, n: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> dict[str, int]:
    """Write ``n`` small PNGs into ``folder``; return {file name: label}."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for k, i in enumerate(pick(n, y, rng)):
        name = f"{prefix}-{k:05d}.png"
        (folder / name).write_bytes(small_image(x[i]))
        labels[name] = int(y[i])
    return labels


def stage_scans(folder: Path, n: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> dict[str, int]:
    """Write ``n`` scan-sized files into ``folder`` (even ones JPEG, odd ones PNG); return {file name: label}."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for k, i in enumerate(pick(n, y, rng)):
        jpeg = k % 2 == 0
        name = f"scan-{k:05d}.{'jpg' if jpeg else 'png'}"
        (folder / name).write_bytes(scan_image(x[i], rng, jpeg))
        labels[name] = int(y[i])
    return labels


# --------------------------------------------------------------------------
# Folders, the daemon process, the outbox
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Folders:
    """One workload's folders, all on one file system (so os.rename from ``stage`` into ``inbox`` is atomic)."""

    root: Path

    @property
    def stage(self) -> Path:
        return self.root / "stage"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints"

    def create(self) -> Folders:
        """Make the folders the bench fills (the daemon makes the others)."""
        for folder in (self.stage, self.inbox, self.outbox, self.checkpoint):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def daemon_command() -> list[str]:
    """The installed ``digitwatch`` command next to this Python (else on PATH, else ``python -m``)."""
    script = Path(sys.executable).with_name("digitwatch")
    if script.is_file():
        return [str(script)]
    found = shutil.which("digitwatch")
    return [found] if found else [sys.executable, "-m", "digitwatch.daemon"]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid``, its live descendants and the children they reaped, in seconds."""
    ticks = 0
    for p in process_tree(pid):
        fields = stat_fields(p)
        if len(fields) > 14:
            ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU time all processes on the machine have used since boot (/proc/stat), in seconds."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this (bench) process so far, in seconds."""
    t = os.times()
    return t.user + t.system


def wait_quiet(pid: int, window_s: float = QUIET_WINDOW_S, timeout_s: float = QUIET_TIMEOUT_S) -> float:
    """Wait until ``pid`` and its children use under QUIET_CPU of a core over ``window_s``; return the wait.

    "ready" may come before all start-up work is done (e.g. worker processes still importing); the
    throughput and latency workloads start on a daemon that has finished it. Gives up after ``timeout_s``.
    """
    started = time.perf_counter()
    before = cpu_seconds(pid)
    while time.perf_counter() - started < timeout_s:
        time.sleep(window_s)
        now = cpu_seconds(pid)
        if now - before <= QUIET_CPU * window_s:
            break
        before = now
    return time.perf_counter() - started


def tree_memory(pid: int) -> dict[str, float]:
    """Sum of VmRSS and of VmHWM (an upper bound of the joint peak) over ``pid`` and its descendants, in MB."""
    statuses = [proc_status(p) for p in process_tree(pid)]
    return {
        "processes": len(statuses),
        "VmRSS": sum(s.get("VmRSS", 0.0) for s in statuses),
        "VmHWM": sum(s.get("VmHWM", 0.0) for s in statuses),
    }


class OutboxWatcher:
    """Polls the outbox every ~1 ms in a thread and notes when each input's row first appears there.

    Results files are renamed into place whole, so a file seen by ``scandir`` can be read at once.
    Only the CSV results are read (``formats`` must include csv, as it does by default).
    Arrival times are ``time.perf_counter()`` just after the listing that first showed the file.
    """

    def __init__(self, outbox: Path, interval_s: float = POLL_S) -> None:
        self.outbox = outbox
        self.interval_s = interval_s
        self.arrivals: dict[str, float] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self._seen: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-watcher", daemon=True)

    def __enter__(self) -> OutboxWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(self.interval_s)

    def poll(self) -> None:
        """One look at the outbox: read any new results file."""
        with os.scandir(self.outbox) as it:
            new = [
                e.path
                for e in it
                if e.name.endswith(".csv") and not e.name.startswith(".") and e.name not in self._seen
            ]
        if not new:
            return
        now = time.perf_counter()
        for path in new:
            self._seen.add(os.path.basename(path))
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            with self._cond:
                for row in rows:
                    self.arrivals.setdefault(row["file"], now)
                    self.rows.setdefault(row["file"], row)
                self._cond.notify_all()

    def wait(self, names: set[str] | list[str], timeout: float, alive: Callable[[], bool]) -> bool:
        """Wait until every name in ``names`` has a row; False on timeout or when ``alive()`` turns false."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(n in self.arrivals for n in names):
                left = deadline - time.monotonic()
                if left <= 0 or not alive():
                    return False
                self._cond.wait(min(left, 0.2))
            return True


# --------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------


@dataclass
class Measurement:
    """What one workload measured: ``figures`` (positive numbers, the JSON's headline) and ``details``."""

    workload: str
    n: int
    figures: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def batch_summary(events: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """Batches the daemon logged: count, mean size, and how much of ``wall_s`` the worker spent in them."""
    sizes = [int(e.get("size", 0)) for e in events]
    busy_s = sum(float(e.get("ms", 0.0)) for e in events) / 1000.0
    return {
        "batches": len(events),
        "mean_batch_size": round(float(np.mean(sizes)), 1) if sizes else 0.0,
        "max_batch_size": max(sizes, default=0),
        "worker_busy_s": round(busy_s, 3),
        "worker_busy_fraction": round(busy_s / wall_s, 3) if wall_s > 0 else 0.0,
        "ms_per_image_in_batches": round(1000.0 * busy_s / sum(sizes), 3) if sum(sizes) else 0.0,
    }


def row_quality(rows: dict[str, dict[str, str]], labels: Mapping[str, int | str]) -> dict[str, Any]:
    """Status counts and accuracy of the rows for ``labels``' files (a sanity check that work was done)."""
    mine = [rows[name] for name in labels if name in rows]
    correct = sum(1 for name in labels if name in rows and rows[name]["text"] == str(labels[name]))
    counts = {s: sum(1 for r in mine if r["status"] == s) for s in ("ok", "low_confidence", "error")}
    return {"rows": len(mine), **counts, "accuracy": round(correct / len(labels), 4) if labels else 0.0}


def memory_figures(
    name: str, start: dict[str, float], end: dict[str, float], tree: dict[str, float]
) -> dict[str, float]:
    """The daemon process's RSS at start (after "ready") and end and its peak (VmHWM), in MB; and the
    same end and peak summed over the daemon and its child processes (``tree``, from :func:`tree_memory`)."""
    return {
        f"{name}.rss_start_mb": round(start.get("VmRSS", 0.0), 1),
        f"{name}.rss_end_mb": round(end.get("VmRSS", 0.0), 1),
        f"{name}.peak_rss_mb": round(end.get("VmHWM", 0.0), 1),
        f"{name}.tree_rss_end_mb": round(tree.get("VmRSS", 0.0), 1),
        f"{name}.tree_peak_rss_mb": round(tree.get("VmHWM", 0.0), 1),
    }


def served_model(daemon: Daemon) -> dict[str, Any]:
    """The model the daemon said it loaded (id, path, source)."""
    loaded = daemon.events("model_loaded")
    if not loaded:
        return {}
    last = loaded[-1]
    return {k: last.get(k) for k in ("model", "path", "source", "canary_accuracy")}


def start_daemon(folders: Folders, extra_args: list[str]) -> Daemon:
    """Spawn ``digitwatch run`` (the installed command) on ``folders``; does not wait for it."""
    return Daemon(folders.root, *extra_args, command=daemon_command(), settle_ms=None).start(wait_ready=False)


def stop_daemon(daemon: Daemon) -> int:
    """SIGTERM and wait (kill if it does not stop in time); the exit code. Children left running are ended."""
    return daemon.stop(timeout=STOP_TIMEOUT_S, force=True)


def run_daemon_workload(
    name: str, folders: Folders, extra_args: list[str], body: Callable[[Daemon, OutboxWatcher], Measurement]
) -> Measurement:
    """Start a daemon on ``folders``, wait for "ready" and for it to go quiet, run ``body``, record memory
    and CPU, stop it."""
    daemon = start_daemon(folders, extra_args)
    try:
        ready = daemon.wait_event("ready", READY_TIMEOUT_S)
        ready_seen = time.perf_counter()
        quiet_s = wait_quiet(daemon.pid)
        start_mem = proc_status(daemon.pid)
        cpu0 = cpu_seconds(daemon.pid)
        with OutboxWatcher(folders.outbox) as watcher:
            m = body(daemon, watcher)
        end_mem, tree_mem = proc_status(daemon.pid), tree_memory(daemon.pid)
        m.details["processes"] = tree_mem["processes"]
        m.details["daemon_cpu_s"] = round(cpu_seconds(daemon.pid) - cpu0, 2)
        m.details["ready_logged_s"] = ready.get("startup_s")
        m.details["ready_seen_s"] = round(ready_seen - daemon.spawned_at, 3)
        m.details["quiet_after_ready_s"] = round(quiet_s, 2)
        m.details["model"] = served_model(daemon)
        m.figures.update(memory_figures(name, start_mem, end_mem, tree_mem))
    finally:
        code = stop_daemon(daemon)
    m.details["exit_code"] = code
    m.details["leftover_processes"] = len(daemon.leftovers)
    # "batch" is logged after the batch's inputs are moved, i.e. after its rows appear: read it once stopped.
    m.details.update(batch_summary(daemon.events("batch"), m.details.get("measured_s", 0.0)))
    if code != 0:
        print(f"warning: {name}: daemon exited with code {code}\n{daemon.tail()}", file=sys.stderr)
    if daemon.leftovers:
        print(f"warning: {name}: {len(daemon.leftovers)} child processes outlived the daemon", file=sys.stderr)
    return m


def flood(folders: Folders, names: list[str]) -> tuple[float, float]:
    """Rename every staged file into the inbox as fast as possible; (time after first rename, after last)."""
    first = 0.0
    for k, name in enumerate(names):
        os.rename(folders.stage / name, folders.inbox / name)
        if k == 0:
            first = time.perf_counter()
    return first, time.perf_counter()


def throughput_workload(
    name: str, folders: Folders, labels: Mapping[str, int | str], extra_args: list[str]
) -> Measurement:
    """Rename all staged files in at once; images/s = n / (last row seen - first file renamed in)."""
    names = sorted(labels)
    timeout = 120.0 + 0.2 * len(names)

    def body(daemon: Daemon, watcher: OutboxWatcher) -> Measurement:
        cpu0, own0, busy0 = cpu_seconds(daemon.pid), own_cpu_seconds(), system_busy_seconds()
        first, last_in = flood(folders, names)
        if not watcher.wait(names, timeout, daemon.alive):
            got = sum(1 for n in names if n in watcher.arrivals)
            raise BenchError(f"{name}: {got} of {len(names)} rows after {timeout:.0f}s\n{daemon.tail()}")
        last_row = max(watcher.arrivals[n] for n in names)
        first_row = min(watcher.arrivals[n] for n in names)
        wall = last_row - first
        cpu, own = cpu_seconds(daemon.pid) - cpu0, own_cpu_seconds() - own0
        others = system_busy_seconds() - busy0 - cpu - own  # CPU the rest of the machine took meanwhile
        m = Measurement(name, len(names))
        m.figures[f"{name}.images_per_s"] = round(len(names) / wall, 1)
        m.figures[f"{name}.seconds"] = round(wall, 3)
        m.details.update(
            rename_all_s=round(last_in - first, 3),
            first_row_after_s=round(first_row - first, 3),
            daemon_cpu_cores=round(cpu / wall, 2),
            other_cpu_cores=round(max(others, 0.0) / wall, 2),
            measured_s=round(wall, 3),
            **row_quality(watcher.rows, labels),
        )
        return m

    return run_daemon_workload(name, folders, extra_args, body)


def idle_workload(
    folders: Folders, labels: dict[str, int], extra_args: list[str], rng: np.random.Generator
) -> Measurement:
    """Drop single files into an idle daemon: each after the previous row appeared plus a 100-200 ms pause."""
    names = sorted(labels)

    def body(daemon: Daemon, watcher: OutboxWatcher) -> Measurement:
        latencies = []
        for name in names:
            os.rename(folders.stage / name, folders.inbox / name)
            dropped = time.perf_counter()
            if not watcher.wait([name], DROP_TIMEOUT_S, daemon.alive):
                raise BenchError(f"idle: no row for {name} within {DROP_TIMEOUT_S:.0f}s\n{daemon.tail()}")
            latencies.append((watcher.arrivals[name] - dropped) * 1000.0)
            time.sleep(float(rng.uniform(*DROP_PAUSE_S)))
        lat = np.asarray(latencies)
        m = Measurement("idle", len(names))
        for q in (50, 95, 99):
            m.figures[f"idle.p{q}_ms"] = round(float(np.percentile(lat, q)), 1)
        m.figures["idle.max_ms"] = round(float(lat.max()), 1)
        m.details.update(
            min_ms=round(float(lat.min()), 1),
            mean_ms=round(float(lat.mean()), 1),
            latencies_ms=[round(v, 2) for v in latencies],
            measured_s=round(float(lat.sum()) / 1000.0, 3),  # time spent waiting for rows
            **row_quality(watcher.rows, labels),
        )
        return m

    return run_daemon_workload("idle", folders, extra_args, body)


def startup_workload(folders: Folders, labels: dict[str, int], extra_args: list[str]) -> Measurement:
    """Spawn the daemon with one file already in the inbox; time from spawn until its row appears.

    Also notes when "ready" was seen (10-ms log poll), to split start-up from the first file's handling.
    """
    (name,) = labels
    os.rename(folders.stage / name, folders.inbox / name)
    with OutboxWatcher(folders.outbox) as watcher:
        daemon = start_daemon(folders, extra_args)
        try:
            ready = daemon.wait_event("ready", READY_TIMEOUT_S)
            ready_seen = time.perf_counter() - daemon.spawned_at
            if not watcher.wait([name], READY_TIMEOUT_S, daemon.alive):
                raise BenchError(f"startup: no row for {name} within {READY_TIMEOUT_S:.0f}s\n{daemon.tail()}")
            first_result = watcher.arrivals[name] - daemon.spawned_at
            mem, tree_mem = proc_status(daemon.pid), tree_memory(daemon.pid)
            model = served_model(daemon)
        finally:
            code = stop_daemon(daemon)
    m = Measurement("startup", 1)
    m.figures["startup.first_result_s"] = round(first_result, 3)
    m.figures["startup.ready_logged_s"] = float(ready["startup_s"])
    m.figures.update(memory_figures("startup", mem, mem, tree_mem))
    m.details.update(
        processes=tree_mem["processes"],
        ready_seen_s=round(ready_seen, 3),
        ready_to_first_result_s=round(first_result - ready_seen, 3),
        model=model,
        exit_code=code,
        leftover_processes=len(daemon.leftovers),
        **row_quality(watcher.rows, labels),
    )
    return m


# --------------------------------------------------------------------------
# The seed tutorial's loop
# --------------------------------------------------------------------------


def seed_loop(files: list[Path], model_path: Path, labels: dict[str, int]) -> Measurement:
    """The seed tutorial's per-image loop (one ``model.predict`` per image) over ``files``, timed.

    One untimed call first builds Keras' predict function, as any long-running loop would amortise it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from digitwatch.daemon.infer import quiet_native_stderr  # TensorFlow's native start-up notices

    with quiet_native_stderr():
        import keras

        model = keras.models.load_model(model_path, safe_mode=True, compile=False)
    shape = tuple(model.input_shape[1:])

    def recognise(path: Path) -> int:
        img = Image.open(path).convert("L").resize((28, 28))
        x = (255.0 - np.asarray(img, dtype=np.float32)) / 255.0
        probs = model.predict(x.reshape(shape)[None], verbose=0)
        return int(np.argmax(probs[0]))

    with quiet_native_stderr():
        recognise(files[0])  # warm-up, untimed
    started = time.perf_counter()
    digits = [recognise(p) for p in files]
    elapsed = time.perf_counter() - started
    correct = sum(d == labels[p.name] for d, p in zip(digits, files))
    m = Measurement("seed", len(files))
    m.figures["seed.images_per_s"] = round(len(files) / elapsed, 1)
    m.details.update(seconds=round(elapsed, 3), model_path=str(model_path), accuracy=round(correct / len(files), 4))
    return m


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def goal_text(figure: str) -> str:
    """The goal printed next to ``figure`` ('' if it has none)."""
    if figure not in GOALS:
        return ""
    op, goal, stretch = GOALS[figure]
    return f"{op} {goal:g}" + (f" (stretch {stretch:g})" if stretch else "")


def verdict(figure: str, value: float) -> str:
    """'met', 'stretch', 'MISSED' or '' for a figure without a goal."""
    if figure not in GOALS:
        return ""
    op, goal, stretch = GOALS[figure]
    better = (lambda a, b: a >= b) if op == ">=" else (lambda a, b: a <= b)
    if stretch is not None and better(value, stretch):
        return "stretch"
    return "met" if better(value, goal) else "MISSED"


FIGURE_LABELS = {
    "images_per_s": "throughput (images/s)",
    "seconds": "time, first in -> last row (s)",
    "p50_ms": "latency p50 (ms)",
    "p95_ms": "latency p95 (ms)",
    "p99_ms": "latency p99 (ms)",
    "max_ms": "latency max (ms)",
    "first_result_s": "spawn -> first result (s)",
    "digits_per_s": "throughput (digits/s)",
    "digit_cost_ratio": "ms a digit / ms a single digit on the same paper (singles)",
    "digit_cost_vs_burst": "ms a digit / ms a small PNG (burst)",
    "ready_logged_s": "ready, as logged (s)",
}

# Details printed under a workload's figures (context for the figures, not in the JSON's "figures").
DETAIL_LABELS = {
    "ready_to_first_result_s": "ready -> first result (s)",
    "quiet_after_ready_s": "ready -> CPU quiet (s), not timed",
    "first_row_after_s": "first row after (s)",
    "daemon_cpu_cores": "daemon CPU used (cores, with children)",
    "other_cpu_cores": "other processes' CPU meanwhile (cores)",
    "mean_batch_size": "mean batch size",
    "ms_per_image_in_batches": "worker ms per image",
    "worker_busy_fraction": "worker busy (fraction)",
    "accuracy": "accuracy (sanity check)",
}
_THROUGHPUT_DETAILS = (
    "quiet_after_ready_s",
    "first_row_after_s",
    "daemon_cpu_cores",
    "other_cpu_cores",
    "mean_batch_size",
    "ms_per_image_in_batches",
    "worker_busy_fraction",
    "accuracy",
)
DETAILS_SHOWN = {
    "startup": ("ready_to_first_result_s", "accuracy"),
    "idle": ("quiet_after_ready_s", "accuracy"),
    "burst": _THROUGHPUT_DETAILS,
    "scans": _THROUGHPUT_DETAILS,
    "singles": _THROUGHPUT_DETAILS,
    "numbers": _THROUGHPUT_DETAILS,
}


def table_rows(results: list[Measurement], ratio: float | None) -> list[tuple[str, str, str, str, str, str]]:
    """(workload, n, figure, value, goal, verdict) per printed line."""
    rows = []
    for m in results:
        mem = {}
        for key, value in m.figures.items():
            short = key.split(".", 1)[1]
            if short.endswith("_mb"):
                mem[short] = value
                continue
            label = FIGURE_LABELS.get(short, short)
            rows.append((m.workload, str(m.n), label, f"{value:g}", goal_text(key), verdict(key, value)))
        for key in DETAILS_SHOWN.get(m.workload, ()):
            value = m.details.get(key)
            if value is None:
                continue
            text = f"{value:.1%}" if key == "accuracy" else f"{value:g}"
            rows.append((m.workload, str(m.n), DETAIL_LABELS[key], text, "", ""))
        if mem:
            text = f"{mem['rss_start_mb']:.0f} / {mem['rss_end_mb']:.0f} / {mem['peak_rss_mb']:.0f}"
            rows.append((m.workload, str(m.n), "RSS start / end / peak (MB)", text, "", ""))
            text = f"{mem['tree_rss_end_mb']:.0f} / {mem['tree_peak_rss_mb']:.0f}"
            label = f"RSS end / peak, {m.details.get('processes', '?')} processes (MB)"
            rows.append((m.workload, str(m.n), label, text, "", ""))
    if ratio is not None:
        rows.append(("seed", "", "daemon burst / seed loop", f"{ratio:.1f}x", "", ""))
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Aligned columns with a header."""
    header = ("workload", "n", "figure", "value", "goal", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    align = ["<", ">", "<", ">", "<", "<"]
    for r in [header, *rows]:
        print("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip())


def machine_info() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; sizes not given explicitly come from --quick or the full defaults."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data",
        type=Path,
        default=mnist_file(),
        help="mnist.npz (default: $MNIST_NPZ, else ../shared/data/mnist.npz, else tests/data/mnist-sample.npz)",
    )
    p.add_argument("--small", type=int, help=f"burst size (default {FULL_SIZES['small']})")
    p.add_argument("--scans", type=int, help=f"scan-sized images (default {FULL_SIZES['scans']})")
    p.add_argument("--drops", type=int, help=f"single drops into an idle daemon (default {FULL_SIZES['drops']})")
    p.add_argument(
        "--numbers", type=int, help=f"pictures of {NUMBER_DIGITS}-digit numbers (default {FULL_SIZES['numbers']})"
    )
    p.add_argument(
        "--singles",
        type=int,
        help=f"pictures of one digit written as the numbers are (default {FULL_SIZES['singles']})",
    )
    p.add_argument("--seed-sample", type=int, help=f"files for the seed loop (default {FULL_SIZES['seed_sample']})")
    quick = ", ".join(f"{k}={v}" for k, v in QUICK_SIZES.items())
    p.add_argument("--quick", action="store_true", help=f"tiny sizes for CI: {quick}")
    p.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"write the figures here (default {DEFAULT_JSON.relative_to(REPO)})",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (their path is printed)")
    p.add_argument("--workdir", type=Path, help="make the temporary folders here (default: the system's temp folder)")
    p.add_argument("--random-seed", type=int, default=0, help="seed for the digit sample and the images (default 0)")
    p.add_argument(
        "--daemon-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG to `digitwatch run` (repeatable; e.g. --daemon-arg=--max-batch --daemon-arg=512)",
    )
    args = p.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    for key, default in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be at least 1")
    args.seed_sample = min(args.seed_sample, args.small)
    if not args.data.is_file():
        p.error(f"--data: no such file: {args.data}")
    return args


def run_all(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """Run every workload under ``base``; print the table; return the JSON document."""
    load_at_start = [round(v, 2) for v in os.getloadavg()]
    x, y = load_test_digits(args.data)
    rng = np.random.default_rng(args.random_seed)
    extra = list(args.daemon_arg)
    results: list[Measurement] = []

    def folders(name: str) -> Folders:
        return Folders(base / name).create()

    def step(title: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {title}", flush=True)

    step("startup: one file in the inbox, then spawn")
    f = folders("startup")
    results.append(startup_workload(f, stage_small(f.stage, "first", 1, x, y, rng), extra))

    step(f"idle: {args.drops} single drops")
    f = folders("idle")
    results.append(idle_workload(f, stage_small(f.stage, "drop", args.drops, x, y, rng), extra, rng))

    step(f"burst: staging {args.small} small images")
    f = folders("burst")
    small = stage_small(f.stage, "small", args.small, x, y, rng)
    seed_dir = base / "seed"
    seed_dir.mkdir()
    for name in sorted(small)[: args.seed_sample]:
        shutil.copyfile(f.stage / name, seed_dir / name)
    step(f"burst: {args.small} small images at once")
    burst = throughput_workload("burst", f, small, extra)
    results.append(burst)

    step(f"scans: staging {args.scans} scan-sized images")
    f = folders("scans")
    scans = stage_scans(f.stage, args.scans, x, y, rng)
    step(f"scans: {args.scans} scan-sized images at once")
    results.append(throughput_workload("scans", f, scans, extra))

    step(f"singles: staging {args.singles} pictures of one digit, written as the numbers are")
    f = folders("singles")
    singles = throughput_workload("singles", f, stage_numbers(f.stage, args.singles, x, y, args.random_seed, 1), extra)
    results.append(singles)

    step(f"numbers: staging {args.numbers} pictures of {NUMBER_DIGITS}-digit numbers")
    f = folders("numbers")
    numbers = throughput_workload("numbers", f, stage_numbers(f.stage, args.numbers, x, y, args.random_seed), extra)
    digits_per_s = numbers.figures["numbers.images_per_s"] * NUMBER_DIGITS
    numbers.figures["numbers.digits_per_s"] = round(digits_per_s, 1)
    numbers.figures["numbers.digit_cost_ratio"] = round(singles.figures["singles.images_per_s"] / digits_per_s, 2)
    numbers.figures["numbers.digit_cost_vs_burst"] = round(burst.figures["burst.images_per_s"] / digits_per_s, 2)
    results.append(numbers)

    model_path = burst.details.get("model", {}).get("path")
    if not model_path:
        raise BenchError("the daemon did not log which model it served (no 'model_loaded' event)")
    step(f"seed loop: {args.seed_sample} images, one predict each ({model_path})")
    seed = seed_loop(sorted(seed_dir.iterdir()), Path(model_path), small)
    results.append(seed)
    ratio = burst.figures["burst.images_per_s"] / seed.figures["seed.images_per_s"]

    figures = {k: v for m in results for k, v in m.figures.items()}
    figures["seed.daemon_ratio"] = round(ratio, 2)
    print()
    print(
        f"digitwatch bench  data {args.data}  model {burst.details['model'].get('model')}  "
        f"{os.cpu_count()} CPUs  load {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print_table(table_rows(results, ratio))
    return {
        "figures": figures,
        "goals": {k: {"op": op, "goal": g, "stretch": s} for k, (op, g, s) in GOALS.items()},
        "workloads": {m.workload: {"n": m.n, **m.details} for m in results},
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "daemon_command": daemon_command(),
        "machine": {**machine_info(), "load_average_at_start": load_at_start},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="digitwatch-bench-", dir=args.workdir))
    try:
        report = run_all(args, base)
    except (BenchError, DaemonError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"temporary folders kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
