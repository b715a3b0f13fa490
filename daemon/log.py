"""structlog set-up: JSON lines for a service, readable console on a terminal; uncaught exceptions
(main thread and others) are logged as one event each, so a traceback never breaks the JSON stream."""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def setup(log_format: str = "auto", level: str = "info") -> None:
    """Configure structlog once; ``auto`` means console on a TTY, JSON otherwise."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors += [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    sys.excepthook = _uncaught
    threading.excepthook = _thread_uncaught


def _uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """An uncaught exception is one structured event (traceback in its ``exception`` field), not loose lines."""
    get("digitwatch").critical("uncaught_exception", exc_info=(kind, value, tb))


def _thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    thread = args.thread.name if args.thread else None
    get("digitwatch").error("thread_crashed", thread=thread, exc_info=exc_info)


def get(name: str = "digitwatch") -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
