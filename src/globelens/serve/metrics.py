"""Prometheus metrics of one server (its own registry, so several apps can live in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "globelens_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "globelens_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.refused = Counter(
            "globelens_refused", "Requests refused, by error code", ["code"], registry=r
        )
        self.batch_size = Histogram(
            "globelens_batch_size", "Items per batch", ["model"], buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "globelens_batch_seconds",
            "Seconds per batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "globelens_queue_depth", "Items waiting per model", ["model"], registry=r
        )
        self.inflight = Gauge("globelens_inflight_requests", "Requests in progress", registry=r)
        self.body_readers = Gauge(
            "globelens_body_readers", "Request bodies arriving (no slot held yet)", registry=r
        )
        self.decode_bytes = Gauge(
            "globelens_decode_bytes", "Bytes of pixels being decoded", registry=r
        )
        self.ready = Gauge("globelens_ready", "1 when every model is loaded and alive", registry=r)

    def observe_batch(self, model: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model).observe(size)
        self.batch_seconds.labels(model).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
