"""Remake ``tests/data/numbers/``: a few handwritten numbers per segmentation case (grey PNG), for the daemon's tests.

    python bench/make_number_samples.py [--out tests/data/numbers]

Digits come from the first 1,000 MNIST test digits (the same in the full archive and in the shipped
sample, so any checkout remakes the same pictures) and from UCI's held-out part (shipped). Everything
is seeded: running it again gives the same files. Writes ``<case>-<k>.png``, ``labels.csv``
(file,text,digits,case) and ``boxes.json`` (each file's digit boxes x0,y0,x1,y1, gap and height H).
"""

from __future__ import annotations

import argparse
import csv
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from digitwatch.training import numbers
from digitwatch.training.numbers import K, Number
from scipy import ndimage

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "numbers"
MNIST_SHARED = 1000  # the sample ships MNIST's first 1,000 test digits; the full archive starts with them
HEIGHT = (30.0, 46.0)  # digit height H of the samples, px: readable, and every PNG stays under 30 KB
LONG_HEIGHT = 30.0  # H of the 13-digit sample (its picture is 13 digits wide)
MAX_BYTES = 30_000


def pieces(ink: np.ndarray, least: int = 6) -> int:
    """Connected pieces of ink (8-connected) of at least ``least`` pixels."""
    labels, _ = ndimage.label(ink, structure=np.ones((3, 3)))
    return int((np.bincount(labels.ravel())[1:] >= least).sum())


class Samples:
    def __init__(self) -> None:
        x, y = numbers.digits_of("mnist")
        self.sets = {"mnist": (x[:MNIST_SHARED], y[:MNIST_SHARED]), "uci": numbers.digits_of("uci")}

    def pick(self, rng: np.random.Generator, source: str, text: str) -> list[np.ndarray]:
        """One random digit of ``source`` for each digit of ``text``, in order."""
        x, y = self.sets[source]
        return [x[rng.choice(np.flatnonzero(y == int(c)))] for c in text]

    def number(
        self,
        case: str,
        k: int,
        gap: float,
        text: str,
        source: str = "mnist",
        style: str = "paper",
        digits: Callable[[np.random.Generator], list[np.ndarray]] | None = None,
        height: float | None = None,
    ) -> Number:
        """``text`` (a dash where it has one) written by the renderer, seeded by (case, k)."""
        rng = np.random.default_rng([zlib.crc32(case.encode()), k])
        plain = text.replace("-", "")
        glyphs = digits(rng) if digits else self.pick(rng, source, plain)
        dash = text.index("-") if "-" in text else None
        height = float(rng.uniform(*HEIGHT)) if height is None else height
        return numbers.compose(
            rng, glyphs, [int(c) for c in plain], gap, dash_at=dash, style=style, source=source, height=height
        )


def random_text(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def five_flags(samples: Samples) -> list[np.ndarray]:
    """MNIST test 5s whose flag floats free of the body (two pieces of ink)."""
    x, y = samples.sets["mnist"]
    return [x[i] for i in np.flatnonzero(y == 5) if pieces(x[i] > 255 * K.ink) >= 2]


def cases(samples: Samples) -> list[tuple[str, Number]]:
    texts = np.random.default_rng(2024)
    free = five_flags(samples)
    made: list[tuple[str, Number]] = []
    for k, (source, style) in enumerate([("mnist", "paper"), ("uci", "photo")]):
        made += [
            ("apart", samples.number("apart", k, 0.3, random_text(texts, 5), source, style)),
            ("close", samples.number("close", k, 0.05, random_text(texts, 4), source, style)),
            ("touching", samples.number("touching", k, 0.0, random_text(texts, 3), source, style)),
            ("overlapping", samples.number("overlapping", k, -0.08, random_text(texts, 3), source, style)),
            ("one_seven", samples.number("one_seven", k, 0.15, ["17", "71"][k], source, style)),
            ("single", samples.number("single", k, 0.0, random_text(texts, 1), source, style)),
        ]
    for k, five in enumerate(free[:2]):  # the 5 in the middle, two ordinary digits round it
        rest = random_text(texts, 2)

        def with_five(rng: np.random.Generator, rest: str = rest, five: np.ndarray = five) -> list[np.ndarray]:
            a, b = samples.pick(rng, "mnist", rest)
            return [a, five, b]

        number = samples.number("five_flag", k, 0.25, rest[0] + "5" + rest[1], digits=with_five, style="paper")
        made.append(("five_flag", number))
    made.append(("zip4", samples.number("zip4", 0, 0.15, "94107-1234")))
    made.append(("zip4", samples.number("zip4", 1, 0.06, "94107-1234", style="photo")))
    made.append(("thirteen", samples.number("thirteen", 0, 0.3, random_text(texts, 13), height=LONG_HEIGHT)))
    return made


def check(case: str, number: Number) -> None:
    """The sample shows what its case says: a free-floating flag stays free once rendered."""
    if case == "five_flag":
        x0, y0, x1, y1 = number.boxes[1]
        gray = np.asarray(number.image.convert("L"), np.float32)[y0:y1, x0:x1]
        paper = np.median(np.asarray(number.image.convert("L")))
        if pieces(gray < paper - 0.5 * (paper - gray.min()), least=10) < 2:
            raise SystemExit(f"five_flag: the 5's flag joined its body when rendered ({number.text})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    rows, boxes, seen = [], {}, dict[str, int]()
    for case, number in cases(Samples()):
        check(case, number)
        seen[case] = seen.get(case, 0) + 1
        name = f"{case}-{seen[case]}.png"
        number.image.convert("L").save(out / name, format="PNG", optimize=True)  # grey: RGB grain doubles the bytes
        size = (out / name).stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{name}: {size} bytes, more than {MAX_BYTES}")
        rows.append((name, number.text, number.digits, case))
        boxes[name] = {"boxes": number.boxes, "gap": number.gap, "height": round(number.height, 2)}
        print(f"{name:18s} {number.text:>14s} {number.image.size[0]:4d}x{number.image.size[1]:<4d} {size:6d} B")
    with open(out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "text", "digits", "case"])
        writer.writerows(rows)
    (out / "boxes.json").write_text(json.dumps(boxes, indent=1) + "\n")


if __name__ == "__main__":
    main()
