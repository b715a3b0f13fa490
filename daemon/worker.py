"""The worker: claim a batch, recognise it, publish results, then move the inputs.

Order matters for "nothing lost, nothing twice" (see journal.py): results are
durable in the outbox before an input leaves the work folder, and the journal
records each batch between the two steps. When the outbox or archive cannot
be written (disk full, permissions), the batch is retried with back-off while
its inputs stay claimed.
"""

from __future__ import annotations

import functools
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from . import log
from .archive import finish
from .attempts import Attempts
from .claim import Claimed, WorkArea
from .config import Config
from .failures import is_transient, reason
from .fsutil import fsync_dir, unlink
from .infer import Predictor
from .intake import Intake
from .journal import Batch, Journal, Move
from .outbox import batch_stem, write_temporary
from .pool import PreparePool
from .recognize import Limits, Prepared, classify
from .reload import ModelKeeper
from .results import Result, clean_text, exact_name, utc_now

MAX_LOGGED = 8  # file names listed in a batch_started event (a debug aid, not an inventory)
FIRST_BACKOFF_S = 0.5  # a lock or a burst of I/O errors often clears within a second
MAX_BACKOFF_S = 30.0  # a full disk is freed by a person: check twice a minute, log twice a minute
T = TypeVar("T")
# Told of each published batch: its rows' statuses, each file's seconds from arrival, the batch's seconds.
BatchHook = Callable[[list[str], list[float], float], None]


@dataclass
class Stats:
    done: int = 0
    failed: int = 0
    batches: int = 0
    last_error: str = ""
    last_error_at: str = ""
    last_batch: dict[str, object] = field(default_factory=dict)
    heartbeat: float = field(default_factory=time.monotonic)


class Worker:
    def __init__(
        self,
        cfg: Config,
        intake: Intake,
        work: WorkArea,
        journal: Journal,
        keeper: ModelKeeper,
        stop: threading.Event,
    ) -> None:
        self.cfg, self.intake, self.work, self.journal, self.keeper = cfg, intake, work, journal, keeper
        self.stop = stop
        self.stats = Stats()
        self.backlog: list[Claimed] = []  # adopted from a dead daemon; processed first
        self._limits = Limits.of(cfg)
        self._pool = PreparePool(cfg.decode_workers, cfg.decode_processes, cfg.file_timeout_s)
        self._attempts = Attempts(journal, cfg.max_attempts, cfg.max_batch)
        self._seq = 0
        self._ready: queue.Queue = queue.Queue(maxsize=1)  # prepared batches waiting for the publisher
        self._progress = threading.Condition()  # batches handed over and published, for _drain
        self._handed = self._published = 0
        self._arrived: dict[Path, float] = {}  # claimed path -> when its file arrived in the inbox (monotonic)
        self.on_batch: BatchHook | None = None  # the metrics
        self._log = log.get("digitwatch.worker")

    def run(self) -> None:
        """Two stages that overlap: this thread claims and prepares batch N+1 (in the pool's
        processes) while the publisher thread runs the network on batch N and publishes it."""
        publisher = threading.Thread(target=self._publish_loop, name="publisher", daemon=True)
        publisher.start()
        try:
            chunks = self._plan(self.backlog)
            for i, (chunk, alone) in enumerate(chunks):
                if self.stop.is_set():
                    break
                self.backlog = [c for later, _ in chunks[i + 1 :] for c in later]
                if alone:  # a suspect: nothing else in hand while it is, before or after
                    self._drain(publisher)
                self._process(publisher, chunk)
                if alone:
                    self._drain(publisher)
            while not self.stop.is_set():
                self.beat()
                paths = self.intake.take(self.cfg.max_batch, self.cfg.max_wait_ms / 1000, idle_timeout_s=0.5)
                if paths:
                    claims = [c for c in (self._claim(p) for p in paths) if c is not None]
                    self.intake.release(paths)
                    if claims:
                        self._sync_claims(paths)
                        self._process(publisher, claims)
        finally:
            while publisher.is_alive():  # tell it to finish what it has, unless it died
                try:
                    self._ready.put(None, timeout=0.5)
                    break
                except queue.Full:
                    continue
            publisher.join()
            self._pool.close()

    def _plan(self, backlog: list[Claimed]) -> list[tuple[list[Claimed], bool]]:
        """Batches for the adopted backlog (suspects alone); if the journal cannot say, all alone."""
        try:
            return self._attempts.plan(backlog)
        except (sqlite3.Error, OSError) as exc:
            self._error("attempts_unknown", files=len(backlog), reason=_reason("journal", exc))
            return [([c], True) for c in backlog]

    def _process(self, publisher: threading.Thread, claims: list[Claimed]) -> None:
        """Prepare claimed files and hand them to the publisher. Whatever goes wrong, each file gets a
        row (an error row if need be) and the worker lives on."""
        started = time.perf_counter()
        try:
            given_up = self._start_attempts(claims)
            todo = [c for c in claims if c.path not in given_up]
            self._log.debug("batch_started", size=len(todo), files=[clean_text(c.rel) for c in todo[:MAX_LOGGED]])
            ready = iter(self._prepare(todo))
            prepared = [
                Prepared("", None, error=given_up[c.path]) if c.path in given_up else next(ready) for c in claims
            ]
        except Exception as exc:
            self._log.exception("batch_prepare_failed", files=len(claims))
            prepared = [Prepared("", None, error=_reason("cannot process", exc)) for _ in claims]
        self._hand_over(publisher, claims, (started, prepared))

    def _start_attempts(self, claims: list[Claimed]) -> dict[Path, str]:
        """Count this attempt in the journal; if the journal cannot be written, go on uncounted."""
        try:
            return self._attempts.start(claims)
        except (sqlite3.Error, OSError) as exc:
            self._error("attempt_not_counted", files=len(claims), reason=_reason("journal", exc))
            return {}

    def _prepare(self, claims: list[Claimed]) -> list[Prepared]:
        """One Prepared per claim; an unexpected failure of the batch is retried file by file."""
        if not claims:
            return []
        try:
            return self._pool.prepare([c.path for c in claims], self._limits, progress=self.beat)
        except Exception:
            self._log.exception("prepare_failed", files=len(claims))
        return [self._prepare_one(c) for c in claims]

    def _prepare_one(self, claim: Claimed) -> Prepared:
        try:
            return self._pool.prepare([claim.path], self._limits, progress=self.beat)[0]
        except Exception as exc:
            return Prepared("", None, error=_reason("cannot process", exc))

    def _hand_over(self, publisher: threading.Thread, claims: list[Claimed], prepared: tuple) -> None:
        while True:
            if not publisher.is_alive():
                raise RuntimeError("the publisher thread died")
            try:
                self._ready.put((claims, prepared), timeout=0.5)
                with self._progress:
                    self._handed += 1
                return
            except queue.Full:
                self.beat()

    def _drain(self, publisher: threading.Thread) -> None:
        """Wait until every batch handed over is published (or the publisher died, or we stop)."""
        with self._progress:
            while self._published < self._handed and publisher.is_alive() and not self.stop.is_set():
                self._progress.wait(0.5)
                self.beat()

    def _publish_loop(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            claims, (started, prepared) = item
            try:
                self.publish(claims, prepared, started)  # also when stopping: finish the batch in hand
            except Exception:
                self._log.exception("publisher_failed")  # the daemon exits 70; claims are recovered
                raise
            finally:
                with self._progress:
                    self._published += 1
                    self._progress.notify_all()

    def wait_ready(self) -> None:
        self._pool.wait_ready()

    def beat(self) -> None:
        """Progress: waiting for work, each file prepared, each retry. The watchdog pings while it moves."""
        self.stats.heartbeat = time.monotonic()

    def _sync_claims(self, paths: list[Path]) -> None:
        """Make the claims durable before any result exists: otherwise a power cut could put a
        file back in the inbox after its row was published, and it would get a second row."""
        for folder in {self.work.folder, *(p.parent for p in paths)}:
            try:
                fsync_dir(folder)
            except Exception as exc:
                self._error("claim_sync_failed", folder=clean_text(str(folder)), reason=_reason("fsync", exc))

    def _claim(self, path: Path) -> Claimed | None:
        """Claim one file; any failure is logged and the file stays in the inbox (a rescan offers it again)."""
        try:
            claimed = self.work.claim(self.cfg.inbox, path)
        except Exception as exc:
            self._error("claim_failed", file=clean_text(str(path)), reason=_reason("claim", exc))
            return None
        if claimed is not None:  # outside the try: bookkeeping for a metric must never undo a claim
            self._arrived[claimed.path] = (self.intake.arrived(path) if self.intake else None) or time.monotonic()
        return claimed

    def publish(self, claims: list[Claimed], prepared: list[Prepared], started: float) -> None:
        """Run the network on a prepared batch and publish it; inputs stay claimed until that succeeds."""
        predictor = self.keeper.current
        assert predictor is not None
        results = self._classify(claims, prepared, predictor)
        moves = [Move(c.path, c.rel, r.status == "error", clean_text(r.error)) for c, r in zip(claims, results)]

        def record() -> Batch:
            self._seq += 1
            stem = batch_stem(self.work.instance, self._seq)
            outputs = write_temporary(self.cfg.outbox, stem, results, self.cfg.formats)
            batch = Batch(stem, outputs, moves)
            try:
                self.journal.record(self.work.instance, batch)
            except BaseException:
                for tmp, _ in outputs:
                    unlink(tmp, missing_ok=True)
                raise
            return batch

        published: set[str] = set()
        while True:
            batch = self._retry("outbox_write_failed", record)
            if batch is None:
                return  # stopping: the inputs stay claimed and are re-done at the next start
            finished = self._retry("finish_failed", functools.partial(finish, self.cfg, batch, self.journal, published))
            if finished is None:
                return  # stopping: the journal finishes this batch at the next start
            if finished:
                break  # else its results vanished before publication: write them again
        stem = batch.batch_id
        ms = (time.perf_counter() - started) * 1000
        now = time.monotonic()  # a recovered file's arrival is unknown: its batch's start
        latencies = [now - self._arrived.pop(c.path, now - ms / 1000) for c in claims]
        try:
            if self.on_batch:
                self.on_batch([r.status for r in results], latencies, ms / 1000)
        except Exception:  # metrics are never worth a row
            self._log.exception("metrics_update_failed")
        failed = sum(m.failed for m in moves)
        self.stats.done += len(moves) - failed
        self.stats.failed += failed
        self.stats.batches += 1
        self.stats.last_batch = {"size": len(moves), "ms": round(ms, 1), "model": predictor.model_id}
        for r in results:
            if r.status == "error":
                self._log.warning("file_failed", file=r.file, reason=r.error)
        self._log.info("batch", size=len(moves), failed=failed, ms=round(ms, 1), model=predictor.model_id, results=stem)

    def _classify(self, claims: list[Claimed], prepared: list[Prepared], predictor: Predictor) -> list[Result]:
        """One row per claim; if the batch fails, file by file, and a file that still fails gets an error row."""
        names = [clean_text(c.rel) for c in claims]
        try:
            results = classify(names, prepared, predictor, self.cfg.low_confidence, self.cfg.max_digits)
        except Exception:
            self._log.exception("classify_failed", files=len(claims))
            results = [self._classify_one(n, p, predictor) for n, p in zip(names, prepared)]
        return [replace(r, file_bytes=exact_name(c.rel)) for c, r in zip(claims, results)]

    def _classify_one(self, name: str, prepared: Prepared, predictor: Predictor) -> Result:
        try:
            return classify([name], [prepared], predictor, self.cfg.low_confidence, self.cfg.max_digits)[0]
        except Exception as exc:
            error, model = _reason("cannot classify", exc), predictor.model_id
            return Result(name, None, None, "error", error, model, utc_now(), prepared.sha256, prepared.note)

    def _retry(self, event: str, step: Callable[[], T]) -> T | None:
        """Run ``step`` until it succeeds, backing off on transient errors (file system, SQLite busy or
        full); None if asked to stop meanwhile. Other errors are bugs: they propagate."""
        delay = FIRST_BACKOFF_S
        while True:
            try:
                return step()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._error(event, reason=reason(exc), retry_in_s=delay)
                if self.stop.wait(delay):
                    return None
                self.beat()
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _error(self, event: str, **kw: object) -> None:
        self.stats.last_error = f"{event}: {kw.get('reason', '')}"
        self.stats.last_error_at = utc_now()
        self._log.error(event, **kw)


def _reason(what: str, exc: BaseException) -> str:
    """One line for an error row or event, valid UTF-8 whatever the exception carried."""
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return clean_text(f"{what}: {type(exc).__name__}: {detail}")
