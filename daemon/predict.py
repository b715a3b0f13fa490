"""``digitwatch predict``: files and folders -> result rows on stdout, in the outbox schema.

Exit codes a script can trust: 66 when a path given does not exist (it gets no row; the others do),
65 when every file was unreadable (all rows are errors), else 0. A progress bar on a terminal only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .config import Config
from .errors import ExitCode
from .infer import Predictor
from .pool import PreparePool
from .recognize import Limits, classify
from .registry import ModelRef
from .results import clean_text, to_csv, to_jsonl

CHUNK = 256


def expand(args: list[str]) -> Iterator[tuple[str, Path]]:
    """(name as shown, path) for every file: files as given, folders recursed in sorted order."""
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    yield full, Path(full)
        else:
            yield arg, path


def predict(args: list[str], ref: ModelRef, cfg: Config, fmt: str, out: BinaryIO) -> int:
    missing = [a for a in args if not os.path.lexists(a)]
    for arg in missing:
        print(f"digitwatch: error: no such file or folder: {arg}", file=sys.stderr)
    found = [a for a in args if a not in missing]
    items = list(expand(found))
    if not items:
        if not missing:
            print(f"digitwatch: error: no files in {' '.join(found)}", file=sys.stderr)
        return ExitCode.no_input
    predictor = Predictor.load(ref)
    limits = Limits.of(cfg)
    errors = 0
    # A bar only for a person watching folders go by: never on a pipe, a file or the journal.
    bar = _Bar(len(items), any(Path(a).is_dir() for a in found) and sys.stderr.isatty())
    pool = PreparePool(cfg.decode_workers, cfg.decode_processes, cfg.file_timeout_s)
    try:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            prepared = pool.prepare([p for _, p in chunk], limits, progress=bar.tick)
            names = [clean_text(n) for n, _ in chunk]
            results = classify(names, prepared, predictor, cfg.low_confidence, cfg.max_digits)
            errors += sum(r.status == "error" for r in results)
            if fmt == "csv":
                data = to_csv(results)
                out.write(data if start == 0 else data.split(b"\r\n", 1)[1])
            else:
                out.write(to_jsonl(results))
            out.flush()
    finally:
        pool.close()
        bar.close()
    if missing:
        return ExitCode.no_input
    return ExitCode.data_error if errors == len(items) else ExitCode.ok


class _Bar:
    """A tqdm bar on stderr, or nothing."""

    def __init__(self, total: int, shown: bool) -> None:
        self._tqdm = None
        if shown:
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)

    def tick(self) -> None:
        if self._tqdm is not None:
            self._tqdm.update(1)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
