"""Publishing a recorded batch: its results into the outbox, its inputs out of the work folder to
archive/ (or failed/, with the reason beside), then the journal forgets it. Idempotent, so the
journal can redo it after a crash (journal.py): a batch is published at most once, an input moved
at most once, never deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import log
from .config import Config
from .failures import Kind, kind_for_file, reason
from .fsutil import atomic_write, fit_name, fsync_dir, make_dirs, move_unique
from .journal import Batch, Journal, Move
from .outbox import ResultsLost, publish

ERROR_SUFFIX = ".error.txt"  # beside an input in failed/: why it is there


def finish(cfg: Config, batch: Batch, journal: Journal, published: set[str] | None = None) -> bool:
    """Publish a recorded batch's results, move its inputs, forget it. Idempotent: safe to redo after a crash.

    False when the results are gone under both names and no input has moved yet: the batch is
    forgotten and its inputs stay claimed, to be processed again (archiving them would lose rows).
    ``published`` holds the batches this process has published: their results may since have
    been collected downstream, and must not be made twice when a retry finds them gone."""
    try:
        publish(batch.outputs)
        if published is not None:
            published.add(batch.batch_id)
    except ResultsLost as exc:
        if batch.batch_id not in (published or ()) and all(os.path.lexists(m.claimed) for m in batch.moves):
            log.get("digitwatch.worker").error(
                "results_missing", batch=batch.batch_id, results=str(exc), inputs=len(batch.moves), action="reprocess"
            )
            journal.forget(batch.batch_id)
            return False
        # an input moved already, so the results were published before a crash and collected since
    folders = {m.claimed.parent for m in batch.moves}
    ready: set[Path] = set()
    for m in batch.moves:
        if not os.path.lexists(m.claimed):
            continue  # moved before a crash
        try:
            _move(cfg, m, m.error if m.failed else "", ready, folders)
        except Exception as exc:
            if kind_for_file(exc, (m.claimed.parent, cfg.failed if m.failed else cfg.archive)) is not Kind.PER_FILE:
                raise
            _move_failed(cfg, m, exc, ready, folders)
    for folder in folders:
        fsync_dir(folder)
    journal.forget(batch.batch_id)
    return True


def _move(cfg: Config, m: Move, error: str, ready: set[Path], folders: set[Path], flat: bool = False) -> None:
    """Move one claimed input to archive/ (or failed/ with its ``error``), keeping its sub-folders unless ``flat``."""
    root = cfg.failed if error else cfg.archive
    parts = [p for p in m.rel.split("/") if p not in ("", ".", "..")] or ["unnamed"]
    folder = _destination(root, parts[:-1]) if len(parts) > 1 and not flat else root
    if folder not in ready:
        make_dirs(folder)
        ready.add(folder)

    def write_error(target: Path, sync_dir: bool = True) -> None:
        atomic_write(target.with_name(fit_name(target.name, ERROR_SUFFIX)), (error + "\n").encode(), sync_dir)

    # The error file is durable before the input moves (a power cut must not leave the input in
    # failed/ without it), and written again after: another daemon may have raced for that name.
    target = move_unique(m.claimed, folder, parts[-1], before=write_error if error else None)
    if error:
        write_error(target, sync_dir=False)
    folders.add(folder)


def _move_failed(cfg: Config, m: Move, exc: BaseException, ready: set[Path], folders: set[Path]) -> None:
    """An input that cannot go where its row says: to the top of failed/, the reason in its error file."""
    why = f"cannot move to {'failed' if m.failed else 'archive'}/: {reason(exc)}"
    error = f"{m.error}; {why}" if m.failed else why
    logger = log.get("digitwatch.worker")
    logger.error("move_failed", file=m.rel, reason=why, action="failed/")
    try:
        if os.path.lexists(m.claimed):  # the first attempt may have moved it before its error file failed
            _move(cfg, m, error, ready, folders, flat=True)
    except Exception as again:
        if kind_for_file(again, (m.claimed.parent, cfg.failed)) is not Kind.PER_FILE:
            raise
        # Neither destination takes it: it stays claimed (never deleted) and an operator must look.
        logger.error("input_stuck", file=m.rel, path=str(m.claimed), reason=reason(again))


def _destination(root: Path, parents: list[str]) -> Path:
    """``root/<parents>``, unless a symbolic link in the way would lead out of ``root``."""
    folder = root.joinpath(*parents)
    real_root = root.resolve()
    real = folder.resolve()
    return folder if real == real_root or real_root in real.parents else root
