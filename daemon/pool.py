"""Read, decode and preprocess files in parallel: worker processes, or threads.

Preprocessing is many small numpy/scipy calls that hold the GIL, so threads
barely overlap; worker processes use every core (measured in README,
Performance). Processes also contain the damage of a hostile file: one that
runs past the per-file deadline (config: file_timeout_s) has its process killed
and replaced, and gets an ``error`` row; one that crashes its process is tried
once more on a new one, then gets an ``error`` row. The other files of the
batch keep their processes and get their rows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import log
from .procpool import DeadlinePool, Failure
from .recognize import Limits, Prepared, prepare

DEFAULT_TIMEOUT_S = 10.0  # config: file_timeout_s


def _nothing() -> None:
    """No one to tell about progress."""


class PreparePool:
    def __init__(self, workers: int, processes: bool, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.workers, self.processes, self.timeout_s = workers, processes, timeout_s
        self._executor: DeadlinePool | ThreadPoolExecutor = (
            DeadlinePool(workers, prepare, timeout_s)
            if processes
            else ThreadPoolExecutor(workers, thread_name_prefix="prepare")
        )
        self._log = log.get("digitwatch.pool")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every worker process has started (so READY means ready)."""
        if isinstance(self._executor, DeadlinePool):
            self._executor.wait_ready(timeout)

    def prepare(self, paths: list[Path], limits: Limits, progress: Callable[[], None] = _nothing) -> list[Prepared]:
        """One Prepared per path, in order; never raises for a bad file. ``progress`` is called as
        each file is done (the worker's heartbeat: a long batch is not a stuck daemon)."""
        executor = self._executor
        if isinstance(executor, DeadlinePool):
            outcomes = executor.run([(p, limits) for p in paths], progress)
            return [self._failed(p, o) if isinstance(o, Failure) else o for p, o in zip(paths, outcomes)]
        if len(paths) < 2:
            out = []
            for p in paths:
                out.append(prepare(p, limits))
                progress()
            return out
        futures = [executor.submit(prepare, p, limits) for p in paths]
        for _ in as_completed(futures):
            progress()
        return [f.result() for f in futures]

    def _failed(self, path: Path, failure: Failure) -> Prepared:
        if failure.kind == "timeout":
            self._log.error("prepare_timed_out", file=str(path), timeout_s=self.timeout_s)
            return Prepared("", None, error=f"timed out after {self.timeout_s:g} s")
        self._log.error("prepare_worker_died", file=str(path))
        return Prepared("", None, error="the image decoder crashed on this file")

    def close(self) -> None:
        if isinstance(self._executor, DeadlinePool):
            self._executor.close()
        else:
            self._executor.shutdown(wait=True, cancel_futures=True)
