"""Model hot-reload: notice a newly published model, load and check it off the hot path, swap it in.

The worker reads ``keeper.current`` once per batch, so a swap happens between
batches. A model that fails to load, to pass its checks or to warm up - for any
reason, not only a ModelError - is logged (``model_rejected`` with the reason)
and remembered with the manifest it came under: the same bytes are not retried
each poll, but are once a manifest is put in place again (a new publish,
``models pin``) or on SIGHUP; the old model keeps serving.

The thread is supervised: ``alive()`` says whether it runs, and ``supervise()``,
called by the service's main loop each second, logs ``model_thread_died`` and
starts a new one if it has died anyway.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from . import log, registry
from .errors import ModelError
from .infer import Predictor
from .registry import ModelRef
from .results import utc_now

REASON_CHARS = 300  # a rejection reason is one log line: enough for a path and an exception's message


class ModelKeeper:
    def __init__(self, checkpoint: Path, canary_min_accuracy: float, poll_s: float, max_batch: int = 256) -> None:
        self.checkpoint = checkpoint
        self.max_batch = max_batch
        self.canary_min_accuracy = canary_min_accuracy
        self.poll_s = poll_s
        self.current: Predictor | None = None
        self.since = ""
        self.restarts = 0
        self.reloads = {"loaded": 0, "rejected": 0}  # new models after the first: the reloads metric
        # model id -> the manifest it was rejected under: rewritten (a pin, a new publish) it is tried again
        self._rejected: dict[str, tuple[int, int, int] | None] = {}
        self._forced = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = log.get("digitwatch.model")

    def load_initial(self) -> Predictor:
        """The published model, else the bundled default; raises ModelError if neither loads.

        Only the load and the canary check happen here, on the start-up path; the warm-up of the
        other batch sizes waits for the keeper's thread."""
        ref = registry.current(self.checkpoint)
        try:
            predictor = Predictor.load(ref, self.canary_min_accuracy)
        except Exception as exc:
            if ref.source == "bundled":
                raise ModelError(f"bundled model: {_reason(exc)}") from None
            self._reject(ref, exc)
            predictor = Predictor.load(registry.bundled(), 0.0)
        self._swap(predictor)
        return predictor

    def trigger(self, force: bool = False) -> None:
        """Check for a new model now; ``force`` (SIGHUP) also retries models rejected before, and
        goes back to the bundled default when nothing is published any more."""
        if force:
            self._rejected.clear()
            self._forced = True
        self._wake.set()

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="model", daemon=True)
        thread.start()
        return thread

    def alive(self) -> bool:
        """Whether the keeper's thread (started by ``start`` or running ``run``) is running."""
        return self._thread is not None and self._thread.is_alive()

    def supervise(self, stop: threading.Event) -> bool:
        """Restart the thread if it died; True when it did. For the service's loop, once a second."""
        if stop.is_set() or self._thread is None or self._thread.is_alive():
            return False
        self.restarts += 1
        self._log.error("model_thread_died", restarts=self.restarts)
        self._thread = self.start(stop)
        return True

    def run(self, stop: threading.Event) -> None:
        self._thread = threading.current_thread()
        self._warm_current()
        while not stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if stop.is_set():
                break
            try:
                self.check()
            except Exception as exc:  # check() handles each attempt; this is the last net, the thread goes on
                self._log.error("model_keeper_error", reason=_reason(exc))

    def check(self) -> None:
        # A manifest that is missing or unreadable for a moment (being rewritten in place by hand,
        # a share that hiccups) must not send the daemon back to the bundled model: only a
        # SIGHUP does that.
        forced, self._forced = self._forced, False
        ref = registry.latest(self.checkpoint) or (registry.bundled() if forced else None)
        if ref is None:
            return
        serving = self.current.model_id if self.current else None
        if ref.model_id == serving or self._rejected.get(ref.model_id, -1) == self._manifest():
            return
        try:
            predictor = Predictor.load(ref, self.canary_min_accuracy)
            predictor.warm_up(self.max_batch)  # here, off the hot path: the first full batch is not slow
        except Exception as exc:  # any failure of a new model leaves the old one serving
            self._reject(ref, exc)
            return
        self._swap(predictor)

    def _manifest(self) -> tuple[int, int, int] | None:
        """Which manifest is in place (inode, size, mtime): publish and ``models pin`` rename a new one in."""
        try:
            st = os.stat(self.checkpoint / registry.MANIFEST)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _warm_current(self) -> None:
        predictor = self.current
        if predictor is None:
            return
        try:
            predictor.warm_up(self.max_batch)
        except Exception as exc:  # it passed its canary check; a batch size that fails here fails in its batch
            self._log.error("model_warm_up_failed", model=predictor.model_id, reason=_reason(exc))

    def _reject(self, ref: ModelRef, exc: BaseException) -> None:
        self.reloads["rejected"] += 1
        self._rejected[ref.model_id] = self._manifest()
        self._log.error("model_rejected", model=ref.model_id, path=str(ref.path), reason=_reason(exc))

    def _swap(self, predictor: Predictor) -> None:
        old = self.current.model_id if self.current else None
        if old is not None:
            self.reloads["loaded"] += 1
        self.current = predictor
        self.since = utc_now()
        self._log.info(
            "model_loaded",
            model=predictor.model_id,
            previous=old,
            source=predictor.ref.source,
            path=str(predictor.ref.path),  # the .keras: what the model id names (bench loads it in Keras)
            runtime=predictor.runtime,
            served=str(predictor.ref.converted if predictor.runtime == "litert" else predictor.ref.path),
            tensorflow_loaded="tensorflow" in sys.modules,
            canary_accuracy=round(predictor.canary_accuracy, 4),
        )


def _reason(exc: BaseException) -> str:
    """One line: a ModelError's own message, else the exception's type and message."""
    text = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:REASON_CHARS]
