"""Exit codes and typed errors: one exception class per exit code (as OCRmyPDF's ``exceptions.py``).

The CLI prints ``str(error)`` as one line (``digitwatch: error: ...``) and exits with
``error.exit_code``; the daemon, once it has started logging, reports the same error as one
structured event (``fatal``) instead. Exit codes follow sysexits(3) so a systemd unit can list
the ones that must not restart-loop (``deploy/digitwatch.service``: ``RestartPreventExitStatus=78``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status ``digitwatch`` uses (README, "Exit codes")."""

    ok = 0
    other_error = 1  # an unexpected failure (a bug): Python's own traceback exit code
    usage = 2  # a command line argparse refuses (unknown flag, bad choice): usage on stderr
    not_running = 3  # ``digitwatch status``: the daemon is not serving (as LSB ``status`` does)
    unhealthy = 4  # ``digitwatch status``: running but unhealthy, or its status unreadable (LSB: unknown)
    data_error = 65  # EX_DATAERR: input data malformed
    no_input = 66  # EX_NOINPUT: a path given does not exist or cannot be read
    unavailable = 69  # EX_UNAVAILABLE: a download is needed but the network is unreachable
    software = 70  # EX_SOFTWARE: a model cannot be loaded or fails its checks
    config = 78  # EX_CONFIG: bad configuration
    interrupted = 130  # SIGINT (128 + 2)


class DigitwatchError(Exception):
    """Base class: a failure we expected and can explain in one line."""

    exit_code: ExitCode = ExitCode.other_error


class ConfigError(DigitwatchError):
    """Bad configuration: unknown key, wrong type, unusable folder (EX_CONFIG)."""

    exit_code = ExitCode.config


class DataError(DigitwatchError):
    """Training/evaluation data missing or malformed (EX_DATAERR)."""

    exit_code = ExitCode.data_error


class ImageError(DigitwatchError):
    """One input image cannot be read or holds no digit (EX_DATAERR).

    Never fatal for the daemon or ``predict``: it becomes an ``error`` row.
    """

    exit_code = ExitCode.data_error


class NoInputError(DigitwatchError):
    """A path given on the command line does not exist (EX_NOINPUT)."""

    exit_code = ExitCode.no_input


class OfflineError(DigitwatchError):
    """Data would have to be downloaded but the network is unreachable (EX_UNAVAILABLE)."""

    exit_code = ExitCode.unavailable


class ModelError(DigitwatchError):
    """A model file cannot be loaded or fails its checks (EX_SOFTWARE)."""

    exit_code = ExitCode.software
