"""Metrics worked out when Prometheus scrapes: alerts by state, deadlines, lag and the
early-warning state per entity.

The alerts' states and deadlines are read from the database at each scrape, so they are
right whoever changed an alert (detection, an operator, a crisis, another process) and
across restarts. The early-warning numbers come from the live pipeline
(:mod:`warning.early_warning_metrics`).

Per-entity series are bounded by ``metrics_max_entities``: the entities with active alerts
come first (most severe, then nearest deadline), then the most recently active ones;
``tocsin_metrics_entities_omitted`` counts the others, so a full board is visible.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from detectors.base import Severity
from warning.alerts import AlertStatus
from warning.clock import Clock
from warning.early_warning_metrics import EarlyWarningBoard, SeriesKey, SeriesState
from warning.errors import StorageError
from warning.pipeline import Pipeline
from warning.settings import Settings
from warning.storage.database import Database, translated
from warning.storage.models import AlertRow
from warning.workflow import CLOCK_RUNNING

log = logging.getLogger(__name__)

ACTIVE = (AlertStatus.open, AlertStatus.acknowledged, AlertStatus.responding)
ENTITY_LABELS = ["signal", "entity"]


class Live(Protocol):
    """What the collector reads of the live service (:class:`ingest.live.LiveIngest`)."""

    settings: Settings
    database: Database
    pipeline: Pipeline
    early_warning: EarlyWarningBoard
    lock: threading.Lock


class ServiceCollector(Collector):
    def __init__(self, live: Live, clock: Clock) -> None:
        self.live = live
        self.clock = clock
        self.max_entities = live.settings.metrics_max_entities

    def describe(self) -> Iterator[Metric]:
        return iter(())  # nothing to check at registration: every name here is Tocsin's own

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        live = self.live
        with live.lock:  # a consistent picture between batches
            states = live.early_warning.states()
            clocks = dict(live.pipeline.clocks)
        lag = GaugeMetricFamily("tocsin_ingest_lag_seconds",
                                "Now minus the newest event time seen, per signal.", labels=["signal"])
        for signal in live.settings.signals:
            if signal in clocks:
                lag.add_metric([signal], now - clocks[signal])
        yield lag
        try:
            counts, active = self._read_alerts()
        except (StorageError, SQLAlchemyError) as exc:  # the scrape still shows the rest
            log.warning("alert metrics not read: %s", exc)
            counts, active = None, {}
        if counts is not None:
            yield from _alert_families(counts, active, now)
        yield from self._entity_families(states, active, now)

    def _read_alerts(self) -> tuple[dict[tuple[str, str], int], dict[SeriesKey, tuple[int, float | None]]]:
        """Alerts by (state, severity), and per series with active alerts: the worst severity
        and the nearest deadline of a running clock."""
        db = self.live.database
        with translated("read the alert metrics"), db.engine.connect() as conn:
            counts = {(status, severity): int(n) for status, severity, n in conn.execute(
                select(AlertRow.status, AlertRow.severity, func.count()).group_by(AlertRow.status, AlertRow.severity))}
            rows = conn.execute(select(AlertRow.signal, AlertRow.entity, AlertRow.severity, AlertRow.status,
                                       AlertRow.response_due_at).where(AlertRow.status.in_([s.value for s in ACTIVE])))
            active: dict[SeriesKey, tuple[int, float | None]] = {}
            for signal, entity, severity, status, due_at in rows:
                worst, nearest = active.get((signal, entity), (0, None))
                due = due_at.timestamp() if AlertStatus(status) in CLOCK_RUNNING else None
                if due is not None and (nearest is None or due < nearest):
                    nearest = due
                active[(signal, entity)] = (max(worst, Severity[severity].value), nearest)
        return counts, active

    def _entity_families(self, states: list[tuple[SeriesKey, SeriesState]],
                         active: dict[SeriesKey, tuple[int, float | None]], now: float) -> Iterator[Metric]:
        ranked = sorted(active, key=lambda k: (-active[k][0], active[k][1] if active[k][1] is not None else math.inf))
        order = dict.fromkeys(entity for _, entity in ranked)
        order.update(dict.fromkeys(entity for (_, entity), _ in states if entity not in order))
        chosen = set(list(order)[: self.max_entities])
        state_of = dict(states)
        keys = sorted({k for k in (*active, *state_of) if k[1] in chosen})

        severity = GaugeMetricFamily(
            "tocsin_entity_alert_severity",
            "Worst severity of the active alerts on the series: 0 none, 1 minor, 2 moderate, 3 severe.",
            labels=ENTITY_LABELS)
        deadline = GaugeMetricFamily(
            "tocsin_entity_response_deadline_seconds",
            "Seconds left to the nearest response deadline of the series' alerts whose clock runs "
            "(negative: overdue).", labels=ENTITY_LABELS)
        multiple = GaugeMetricFamily(
            "tocsin_entity_multiple_of_normal_ratio",
            "Observed over expected in the series' newest explained bucket.", labels=ENTITY_LABELS)
        growth = GaugeMetricFamily(
            "tocsin_entity_growth_rate_per_second",
            "Fitted exponential growth rate of the series (negative: declining).", labels=ENTITY_LABELS)
        doubling = GaugeMetricFamily(
            "tocsin_entity_doubling_time_seconds", "Doubling time of the series while it grows.",
            labels=ENTITY_LABELS)
        drop = GaugeMetricFamily(
            "tocsin_entity_drop_ratio",
            "Relative drop of the latest week below the baseline (0.1 is 10 %; negative: above it).",
            labels=ENTITY_LABELS)
        for key in keys:
            labels = list(key)
            worst, due = active.get(key, (0, None))
            severity.add_metric(labels, worst)
            if due is not None:
                deadline.add_metric(labels, due - now)
            state = state_of.get(key)
            if state is None:
                continue
            for family, value in ((multiple, state.multiple), (growth, state.growth_per_second),
                                  (doubling, state.doubling_seconds), (drop, state.drop)):
                if value is not None:
                    family.add_metric(labels, value)
        yield from (severity, deadline, multiple, growth, doubling, drop)
        omitted = GaugeMetricFamily("tocsin_metrics_entities_omitted",
                                    "Entities left out of the per-entity gauges by metrics_max_entities.")
        omitted.add_metric([], len(order) - len(chosen))
        yield omitted


def _alert_families(counts: dict[tuple[str, str], int], active: dict[SeriesKey, tuple[int, float | None]],
                    now: float) -> Iterator[Metric]:
    alerts = GaugeMetricFamily("tocsin_alerts", "Alerts stored, by workflow state and severity.",
                               labels=["state", "severity"])
    for status in AlertStatus:
        for sev in Severity:
            alerts.add_metric([status.value, sev.name], counts.get((status.value, sev.name), 0))
    yield alerts
    dues = [due for _, due in active.values() if due is not None]
    if dues:
        nearest = GaugeMetricFamily("tocsin_alerts_response_deadline_seconds",
                                    "Seconds left to the nearest response deadline of any alert whose clock runs "
                                    "(negative: overdue).")
        nearest.add_metric([], min(dues) - now)
        yield nearest
