"""Prometheus metrics (prometheus_client), the health verdict, and the two ways out: HTTP and a textfile.

``metrics_address`` (off by default; loopback unless an operator writes another address) serves
``/metrics`` and ``/healthz``. ``metrics_file`` is node_exporter's textfile collector format, rewritten
atomically every ``metrics_interval_s`` and at stop: it works under the unit's ``PrivateNetwork=yes``.
The metric names are in README ("Metrics"); alert rules and a dashboard in ``deploy/``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, InfoMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from . import log
from .config import Config, parse_address
from .errors import ConfigError
from .fsutil import atomic_write

STATUSES = ("ok", "low_confidence", "error")  # the outbox's status column: every label exists from the start
RELOAD_RESULTS = ("loaded", "rejected")
# Arrival to row: ~13 ms idle, seconds in a burst, minutes behind a full queue.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)  # max_batch is at most 4096
BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

disable_created_metrics()  # *_created series: a gauge family per counter that no dashboard or rule here reads
ModelFacts = Callable[[], tuple[str, str] | None]  # (model id, source) of the model served, if any


class _ModelCollector(Collector):
    """The served model and the reload counts, read at scrape time from the model keeper."""

    def __init__(self, model: ModelFacts, reloads: Callable[[], Mapping[str, int]]) -> None:
        self.model, self.reloads = model, reloads

    def collect(self) -> Iterable[Metric]:
        info = InfoMetricFamily("digitwatch_model", "The model served", labels=["model_id", "source"])
        served = self.model()
        if served is not None:
            info.add_metric(list(served), {})
        yield info
        counts = self.reloads()
        reloads = CounterMetricFamily(
            "digitwatch_model_reloads", "Newly published models loaded or rejected", labels=["result"]
        )
        for result in RELOAD_RESULTS:
            reloads.add_metric([result], counts.get(result, 0))
        yield reloads


class Metrics:
    """Every digitwatch metric, in its own registry (so tests can hold several); process_* in another."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Only for HTTP: in a textfile, process_* would collide with node_exporter's own process_* series.
        self.process = CollectorRegistry()
        ProcessCollector(registry=self.process)
        r = self.registry
        self.files = Counter("digitwatch_files", "Files given a row in the outbox, by status", ["status"], registry=r)
        for status in STATUSES:
            self.files.labels(status)
        self.latency = Histogram(
            "digitwatch_file_latency_seconds",
            "From a file's arrival in the inbox to its row published in the outbox",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "digitwatch_batch_size", "Files in a published batch", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "digitwatch_batch_duration_seconds",
            "From a batch's claim to its results published",
            buckets=BATCH_SECONDS_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("digitwatch_queue_depth", "Files queued for the worker", registry=r)
        self.last_publish = Gauge(
            "digitwatch_last_publish_timestamp_seconds", "Unix time of the last results published (0: none)", registry=r
        )
        self.watcher_up = Gauge("digitwatch_watcher_up", "1 while the inbox watcher runs", registry=r)
        self.heartbeat_age = Gauge(
            "digitwatch_worker_heartbeat_age_seconds", "Seconds since the worker last showed progress", registry=r
        )
        self.healthy = Gauge("digitwatch_healthy", "1 while /healthz answers 200", registry=r)

    def bind(
        self,
        queue_depth: Callable[[], float],
        watcher_up: Callable[[], bool],
        heartbeat_age: Callable[[], float],
        healthy: Callable[[], bool],
        model: ModelFacts,
        reloads: Callable[[], Mapping[str, int]],
    ) -> None:
        """Read these at each scrape (the gauges describe now, not the last event)."""
        self.queue_depth.set_function(queue_depth)
        self.watcher_up.set_function(lambda: float(watcher_up()))
        self.heartbeat_age.set_function(heartbeat_age)
        self.healthy.set_function(lambda: float(healthy()))
        self.registry.register(_ModelCollector(model, reloads))

    def batch_published(self, statuses: list[str], latencies_s: list[float], duration_s: float) -> None:
        """One published batch: its rows by status, each file's latency, its size and duration."""
        for status in statuses:
            self.files.labels(status).inc()
        for seconds in latencies_s:
            self.latency.observe(max(seconds, 0.0))
        self.batch_size.observe(len(statuses))
        self.batch_seconds.observe(duration_s)
        self.last_publish.set(time.time())

    def text(self, with_process: bool = True) -> bytes:
        """The exposition format; the textfile leaves out process_*."""
        data = generate_latest(self.registry)
        return data + generate_latest(self.process) if with_process else data


def judge(
    state: str, watcher_alive: bool, heartbeat_age_s: float, stall_after_s: float, model: str | None
) -> dict[str, Any]:
    """The health verdict (/healthz, ``status --json``): healthy while serving with the watcher alive, the
    worker's heartbeat fresh and a model loaded; else the reasons, in words."""
    reasons = []
    if state != "serving":
        reasons.append(f"daemon is {state}")
    if not watcher_alive:
        reasons.append("inbox watcher is down")
    if heartbeat_age_s > stall_after_s:
        reasons.append(f"worker stalled: no progress for {heartbeat_age_s:.1f} s (limit {stall_after_s:g} s)")
    if model is None:
        reasons.append("no model loaded")
    return {
        "healthy": not reasons,
        "reasons": reasons,
        "state": state,
        "watcher_alive": watcher_alive,
        "worker_heartbeat_age_s": round(heartbeat_age_s, 1),
        "stall_after_s": stall_after_s,
        "model": model,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, metrics: Callable[[], bytes], probe: Callable[[], dict]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.metrics, self.probe = metrics, probe
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.server.metrics())
        elif path == "/healthz":
            verdict = self.server.probe()
            self._send(200 if verdict["healthy"] else 503, "application/json", json.dumps(verdict).encode())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a scrape every 15 s would be most of the journal."""


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Endpoint:
    """/metrics and /healthz on ``address``, in a thread of their own."""

    def __init__(self, address: str, metrics: Metrics, probe: Callable[[], dict]) -> None:
        host, port = parse_address(address)
        try:
            self._server = _Server(host, port, metrics.text, probe)
        except OSError as exc:
            raise ConfigError(f"metrics_address: cannot listen on {address}: {exc.strerror or exc}") from None
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()
        logger = log.get("digitwatch.metrics")
        logger.info("metrics_serving", address=f"{self.host}:{self.port}", port=self.port)
        if not loopback(self.host):
            logger.warning("metrics_not_loopback", address=f"{self.host}:{self.port}", reason="set explicitly")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Textfile:
    """``metrics_file``, rewritten atomically (fsutil.atomic_write: hidden temporary name in the same folder,
    fsync, rename, fsync the folder): node_exporter never reads half a file. Never raises."""

    def __init__(self, path: Path, metrics: Metrics) -> None:
        self.path, self.metrics = path, metrics
        self._failing = False

    def write(self) -> bool:
        logger = log.get("digitwatch.metrics")
        try:
            atomic_write(self.path, self.metrics.text(with_process=False))
        except OSError as exc:
            if not self._failing:  # once per outage, not once per interval
                logger.error("metrics_file_write_failed", path=str(self.path), reason=exc.strerror or str(exc))
            self._failing = True
            return False
        if self._failing:
            logger.info("metrics_file_write_resumed", path=str(self.path))
        self._failing = False
        return True


class Exports:
    """What the configuration asks for: the metrics, their endpoint (listening from the start, so a bad
    address stops the start before anything is claimed) and their textfile."""

    def __init__(self, cfg: Config, probe: Callable[[], dict]) -> None:
        self.metrics = Metrics()
        self.endpoint = Endpoint(cfg.metrics_address, self.metrics, probe) if cfg.metrics_address else None
        self.textfile = Textfile(cfg.metrics_file, self.metrics) if cfg.metrics_file else None
        self.interval_s = cfg.metrics_interval_s
        self._next = 0.0
        if self.endpoint:
            self.endpoint.start()

    def tick(self) -> None:
        """From the service's loop: rewrite the textfile when it is due."""
        if self.textfile and time.monotonic() >= self._next:
            self.textfile.write()
            self._next = time.monotonic() + self.interval_s

    def close(self, final: bool = True) -> None:
        """Stop serving; with ``final``, write the textfile a last time (the counts at stop)."""
        if self.textfile and final:
            self.textfile.write()
        if self.endpoint:
            self.endpoint.stop()
