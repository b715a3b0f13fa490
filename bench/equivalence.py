"""Does the preprocessing package read every picture as the old single module did?

    python bench/equivalence.py [--old /tmp/old_preprocess.py] [--cache DIR] [--corpora a,b] [--limit N]

Runs ``normalize`` and ``views`` (and, where the serving path would, the finer retry of
``recognize.digit_input``) of both the old module (``git show 9956b5a:daemon/preprocess.py``,
imported by path) and ``digitwatch.daemon.preprocess`` over a fixed corpus, and prints per corpus
how many outputs are identical, within 1/255, or different (an error counts as an output: the
same exception type is identical). Corpora:

* ``mnist-raw``: the 10,000 MNIST test digits as arrays (28x28, white on black);
* ``mnist-56``: the same written dark-on-light at 56x56 (tests/conftest.py ``dark_on_light``);
* ``realistic``: 100 pictures of each kind of training/realistic.py (seed 28), as file bytes
  read through ``decode`` like the daemon;
* ``other-writers``: USPS and Semeion (own size and 4x bicubic) and UCI 8x8 (as drawn, 4x nearest,
  4x bicubic), dark on white;
* ``files``: the JPEG/PNG files in tests/data.

The corpus and the old module's outputs are cached in ``--cache`` (the old one is slow to re-run).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
MNIST = Path("/work/shared/data/mnist.npz")
WRITERS = Path("/work/shared/data/other-writers")
TOLERANCE = 1 / 255 + 1e-6

Input = tuple[str, Any]  # (name, 2-D array, or file bytes read through decode)


def load_old(path: Path) -> ModuleType:
    """The old single-module preprocess, imported by path inside the daemon package (it imports .errors)."""
    spec = importlib.util.spec_from_file_location("digitwatch.daemon._old_preprocess", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dark_on_light(digit: np.ndarray, size: int = 56) -> np.ndarray:
    return np.asarray(Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR))


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def mnist_test(limit: int | None = None) -> np.ndarray:
    path = MNIST if MNIST.is_file() else DATA / "mnist-sample.npz"
    with np.load(path) as d:
        return d["x_test"][:limit]


def realistic_inputs(per_kind: int, seed: int = 28) -> list[Input]:
    from digitwatch.training import realistic

    x = mnist_test()
    y = np.zeros(len(x), np.int64)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="digitwatch-equiv-") as tmp:
        rows = realistic.write_set(Path(tmp), x, y, list(realistic.KINDS), per_kind, seed=seed)
        return [(path.name, path.read_bytes()) for path, _, _ in rows]


def writer_inputs() -> list[Input]:
    out: list[Input] = []
    for name in ("usps-1000", "semeion"):
        with np.load(WRITERS / f"{name}.npz") as d:
            x = d["x"]
        for i, digit in enumerate(x):
            dark = 255 - digit
            out.append((f"{name}-{i}", dark))
            out.append((f"{name}-{i}-x4", np.asarray(Image.fromarray(dark).resize((64, 64), Image.Resampling.BICUBIC))))
    with gzip.open(DATA / "optdigits-8x8.csv.gz", "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    uci = (255 - np.round(table[:, :64].reshape(-1, 8, 8) * 255 / 16)).astype(np.uint8)
    for i, digit in enumerate(uci):
        img = Image.fromarray(digit)
        out.append((f"uci-{i}", digit))
        out.append((f"uci-{i}-nearest", np.asarray(img.resize((32, 32), Image.Resampling.NEAREST))))
        out.append((f"uci-{i}-bicubic", np.asarray(img.resize((32, 32), Image.Resampling.BICUBIC))))
    return out


def file_inputs() -> list[Input]:
    return [(p.name, p.read_bytes()) for p in sorted(DATA.glob("*")) if p.suffix in (".jpg", ".png")]


BUILDERS: dict[str, Callable[[int | None], list[Input]]] = {
    "mnist-raw": lambda n: [(f"mnist-{i}", d) for i, d in enumerate(mnist_test(n))],
    "mnist-56": lambda n: [(f"mnist56-{i}", dark_on_light(d)) for i, d in enumerate(mnist_test(n))],
    "realistic": lambda n: realistic_inputs(n or 100),
    "other-writers": lambda n: writer_inputs()[:n],
    "files": lambda n: file_inputs(),
}


def outputs(module: ModuleType, item: Any) -> dict[str, Any]:
    """normalize's and views' outputs for one input (arrays, or the exception's type name); for file
    bytes, the serving path's reading (recognize.digit_input: the finer retry on FaintInkError)."""
    from digitwatch.daemon.decode import decode
    from digitwatch.daemon.errors import ImageError

    def run(fn: Callable[[], np.ndarray]) -> Any:
        try:
            return fn()
        except ImageError as exc:
            return type(exc).__name__
        except Exception as exc:  # a crash is an output too: it must stay the same
            return f"crash:{type(exc).__name__}"

    if isinstance(item, bytes):
        decoded = decode(item)
        gray = decoded.gray
        out = {"normalize": run(lambda: module.normalize(gray)), "views": run(lambda: module.views(gray))}
        if isinstance(out["views"], str) and out["views"] == "FaintInkError":
            fine = decode(item, reduce=False) if decoded.reduced else decoded
            if decoded.reduced or max(gray.shape) > module.WORK_MAX:
                out["fine"] = run(lambda: module.views(fine.gray, module.FINE_WORK_MAX))
        return out
    return {"normalize": run(lambda: module.normalize(item)), "views": run(lambda: module.views(item))}


def verdict(old: Any, new: Any) -> str:
    if isinstance(old, str) or isinstance(new, str):
        return "identical" if old == new else "different"
    if old.shape != new.shape:
        return "different"
    if np.array_equal(old, new):
        return "identical"
    return "within 1/255" if float(np.abs(old - new).max()) <= TOLERANCE else "different"


def compare(olds: list[dict[str, Any]], news: list[dict[str, Any]]) -> Iterator[tuple[int, str]]:
    """(input index, verdict) per input: its worst verdict over the outputs."""
    order = ("identical", "within 1/255", "different")
    for i, (old, new) in enumerate(zip(olds, news)):
        keys = set(old) | set(new)
        yield i, max((verdict(old.get(k, "none"), new.get(k, "none")) for k in keys), key=order.index)


def cached(path: Path, make: Callable[[], Any]) -> Any:
    if path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return value


REFERENCE = DATA / "preprocess-reference.npz"
SAMPLE_MNIST = 300  # mnist-sample.npz test digits, raw and as 56x56 dark-on-light
SAMPLE_PER_KIND = 4  # realistic pictures per kind (the smallest files of the cached corpus)


def reference_inputs(realistic: list[Input]) -> list[Input]:
    """The CI test's small corpus: MNIST sample digits (raw, 56x56), tests/data's files, a few realistic."""
    with np.load(DATA / "mnist-sample.npz") as d:
        x = d["x_test"][:SAMPLE_MNIST]
    by_kind: dict[str, list[Input]] = {}
    for name, data in realistic:
        by_kind.setdefault(name.rsplit("_", 1)[0], []).append((name, data))
    picked = [item for items in by_kind.values() for item in sorted(items, key=lambda it: len(it[1]))[:SAMPLE_PER_KIND]]
    noise = (np.random.default_rng(0).normal(200, 4, (64, 64))).clip(0, 255).astype(np.uint8)
    refused = [
        ("blank", np.full((56, 56), 255, np.uint8)),
        ("noise", noise),
        ("two-digits", np.hstack([dark_on_light(x[0]), dark_on_light(x[1])])),
        ("three-d", np.zeros((8, 8, 3), np.uint8)),
    ]
    return [
        *refused,
        *[(f"mnist-{i}", d) for i, d in enumerate(x)],
        *[(f"mnist56-{i}", dark_on_light(d)) for i, d in enumerate(x)],
        *file_inputs(),
        *picked,
    ]


def write_reference(old: ModuleType, realistic: list[Input], path: Path) -> None:
    """The old module's outputs on the CI corpus, with the realistic pictures' bytes (the others are
    rebuilt by the test): per input its views, its normalize, and the error's type name or ''."""
    items = reference_inputs(realistic)
    arrays: dict[str, np.ndarray] = {}
    names, errors = [], []
    for k, (name, item) in enumerate(items):
        out = outputs(old, item)
        names.append(name)
        error = "|".join(f"{key}={v}" for key, v in sorted(out.items()) if isinstance(v, str))
        errors.append(error)
        for key, value in out.items():
            if not isinstance(value, str):
                arrays[f"{key}_{k}"] = value
        if isinstance(item, bytes):
            arrays[f"bytes_{k}"] = np.frombuffer(item, np.uint8)
    np.savez_compressed(path, names=np.array(names), errors=np.array(errors), **arrays)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", type=Path, default=Path("/tmp/old_preprocess.py"))
    p.add_argument("--cache", type=Path, default=Path("/tmp/stages-equiv"))
    p.add_argument("--corpora", default=",".join(BUILDERS))
    p.add_argument("--limit", type=int, default=None, help="inputs per corpus (realistic: per kind)")
    p.add_argument("--show", type=int, default=5, help="names of this many differing inputs per corpus")
    p.add_argument("--write-reference", type=Path, help=f"write the CI test's reference (e.g. {REFERENCE}) and stop")
    p.add_argument(
        "--reference-from",
        choices=("old", "new"),
        default="old",
        help="whose outputs the reference holds: the old module's, or the package's as it is now",
    )
    args = p.parse_args(argv)
    from digitwatch.daemon import preprocess as new

    if args.write_reference:
        realistic = cached(args.cache / "realistic-all.inputs.pkl", lambda: BUILDERS["realistic"](None))
        write_reference(new if args.reference_from == "new" else load_old(args.old), realistic, args.write_reference)
        return 0
    old = load_old(args.old)
    failed = 0
    print(f"{'corpus':14s} {'inputs':>7s} {'identical':>10s} {'within 1/255':>13s} {'different':>10s}   new s  old s")
    for name in args.corpora.split(","):
        tag = f"{name}-{args.limit or 'all'}"
        inputs = cached(args.cache / f"{tag}.inputs.pkl", lambda name=name: BUILDERS[name](args.limit))
        started = time.perf_counter()
        olds = cached(args.cache / f"{tag}.old.pkl", lambda inputs=inputs: [outputs(old, item) for _, item in inputs])
        old_s = time.perf_counter() - started
        started = time.perf_counter()
        news = [outputs(new, item) for _, item in inputs]
        new_s = time.perf_counter() - started
        verdicts = list(compare(olds, news))
        counts = {v: sum(1 for _, x in verdicts if x == v) for v in ("identical", "within 1/255", "different")}
        failed += counts["different"]
        print(
            f"{name:14s} {len(inputs):7d} {counts['identical']:10d} {counts['within 1/255']:13d} "
            f"{counts['different']:10d}  {new_s:6.1f} {old_s:6.1f}"
        )
        for i, _ in [v for v in verdicts if v[1] == "different"][: args.show]:
            print(f"    different: {inputs[i][0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
