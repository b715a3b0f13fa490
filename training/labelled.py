"""A folder of a user's labelled pictures, read exactly as the daemon reads its inbox.

Two layouts, which may be mixed as long as no picture gets two different labels:

- **folders**: ``DIR/0/`` ... ``DIR/9/`` hold the pictures of that digit, in sub-folders too;
- **a table**: ``DIR/labels.csv`` with the columns ``file,digit`` (``file`` relative to DIR).

Hidden files and names tools write before renaming (the daemon's default ``ignore_patterns``) are
skipped, and so is ``DIR/unlabelled/``, where ``digitwatch review`` puts pictures still waiting for a
person's label. Any other file counts: the daemon decides what a picture is by its content, not its
name, and :func:`served_inputs` lists each file it refuses with the daemon's own reason.

:func:`split` keeps a fixed share of each digit's pictures apart, chosen by a hash of each picture's
bytes: a picture never changes part when others are added, removed, moved or relabelled, and two copies
of one picture always land in the same part (a copy on each side would flatter the held-out figure).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from digitwatch.daemon.config import Config
from digitwatch.daemon.errors import DataError, ImageError
from digitwatch.daemon.recognize import Limits, digit_input, read_input

LABELS_CSV = "labels.csv"
UNLABELLED = "unlabelled"  # review's pictures waiting for a person: never training data until moved out
DIGITS = tuple(str(d) for d in range(10))
IGNORED = Config.ignore_patterns  # what the daemon leaves alone in its inbox: hidden files, partial downloads
# Below this many files, or bytes, one process reads them faster than a pool starts (~1 s to spawn and import;
# 1,000 small PNG scans, 1.5 MB, read in 0.5 s; a 2 MB phone photo takes ~50 ms).
PARALLEL_MIN = 64
PARALLEL_MIN_BYTES = 32 * 2**20
CHUNKS_PER_WORKER = 4  # a few chunks a worker, so one chunk of big photos does not leave the others idle
HASH_SPACE = float(1 << 64)  # split: the first 8 bytes of a hash, as a fraction of this, decide the part

Item = tuple[Path, int]


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED)


def _from_folders(root: Path) -> dict[Path, tuple[int, str]]:
    """Every picture under ``root/0`` ... ``root/9`` (recursed, symbolic links to folders not followed)."""
    found: dict[Path, tuple[int, str]] = {}
    for entry in sorted(root.iterdir()):
        if _ignored(entry.name) or not entry.is_dir() or entry.name == UNLABELLED:
            continue
        if entry.name.isdigit() and entry.name not in DIGITS:
            raise DataError(f"{entry}: a digit folder is named 0 to 9, not {entry.name!r}")
        if entry.name not in DIGITS or entry.is_symlink():
            continue
        for folder, subfolders, files in os.walk(entry):
            subfolders[:] = [s for s in subfolders if not _ignored(s)]
            for name in files:
                if not _ignored(name):
                    path = Path(folder) / name
                    found[path] = (int(entry.name), str(path.relative_to(root)))
    return found


def _from_table(root: Path) -> dict[Path, tuple[int, str]]:
    """The rows of ``root/labels.csv``: ``file,digit``, the file relative to ``root``."""
    table = root / LABELS_CSV
    found: dict[Path, tuple[int, str]] = {}
    try:
        with open(table, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"file", "digit"} - {(c or "").strip() for c in reader.fieldnames or ()}
            if missing:
                raise DataError(f"{table}: needs the columns file,digit (missing {', '.join(sorted(missing))})")
            for raw in reader:
                row = {(k or "").strip(): v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
                where = f"{table} line {reader.line_num}"
                if not row["file"] and not row["digit"]:
                    continue  # a blank line
                if row["digit"] not in DIGITS:
                    raise DataError(f"{where}: digit {row['digit']!r} for {row['file']!r} is not one of 0-9")
                path = _inside(root, row["file"], where)
                found[path] = (int(row["digit"]), str(path.relative_to(root)))
    except UnicodeDecodeError as exc:
        raise DataError(f"{table}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{table}: {exc}") from None
    return found


def _inside(root: Path, name: str, where: str) -> Path:
    """``root/name`` normalised, if it is an existing file inside ``root``; else DataError."""
    if not name:
        raise DataError(f"{where}: no file named")
    path = Path(os.path.normpath(root / name))
    if Path(name).is_absolute() or (path != root and root not in path.parents):
        raise DataError(f"{where}: {name!r} lies outside {root}: name files relative to it")
    if not path.is_file():
        raise DataError(f"{where}: {name!r} does not exist ({path})")
    return path


def scan(root: Path) -> list[Item]:
    """Every labelled picture in ``root`` (either layout, or both), sorted by path: ``(path, digit)``.

    DataError (exit 65) when ``root`` is not a folder or holds no labelled file, when a label or a
    digit folder is outside 0-9, when ``labels.csv`` names a file that does not exist (or lies outside
    ``root``), and when the two layouts give one file different digits."""
    root = Path(os.path.normpath(root))
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of labelled pictures (folders 0/ to 9/, or {LABELS_CSV})")
    folders = _from_folders(root)
    table = _from_table(root) if (root / LABELS_CSV).is_file() else {}
    for path, (digit, rel) in table.items():
        if path in folders and folders[path][0] != digit:
            raise DataError(f"{rel}: labelled {folders[path][0]} by its folder and {digit} in {LABELS_CSV}")
    labelled = {**folders, **table}
    if not labelled:
        raise DataError(f"{root}: no labelled pictures (put them in folders 0/ to 9/, or list them in {LABELS_CSV})")
    return sorted((path, digit) for path, (digit, _) in labelled.items())


def _fraction(path: Path, seed: int) -> float:
    """Where a picture falls in [0, 1): a hash of ``seed`` and its bytes (of its name, if unreadable)."""
    try:
        key = read_input(path, Limits().max_bytes)
    except ImageError:
        key = os.fsencode(path.name)
    digest = hashlib.sha256(seed.to_bytes(8, "little", signed=True) + key).digest()
    return int.from_bytes(digest[:8], "little") / HASH_SPACE


def split(items: list[Item], held_out: float = 0.2, seed: int = 0) -> tuple[list[Item], list[Item]]:
    """``(train, held_out)``: each digit's pictures whose hash falls below ``held_out`` are held out.

    Fixed per picture (see the module docstring), so each digit is held out at ``held_out`` on
    average - 20 +- 4 of a digit's 100 pictures at 0.2 - rather than to the picture; a digit with
    only a few pictures may have none held out. Both parts keep ``items``' order."""
    if not 0.0 <= held_out < 1.0:
        raise DataError(f"held-out share {held_out} must be at least 0 and below 1")
    train: list[Item] = []
    kept: list[Item] = []
    for item in items:
        (kept if _fraction(item[0], seed) < held_out else train).append(item)
    return train, kept


def _read_chunk(paths: list[Path]) -> list[np.ndarray | str]:
    """Each file's first view as the daemon reads it (float32 28x28), or why the daemon refuses it."""
    limits = Limits()
    out: list[np.ndarray | str] = []
    for path in paths:
        try:
            data = read_input(path, limits.max_bytes)
            out.append(digit_input(data, limits.max_pixels, limits.max_memory)[0][0].astype(np.float32))
        except ImageError as exc:
            out.append(str(exc))
        except Exception as exc:  # as the daemon's prepare(): any failure is this file's, not the run's
            out.append(f"cannot process: {type(exc).__name__}: {exc}")
    return out


def _bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.lstat(path).st_size
        except OSError:
            pass
    return total


def served_inputs(
    items: list[Item], workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[Path, str]]]:
    """``(x, y, refused)``: the network's inputs for ``items`` as the daemon reads them (the first view,
    float32 (M, 28, 28)), their digits (int64 (M,)), and each file the daemon refuses with its reason.

    ``workers``: processes to read in (default: one a core, once there are enough files and bytes to
    pay for starting them - a thousand small scans take half a second in one)."""
    paths = [path for path, _ in items]
    if workers is None:
        workers = (os.cpu_count() or 1) if len(paths) >= PARALLEL_MIN and _bytes(paths) >= PARALLEL_MIN_BYTES else 1
    if workers <= 1 or len(paths) < 2:
        results = _read_chunk(paths)
    else:
        bounds = np.linspace(0, len(paths), workers * CHUNKS_PER_WORKER + 1).astype(int)
        chunks = [paths[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        # spawn, not fork (as daemon/procpool.py): train calls this with TensorFlow's threads running.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = [r for part in pool.map(_read_chunk, chunks) for r in part]
    x = [r for r in results if not isinstance(r, str)]
    y = [digit for (_, digit), r in zip(items, results) if not isinstance(r, str)]
    refused = [(path, r) for (path, _), r in zip(items, results) if isinstance(r, str)]
    xs = np.stack(x).astype(np.float32) if x else np.zeros((0, 28, 28), np.float32)
    return xs, np.asarray(y, dtype=np.int64), refused
