"""Metrics of the response workflow: how fast alerts are acknowledged and responded to, and
whether the response clock was met.

Times are seconds since the alert's ``raised_at`` on the service's clock. The clock's
outcome is counted once per alert, when it is decided: ``met`` when an operator stops it
(respond or resolve) at or before ``response_due_at``; ``missed`` when the overdue notice
goes out, or, if an operator stops the clock after the deadline but before the tick sent
that notice, at that move. An alert that resolves itself (its condition stayed clear)
before its deadline has no outcome: nobody had to respond. The alerts by state and
severity are counted from the database at scrape time (:mod:`warning.scrape_metrics`),
which keeps them right across restarts and whoever changed the alert.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from detectors.base import Severity
from warning.alerts import Alert
from warning.workflow import Action

HOUR = 3600.0
# From a minute to a day: the 6-hour clock and its 3 h and 5 h escalations fall on bucket edges.
RESPONSE_BUCKETS = (60, 300, 900, 1800, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 5 * HOUR, 6 * HOUR, 8 * HOUR,
                    12 * HOUR, 24 * HOUR)
OVERDUE = "alert.overdue"
ESCALATION = "alert.escalation"


class WorkflowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.time_to_acknowledge = Histogram(
            "tocsin_workflow_time_to_acknowledge_seconds", "From an alert being raised to its acknowledgement.",
            ["severity"], buckets=RESPONSE_BUCKETS, registry=r)
        self.time_to_respond = Histogram(
            "tocsin_workflow_time_to_respond_seconds", "From an alert being raised to the response starting.",
            ["severity"], buckets=RESPONSE_BUCKETS, registry=r)
        self.clock_outcomes = Counter(
            "tocsin_workflow_clock_outcomes_total", "Response clocks decided, by outcome (met, missed).",
            ["outcome"], registry=r)
        self.escalations = Counter(
            "tocsin_workflow_escalations_total", "Escalation notices sent, by hours elapsed since raised.",
            ["elapsed_hours"], registry=r)
        for severity in Severity:
            self.time_to_acknowledge.labels(severity.name)
            self.time_to_respond.labels(severity.name)
        for outcome in ("met", "missed"):
            self.clock_outcomes.labels(outcome)

    def expect_escalations(self, hours: Iterable[float]) -> None:
        """Create the escalation series of the configured points, so they exist from the first scrape."""
        for h in hours:
            self.escalations.labels(_hours_label(h))

    def moved(self, action: Action, alert: Alert, at: float, overdue: Sequence[tuple[str, dt.datetime | None]]) -> None:
        """An operator's committed move of ``alert`` at ``at``.

        ``overdue`` is the state of the alert's overdue notice after the move, as
        ``(state, cancelled_at)`` pairs (``pending``, ``sent`` or ``cancelled``): the move
        stopped a running clock exactly when it cancelled that notice.
        """
        elapsed = at - alert.raised_at
        severity = alert.severity.name
        if action is Action.acknowledge:
            self.time_to_acknowledge.labels(severity).observe(elapsed)
        elif action is Action.respond:
            self.time_to_respond.labels(severity).observe(elapsed)
        stopped_now = any(state == "cancelled" and cancelled is not None and _same_instant(cancelled, at)
                          for state, cancelled in overdue)
        if stopped_now:
            self.clock_outcomes.labels("met" if at <= alert.response_due_at else "missed").inc()

    def sent(self, payloads: Iterable[dict[str, Any]]) -> None:
        """Notices the outbox sent: escalations by their point, the overdue notice as a missed clock."""
        for p in payloads:
            if p.get("type") == ESCALATION and p.get("elapsed_hours") is not None:
                self.escalations.labels(_hours_label(float(p["elapsed_hours"]))).inc()
            elif p.get("type") == OVERDUE:
                self.clock_outcomes.labels("missed").inc()


def _hours_label(hours: float) -> str:
    return f"{hours:g}"


def _same_instant(when: dt.datetime, at: float) -> bool:
    return abs(when.timestamp() - at) < 1e-3
