"""The worker's own metrics, and a small HTTP endpoint for them and for readiness.

``GET /healthz`` answers 200 while the worker is in its group and its last commit (or
its last idle loop) is recent, else 503 with why, for an orchestrator's readiness probe.
``GET /metrics`` is Prometheus text: the ingest metrics shared with the HTTP service
(:class:`warning.metrics.Metrics`, ``source="kafka"``) plus the ones below.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from warning.metrics import Metrics


class WorkerMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.shared = metrics
        r = metrics.registry
        self.lag = Gauge("tocsin_kafka_lag_records", "Records of the partition not processed yet.",
                         ["topic", "partition"], registry=r)
        self.checkpoint_age = Gauge("tocsin_kafka_checkpoint_age_seconds",
                                    "Time since the partition's state was last committed.", ["topic", "partition"],
                                    registry=r)
        self.events_per_second = Gauge("tocsin_kafka_events_per_second",
                                       "Events processed per second between the last two commits.", registry=r)
        self.rebalances = Counter("tocsin_kafka_rebalances_total", "Partition assignments received.", registry=r)
        self.dead_letters = Counter("tocsin_kafka_dead_letters_total", "Records or items sent to the dead-letter "
                                    "topic, by kind (invalid, late).", ["kind"], registry=r)
        self.commit_seconds = Histogram("tocsin_kafka_commit_seconds", "Time to commit one checkpoint transaction.",
                                        registry=r, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5))
        self.paused = Gauge("tocsin_kafka_paused", "1 while consumption is paused for backpressure.", registry=r)
        for kind in ("invalid", "late"):
            self.dead_letters.labels(kind)

    def forget(self, topic: str, partition: int) -> None:
        """A partition this worker no longer holds: its series go from the scrape."""
        for gauge in (self.lag, self.checkpoint_age):
            try:
                gauge.remove(topic, str(partition))
            except KeyError:
                pass


class Readiness:
    """What ``/healthz`` reports; the worker loop updates it."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self.in_group = False
        self.last_progress = time.monotonic()
        self.problem: str | None = None
        self.partitions = 0

    def progress(self) -> None:
        self.last_progress = time.monotonic()
        self.problem = None

    def report(self) -> tuple[bool, dict[str, Any]]:
        silent = time.monotonic() - self.last_progress
        reasons = []
        if not self.in_group:
            reasons.append("not in the consumer group yet")
        if self.problem:
            reasons.append(self.problem)
        if silent > self.stale_after:
            reasons.append(f"no progress for {silent:.0f} s")
        body = {"status": "ok" if not reasons else "unavailable", "partitions": self.partitions,
                "reasons": reasons}
        return not reasons, body


def serve(host: str, port: int, readiness: Readiness, metrics: Metrics) -> ThreadingHTTPServer:
    """Start the endpoint on a daemon thread; ``server.shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                ready, body = readiness.report()
                self._answer(200 if ready else 503, "application/json", orjson.dumps(body))
            elif self.path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            else:
                self._answer(404, "application/json", orjson.dumps(
                    {"error": {"type": "not_found", "message": f"{self.path}: try /healthz or /metrics"}}))

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="tocsin-worker-health", daemon=True).start()
    return server
