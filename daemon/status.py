"""The daemon's status file (written every second) and ``digitwatch status``, which reads it."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from . import log
from .config import Config
from .errors import ExitCode, NoInputError

_counter = itertools.count()  # with pid and thread id: a temporary name no other writer uses
_failing = threading.Event()  # set while writes fail: one log line per outage, not one a second


def write(path: Path, snapshot: dict[str, Any]) -> bool:
    """Replace the status file atomically (no fsync: it is advisory and rewritten every second).

    Never raises: a full disk or a removed folder must not stop the daemon. Logs the first failure
    of a run of failures, and the recovery; returns whether the file was written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp")
    try:
        try:
            tmp.write_text(json.dumps(snapshot, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (OSError, ValueError, TypeError) as exc:
        if not _failing.is_set():
            _failing.set()
            log.get("digitwatch.status").error("status_write_failed", path=str(path), reason=str(exc))
        return False
    if _failing.is_set():
        _failing.clear()
        log.get("digitwatch.status").info("status_write_resumed", path=str(path))
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def show(cfg: Config) -> int:
    """Print the status; exit 0 if the daemon is serving, 3 if it is not running (as LSB status does)."""
    path = cfg.state_dir / "status.json"
    try:
        snap = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoInputError(f"no status file at {path}: has 'digitwatch run' ever run on this inbox?") from None
    except (OSError, ValueError) as exc:
        raise NoInputError(f"cannot read {path}: {exc}") from None
    running = snap.get("state") == "serving" and _alive(int(snap.get("pid", 0)))
    state = "serving" if running else "not running"
    lines = [
        f"digitwatch: {state} (pid {snap.get('pid')}, status of {snap.get('updated_at')})",
        f"  model       {snap.get('model')} ({snap.get('model_source')}) since {snap.get('model_since')}",
        f"  inbox       {snap.get('inbox')} -> outbox {snap.get('outbox')}",
        f"  queue       {snap.get('queue_depth')} queued, {snap.get('settling')} settling,"
        f" {snap.get('backlog')} recovered",
        f"  processed   {snap.get('done')} ok, {snap.get('failed')} failed, in {snap.get('batches')} batches",
        f"  last batch  {snap.get('last_batch') or '-'}",
        f"  last error  {snap.get('last_error') or '-'} {snap.get('last_error_at') or ''}".rstrip(),
        f"  watcher     {'alive' if snap.get('observer_alive') else 'DOWN'}, restarts: {snap.get('observer_restarts')}",
    ]
    print("\n".join(lines))
    print(json.dumps({**snap, "running": running}), file=sys.stdout)
    return ExitCode.ok if running else ExitCode.not_running
