"""Write a batch's results into the outbox: one new file per batch and format, atomically.

Names sort by time (``results-<UTC time>-<batch>.csv``). Each file is written
under a hidden temporary name and fsynced first; :func:`publish` renames them
into place and fsyncs the folder, so a job that globs ``outbox/*.csv`` never
sees half a file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .fsutil import fsync_dir, rename, unlink, write_synced
from .results import Result, to_csv, to_json

WRITERS = {"csv": to_csv, "json": to_json}


class ResultsLost(Exception):
    """A recorded batch has neither its temporary nor its final results files: never archive its inputs."""


def batch_stem(instance: str, seq: int) -> str:
    t = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int(t * 1000) % 1000:03d}Z"
    return f"results-{stamp}-{instance}-{seq:06d}"


def write_temporary(
    outbox: Path, stem: str, results: list[Result], formats: tuple[str, ...]
) -> list[tuple[Path, Path]]:
    """Write and fsync each format under a temporary name, then the folder (the names must survive a
    power cut once the journal records them); return [(temporary, final)]."""
    outputs = []
    try:
        for fmt in formats:
            final = outbox / f"{stem}.{fmt}"
            tmp = outbox / f".{stem}.{fmt}.tmp"
            write_synced(tmp, WRITERS[fmt](results))
            outputs.append((tmp, final))
        fsync_dir(outbox)
    except BaseException:
        for tmp, _ in outputs:
            unlink(tmp, missing_ok=True)
        raise
    return outputs


def publish(outputs: list[tuple[Path, Path]]) -> None:
    """Rename temporaries into place (skipping ones already renamed) and make it durable.

    Raises ResultsLost when no output exists under either name: the caller must not move the inputs."""
    folders = set()
    found = 0
    for tmp, final in outputs:
        try:
            rename(tmp, final)
            found += 1
        except FileNotFoundError:
            found += os.path.lexists(final)  # renamed before a crash; else collected downstream, or lost
        folders.add(final.parent)
    for folder in folders:
        fsync_dir(folder)
    if outputs and not found:
        raise ResultsLost(", ".join(str(final) for _, final in outputs))


def remove_orphans(outbox: Path, instance: str) -> int:
    """Delete a dead instance's temporary files that were never recorded (written just before a crash).

    Call it after that instance's recorded batches are finished: what is left was never published.
    """
    removed = 0
    for entry in outbox.iterdir():
        if entry.name.startswith(".results-") and entry.name.endswith(".tmp") and f"-{instance}-" in entry.name:
            unlink(entry, missing_ok=True)
            removed += 1
    return removed
