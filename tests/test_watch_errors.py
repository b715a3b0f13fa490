"""The inbox watcher under stress: inotify at its limit, the inbox removed, replaced or back again.
It backs off, logs once per outage, falls back to polling, and resumes."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import Daemon, dark_on_light
from digitwatch.daemon import config
from digitwatch.daemon.intake import Intake
from digitwatch.daemon.watch import Scanner

Factory = Callable[..., Daemon]
Digits = tuple[np.ndarray, np.ndarray]


def _cfg(root: Path) -> config.Config:
    keys = ("inbox", "outbox", "archive", "failed", "checkpoint")
    cfg = config.load(None, env={}, overrides={k: str(root / k) for k in keys})
    config.ensure_folders(cfg)
    return cfg


def test_inotify_limit_falls_back_to_polling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digitwatch.daemon.intake import Intake
    from digitwatch.daemon.watch import Scanner
    from watchdog.observers.inotify import InotifyObserver

    def at_limit(self: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyObserver, "start", at_limit)
    cfg = _cfg(tmp_path)
    intake = Intake(10, 0.05)
    scanner = Scanner(cfg, intake, on_model_event=lambda: None)
    scanner.start_observer()  # no exception: polling instead
    try:
        assert scanner.polling_fallback
        (cfg.inbox / "a.png").write_bytes(b"a")
        deadline = time.monotonic() + 10
        got: list[Path] = []
        while not got and time.monotonic() < deadline:
            intake.settle()
            got = intake.take(10, 0.01, 0.2)
        assert [p.name for p in got] == ["a.png"]
    finally:
        scanner.observer.stop()


def test_inbox_removed_then_back_no_hot_loop(daemon_factory: Factory, test_digits: Digits) -> None:
    x, _ = test_digits
    d: Daemon = daemon_factory().start()
    work = d.state / "work"
    assert work.is_dir(), work
    shutil.rmtree(d.inbox)
    d.wait_event("inbox_missing", timeout=10)
    time.sleep(10)  # the window in which the old code wrote ~300 error lines
    errors = Counter(e["event"] for e in d.events() if e.get("level") == "error")
    assert sum(errors.values()) <= 5, errors
    assert d.proc is not None and d.proc.poll() is None, d.tail()
    d.inbox.mkdir()  # a remounted share: the inbox comes back (the state beside it never left)
    dark_on_light(x[0]).save(d.root / "back.png")
    os.rename(d.root / "back.png", d.inbox / "back.png")
    d.wait_event("inbox_back", timeout=10)
    (row,) = d.wait_rows(1, timeout=30)
    assert row["file"] == "back.png"
    assert d.stop() == 0


def test_inbox_removed_in_process_no_restart_loop(tmp_path: Path) -> None:
    """The observer dies with its folder (no open file pins it): restarts back off, one line each."""
    from digitwatch.daemon.intake import Intake
    from digitwatch.daemon.watch import Scanner
    from structlog.testing import capture_logs

    cfg = _cfg(tmp_path)
    shutil.rmtree(cfg.state_dir)  # nothing open inside the inbox: its removal stops the observer
    intake = Intake(10, 0.05)
    scanner = Scanner(cfg, intake, on_model_event=lambda: None)
    scanner.start_observer()
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    with capture_logs() as logs:
        thread.start()
        try:
            shutil.rmtree(cfg.inbox)
            time.sleep(3)  # the window in which the old code restarted 30 times and logged 90 lines
            assert sum(e["log_level"] == "error" for e in logs) <= 2, logs
            assert scanner.observer_restarts <= 1 and scanner.inbox_missing
            cfg.inbox.mkdir()
            (cfg.inbox / "a.png").write_bytes(b"a")
            deadline = time.monotonic() + 10
            got: list[Path] = []
            while not got and time.monotonic() < deadline:
                got = intake.take(10, 0.01, 0.2)
            assert [p.name for p in got] == ["a.png"]
        finally:
            stop.set()
            thread.join(5)
    assert [e["event"] for e in logs if e["event"].startswith("inbox_")] == ["inbox_missing", "inbox_back"]


def test_inbox_replaced_by_a_new_folder_is_watched_again(tmp_path: Path) -> None:
    """A share mounted again, or the folder renamed away and made anew: the observer still watches
    the old folder and sees nothing; the scanner notices the new one within seconds, not a rescan."""
    cfg = _cfg(tmp_path)  # rescan_interval_s is 60 s: only a restarted observer sees the file in time
    intake = Intake(10, 0.05)
    scanner = Scanner(cfg, intake, on_model_event=lambda: None)
    scanner.start_observer()
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        os.rename(cfg.inbox, tmp_path / "old-inbox")
        cfg.inbox.mkdir()
        (cfg.inbox / "a.png").write_bytes(b"a")
        deadline = time.monotonic() + 10
        got: list[Path] = []
        while not got and time.monotonic() < deadline:
            got = intake.take(10, 0.01, 0.2)
        assert [p.name for p in got] == ["a.png"]
    finally:
        stop.set()
        thread.join(5)
