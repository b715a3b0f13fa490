"""``digitwatch run``: wire the stages together and behave like a good Unix daemon.

Threads: the watchdog observer (events -> intake), the scanner (settle checks,
periodic rescans, observer health), the worker (batches), the model keeper
(hot reload). The main thread only handles signals - which just set a flag,
as in uvicorn - and keeps the status file and systemd informed.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from . import config as config_mod
from . import log, outbox, status
from .claim import Claimed, WorkArea
from .config import Config
from .errors import ConfigError
from .intake import Intake
from .journal import Journal
from .reload import ModelKeeper
from .sdnotify import notify, watchdog_interval
from .watch import Scanner, observer_alive
from .worker import Worker, finish

STOP_TIMEOUT_S = 20.0


def serve(cfg: Config) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    started = time.monotonic()
    log.setup(cfg.log_format, cfg.log_level)
    logger = log.get("digitwatch")
    config_mod.ensure_folders(cfg)
    try:
        journal = Journal(cfg.state_dir / "journal.sqlite")
        work = WorkArea(cfg.state_dir / "work")
    except OSError as exc:
        raise ConfigError(f"cannot use state folder {cfg.state_dir}: {exc.strerror or exc}") from None
    logger.info("starting", pid=os.getpid(), version=_version(), **config_mod.as_dict(cfg))

    keeper = ModelKeeper(cfg.checkpoint, cfg.canary_min_accuracy, cfg.model_poll_s, cfg.max_batch)

    stop = threading.Event()
    intake = Intake(cfg.queue_size, cfg.settle_ms / 1000, trust_mtime=not cfg.polling)
    ping_every = watchdog_interval()
    last_ping = [0.0]

    def ping() -> None:
        now = time.monotonic()
        if ping_every and now - last_ping[0] >= ping_every:
            notify("WATCHDOG=1")
            last_ping[0] = now

    worker = Worker(cfg, intake, work, journal, keeper, stop, ping)
    # After the worker: its decode processes start up while the model loads (LiteRT, no TensorFlow;
    # Keras, TensorFlow imported then, only for a .keras published before conversion existed).
    keeper.load_initial()
    worker.backlog = recover(cfg, work, journal)
    scanner = Scanner(cfg, intake, on_model_event=keeper.trigger)
    scanner.start_observer()
    scanner.rescan()

    threads = [
        threading.Thread(target=worker.run, name="worker", daemon=True),
        threading.Thread(target=scanner.run, args=(stop,), name="scanner", daemon=True),
        threading.Thread(target=keeper.run, args=(stop,), name="model", daemon=True),
    ]
    for t in threads:
        t.start()

    signals = {"count": 0}

    def on_stop(signum: int, _frame: object) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            logger.warning("forced_exit", signal=signal.Signals(signum).name)
            os._exit(1)
        stop.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, lambda *_: keeper.trigger(force=True))

    worker.wait_ready()
    ready_s = round(time.monotonic() - started, 2)
    notify("READY=1\nSTATUS=serving")
    logger.info("ready", inbox=str(cfg.inbox), outbox=str(cfg.outbox), model=keeper.current.model_id, startup_s=ready_s)
    state_file = cfg.state_dir / "status.json"
    code = 0
    while not stop.wait(1.0):
        status.write(state_file, _snapshot(cfg, keeper, intake, worker, scanner, "serving"))
        if not threads[0].is_alive():
            logger.error("worker_died")
            code = 70
            stop.set()

    notify("STOPPING=1")
    logger.info("stopping", queued=intake.depth())
    intake.close()
    threads[0].join(STOP_TIMEOUT_S)
    clean = not threads[0].is_alive()
    status.write(state_file, _snapshot(cfg, keeper, intake, worker, scanner, "stopped"))
    if clean:
        work.close()
        journal.close()
    logger.info("stopped", done=worker.stats.done, failed=worker.stats.failed, clean=clean)
    return code


def recover(cfg: Config, work: WorkArea, journal: Journal) -> list[Claimed]:
    """Finish what dead daemons left: recorded batches are completed, unrecorded claims are re-done."""
    logger = log.get("digitwatch.recovery")
    backlog = []
    for dead in work.abandoned():
        batches = journal.unfinished(dead.folder.name)
        for batch in batches:
            finish(cfg, batch, journal)
        orphans = outbox.remove_orphans(cfg.outbox, dead.folder.name)
        claims = work.adopt(dead)
        backlog.extend(claims)
        logger.info(
            "recovered", instance=dead.folder.name, batches=len(batches), reclaimed=len(claims), orphans=orphans
        )
    return backlog


def _snapshot(cfg: Config, keeper: ModelKeeper, intake: Intake, worker: Worker, scanner: Scanner, state: str) -> dict:
    s = worker.stats
    model = keeper.current
    return {
        "state": state,
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
        "observer_alive": bool(scanner.observer and observer_alive(scanner.observer)),
        "observer_restarts": scanner.observer_restarts,
        "worker_heartbeat_age_s": round(time.monotonic() - s.heartbeat, 1),
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _version() -> str:
    from .cli import _version as v

    return v()
