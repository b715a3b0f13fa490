"""Shared fixtures: MNIST (the full archive via $MNIST_NPZ, else the sample shipped here), real
digit images written by Pillow, and a handle on a real ``digitwatch run`` process.

tests/data/mnist-sample.npz holds the first 4,000 training and 1,000 test digits of the
standard MNIST archive, in the same format (made once with numpy.savez_compressed).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).parent
SAMPLE = HERE / "data" / "mnist-sample.npz"


def mnist_file() -> Path:
    env = os.environ.get("MNIST_NPZ")
    return Path(env) if env and Path(env).is_file() else SAMPLE


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    return mnist_file()


@pytest.fixture(scope="session")
def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits (28x28 uint8, white on black) and labels, from the shipped sample."""
    with np.load(SAMPLE) as d:
        return d["x_test"], d["y_test"]


def dark_on_light(digit: np.ndarray, size: int = 56) -> Image.Image:
    """The seed's kind of input: a dark digit on white paper."""
    return Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR)


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real ``digitwatch`` command."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Daemon:
    """A real ``digitwatch run`` process on folders under ``root``."""

    def __init__(self, root: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.inbox, self.outbox = root / "inbox", root / "outbox"
        self.archive, self.failed, self.checkpoint = root / "archive", root / "failed", root / "checkpoints"
        self.extra = extra
        self.env = env or {}
        self.log_path = root / "daemon.log"
        self.proc: subprocess.Popen | None = None
        self.popen_kwargs: dict = {}  # e.g. user/group, to run the daemon unprivileged
        self.inbox.mkdir(parents=True, exist_ok=True)

    def start(self, wait_ready: bool = True, timeout: float = 60) -> Daemon:
        args = [
            sys.executable,
            "-m",
            "digitwatch.daemon",
            "run",
            "--inbox",
            str(self.inbox),
            "--outbox",
            str(self.outbox),
            "--archive",
            str(self.archive),
            "--failed",
            str(self.failed),
            "--checkpoint",
            str(self.checkpoint),
            "--log-format",
            "json",
            "--settle-ms",
            "200",
            *self.extra,
        ]
        env = {**os.environ, **self.env}
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            args, cwd=self.root, env=env, stdout=self._log, stderr=self._log, **self.popen_kwargs
        )
        if wait_ready:
            self.wait_event("ready", timeout)
        return self

    def events(self) -> list[dict]:
        out = []
        with open(self.log_path, "rb") as fh:
            fh.seek(getattr(self, "_log_offset", 0))
            for line in fh:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def wait_event(self, name: str, timeout: float = 60, count: int = 1) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e.get("event") == name]
            if len(found) >= count:
                return found[-1]
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before '{name}':\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"no '{name}' event within {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)
        self._log.close()

    def rows(self) -> list[dict]:
        return read_rows(self.outbox)

    def wait_rows(self, n: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows()
            if len(rows) >= n:
                return rows
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"{len(self.rows())} of {n} rows after {timeout}s:\n{self.tail()}")


def read_rows(outbox: Path) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(str(outbox / "*.csv"))):
        with open(path, newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


@pytest.fixture
def daemon_factory(tmp_path: Path):
    started: list[Daemon] = []

    def make(*extra: str, root: Path | None = None, env: dict[str, str] | None = None) -> Daemon:
        d = Daemon(root or tmp_path, *extra, env=env)
        started.append(d)
        return d

    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(30)
