"""Durable file operations: temporary name in the same folder, fsync, rename, fsync the folder.

rename(2) is atomic but not durable until the folder itself is fsynced; a
reader of the final name sees either nothing or the whole file.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make renames and creations inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it; on failure, remove it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes, sync_dir: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and durably. The temporary name is hidden (starts with '.')."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_synced(tmp, data)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
    return path


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem.N.suffix`` if taken: never overwrite."""
    candidate = folder / name
    if not os.path.lexists(candidate):
        return candidate
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    n = 1
    while True:
        candidate = folder / (f"{stem}.{n}{dot}{suffix}" if dot else f"{name}.{n}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _load_renameat2():
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Atomic rename that fails with FileExistsError instead of replacing ``dst``."""
    import ctypes

    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (22, 38, 95):  # EINVAL/ENOSYS/EOPNOTSUPP: the file system cannot; fall back
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    os.link(src, dst)
    os.unlink(src)


def move_unique(src: Path, folder: Path, name: str) -> Path:
    """Move ``src`` into ``folder`` as ``name`` (or a numbered variant); never overwrites."""
    while True:
        dst = unique_path(folder, name)
        try:
            rename_noreplace(src, dst)
            return dst
        except FileExistsError:
            continue
