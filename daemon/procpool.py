"""Worker processes that run tasks in chunks, each task under its own deadline.

A task that runs past its deadline has its process killed and replaced; the
other processes keep their tasks. Why not ProcessPoolExecutor: it cannot cancel
a running task, and a process killed under it breaks the whole executor
(BrokenProcessPool: every task in flight is lost and every process restarts).
Here each process has its own pipe, so the parent knows which tasks each one
holds: a deadline or a crash costs that one task, nothing else.

A pipe message costs ~40 us of CPU at each end, so tasks go out in chunks (up
to CHUNK a message) and results come back a chunk at a time (sooner past
FLUSH_S). Each process stamps each task's start and end in shared memory: the
parent reads there, without a message, which task runs since when (its deadline)
and which have ended (``on_done``). A process that dies or is killed loses the
results it had not sent: those tasks run again, unblamed; only the running one is.
"""

from __future__ import annotations

import ctypes
import gc
import math
import multiprocessing
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

READY = "ready"  # a new process's first message: imports done, deadlines may start
DONE = "done"  # tags a list of results: those of the first tasks the process holds, in order
TICK_S = 0.5  # longest wait without looking at the processes (deadlines are also waited for exactly)
MAX_FAILED_STARTS = 3  # processes that died before READY in a row: they cannot start, stop trying
STOP_WAIT_S = 5.0  # a process asked to exit gets this long before it is killed
CHUNK = 16  # most tasks in one message: past that the message's cost is small, and the split gets uneven
HOLD = 2 * CHUNK  # most tasks a process holds: a chunk to run and the next, so it never waits for the parent
FLUSH_S = 0.05  # results go back once the first unsent one's task started this long ago: what a death can waste
STEP_BITS = 8  # a step is stamped modulo 2**8 (never 2 * HOLD ahead of the parent's count), the time in us above
STEP_MASK = (1 << STEP_BITS) - 1


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
    progress: ctypes.c_uint64  # shared: its last step and when it took it (see _step)
    ready: bool = False
    tasks: deque[int] = field(default_factory=deque)  # indexes sent, in order, whose results are not in
    base: int = 0  # tasks whose results are in, since the process started
    sent: float = 0.0  # when it was last sent tasks: one it has not started yet is late from then


@dataclass
class _Batch:
    """One call of :meth:`DeadlinePool.run`."""

    tasks: Sequence[tuple[Any, ...]]
    on_done: Callable[[], None]
    results: list[Any]
    todo: deque[int]  # indexes not sent, or sent back
    crashed: set[int] = field(default_factory=set)  # whose process died once: retried once on a new process
    told: set[int] = field(default_factory=set)  # ended (perhaps to be run again): on_done was called

    def tell(self, index: int) -> None:
        if index not in self.told:
            self.told.add(index)
            self.on_done()

    def end(self, index: int, outcome: Any) -> None:
        self.results[index] = outcome
        self.tell(index)


def _readable(items: list[Any], timeout: float = 0.0) -> bool:
    """Whether a pipe or process sentinel of ``items`` is readable (or closed), waiting up to ``timeout``:
    multiprocessing's wait() and poll() build a selector each call, ~2 us."""
    poller = select.poll()
    for item in items:
        poller.register(item, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def bind_to_parent(parent: int) -> None:
    """Die with the daemon, leave Ctrl-C to it. After a kill -9 of the daemon its workers would
    otherwise live on as orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the check below still catches a parent that is already gone
    if os.getppid() != parent:
        os._exit(0)
    # Ctrl-C reaches the whole process group; stopping the workers is the daemon's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _step(progress: ctypes.c_uint64, step: int) -> float:
    """Stamp ``step`` (2n+1: the process's task n starts, 2n+2: it ends) with the time, in us."""
    now = time.monotonic()
    progress.value = int(now * 1e6) << STEP_BITS | step & STEP_MASK  # one store: no step is read with another's time
    return now


def _serve(conn: Connection, fn: Callable[..., Any], parent: int, progress: ctypes.c_uint64) -> None:
    """A worker process: run ``fn`` on each task of each chunk received, send back the results."""
    bind_to_parent(parent)
    gc.freeze()  # (the imports stay: the collector need not walk them again after every few hundred allocations)
    conn.send(READY)
    step, unsent_since = 0, 0.0
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        results: list[Any] = []
        for i, task in enumerate(chunk):
            started = _step(progress, step + 1)
            unsent_since = unsent_since if results else started
            results.append(fn(*task))
            step += 2
            if _step(progress, step) - unsent_since >= FLUSH_S or i == len(chunk) - 1:
                conn.send((DONE, results))
                results = []


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
        progress = self._ctx.RawValue(ctypes.c_uint64)
        process = self._ctx.Process(target=_serve, args=(theirs, self.fn, os.getpid(), progress), daemon=True)
        process.start()
        theirs.close()
        assert process.pid is not None
        self._processes[process.pid] = _Slot(process, ours, progress)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every process has started once (so the daemon's READY means ready)."""
        deadline = time.monotonic() + timeout
        while not self._warm.is_set():
            if time.monotonic() > deadline:
                raise PoolError(f"worker processes not started within {timeout:g} s")
            if self._lock.acquire(timeout=TICK_S):  # else a batch is running: it sets _warm
                try:
                    self._wait()
                    self._look(_Batch([], lambda: None, [], deque()))
                finally:
                    self._lock.release()

    def run(self, tasks: Sequence[tuple[Any, ...]], on_done: Callable[[], None] = lambda: None) -> list[Any | Failure]:
        """``fn(*task)`` for every task, in order; a :class:`Failure` where there is no result.

        ``on_done`` is called once a task as it ends (result, deadline or crash; seen within TICK_S):
        progress, for liveness."""
        batch = _Batch(tasks, on_done, [None] * len(tasks), deque(range(len(tasks))))
        with self._lock:
            while batch.todo or any(s.tasks for s in self._processes.values()):
                self._assign(batch)
                self._wait()
                self._look(batch)
        return batch.results

    def _assign(self, batch: _Batch) -> None:
        """Deal chunks round the processes, sized to split what is left evenly (two chunks each)."""
        open_ = [s for s in self._processes.values() if s.ready]
        while batch.todo and open_:
            for slot in list(open_):
                size = min(CHUNK, -(-len(batch.todo) // (2 * len(self._processes))))
                if not size or len(slot.tasks) + size > HOLD:
                    open_.remove(slot)
                    continue
                chunk = [batch.todo.popleft() for _ in range(size)]
                try:
                    slot.conn.send([batch.tasks[index] for index in chunk])
                except OSError:  # it died: this chunk never reached it; _look blames as for any death
                    batch.todo.extendleft(reversed(chunk))
                    open_.remove(slot)
                    continue
                slot.tasks.extend(chunk)
                slot.sent = time.monotonic()

    def _progress(self, slot: _Slot) -> tuple[int, float]:
        """How many of the tasks ``slot`` holds have ended, and the deadline of the next (inf if none)."""
        word = slot.progress.value
        steps = (word - 2 * slot.base) & STEP_MASK  # since the last task whose result is in
        ended = steps // 2
        if ended >= len(slot.tasks):
            return ended, math.inf
        since = (word >> STEP_BITS) / 1e6
        return ended, (since if steps % 2 else max(since, slot.sent)) + self.timeout_s

    def _wait(self) -> None:
        slots, now = list(self._processes.values()), time.monotonic()
        timeout = min([TICK_S, *(self._progress(s)[1] - now for s in slots)])
        _readable([s.conn for s in slots] + [s.process.sentinel for s in slots], max(0.0, timeout))

    def _look(self, batch: _Batch) -> None:
        """Take what each process sent and what it stamped, replace the dead and the late."""
        for slot in list(self._processes.values()):
            received, dead = 0, False
            try:
                while _readable([slot.conn]):
                    message = slot.conn.recv()
                    received += 1
                    if message == READY:
                        slot.ready, self._failed_starts = True, 0
                    else:
                        for result in message[1]:
                            batch.end(slot.tasks.popleft(), result)
                        slot.base += len(message[1])
            except (EOFError, OSError):
                dead = True
            ended, deadline = self._progress(slot)
            for index in islice(slot.tasks, ended):  # ended, result not sent yet
                batch.tell(index)
            if dead or (not received and not slot.process.is_alive()):
                self._died(slot, batch, ended)
            elif time.monotonic() > deadline:
                batch.end(slot.tasks[ended], Failure("timeout"))
                self._drop(slot, batch, ended)
        if all(s.ready for s in self._processes.values()):
            self._warm.set()

    def _died(self, slot: _Slot, batch: _Batch, ended: int) -> None:
        if not slot.ready:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                raise PoolError(f"worker processes die before starting (exit code {slot.process.exitcode})")
        # the task it ran or was to run; if it had ended them all, it died sending their results
        culprit = min(ended, len(slot.tasks) - 1)
        index = slot.tasks[culprit] if slot.tasks else None
        self._drop(slot, batch, culprit)
        if index is None:
            return
        if index in batch.crashed:
            batch.end(index, Failure("crash"))
        else:  # perhaps not the task's fault (a process killed from outside): once more on a new process
            batch.crashed.add(index)
            batch.todo.appendleft(index)

    def _drop(self, slot: _Slot, batch: _Batch, culprit: int) -> None:
        """Replace ``slot``'s process; the tasks it held but the ``culprit``th go back to the front
        of the queue, in order (those that had not started, and those whose results were not sent)."""
        batch.todo.extendleft(index for i, index in reversed(list(enumerate(slot.tasks))) if i != culprit)
        self._replace(slot)

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
