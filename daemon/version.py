"""The installed package's version, for ``digitwatch --version`` and the daemon's ``starting`` event.

A module of its own so that the CLI and the service both import it without importing each other.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """``digitwatch``'s version from the installed metadata, or ``"unknown"`` when run from a bare tree."""
    try:
        return version("digitwatch")
    except PackageNotFoundError:
        return "unknown"
