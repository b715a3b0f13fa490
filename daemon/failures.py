"""Classify file-system and SQLite errors: wait and retry, or give up on one file.

Transient errors are about the machine (a full or failing disk, a locked
database): the daemon backs off and resumes when they pass. Per-file errors
are about one input (its name, its permissions, another file system): retrying
cannot help, so that input goes to ``failed/`` with the reason. Anything else
is a bug and is left to crash loudly.
"""

from __future__ import annotations

import enum
import errno
import os
import sqlite3
from pathlib import Path


class Kind(enum.Enum):
    TRANSIENT = "transient"  # retry with back-off; the daemon stays up
    PER_FILE = "per_file"  # that one input goes to failed/ with its reason


# The disk, the quota or the device: passes when an operator frees space or the device recovers.
TRANSIENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR, errno.EBUSY, errno.ENOMEM, errno.ESTALE}
)
# Fixed by nothing but a different name or destination for that file.
PER_FILE_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EXDEV, errno.ELOOP, errno.EINVAL})
# About one file only if the folders around it are usable; else about the folder (transient).
PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
SHAPE_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR})
# SQLite's words for "busy, locked, full, or the disk failed": all pass with time.
SQLITE_TRANSIENT = ("locked", "busy", "full", "disk i/o", "unable to open", "readonly")


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: any OSError not known to be about one file, and SQLite's busy/full/I/O errors."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(word in text for word in SQLITE_TRANSIENT)
    return isinstance(exc, OSError)


def kind_for_file(exc: BaseException, folders: tuple[Path, ...]) -> Kind | None:
    """How to treat ``exc`` raised while moving one input between ``folders`` (source, destination root)."""
    if not isinstance(exc, OSError):
        return Kind.TRANSIENT if is_transient(exc) else None
    code = exc.errno
    if code in PER_FILE_ERRNOS:
        return Kind.PER_FILE
    if code in PERMISSION_ERRNOS:  # root ignores permission bits, so this is the sticky bit or an attribute
        usable = all(os.access(f, os.W_OK | os.X_OK) for f in folders)
        return Kind.PER_FILE if usable else Kind.TRANSIENT
    if code in SHAPE_ERRNOS:  # a file where the file's sub-folder should be, not the root replaced
        return Kind.PER_FILE if all(f.is_dir() for f in folders) else Kind.TRANSIENT
    return Kind.TRANSIENT


def reason(exc: BaseException) -> str:
    """One line for a log field or an ``.error.txt``."""
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} (errno {errno.errorcode.get(exc.errno or 0, exc.errno)})"
    return f"{type(exc).__name__}: {exc}"
