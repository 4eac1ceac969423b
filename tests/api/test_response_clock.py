"""The 6-hour response clock of the live service, driven by a manual clock, on SQLite and PostgreSQL.

The surge raises an alert at 10:25 (event time); the clock starts there. ``tick`` is what the
service's background task runs every ``clock_tick_seconds`` (here: by hand).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from detectors.base import Finding, Severity
from tests.api.support import SIGNALS, T0, client_for, running, surge
from warning.alerts import AlertChange, AlertStatus, ChangeReason
from warning.clock import HOUR, ManualClock
from warning.notify.log import NotificationLog
from warning.settings import Settings
from warning.storage.notices import scheduler
from warning.timefmt import rfc3339

RAISED = T0.timestamp() + 25 * 60
MINUTE = 60.0


def elapsed(hours: float) -> str:
    return rfc3339(RAISED + hours * HOUR)


@pytest.fixture
def settings(make_settings: Any, db_url: str) -> Settings:
    return make_settings(signals=SIGNALS, database_url=db_url, clock_tick_seconds=3600)  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(RAISED)


def clock_notices(settings: Settings) -> list[tuple[str, str, float, str]]:
    """(type, at, elapsed_hours, sent_at) of every escalation and overdue notice in the log."""
    return [(n["type"], n["at"], n["elapsed_hours"], n["sent_at"]) for n in NotificationLog(settings.notifications_path).read()
            if n["type"] in ("alert.escalation", "alert.overdue")]


def tick_at(app: FastAPI, clock: ManualClock, hours: float) -> list[str]:
    clock.set(RAISED + hours * HOUR)
    return [n["type"] for n in app.state.outbox.tick()]


async def raise_alert(client: httpx.AsyncClient) -> str:
    await client.post("/v1/events", json=surge())
    return str((await client.get("/v1/alerts")).json()["items"][0]["id"])


async def test_no_escalation_at_2_59_and_one_at_3_00(settings: Settings, clock: ManualClock) -> None:
    async with running(settings, clock) as app, client_for(app) as client:
        await raise_alert(client)

        at_2_59 = tick_at(app, clock, 2 + 59 / 60)
        at_3_00 = tick_at(app, clock, 3)
        again = tick_at(app, clock, 3 + 1 / 60)

    assert (at_2_59, at_3_00, again) == (["alert.raised"], ["alert.escalation"], [])
    assert clock_notices(settings) == [("alert.escalation", elapsed(3), 3.0, elapsed(3))]


async def test_a_restart_sends_the_notice_missed_while_down_once(settings: Settings, clock: ManualClock) -> None:
    async with running(settings, clock) as app, client_for(app) as client:
        await raise_alert(client)
        tick_at(app, clock, 3)
        tick_at(app, clock, 4)  # the service stops at 4:00 ...

    clock.set(RAISED + 5.5 * HOUR)  # ... and is back at 5:30: the start-up tick sends the 5-hour notice
    async with running(settings, clock) as app:
        next_tick = tick_at(app, clock, 5.5 + 5 / 3600)
        later = tick_at(app, clock, 5.9)

    assert (next_tick, later) == ([], [])
    assert clock_notices(settings) == [("alert.escalation", elapsed(3), 3.0, elapsed(3)),
                                       ("alert.escalation", elapsed(5), 5.0, elapsed(5.5))]


async def test_responding_at_5_59_stops_the_clock(settings: Settings, clock: ManualClock) -> None:
    async with running(settings, clock) as app, client_for(app) as client:
        alert_id = await raise_alert(client)
        for hours in (3, 5):
            tick_at(app, clock, hours)
        await client.put(f"/v1/alerts/{alert_id}/roles/incident_commander", json={"name": "Ana"})
        clock.set(RAISED + 5 * HOUR + 59 * MINUTE)
        workflow = (await client.post(f"/v1/alerts/{alert_id}/respond")).json()
        after = [tick_at(app, clock, hours) for hours in (6, 12)]

    assert after == [["alert.responding"], []]
    assert [(n["type"], n["state"]) for n in workflow["notices"]] == [
        ("alert.raised", "sent"), ("alert.escalation", "sent"), ("alert.escalation", "sent"),
        ("alert.responding", "pending"), ("alert.overdue", "cancelled")]
    assert [n[:3] for n in clock_notices(settings)] == [("alert.escalation", elapsed(3), 3.0),
                                                        ("alert.escalation", elapsed(5), 5.0)]


async def test_without_a_response_the_alert_is_overdue_at_6_00(settings: Settings, clock: ManualClock) -> None:
    async with running(settings, clock) as app, client_for(app) as client:
        alert_id = await raise_alert(client)
        await client.post(f"/v1/alerts/{alert_id}/acknowledge")  # the clock runs on
        before = tick_at(app, clock, 6 - 1 / 3600)
        at_6 = tick_at(app, clock, 6)

    assert (before, at_6) == (["alert.raised", "alert.acknowledged", "alert.escalation", "alert.escalation"],
                              ["alert.overdue"])
    assert clock_notices(settings)[-1] == ("alert.overdue", elapsed(6), 6.0, elapsed(6))


async def test_a_severity_rise_while_acknowledged_sends_a_notice(settings: Settings, clock: ManualClock) -> None:
    """Threshold rules have one severity, so the rise is the change the pipeline would make,
    stored the way a batch stores it (:meth:`ingest.live.LiveIngest.submit`)."""
    async with running(settings, clock) as app, client_for(app) as client:
        alert_id = await raise_alert(client)
        moved = (await client.post(f"/v1/alerts/{alert_id}/acknowledge")).json()["alert"]
        tick_at(app, clock, 1)
        track = next(t for s in app.state.ingest.pipeline.series.values() for t in s.tracks if t.alert)
        rise = track.observe(Finding(Severity.severe, 99.0, "much worse"), RAISED + 1.5 * HOUR)
        assert rise is not None and rise.reason is ChangeReason.severity_raised
        app.state.database.record(changes=[rise], extra=scheduler([rise], settings.escalation_hours))
        clock.set(RAISED + 1.5 * HOUR)
        sent = app.state.outbox.tick()

    assert moved["status"] == "acknowledged"
    assert [(n["type"], n["at"], n["reason"], n["alert"]["status"]) for n in sent] == [
        ("alert.severity_raised", elapsed(1.5), "severity rose to severe while acknowledged", "acknowledged")]


async def test_detection_resolving_an_alert_cancels_its_clock(settings: Settings, clock: ManualClock) -> None:
    async with running(settings, clock) as app, client_for(app) as client:
        alert_id = await raise_alert(client)
        alert = app.state.database.get_alert(alert_id)
        resolved = AlertChange(replace(alert, status=AlertStatus.resolved, version=alert.version + 1,
                                       resolved_at=RAISED + 2 * HOUR), ChangeReason.resolved, RAISED + 2 * HOUR)
        app.state.database.record(changes=[resolved], extra=scheduler([resolved], settings.escalation_hours))
        sent = [tick_at(app, clock, hours) for hours in (2, 3, 7)]

    assert sent == [["alert.raised", "alert.resolved"], [], []]
    assert clock_notices(settings) == []
