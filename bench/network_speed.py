"""The network's cost per image at batch 1, 32 and 256 (best of 3, wall and CPU).

    python bench/network_speed.py [keras | FILE.tflite] [--threads N]

The bundled model in the serving runtime (LiteRT), in Keras, or a LiteRT file (a variant written by
``python -m digitwatch.training.publish``). For a model that cascades, also the cost for single
digits: the first network alone where it is sure (``Predictor.predict(..., quick=...)``), on canary digits.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from digitwatch.daemon import registry
from digitwatch.daemon.infer import THREADS, Predictor, _LiteRT, canary
from digitwatch.daemon.registry import ModelRef


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="", help="'keras', a .tflite file, or nothing: the bundled one")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"LiteRT threads (default {THREADS})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ref = registry.bundled()
    if args.model == "keras":
        ref = ModelRef(ref.model_id, ref.path, "file")
    elif args.model:
        ref = ModelRef(args.model, Path(args.model), "file")
    if ref.path.suffix == ".tflite" or (args.model != "keras" and ref.converted is not None):
        lite_path = ref.converted or ref.path
        lite = _LiteRT(registry.read_checked(lite_path, ref.folder, ref.converted_id), lite_path, args.threads)
        predictor = Predictor.litert(lite, ref)
    else:
        predictor = Predictor.load(ref)
    predictor.warm_up(256)
    threads = f"{args.threads} threads" if predictor.runtime == "litert" else "TensorFlow's threads"
    print(f"{predictor.runtime} {ref.path.name}: loaded in {time.perf_counter() - started:.2f} s, {threads}")
    x = np.resize(canary()[0], (256, 28, 28))
    ways = [("ensemble", None)] + ([("single digits, cascade", np.ones(256, bool))] if predictor.cascades else [])
    for label, quick in ways:
        for n in (1, 32, 256):
            wall = cpu = float("inf")
            for _ in range(3):
                reps = max(2, 512 // n)
                t, c = time.perf_counter(), time.process_time()
                for _ in range(reps):
                    predictor.predict(x[:n], None if quick is None else quick[:n])
                wall = min(wall, (time.perf_counter() - t) / reps / n)
                cpu = min(cpu, (time.process_time() - c) / reps / n)
            print(f"{label}, batch {n:3d}: {wall * 1e6:7.0f} us an image (CPU {cpu * 1e6:5.0f} us)")


if __name__ == "__main__":
    main()
