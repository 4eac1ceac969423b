"""``/metrics`` beyond ingest counts: the response workflow, rejections by reason, detection,
lag, and the early-warning state per entity with its bound; ``promtool check metrics`` on a
real scrape.

The surge (tests/api/support.py) raises a threshold alert on
``policy-system`` at 10:25 event time; a manual clock starting there drives the 6-hour clock.
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.support import SIGNALS, T0, alarm, client_for, running, sample, surge
from tests.conftest import IN_CI
from warning.clock import HOUR, ManualClock
from warning.settings import Settings

RAISED = T0.timestamp() + 25 * 60
PROMTOOL = shutil.which("promtool")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(RAISED)


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(signals=SIGNALS, clock_tick_seconds=3600)  # type: ignore[no-any-return]


@pytest.fixture
async def live(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(settings, clock) as app, client_for(app) as c:
        yield app, c


async def alert_id(c: httpx.AsyncClient, entity: str = "policy-system") -> str:
    await c.post("/v1/events", json=surge(entity))
    page = (await c.get("/v1/alerts", params={"entity": entity})).json()
    return str(page["items"][0]["id"])


async def scrape(c: httpx.AsyncClient) -> str:
    response = await c.get("/metrics")
    assert response.status_code == 200
    return response.text


async def respond(c: httpx.AsyncClient, alert: str) -> None:
    await c.put(f"/v1/alerts/{alert}/roles/incident_commander", json={"name": "ines"})
    assert (await c.post(f"/v1/alerts/{alert}/respond", json={})).status_code == 200


# -- the response workflow ------------------------------------------------------------------------


async def test_times_to_acknowledge_and_respond_and_a_met_clock(
    live: tuple[FastAPI, httpx.AsyncClient], clock: ManualClock,
) -> None:
    _, c = live
    alert = await alert_id(c)
    clock.advance(0.5 * HOUR)
    await c.post(f"/v1/alerts/{alert}/acknowledge", json={})
    clock.advance(1.5 * HOUR)
    await respond(c, alert)
    clock.advance(1 * HOUR)
    await c.post(f"/v1/alerts/{alert}/resolve", json={})  # the clock had stopped already

    text = await scrape(c)

    severity = (await c.get(f"/v1/alerts/{alert}")).json()["severity"]
    ack = {"severity": severity}
    assert sample(text, "tocsin_workflow_time_to_acknowledge_seconds_sum", **ack) == 0.5 * HOUR
    assert sample(text, "tocsin_workflow_time_to_acknowledge_seconds_count", **ack) == 1
    assert sample(text, "tocsin_workflow_time_to_respond_seconds_sum", **ack) == 2 * HOUR
    assert sample(text, "tocsin_workflow_time_to_respond_seconds_bucket", le="3600.0", **ack) == 0
    assert sample(text, "tocsin_workflow_time_to_respond_seconds_bucket", le="7200.0", **ack) == 1
    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="met") == 1
    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="missed") == 0


async def test_a_missed_clock_counts_once_with_its_escalations(
    live: tuple[FastAPI, httpx.AsyncClient], clock: ManualClock,
) -> None:
    app, c = live
    alert = await alert_id(c)
    before = await scrape(c)
    clock.advance(6 * HOUR)
    app.state.outbox.tick()  # sends the 3 h and 5 h escalations and the overdue notice
    clock.advance(1 * HOUR)
    await respond(c, alert)  # after the deadline: missed already, not again

    text = await scrape(c)

    assert [sample(before, "tocsin_workflow_escalations_total", elapsed_hours=h) for h in ("3", "5")] == [0, 0]
    assert [sample(text, "tocsin_workflow_escalations_total", elapsed_hours=h) for h in ("3", "5")] == [1, 1]
    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="missed") == 1
    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="met") == 0


async def test_a_clock_stopped_late_before_the_tick_is_missed(
    live: tuple[FastAPI, httpx.AsyncClient], clock: ManualClock,
) -> None:
    app, c = live
    alert = await alert_id(c)
    clock.advance(6 * HOUR + 1)  # past the deadline; the overdue notice is still pending
    await respond(c, alert)
    app.state.outbox.tick()  # nothing left to send: the move cancelled it

    text = await scrape(c)

    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="missed") == 1
    assert sample(text, "tocsin_workflow_clock_outcomes_total", outcome="met") == 0


async def test_alerts_by_state_and_severity_and_the_nearest_deadline(
    live: tuple[FastAPI, httpx.AsyncClient], clock: ManualClock,
) -> None:
    _, c = live
    first = await alert_id(c, "claims")
    await alert_id(c, "policy-system")
    await c.post(f"/v1/alerts/{first}/acknowledge", json={})
    clock.advance(2 * HOUR)

    text = await scrape(c)

    severity = (await c.get(f"/v1/alerts/{first}")).json()["severity"]
    assert sample(text, "tocsin_alerts", state="open", severity=severity) == 1
    assert sample(text, "tocsin_alerts", state="acknowledged", severity=severity) == 1
    assert sample(text, "tocsin_alerts", state="responding", severity=severity) == 0
    assert sample(text, "tocsin_alerts_response_deadline_seconds") == 4 * HOUR
    deadline = {"signal": "alarms", "entity": "claims"}
    assert sample(text, "tocsin_entity_response_deadline_seconds", **deadline) == 4 * HOUR


# -- ingest and detection --------------------------------------------------------------------------


async def test_rejections_by_kind_of_reason_lag_and_buckets_closed(
    live: tuple[FastAPI, httpx.AsyncClient], clock: ManualClock,
) -> None:
    _, c = live
    await c.post("/v1/events", json=[alarm(0, 1), alarm(30, 1), alarm(1, 1), alarm(31, -1),
                                      {**alarm(32, 1), "colour": "red"}, {**alarm(32, 1), "signal": "nope"}])

    text = await scrape(c)

    reasons = {r: sample(text, "tocsin_ingest_rejected_total", source="http", reason=r)
               for r in ("late", "bad_value", "unknown_field", "unknown_signal", "other")}
    assert reasons == {"late": 1, "bad_value": 1, "unknown_field": 1, "unknown_signal": 1, "other": 0}
    assert sample(text, "tocsin_detection_buckets_closed_total", signal="alarms") == 5  # 10:00 to 10:20
    assert sample(text, "tocsin_detection_seconds_total", signal="alarms") > 0
    assert sample(text, "tocsin_ingest_lag_seconds", signal="alarms") == RAISED - (T0.timestamp() + 30 * 60)
    with pytest.raises(KeyError):  # no mentions seen yet: no lag to speak of
        sample(text, "tocsin_ingest_lag_seconds", signal="mentions")


@pytest.mark.parametrize(("event", "reason"), [
    pytest.param(b"{", "not_json", id="not JSON"),
    pytest.param(b"[1]", "not_object", id="an array"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "e"}', "missing_field",
                 id="no value"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00", "signal": "alarms", "entity": "e", "value": 1}', "bad_timestamp",
                 id="no offset"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "", "value": 1}', "bad_entity",
                 id="empty entity"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "e", "value": 1, "id": 3}', "bad_id",
                 id="numeric id"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "e", "value": 1, "count": 0}',
                 "bad_count", id="zero count"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "e", "value": 1, "labels": []}',
                 "bad_labels", id="labels not an object"),
])
def test_every_validation_failure_has_a_bounded_reason(settings: Settings, event: bytes, reason: str) -> None:
    from ingest.validate import Validator
    from warning.metrics import reject_reason

    found = Validator(settings).parse_line(event)

    assert isinstance(found, str)
    assert reject_reason("invalid", found) == reason


# -- the early-warning state, bounded --------------------------------------------------------------


async def test_per_entity_gauges_keep_entities_with_alerts_first(make_settings: Any, clock: ManualClock) -> None:
    settings = make_settings(signals=SIGNALS, clock_tick_seconds=3600, metrics_max_entities=1,
                             metrics_refresh_seconds=0)
    async with running(settings, clock) as app, client_for(app) as c:
        await c.post("/v1/events", json=surge("claims"))
        # quieter and more recent: without the alert first, it would be the one kept
        await c.post("/v1/events", json=[alarm(5 * i, 1, entity="billing") for i in range(8)])

        text = await scrape(c)

    assert sample(text, "tocsin_entity_alert_severity", signal="alarms", entity="claims") >= 1
    with pytest.raises(KeyError):
        sample(text, "tocsin_entity_alert_severity", signal="alarms", entity="billing")
    assert sample(text, "tocsin_metrics_entities_omitted") == 1


@pytest.mark.skipif(not PROMTOOL and not IN_CI, reason="promtool not installed (Debian package prometheus)")
async def test_promtool_finds_the_exposition_clean(live: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, c = live
    await c.post("/v1/events", json=surge("claims") + [alarm(3, -1), {"x": 1}])
    await alert_id(c)
    text = await scrape(c)
    assert PROMTOOL, "CI=true: promtool must be installed (.ci/run installs Debian's prometheus)"

    checked = await asyncio.to_thread(subprocess.run, [PROMTOOL, "check", "metrics"], input=text,
                                      capture_output=True, text=True, timeout=30, check=False)

    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
