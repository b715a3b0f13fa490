"""``digitwatch backfill``: a backlog of pictures read once, on Ray Data, into outbox-schema files.

The inputs are listed as ``predict`` lists them (files as given, folders recursed in sorted order)
and recognised by actors that run the daemon's own reading path and network (backfill_ray.py), so
a row is the row ``predict`` writes. Rows go to ``--out`` in files of CHUNK_ROWS rows, each written
under a hidden name, fsynced and renamed into place: a crash loses at most the rows not yet in a
file. A run skips each input that already has a row there with the same name and sha256, so an
interrupted backfill is re-run as it was started and goes on where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
import time
import typing
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import Config
from .errors import ExitCode
from .fsutil import atomic_write
from .predict import _Bar, expand
from .registry import ModelRef
from .results import CSV_COLUMNS, Result, clean_text, csv_unescape, to_csv

CHUNK_ROWS = 4096  # rows per output file: few files for a big backlog, little lost (re-done) after a crash
HASH_THREADS = 8  # re-run check: reading files to hash them waits on storage, not on the GIL
PREFIX = "backfill-"  # output names: backfill-<start time>-<pid>-<seq>.<csv|parquet>


@dataclass(frozen=True)
class Options:
    paths: list[str]
    out: Path
    address: str | None = None
    workers: int | None = None  # actors (local cluster: also its CPUs); default: every CPU there is
    fmt: str = "csv"  # csv | parquet
    batch_size: int = 256  # files per map_batches call: one network call per batch, as the daemon's max_batch


def backfill(opts: Options, ref: ModelRef, cfg: Config) -> int:
    """Recognise every input not yet in ``opts.out``; the exit code as predict's (66, 65, 0)."""
    from .backfill_ray import cluster, recognise, require_ray

    require_ray()  # a missing extra is said before anything is listed
    started = time.perf_counter()
    missing = [a for a in opts.paths if not os.path.lexists(a)]
    for arg in missing:
        print(f"digitwatch: error: no such file or folder: {arg}", file=sys.stderr)
    items = [(clean_text(name), path) for name, path in expand([a for a in opts.paths if a not in missing])]
    if not items and not missing:
        print(f"digitwatch: error: no files in {' '.join(opts.paths)}", file=sys.stderr)
    opts.out.mkdir(parents=True, exist_ok=True)
    todo = pending(items, done_rows(opts.out))
    writer, tally = ChunkWriter(opts.out, opts.fmt), Tally()
    if todo:
        bar = _Bar(len(todo), sys.stderr.isatty())  # as predict: on a terminal only
        t0 = time.perf_counter()
        try:
            with cluster(opts.address, opts.workers) as actors:
                tally.cluster_s = time.perf_counter() - t0
                for results in recognise(todo, ref, cfg, actors, opts.batch_size):
                    writer.add(results)
                    tally.add(results)
                    for _ in results:
                        bar.tick()
        finally:  # interrupted too: the rows in hand are kept, and a re-run skips their inputs
            writer.flush()
            bar.close()
    elapsed = time.perf_counter() - started
    print(tally.summary(len(items), len(items) - len(todo), writer.files, elapsed), file=sys.stderr)
    if missing or not items:
        return ExitCode.no_input
    return ExitCode.data_error if tally.rows and tally.errors == tally.rows else ExitCode.ok


@dataclass
class Tally:
    """What a run did, for its summary line; the steady rate counts from the first batch in (actors up)."""

    rows: int = 0
    errors: int = 0
    cluster_s: float = 0.0
    first: tuple[float, int] | None = None  # (when, rows) at the first batch's arrival
    last: float = 0.0

    def add(self, results: list[Result]) -> None:
        self.rows += len(results)
        self.errors += sum(r.status == "error" for r in results)
        self.last = time.perf_counter()
        self.first = self.first or (self.last, self.rows)

    def summary(self, files: int, skipped: int, written: int, elapsed: float) -> str:
        steady = "-"
        if self.first and self.last > self.first[0]:
            steady = f"{(self.rows - self.first[1]) / (self.last - self.first[0]):.1f}"
        return (
            f"backfill: {files} files, {skipped} already done, {self.rows} rows written ({self.errors} errors) to "
            f"{written} files in {elapsed:.1f} s ({self.cluster_s:.1f} s starting Ray), "
            f"{self.rows / elapsed if elapsed else 0:.1f} images/s; {steady} images/s once the actors were up"
        )


def done_rows(out: Path) -> set[tuple[str, str]]:
    """(file, sha256) of every row already in ``out``'s published files (hidden ones are unfinished)."""
    done: set[tuple[str, str]] = set()
    for path in sorted(out.glob(f"{PREFIX}*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            done.update((csv_unescape(r["file"]), r["sha256"]) for r in csv.DictReader(fh))
    parquet = sorted(out.glob(f"{PREFIX}*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        for path in parquet:
            table = pq.read_table(path, columns=["file", "sha256"]).to_pydict()
            done.update(zip(table["file"], table["sha256"]))
    return done


def pending(items: list[tuple[str, Path]], done: set[tuple[str, str]]) -> list[tuple[str, Path]]:
    """The inputs without a row of the same name and content: only files whose name has a row are
    hashed (a first run reads nothing here); a file that cannot be read hashes as "", as its row did."""
    names = {name for name, _ in done}
    seen = [(name, path) for name, path in items if name in names]
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        digests = dict(zip((name for name, _ in seen), pool.map(_sha256, (path for _, path in seen))))
    return [(name, path) for name, path in items if (name, digests.get(name, "?")) not in done]


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


class ChunkWriter:
    """Rows into ``out`` in files of CHUNK_ROWS rows, each atomic and durable (fsutil.atomic_write)."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.stem = f"{PREFIX}{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
        self.files = 0
        self._rows: list[Result] = []

    def add(self, results: Iterable[Result]) -> None:
        self._rows.extend(results)
        while len(self._rows) >= CHUNK_ROWS:
            self._write(self._rows[:CHUNK_ROWS])
            del self._rows[:CHUNK_ROWS]

    def flush(self) -> None:
        if self._rows:
            self._write(self._rows)
            self._rows = []

    def _write(self, rows: list[Result]) -> None:
        data = to_csv(rows) if self.fmt == "csv" else to_parquet(rows)
        atomic_write(self.out / f"{self.stem}-{self.files:06d}.{self.fmt}", data)
        self.files += 1


def to_parquet(rows: list[Result]) -> bytes:
    """The CSV columns as typed Parquet columns (int digit, float confidence, text for the rest)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    hints = typing.get_type_hints(Result)
    schema = pa.schema(
        [(c, _arrow_type(hints[c], {int: pa.int64(), float: pa.float64()}, pa.string())) for c in CSV_COLUMNS]
    )
    records = [{c: _cell(v) for c, v in asdict(r).items() if c in CSV_COLUMNS} for r in rows]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records, schema=schema), buf)
    return buf.getvalue()


def _arrow_type(hint: object, kinds: dict[type, typing.Any], default: typing.Any) -> typing.Any:
    """A column's Arrow type from the Result field's type (``int | None`` -> int64)."""
    return next((kinds[t] for t in (hint, *typing.get_args(hint)) if t in kinds), default)


def _cell(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value
