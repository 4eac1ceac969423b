"""Forwarding alerts to Prometheus Alertmanager through its API v2 (``POST /api/v2/alerts``).

Alertmanager's client contract, as Prometheus follows it: a client re-sends every firing
alert periodically with ``endsAt`` a few intervals ahead (an alert that is not re-sent
resolves itself when its ``endsAt`` passes), and sends a resolved alert with ``endsAt`` set
to the resolution time. So each round (every ``alertmanager_resend_seconds``) posts

* every alert still being handled (open, acknowledged, responding), with ``endsAt`` =
  now + ``ENDS_AFTER_ROUNDS`` intervals, and
* every alert resolved (or reviewed) within that same span, with ``endsAt`` = its
  resolution time: the resolution is repeated for as long as Alertmanager could still
  hold the alert as firing, so a failed post or a restart does not leave it firing.

Rounds keep no state that matters across restarts: the first round after a start sends
everything open and every resolution Alertmanager may not have seen (an alert resolved
before that span had already expired in Alertmanager).

**Identity.** Alertmanager identifies an alert by its label set. The labels are the
alert's ``alertname`` (its kind), ``entity``, ``signal``, ``severity``, ``rule`` and
``alert_id``: one Alertmanager alert per Tocsin alert, so a later alert of the same rule
and entity is a new alert there too, not a revival of a resolved one (route with
``group_by: [alertname, entity]`` to group them). Severity only rises while an alert is
open, and a new severity is a new label set, so an alert whose current label set has not
yet been delivered as firing (new, severity raised, or first round after a restart) also
gets its lower severities' label sets sent as resolved: Alertmanager never shows a stale
severity as a second firing alert.

Times: ``startsAt`` is ``raised_at`` (event time) and Alertmanager compares ``endsAt`` with
its wall clock, so both are capped at now (an event-time resolution in the future would
keep the alert firing; ``startsAt`` after ``endsAt`` gets the whole post refused).

Failures (Alertmanager unreachable or refusing, the database down) are logged and counted
in ``tocsin_alertmanager_failures_total{reason}``; the next round sends everything again.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from detectors.base import Severity
from warning.alerts import Alert, AlertStatus
from warning.clock import Clock
from warning.errors import StorageError
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.database import AlertFilter, Database, translated
from warning.storage.models import AlertRow
from warning.timefmt import rfc3339

log = logging.getLogger(__name__)

FIRING = (AlertStatus.open, AlertStatus.acknowledged, AlertStatus.responding)
RESOLVED = (AlertStatus.resolved, AlertStatus.reviewed)
ENDS_AFTER_ROUNDS = 3  # a firing alert survives two lost rounds in Alertmanager
POST_CHUNK = 500  # alerts per request; Alertmanager refuses a whole request for one bad alert
PAGE = 500
TIMEOUT_SECONDS = 10.0


def labels(alert: Alert, severity: Severity) -> dict[str, str]:
    """The label set (Alertmanager's identity) of ``alert`` at ``severity``."""
    return {"alertname": alert.kind, "entity": alert.entity, "signal": alert.signal,
            "severity": severity.name, "rule": alert.rule, "alert_id": alert.id}


def postable(alert: Alert, *, severity: Severity, ends_at: float, now: float, link_base: str) -> dict[str, Any]:
    """One alert in Alertmanager's ``postableAlert`` shape; ``startsAt`` is capped at now and
    at ``ends_at``, since Alertmanager refuses a whole request with one alert ending before it starts."""
    return {
        "labels": labels(alert, severity),
        "annotations": {
            "summary": alert.message,
            "evidence": orjson.dumps(alert.evidence, option=orjson.OPT_SORT_KEYS).decode(),
            "response_due_at": rfc3339(alert.response_due_at),
            "status": alert.status.value,
        },
        "startsAt": rfc3339(min(alert.raised_at, now, ends_at)),
        "endsAt": rfc3339(ends_at),
        "generatorURL": f"{link_base}/v1/alerts/{alert.id}",
    }


@dataclass(slots=True)
class Round:
    """What one round posts (each alert with its state, ``firing`` or ``resolved``), and the
    severity of each firing alert, which is what the round delivers when the post succeeds."""

    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    firing: dict[str, Severity] = field(default_factory=dict)


class Forwarder:
    def __init__(self, database: Database, clock: Clock, client: httpx.AsyncClient, metrics: Metrics, *,
                 url: str, every: float, link_base: str) -> None:
        self.database = database
        self.clock = clock
        self.client = client
        self.metrics = metrics
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.every = every
        self.link_base = link_base.rstrip("/")
        self.delivered: dict[str, Severity] = {}  # alert id -> severity last delivered as firing

    @property
    def ends_after(self) -> float:
        return ENDS_AFTER_ROUNDS * self.every

    def collect(self) -> Round:
        """This round's alerts, read from the database (blocking: run it in a thread)."""
        now = self.clock.now()
        out = Round()
        for alert in self._firing():
            out.firing[alert.id] = alert.severity
            self._add(out, alert, "firing", ends_at=now + self.ends_after, now=now)
        for alert in self._resolved_since(now - self.ends_after):
            resolved_at = now if alert.resolved_at is None else min(alert.resolved_at, now)
            self._add(out, alert, "resolved", ends_at=resolved_at, now=now)
        return out

    async def round(self) -> bool:
        """Post this round's alerts; ``False`` (logged and counted) when that failed."""
        try:
            batch = await asyncio.to_thread(self.collect)
        except StorageError as exc:
            return self._failed("storage", f"alerts not read: {exc}")
        for chunk in _chunks(batch.alerts, POST_CHUNK):
            try:
                response = await self.client.post(self.endpoint, json=[alert for _, alert in chunk])
            except httpx.HTTPError as exc:
                return self._failed("unreachable", f"{self.endpoint}: {exc.__class__.__name__}: {exc}")
            if not response.is_success:
                reason = "rejected" if response.is_client_error else "server_error"
                return self._failed(reason, f"{self.endpoint} answered {response.status_code}: {response.text[:300]}")
            for state, _ in chunk:
                self.metrics.alertmanager_sent.labels(state).inc()
        self.delivered = batch.firing
        return True

    async def run(self) -> None:
        """A round now, then one every ``every`` seconds, until cancelled."""
        while True:
            try:
                await self.round()
            except Exception:  # a bug must not end forwarding for good; the next round tries again
                log.exception("forwarding to Alertmanager failed")
                self.metrics.alertmanager_failures.labels("internal").inc()
            await asyncio.sleep(self.every)

    def _add(self, out: Round, alert: Alert, state: str, *, ends_at: float, now: float) -> None:
        out.alerts.append((state, postable(alert, severity=alert.severity, ends_at=ends_at, now=now,
                                           link_base=self.link_base)))
        if self.delivered.get(alert.id) != alert.severity:
            # The label sets this alert may have had before (severity only rises) end now.
            out.alerts.extend(("resolved", postable(alert, severity=lower, ends_at=now, now=now,
                                                    link_base=self.link_base))
                              for lower in Severity if lower < alert.severity)

    def _firing(self) -> Iterator[Alert]:
        for status in FIRING:
            cursor: str | None = None
            while True:
                page, cursor = self.database.list_alerts(AlertFilter(status=status.value), limit=PAGE, cursor=cursor)
                yield from page
                if cursor is None:
                    break

    def _resolved_since(self, since: float) -> list[Alert]:
        """Alerts that became resolved (or were reviewed) since ``since``: ``updated_at`` is
        when Tocsin stored the change, unlike ``resolved_at``, which may be event time."""
        query = select(AlertRow.id).where(AlertRow.status.in_([s.value for s in RESOLVED]),
                                          AlertRow.updated_at >= dt.datetime.fromtimestamp(since, dt.UTC))
        with translated("read the resolved alerts"), self.database.engine.connect() as conn:
            ids = list(conn.scalars(query))
        found = (self.database.get_alert(i) for i in ids)
        return [a for a in found if a is not None]

    def _failed(self, reason: str, message: str) -> bool:
        log.warning("alerts not forwarded to Alertmanager (%s): %s", reason, message)
        self.metrics.alertmanager_failures.labels(reason).inc()
        return False


def _chunks(items: Sequence[tuple[str, dict[str, Any]]], size: int) -> Iterator[Sequence[tuple[str, dict[str, Any]]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Forwarding:
    """The forwarding task of the live service; does nothing without ``alertmanager_url``."""

    def __init__(self, forwarder: Forwarder | None) -> None:
        self.forwarder = forwarder
        self.task = None if forwarder is None else asyncio.create_task(forwarder.run(), name="alertmanager")

    @classmethod
    def start(cls, settings: Settings, database: Database, clock: Clock, metrics: Metrics,
              client: httpx.AsyncClient | None = None) -> Forwarding:
        if not settings.alertmanager_url:
            return cls(None)
        link_base = settings.public_url or f"http://{settings.host}:{settings.port}"
        return cls(Forwarder(database, clock, client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS), metrics,
                             url=settings.alertmanager_url, every=settings.alertmanager_resend_seconds,
                             link_base=link_base))

    async def stop(self) -> None:
        if self.task is None or self.forwarder is None:
            return
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.forwarder.client.aclose()
