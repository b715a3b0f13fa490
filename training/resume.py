"""A training run that survives being stopped: ``digitwatch train --state DIR``.

A robust network takes 20-50 minutes on two cores and a stronger recipe hours; a reboot, a kill or a
session's end must not lose them. With a state folder, every epoch leaves in it the network and its
optimizer, the best epoch so far and the curves; every finished member
leaves its network. The same command run again goes on from the last finished epoch of the member it
was fitting, and takes the finished members as they are. A published run's state is removed.

Layout: ``options.json`` (what the run is: another command is refused), ``member-K/`` (``epoch-N.keras``,
``best.keras``, ``progress.json``) while member K is fitted, ``member-K.keras`` and
``member-K.json`` (its run record) once it is done.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from digitwatch.daemon.errors import DataError
from digitwatch.daemon.fsutil import atomic_write

OPTIONS = "options.json"


class RunState:
    """The state folder of one training command (see the module's docstring)."""

    def __init__(self, folder: Path, options: dict[str, Any]) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        mine = json.loads(json.dumps(options, default=str, sort_keys=True))
        path = folder / OPTIONS
        if path.is_file():
            theirs = json.loads(path.read_text())
            if theirs != mine:
                differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise DataError(
                    f"--state {folder}: it holds another training run (differs in {', '.join(differ)}); "
                    "run that command again to go on with it, or give another folder"
                )
        else:
            atomic_write(path, json.dumps(mine, sort_keys=True, indent=1).encode())

    def member_dir(self, k: int) -> Path:
        return self.folder / f"member-{k + 1}"

    def finished(self, k: int) -> tuple[Any, dict[str, Any]] | None:
        """Member ``k``'s network and run record when an earlier run finished it."""
        model, record = self.folder / f"member-{k + 1}.keras", self.folder / f"member-{k + 1}.json"
        if not (model.is_file() and record.is_file()):
            return None
        import keras

        return keras.models.load_model(model, safe_mode=True, compile=False), json.loads(record.read_text())

    def finish(self, k: int, model: Any, run: dict[str, Any]) -> None:
        """Keep member ``k`` (its record last: a network without one is fitted again) and drop its epochs."""
        _save(model, self.folder / f"member-{k + 1}.keras")
        atomic_write(self.folder / f"member-{k + 1}.json", json.dumps(run).encode())
        shutil.rmtree(self.member_dir(k), ignore_errors=True)

    def clear(self) -> None:
        """The run is published: nothing to go on with."""
        shutil.rmtree(self.folder, ignore_errors=True)


class Progress:
    """One member's epochs so far: its curves, best validation accuracy and seconds, and the network with its
    optimizer after the last epoch (``epoch-N.keras``, named by the epoch that ``progress.json`` names, so a
    stop between the two writes leaves the pair that was complete). Not ``resumable``: the best epoch and the
    curves only, for a run without ``--state``."""

    def __init__(self, folder: Path, resumable: bool = True) -> None:
        self.folder, self.resumable = folder, resumable
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "progress.json"
        saved = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.epochs: dict[str, dict[str, float]] = saved.get("epochs", {})
        self.seconds: float = saved.get("seconds", 0.0)
        self.best: float | None = saved.get("best")
        self.best_path = folder / "best.keras"
        self._started = time.monotonic()

    @property
    def done(self) -> int:
        return len(self.epochs)

    def resumed(self) -> Any:
        """The network and its optimizer as the last kept epoch left them (None before any)."""
        if not self.done:
            return None
        import keras

        return keras.models.load_model(self.folder / f"epoch-{self.done}.keras", safe_mode=True)

    def callback(self) -> Any:
        """A Keras callback that keeps each epoch here (the best one in ``best_path``)."""
        import keras

        progress = self

        class Keep(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                progress.keep(self.model, epoch, logs or {})

        return Keep()

    def keep(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        now = time.monotonic()
        self.seconds += now - self._started
        self._started = now
        accuracy = logs.get("val_accuracy")
        if accuracy is not None and (self.best is None or accuracy > self.best):
            self.best = float(accuracy)
            _save(model, self.best_path)
        self.epochs[str(epoch)] = {k: float(v) for k, v in logs.items()}
        if not self.resumable:
            return
        _save(model, self.folder / f"epoch-{epoch + 1}.keras")
        state = {"epochs": self.epochs, "seconds": self.seconds, "best": self.best}
        atomic_write(self.path, json.dumps(state).encode())
        (self.folder / f"epoch-{epoch}.keras").unlink(missing_ok=True)

    def history(self) -> dict[str, list[float]]:
        """The curves over every epoch, before and after any stop, as ``History.history`` gives them."""
        ordered = [self.epochs[k] for k in sorted(self.epochs, key=int)]
        return {key: [e[key] for e in ordered] for key in (ordered[0] if ordered else {})}


def _save(model: Any, path: Path) -> None:
    """``model`` (with its optimizer's state, if compiled) to ``path`` atomically: Keras writes in place."""
    partial = path.with_name(f".{path.stem}.partial.keras")
    model.save(partial)
    atomic_write(path, partial.read_bytes())
    partial.unlink()
