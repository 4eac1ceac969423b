"""What the console reads, in-process: who the key is, the clock, an alert's chart, the
entities, the static page, and the live hub that ingest and the clock tick feed."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.support import SIGNALS, T0, alarm, client_for, running, surge
from warning.access import Scope
from warning.clock import HOUR, ManualClock
from warning.notify.hub import Hub
from warning.settings import Settings

START = T0.timestamp()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def app(make_settings: Any, clock: ManualClock) -> AsyncIterator[FastAPI]:
    settings: Settings = make_settings(signals=SIGNALS, escalation_hours=(2, 4))
    async with running(settings, clock) as started:
        yield started


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, "Ana Ruiz", Scope.operate, Scope.ingest) as c:
        yield c


async def raise_surge(client: httpx.AsyncClient, entity: str = "policy-system") -> dict[str, Any]:
    assert (await client.post("/v1/events", json=surge(entity))).status_code == 202
    items = (await client.get(f"/v1/alerts?entity={entity}")).json()["items"]
    assert len(items) == 1
    return items[0]  # type: ignore[no-any-return]


async def test_me_names_the_key_owner_with_the_implied_scopes(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/me")).json() == {"name": "Ana Ruiz", "scopes": ["ingest", "read", "operate"]}
    async with client_for(app, "Wall screen", Scope.read) as viewer:
        assert (await viewer.get("/v1/me")).json() == {"name": "Wall screen", "scopes": ["read"]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as anonymous:
        answer = await anonymous.get("/v1/me")
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "unauthenticated"


async def test_the_clock_is_the_services_own_with_the_escalation_points(
        client: httpx.AsyncClient, clock: ManualClock) -> None:
    clock.advance(90)
    assert (await client.get("/v1/console/clock")).json() == {
        "now": "2026-11-20T10:01:30Z", "rate": 1.0, "response_hours": 6.0, "response_hours_by_severity": {},
        "escalation_hours": [2.0, 4.0]}


async def test_the_series_of_an_alert_has_its_buckets_threshold_and_firing(client: httpx.AsyncClient) -> None:
    alert = await raise_surge(client)
    series = (await client.get(f"/v1/alerts/{alert['id']}/series")).json()
    assert series["threshold"] == 10 and series["direction"] == "above"  # the threshold rule's limit
    assert series["baseline"] is None  # a static limit expects nothing
    assert series["fired_at"] == alert["raised_at"] == "2026-11-20T10:25:00Z"
    # Closed buckets only: those of 10:30 and 10:35 are still open (5 minutes of lateness).
    assert [(b["start"][11:16], b["value"]) for b in series["buckets"]] == [
        ("10:00", 2), ("10:05", 2), ("10:10", 2), ("10:15", 20), ("10:20", 20), ("10:25", 20)]


async def test_the_series_of_an_unknown_alert_is_a_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/alerts/alr_nope/series")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"type": "not_found", "message": "no alert with id 'alr_nope'"}}


async def test_entities_have_a_state_per_signal_and_can_be_searched(client: httpx.AsyncClient) -> None:
    await raise_surge(client, "policy-system")
    calm = [alarm(5 * i, 3, entity="claims_portal") for i in range(8)]
    assert (await client.post("/v1/events", json=calm)).status_code == 202

    page = (await client.get("/v1/entities?points=4")).json()
    assert page["total"] == 2
    assert [(e["entity"], e["state"]) for e in page["items"]] == [("claims_portal", "normal"), ("policy-system", "alert")]
    storm = page["items"][1]["signals"]
    assert [(s["signal"], s["state"], s["recent"], s["last_bucket"]) for s in storm] == [
        ("alarms", "alert", [2, 20, 20, 20], "2026-11-20T10:25:00Z")]
    assert len(storm[0]["alert_ids"]) == 1

    found = (await client.get("/v1/entities?search=POLICY")).json()
    assert [e["entity"] for e in found["items"]] == ["policy-system"] and found["total"] == 1
    # LIKE's wildcards are taken literally: "_" matches the underscore, not any character.
    assert [e["entity"] for e in (await client.get("/v1/entities?search=s_p")).json()["items"]] == ["claims_portal"]
    assert (await client.get("/v1/entities?search=%25")).json() == {"items": [], "total": 0}
    second = (await client.get("/v1/entities?limit=1&offset=1")).json()
    assert [e["entity"] for e in second["items"]] == ["policy-system"] and second["total"] == 2


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "points=1", "search=" + "x" * 201])
async def test_bad_entity_queries_are_422(client: httpx.AsyncClient, query: str) -> None:
    answer = await client.get(f"/v1/entities?{query}")
    assert answer.status_code == 422 and answer.json()["error"]["type"] == "invalid_request"


async def test_the_console_is_served_at_the_root(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as anonymous:
        home = await anonymous.get("/")
        assert home.status_code == 307 and home.headers["location"] == "/console/"
        page = await anonymous.get("/console/")
        assert page.status_code == 200 and '<script type="module" src="js/app.js">' in page.text
        script = await anonymous.get("/console/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]  # modules need it


async def test_ingest_and_the_clock_tick_publish_to_the_hub(
        app: FastAPI, client: httpx.AsyncClient, clock: ManualClock) -> None:
    hub: Hub = app.state.hub
    with hub.subscribe() as inbox:
        alert = await raise_surge(client)
        raised = await asyncio.wait_for(inbox.get(), 1)
        assert (raised.event, raised.data["reason"], raised.data["alert"]["id"]) == ("alert", "raised", alert["id"])
        assert (await asyncio.wait_for(inbox.get(), 1)).data["reason"] == "updated"

        clock.set(START + 25 * 60 + 2 * HOUR)  # the first escalation point (2 h here)
        app.state.outbox.tick()
        sent = [(await asyncio.wait_for(inbox.get(), 1)).data for _ in range(2)]
    assert [(n["type"], n["alert_id"]) for n in sent] == [("alert.raised", alert["id"]),
                                                          ("alert.escalation", alert["id"])]
    assert hub.subscribers == 0


async def test_a_subscriber_that_falls_behind_gets_one_resync() -> None:
    hub = Hub(max_pending=3)
    with hub.subscribe() as inbox:
        def flood() -> None:
            for i in range(10):
                hub.publish("notice", {"n": i})

        publisher = threading.Thread(target=flood)
        publisher.start()
        publisher.join()
        await asyncio.sleep(0.05)  # let the loop run the hand-overs
        first = await inbox.get()
        hub.publish("notice", {"n": 10})
        after = await asyncio.wait_for(inbox.get(), 1)
    assert first.event == "resync"
    assert (after.event, after.data) == ("notice", {"n": 10})  # live again once it has resynced
