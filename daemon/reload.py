"""Model hot-reload: notice a newly published model, load and check it off the hot path, swap it in.

The worker reads ``keeper.current`` once per batch, so a swap happens between
batches. A model that fails to load or to pass its checks is logged and
remembered (its id is a content hash, so the same bytes are not retried until
SIGHUP); the old model keeps serving.
"""

from __future__ import annotations

import threading
from pathlib import Path

from . import log, registry
from .errors import ModelError
from .infer import Predictor
from .results import utc_now


class ModelKeeper:
    def __init__(self, checkpoint: Path, canary_min_accuracy: float, poll_s: float, max_batch: int = 256) -> None:
        self.checkpoint = checkpoint
        self.max_batch = max_batch
        self.canary_min_accuracy = canary_min_accuracy
        self.poll_s = poll_s
        self.current: Predictor | None = None
        self.since = ""
        self._rejected: set[str] = set()
        self._forced = False
        self._wake = threading.Event()
        self._log = log.get("digitwatch.model")

    def load_initial(self) -> Predictor:
        """The published model, else the bundled default; raises ModelError if neither loads."""
        ref = registry.current(self.checkpoint)
        try:
            self._swap(Predictor.load(ref, self.canary_min_accuracy))
        except ModelError as exc:
            if ref.source == "bundled":
                raise
            self._rejected.add(ref.model_id)
            self._log.error("model_rejected", model=ref.model_id, path=str(ref.path), reason=str(exc))
            self._swap(Predictor.load(registry.bundled(), 0.0))
        assert self.current is not None
        return self.current

    def trigger(self, force: bool = False) -> None:
        """Check for a new model now; ``force`` (SIGHUP) also retries models rejected before, and
        goes back to the bundled default when nothing is published any more."""
        if force:
            self._rejected.clear()
            self._forced = True
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if not stop.is_set():
                self.check()

    def check(self) -> None:
        # A manifest that is missing or unreadable for a moment (being rewritten in place by hand,
        # a share that hiccups) must not send the daemon back to the bundled model: only a
        # SIGHUP does that.
        forced, self._forced = self._forced, False
        ref = registry.latest(self.checkpoint) or (registry.bundled() if forced else None)
        if ref is None:
            return
        serving = self.current.model_id if self.current else None
        if ref.model_id in (serving, *self._rejected):
            return
        try:
            self._swap(Predictor.load(ref, self.canary_min_accuracy))
        except ModelError as exc:
            self._rejected.add(ref.model_id)
            self._log.error("model_rejected", model=ref.model_id, path=str(ref.path), reason=str(exc))

    def _swap(self, predictor: Predictor) -> None:
        predictor.warm_up(self.max_batch)  # here, off the hot path: the first full batch is not slow
        old = self.current.model_id if self.current else None
        self.current = predictor
        self.since = utc_now()
        self._log.info(
            "model_loaded",
            model=predictor.model_id,
            previous=old,
            source=predictor.ref.source,
            path=str(predictor.ref.path),
            canary_accuracy=round(predictor.canary_accuracy, 4),
        )
