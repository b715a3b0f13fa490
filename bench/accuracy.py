"""Measure recognition accuracy per kind of realistic user image.

    python bench/accuracy.py [--data PATH] [--model PATH] [--n N] [--kinds k1,k2]
                             [--seed S] [--out DIR] [--json FILE]

Renders N images per kind (training/realistic.py) from a random sample of the
MNIST *test* split, recognises every file the way the product does (file bytes
-> decode -> preprocess (views) -> Keras model) and prints, per kind: n, accuracy (%,
refused files count as wrong), errors (files the pipeline refused) and the
mean confidence of the files it did recognise; then the overall accuracy.
With --out the images, labels.csv and predictions.csv are kept there.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from digitwatch.training import realistic
from digitwatch.training.data import default_mnist_path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

BUNDLED_MODEL = REPO / "daemon" / "models" / "default.keras"

Result = tuple[int | None, float, str | None]  # (digit or None, confidence, error message or None)


def recognize(paths: list[Path], model_path: str | Path) -> list[Result]:
    """Recognise each file through the product's own batched path (the same code the daemon runs);
    one (digit, confidence, error) per path, in order. A refused file gives (None, 0.0, message)."""
    from digitwatch.daemon.infer import Predictor
    from digitwatch.daemon.pool import PreparePool
    from digitwatch.daemon.recognize import Limits, classify
    from digitwatch.daemon.registry import ModelRef, file_id

    predictor = Predictor.load(ModelRef(file_id(Path(model_path)), Path(model_path), "file"))
    out: list[Result] = []
    pool = PreparePool(2, processes=True)
    try:
        for start in range(0, len(paths), 256):
            chunk = [Path(p) for p in paths[start : start + 256]]
            rows = classify([p.name for p in chunk], pool.prepare(chunk, Limits()), predictor, 0.0)
            out += [(r.digit, r.confidence or 0.0, r.error or None) for r in rows]
    finally:
        pool.close()
    return out


def summarize(rows: list[tuple[Path, int, str]], results: list[Result], kinds: list[str]) -> dict:
    """Per-kind and overall figures: n, correct, accuracy (0..1), errors, mean confidence of recognised files.

    ``accuracy`` / ``mean_confidence`` are None when there is nothing to average (JSON-safe, unlike NaN).
    """

    def figures(sel: list[int]) -> dict:
        n = len(sel)
        correct = sum(1 for i in sel if results[i][0] == rows[i][1])
        errors = sum(1 for i in sel if results[i][2] is not None)
        conf = [results[i][1] for i in sel if results[i][2] is None]
        return {
            "n": n,
            "correct": correct,
            "accuracy": correct / n if n else None,
            "errors": errors,
            "mean_confidence": float(np.mean(conf)) if conf else None,
        }

    per_kind = {k: figures([i for i, r in enumerate(rows) if r[2] == k]) for k in kinds}
    return {"kinds": per_kind, "overall": figures(list(range(len(rows))))}


def _fmt(value: float | None, scale: float, spec: str) -> str:
    return "-" if value is None else format(value * scale, spec)


def print_table(summary: dict) -> None:
    """The per-kind table and the overall line."""
    print(f"{'kind':<14} {'n':>6} {'accuracy %':>11} {'errors':>7} {'mean conf':>10}")
    for kind, f in summary["kinds"].items():
        acc, conf = _fmt(f["accuracy"], 100, ".1f"), _fmt(f["mean_confidence"], 1, ".3f")
        print(f"{kind:<14} {f['n']:>6} {acc:>11} {f['errors']:>7} {conf:>10}")
    o = summary["overall"]
    print(
        f"overall: {_fmt(o['accuracy'], 100, '.1f')}% of {o['n']} images "
        f"({o['correct']} correct, {o['errors']} refused)"
    )


def write_predictions(out: Path, rows: list[tuple[Path, int, str]], results: list[Result]) -> None:
    """predictions.csv next to labels.csv: file,label,kind,digit,confidence,error."""
    with open(out / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "kind", "digit", "confidence", "error"])
        for (path, label, kind), (digit, conf, err) in zip(rows, results):
            w.writerow([path.name, label, kind, "" if digit is None else digit, f"{conf:.4f}", err or ""])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; --model is required unless daemon/models/default.keras exists."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data",
        type=Path,
        default=default_mnist_path(),
        help="mnist.npz (default: $MNIST_NPZ, else ../shared/data/mnist.npz, else tests/data/mnist-sample.npz)",
    )
    if BUNDLED_MODEL.exists():
        p.add_argument("--model", type=Path, default=BUNDLED_MODEL, help=f"Keras model (default: {BUNDLED_MODEL})")
    else:
        p.add_argument("--model", type=Path, required=True, help="Keras model file (.keras)")
    p.add_argument("--n", type=int, default=500, help="images per kind (default 500)")
    p.add_argument("--kinds", default=",".join(realistic.KINDS), help="comma-separated kinds (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the digit sample and of the rendering")
    p.add_argument("--out", type=Path, help="keep the images here (default: a temporary folder, removed)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in args.kinds if k not in realistic.KINDS]
    if unknown:
        p.error(f"unknown kind(s): {', '.join(unknown)} (known: {', '.join(realistic.KINDS)})")
    if args.n < 1:
        p.error("--n must be at least 1")
    for name in ("data", "model"):
        if not getattr(args, name).exists():
            p.error(f"--{name}: no such file: {getattr(args, name)}")
    return args


def run(args: argparse.Namespace, out: Path) -> dict:
    """Generate the set into ``out``, recognise it, print the table; return the figures."""
    with np.load(args.data) as d:
        x, y = d["x_test"], d["y_test"]
    t0 = time.perf_counter()
    rows = realistic.write_set(out, x, y, args.kinds, args.n, args.seed)
    t1 = time.perf_counter()
    results = recognize([r[0] for r in rows], args.model)
    t2 = time.perf_counter()
    write_predictions(out, rows, results)
    summary = summarize(rows, results, args.kinds)
    print(f"model {args.model}  data {args.data}  seed {args.seed}  {args.n} per kind")
    print(f"generated {len(rows)} images in {t1 - t0:.1f}s, recognised in {t2 - t1:.1f}s")
    print_table(summary)
    summary.update(
        model=str(args.model),
        data=str(args.data),
        seed=args.seed,
        n_per_kind=args.n,
        generate_seconds=round(t1 - t0, 2),
        recognize_seconds=round(t2 - t1, 2),
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out is not None:
        summary = run(args, args.out)
    else:
        with tempfile.TemporaryDirectory(prefix="digitwatch-bench-") as tmp:
            summary = run(args, Path(tmp))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
