"""``digitwatch backfill`` on Ray Data: the cluster, and the callable class each actor runs.

Imported only by ``backfill`` (never by ``run``): Ray is the optional extra ``digitwatch[ray]``.
An actor loads the model once (the daemon's ``Predictor``) and reads its batches through the
daemon's ``PreparePool`` and ``classify``, so its rows are the ones ``predict`` writes. It is
pinned to as many CPUs as Ray gave it, before the interpreter is made: LiteRT sizes its thread
pool by the CPUs the process may use, so unpinned actors each take every core and oversubscribe.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import OfflineError
from .registry import ModelRef
from .results import Result

CPUS_PER_ACTOR = 1  # one decode process and one LiteRT thread per actor: more actors scale better than wider ones
SLOT_DIR = Path(tempfile.gettempdir()) / f"digitwatch-backfill-cpus-{os.getuid()}"  # per node and user: CPUs held
CONNECT_TIMEOUT_S = 10.0  # a head node that does not accept a connection by then is not there
THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # Keras path, BLAS


class RayMissing(OfflineError):
    """Ray is not installed: the optional extra (exit 69, EX_UNAVAILABLE: a support program is missing)."""


class ClusterUnavailable(OfflineError):
    """The Ray cluster named by --address or RAY_ADDRESS cannot be reached (exit 69, EX_UNAVAILABLE)."""


def require_ray() -> Any:
    try:
        import ray
        import ray.data  # the extra is ray[data]: pyarrow and pandas come with it
    except ImportError as exc:
        raise RayMissing(f"backfill needs Ray: pip install 'digitwatch[ray]' ({exc})") from None
    return ray


@contextlib.contextmanager
def cluster(address: str | None, workers: int | None) -> Iterator[int]:
    """Connect to the cluster at ``address`` (or $RAY_ADDRESS), else start a local one of ``workers``
    CPUs (logs in a temporary folder, removed after); yield how many actors to run; shut down after."""
    ray = require_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    temp = None if address else tempfile.mkdtemp(prefix="dw-ray-")  # short: Ray's socket paths must fit 107 bytes
    local_cpus = workers or len(os.sched_getaffinity(0))
    try:
        if address:
            _reachable(address)
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(
                address="local",  # never an already running `ray start` cluster on this host
                num_cpus=local_cpus * CPUS_PER_ACTOR,
                include_dashboard=False,
                _temp_dir=temp,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
    except ConnectionError as exc:
        hint = "" if os.environ.get("RAY_AUTH_MODE") else " (a `ray start` cluster wants RAY_AUTH_MODE=token)"
        raise ClusterUnavailable(f"cannot reach the Ray cluster at {address}: {exc}{hint}") from None
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False  # backfill's own bar counts files
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan, timings, notices: in the logs folder
        yield workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // CPUS_PER_ACTOR)
    finally:
        ray.shutdown()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def _reachable(address: str) -> None:
    """A plain HOST:PORT that does not answer is said at once (ray.init would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not port.isdigit():
        return  # ray://, "auto": Ray's own lookups
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterUnavailable(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def recognise(
    items: list[tuple[str, Path]], ref: ModelRef, cfg: Config, actors: int, batch_size: int
) -> Iterator[list[Result]]:
    """Stream the inputs through ``actors`` Recognizer actors; yield each batch's results as they come."""
    import ray.data

    rows = [{"file": name, "path": os.fsencode(path)} for name, path in items]  # bytes: any name survives Arrow
    ds = ray.data.from_items(rows).map_batches(
        Recognizer,
        fn_constructor_kwargs={"ref": ref, "cfg": cfg, "cpus": CPUS_PER_ACTOR},
        compute=ray.data.ActorPoolStrategy(size=actors),  # Ray Data restarts a dead actor and retries its batch
        num_cpus=CPUS_PER_ACTOR,
        batch_size=batch_size,
        batch_format="numpy",
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        yield [Result(**json.loads(text)) for text in batch["row"]]


class Recognizer:
    """One per actor: the model loaded once, a decode process with the daemon's per-file deadline."""

    def __init__(self, ref: ModelRef, cfg: Config, cpus: int) -> None:
        self._slot = pin(cpus)  # before infer is imported: its thread count is the CPUs this process may use
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(cpus)))  # before TensorFlow is, if it is
        from .infer import Predictor
        from .pool import PreparePool
        from .recognize import Limits

        self.predictor = Predictor.load(ref)
        self.pool = PreparePool(cpus, True, cfg.file_timeout_s)
        self.limits = Limits(cfg.max_pixels, int(cfg.max_file_mb * 2**20), cfg.decode_memory_mb * 2**20)
        self.low_confidence = cfg.low_confidence

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .recognize import classify

        paths = [Path(os.fsdecode(bytes(p))) for p in batch["path"]]
        prepared = self.pool.prepare(paths, self.limits)
        results = classify([str(n) for n in batch["file"]], prepared, self.predictor, self.low_confidence)
        # JSON with ASCII escapes: every field of Result, whatever it holds, crosses Arrow unchanged.
        return {"row": np.array([json.dumps(asdict(r)) for r in results], dtype=object)}

    def __del__(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()


def pin(cpus: int) -> int | None:
    """Bind this process to ``cpus`` CPUs no other actor on this node holds (a lock file per slot,
    released when the process dies); return the lock's descriptor, or None when every slot is held."""
    allowed = sorted(os.sched_getaffinity(0))
    slots = max(1, len(allowed) // cpus)
    for slot in range(slots):
        try:
            SLOT_DIR.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(SLOT_DIR / f"slot-{cpus}-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            break  # no private temporary folder: share, as below
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.sched_setaffinity(0, allowed[slot * cpus : (slot + 1) * cpus])
        return fd
    os.sched_setaffinity(0, allowed[(os.getpid() % slots) * cpus :][:cpus])  # more actors than CPUs: share
    return None
