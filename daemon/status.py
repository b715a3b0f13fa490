"""The daemon's status file (written every second) and ``digitwatch status``, which reads it."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from . import log
from .config import Config
from .errors import ExitCode

STALE_AFTER_S = 10.0  # the daemon rewrites its status file every second: ten missed, it is not serving
DAEMONS = "daemons"  # <state_dir>/daemons/<instance>.json: each daemon's own status, for several on one inbox

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


def publish(state_dir: Path, instance: str, snapshot: dict[str, Any], own: bool = True) -> None:
    """The shared ``status.json`` (the latest writer's) and this daemon's own file under ``daemons/``
    (removed when ``own`` is false: the daemon stopped cleanly)."""
    write(state_dir / "status.json", snapshot)
    if own:
        write(state_dir / DAEMONS / f"{instance}.json", {"id": instance, **snapshot})
    else:
        forget(state_dir, instance)


def forget(state_dir: Path, instance: str) -> None:
    """Remove a daemon's own status file: it stopped cleanly, or a peer adopted what it left."""
    try:
        (state_dir / DAEMONS / f"{instance}.json").unlink(missing_ok=True)
    except OSError:
        pass  # advisory: `status` shows it as gone


def daemons(state_dir: Path, now: float) -> list[dict[str, Any]]:
    """Every daemon with a status file on this inbox: id, pid, alive, files claimed, done, last batch."""
    out = []
    for path in sorted((state_dir / DAEMONS).glob("*.json")):
        try:
            snap = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed meanwhile, or unreadable: it is shown at the next look, if still there
        try:
            claimed = len(os.listdir(state_dir / "work" / path.stem))
        except OSError:
            claimed = 0  # a clean stop removes its (empty) work folder; a peer's adoption too
        if not isinstance(snap, dict):
            continue
        fresh = now - float(snap.get("updated_at_unix") or 0) <= STALE_AFTER_S
        alive = snap.get("state") == "serving" and fresh and _alive(int(snap.get("pid") or 0))
        keys = ("id", "pid", "done", "failed", "last_batch", "updated_at")
        out.append({**{k: snap.get(k) for k in keys}, "alive": alive, "claimed": claimed})
    return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def facts(cfg: Config, now: float | None = None) -> tuple[dict[str, Any], ExitCode]:
    """What ``status`` reports and its exit code: 0 serving and healthy, 3 not running (no status file,
    the process gone, a file not rewritten for STALE_AFTER_S), 4 running but unhealthy or unreadable."""
    path = cfg.state_dir / "status.json"
    now = now if now is not None else time.time()
    report, code = _shared(path, now)
    return {**report, "daemons": daemons(cfg.state_dir, now)}, code


def _shared(path: Path, now: float) -> tuple[dict[str, Any], ExitCode]:
    """The report from ``status.json``, the latest writer's (any daemon on this inbox)."""
    try:
        snap = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(snap, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        why = f"no status file at {path}: 'digitwatch run' has not run on this inbox"
        return {"running": False, "state": "not running", "healthy": False, "reasons": [why]}, ExitCode.not_running
    except (OSError, ValueError) as exc:
        why = f"cannot read {path}: {exc}"
        return {"running": False, "state": "unknown", "healthy": False, "reasons": [why]}, ExitCode.unhealthy
    pid = int(snap.get("pid") or 0)
    age = now - float(snap.get("updated_at_unix") or 0)
    if snap.get("state") != "serving":
        why = f"the daemon {snap.get('state', 'stopped')} (pid {pid})"
    elif not _alive(pid):
        why = f"process {pid} is gone: its status file is stale"
    elif age > STALE_AFTER_S:
        why = f"status file not rewritten for {age:.0f} s: the daemon is stuck or gone"
    else:
        code = ExitCode.ok if snap.get("healthy", True) else ExitCode.unhealthy
        return {"running": True, **snap}, code
    return {
        "running": False,
        "state": "not running",
        "healthy": False,
        "reasons": [why],
        "last_status": snap,
    }, ExitCode.not_running


def text(report: dict[str, Any]) -> str:
    """The same facts for a person, and one line per daemon on this inbox."""
    return "\n".join([_text(report), *_daemon_lines(report.get("daemons") or [])])


def _daemon_lines(found: list[dict[str, Any]]) -> list[str]:
    alive = sum(d["alive"] for d in found)
    lines = [f"  daemons     {len(found)} on this inbox, {alive} alive"] if found else []
    for d in found:
        batch = d.get("last_batch") or {}
        last = f"{batch.get('size')} files in {batch.get('ms')} ms" if batch else "-"
        state = "alive" if d["alive"] else "GONE"
        lines.append(
            f"    {d['id']}  pid {d['pid']} {state}, {d['claimed']} claimed, {d['done']} ok, {d['failed']} failed,"
            f" last batch {last}, status of {d['updated_at']}"
        )
    return lines


def _text(report: dict[str, Any]) -> str:
    if not report["running"]:
        lines = [f"digitwatch: not running ({'; '.join(report['reasons'])})"]
        last = report.get("last_status")
        if last:
            lines.append(
                f"  last status {last.get('updated_at')}: {last.get('done')} ok, {last.get('failed')} failed,"
                f" model {last.get('model')}"
            )
        return "\n".join(lines)
    r = report
    health = "healthy" if r.get("healthy", True) else "UNHEALTHY: " + "; ".join(r.get("reasons") or [])
    batch = r.get("last_batch") or {}
    last_batch = f"{batch.get('size')} files in {batch.get('ms')} ms" if batch else "-"
    lines = [
        f"digitwatch: serving, {health} (pid {r.get('pid')}, status of {r.get('updated_at')})",
        f"  model       {r.get('model')} ({r.get('model_source')}) since {r.get('model_since')}",
        f"  inbox       {r.get('inbox')} -> outbox {r.get('outbox')}",
        f"  queue       {r.get('queue_depth')} queued, {r.get('settling')} settling, {r.get('backlog')} recovered",
        f"  processed   {r.get('done')} ok, {r.get('failed')} failed, in {r.get('batches')} batches",
        f"  last batch  {last_batch}",
        f"  last error  {r.get('last_error') or '-'} {r.get('last_error_at') or ''}".rstrip(),
        f"  watcher     {'alive' if r.get('observer_alive') else 'DOWN'}, restarts: {r.get('observer_restarts')}",
        f"  worker      progress {r.get('worker_heartbeat_age_s')} s ago (stalled after {r.get('stall_after_s')} s)",
    ]
    return "\n".join(lines)


def show(cfg: Config, as_json: bool = False) -> int:
    """Print the status as text, or as one JSON object; exit code as :func:`facts`."""
    report, code = facts(cfg)
    print(json.dumps(report) if as_json else text(report))
    return code
