"""The bundled model on the synthetic handwriting styles of ``training.styles``, per style.

Every style is drawn N times (fresh random pen, slant, canvas...), written to PNG by Pillow and read
through the daemon's path (``recognize.picture_input`` on the bytes, then ``classify`` with the bundled
model). Styles the model reads badly are the ones training on them should fix; a style read badly
*after* such training, or by eye, is a renderer bug. Also prints sampling speed and, with
``--sheet PATH``, saves a contact sheet (one row per style) to look at.

    .venv/bin/python bench/styles.py [--n 100] [--seed 0] [--sheet /tmp/styles.png]
"""

from __future__ import annotations

import argparse
import io
import time
from collections import Counter

import numpy as np
from digitwatch.daemon.errors import ImageError
from digitwatch.daemon.infer import Predictor
from digitwatch.daemon.recognize import Limits, Prepared, classify, picture_input
from digitwatch.daemon.registry import bundled
from digitwatch.training import styles
from PIL import Image


def png(picture: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return buf.getvalue()


def read(pictures: list[np.ndarray], predictor: Predictor) -> list[int | None]:
    """The digit the daemon reads in each picture (None when it refuses the file)."""
    prepared = []
    for pic in pictures:
        try:
            prepared.append(Prepared("", picture_input(png(pic), Limits(max_digits=1))[0]))
        except ImageError as exc:
            prepared.append(Prepared("", None, error=str(exc)))
    rows = classify([str(i) for i in range(len(pictures))], prepared, predictor, 0.5)
    return [r.digit for r in rows]


def sheet(path: str, seed: int, cols: int = 10, cell: int = 96) -> None:
    names = [n for d in range(10) for n in styles.STYLES[d]]
    out = Image.new("L", (cols * cell, len(names) * cell), 128)
    for r, name in enumerate(names):
        for c in range(cols):
            im = Image.fromarray(styles.render_style(name, np.random.default_rng([seed, r, c])))
            im.thumbnail((cell - 4, cell - 4))
            out.paste(im, (c * cell + 2, r * cell + 2))
    out.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="pictures per style")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", default="", help="save a contact sheet PNG here")
    args = ap.parse_args()

    t0 = time.perf_counter()
    pics, _ = styles.sample(2000, args.seed)
    dt = time.perf_counter() - t0
    print(f"sampling: {len(pics) / dt:.0f} pictures/s on one core (mean {np.mean([p.size for p in pics]):.0f} px)")

    predictor = Predictor.load(bundled(), 0.9)
    print(f"\n{'style':<16}{'n':>5}{'read right':>12}   misread as")
    total = right = 0
    for digit, names in styles.STYLES.items():
        for k, name in enumerate(names):
            rngs = [np.random.default_rng([args.seed, 1, digit, k, i]) for i in range(args.n)]
            got = read([styles.render_style(name, rng) for rng in rngs], predictor)
            ok = sum(g == digit for g in got)
            wrong = Counter("refused" if g is None else str(g) for g in got if g != digit).most_common(3)
            print(f"{name:<16}{args.n:>5}{ok / args.n:>11.0%}   {', '.join(f'{d} x{c}' for d, c in wrong)}")
            total, right = total + args.n, right + ok
    print(f"{'all styles':<16}{total:>5}{right / total:>11.1%}")
    if args.sheet:
        sheet(args.sheet, args.seed)
        print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
