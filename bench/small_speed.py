"""Decode + preprocess of a small clean picture (a 56x56 dark digit on white PNG), in CPU ms, for the
code as it is and, side by side in the same process, the code of another commit.

    python bench/small_speed.py [--against 76a1133] [--rounds 9] [--n 500]

The other commit's ``daemon/preprocess/`` and ``daemon/decode.py`` are taken with ``git archive``
into a temporary folder and imported by path; the two are timed in turn, round after round (on a
shared machine the load moves; alternating keeps both under the same). Prints the best and the
median per picture of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
MNIST = Path("/work/shared/data/mnist.npz")


def _load(name: str, path: Path, package: Path | None = None) -> ModuleType:
    places = [str(package)] if package else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=places)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pictures(n: int) -> list[bytes]:
    path = MNIST if MNIST.is_file() else REPO / "tests" / "data" / "mnist-sample.npz"
    with np.load(path) as d:
        x = d["x_test"][:n]
    out = []
    for digit in x:
        buf = io.BytesIO()
        Image.fromarray(255 - digit).resize((56, 56), Image.Resampling.BILINEAR).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", default="76a1133", help="the commit to compare with")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--n", type=int, default=500)
    args = p.parse_args(argv)
    import digitwatch.daemon  # noqa: F401  (the other code's relative imports resolve in it)
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.preprocess import views

    with tempfile.TemporaryDirectory(prefix="digitwatch-speed-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.against, "daemon/preprocess", "daemon/decode.py"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        old = Path(tmp) / "daemon"
        old_views = _load("digitwatch.daemon.preprocess_then", old / "preprocess" / "__init__.py", old / "preprocess")
        old_decode = _load("digitwatch.daemon.decode_then", old / "decode.py")
        runs: dict[str, Callable[[bytes], object]] = {
            args.against: lambda b: old_views.views(old_decode.decode(b).gray),
            "now": lambda b: views(decode(b).gray),
        }
        data = pictures(args.n)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for fn in runs.values():  # (warm up)
            for b in data[:50]:
                fn(b)
        for _ in range(args.rounds):
            for name, fn in runs.items():
                started = time.process_time()
                for b in data:
                    fn(b)
                times[name].append((time.process_time() - started) * 1000 / len(data))
    for name, ms in times.items():
        print(
            f"{name:>8s}: decode + preprocess of a 56x56 PNG: best {min(ms):.3f} ms, median {np.median(ms):.3f} ms CPU"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
