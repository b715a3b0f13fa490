"""``digitwatch review``: gather the inputs the service was unsure of, for a person to label.

Each row of the configured outbox with a wanted status (by default ``low_confidence`` and ``error``)
names an input the daemon has since moved, never deleted: to ``archive/`` (``ok``,
``low_confidence``) or ``failed/`` (``error``), under its path relative to the inbox - or, when that
name was taken, a numbered one (``name.1.png``), a long one cut short with a ``~hash``, or, for an input
that could not go where its row said, the top of ``failed/``. The file whose bytes hash to the row's
``sha256`` is the one. It is copied (never moved: the archive stays whole) into
``DIR/unlabelled/<suggested digit, or x for errors>/<confidence>-<stem>-<sha8><ext>``, durably: a
hidden temporary name, fsync, rename without replacing, fsync of the folder.

A picture gathered before (even if a person has deleted it since: a rejection), or anywhere in DIR
(moved by a person into ``DIR/<digit>/``, renamed, copied in by hand) is known by its bytes' hash and
not gathered again. ``DIR/.review.json`` keeps what each gathered row said (the outbox may be
collected since): the memory of what was gathered, and the contact sheet's text (``DIR/index.html``,
:mod:`.review_sheet`).
"""

from __future__ import annotations

import bisect
import csv
import glob
import hashlib
import json
import math
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from .config import Config
from .errors import ConfigError, ImageError, NoInputError
from .fsutil import atomic_write, fsync_dir, make_dirs, rename_noreplace, unique_path, unlink, write_synced
from .recognize import read_input
from .results import CSV_COLUMNS, csv_unescape

UNLABELLED = "unlabelled"  # where gathered pictures wait; training.labelled never reads it as labelled
ERROR_FOLDER = "x"  # an error row suggests no digit
META = ".review.json"  # what each gathered row said, by sha256 (hidden: not a picture, not a label)
STATUSES = ("ok", "low_confidence", "error")
DEFAULT_STATUSES = ("low_confidence", "error")
MAX_EXT = 8  # characters after the last dot that are an extension, kept for viewers (longer: part of the name)
STEM_CHARS = 60  # of the original name kept in a gathered name: enough to recognise, short enough to list
# A stem matches an archived name that starts with its first this-many characters: a numbered name
# (``name.1.png``) keeps all of it, one cut short to NAME_MAX (``<cut>~hash.png``) over 200 bytes of it, and 48
# characters are at most 192 bytes; long enough that names sharing a prefix seldom need hashing.
PREFIX_CHARS = 48
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
STAMP = re.compile(r"^results-(\d{8}T\d{6})\d{3}Z-")  # outbox.batch_stem's UTC time in a results file's name
# A file named before ``--since`` by more than this holds no row processed since: rows are stamped while their
# batch is read, moments before the file is named (an hour: any clock step or slow batch is far shorter).
STAMP_MARGIN = timedelta(hours=1)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # never in a gathered name: a newline in a name breaks most tools


@dataclass(frozen=True)
class Row:
    """What one outbox row says about one input (the fields review needs)."""

    rel: str  # the input's path relative to the inbox (exact, from JSON's file_bytes, when there is one)
    digit: str
    confidence: str
    status: str
    error: str
    sha256: str
    processed_at: str
    model: str


@dataclass
class Summary:
    gathered: dict[str, int] = field(default_factory=dict)  # by status
    known: int = 0  # already in DIR: gathered before, or labelled
    missing: int = 0  # no archived file with the row's bytes (collected, moved, or never readable)
    too_large: int = 0  # over max_file_mb: the daemon would refuse it for training too
    unreadable_results: list[str] = field(default_factory=list)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2026-12-06``, ``2026-12-06T14:00``, ``...Z`` or ``+01:00`` (UTC when no zone is given), or a
    span back from now: ``90m``, ``12h``, ``7d``, ``2w``. ValueError otherwise."""
    match = DURATION.match(text.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(seconds=float(match[1]) * UNITS[match[2]])
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time(text: str) -> datetime | None:
    try:
        return parse_since(text) if text else None
    except ValueError:
        return None


def _written_before(name: str, since: datetime | None) -> bool:
    """Whether a results file's name (``results-<UTC time>-...``) says it was written well before ``since``."""
    stamp = STAMP.match(name)
    if since is None or not stamp:
        return False
    written = datetime.strptime(stamp[1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return written < since - STAMP_MARGIN


def read_outbox(outbox: Path, summary: Summary, since: datetime | None = None) -> list[Row]:
    """Every row of the outbox's published results files (CSV and JSON; hidden temporaries skipped), but
    those of files written well before ``since``."""
    rows: list[Row] = []
    for path in sorted(glob.glob(glob.escape(str(outbox)) + "/results-*")):
        if _written_before(os.path.basename(path), since):
            continue
        try:
            if path.endswith(".json"):
                rows += [_json_row(r) for r in json.loads(Path(path).read_text(encoding="utf-8"))]
            elif path.endswith(".csv"):
                with open(path, newline="", encoding="utf-8") as fh:
                    rows += [_csv_row(r) for r in csv.DictReader(fh)]
        except (OSError, ValueError, TypeError, KeyError, AttributeError, csv.Error) as exc:
            summary.unreadable_results.append(f"{os.path.basename(path)}: {type(exc).__name__}: {exc}")
    return rows


def _csv_row(r: dict[str, str]) -> Row:
    if not set(CSV_COLUMNS) <= set(r):
        raise KeyError(f"columns {', '.join(CSV_COLUMNS)} expected")
    return Row(
        csv_unescape(r["file"]),
        r["digit"],
        r["confidence"],
        r["status"],
        csv_unescape(r["error"]),
        r["sha256"],
        r["processed_at"],
        r["model"],
    )


def _json_row(r: dict[str, Any]) -> Row:
    exact = r.get("file_bytes")
    rel = os.fsdecode(unquote_to_bytes(exact)) if isinstance(exact, str) and exact else str(r["file"])

    def text(key: str) -> str:
        value = r.get(key)
        return "" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)

    return Row(rel, text("digit"), text("confidence"), text("status"), text("error"), text("sha256"),
               text("processed_at"), text("model"))  # fmt: skip


def wanted(rows: list[Row], statuses: tuple[str, ...], since: datetime | None) -> list[Row]:
    """Rows with a wanted status (and processed since ``since``), one per picture (its latest row)."""
    latest: dict[str, Row] = {}
    for row in rows:
        if row.status not in statuses or not row.sha256:  # no sha256: no bytes were ever read
            continue
        when = _time(row.processed_at)
        if since is not None and (when is None or when < since):
            continue
        if row.sha256 not in latest or row.processed_at >= latest[row.sha256].processed_at:
            latest[row.sha256] = row
    return sorted(latest.values(), key=lambda r: (r.processed_at, r.rel))


def _sha256(path: Path) -> str | None:
    """The file's bytes' sha256; None for a symbolic link, a folder, a pipe or a file that cannot be read."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        except OSError:
            return None
    return h.hexdigest()


def known_pictures(to: Path) -> set[str]:
    """The sha256 of every file in ``to`` (any folder: gathered, labelled, set aside)."""
    found: set[str] = set()
    for folder, subfolders, files in os.walk(to):
        subfolders[:] = [s for s in subfolders if not s.startswith(".")]
        for name in files:
            if not name.startswith("."):
                digest = _sha256(Path(folder) / name)
                if digest:
                    found.add(digest)
    return found


def _parts(rel: str) -> list[str]:
    """The input's path components as the daemon rebuilt them when it moved the input."""
    return [p for p in rel.split("/") if p not in ("", ".", "..")] or ["unnamed"]


class Archive:
    """Finds the archived file of a row under ``root`` (archive/ or failed/): where its name says, else a
    numbered or shortened variant of that name there or at the top of ``root`` - whichever hashes to the
    row. Folder listings are read once a run and searched by prefix, so a big archive costs one listing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names: dict[Path, list[str]] = {}

    def _listing(self, folder: Path) -> list[str]:
        if folder not in self._names:
            try:
                self._names[folder] = sorted(os.listdir(folder))
            except OSError:
                self._names[folder] = []
        return self._names[folder]

    def locate(self, row: Row) -> Path | None:
        parts = _parts(row.rel)
        name = parts[-1]
        prefix = name.split(".", 1)[0][:PREFIX_CHARS] if not name.startswith(".") else name[:PREFIX_CHARS]
        for folder in dict.fromkeys((self.root.joinpath(*parts[:-1]), self.root)):
            if _sha256(folder / name) == row.sha256:
                return folder / name
            names = self._listing(folder)
            at = bisect.bisect_left(names, prefix)
            while at < len(names) and names[at].startswith(prefix):
                if names[at] != name and _sha256(folder / names[at]) == row.sha256:
                    return folder / names[at]
                at += 1
        return None


def gathered_name(row: Row) -> str:
    """``<confidence, 2 decimals>-<stem>-<sha8><ext>`` (``error-...`` for an error row) from the input's
    name as dropped, control characters replaced: lowest confidence first in a listing; the sha8 ties it
    to its row."""
    name = _parts(row.rel)[-1]
    stem, dot, ext = name.rpartition(".")
    if not stem or len(ext) > MAX_EXT:  # no extension, a hidden name (".png"), or a long tail after a dot
        stem, dot, ext = name, "", ""
    stem = CONTROL.sub("_", stem)[:STEM_CHARS]
    try:
        lead = f"{math.floor(float(row.confidence) * 100) / 100:.2f}"  # cut, not rounded: 0.999 is not 1.00
    except ValueError:
        lead = "error"
    return f"{lead}-{stem}-{row.sha256[:8]}{dot}{CONTROL.sub('_', ext)}"


def copy_durably(data: bytes, folder: Path, name: str) -> Path:
    """``data`` as a new file ``folder/name`` (or a numbered variant): temporary, fsync, rename, fsync."""
    make_dirs(folder)
    tmp = folder / f".{name[:200]}.{os.getpid()}.tmp"
    write_synced(tmp, data)
    try:
        while True:
            target = unique_path(folder, name)
            try:
                rename_noreplace(tmp, target)
                break
            except FileExistsError:
                continue
    except BaseException:
        unlink(tmp, missing_ok=True)
        raise
    fsync_dir(folder)
    return target


def _check_folders(cfg: Config, to: Path, statuses: tuple[str, ...]) -> None:
    needed = [("outbox", cfg.outbox)]
    needed += [("archive", cfg.archive)] if set(statuses) & {"ok", "low_confidence"} else []
    needed += [("failed", cfg.failed)] if "error" in statuses else []
    for key, folder in needed:
        if not folder.is_dir():
            raise NoInputError(f"{key} {folder} does not exist: nothing to review (is this the service's config?)")
    if os.path.lexists(to) and not to.is_dir():
        raise ConfigError(f"--to {to} is not a folder")
    real = Path(os.path.realpath(to))
    for key in ("inbox", "outbox", "archive", "failed", "checkpoint"):
        home = Path(os.path.realpath(getattr(cfg, key)))
        if real == home or home in real.parents:
            raise ConfigError(f"--to {to} lies inside the {key} folder {home}: give a folder of its own")


def review(
    cfg: Config, to: Path, statuses: tuple[str, ...] = DEFAULT_STATUSES, since: datetime | None = None
) -> Summary:
    """Gather the wanted rows' archived inputs into ``to`` (see the module docstring); write the sheet."""
    from .review_sheet import write_sheet

    _check_folders(cfg, to, statuses)
    summary = Summary()
    rows = wanted(read_outbox(cfg.outbox, summary, since), statuses, since)
    make_dirs(to)
    meta = _read_meta(to)
    known = known_pictures(to) | set(meta)  # gathered before, even if a person has deleted it since: rejected
    limit = int(cfg.max_file_mb * 2**20)
    archives = {"archive": Archive(cfg.archive), "failed": Archive(cfg.failed)}
    for row in rows:
        if row.sha256 in known:
            summary.known += 1
            continue
        source = archives["failed" if row.status == "error" else "archive"].locate(row)
        if source is not None and source.stat().st_size > limit:
            summary.too_large += 1
            continue
        try:
            data = read_input(source, limit) if source else b""
        except ImageError:
            data = b""
        if source is None or hashlib.sha256(data).hexdigest() != row.sha256:  # gone, or changed since it was found
            summary.missing += 1
            continue
        folder = to / UNLABELLED / (row.digit if row.status != "error" and row.digit.isdigit() else ERROR_FOLDER)
        target = copy_durably(data, folder, gathered_name(row))
        known.add(row.sha256)
        meta[row.sha256] = {**asdict(row), "gathered_as": str(target.relative_to(to)), "source": str(source)}
        summary.gathered[row.status] = summary.gathered.get(row.status, 0) + 1
    atomic_write(to / META, json.dumps(meta, indent=1, sort_keys=True).encode())
    write_sheet(to, meta, cfg.low_confidence)
    return summary


def _read_meta(to: Path) -> dict[str, dict[str, str]]:
    try:
        meta = json.loads((to / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def summary_line(s: Summary, to: Path) -> str:
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(s.gathered.items()))
    parts = [
        f"review: {sum(s.gathered.values())} gathered into {to / UNLABELLED}" + (f" ({by_status})" if by_status else "")
    ]
    parts.append(f"{s.known} already gathered or labelled")
    if s.missing:
        parts.append(f"{s.missing} not found in archive/failed (collected or moved?)")
    if s.too_large:
        parts.append(f"{s.too_large} over max_file_mb")
    if s.unreadable_results:
        parts.append(f"{len(s.unreadable_results)} results files unreadable ({s.unreadable_results[0]})")
    return "; ".join(parts) + f"; contact sheet {to / 'index.html'}"
