"""Shared fixtures: MNIST, real digit images written by Pillow, and a handle on a real ``digitwatch run``
process. The process handle, the outbox reader and the MNIST lookup live in bench/harness.py, shared
with the benchmark and the soak.

tests/data/mnist-sample.npz holds the first 4,000 training and 1,000 test digits of the
standard MNIST archive, in the same format (made once with numpy.savez_compressed).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "bench"))

import harness  # noqa: E402
from harness import SAMPLE, Daemon, DaemonError, load_test_digits, mnist_file, read_rows  # noqa: E402

__all__ = ["HERE", "SAMPLE", "Daemon", "DaemonError", "cli", "dark_on_light", "mnist_file", "read_rows"]


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """$MNIST_NPZ, else ../shared/data/mnist.npz, else the shipped sample (harness.mnist_file)."""
    return mnist_file()


@pytest.fixture(scope="session")
def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits (28x28 uint8, white on black) and labels, from the shipped sample."""
    return load_test_digits(SAMPLE)


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


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[DaemonFactory]:
    """``make(*extra, root=tmp_path, env=None, log_path=None) -> Daemon`` (not started); every daemon
    made is killed at the end of the test if still running."""
    started: list[Daemon] = []

    def make(
        *extra: str, root: Path | None = None, env: dict[str, str] | None = None, log_path: Path | None = None
    ) -> Daemon:
        d = Daemon(root or tmp_path, *extra, env=env, log_path=log_path)
        started.append(d)
        return d

    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(30)


UNPRIVILEGED_USER = "nobody"


@pytest.fixture
def unprivileged_daemon(daemon_factory: DaemonFactory) -> Iterator[DaemonFactory]:
    """Like ``daemon_factory``, but the daemon runs as an ordinary user, so permission bits bind it:
    as ``nobody`` (group ``nogroup``, else nobody's own) when the tests run as root, with its folders
    in a temporary tree that user owns; as the current user otherwise."""
    if os.geteuid() != 0:
        yield daemon_factory
        return
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no '{UNPRIVILEGED_USER}' user to run the daemon as")
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        gid = user.pw_gid
    try:
        python = harness.python_for(user.pw_uid, gid)
    except DaemonError as exc:
        pytest.skip(f"cannot run the daemon as {UNPRIVILEGED_USER}: {exc}")
    # tmp_path lies under /tmp/pytest-of-root (0700): the tree goes beside it, open to that user.
    base = Path(tempfile.mkdtemp(prefix="digitwatch-unprivileged-"))
    os.chmod(base, 0o755)

    def make(*extra: str, env: dict[str, str] | None = None) -> Daemon:
        root = Path(tempfile.mkdtemp(dir=base))
        os.chmod(root, 0o755)
        return daemon_factory(*extra, root=root, env=env).run_as(user.pw_uid, gid, python)

    try:
        yield make
    finally:
        shutil.rmtree(base, ignore_errors=True)
