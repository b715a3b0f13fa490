"""Images per second of ``digitwatch backfill`` on 1 and 2 workers against ``digitwatch predict``, on
the same pictures, and what a local Ray cluster costs to start.

    python bench/backfill.py [--pictures 5000] [--data mnist.npz] [--kind small]

The pictures are MNIST test digits drawn as the seed tutorial's inputs (``realistic`` kind
``small``: 40-80 px PNG, dark on white), written once. Each command is the real one, as a user runs
it; its fixed cost (a run on one file: start-up, model load, for backfill the cluster and actors) is
measured apart; predict's images/s is the work itself (fixed cost taken off), backfill's is the rate
from its first batch in to its last (its own summary line says it); the end-to-end figures include all.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from digitwatch.training import realistic
from digitwatch.training.data import default_mnist_path

SUMMARY = re.compile(r"\(([\d.]+) s starting Ray\).* ([\d.]+) images/s once the actors were up")  # its last line


def timed(args: list[str]) -> tuple[float, str]:
    """Wall seconds of ``digitwatch ARGS`` and its stderr."""
    started = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "digitwatch.daemon", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
    )
    return time.monotonic() - started, r.stderr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pictures", type=int, default=5000)
    p.add_argument("--data", type=Path, default=default_mnist_path())
    p.add_argument("--kind", default="small", help="realistic kind of picture (default: small)")
    args = p.parse_args(argv)
    with np.load(args.data) as d:
        x, y = d["x_test"], d["y_test"]
    rows = [("load average at start", " ".join(f"{v:.2f}" for v in os.getloadavg()))]
    with tempfile.TemporaryDirectory(prefix="digitwatch-backfill-bench-") as tmp:
        root = Path(tmp)
        realistic.write_set(root / "pics", x, y, [args.kind], args.pictures, seed=1)
        (root / "pics" / "labels.csv").unlink()  # pictures only
        one = str(next((root / "pics").iterdir()))
        fixed, _ = timed(["predict", one])
        total, _ = timed(["predict", str(root / "pics")])
        rows += [
            ("predict: fixed cost (1 file)", f"{fixed:.2f} s"),
            (
                f"predict: {args.pictures} files",
                f"{args.pictures / (total - fixed):.0f} images/s "
                f"({args.pictures / total:.0f} end to end, {total:.1f} s)",
            ),
        ]
        for workers in (1, 2):
            flags = ["--workers", str(workers)]
            fixed, _ = timed(["backfill", one, "--out", str(root / f"one-{workers}"), *flags])
            total, err = timed(["backfill", str(root / "pics"), "--out", str(root / f"out-{workers}"), *flags])
            ray_s, steady = SUMMARY.findall(err)[-1]
            rows += [
                (f"backfill {workers} worker(s): fixed cost (1 file)", f"{fixed:.2f} s"),
                (
                    f"backfill {workers} worker(s): {args.pictures} files",
                    f"{float(steady):.0f} images/s once the actors were up ({args.pictures / total:.0f} end to end, "
                    f"{total:.1f} s, ray.init {float(ray_s):.1f} s)",
                ),
            ]
    rows.append(("load average at end", " ".join(f"{v:.2f}" for v in os.getloadavg())))
    for label, value in rows:
        print(f"{label:<46} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
