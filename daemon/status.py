"""The daemon's status file (written every second) and ``digitwatch status``, which reads it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .config import Config
from .errors import NoInputError


def write(path: Path, snapshot: dict[str, Any]) -> None:
    """Replace the status file atomically (no fsync: it is advisory and rewritten every second)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(snapshot, indent=1), encoding="utf-8")
    os.replace(tmp, path)


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
        f"  queue       {snap.get('queue_depth')} queued, {snap.get('settling')} settling, {snap.get('backlog')} recovered",
        f"  processed   {snap.get('done')} ok, {snap.get('failed')} failed, in {snap.get('batches')} batches",
        f"  last batch  {snap.get('last_batch') or '-'}",
        f"  last error  {snap.get('last_error') or '-'} {snap.get('last_error_at') or ''}".rstrip(),
        f"  watcher     {'alive' if snap.get('observer_alive') else 'DOWN'}, restarts: {snap.get('observer_restarts')}",
    ]
    print("\n".join(lines))
    print(json.dumps({**snap, "running": running}), file=sys.stdout)
    return 0 if running else 3
