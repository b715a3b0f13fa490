"""Images per second of ``digitwatch predict`` on a folder of small images and one of large scans.

    python bench/predict_speed.py [--small 2000] [--scans 300] [--data mnist.npz]

Runs the real command as a user would; start-up (model load) is measured once on a single
file and reported separately, so the images/s figures are for the work itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from digitwatch.training import realistic
from harness import mnist_file

HERE = Path(__file__).resolve().parent

REPO = HERE.parent


def timed_predict(paths: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", "predict", *paths],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=2000)
    p.add_argument("--scans", type=int, default=300)
    p.add_argument("--data", type=Path, default=mnist_file())
    args = p.parse_args(argv)
    with np.load(args.data) as d:
        x, y = d["x_test"], d["y_test"]
    with tempfile.TemporaryDirectory(prefix="digitwatch-predict-") as tmp:
        root = Path(tmp)
        realistic.write_set(root / "small", x, y, ["small"], args.small, seed=1)
        realistic.write_set(root / "scans", x, y, ["scan"], args.scans, seed=2)
        one = next((root / "small").glob("*.png"))
        startup = timed_predict([str(one)])
        rows = [("start-up (model load, 1 file)", f"{startup:.2f} s")]
        for name, n in (("small", args.small), ("scans", args.scans)):
            seconds = timed_predict([str(root / name)]) - startup
            rows.append((f"{name}: {n} files", f"{n / max(seconds, 1e-6):.0f} images/s"))
    for label, value in rows:
        print(f"{label:<32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
