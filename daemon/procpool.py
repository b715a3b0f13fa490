"""Worker processes that run one task each at a time, under a deadline.

A task that runs past its deadline has its process killed and replaced; the
other processes keep their tasks. Why not ProcessPoolExecutor: it cannot cancel
a running task, and a process killed under it breaks the whole executor
(BrokenProcessPool: every task in flight is lost and every process restarts).
Here each process has its own pipe, so the parent knows which task each one
holds: a deadline or a crash costs that one task, nothing else.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

READY = "ready"  # a new process's first message: imports done, deadlines may start
DONE = "done"  # tags a result (which may itself be None)
TICK_S = 0.5  # longest wait without looking at the processes (deadlines are also waited for exactly)
MAX_FAILED_STARTS = 3  # processes that died before READY in a row: they cannot start, stop trying
STOP_WAIT_S = 5.0  # a process asked to exit gets this long before it is killed
PIPELINE = 4  # tasks queued per process, so it never waits for the parent (busy with the network) between files


class PoolError(RuntimeError):
    """The worker processes cannot start (a broken installation): not one file's fault."""


@dataclass(frozen=True)
class Failure:
    """What became of a task that gave no result."""

    kind: str  # "timeout" (killed at its deadline) or "crash" (its process died, twice)


@dataclass
class _Slot:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    tasks: deque[int] = field(default_factory=deque)  # indexes sent, in order: the first is running
    deadline: float = 0.0  # the running task's


def bind_to_parent(parent: int) -> None:
    """Die with the daemon, leave Ctrl-C to it. After a kill -9 of the daemon its workers would
    otherwise live on as orphans."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the check below still catches a parent that is already gone
    if os.getppid() != parent:
        os._exit(0)
    # Ctrl-C reaches the whole process group; stopping the workers is the daemon's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve(conn: Connection, fn: Callable[..., Any], parent: int) -> None:
    """A worker process: run ``fn`` on each task received, send back its result, until told to stop."""
    bind_to_parent(parent)
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send((DONE, fn(*task)))


class DeadlinePool:
    def __init__(self, workers: int, fn: Callable[..., Any], timeout_s: float) -> None:
        self.fn, self.timeout_s = fn, timeout_s
        # spawn, not fork: forking a process that has TensorFlow's threads running is unsafe.
        self._ctx = multiprocessing.get_context("spawn")
        self._processes: dict[int, _Slot] = {}  # by pid
        self._lock = threading.Lock()  # one batch at a time; wait_ready may run beside it
        self._warm = threading.Event()
        self._failed_starts = 0
        for _ in range(workers):
            self._spawn()

    def pids(self) -> list[int]:
        return list(self._processes)

    def _spawn(self) -> None:
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(target=_serve, args=(theirs, self.fn, os.getpid()), daemon=True)
        process.start()
        theirs.close()
        assert process.pid is not None
        self._processes[process.pid] = _Slot(process, ours)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every process has started once (so the daemon's READY means ready)."""
        deadline = time.monotonic() + timeout
        while not self._warm.is_set():
            if time.monotonic() > deadline:
                raise PoolError(f"worker processes not started within {timeout:g} s")
            if self._lock.acquire(timeout=TICK_S):  # else a batch is running: it sets _warm
                try:
                    self._wait()
                    self._look(deque(), [], set(), lambda: None)
                finally:
                    self._lock.release()

    def run(self, tasks: Sequence[tuple[Any, ...]], on_done: Callable[[], None] = lambda: None) -> list[Any | Failure]:
        """``fn(*task)`` for every task, in order; a :class:`Failure` where there is no result.

        ``on_done`` is called as each task ends (result, deadline or crash): progress, for liveness."""
        results: list[Any] = [None] * len(tasks)
        todo = deque(range(len(tasks)))
        crashed: set[int] = set()  # tasks whose process died once: retried once on a new process
        with self._lock:
            while todo or any(s.tasks for s in self._processes.values()):
                self._assign(todo, tasks)
                self._wait()
                results = self._look(todo, results, crashed, on_done)
        return results

    def _assign(self, todo: deque[int], tasks: Sequence[tuple[Any, ...]]) -> None:
        for slot in list(self._processes.values()):
            while todo and slot.ready and len(slot.tasks) < PIPELINE:
                index = todo.popleft()
                try:
                    slot.conn.send(tasks[index])
                except OSError:  # died: this task never reached it, the ones it holds go back too
                    todo.appendleft(index)
                    self._requeue(slot, todo, 0)
                    self._replace(slot)
                    break
                if not slot.tasks:
                    slot.deadline = time.monotonic() + self.timeout_s
                slot.tasks.append(index)

    def _requeue(self, slot: _Slot, todo: deque[int], keep: int) -> None:
        """Put back at the front of ``todo``, in order, the tasks ``slot`` holds past its first ``keep``."""
        while len(slot.tasks) > keep:
            todo.appendleft(slot.tasks.pop())

    def _wait(self) -> None:
        slots = list(self._processes.values())
        deadlines = [s.deadline for s in slots if s.tasks]
        timeout = min([TICK_S, *(d - time.monotonic() for d in deadlines)])
        wait([s.conn for s in slots] + [s.process.sentinel for s in slots], max(0.0, timeout))

    def _look(self, todo: deque[int], results: list[Any], crashed: set[int], on_done: Callable[[], None]) -> list[Any]:
        """Take what each process sent, replace the dead and the late; returns ``results`` filled in."""
        for slot in list(self._processes.values()):
            received, dead = 0, False
            try:
                while slot.conn.poll():
                    message = slot.conn.recv()
                    received += 1
                    if message == READY:
                        slot.ready, self._failed_starts = True, 0
                    elif isinstance(message, tuple) and slot.tasks:
                        results[slot.tasks.popleft()] = message[1]
                        slot.deadline = time.monotonic() + self.timeout_s  # the next one starts now
                        on_done()
            except (EOFError, OSError):
                dead = True
            if dead or (not received and not slot.process.is_alive()):
                self._died(slot, todo, results, crashed, on_done)
            elif slot.tasks and time.monotonic() > slot.deadline:
                results[slot.tasks.popleft()] = Failure("timeout")
                self._requeue(slot, todo, 0)
                self._replace(slot)
                on_done()
        if all(s.ready for s in self._processes.values()):
            self._warm.set()
        return results

    def _died(
        self, slot: _Slot, todo: deque[int], results: list[Any], crashed: set[int], on_done: Callable[[], None]
    ) -> None:
        index = slot.tasks[0] if slot.tasks else None
        self._requeue(slot, todo, 1)  # the ones queued behind it never started: not their fault
        if not slot.ready:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                raise PoolError(f"worker processes die before starting (exit code {slot.process.exitcode})")
        self._replace(slot)
        if index is None:
            return
        if index in crashed:
            results[index] = Failure("crash")
            on_done()
        else:  # perhaps not the task's fault (a process killed from outside): once more on a new process
            crashed.add(index)
            todo.appendleft(index)

    def _replace(self, slot: _Slot) -> None:
        slot.process.kill()
        slot.process.join(STOP_WAIT_S)
        slot.conn.close()
        self._processes.pop(slot.process.pid or -1, None)
        self._spawn()

    def close(self) -> None:
        with self._lock:
            for slot in self._processes.values():
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
            for slot in self._processes.values():
                slot.process.join(STOP_WAIT_S)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(STOP_WAIT_S)
                slot.conn.close()
            self._processes.clear()
