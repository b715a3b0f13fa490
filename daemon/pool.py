"""Read, decode and preprocess files in parallel: worker processes, or threads.

Preprocessing is many small numpy/scipy calls that hold the GIL, so threads
barely overlap; worker processes use every core (measured in README,
Performance). Processes also contain the damage of a decoder that crashes on
a hostile file: the pool is rebuilt, the batch is retried file by file, and
the one file that kills a worker gets an ``error`` row.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from . import log
from .recognize import Limits, Prepared, prepare

CHUNK = 16


def _warm() -> None:
    """A first task for each worker, so start-up is paid before the first batch."""


def _bind_to_parent(parent: int) -> None:
    """Worker initializer: die with the daemon, leave Ctrl-C to it. After a kill -9 of the daemon its workers would
    otherwise live on as orphans (the executor cannot tell them to stop)."""
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the check below still catches a parent that is already gone
    if os.getppid() != parent:
        os._exit(0)
    # Ctrl-C reaches the whole process group; shutting the pool down is the daemon's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PreparePool:
    def __init__(self, workers: int, processes: bool) -> None:
        self.workers = workers
        self.processes = processes and workers > 1
        self._executor = self._new()
        self._log = log.get("digitwatch.pool")

    def _new(self) -> Executor:
        if self.processes:
            # spawn, not fork: forking a process that has TensorFlow's threads running is unsafe.
            ctx = multiprocessing.get_context("spawn")
            executor: Executor = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_bind_to_parent, initargs=(os.getpid(),)
            )
            self._warming = [executor.submit(_warm) for _ in range(self.workers)]
            return executor
        return ThreadPoolExecutor(self.workers, thread_name_prefix="prepare")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every worker process has started (so READY means ready)."""
        for future in getattr(self, "_warming", []):
            future.result(timeout)

    def prepare(self, paths: list[Path], limits: Limits) -> list[Prepared]:
        """One Prepared per path, in order; never raises for a bad file."""
        if len(paths) < 2 and not self.processes:
            return [prepare(p, limits) for p in paths]
        try:
            return list(
                self._executor.map(prepare, paths, [limits] * len(paths), chunksize=CHUNK if self.processes else 1)
            )
        except BrokenProcessPool:
            self._log.error("prepare_worker_died", files=len(paths))
            self._restart()
            return [self._one(p, limits) for p in paths]

    def _one(self, path: Path, limits: Limits) -> Prepared:
        try:
            return self._executor.submit(prepare, path, limits).result()
        except BrokenProcessPool:
            self._restart()
            return Prepared("", None, error="the image decoder crashed on this file")

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
