"""``digitwatch backfill`` on the command line (``cli.py`` builds the other subcommands)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import config as config_mod

AddFlags = Callable[[argparse.ArgumentParser], None]
ModelRefFrom = Callable[[argparse.Namespace, config_mod.Config], Any]


def add_scale_commands(sub: Any, add_config: AddFlags, model_ref: ModelRefFrom) -> None:
    """Add ``backfill`` to the subcommands ``sub`` (argparse's ``add_subparsers`` result)."""
    bf = sub.add_parser("backfill", help="recognise a backlog of files on Ray (pip install 'digitwatch[ray]')")
    add_config(bf)
    bf.add_argument("paths", nargs="+", metavar="SRC", help="image files or folders (recursed)")
    bf.add_argument(
        "--out", metavar="DIR", required=True, help="write result files here; rows already here are skipped"
    )
    bf.add_argument("--address", metavar="ADDR", help="a running Ray cluster (default: $RAY_ADDRESS, else a local one)")
    bf.add_argument("--workers", type=_positive, metavar="N", help="actors, one CPU each (default: every CPU)")
    bf.add_argument("--format", choices=("csv", "parquet"), default="csv", help="output format (default: csv)")
    bf.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="files per batch (default 256)")
    bf.add_argument("--model", metavar="PATH", help=".tflite or .keras model (default: the one the daemon would serve)")
    bf.set_defaults(func=cmd_backfill, model_ref=model_ref)


def cmd_backfill(args: argparse.Namespace) -> int:
    from .backfill import Options, backfill

    cfg = config_mod.load(args.config)
    opts = Options(args.paths, Path(args.out), args.address, args.workers, args.format, args.batch_size)
    return backfill(opts, args.model_ref(args, cfg), cfg)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
