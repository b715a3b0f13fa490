"""Accuracy on real handwriting by other writers, read as users' pictures by the real ``digitwatch predict``.

    python bench/real_handwriting.py [--model PATH] [--keep DIR] [--sets usps,semeion,uci] [--part held-out]

Sets (none of them in MNIST; ``training/writers.py``): 1,000 USPS zip-code digits and 1,592 Semeion
digits (``../shared/data/other-writers/``), 1,797 UCI optical-recognition digits by 43 writers
(shipped). By default only each set's *held-out* part, which no training or calibration reads.

Each digit is written as a PNG, dark ink on white paper, at its own size and enlarged 4x smoothly
(the two ways a user's picture of such a digit arrives). Prints accuracy per set and size, the
refusals, the ``ok`` rows that are wrong (what a downstream job would trust), and a JSON last line.
A set whose file is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from digitwatch.training import writers

SIZES = {"own size": 0, "4x smooth": 2}  # indices into writers.SIZES


def read(folder: Path, model: Path | None) -> dict[str, dict[str, str]]:
    extra = ["--model", str(model)] if model else []
    out = subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", "predict", *extra, "--format", "csv", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {Path(r["file"]).stem: r for r in csv.DictReader(io.StringIO(out))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model file to read with (default: predict's)")
    parser.add_argument("--keep", type=Path, help="write the pictures here (default: a temporary folder)")
    parser.add_argument("--sets", default=",".join(writers.LOADERS), help="comma-separated sets (default: all)")
    parser.add_argument("--part", default="held-out", choices=list(writers.PARTS), help="(default: held-out)")
    args = parser.parse_args()
    summary: dict[str, dict[str, float | int]] = {}
    with tempfile.TemporaryDirectory(prefix="digitwatch-real-") as tmp:
        root = args.keep or Path(tmp)
        for name in args.sets.split(","):
            if name not in writers.available():
                print(f"{name:8s} skipped: {writers.LOADERS[name][0]} not found")
                continue
            ws = writers.load(name).part(args.part)
            x, y = ws.x, ws.y
            for size, index in SIZES.items():
                folder = root / f"{name}-{size.replace(' ', '-')}"
                folder.mkdir(parents=True, exist_ok=True)
                for i, digit in enumerate(x):
                    (folder / f"{i:04d}.png").write_bytes(writers.picture(digit, index))
                rows = read(folder, args.model)
                got = [rows.get(f"{i:04d}", {}) for i in range(len(y))]
                right = np.array([r.get("digit") == str(label) for r, label in zip(got, y)])
                refused = sum(r.get("status") == "error" for r in got)
                ok_wrong = sum(r.get("status") == "ok" and not ok for r, ok in zip(got, right))
                ok_rows = sum(r.get("status") == "ok" for r in got)
                misses = np.bincount(y[~right], minlength=10).tolist()
                print(
                    f"{name:8s} {size:10s} {right.mean():7.2%} of {len(y):5d}  refused {refused:3d}  "
                    f"ok-but-wrong {ok_wrong:3d} of {ok_rows}  misses per digit 0-9: {misses}"
                )
                summary[f"{name}/{size}"] = {
                    "accuracy": round(float(right.mean()), 5),
                    "n": len(y),
                    "refused": int(refused),
                    "ok_wrong": int(ok_wrong),
                }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
