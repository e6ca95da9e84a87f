"""Prometheus metrics: a few named collectors on a registry made per server, served on their own port.

Collectors are created by :func:`create_metrics`, never at import time, so each server (and each
test) has its own registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

#: The stages a request passes through, as the ``stage`` label of ``colorizer_stage_seconds``.
STAGES = ("decode", "preprocess", "queue", "inference", "postprocess", "total")

#: The stages whose CPU the image threads count, as the ``stage`` label of
#: ``colorizer_stage_cpu_seconds_total`` (postprocess without encode; inference runs in the
#: backend's own threads and is the process CPU less these).
CPU_STAGES = ("decode", "preprocess", "postprocess", "encode")

#: Every metric name this module exports (histograms add _bucket/_sum/_count, counters _total).
METRIC_NAMES = (
    "colorizer_requests_total",
    "colorizer_items_total",
    "colorizer_stage_seconds",
    "colorizer_stage_cpu_seconds_total",
    "colorizer_batch_size",
    "colorizer_queue_depth",
    "colorizer_in_flight_requests",
    "colorizer_backend_errors_total",
    "colorizer_backend_ready",
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Metrics:
    """The gateway's collectors, all on ``registry``."""

    registry: CollectorRegistry
    requests: Counter
    items: Counter
    stage_seconds: Histogram
    stage_cpu_seconds: Counter
    batch_size: Histogram
    queue_depth: Gauge
    in_flight: Gauge
    backend_errors: Counter
    backend_ready: Gauge

    def observe_stages(self, timings: dict[str, float]) -> None:
        """Record one request's per-stage seconds (keys from :data:`STAGES`)."""
        for stage, seconds in timings.items():
            self.stage_seconds.labels(stage=stage).observe(seconds)

    def add_cpu(self, cpu: dict[str, float]) -> None:
        """Add one request's image-thread CPU seconds per stage (keys from :data:`CPU_STAGES`)."""
        for stage, seconds in cpu.items():
            self.stage_cpu_seconds.labels(stage=stage).inc(max(seconds, 0.0))

    def track_queue_depth(self, depth: Callable[[], float]) -> None:
        """Read the queue depth from ``depth`` at each scrape."""
        self.queue_depth.set_function(depth)


def create_metrics(max_batch_size: int) -> Metrics:
    """A fresh registry with every gateway collector on it."""
    registry = CollectorRegistry()
    batch_buckets = sorted({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, max_batch_size})
    metrics = Metrics(
        registry=registry,
        requests=Counter(
            "colorizer_requests",
            "gRPC calls handled, by full method name and status code",
            ["method", "code"],
            registry=registry,
        ),
        items=Counter(
            "colorizer_items",
            "Images colorized or refused (unary and streamed), by status code",
            ["code"],
            registry=registry,
        ),
        stage_seconds=Histogram(
            "colorizer_stage_seconds",
            "Seconds one image spent in each stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        stage_cpu_seconds=Counter(
            "colorizer_stage_cpu_seconds",
            "CPU seconds the image threads spent per stage, over all images (a per-image cost is "
            "its rate over colorizer_items_total's)",
            ["stage"],
            registry=registry,
        ),
        batch_size=Histogram(
            "colorizer_batch_size",
            "Images per batch sent to the model backend",
            buckets=[float(b) for b in batch_buckets if b <= max(max_batch_size, 1)],
            registry=registry,
        ),
        queue_depth=Gauge(
            "colorizer_queue_depth",
            "Images waiting for a model batch",
            registry=registry,
        ),
        in_flight=Gauge(
            "colorizer_in_flight_requests",
            "gRPC calls being handled now",
            registry=registry,
        ),
        backend_errors=Counter(
            "colorizer_backend_errors",
            "Failed backend inferences, by error kind",
            ["kind"],
            registry=registry,
        ),
        backend_ready=Gauge(
            "colorizer_backend_ready",
            "1 when the model backend is ready to serve, else 0",
            registry=registry,
        ),
    )
    for stage in STAGES:  # so every stage series exists from the first scrape
        metrics.stage_seconds.labels(stage=stage)
    for stage in CPU_STAGES:
        metrics.stage_cpu_seconds.labels(stage=stage)
    return metrics


class MetricsServer:
    """The /metrics HTTP endpoint (prometheus-client's own server, in a thread)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return self._server.server_address[1] if self._server is not None else self._port

    def start(self) -> None:
        """Start serving /metrics."""
        self._server, self._thread = start_http_server(
            self._port, self._host, registry=self._metrics.registry
        )

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
