"""Typed errors. Each user-facing failure class maps to one exit code.

The CLI prints ``str(error)`` as a single line and exits with ``error.exit_code``;
the daemon logs the same error as one structured event. Exit codes follow
sysexits(3) so a systemd unit can list the ones that must not restart-loop.
"""

from __future__ import annotations


class DigitwatchError(Exception):
    """Base class: a failure we expected and can explain in one line."""

    exit_code = 1


class ConfigError(DigitwatchError):
    """Bad configuration: unknown key, wrong type, unusable folder (EX_CONFIG)."""

    exit_code = 78


class DataError(DigitwatchError):
    """Training/evaluation data missing or malformed (EX_DATAERR)."""

    exit_code = 65


class NoInputError(DigitwatchError):
    """A path given on the command line does not exist (EX_NOINPUT)."""

    exit_code = 66


class ModelError(DigitwatchError):
    """A model file cannot be loaded or fails its checks (EX_SOFTWARE)."""

    exit_code = 70


class ImageError(DigitwatchError):
    """One input image cannot be read or holds no digit.

    Never fatal for the daemon or ``predict``: it becomes an ``error`` row.
    """

    exit_code = 65


class OfflineError(DigitwatchError):
    """Data would have to be downloaded but the network is unreachable (EX_UNAVAILABLE)."""

    exit_code = 69
