"""The ablation table of issue 28: each switchable rule of the reading path turned off alone, and what
that does to real handwriting, MNIST, the synthetic kinds and the tests/data files, and what it costs.

    python bench/ablation.py [--rules a,b] [--per-kind 100] [--out docs/ablation.md] [--json FILE] [--cache FILE]

In-process: the model is loaded once and every picture decoded once (``decode`` of its PNG/JPEG
bytes, as ``digitwatch predict`` reads it: ``bench/real_handwriting.py``'s pictures, MNIST test as
56x56 dark-on-light PNGs, ``training/realistic.py``'s kinds (seed 28), the JPEGs of tests/data); each
variant re-runs the preprocessing (``recognize.digit_input``'s logic, the finer retry included) and
the network only on the pictures whose views changed. Accuracy counts a refusal as wrong, as
bench/real_handwriting.py does. Cost: CPU time per picture (``time.process_time``) of the
preprocessing over the MNIST pictures (small) and the ``scan`` kind, minus the code as it is.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import pickle
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation_rules import RULES, off

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
MNIST = Path("/work/shared/data/mnist.npz")
WRITERS = Path("/work/shared/data/other-writers")
REAL = ("usps", "semeion", "uci")
SEED = 28


@dataclass
class Item:
    group: str  # e.g. "usps/own", "mnist", "synthetic/scan", "files"
    label: int
    data: bytes
    decoded: Any = None
    full: Any = None  # the full-size decode of a reduced JPEG, when the finer retry needs it


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def _real_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, file in (("usps", "usps-1000.npz"), ("semeion", "semeion.npz")):
        with np.load(WRITERS / file) as d:
            out[name] = ((255 - d["x"]).astype(np.uint8), d["y"].astype(np.int64))
    with gzip.open(DATA / "optdigits-8x8.csv.gz", "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    out["uci"] = ((255 - np.round(table[:, :64].reshape(-1, 8, 8) * 255 / 16)).astype(np.uint8), table[:, 64])
    return out


def corpus(per_kind: int, cache: Path | None = None) -> list[Item]:
    """Every picture (its group, label and file bytes), decoded; drawn once and kept in ``cache``."""
    from digitwatch.daemon.decode import decode

    if cache and cache.is_file():
        with open(cache, "rb") as fh:
            items = [Item(*row) for row in pickle.load(fh)]
    else:
        items = _draw(per_kind)
        if cache:
            with open(cache, "wb") as fh:
                pickle.dump([(it.group, it.label, it.data) for it in items], fh, protocol=pickle.HIGHEST_PROTOCOL)
    for item in items:
        item.decoded = decode(item.data)
    return items


def _draw(per_kind: int) -> list[Item]:
    from digitwatch.training import realistic

    items: list[Item] = []
    for name, (x, y) in _real_sets().items():  # as bench/real_handwriting.py writes them
        for digit, label in zip(x, y):
            img = Image.fromarray(digit)
            items.append(Item(f"{name}/own", int(label), _png(digit)))
            big = img.resize((img.width * 4, img.height * 4), Image.Resampling.BICUBIC)
            items.append(Item(f"{name}/4x", int(label), _png(np.asarray(big))))
            if name == "uci":  # as tests/test_other_writers.py enlarges it: square pixels (a paint program's zoom)
                items.append(Item("uci/4x-nearest", int(label), _png(np.kron(digit, np.ones((4, 4), np.uint8)))))
    with np.load(MNIST) as d:
        xt, yt = d["x_test"], d["y_test"]
    for digit, label in zip(xt, yt):  # 56x56 dark on light, as tests/conftest.py's dark_on_light
        small = Image.fromarray(255 - digit).resize((56, 56), Image.Resampling.BILINEAR)
        items.append(Item("mnist", int(label), _png(np.asarray(small))))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="digitwatch-ablation-") as tmp:
        for path, label, kind in realistic.write_set(Path(tmp), xt, yt, list(realistic.KINDS), per_kind, SEED):
            items.append(Item(f"synthetic/{kind}", label, path.read_bytes()))
    for path in sorted(DATA.glob("*.jpg")) + sorted(DATA.glob("*.png")):
        found = re.search(r"-(\d)(?=[-.])", path.name)
        if found:
            items.append(Item("files", int(found.group(1)), path.read_bytes()))
    return items


def read(item: Item) -> np.ndarray | None:
    """recognize.digit_input on the cached decode: the views, or None when the picture is refused."""
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.errors import ImageError
    from digitwatch.daemon.preprocess import FINE_WORK_MAX, WORK_MAX, FaintInkError, views

    try:
        try:
            return views(item.decoded.gray)
        except FaintInkError:
            if item.decoded.reduced:
                item.full = item.full or decode(item.data, reduce=False)
                return views(item.full.gray, FINE_WORK_MAX)
            if max(item.decoded.gray.shape) <= WORK_MAX:
                raise
            return views(item.decoded.gray, FINE_WORK_MAX)
    except ImageError:
        return None


@dataclass
class Run:
    views: list[np.ndarray | None]
    digits: np.ndarray  # the answer per picture, -1 when refused
    cpu_ms: dict[str, float] = field(default_factory=dict)  # preprocessing CPU ms per picture, by group


def run(items: list[Item], predictor: Any, base: Run | None = None) -> Run:
    from digitwatch.daemon.recognize import _read

    got: list[np.ndarray | None] = []
    spent: dict[str, float] = {}
    for item in items:
        started = time.process_time()
        got.append(read(item))
        spent[item.group] = spent.get(item.group, 0.0) + time.process_time() - started
    counts: dict[str, int] = {}
    for item in items:
        counts[item.group] = counts.get(item.group, 0) + 1
    digits = np.full(len(items), -1) if base is None else base.digits.copy()
    todo = [i for i, v in enumerate(got) if base is None or not _same(v, base.views[i])]
    digits[todo] = -1
    ready = [i for i in todo if got[i] is not None]
    for start in range(0, len(ready), 2048):
        chunk = ready[start : start + 2048]
        probs = _read([got[i] for i in chunk], predictor)  # type: ignore[misc]
        digits[chunk] = probs.argmax(axis=1)
    return Run(got, digits, {g: spent[g] * 1000 / counts[g] for g in spent})


def costs(items: list[Item], rule: str, rounds: int = 3) -> dict[str, float]:
    """CPU us per picture that switching ``rule`` off saves (negative) or adds, on 300 small pictures
    (MNIST 56x56) and 50 scans: the code as it is and the rule off timed in turn, best of ``rounds``
    each (on a shared machine the load moves; alternating keeps both under the same)."""
    sample = {
        "small": [it for it in items if it.group == "mnist"][:300],
        "scan": [it for it in items if it.group == "synthetic/scan"][:50],
    }
    best: dict[tuple[str, bool], float] = {}
    for _ in range(rounds):
        for switched in (False, True):
            with off([rule] if switched else []):
                for name, group in sample.items():
                    started = time.process_time()
                    for item in group:
                        read(item)
                    spent = (time.process_time() - started) * 1e6 / len(group)
                    best[name, switched] = min(best.get((name, switched), spent), spent)
    return {name: best[name, True] - best[name, False] for name in sample} | {
        f"{name} base": best[name, False] for name in sample
    }


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def figures(items: list[Item], r: Run) -> dict[str, tuple[int, int, int]]:
    """Per group: (right, refused, n)."""
    out: dict[str, tuple[int, int, int]] = {}
    labels = np.array([it.label for it in items])
    groups = np.array([it.group for it in items])
    for g in dict.fromkeys(groups):
        sel = groups == g
        out[g] = (int((r.digits[sel] == labels[sel]).sum()), int((r.digits[sel] == -1).sum()), int(sel.sum()))
    return out


def _costs_of(r: Run) -> dict[str, float]:
    return {"small": r.cpu_ms.get("mnist", 0.0), "scan": r.cpu_ms.get("synthetic/scan", 0.0)}


def main(argv: list[str] | None = None) -> int:
    from digitwatch.daemon.infer import Predictor, quiet_native_stderr
    from digitwatch.daemon.registry import bundled

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", default="", help="comma-separated rules (default: all); 'none' for the code only")
    p.add_argument("--per-kind", type=int, default=100, help="synthetic pictures per kind")
    p.add_argument("--out", type=Path, help="write the markdown table here")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--cache", type=Path, help="keep the drawn pictures here (a pickle) and reuse them")
    args = p.parse_args(argv)
    rules = list(RULES) if not args.rules else [] if args.rules == "none" else args.rules.split(",")
    with quiet_native_stderr():
        predictor = Predictor.load(bundled())
    started = time.time()
    items = corpus(args.per_kind, args.cache)
    print(f"corpus: {len(items)} pictures ({time.time() - started:.0f} s)", file=sys.stderr)
    base = run(items, predictor)
    table = {
        "(code as it is)": (figures(items, base), {f"{k} base": v * 1000 for k, v in _costs_of(base).items()}, base)
    }
    for rule in rules:
        started = time.time()
        with off([rule]):
            r = run(items, predictor, base)
        table[rule] = (figures(items, r), costs(items, rule), r)
        print(f"{rule}: {time.time() - started:.0f} s", file=sys.stderr)
    from ablation_table import markdown

    text = markdown(table, items, " ".join(["python bench/ablation.py", *(argv or sys.argv[1:])]))
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({k: [v[0], v[1]] for k, v in table.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
