"""Numbers read back: exact whole-number reading and `ok`-but-wrong rows per gap band, on numbers
rendered from digits the model was not trained on (MNIST test, the writer sets' held-out parts).

    python bench/number_reading.py [--count 150] [--sources mnist,usps,semeion,uci] [--styles paper,photo]
                                   [--bands single,apart,...] [--model PATH]

Prints one line per (source, style, band): pictures, exact %, ok %, ok-wrong %, ms a picture and a
digit ("single": one digit on the same paper, the cost a digit of a number is compared with;
"dated": numbers with a slash between two digits, exact when the slash is left out of the text).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from digitwatch.daemon.config import Config
from digitwatch.daemon.infer import Predictor
from digitwatch.daemon.pool import PreparePool
from digitwatch.daemon.recognize import Limits, classify
from digitwatch.daemon.registry import bundled, by_hand
from digitwatch.training import numbers

# band -> (gaps, lengths); "single" (one digit, same paper) is the cost a digit is compared with
BANDS = {
    "single": ((0.2, 0.2), (1, 1)),
    "apart": ((0.12, 0.4), (2, 7)),
    "close": ((0.0, 0.12), (2, 7)),
    "overlapping": ((-0.1, 0.0), (2, 7)),
    "dated": ((0.12, 0.4), (3, 6)),  # apart, a slash between two digits (a date): the slash is no digit
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=150, help="pictures per source, style and band")
    ap.add_argument("--styles", default="paper,photo", help="training/numbers.py styles, each measured apart")
    ap.add_argument("--sources", default=",".join(numbers.sources()))
    ap.add_argument("--bands", default=",".join(BANDS), help="which of the bands (default: all)")
    ap.add_argument("--model", type=Path, help="a .keras or .tflite model to read with (default: the bundled one)")
    args = ap.parse_args()
    predictor, cfg = Predictor.load(by_hand(args.model) if args.model else bundled()), Config()
    pool = PreparePool(2, processes=True)
    print(
        f"{'source':8} {'band':12} {'pics':>5} {'exact%':>7} {'ok%':>6} {'okwrong%':>9} {'ms/pic':>7} {'ms/digit':>8}"
    )
    try:
        for source, style in itertools.product(args.sources.split(","), args.styles.split(",")):
            for band in args.bands.split(","):
                gaps, lengths = BANDS[band]
                dated = band == "dated"
                made = numbers.render_set(source, args.count, gaps, lengths, seed=7, styles=(style,), dated=dated)
                with tempfile.TemporaryDirectory() as tmp:
                    paths = numbers.write(made, Path(tmp))
                    started = time.perf_counter()
                    prepared = pool.prepare(paths, Limits.of(cfg))
                    rows = classify([p.name for p in paths], prepared, predictor, cfg.low_confidence, cfg.max_digits)
                    took = time.perf_counter() - started
                exact = sum(r.text == m.digits for r, m in zip(rows, made))
                ok = sum(r.status == "ok" for r in rows)
                wrong = sum(r.status == "ok" and r.text != m.digits for r, m in zip(rows, made))
                digits = sum(len(m.digits) for m in made)
                n = len(made)
                print(
                    f"{source:8} {style:6} {band:12} {n:5d} {100 * exact / n:7.1f} {100 * ok / n:6.1f}"
                    f" {100 * wrong / n:9.2f} {1000 * took / n:7.2f} {1000 * took / digits:8.2f}",
                    flush=True,
                )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
