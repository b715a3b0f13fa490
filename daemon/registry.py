"""Where models live: the checkpoint folder's manifest, and the bundled default.

``digitwatch train`` publishes ``model-<id>.keras`` (id = first 16 hex digits
of the file's SHA-256) and then atomically replaces ``latest.json``, which
names the newest model. Readers look only at the manifest, so they never see
a model file that is still being written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MANIFEST = "latest.json"
BUNDLED = "default.keras"


@dataclass(frozen=True)
class ModelRef:
    model_id: str
    path: Path
    source: str  # "checkpoint" or "bundled"


def file_id(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def bundled() -> ModelRef:
    path = Path(str(resources.files("digitwatch.daemon").joinpath("models", BUNDLED)))
    meta = path.with_suffix(".json")
    model_id = json.loads(meta.read_text())["model_id"] if meta.exists() else file_id(path)
    return ModelRef(model_id, path, "bundled")


def latest(checkpoint: Path) -> ModelRef | None:
    """The model the manifest in ``checkpoint`` names, or None when there is none (or it is unreadable)."""
    try:
        manifest = json.loads((checkpoint / MANIFEST).read_text(encoding="utf-8"))
        return ModelRef(str(manifest["model_id"]), checkpoint / str(manifest["file"]), "checkpoint")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current(checkpoint: Path) -> ModelRef:
    """What the daemon serves: the newest published model, else the bundled default."""
    return latest(checkpoint) or bundled()
