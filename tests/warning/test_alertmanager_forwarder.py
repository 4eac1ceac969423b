"""Forwarding to Alertmanager: the postable alerts each round sends, against a mock Alertmanager.

The real Alertmanager is in ``tests/acceptance/test_alertmanager.py``.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest

from detectors.base import Severity
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.clock import ManualClock
from warning.errors import ConfigError
from warning.metrics import Metrics
from warning.notify.alertmanager import Forwarder, Forwarding, postable
from warning.storage.database import Database
from warning.timefmt import rfc3339

EVERY = 60.0
LINK = "https://tocsin.example"
NOW = float(int(time.time()))  # the database stamps updated_at on wall time


def make_alert(id: str = "alr_1", *, severity: Severity = Severity.minor, status: AlertStatus = AlertStatus.open,
               raised_at: float = NOW - 3600, resolved_at: float | None = None) -> Alert:
    return Alert(id=id, kind="rate_surge", rule="alarms.rate_surge", signal="alarms", entity="policy-system",
                 severity=severity, status=status, raised_at=raised_at, last_seen_at=raised_at,
                 response_due_at=raised_at + 6 * 3600, message="alarms at 12x their usual rate",
                 evidence={"multiple": 12.0, "expected": 2.0}, strength=1.0, resolved_at=resolved_at)


def store(database: Database, *alerts: Alert, updated: float = NOW) -> None:
    database.record(changes=[AlertChange(a, ChangeReason.raised, a.raised_at) for a in alerts],
                    now=dt.datetime.fromtimestamp(updated, dt.UTC))


class MockAlertmanager:
    def __init__(self) -> None:
        self.posts: list[list[dict[str, Any]]] = []
        self.answer: int | Exception = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if isinstance(self.answer, Exception):
            raise self.answer
        assert request.url.path == "/api/v2/alerts"
        self.posts.append(orjson.loads(request.content))
        return httpx.Response(self.answer, text="start time must be before end time" if self.answer == 400 else "")

    @property
    def last(self) -> list[dict[str, Any]]:
        return self.posts[-1]


def identities(alerts: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(alert_id, severity) -> endsAt of each posted alert."""
    return {(a["labels"]["alert_id"], a["labels"]["severity"]): a["endsAt"] for a in alerts}


@pytest.fixture
def am() -> MockAlertmanager:
    return MockAlertmanager()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def forwarder(database: Database, clock: ManualClock, am: MockAlertmanager) -> AsyncIterator[Forwarder]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(am)) as client:
        yield Forwarder(database, clock, client, Metrics(), url="http://am:9093/", every=EVERY, link_base=LINK)


def test_an_alert_maps_to_alertmanagers_labels_and_annotations() -> None:
    alert = make_alert(severity=Severity.moderate, status=AlertStatus.acknowledged)

    posted = postable(alert, severity=alert.severity, ends_at=NOW + 180, now=NOW, link_base=LINK)

    assert posted == {
        "labels": {"alertname": "rate_surge", "entity": "policy-system", "signal": "alarms",
                   "severity": "moderate", "rule": "alarms.rate_surge", "alert_id": "alr_1"},
        "annotations": {"summary": "alarms at 12x their usual rate",
                        "evidence": '{"expected":2.0,"multiple":12.0}',
                        "response_due_at": rfc3339(NOW + 5 * 3600), "status": "acknowledged"},
        "startsAt": rfc3339(NOW - 3600),
        "endsAt": rfc3339(NOW + 180),
        "generatorURL": "https://tocsin.example/v1/alerts/alr_1",
    }


def test_an_alert_raised_ahead_of_the_wall_clock_never_starts_after_it_ends() -> None:
    # raised_at is event time: events stamped in the future must not get the whole post refused.
    alert = make_alert(raised_at=NOW + 7200)

    posted = postable(alert, severity=alert.severity, ends_at=NOW, now=NOW, link_base=LINK)

    assert posted["startsAt"] == posted["endsAt"] == rfc3339(NOW)


@pytest.mark.postgres
async def test_a_round_sends_alerts_being_handled_with_ends_at_three_intervals_ahead(
        database: Database, forwarder: Forwarder, am: MockAlertmanager) -> None:
    store(database, make_alert("alr_open"), make_alert("alr_ack", status=AlertStatus.acknowledged),
          make_alert("alr_resp", status=AlertStatus.responding))

    assert await forwarder.round()

    assert identities(am.last) == {(i, "minor"): rfc3339(NOW + 3 * EVERY) for i in ("alr_open", "alr_ack", "alr_resp")}


@pytest.mark.postgres
async def test_resolutions_are_repeated_while_alertmanager_may_hold_the_alert_as_firing(
        database: Database, forwarder: Forwarder, am: MockAlertmanager, clock: ManualClock) -> None:
    store(database, make_alert("alr_recent", status=AlertStatus.resolved, resolved_at=NOW - 30), updated=NOW - 30)
    store(database, make_alert("alr_old", status=AlertStatus.resolved, resolved_at=NOW - 600), updated=NOW - 600)
    # Detection resolves on event time: a resolution stamped ahead of the wall clock ends now.
    store(database, make_alert("alr_ahead", status=AlertStatus.reviewed, resolved_at=NOW + 900), updated=NOW - 5)

    assert await forwarder.round()
    assert identities(am.last) == {("alr_recent", "minor"): rfc3339(NOW - 30), ("alr_ahead", "minor"): rfc3339(NOW)}

    clock.advance(3 * EVERY - 10)  # the span in which Alertmanager could still hold alr_recent as firing has passed
    assert await forwarder.round()
    assert identities(am.last) == {("alr_ahead", "minor"): rfc3339(NOW + 3 * EVERY - 10)}


@pytest.mark.postgres
async def test_lower_severities_are_resolved_until_the_current_one_was_delivered(
        database: Database, forwarder: Forwarder, am: MockAlertmanager) -> None:
    alert = make_alert(severity=Severity.moderate)
    store(database, alert)

    await forwarder.round()  # first sight (a new alert, or the first round after a restart)
    assert identities(am.last) == {("alr_1", "moderate"): rfc3339(NOW + 3 * EVERY), ("alr_1", "minor"): rfc3339(NOW)}

    await forwarder.round()
    assert identities(am.last) == {("alr_1", "moderate"): rfc3339(NOW + 3 * EVERY)}

    store(database, replace(alert, severity=Severity.severe, version=2))
    await forwarder.round()
    assert identities(am.last) == {("alr_1", "severe"): rfc3339(NOW + 3 * EVERY), ("alr_1", "moderate"): rfc3339(NOW),
                                   ("alr_1", "minor"): rfc3339(NOW)}


@pytest.mark.postgres
@pytest.mark.parametrize(("answer", "reason"), [
    pytest.param(httpx.ConnectError("connection refused"), "unreachable", id="alertmanager down"),
    pytest.param(400, "rejected", id="alertmanager refuses the alerts"),
    pytest.param(503, "server_error", id="alertmanager failing"),
])
async def test_a_failed_round_is_counted_and_the_next_one_sends_everything_again(
        database: Database, forwarder: Forwarder, am: MockAlertmanager, answer: int | Exception,
        reason: str) -> None:
    store(database, make_alert(severity=Severity.severe))
    am.answer = answer

    assert not await forwarder.round()
    assert forwarder.metrics.alertmanager_failures.labels(reason)._value.get() == 1

    am.answer = 200
    assert await forwarder.round()
    assert set(identities(am.last)) == {("alr_1", "severe"), ("alr_1", "moderate"), ("alr_1", "minor")}
    assert forwarder.metrics.alertmanager_sent.labels("firing")._value.get() == 1
    assert forwarder.metrics.alertmanager_sent.labels("resolved")._value.get() == 2


async def test_a_database_failure_is_counted_not_raised(
        make_settings: Any, clock: ManualClock, am: MockAlertmanager) -> None:
    database = Database(make_settings(database_url="sqlite:////nonexistent/dir/tocsin.db"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(am)) as client:
        forwarder = Forwarder(database, clock, client, Metrics(), url="http://am:9093", every=EVERY, link_base=LINK)

        assert not await forwarder.round()

    assert forwarder.metrics.alertmanager_failures.labels("storage")._value.get() == 1
    assert am.posts == []


def test_forwarding_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch, make_settings: Any) -> None:
    monkeypatch.setenv("TOCSIN_ALERTMANAGER_URL", "http://alertmanager:9093")
    monkeypatch.setenv("TOCSIN_ALERTMANAGER_ENTITY_LABELS", '["service", "job"]')

    settings = make_settings()

    assert settings.alertmanager_url == "http://alertmanager:9093"
    assert settings.alertmanager_entity_labels == ("service", "job")


def test_an_alertmanager_url_that_is_not_http_stops_the_start(make_settings: Any) -> None:
    with pytest.raises(ConfigError, match="alertmanager_url"):
        make_settings(alertmanager_url="alertmanager:9093")


async def test_without_an_alertmanager_url_nothing_is_forwarded(make_settings: Any, clock: ManualClock) -> None:
    forwarding = Forwarding.start(make_settings(), Database(make_settings()), clock, Metrics())

    assert forwarding.task is None
    await forwarding.stop()
