"""``digitwatch models``: the models published into the checkpoint folder; pin one, or roll back.

``digitwatch train`` publishes ``model-<id>.keras``, its LiteRT file and ``model-<id>.metrics.json``
(every metric, the conversion's fields, ``published_at``), then replaces ``latest.json``, the manifest
the running daemon watches. Pinning writes that manifest again, atomically, with the fields publish
writes, taken from the model's metrics file - after the model's files are checked as the daemon
checks them (plain names inside the folder, size cap, hash), so a pin never names a model the
daemon would refuse for a missing or changed file. The daemon then hot-reloads it, canary check
included. Older models are never deleted: a rollback is a pin of the one published before.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import registry
from .errors import DataError, ModelError, NoInputError
from .fsutil import atomic_write

METRICS_SUFFIX = ".metrics.json"
# publish.MANIFEST_FIELDS (the conversion's fields the manifest carries), named here so that ``models`` does
# not import the training package (numpy, matplotlib) to rewrite a small JSON file; a test keeps them equal.
CONVERSION_FIELDS = ("litert_file", "litert_id", "litert_variant", "keras_canary_accuracy")
MIN_PREFIX = 4
# Why 16 MB: a metrics file is tens of KB (per-epoch histories of a few members); a planted or runaway one is skipped.
MAX_METRICS_BYTES = (
    16 * 2**20
)  # hex digits of an id a person may type instead of all 16, when no other model shares them


@dataclass(frozen=True)
class Model:
    model_id: str
    published_at: str
    order: float  # tie-break among models published within one second: the metrics file's mtime
    metrics: dict[str, Any]

    def row(self, served: bool) -> dict[str, Any]:
        m = self.metrics
        held = {k: v for k, v in m.items() if "held_out" in k and isinstance(v, int | float | dict)}
        return {
            "id": self.model_id,
            "served": served,
            "published_at": self.published_at,
            "test_accuracy": m.get("test_accuracy"),
            "recipe": m.get("recipe"),
            "train_images": m.get("train_images"),
            "litert": m.get("litert_file") is not None,
            **held,
        }


def published(checkpoint: Path) -> list[Model]:
    """The models in ``checkpoint`` with a readable metrics file, oldest first."""
    models = []
    for path in checkpoint.glob(f"model-*{METRICS_SUFFIX}"):
        model_id = path.name[len("model-") : -len(METRICS_SUFFIX)]
        try:
            if path.stat().st_size > MAX_METRICS_BYTES:
                continue
            metrics = json.loads(path.read_text(encoding="utf-8"))
            order = path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if isinstance(metrics, dict):
            models.append(Model(model_id, str(metrics.get("published_at", "")), order, metrics))
    return sorted(models, key=lambda m: (m.published_at, m.order, m.model_id))


def served_id(checkpoint: Path) -> str | None:
    """The id ``latest.json`` names (None: no manifest, so the bundled model is served)."""
    ref = registry.latest(checkpoint)
    return ref.model_id if ref is not None else None


def _folder(checkpoint: Path) -> Path:
    if not checkpoint.is_dir():
        raise NoInputError(f"checkpoint folder {checkpoint} does not exist: nothing published")
    return checkpoint


def listing(checkpoint: Path) -> dict[str, Any]:
    """What ``models list --json`` prints: the folder, what is served, every model (oldest first)."""
    serving = served_id(_folder(checkpoint))
    models = published(checkpoint)
    return {
        "checkpoint": str(checkpoint),
        "served": serving or "bundled",
        "models": [m.row(m.model_id == serving) for m in models],
    }


def text(report: dict[str, Any]) -> str:
    lines = [f"{'':2}{'id':<17}{'published_at':<22}{'test_acc':>9}  {'recipe':<8}held-out"]
    for r in report["models"]:
        held_text = " ".join(_figures(r))
        acc = f"{r['test_accuracy']:.2%}" if isinstance(r["test_accuracy"], int | float) else "-"
        mark = "* " if r["served"] else "  "
        lines.append(f"{mark}{r['id']:<17}{r['published_at']:<22}{acc:>9}  {r['recipe'] or '-':<8}{held_text}")
    if not report["models"]:
        lines.append("  (no published model)")
    if report["served"] == "bundled":
        lines.append("served: the bundled model (no latest.json)")
    elif not any(r["served"] for r in report["models"]):
        lines.append(f"served: {report['served']} (named by latest.json; no metrics file for it here)")
    return "\n".join(lines)


def _figures(row: dict[str, Any]) -> list[str]:
    """``usps 99.10%``, ...: each held-out figure a model's metrics carry (``held_out`` and any ``*held_out*``)."""
    out = []
    for key, value in row.items():
        if "held_out" not in key:
            continue
        named = value if isinstance(value, dict) else {key: value}
        out += [f"{k} {v:.2%}" for k, v in named.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return out


def find(checkpoint: Path, wanted: str) -> Model:
    """The model whose id is ``wanted`` or starts with it (at least MIN_PREFIX digits, one match)."""
    models = published(_folder(checkpoint))
    exact = [m for m in models if m.model_id == wanted]
    matches = exact or ([m for m in models if m.model_id.startswith(wanted)] if len(wanted) >= MIN_PREFIX else [])
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(m.model_id for m in models) or "none"
    if matches:
        raise NoInputError(f"model id {wanted!r} is ambiguous: {', '.join(m.model_id for m in matches)}")
    raise NoInputError(f"no published model {wanted!r} in {checkpoint} (published: {known})")


def manifest_for(checkpoint: Path, model: Model) -> dict[str, Any]:
    """The manifest publish wrote for ``model``, rebuilt from its metrics file; ModelError unless its
    files are in place, plain names inside the folder, under the size cap and hashing to the ids."""
    m = model.metrics
    if m.get("model_id", model.model_id) != model.model_id:
        raise ModelError(f"{model.model_id}: its metrics file names model {m['model_id']!r}")
    keras_file = f"model-{model.model_id}.keras"
    registry.read_checked(checkpoint / keras_file, checkpoint, model.model_id)
    litert = m.get("litert_file")
    if litert is not None:
        if not isinstance(litert, str) or not isinstance(m.get("litert_id"), str):
            raise ModelError(f"{model.model_id}: its metrics name the LiteRT file badly ({litert!r})")
        registry.read_checked(checkpoint / litert, checkpoint, m["litert_id"])
    manifest = {
        "model_id": model.model_id,
        "file": keras_file,
        **{k: m[k] for k in CONVERSION_FIELDS if k in m},
        "test_accuracy": m.get("test_accuracy"),
        "temperature": m.get("temperature", 1.0),
        "recipe": m.get("recipe"),
        "published_at": model.published_at,
        "pinned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    t = manifest["temperature"]
    if not registry.temperature_ok(t):
        raise ModelError(f"{model.model_id}: its temperature {t!r} is not in 0.1..10; the daemon would refuse it")
    return manifest


def pin(checkpoint: Path, wanted: str) -> dict[str, Any]:
    """Make ``latest.json`` name the model ``wanted`` (its id or a unique prefix); return the manifest."""
    manifest = manifest_for(checkpoint, find(checkpoint, wanted))
    atomic_write(checkpoint / registry.MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def rollback(checkpoint: Path) -> dict[str, Any]:
    """Pin the model published just before the one served."""
    serving = served_id(_folder(checkpoint))
    models = published(checkpoint)
    if serving is None:
        raise DataError(f"{checkpoint} has no {registry.MANIFEST}: the bundled model is served, nothing to roll back")
    ids = [m.model_id for m in models]
    if serving not in ids:
        raise DataError(f"the served model {serving} has no metrics file in {checkpoint}: pin one by id")
    at = ids.index(serving)
    if at == 0:
        raise DataError(f"{serving} is the oldest published model: nothing was published before it")
    return pin(checkpoint, ids[at - 1])


def run(checkpoint: Path, action: str, model_id: str | None, as_json: bool) -> int:
    """``digitwatch models ACTION``: print the listing, or what was pinned and what was served before."""
    if action == "list":
        report = listing(checkpoint)
        print(json.dumps(report) if as_json else text(report))
        return 0
    before = served_id(_folder(checkpoint)) or "bundled"
    manifest = rollback(checkpoint) if action == "rollback" else pin(checkpoint, model_id or "")
    done = {"action": action, "served": manifest["model_id"], "previous": before, "manifest": manifest}
    verb = "rolled back" if action == "rollback" else "pinned"
    said = f"{verb}: {before} -> {manifest['model_id']} (published {manifest['published_at']}); "
    print(json.dumps(done) if as_json else said + "a running daemon loads it within model_poll_s")
    return 0
