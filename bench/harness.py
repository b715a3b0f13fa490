"""The one harness for driving a real ``digitwatch run`` process: used by the tests (tests/conftest.py),
the benchmark (bench/bench.py) and the soak (bench/soak.py). Also the one place that says where MNIST is.

Not part of the installed package: the bench scripts import it as a sibling module, the tests through
a path insert in tests/conftest.py.

    from harness import Daemon, mnist_file
    d = Daemon(root, "--max-batch", "32").start()   # folders under root; waits for "ready"
    d.wait_event("batch", count=3)                   # JSON log events of this run of the process
    d.wait_rows(100); d.stop()                       # rows read from the outbox's CSV files
"""

from __future__ import annotations

import atexit
import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "mnist-sample.npz"  # first 4,000 train and 1,000 test digits of MNIST
SHARED = REPO.parent / "shared" / "data" / "mnist.npz"  # the full archive, when it sits beside the checkout


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------


def mnist_file() -> Path:
    """The MNIST archive to use: ``$MNIST_NPZ``, else ``../shared/data/mnist.npz`` beside the repository,
    else the sample shipped with the tests (tests/data/mnist-sample.npz)."""
    from digitwatch.training.data import default_mnist_path  # the one lookup, shared with training's tools

    return default_mnist_path()


def load_test_digits(path: Path | None = None) -> tuple[Any, Any]:
    """MNIST test digits (N, 28, 28) uint8, white on black, and their labels (int64) from ``path``
    (default: the shipped sample, so that tests see the same digits on every machine)."""
    import numpy as np

    with np.load(path or SAMPLE) as data:
        return data["x_test"], data["y_test"].astype(np.int64)


# --------------------------------------------------------------------------
# Processes (from /proc)
# --------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (state, ppid, ...); empty if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()
    except OSError:
        return []


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    return stat_fields(pid)[:1] not in ([], ["Z"])


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (e.g. the daemon's decode worker processes)."""
    children: dict[int, list[int]] = {}
    with os.scandir("/proc") as it:
        pids = [int(e.name) for e in it if e.name.isdigit()]
    for p in pids:
        fields = stat_fields(p)
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(p)
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MB (empty if the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024.0  # kB -> MB
    except OSError:
        pass
    return out


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


# --------------------------------------------------------------------------
# Outbox
# --------------------------------------------------------------------------


def read_rows(outbox: Path) -> list[dict[str, str]]:
    """Every row of every published CSV results file in ``outbox`` (temporary files start with a dot)."""
    rows: list[dict[str, str]] = []
    for path in sorted(glob.glob(str(outbox / "*.csv"))):
        with open(path, newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------


class DaemonError(AssertionError):
    """The daemon exited, or what was waited for did not come in time (an AssertionError, so a test fails)."""


def module_command(python: str | None = None) -> list[str]:
    """``python -m digitwatch.daemon`` (this interpreter by default)."""
    return [python or sys.executable, "-m", "digitwatch.daemon"]


class Daemon:
    """A real ``digitwatch run`` process on folders under ``root``; its JSON log goes to ``log_path``.

    ``popen_kwargs`` are passed to subprocess.Popen (e.g. user/group: see :meth:`run_as`); ``command``
    is how the daemon is invoked (default ``python -m digitwatch.daemon``; the bench uses the installed
    script). Each :meth:`start` appends to the same log; :meth:`events` reads the events of the latest
    start, ``events(all_runs=True)`` those of every start.
    """

    def __init__(
        self,
        root: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        command: list[str] | None = None,
        settle_ms: int | None = 200,
    ) -> None:
        self.root = root
        self.inbox, self.outbox = root / "inbox", root / "outbox"
        self.archive, self.failed, self.checkpoint = root / "archive", root / "failed", root / "checkpoints"
        self.extra = extra
        self.env = env or {}
        self.log_path = log_path or root / "daemon.log"
        self.command = command or module_command()
        self.settle_ms = settle_ms
        self.proc: subprocess.Popen[bytes] | None = None
        self.popen_kwargs: dict[str, Any] = {}  # e.g. user/group, to run the daemon unprivileged
        self.spawned_at = 0.0  # time.perf_counter() at the latest spawn
        self.leftovers: list[int] = []  # child processes still running after the daemon exited (then ended)
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self.inbox.mkdir(parents=True, exist_ok=True)

    # -- process ---------------------------------------------------------

    @property
    def state(self) -> Path:
        """The daemon's state folder (journal, work folders, status.json) where its default puts it:
        ``<inbox parent>/.digitwatch-state/<inbox name>`` (tests that pass ``--state-dir`` know their own)."""
        inbox = Path(os.path.realpath(self.inbox))
        return inbox.parent / ".digitwatch-state" / inbox.name

    def args(self) -> list[str]:
        """The command line of ``digitwatch run`` (``extra`` last, so it overrides the defaults)."""
        args = [*self.command, "run"]
        for flag, folder in (
            ("--inbox", self.inbox),
            ("--outbox", self.outbox),
            ("--archive", self.archive),
            ("--failed", self.failed),
            ("--checkpoint", self.checkpoint),
        ):
            args += [flag, str(folder)]
        args += ["--log-format", "json"]
        if self.settle_ms is not None:
            args += ["--settle-ms", str(self.settle_ms)]
        return [*args, *self.extra]

    def start(self, wait_ready: bool = True, timeout: float = 60) -> Daemon:
        """Spawn the daemon; wait for its "ready" event unless ``wait_ready`` is false."""
        env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **self.env}
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the daemon writes to it until stop/kill
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args(), cwd=self.root, env=env, stdout=self._log, stderr=self._log, **self.popen_kwargs
        )
        if wait_ready:
            self.wait_event("ready", timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30, force: bool = False) -> int:
        """Send ``sig`` and wait for the exit code. If it does not exit within ``timeout``: SIGKILL it,
        then return the code when ``force``, else raise DaemonError. Child processes that outlive the
        daemon by 2 s are noted in ``leftovers`` and ended (by pid)."""
        assert self.proc is not None, "not started"
        children = process_tree(self.proc.pid)[1:] if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
            hung = False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code, hung = self.proc.wait(), True
        self._close_log()
        self._end_leftovers(children)
        if hung and not force:
            raise DaemonError(f"daemon did not stop within {timeout}s of {signal.Signals(sig).name}:\n{self.tail()}")
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        assert self.proc is not None, "not started"
        self.proc.kill()
        self.proc.wait(30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _end_leftovers(self, children: list[int]) -> None:
        deadline = time.monotonic() + 2.0  # time for children to notice their parent is gone
        while True:
            self.leftovers = [p for p in children if running(p)]
            if not self.leftovers or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for p in self.leftovers:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run_as(self, uid: int, gid: int, python: str) -> Daemon:
        """Run the daemon as ``uid``/``gid`` with ``python`` (see :func:`python_for`): the folders under
        ``root`` are made theirs. ``root``'s parents must let that user through."""
        self.popen_kwargs.update(user=uid, group=gid, extra_groups=[])
        self.command = module_command(python)
        self.env.setdefault("HOME", str(self.root))
        for folder in (self.root, self.inbox, self.outbox, self.archive, self.failed, self.checkpoint):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, gid)
        return self

    # -- log ---------------------------------------------------------------

    def events(self, name: str | None = None, all_runs: bool = False) -> list[dict[str, Any]]:
        """JSON log events of the latest start (of every start with ``all_runs``); only ``name`` if given."""
        out: list[dict[str, Any]] = []
        if not self.log_path.exists():
            return out
        with open(self.log_path, "rb") as fh:
            fh.seek(0 if all_runs else self._log_offset)
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and (name is None or event.get("event") == name):
                    out.append(event)
        return out

    def wait_event(self, name: str, timeout: float = 60, count: int = 1) -> dict[str, Any]:
        """Wait until ``count`` events ``name`` were logged since the latest start; return the last one.
        DaemonError if the daemon exits first or they do not come within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found[-1]
            if self.proc is not None and self.proc.poll() is not None:
                raise DaemonError(f"daemon exited ({self.proc.returncode}) before '{name}':\n{self.tail()}")
            time.sleep(0.05)
        raise DaemonError(f"no '{name}' event (x{count}) within {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the log, for error messages."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    # -- outbox ------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        return read_rows(self.outbox)

    def wait_rows(self, n: int, timeout: float = 60) -> list[dict[str, str]]:
        """Wait until the outbox holds at least ``n`` rows; DaemonError if the daemon exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows()
            if len(rows) >= n:
                return rows
            if self.proc is not None and self.proc.poll() is not None:
                raise DaemonError(f"daemon exited ({self.proc.returncode}):\n{self.tail()}")
            time.sleep(0.05)
        raise DaemonError(f"{len(self.rows())} of {n} rows after {timeout}s:\n{self.tail()}")


# --------------------------------------------------------------------------
# Running the daemon as another user
# --------------------------------------------------------------------------

_PYTHON_FOR: dict[tuple[int, int], str] = {}


def _runs_as(python: str, uid: int, gid: int, code: str) -> bool:
    try:
        r = subprocess.run(
            [python, "-c", code],
            check=False,
            user=uid,
            group=gid,
            extra_groups=[],
            cwd="/",
            capture_output=True,
            timeout=60,
        )
    except OSError:  # not executable by that user (a folder on the way is closed to them)
        return False
    return r.returncode == 0


def python_for(uid: int, gid: int) -> str:
    """An interpreter that ``uid``/``gid`` can run and that imports this checkout's digitwatch.

    This interpreter when that user can reach it. Otherwise (e.g. a pyenv Python under /root, mode
    0700) a throwaway virtual environment (removed at exit) on a system Python of the same version,
    whose site-packages adds ours - the same packages and code, another interpreter binary.
    DaemonError when there is none.
    """
    if (uid, gid) in _PYTHON_FOR:
        return _PYTHON_FOR[(uid, gid)]
    probe = "import digitwatch.daemon"
    if _runs_as(sys.executable, uid, gid, probe):
        _PYTHON_FOR[(uid, gid)] = sys.executable
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    candidates = [c for c in dict.fromkeys(candidates) if os.path.isfile(c) and os.access(c, os.X_OK)]
    site_dirs = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    for base in candidates:
        if not _runs_as(base, uid, gid, "0"):
            continue
        env_dir = Path(tempfile.mkdtemp(prefix="digitwatch-python-"))
        atexit.register(shutil.rmtree, env_dir, True)
        os.chmod(env_dir, 0o755)
        made = subprocess.run([base, "-m", "venv", "--without-pip", str(env_dir)], capture_output=True, check=False)
        if made.returncode != 0:
            continue
        (env_site,) = env_dir.glob("lib/python*/site-packages")
        lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in site_dirs)
        (env_site / "_digitwatch_checkout.pth").write_text(lines)
        python = str(env_dir / "bin" / "python")
        if _runs_as(python, uid, gid, probe):
            _PYTHON_FOR[(uid, gid)] = python
            return python
    raise DaemonError(
        f"no Python {version} that uid {uid} can run and that imports digitwatch "
        f"({sys.executable} is not reachable by that user; tried {candidates or 'no system Python'})"
    )
