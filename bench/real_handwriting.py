"""Accuracy on real handwriting by other writers, read as users' pictures by the real ``digitwatch predict``.

    python bench/real_handwriting.py [--model PATH] [--keep DIR] [--sets usps,semeion,uci]

Sets (none of them in MNIST):
- ``usps``: 1,000 US Postal Service zip-code digits (``../shared/data/other-writers/usps-1000.npz``);
- ``semeion``: 1,592 Semeion digits, stretched to fill 16x16 and binarised (same folder);
- ``uci``: 1,797 UCI optical-recognition digits by 43 writers (shipped: tests/data/optdigits-8x8.csv.gz).

Each digit is written as a PNG, dark ink on white paper, at its own size and enlarged 4x smoothly
(the two ways a user's picture of such a digit arrives). Prints accuracy per set and size, the
refusals, the ``ok`` rows that are wrong (what a downstream job would trust), and a JSON last line.
A set whose file is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "other-writers"
UCI = ROOT / "tests" / "data" / "optdigits-8x8.csv.gz"
ENLARGE = 4  # a small scan enlarged, as a phone or a viewer would save it


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as d:
        return (255 - d["x"]).astype(np.uint8), d["y"].astype(np.int64)


def _uci() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(UCI, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return (255 - np.round(table[:, :64].reshape(-1, 8, 8) * 255 / 16)).astype(np.uint8), table[:, 64]


SETS: dict[str, tuple[Path, Callable[[], tuple[np.ndarray, np.ndarray]]]] = {
    "usps": (SHARED / "usps-1000.npz", lambda: _npz(SHARED / "usps-1000.npz")),
    "semeion": (SHARED / "semeion.npz", lambda: _npz(SHARED / "semeion.npz")),
    "uci": (UCI, _uci),
}
SIZES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "own size": lambda img: img,
    f"{ENLARGE}x smooth": lambda img: img.resize((img.width * ENLARGE, img.height * ENLARGE), Image.Resampling.BICUBIC),
}


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
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated sets (default: all)")
    args = parser.parse_args()
    summary: dict[str, dict[str, float | int]] = {}
    with tempfile.TemporaryDirectory(prefix="digitwatch-real-") as tmp:
        root = args.keep or Path(tmp)
        for name in args.sets.split(","):
            path, load = SETS[name]
            if not path.is_file():
                print(f"{name:8s} skipped: {path} not found")
                continue
            x, y = load()
            for size, draw in SIZES.items():
                folder = root / f"{name}-{size.replace(' ', '-')}"
                folder.mkdir(parents=True, exist_ok=True)
                for i, digit in enumerate(x):
                    draw(Image.fromarray(digit)).save(folder / f"{i:04d}.png")
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
