"""Does a change to the reading path read every picture exactly as before? For speed work.

    python bench/same_reading.py build DIR        # a fixed corpus of ~4,300 picture files into DIR
    python bench/same_reading.py save DIR OUT     # this checkout's readings of DIR (recognize.prepare) -> OUT
    python bench/same_reading.py compare DIR OUT  # this checkout's readings against OUT's, to the bit

The corpus: 2,000 MNIST test digits as the burst's 56x56 PNGs, ~1,760 USPS/Semeion/UCI digits at own size
and enlarged (bench/equivalence.py's), 25 pictures of each realistic kind (training/realistic.py),
270 rendered numbers (apart, close, overlapping, dated) and the files in tests/data. Each reading is
the whole ``Prepared`` (every candidate's views, boxes, shapes, the error or note); ``save`` and
``compare`` also print the CPU a picture per part of the corpus (a: MNIST PNGs, b: writers,
c: realistic, d: numbers, e: files).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import equivalence as eq
import numpy as np
from PIL import Image

from bench import small_image


def _png(a: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(a).save(out, "PNG")
    return out.getvalue()


def build(folder: Path) -> None:
    from digitwatch.training import numbers

    folder.mkdir(parents=True, exist_ok=True)
    x = eq.mnist_test()
    for i in range(0, len(x), max(1, len(x) // 2000)):
        (folder / f"a-mnist-{i:05d}.png").write_bytes(small_image(x[i]))
    for name, a in eq.writer_inputs()[::6]:
        (folder / f"b-{name}.png").write_bytes(_png(a))
    for name, data in eq.realistic_inputs(25):
        (folder / f"c-{name}").write_bytes(data)
    for source in ("mnist", "usps", "semeion"):
        for band, gaps in (("apart", (0.12, 0.6)), ("close", (0.0, 0.12)), ("over", (-0.15, 0.0))):
            for i, n in enumerate(numbers.render_set(source, 25, gaps, seed=5)):
                n.image.save(folder / f"d-{source}-{band}-{i:03d}.png")
        for i, n in enumerate(numbers.render_set(source, 15, (0.12, 0.6), seed=6, dated=True)):
            n.image.save(folder / f"d-{source}-dated-{i:03d}.png")
    for name, data in eq.file_inputs():
        (folder / f"e-{name}").write_bytes(data)
    print(f"{len(list(folder.iterdir()))} files in {folder}")


def readings(folder: Path) -> dict[str, Any]:
    from digitwatch.daemon.recognize import Limits, prepare

    limits, files = Limits(), sorted(folder.iterdir())
    for path in files[:50]:  # (first calls load the segment checker, fill caches)
        prepare(path, limits)
    out, cpu = {}, {}
    for path in files:
        started = time.process_time()
        out[path.name] = prepare(path, limits)
        cpu.setdefault(path.name[0], []).append(time.process_time() - started)
    for part, times in sorted(cpu.items()):
        print(f"{part}: {len(times):5d} pictures, {np.mean(times) * 1e6:7.0f} us CPU a picture")
    return out


def same(a: Any, b: Any) -> bool:
    """Two Prepared: the same error and note, and their candidates' every field equal to the bit."""
    if (a.error, a.note, a.x is None) != (b.error, b.note, b.x is None):
        return False
    if a.x is None:
        return True
    for f in dataclasses.fields(a.x):
        u, v = getattr(a.x, f.name), getattr(b.x, f.name)
        if f.name == "x":
            if len(u) != len(v) or any(p.shape != q.shape or not np.array_equal(p, q) for p, q in zip(u, v)):
                return False
        elif isinstance(u, np.ndarray):
            if u.shape != v.shape or not np.array_equal(u, v):
                return False
        elif u != v:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["build", "save", "compare"])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("readings", type=Path, nargs="?", help="the saved readings (save, compare)")
    args = ap.parse_args()
    if args.command == "build":
        build(args.corpus)
        return
    if args.readings is None:
        ap.error("save and compare need the readings file")
    out = readings(args.corpus)
    if args.command == "save":
        args.readings.write_bytes(pickle.dumps(out))
        return
    saved = pickle.loads(args.readings.read_bytes())  # (a file this script wrote)
    differ = [name for name in saved if name not in out or not same(saved[name], out[name])]
    print(f"{len(saved) - len(differ)} of {len(saved)} read exactly as saved")
    for name in differ[:20]:
        print("differs:", name)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
