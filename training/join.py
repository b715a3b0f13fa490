"""Join networks trained in separate runs into one published model: every network of each given model,
averaged (training/ensemble.py), scored on MNIST's test split and calibrated as ``train`` does.

    python -m digitwatch.training.join --data MNIST --checkpoint DIR [--networks 2,3] MODEL.keras [MODEL.keras ...]

Members trained one run at a time (each a few hours of these two cores, so each is kept as soon as it is
done) become one model to publish or bundle (``python -m digitwatch.training.publish --bundle``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from digitwatch.daemon.errors import DataError
from digitwatch.daemon.infer import quiet_native_stderr
from digitwatch.daemon.registry import file_id

from . import data as mnist_data
from .ensemble import average, networks, predict_fn
from .evaluate import scores
from .extra import calibration_fit
from .inputs import prepare
from .publish import publish


def metrics_of(path: Path) -> dict[str, Any]:
    """What training recorded beside a model: ``model-<id>.metrics.json``, or a bundled ``default.json``."""
    for beside in (path.with_suffix(".metrics.json"), path.with_suffix(".json")):
        if beside.is_file():
            return dict(json.loads(beside.read_text()))
    return {}


def join(paths: list[Path], checkpoint: Path, data: str | None, keep: list[int] | None = None) -> dict[str, Any]:
    """Publish the average of every network of the models at ``paths`` (or of those numbered ``keep``,
    from 1, counted across the models in order) into ``checkpoint``; return its metrics."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise DataError(f"no such model file: {', '.join(missing)}" if missing else "join needs at least one model")
    ds = mnist_data.load(data)
    x_test, y_test = prepare(ds.x_test, True), ds.y_test.astype(np.int64)
    with quiet_native_stderr():
        nets = [networks(path) for path in paths]
        every = [net for each in nets for net in each]
        if keep and not all(1 <= k <= len(every) for k in keep):
            raise DataError(f"--networks: the models hold networks 1 to {len(every)}")
        model = average([every[k - 1] for k in keep] if keep else every)
    recorded = [metrics_of(path) for path in paths]
    first = recorded[0]
    with tempfile.TemporaryDirectory(prefix="digitwatch-join-") as tmp:
        lean = os.path.join(tmp, "model.keras")
        model.save(lean)
        accuracy, loss = scores(predict_fn(model)(x_test), y_test)
        metrics = {
            "recipe": first.get("recipe", "robust"),
            "recipe_summary": f"{len(keep) if keep else len(every)} networks of {len(paths)} models, averaged",
            "networks_kept": keep or list(range(1, len(every) + 1)),
            "history": first.get("history", {"accuracy": [], "loss": [], "val_accuracy": [], "val_loss": []}),
            "joined": [
                {
                    "model": str(p),
                    "model_id": file_id(p),
                    "networks": len(each),
                    **{k: record.get(k) for k in ("seed", "epochs", "test_accuracy", "train_seconds")},
                }
                for p, each, record in zip(paths, nets, recorded)
            ],
            "data": ds.source,
            "inputs": "normalize",
            **calibration_fit(predict_fn(model)),
            "test_accuracy": accuracy,
            "test_loss": loss,
            "parameters": int(model.count_params()),
        }
        published = publish(Path(lean), metrics, checkpoint)
    return {**metrics, "model_id": published.model_id, "model_path": str(published.model_path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="models whose networks are joined, in order")
    parser.add_argument("--checkpoint", type=Path, required=True, help="publish into this folder")
    parser.add_argument("--data", help="MNIST (mnist.npz or an idx folder) to score the joined model on")
    parser.add_argument("--networks", help="join only these networks (e.g. 2,3: counted from 1 across the models)")
    args = parser.parse_args(argv)
    try:
        try:
            keep = [int(k) for k in args.networks.split(",")] if args.networks else None
        except ValueError:
            raise DataError(f"--networks {args.networks!r}: numbers separated by commas, e.g. 2,3") from None
        metrics = join(args.models, args.checkpoint, args.data, keep)
    except DataError as exc:
        print(f"digitwatch: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    summary = {
        k: metrics[k] for k in ("model_id", "model_path", "test_accuracy", "temperature", "held_out") if k in metrics
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
