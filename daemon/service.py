"""``digitwatch run``: wire the stages together and behave like a good Unix daemon.

Threads: the watchdog observer (events -> intake), the scanner (settle checks,
periodic rescans, observer health), the worker (batches), the model keeper
(hot reload). The main thread only handles signals - which just set a flag,
as in uvicorn - and keeps the status file and systemd informed.
"""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import threading
import time

from . import config as config_mod
from . import failures, legacy, log, outbox, status
from .archive import finish
from .claim import Claimed, WorkArea
from .config import Config
from .errors import ConfigError, ExitCode
from .fsutil import fsync_dir
from .intake import Intake
from .journal import Journal, Roots
from .metrics import Exports, judge
from .reload import ModelKeeper
from .sdnotify import Watchdog, notify
from .watch import Scanner, observer_alive
from .worker import Worker

STOP_TIMEOUT_S = 20.0
TICK_S = 1.0  # the main loop: status file, model thread supervision, metrics file


class _Probe:
    """The health verdict from the live parts (for /healthz, the status file and digitwatch_healthy);
    "starting" until they are attached. A worker with no progress for file_timeout_s plus
    stall_margin_s is stalled (a file holds it at most file_timeout_s): the watchdog's rule too."""

    def __init__(self, cfg: Config) -> None:
        self.state = "starting"
        self.stall_after_s = cfg.file_timeout_s + cfg.stall_margin_s
        self._parts: tuple[ModelKeeper, Worker, Scanner] | None = None

    def attach(self, keeper: ModelKeeper, worker: Worker, scanner: Scanner) -> None:
        self._parts = (keeper, worker, scanner)

    def __call__(self) -> dict:
        if self._parts is None:
            return judge(self.state, False, 0.0, self.stall_after_s, None)
        keeper, worker, scanner = self._parts
        age = time.monotonic() - worker.stats.heartbeat
        return judge(self.state, _watching(scanner), age, self.stall_after_s, _model_id(keeper))


class _Signals:
    """Signal handlers that only set events (as uvicorn's server does), installed before anything slow:
    a SIGHUP or SIGTERM during start-up must not kill the process with Python's default action."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.count = 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    def _on_stop(self, signum: int, _frame: object) -> None:
        self.count += 1
        if self.count > 1:
            log.get("digitwatch").warning("forced_exit", signal=signal.Signals(signum).name)
            os._exit(1)
        self.stop.set()


def serve(cfg: Config) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    started = time.monotonic()
    signals = _Signals()
    log.setup(cfg.log_format, cfg.log_level)
    logger = log.get("digitwatch")
    config_mod.ensure_folders(cfg)
    journal, work = _open_state(cfg)
    logger.info("starting", pid=os.getpid(), version=_version(), **config_mod.as_dict(cfg))
    probe = _Probe(cfg)
    exports = Exports(cfg, probe)

    keeper = ModelKeeper(cfg.checkpoint, cfg.canary_min_accuracy, cfg.model_poll_s, cfg.max_batch)

    stop = signals.stop
    intake = Intake(cfg.queue_size, cfg.settle_ms / 1000, trust_mtime=not cfg.polling)
    worker = Worker(cfg, intake, work, journal, keeper, stop)
    watchdog = Watchdog(lambda: worker.stats.heartbeat, probe.stall_after_s)
    # After the worker: its decode processes start up while the model loads (LiteRT, no TensorFlow).
    keeper.load_initial()
    if signals.stop.is_set():  # asked to stop while the model loaded: nothing is claimed yet
        exports.close(final=False)
        return _closed(True, 0, work, journal, None)
    _take_over_legacy(cfg, journal)
    worker.backlog = recover(cfg, work, journal)
    scanner = Scanner(cfg, intake, on_model_event=keeper.trigger)
    scanner.start_observer()
    scanner.rescan()
    _attach(exports, probe, keeper, intake, worker, scanner)

    threads = [
        threading.Thread(target=worker.run, name="worker", daemon=True),
        threading.Thread(target=scanner.run, args=(stop,), name="scanner", daemon=True),
        threading.Thread(target=keeper.run, args=(stop,), name="model", daemon=True),
    ]
    for t in threads:
        t.start()
    watchdog.start()

    worker.wait_ready()
    probe.state = "serving"
    ready_s = round(time.monotonic() - started, 2)
    gc.freeze()  # start-up's objects (modules, the model) stay: the collector need not walk them again
    notify("READY=1\nSTATUS=serving")
    logger.info("ready", inbox=str(cfg.inbox), outbox=str(cfg.outbox), model=_model_id(keeper), startup_s=ready_s)
    code = 0
    while True:  # status and metrics first: `digitwatch status` right after READY finds the daemon
        status.publish(cfg.state_dir, work.instance, _snapshot(cfg, keeper, intake, worker, scanner, probe))
        exports.tick()
        if stop.wait(min(TICK_S, cfg.metrics_interval_s)):
            break
        if signals.reload.is_set():
            signals.reload.clear()
            keeper.trigger(force=True)
        keeper.supervise(stop)  # a dead model thread is logged (model_thread_died) and restarted
        if not threads[0].is_alive():
            logger.error("worker_died")
            code = ExitCode.software  # the worker died: systemd restarts the unit
            stop.set()

    clean = _drain(intake, threads[0], watchdog, probe)
    # Stopped cleanly: its line leaves `status`; else it stays, and shows the daemon gone.
    status.publish(cfg.state_dir, work.instance, _snapshot(cfg, keeper, intake, worker, scanner, probe), own=not clean)
    exports.close()
    return _closed(clean, code, work, journal, worker)


def _drain(intake: Intake, worker_thread: threading.Thread, watchdog: Watchdog, probe: _Probe) -> bool:
    """Let the worker finish the batch in hand; whether it did within STOP_TIMEOUT_S."""
    notify("STOPPING=1")
    probe.state = "stopping"
    log.get("digitwatch").info("stopping", queued=intake.depth())
    intake.close()
    worker_thread.join(STOP_TIMEOUT_S)
    watchdog.stop()
    probe.state = "stopped"
    return not worker_thread.is_alive()


def _attach(
    exports: Exports, probe: _Probe, keeper: ModelKeeper, intake: Intake, worker: Worker, scanner: Scanner
) -> None:
    """Health and metrics read the live parts from now on."""
    probe.attach(keeper, worker, scanner)
    worker.on_batch = exports.metrics.batch_published
    exports.metrics.bind(
        queue_depth=intake.depth,
        watcher_up=lambda: _watching(scanner),
        heartbeat_age=lambda: time.monotonic() - worker.stats.heartbeat,
        healthy=lambda: bool(probe()["healthy"]),
        model=lambda: (keeper.current.model_id, keeper.current.ref.source) if keeper.current else None,
        reloads=lambda: keeper.reloads,
    )


def _closed(clean: bool, code: int, work: WorkArea, journal: Journal, worker: Worker | None) -> int:
    """Release the state after a clean stop; a stop that timed out is a failure (claims stay for the next start)."""
    logger = log.get("digitwatch")
    if clean:
        work.close()
        journal.close()
    else:
        logger.error("stop_timed_out", timeout_s=STOP_TIMEOUT_S)
        code = code or ExitCode.software
    stats = worker.stats if worker else None
    logger.info("stopped", done=stats.done if stats else 0, failed=stats.failed if stats else 0, clean=clean)
    return code


def _model_id(keeper: ModelKeeper) -> str | None:
    return keeper.current.model_id if keeper.current else None


def _watching(scanner: Scanner) -> bool:
    return bool(scanner.observer and observer_alive(scanner.observer))


def _open_state(cfg: Config) -> tuple[Journal, WorkArea]:
    """The journal (its paths confined to the work root and the outbox) and this daemon's work folder."""
    try:
        journal = Journal(cfg.state_dir / "journal.sqlite", Roots(cfg.state_dir / "work", cfg.outbox))
        work = WorkArea(cfg.state_dir / "work")
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot use state folder {cfg.state_dir}: {getattr(exc, 'strerror', None) or exc}") from None
    return journal, work


def _take_over_legacy(cfg: Config, journal: Journal) -> None:
    """An older version's state inside the inbox: take it over (see legacy.py); a failure is logged, not fatal."""
    try:
        legacy.migrate(cfg, journal)
    except (OSError, sqlite3.Error) as exc:
        log.get("digitwatch.legacy").error("legacy_state_not_adopted", reason=str(exc))


def recover(cfg: Config, work: WorkArea, journal: Journal) -> list[Claimed]:
    """Finish what dead daemons left: recorded batches are completed, unrecorded claims are re-done.

    Never raises for a file-system or SQLite error (a crash here would be a crash loop): an instance
    whose batches cannot be finished now is left as it is, logged, and retried at the next start."""
    logger = log.get("digitwatch.recovery")
    backlog: list[Claimed] = []
    try:
        # This daemon's new work folder must outlive a power cut before anything is claimed into it.
        fsync_dir(work.root)
        abandoned = work.abandoned()
    except Exception as exc:
        logger.error("recovery_failed", stage="list", reason=failures.reason(exc))
        return backlog
    for dead in abandoned:
        instance = dead.folder.name
        try:
            batches = journal.unfinished(instance)
            for batch in batches:
                finish(cfg, batch, journal)
            orphans = outbox.remove_orphans(cfg.outbox, instance)
        except Exception as exc:
            # Its claims must not be re-done while a recorded batch of theirs is unfinished: leave them.
            logger.error("recovery_failed", instance=instance, stage="finish", reason=failures.reason(exc))
            os.close(dead.fd)
            continue
        try:
            claims = work.adopt(dead)
            # The adoption must outlive a power cut before these inputs' results are recorded under
            # their new names, or the old names would come back and be processed a second time.
            fsync_dir(work.folder)
            fsync_dir(work.root)
        except Exception as exc:
            logger.error("recovery_failed", instance=instance, stage="adopt", reason=failures.reason(exc))
            continue
        backlog.extend(claims)
        status.forget(cfg.state_dir, instance)
        logger.info("recovered", instance=instance, batches=len(batches), reclaimed=len(claims), orphans=orphans)
    return backlog


def _snapshot(
    cfg: Config, keeper: ModelKeeper, intake: Intake, worker: Worker, scanner: Scanner, probe: _Probe
) -> dict:
    s = worker.stats
    model = keeper.current
    health = probe()
    return {
        "state": probe.state,
        "healthy": health["healthy"],
        "reasons": health["reasons"],
        "pid": os.getpid(),
        "inbox": str(cfg.inbox),
        "outbox": str(cfg.outbox),
        "model": model.model_id if model else None,
        "model_source": model.ref.source if model else None,
        "model_since": keeper.since,
        "queue_depth": intake.depth(),
        "settling": intake.pending(),
        "backlog": len(worker.backlog),
        "done": s.done,
        "failed": s.failed,
        "batches": s.batches,
        "last_batch": s.last_batch,
        "last_error": s.last_error or scanner.last_scan_error,
        "last_error_at": s.last_error_at,
        "observer_alive": _watching(scanner),
        "observer_restarts": scanner.observer_restarts,
        "model_thread_alive": keeper.alive(),
        "worker_heartbeat_age_s": health["worker_heartbeat_age_s"],
        "stall_after_s": probe.stall_after_s,
        "metrics_address": cfg.metrics_address or None,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "updated_at_unix": round(time.time(), 3),
    }


def _version() -> str:
    from .version import package_version as v

    return v()
