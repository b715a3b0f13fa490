"""Accuracy on handwriting by people MNIST never saw: the UCI optical-recognition digits.

    python bench/other_writers.py [--keep DIR] [--model PATH]

1,797 digits by 43 writers on NIST forms (tests/data/optdigits-8x8.csv.gz; Alpaydin & Kaynak, UCI
Machine Learning Repository, CC BY 4.0), each an 8x8 picture of 17 grey levels, written as PNG
files dark on white - as they are, zoomed 4x with nearest-neighbour pixels and zoomed 4x smoothly -
and read by the real ``digitwatch predict`` (its default model, or ``--model``). Prints accuracy per
variant and the misses per digit.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "optdigits-8x8.csv.gz"
VARIANTS = {
    "8x8 as drawn": lambda img: img,
    "32x32 pixels (4x nearest)": lambda img: img.resize((32, 32), Image.Resampling.NEAREST),
    "32x32 smooth (4x bicubic)": lambda img: img.resize((32, 32), Image.Resampling.BICUBIC),
}


def load() -> tuple[np.ndarray, np.ndarray]:
    """Dark ink on white, uint8 (1797, 8, 8), and the labels."""
    with gzip.open(DATA, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return (255 - np.round(table[:, :64].reshape(-1, 8, 8) * 255 / 16)).astype(np.uint8), table[:, 64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the pictures here (default: a temporary folder)")
    parser.add_argument("--model", type=Path, help="a .keras model to read them with (default: predict's)")
    args = parser.parse_args()
    x, y = load()
    with tempfile.TemporaryDirectory(prefix="digitwatch-writers-") as tmp:
        root = args.keep or Path(tmp)
        for k, (name, draw) in enumerate(VARIANTS.items()):
            folder = root / f"variant-{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i, digit in enumerate(x):
                draw(Image.fromarray(digit)).save(folder / f"{i:04d}.png")
            model = ["--model", str(args.model)] if args.model else []
            out = subprocess.run(
                [sys.executable, "-m", "digitwatch.daemon", "predict", *model, "--format", "csv", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            read = {Path(r["file"]).stem: r for r in csv.DictReader(io.StringIO(out))}
            right = np.array([read[f"{i:04d}"]["digit"] == str(label) for i, label in enumerate(y)])
            refused = sum(1 for r in read.values() if r["status"] == "error")
            misses = np.bincount(y[~right], minlength=10)
            print(
                f"{name:28s} {right.mean():7.2%} of {len(y)}   refused {refused:3d}   misses per digit 0-9: {misses.tolist()}"
            )


if __name__ == "__main__":
    main()
