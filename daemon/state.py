"""The daemon's state folder (journal, work folders, status): where it is, and that it is safe to use.

It lies outside the inbox - whoever can drop files must not be able to rename
a claimed file or plant a journal - but on the inbox's filesystem, because a
claim is a rename(2). At start-up it is created 0700 if missing, and refused
(ConfigError, exit 78) when it is on another filesystem, owned by another
user, or writable by group or others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .config import STATE_FOLDER, Config
from .errors import ConfigError

PRIVATE = 0o700  # the state folder is the daemon's alone
UNSAFE_BITS = stat.S_IWGRP | stat.S_IWOTH  # anyone else who can write there can rewrite the journal


def prepare_state_dir(c: Config) -> None:
    """Create the state folder, its ``work`` and ``daemons`` (status per daemon) folders if needed; check them."""
    state = c.state_dir
    folders = [state.parent, state] if state.parent.name == STATE_FOLDER else [state]
    for folder in [*folders, state / "work", state / "daemons"]:
        try:
            folder.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create state folder {folder} ('state_dir'): {exc.strerror}") from None
    for folder in [*folders, state / "work", state / "daemons"]:
        _check_private(folder)
    _check_same_filesystem(state, c.inbox)


def _check_private(folder: Path) -> None:
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"'state_dir': {folder} is not a folder")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"'state_dir': {folder} is owned by uid {info.st_uid}, not by the daemon's user (uid {os.geteuid()})"
        )
    if info.st_mode & UNSAFE_BITS:
        raise ConfigError(
            f"'state_dir': {folder} is writable by group or others (mode {stat.S_IMODE(info.st_mode):o}): "
            f"chmod go-w it (the daemon creates it 700)"
        )


def _check_same_filesystem(state: Path, inbox: Path) -> None:
    if os.stat(state).st_dev != os.stat(inbox).st_dev:
        raise ConfigError(
            f"'state_dir': {state} is on another filesystem than the inbox {inbox}; a claim is a rename, "
            "which cannot cross filesystems: choose a state_dir on the inbox's filesystem"
        )
