"""The learning loop's subcommands, ``review`` and ``models``, on the command line (``cli.py`` builds the others).

Kept apart so that cli.py stays one screenful per subcommand it owns; the configuration helpers are
cli.py's, handed in by ``build_parser`` (``--config``, one flag per setting, their merge).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import config as config_mod

AddFlags = Callable[[argparse.ArgumentParser], None]
ConfigFrom = Callable[[argparse.Namespace], config_mod.Config]


def add_loop_commands(sub: Any, add_config: AddFlags, add_config_flags: AddFlags, config_from: ConfigFrom) -> None:
    """Add ``review`` and ``models`` to the subcommands ``sub`` (argparse's ``add_subparsers`` result)."""
    rv = sub.add_parser(
        "review", help="copy the inputs the service was unsure of into a folder, for a person to label them"
    )
    add_config(rv)
    rv.add_argument(
        "--to",
        metavar="DIR",
        required=True,
        help="the labelling folder: pictures go to DIR/unlabelled/<suggested digit>/, a contact sheet to "
        "DIR/index.html; a person moves each into DIR/<digit>/ (then: train --data DIR)",
    )
    rv.add_argument(
        "--since",
        metavar="TIME",
        type=_since,
        help="only rows processed since TIME: 2026-12-06, 2026-12-06T14:00 (UTC unless a zone is given), or 12h, 7d",
    )
    rv.add_argument(
        "--status",
        metavar="A,B",
        type=_statuses,
        default=("low_confidence", "error"),
        help="rows of these statuses: ok, low_confidence, error (default: low_confidence,error)",
    )
    add_config_flags(rv)
    rv.set_defaults(func=cmd_review, config_from=config_from)

    md = sub.add_parser(
        "models", help="the models published in the checkpoint folder; pin one, or roll back to the one before"
    )
    add_config(md)
    md.add_argument(
        "action",
        nargs="?",
        choices=("list", "pin", "rollback"),
        default="list",
        help="list (default): the models, the served one marked *; pin ID: serve that model; rollback: serve "
        "the model published before the served one (a running daemon reloads within model_poll_s)",
    )
    md.add_argument("model_id", nargs="?", metavar="ID", help="pin: the model's id (or a unique prefix of 4+)")
    md.add_argument("--checkpoint", metavar="DIR", help="the checkpoint folder (default: 'checkpoint' from the config)")
    md.add_argument("--json", action="store_true", help="one JSON object instead of text")
    md.set_defaults(func=cmd_models)


def _since(text: str) -> datetime:
    from .review import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a date, a date and time (ISO 8601), or a span as 12h, 7d"
        ) from None


def _statuses(text: str) -> tuple[str, ...]:
    from .review import STATUSES

    chosen = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in chosen if s not in STATUSES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated statuses of {', '.join(STATUSES)}")
    return chosen


def cmd_review(args: argparse.Namespace) -> int:
    from .review import review, summary_line

    to = Path(args.to)
    print(summary_line(review(args.config_from(args), to, args.status, args.since), to))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .models_cmd import run

    if (args.action == "pin") != (args.model_id is not None):
        sub: argparse.ArgumentParser = args.subcommands["models"]
        sub.error("pin takes one model ID" if args.action == "pin" else f"{args.action} takes no ID")
    checkpoint = Path(args.checkpoint) if args.checkpoint else config_mod.load(args.config).checkpoint
    return run(checkpoint, args.action, args.model_id, args.json)
