"""Prometheus metrics, registered on an injected registry with every label series created up front.

Names follow ``tocsin_<subsystem>_<noun>_total`` / ``_seconds`` so a Grafana panel works
from the first scrape.
"""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detectors.base import Severity
from detectors.registry import kinds
from warning.notify.webhooks import FAILURE_REASONS
from warning.workflow_metrics import WorkflowMetrics

OUTCOMES = ("accepted", "duplicate", "invalid", "late")
# What one webhook attempt did to its delivery (warning/notify/dispatcher.py).
WEBHOOK_OUTCOMES = ("delivered", "retry", "dead", "gone")
# Why a forwarding round to Alertmanager failed (warning/notify/alertmanager.py).
ALERTMANAGER_FAILURES = ("unreachable", "rejected", "server_error", "storage", "internal")


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
        # Webhook deliveries (warning/notify/dispatcher.py): every label series exists from the start.
        self.webhook_attempts = Counter("tocsin_webhook_attempts_total", "Webhook delivery attempts, by outcome.",
                                        ["outcome"], registry=r)
        self.webhook_failures = Counter("tocsin_webhook_failures_total", "Failed webhook attempts, by reason.",
                                        ["reason"], registry=r)
        self.webhook_pending = Gauge("tocsin_webhook_pending_deliveries",
                                     "Webhook deliveries not yet delivered nor dead-lettered (the outbox depth).",
                                     registry=r)
        self.webhook_oldest_pending = Gauge("tocsin_webhook_oldest_pending_age_seconds",
                                            "Age of the oldest pending webhook delivery; 0 when none is pending.",
                                            registry=r)
        for outcome in WEBHOOK_OUTCOMES:
            self.webhook_attempts.labels(outcome)
        for reason in FAILURE_REASONS:
            self.webhook_failures.labels(reason)
        self.alertmanager_sent = Counter("tocsin_alertmanager_alerts_sent_total",
                                         "Alerts posted to Alertmanager, by state (firing, resolved).", ["state"],
                                         registry=r)
        self.alertmanager_failures = Counter("tocsin_alertmanager_failures_total",
                                             "Forwarding rounds to Alertmanager that failed, by reason.", ["reason"],
                                             registry=r)
        for state in ("firing", "resolved"):
            self.alertmanager_sent.labels(state)
        for reason in ALERTMANAGER_FAILURES:
            self.alertmanager_failures.labels(reason)
        for source in ("http", "file", "alertmanager", "kafka"):
            for outcome in OUTCOMES:
                self.events.labels(source, outcome)
            self.batch_seconds.labels(source)
        for kind in kinds():
            for severity in Severity:
                self.alerts_raised.labels(kind, severity.name)
        # Rejections by a bounded reason, detection per signal, the response workflow
        # (warning/workflow_metrics.py); the early-warning state is read at scrape time
        # (warning/scrape_metrics.py, registered by the app).
        self.rejected = Counter("tocsin_ingest_rejected_total",
                                "Events rejected (invalid or late), by source and the kind of reason.",
                                ["source", "reason"], registry=r)
        for source in ("http", "file", "alertmanager", "kafka"):
            for reason in REJECT_REASONS:
                self.rejected.labels(source, reason)
        self.buckets_closed = Counter("tocsin_detection_buckets_closed_total",
                                      "Buckets closed and run through the signal's rules.", ["signal"], registry=r)
        self.detection_seconds = Counter("tocsin_detection_seconds_total",
                                         "Time spent running the rules on closed buckets.", ["signal"], registry=r)
        self.workflow = WorkflowMetrics(r)

    def expect(self, signals: Iterable[str], escalation_hours: Iterable[float]) -> None:
        """Create the series of the configured signals and escalation points, so they exist from the first scrape."""
        for signal in signals:
            self.buckets_closed.labels(signal)
            self.detection_seconds.labels(signal)
        self.workflow.expect_escalations(escalation_hours)


# The validators' reasons start with what was wrong (ingest/validate.py): that beginning is the
# label, so the free text (with the offending value) never becomes a series of its own.
REASON_PREFIXES = (
    ("event is ", "too_large"), ("not valid JSON", "not_json"), ("an event must be", "not_object"),
    ("unknown field", "unknown_field"), ("missing field", "missing_field"), ("unknown signal", "unknown_signal"),
    ("entity ", "bad_entity"), ("ts ", "bad_timestamp"), ("value", "bad_value"), ("id ", "bad_id"),
    ("count ", "bad_count"), ("total ", "bad_total"), ("label", "bad_labels"), ("at most", "bad_labels"),
)
REJECT_REASONS = ("late", "other", *dict.fromkeys(label for _, label in REASON_PREFIXES))


def reject_reason(kind: str, reason: str) -> str:
    """The bounded label of a rejection: ``late``, the kind of validation failure, or ``other``."""
    if kind == "late":
        return "late"
    return next((label for prefix, label in REASON_PREFIXES if reason.startswith(prefix)), "other")
