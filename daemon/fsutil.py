"""Durable file operations: temporary name in the same folder, fsync, rename, fsync the folder.

rename(2) is atomic but not durable until the folder itself is fsynced; a
reader of the final name sees either nothing or the whole file.

Every operation the daemon relies on after a power cut (create/write, fsync,
rename, link, unlink, mkdir, fsync of a folder) goes through this module, so
one recorder sees them all: set ``DW_FSTRACE=<file>`` and each one is
appended as a JSON line (tests/test_powerloss.py replays such a log to build
every crash state POSIX allows). Off, a trace costs one ``is None`` test.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Path of a JSON-lines file that records every durable operation. Not DIGITWATCH_*: those are config keys.
TRACE_ENV = "DW_FSTRACE"
NAME_MAX = 255  # bytes in one file name on Linux file systems (ENAMETOOLONG beyond)
MAX_EXT = 16  # a "suffix" longer than this is part of the name, not an extension worth keeping
COPY_CHUNK = 1 << 20  # bytes per read when copying an input to another file system
TAG_LEN = 8  # hex digits of the name's hash that keep a shortened name unique and associable

Tracer = Callable[[dict[str, Any]], None]
StrPath = str | os.PathLike[str]


def _json_tracer(path: str) -> Tracer:
    lock = threading.Lock()
    fh = open(path, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115 (lives with the process)

    def write(op: dict[str, Any]) -> None:
        data = op.pop("data", None)
        if isinstance(data, bytes):
            op["size"], op["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        with lock:
            fh.write(json.dumps(op) + "\n")
            fh.flush()

    return write


_tracer: Tracer | None = _json_tracer(os.environ[TRACE_ENV]) if os.environ.get(TRACE_ENV) else None


def set_tracer(tracer: Tracer | None) -> Tracer | None:
    """Install a recorder of durable operations (tests); return the previous one."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


def trace(op: str, **fields: Any) -> None:
    """Record one operation that has happened (paths as ``str``)."""
    if _tracer is not None:
        _tracer({"op": op, **{k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in fields.items()}})


def fsync_dir(folder: StrPath) -> None:
    """Make renames and creations inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    trace("fsync_dir", path=folder)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it; on failure, remove it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        trace("write", path=path, data=data)
        os.fsync(fd)
        trace("fsync", path=path)
    except BaseException:
        os.close(fd)
        unlink(path, missing_ok=True)
        raise
    os.close(fd)


def atomic_write(path: StrPath, data: bytes, sync_dir: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and durably. The temporary name is hidden (starts with '.')."""
    path = Path(path)
    tmp = path.with_name(fit_name(f".{path.name}", f".{os.getpid()}.tmp"))
    write_synced(tmp, data)
    rename(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
    return path


def rename(src: StrPath, dst: StrPath) -> None:
    """rename(2) (replaces ``dst``), recorded."""
    os.replace(src, dst)
    trace("rename", src=src, dst=dst)


def unlink(path: StrPath, missing_ok: bool = False) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise
        return
    trace("unlink", path=path)


def make_dirs(folder: Path) -> None:
    """``mkdir -p`` that makes each new folder durable (fsyncs the parent it was created in)."""
    if folder.is_dir():
        return
    if not folder.parent.is_dir() and folder.parent != folder:
        make_dirs(folder.parent)
    try:
        os.mkdir(folder)
    except FileExistsError:
        if not folder.is_dir():  # a file in the way: about this path only, never worth a retry
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of a folder", str(folder)) from None
        return
    trace("mkdir", path=folder)
    fsync_dir(folder.parent)


def _split(name: str) -> tuple[str, str]:
    """(stem, extension with its dot); the extension is everything after the first dot when short."""
    if name.startswith(".") or "." not in name:
        return name, ""
    stem, _, ext = name.partition(".")
    if len(os.fsencode(ext)) < MAX_EXT:
        return stem, "." + ext
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if len(os.fsencode(ext)) < MAX_EXT else (name, "")


def _tag(name: str) -> str:
    return "~" + hashlib.sha1(os.fsencode(name)).hexdigest()[:TAG_LEN]


def _shorten(stem: str, mark: str, ext: str, tail: str, limit: int = NAME_MAX) -> str:
    """``stem`` cut (whole characters, never half a UTF-8 sequence) so that ``stem+mark+ext+tail`` fits."""
    if len(os.fsencode(mark + ext + tail)) >= limit:
        ext = ""  # an absurd tail: keep the name unique, drop the extension
    budget = limit - len(os.fsencode(mark + ext + tail))
    while len(os.fsencode(stem)) > budget:
        stem = stem[:-1]
    return stem + mark + ext + tail


def fit_name(name: str, tail: str = "", limit: int = NAME_MAX) -> str:
    """``name + tail`` if it fits in ``limit`` bytes; else the stem cut short, ``~`` and a hash of
    ``name`` (unique, and the same for every file derived from ``name``), extension, ``tail``."""
    if len(os.fsencode(name + tail)) <= limit:
        return name + tail
    stem, ext = _split(name)
    return _shorten(stem, _tag(name), ext, tail, limit)


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem.N.ext`` if taken: never overwrite. Every name fits in NAME_MAX
    bytes: a long one becomes ``<stem cut>~<hash of name>.N.ext``."""
    candidate = folder / fit_name(name)
    if not os.path.lexists(candidate):
        return candidate
    stem, ext = _split(name)
    n = 1
    while True:
        numbered = f"{stem}.{n}{ext}"
        if len(os.fsencode(numbered)) > NAME_MAX:
            numbered = _shorten(stem, f"{_tag(name)}.{n}", ext, "")
        candidate = folder / numbered
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _load_renameat2() -> Any:
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
_NO_RENAMEAT2 = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)  # the file system cannot: fall back to link


def rename_noreplace(src: StrPath, dst: StrPath) -> None:
    """Atomic rename that fails with FileExistsError instead of replacing ``dst``."""
    import ctypes

    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            trace("rename", src=src, dst=dst)
            return
        err = ctypes.get_errno()
        if err not in _NO_RENAMEAT2:
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    os.link(src, dst)
    trace("link", src=src, dst=dst)
    unlink(src)


def move_unique(src: Path, folder: Path, name: str, before: Callable[[Path], None] | None = None) -> Path:
    """Move ``src`` into ``folder`` as ``name`` (or a numbered variant); never overwrites.

    ``before(destination)`` runs just before the move (to write a companion file first). Across file
    systems (EXDEV) it copies: the copy is durable under its final name before the source goes, so
    a crash in between leaves two copies, never none."""
    try:
        return _place(src, folder, name, before)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return _copy_across(src, folder, name, before)


def _place(src: Path, folder: Path, name: str, before: Callable[[Path], None] | None) -> Path:
    """Rename ``src`` to a free variant of ``name`` in ``folder``, never replacing; ``before`` first."""
    if before is None:  # (the name itself, most often free: tried without looking first)
        try:
            dst = folder / fit_name(name)
            rename_noreplace(src, dst)
            return dst
        except FileExistsError:
            pass
    while True:
        dst = unique_path(folder, name)
        try:
            if before is not None:
                before(dst)
            rename_noreplace(src, dst)
            return dst
        except FileExistsError:
            continue


def _copy_across(src: Path, folder: Path, name: str, before: Callable[[Path], None] | None) -> Path:
    tmp = folder / fit_name(f".{name}", f".{os.getpid()}.partial")
    _remove_tree(tmp)  # a leftover of a crash during an earlier copy
    _copy_synced(src, tmp)
    fsync_dir(folder)
    dst = _place(tmp, folder, name, before)
    fsync_dir(folder)
    _remove_tree(src)
    fsync_dir(src.parent)
    return dst


def _copy_synced(src: Path, dst: Path) -> None:
    """Copy a regular file, link, fifo or folder (recursively), every file fsynced."""
    info = os.lstat(src)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(src), dst)
        trace("symlink", path=dst)
    elif stat.S_ISDIR(info.st_mode):
        os.mkdir(dst)
        trace("mkdir", path=dst)
        for entry in sorted(os.listdir(src)):
            _copy_synced(src / entry, dst / entry)
        fsync_dir(dst)
    elif stat.S_ISREG(info.st_mode):
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, COPY_CHUNK)  # streamed: a refused input may be huge
            fout.flush()
            trace("write", path=dst, size=fout.tell())
            os.fsync(fout.fileno())
        trace("fsync", path=dst)
        shutil.copystat(src, dst)
    elif stat.S_ISFIFO(info.st_mode):
        os.mkfifo(dst, stat.S_IMODE(info.st_mode))
        trace("mkfifo", path=dst)
    else:
        raise OSError(errno.EXDEV, "cannot copy this kind of file to another file system", str(src))


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        trace("rmtree", path=path)
    else:
        unlink(path, missing_ok=True)
