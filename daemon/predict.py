"""``digitwatch predict``: files and folders -> result rows on stdout, in the outbox schema."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .config import Config
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
    predictor = Predictor.load(ref)
    limits = Limits(cfg.max_pixels, int(cfg.max_file_mb * 2**20), cfg.decode_memory_mb * 2**20)
    items = list(expand(args))
    show_progress = len(items) >= 1000
    done = 0
    pool = PreparePool(cfg.decode_workers, cfg.decode_processes, cfg.file_timeout_s)
    try:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            prepared = pool.prepare([p for _, p in chunk], limits)
            names = [clean_text(n) for n, _ in chunk]
            results = classify(names, prepared, predictor, cfg.low_confidence)
            if fmt == "csv":
                data = to_csv(results)
                out.write(data if start == 0 else data.split(b"\r\n", 1)[1])
            else:
                out.write(to_jsonl(results))
            out.flush()
            done += len(chunk)
            if show_progress:
                print(f"\r{done}/{len(items)} files", end="", file=sys.stderr, flush=True)
    finally:
        pool.close()
    if show_progress:
        print(file=sys.stderr)
    return 0
