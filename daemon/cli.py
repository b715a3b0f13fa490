"""The ``digitwatch`` command. Heavy imports (TensorFlow) happen only in the subcommands that need them."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import Field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as config_mod
from .errors import DigitwatchError, ExitCode, NoInputError
from .loop_cli import add_loop_commands
from .scale_cli import add_scale_commands
from .version import package_version

if TYPE_CHECKING:
    from .registry import ModelRef


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("DIGITWATCH_CONFIG"),
        help="YAML configuration file (default: $DIGITWATCH_CONFIG; keys may be omitted)",
    )


# How a setting's flag shows its value, by the setting's type (a name ending says more: seconds, ms, MB).
METAVARS = {"int": "N", "float": "X", "bool": "", "Path": "DIR", "Path | None": "FILE", "tuple[str, ...]": "A,B"}
UNIT_METAVARS = {"_s": "SECONDS", "_ms": "MS", "_mb": "MB"}
TYPE_WORDS = {
    "int": "integer",
    "float": "number",
    "Path": "folder",
    "Path | None": "file",
    "tuple[str, ...]": "comma-separated",
    "str": "text",
}
SPECIAL_DEFAULTS = {  # defaults that are not a plain value
    "state_dir": "$STATE_DIRECTORY, else <inbox parent>/.digitwatch-state/<inbox name>",
    "metrics_address": "off",
    "metrics_file": "off",
}
BOOLEAN_WORDS = ("true", "false", "yes", "no", "on", "off", "1", "0")  # `--recursive true`, as before switches
SPECIAL_METAVARS = {"metrics_address": "HOST:PORT", "log_format": "auto|json|console", "log_level": "LEVEL"}


def _metavar(f: Field) -> str:
    for ending, metavar in UNIT_METAVARS.items():
        if f.name.endswith(ending):
            return metavar
    return SPECIAL_METAVARS.get(f.name) or METAVARS.get(str(f.type), "VALUE")


def _shown_default(name: str, value: object) -> str:
    if name in SPECIAL_DEFAULTS:
        return SPECIAL_DEFAULTS[name]
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per configuration key: help from config.HELP, type and default from the Config class. Values
    stay text here: config.load parses them, so a bad one is reported as from a file or the environment."""
    group = p.add_argument_group("settings (override the config file and DIGITWATCH_* variables)")
    defaults = config_mod.Config()
    for f in fields(config_mod.Config):
        flag = f"--{f.name.replace('_', '-')}"
        default = _shown_default(f.name, getattr(defaults, f.name))
        kind = TYPE_WORDS.get(str(f.type))
        about = f"{config_mod.HELP[f.name]} ({f'{kind}; ' if kind else ''}default: {default})".replace("%", "%%")
        if f.type == "bool":
            group.add_argument(flag, dest=f"cfg_{f.name}", action=argparse.BooleanOptionalAction, help=about)
        else:
            group.add_argument(flag, dest=f"cfg_{f.name}", metavar=_metavar(f), default=None, help=about)


def _config_from(args: argparse.Namespace) -> config_mod.Config:
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_")}
    return config_mod.load(args.config, overrides=overrides)


def build_parser() -> argparse.ArgumentParser:
    """The command line; its subcommands' parsers are in ``parser.subcommands`` (for "did you mean")."""
    parser = argparse.ArgumentParser(
        prog="digitwatch",
        description="Recognise handwritten digits in images dropped into a folder; write CSV/JSON results.",
    )
    parser.add_argument("--version", action="version", version=f"digitwatch {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.set_defaults(subcommands=sub.choices)

    run = sub.add_parser("run", help="watch the inbox and write results to the outbox (the service)")
    _add_config(run)
    _add_config_flags(run)
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train a model on MNIST and publish it to the checkpoint folder")
    _add_config(train)
    train.add_argument(
        "--data",
        metavar="PATH",
        help="a folder of your pictures (0/ .. 9/, or labels.csv): fine-tune the served model on them; or MNIST: "
        "mnist.npz or a folder of the four idx files (default: Keras' download, needs network)",
    )
    train.add_argument(
        "--base", metavar="PATH", help="MNIST to rehearse and guard with when --data is a folder of your pictures"
    )
    train.add_argument(
        "--recipe", choices=("seed", "robust"), help="model recipe (default: seed; robust for your pictures)"
    )
    train.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    train.add_argument("--batch-size", type=int, help="batch size (default: the recipe's)")
    train.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only")
    train.add_argument("--checkpoint", metavar="DIR", help="publish into DIR (default: 'checkpoint' from the config)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument(
        "--members",
        type=int,
        metavar="N",
        help="train N networks (seeds SEED, SEED+1, ...) and publish their average (default: 1, or as many as "
        "the --from model has)",
    )
    train.add_argument(
        "--rendered",
        type=int,
        default=0,
        metavar="N",
        help="training digits drawn as users' pictures and read back as served, shared by all members "
        "(default 0; only with --recipe robust)",
    )
    train.add_argument(
        "--teacher",
        metavar="PATH",
        help="leave out the drawn pictures this model misreads (default: the bundled model; 'none' keeps them all)",
    )
    train.add_argument(
        "--writers",
        action="store_true",
        help="also learn from the training parts of the real handwriting sets (USPS, Semeion, UCI; never their "
        "held-out parts)",
    )
    train.add_argument(
        "--styles",
        type=int,
        default=0,
        metavar="N",
        help="also learn from N drawn pictures of handwriting styles MNIST lacks (default 0; robust recipe)",
    )
    train.add_argument(
        "--from",
        dest="start",
        metavar="current|bundled|scratch|PATH",
        help="fine-tune the networks of the served model, the bundled one, or a .keras file; or train new ones "
        "(default: current for your pictures, scratch otherwise)",
    )
    train.add_argument("--force", action="store_true", help="publish even if the guard finds the new model worse")
    train.add_argument(
        "--state",
        metavar="DIR",
        help="keep the run's progress in DIR after every epoch: the same command run again after a stop goes on "
        "from there (removed once the model is published)",
    )
    train.add_argument(
        "--quiet", action="store_true", help="no progress (default: a bar with ETA on a terminal, else a line an epoch)"
    )
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="accuracy of a model on the MNIST test split; last line is JSON")
    _add_config(ev)
    ev.add_argument("--model", metavar="PATH", help=".tflite or .keras model (default: the one the daemon would serve)")
    ev.add_argument("--data", metavar="PATH", help="mnist.npz or idx folder (default: Keras' download)")
    ev.add_argument(
        "--writers",
        action="store_true",
        help="also the held-out parts of the real handwriting sets this checkout has (USPS, Semeion, UCI)",
    )
    ev.add_argument("--plots", metavar="DIR", help="write a reliability diagram and a confusion matrix PNG per set")
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="recognise files and folders; results to stdout")
    _add_config(pr)
    pr.add_argument("--model", metavar="PATH", help=".tflite or .keras model (default: the one the daemon would serve)")
    pr.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="output format (default: csv)")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (recursed)")
    pr.set_defaults(func=cmd_predict)

    st = sub.add_parser("status", help="what the running daemon is doing; exit 0 serving, 3 not running, 4 unhealthy")
    _add_config(st)
    st.add_argument("--json", action="store_true", help="one JSON object instead of text")
    _add_config_flags(st)
    st.set_defaults(func=cmd_status)
    add_loop_commands(sub, _add_config, _add_config_flags, _config_from)  # review, models
    add_scale_commands(sub, _add_config, _model_ref)  # backfill
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    """Serve until stopped. An error before logging starts (the configuration) is one line for the
    user (see ``main``); once the daemon logs, it is one structured ``fatal`` event for the operator."""
    import structlog

    from . import log
    from .service import serve

    cfg = _config_from(args)
    try:
        return serve(cfg)
    except DigitwatchError as exc:
        if not structlog.is_configured():
            raise
        _fatal(log.get("digitwatch").error, exc, exc.exit_code)
        return exc.exit_code
    except Exception as exc:  # a bug: its traceback goes into the same event (exc_info)
        if not structlog.is_configured():
            raise
        _fatal(log.get("digitwatch").exception, exc, ExitCode.other_error)
        return ExitCode.other_error


def _fatal(emit: Callable[..., Any], exc: BaseException, code: ExitCode) -> None:
    """The one event an operator gets when the daemon stops on an error."""
    emit("fatal", error=str(exc), error_type=type(exc).__name__, exit_code=int(code), exit_name=code.name)


def cmd_train(args: argparse.Namespace) -> int:
    from digitwatch.training.fit import TrainOptions, dump, train

    cfg = config_mod.load(args.config)
    metrics = train(
        TrainOptions(
            data=args.data,
            checkpoint=Path(args.checkpoint) if args.checkpoint else cfg.checkpoint,
            recipe=args.recipe or ("robust" if _own_folder(args.data) else "seed"),
            epochs=args.epochs,
            batch_size=args.batch_size,
            limit=args.limit,
            seed=args.seed,
            members=args.members,
            rendered=args.rendered,
            teacher=_teacher(args.teacher),
            writers=args.writers,
            styles=args.styles,
            start=_start(args.start, args.data, cfg.checkpoint),
            base=args.base,
            force=args.force,
            state=Path(args.state) if args.state else None,
            verbose=0 if args.quiet else _keras_verbosity(),
        )
    )
    print(dump({k: v for k, v in metrics.items() if k != "history"}))
    return 0


def _keras_verbosity() -> int:
    """Keras' progress bar with its ETA on a terminal (1); one line per epoch on a pipe or a log (2)."""
    return 1 if sys.stdout.isatty() else 2


def _own_folder(data: str | None) -> bool:
    from digitwatch.training.own import is_labelled_folder

    return bool(data) and is_labelled_folder(Path(str(data)))


def _start(arg: str | None, data: str | None, checkpoint: Path) -> Path | None:
    """The .keras model ``--from`` names: the served one, the bundled one, a file; None for new networks."""
    from .registry import bundled, current

    choice = arg or ("current" if _own_folder(data) else "scratch")
    if choice == "scratch":
        return None
    path = {"bundled": bundled().path, "current": current(checkpoint).path}.get(choice, Path(choice))
    if not path.is_file():
        raise NoInputError(f"--from {choice}: no such model file ({path})")
    return path


def _teacher(arg: str | None) -> Path | None:
    from .registry import bundled

    return None if arg == "none" else Path(arg) if arg else bundled().path


def _model_ref(args: argparse.Namespace, cfg: config_mod.Config) -> ModelRef:
    """--model if given, else what the daemon would serve from the configured checkpoint folder."""
    from .registry import by_hand, current

    if args.model:
        path = Path(args.model)
        if not path.is_file():
            raise NoInputError(f"--model {path}: no such file")
        return by_hand(path)
    return current(cfg.checkpoint)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from digitwatch.training.evaluate import evaluate, summary

    cfg = config_mod.load(args.config)
    plots = Path(args.plots) if args.plots else None
    report = evaluate(_model_ref(args, cfg), args.data, args.writers, cfg.low_confidence, plots)
    print(summary(report))
    print(json.dumps(report))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import predict

    cfg = config_mod.load(args.config)
    return predict(args.paths, _model_ref(args, cfg), cfg, args.format, sys.stdout.buffer)


def cmd_status(args: argparse.Namespace) -> int:
    from .status import show

    return show(_config_from(args), as_json=args.json)


def _parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """As ``parse_args``, but an unknown flag gets the subcommand's usage and the closest known flag."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub: argparse.ArgumentParser = args.subcommands.get(args.command, parser)
        known = [o for action in sub._actions for o in action.option_strings]
        hints = []
        for extra in extras:
            close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1) if extra.startswith("-") else []
            hints += [f"{extra}: did you mean {close[0]}?"] if close else []
            if extra.lower() in BOOLEAN_WORDS:
                hints.append(f"{extra}: a switch takes no value, e.g. --recursive or --no-recursive")
        sub.error(f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else ""))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    args = _parse_args(build_parser(), argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except DigitwatchError as exc:
        print(f"digitwatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("digitwatch: interrupted", file=sys.stderr)
        return ExitCode.interrupted
    except BrokenPipeError:  # `digitwatch predict ... | head`: the reader has what it wanted
        return ExitCode.ok


if __name__ == "__main__":
    sys.exit(main())
