"""Prometheus metrics, registered on an injected registry with every label series created up front.

Names follow ``tocsin_<subsystem>_<noun>_total`` / ``_seconds`` so a Grafana panel works
from the first scrape.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detectors.base import Severity
from detectors.registry import kinds

OUTCOMES = ("accepted", "duplicate", "invalid", "late")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("tocsin_ingest_events_total", "Events received, by outcome.", ["source", "outcome"],
                              registry=r)
        self.batch_seconds = Histogram("tocsin_ingest_batch_seconds", "Time to process and store one batch.",
                                       ["source"], registry=r,
                                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.alerts = Counter("tocsin_alerts_changes_total", "Alert changes, by kind and reason.",
                              ["kind", "reason"], registry=r)
        self.alerts_raised = Counter("tocsin_alerts_raised_total", "Alerts raised, by kind and severity.",
                                     ["kind", "severity"], registry=r)
        self.series = Gauge("tocsin_pipeline_series", "Series (signal, entity) held in memory.", registry=r)
        self.storage_errors = Counter("tocsin_storage_errors_total", "Batches the database refused.", registry=r)
        for source in ("http", "file"):
            for outcome in OUTCOMES:
                self.events.labels(source, outcome)
            self.batch_seconds.labels(source)
        for kind in kinds():
            for severity in Severity:
                self.alerts_raised.labels(kind, severity.name)
