"""Where the time goes: each stage of the daemon's path, timed alone, per image.

    python bench/stages.py [--n 1000]

Stages: read + hash, decode, preprocess (for small 56x56 PNGs, scan-sized JPEGs and a page
strewn with ink specks),
the network (per image, at batch 1 and 256), CSV formatting, and the file-system work per
image (claim rename, move to archive) and per batch (fsyncs, journal commit).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from digitwatch.training import realistic
from digitwatch.training.data import MNIST_SAMPLE

HERE = Path(__file__).resolve().parent


def per_item_ms(fn, items) -> float:
    started = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - started) * 1000 / len(items)


def speckled_pages(x: np.ndarray, n: int = 20) -> list[np.ndarray]:
    """Pages strewn with 1,000 small ink specks around one digit: the worst case for the work done
    per ink component (a search that compares every component with every other shows here)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    pages = []
    for i in range(n):
        page = np.full((380, 380), 230, np.uint8)
        digit = 255 - np.asarray(Image.fromarray(x[i % len(x)]).resize((120, 120)))
        page[130:250, 130:250] = np.minimum(page[130:250, 130:250], digit)
        for top, left, side in zip(rng.integers(0, 376, 1000), rng.integers(0, 376, 1000), rng.integers(2, 4, 1000)):
            page[top : top + side, left : left + side] = 60
        pages.append(page)
    return pages


def preprocess_or_refuse(gray: np.ndarray) -> None:
    """The daemon's reading of a picture: numbers allowed (max_digits 12), the segment checker judging
    wide pieces, in a decode process's way (preprocess.read)."""
    from digitwatch.daemon import segment_check
    from digitwatch.daemon.config import Config
    from digitwatch.daemon.errors import ImageError
    from digitwatch.daemon.preprocess import read

    try:
        read(gray, max_digits=Config().max_digits, one_digit=segment_check.bundled(threads=1))
    except ImageError:  # a page refused as noise costs its time too
        pass


def stage_costs(grays: list[np.ndarray]) -> list[tuple[str, float]]:
    """Per image, what each preprocessing stage costs (CPU ms; the zoom stage's includes its re-read, whose
    stages also count under their own names)."""
    from digitwatch.daemon.preprocess import pipeline

    with pipeline.timed(time.process_time) as times:  # (CPU time: the figures hold on a busy machine)
        for gray in grays:
            preprocess_or_refuse(gray)
    names = [stage for stage, _ in pipeline.STAGES] + ["box"]
    return [(stage, sum(times.get(stage, [])) * 1000 / len(grays)) for stage in names]


def main(argv: list[str] | None = None) -> int:
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.fsutil import fsync_dir
    from digitwatch.daemon.infer import Predictor, canary, quiet_native_stderr
    from digitwatch.daemon.journal import Batch, Journal, Move
    from digitwatch.daemon.registry import bundled
    from digitwatch.daemon.results import Result, to_csv

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    args = p.parse_args(argv)
    with np.load(MNIST_SAMPLE) as d:  # the shipped sample: the same digits on every machine
        x, y = d["x_test"], d["y_test"]
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="digitwatch-stages-") as tmp:
        root = Path(tmp)
        small = [f for f, _, _ in realistic.write_set(root / "small", x, y, ["small"], args.n, seed=1)]
        scans = [f for f, _, _ in realistic.write_set(root / "scans", x, y, ["scan"], max(50, args.n // 10), seed=2)]
        for name, files in (("small 56x56 PNG", small), ("scan-sized JPEG", scans)):
            data = [f.read_bytes() for f in files]
            rows.append(
                (f"{name}: read + sha256", per_item_ms(lambda f: hashlib.sha256(f.read_bytes()).digest(), files))
            )
            rows.append((f"{name}: decode", per_item_ms(decode, data)))
            grays = [decode(b).gray for b in data]
            rows.append((f"{name}: preprocess (as the daemon)", per_item_ms(preprocess_or_refuse, grays)))
            rows += [(f"{name}:   stage {stage}", ms) for stage, ms in stage_costs(grays)]
        rows.append(
            ("speckled page (1,000 ink specks): preprocess", per_item_ms(preprocess_or_refuse, speckled_pages(x)))
        )
        with quiet_native_stderr():
            import keras  # noqa: F401
        predictor = Predictor.load(bundled())
        x_canary, _ = canary()
        batch = np.resize(x_canary, (256, 28, 28))  # (digits: the cascade's first network is sure of most)
        predictor.warm_up(256)
        rows.append(("network, batch of 1 (per image)", per_item_ms(lambda _: predictor.predict(batch[:1]), range(50))))
        rows.append(
            ("network, batch of 256 (per image)", per_item_ms(lambda _: predictor.predict(batch), range(10)) / 256)
        )
        alone = np.ones(len(batch), bool)
        rows.append(
            (
                "network, batch of 256 through the cascade (per image)",
                per_item_ms(lambda _: predictor.predict(batch, quick=alone), range(10)) / 256,
            )
        )
        results = [Result(f"f{i}.png", 3, 0.99, "ok", "", "m", "t", "0" * 64) for i in range(256)]
        rows.append(("CSV formatting (per row)", per_item_ms(lambda _: to_csv(results), range(20)) / 256))
        inbox, work, archive = root / "inbox", root / "work", root / "archive"
        for folder in (inbox, work, archive):
            folder.mkdir()
        names = [f"f{i}.png" for i in range(args.n)]
        for name in names:
            (inbox / name).write_bytes(b"x")
        rows.append(
            ("claim: rename into work (per file)", per_item_ms(lambda n: os.rename(inbox / n, work / n), names))
        )
        rows.append(("move to archive (per file)", per_item_ms(lambda n: os.rename(work / n, archive / n), names)))
        rows.append(("fsync of a folder (per batch)", per_item_ms(lambda _: fsync_dir(archive), range(50))))
        journal = Journal(root / "journal.sqlite")
        moves = [Move(work / n, n, False, "") for n in names[:256]]

        def commit(i: int) -> None:
            journal.record("bench", Batch(f"b{i}", [(root / "a", root / "b")], moves))
            journal.forget(f"b{i}")

        rows.append(("journal record + forget, 256 files (per batch)", per_item_ms(commit, range(20))))
        journal.close()
    width = max(len(label) for label, _ in rows)
    for label, ms in rows:
        print(f"{label:<{width}}  {ms * 1000:9.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
