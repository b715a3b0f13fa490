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


# Tests of rules removed by the ablation of issue 28 (docs/ablation.md): none of these rules read a
# picture of real handwriting (USPS, Semeion, UCI) or a tests/data photo or scan better, so their code
# went; the synthetic scenes that only they read are expected to fail (not strict: a scene the
# remaining stages read again passes).
DESK = "grain search, faint pieces off a grainy sheet, edge huggers"
REMOVED_RULES: dict[str, str] = {
    "test_recognition.py::test_realistic_scenes[vignetted-scan-corner]": "edge huggers",
    "test_photos.py::test_phone_photo_of_a_sheet_on_a_grainy_desk_as_light_as_the_sheet": "grain search",
    "test_photos.py::test_sheet_filling_the_photo_with_a_grainy_desk_along_its_edges[a-little-darker]": "grain search",
    "test_photos.py::test_sheet_filling_the_photo_with_a_grainy_desk_along_its_edges[lighter]": "grain search",
    "test_photos.py::test_many_photos_of_a_sheet_on_a_grainy_or_light_desk[grainy-desk]": "grain search",
    "test_photos.py::test_photo_of_a_blank_sheet_on_a_desk_is_no_digit[grainy-desk]": DESK,
    "test_photos.py::test_photo_of_a_blank_sheet_on_a_desk_is_no_digit[light-desk-deep-side-shadow]": DESK,
    "test_photos.py::test_photo_of_a_blank_sheet_on_a_desk_is_no_digit[sheet-half-in-shadow]": DESK,
    "test_photos.py::test_small_digit_on_a_sheet_half_in_shadow": DESK,
    "test_photos.py::test_many_thin_digits_on_sheets_in_a_phones_shadow": "fine-window retry",
    "test_photos.py::test_thin_digits_across_a_hard_edged_shadow": "fine-window retry",
    "test_photos.py::test_faint_digits_on_sheets_in_a_phones_shadow[pale-pen]": "fine-window retry",
    "test_photos.py::test_faint_digits_on_sheets_in_a_phones_shadow[light-falling-off-steeply]": "fine-window retry",
    "test_photos.py::test_small_thin_digit_on_a_photographed_page": "fine-window retry",
    "test_photos.py::test_digit_running_off_the_frame_keeps_the_piece_along_it": "pieces cut by the frame",
    "test_styles.py::test_digits_on_stationery[notebook]": "printed lines and boxes",
    "test_styles.py::test_digits_on_stationery[photocopied-ruling]": "printed lines and boxes",
    "test_styles.py::test_digits_on_stationery[form-box]": "printed lines and boxes",
    "test_styles.py::test_digits_on_stationery[form-box-touched]": "printed lines and boxes",
    "test_styles.py::test_marks_drawn_around_the_digit[thin-pen-1000px-box]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[thin-pen-1000px-ring]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[thin-pen-1000px-underline]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[pen-400px-box]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[pen-400px-dot]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[pen-400px-ring]": "marks round the digit",
    "test_styles.py::test_marks_drawn_around_the_digit[pen-400px-underline]": "marks round the digit",
    "test_styles.py::test_rings_drawn_round_the_digit_touching_it": "rings touching the digit",
    "test_styles.py::test_lines_drawn_under_the_digit_close_to_it": "lines under the digit, touching",
    "test_styles.py::test_digit_written_on_a_printed_page": "print blocks",
    "test_styles.py::test_printed_page_without_a_digit_is_no_digit": "print blocks",
}


def pytest_collection_modifyitems(items: list) -> None:
    import pytest

    for item in items:
        name = item.nodeid.split("/")[-1]
        rule = REMOVED_RULES.get(name)
        if rule:
            item.add_marker(pytest.mark.xfail(reason=f"rule removed by the ablation (docs/ablation.md): {rule}"))
