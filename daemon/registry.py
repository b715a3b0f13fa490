"""Where models live: the checkpoint folder's manifest, and the bundled default.

``digitwatch train`` publishes ``model-<id>.keras`` (id = first 16 hex digits
of the file's SHA-256), its LiteRT conversion ``model-<id>.tflite`` and then
atomically replaces ``latest.json``, which names the newest model. Readers look
only at the manifest, so they never see a model file that is still being written.

The manifest is input, not trust: whoever can write the checkpoint folder can
write it. ``read_checked`` confines each named file to the manifest's folder (a
plain name, no symlink leading out), caps its size and checks its hash against
the manifest before a byte of it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ModelError

MANIFEST = "latest.json"
BUNDLED = "default.keras"
# Why 200 MB: today's 3-member ensemble is 6.7 MB (its LiteRT file 6.5 MB); 30x headroom for bigger
# networks, while a runaway or planted file cannot make the loader read gigabytes into memory.
MAX_MODEL_BYTES = 200 * 2**20
# Why 1 MB: a manifest is a few hundred bytes; the cap keeps a planted or runaway one from filling memory.
MAX_MANIFEST_BYTES = 1 << 20
ID_HEX = 16  # a model id is this many hex digits of the file's SHA-256: unique among a folder's models


@dataclass(frozen=True)
class ModelRef:
    model_id: str
    path: Path
    source: str  # "checkpoint", "bundled" or "file"
    converted: Path | None = None  # the LiteRT file converted from ``path`` at publish, if any
    converted_id: str | None = None  # its SHA-256 prefix, as the manifest records it
    keras_canary: float | None = None  # the Keras model's canary accuracy, recorded at publish
    folder: Path | None = None  # the files must lie in this folder (the checkpoint, the package's models)
    problem: str | None = None  # what is wrong with the manifest itself; loading refuses the ref with it
    temperature: float = 1.0  # confidence calibration fitted at publish (infer.calibrated); 1.0: as the network says


def file_id(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:ID_HEX]


def bytes_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:ID_HEX]


def bundled() -> ModelRef:
    path = Path(str(resources.files("digitwatch.daemon").joinpath("models", BUNDLED)))
    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return _ref(meta, path.parent, "bundled", default_file=BUNDLED) or ModelRef(
        file_id(path), path, "bundled", folder=path.parent
    )


def by_hand(path: Path) -> ModelRef:
    """A model file named by hand (``--model``): served as it is, at the temperature recorded beside it when
    there is one (``model-<id>.metrics.json`` from publish, or ``<name>.json`` as the bundled model's)."""
    temperature: Any = 1.0
    for meta_path in (path.with_suffix(".metrics.json"), path.with_suffix(".json")):
        try:
            if meta_path.is_file() and meta_path.stat().st_size <= MAX_MANIFEST_BYTES:
                temperature = json.loads(meta_path.read_text()).get("temperature", 1.0)
                break
        except (OSError, ValueError, AttributeError):
            continue
    fitted = float(temperature) if temperature_ok(temperature) else 1.0
    return ModelRef(file_id(path), path, "file", temperature=fitted)


def latest(checkpoint: Path) -> ModelRef | None:
    """The model the manifest in ``checkpoint`` names, or None when there is none (or it is unreadable).

    A manifest that names files badly, or is not a small regular file, still gives a ref whose
    ``problem`` loading refuses with the reason, so the refusal is logged instead of looking like
    "nothing published"."""
    path = checkpoint / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block the keeper
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
                problem = f"{path} is not a regular file of at most {MAX_MANIFEST_BYTES >> 20} MB"
                return ModelRef(f"manifest-{info.st_ino}-{info.st_size}", path, "checkpoint", problem=problem)
            manifest = json.loads(fh.read(MAX_MANIFEST_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return _ref(manifest, checkpoint, "checkpoint") if isinstance(manifest, dict) else None


def _ref(meta: dict[str, Any], folder: Path, source: str, default_file: str | None = None) -> ModelRef | None:
    name = meta.get("file", default_file)
    if "model_id" not in meta or not isinstance(name, str):
        return None
    converted = meta.get("litert_file")
    canary = meta.get("keras_canary_accuracy")
    temperature = meta.get("temperature", 1.0)
    bad = [n for n in (name, converted) if isinstance(n, str) and not _plain(n)]
    return ModelRef(
        model_id=str(meta["model_id"]),
        path=folder / name,
        source=source,
        converted=folder / converted if isinstance(converted, str) else None,
        converted_id=str(meta["litert_id"]) if "litert_id" in meta else None,
        keras_canary=float(canary) if isinstance(canary, int | float) else None,
        folder=folder,
        problem=f"manifest names {bad[0]!r}: model files must be plain names inside {folder}"
        if bad
        else (None if temperature_ok(temperature) else f"manifest's temperature {temperature!r} is not in 0.1..10"),
        temperature=float(temperature) if temperature_ok(temperature) else 1.0,
    )


def temperature_ok(value: Any) -> bool:
    """Whether a manifest's temperature is one the daemon serves at (a number in 0.1..10)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.1 <= value <= 10


def _plain(name: str) -> bool:
    """A file name with no folder part: not absolute, no ``/``, not ``.`` or ``..``."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def current(checkpoint: Path) -> ModelRef:
    """What the daemon serves: the newest published model, else the bundled default."""
    return latest(checkpoint) or bundled()


def confined(path: Path, folder: Path | None) -> Path:
    """``path`` resolved, if it is a plain file name inside ``folder``; else ModelError.

    No absolute path, no ``..``, no sub-folder, no symlink whose target lies outside the folder.
    ``folder`` None (a model file given by hand, as to ``digitwatch predict``) only resolves.
    """
    if folder is None:
        return path.resolve()
    if path.parent != folder or not _plain(path.name):
        raise ModelError(f"model file {str(path)!r} is not a plain name inside {folder}")
    try:
        real, home = path.resolve(), folder.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ModelError(f"model file {path.name} cannot be resolved: {exc}") from None
    if real.parent != home:
        raise ModelError(f"model file {path.name} leads out of {folder} (to {real})")
    return real


def read_checked(path: Path, folder: Path | None, expect_id: str | None) -> bytes:
    """The bytes of a model file once it is confined, a regular file, under the size cap and
    hashing to ``expect_id`` (None: not checked). Reading once and parsing these bytes leaves no
    window for the file to change between the check and the load."""
    real = confined(path, folder)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO must not block
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ModelError(f"cannot open model file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelError(f"model file {path} is not a regular file")
        if info.st_size > MAX_MODEL_BYTES:
            size_mb = info.st_size / 2**20
            raise ModelError(f"model file {path} is {size_mb:.0f} MB; the cap is {MAX_MODEL_BYTES >> 20} MB")
        data = fh.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise ModelError(f"model file {path} grew past the {MAX_MODEL_BYTES >> 20} MB cap while read")
    if expect_id is not None and bytes_id(data) != expect_id:
        raise ModelError(f"model file {path.name} hashes to {bytes_id(data)}, the manifest says {expect_id}")
    return data
