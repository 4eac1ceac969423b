"""``GET /v1/alerts`` (filters, cursor pagination) and ``GET /v1/alerts/{id}``."""
from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from detectors.base import Severity
from tests.api.support import T0, surge
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.storage.database import Database

HOUR = 3600.0


def stored_alert(alert_id: str, hours: float, *, entity: str = "policy-system", signal: str = "alarms",
                 kind: str = "threshold", severity: Severity = Severity.minor) -> Alert:
    raised = T0.timestamp() + hours * HOUR
    return Alert(
        id=alert_id, kind=kind, rule=f"{signal}.{kind}", signal=signal, entity=entity, severity=severity,
        status=AlertStatus.open, raised_at=raised, last_seen_at=raised, response_due_at=raised + 6 * HOUR,
        message=f"{kind} on {entity}", evidence={"observed": [hours]}, strength=1.0,
    )


def seed(app: FastAPI, alerts: list[Alert], statuses: dict[str, str] | None = None) -> None:
    db: Database = app.state.database
    db.record(changes=[AlertChange(a, ChangeReason.raised, a.raised_at) for a in alerts])
    with db.engine.begin() as conn:
        for alert_id, status in (statuses or {}).items():
            conn.execute(text("UPDATE alerts SET status = :s WHERE id = :i"), {"s": status, "i": alert_id})


@pytest.fixture
def varied(app: FastAPI) -> FastAPI:
    seed(app, [
        stored_alert("alr_1", 0),
        stored_alert("alr_2", 1, severity=Severity.severe),
        stored_alert("alr_3", 2, kind="rate_surge"),
        stored_alert("alr_4", 3, signal="mentions", kind="exponential_growth"),
        stored_alert("alr_5", 4, entity="claims"),
    ], statuses={"alr_3": "acknowledged"})
    return app


async def ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["items"]]


@pytest.mark.parametrize(("params", "expected"), [
    pytest.param({}, ["alr_5", "alr_4", "alr_3", "alr_2", "alr_1"], id="all, newest first"),
    pytest.param({"status": "acknowledged"}, ["alr_3"], id="status"),
    pytest.param({"severity": "severe"}, ["alr_2"], id="severity"),
    pytest.param({"kind": "rate_surge"}, ["alr_3"], id="kind"),
    pytest.param({"signal": "mentions"}, ["alr_4"], id="signal"),
    pytest.param({"entity": "claims"}, ["alr_5"], id="entity"),
    pytest.param({"raised_since": "2026-11-20T13:00:00Z"}, ["alr_5", "alr_4"], id="raised_since, inclusive"),
    pytest.param({"raised_until": "2026-11-20T11:00:00Z"}, ["alr_1"], id="raised_until, exclusive"),
    pytest.param({"raised_since": "2026-11-20T15:00:00+02:00"}, ["alr_5", "alr_4"],
                 id="raised_since with an offset"),
    pytest.param({"raised_since": "2026-11-20T11:00:00Z", "raised_until": "2026-11-20T13:00:00Z"},
                 ["alr_3", "alr_2"], id="a raised window"),
    pytest.param({"status": "open", "signal": "alarms", "severity": "minor"}, ["alr_5", "alr_1"],
                 id="filters combine"),
    pytest.param({"entity": "nobody"}, [], id="no match"),
])
async def test_list_alerts_filters(varied: FastAPI, client: httpx.AsyncClient, params: dict[str, str],
                                   expected: list[str]) -> None:
    assert await ids(client, **params) == expected


async def test_listed_alerts_have_the_read_shape(varied: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/alerts", params={"entity": "claims"})

    assert response.json() == {"next_cursor": None, "items": [{
        "id": "alr_5", "kind": "threshold", "rule": "alarms.threshold", "signal": "alarms", "entity": "claims",
        "severity": "minor", "status": "open", "raised_at": "2026-11-20T14:00:00Z",
        "last_seen_at": "2026-11-20T14:00:00Z", "response_due_at": "2026-11-20T20:00:00Z", "cleared_at": None,
        "resolved_at": None, "crisis_type": None, "message": "threshold on claims", "evidence": {"observed": [4]},
        "version": 1,
    }]}


@pytest.fixture
def many(app: FastAPI) -> FastAPI:
    """25 alerts, in groups of four that share a raised_at."""
    seed(app, [stored_alert(f"alr_{i:02d}", i // 4, entity=f"e{i % 2}") for i in range(25)])
    return app


async def walk(client: httpx.AsyncClient, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/alerts", params=query)).json()
        pages.append([a["id"] for a in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_pagination_walks_every_alert_once_newest_first(many: FastAPI, client: httpx.AsyncClient) -> None:
    pages = await walk(client, limit=7)

    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [i for p in pages for i in p] == [f"alr_{i:02d}" for i in range(24, -1, -1)]


async def test_pagination_keeps_the_filters(many: FastAPI, client: httpx.AsyncClient) -> None:
    pages = await walk(client, limit=4, entity="e0")

    assert [i for p in pages for i in p] == [f"alr_{i:02d}" for i in range(24, -1, -2)]
    assert [len(p) for p in pages] == [4, 4, 4, 1]


async def test_the_default_page_holds_a_hundred(app: FastAPI, client: httpx.AsyncClient) -> None:
    seed(app, [stored_alert(f"alr_{i:03d}", i / 60) for i in range(101)])

    first = (await client.get("/v1/alerts")).json()

    assert len(first["items"]) == 100
    assert first["next_cursor"] is not None


@pytest.mark.parametrize("params", [
    pytest.param({"cursor": "not-a-cursor"}, id="garbage cursor"),
    pytest.param({"cursor": "WyJ4Il0"}, id="cursor of the wrong shape"),
    pytest.param({"raised_since": "2026-11-20T10:00:00"}, id="raised_since without an offset"),
    pytest.param({"raised_until": "2026-11-20T10:00:00"}, id="raised_until without an offset"),
    pytest.param({"raised_since": "yesterday"}, id="raised_since not a time"),
    pytest.param({"limit": "0"}, id="limit 0"),
    pytest.param({"limit": "501"}, id="limit over 500"),
    pytest.param({"status": "closed"}, id="unknown status"),
    pytest.param({"severity": "critical"}, id="unknown severity"),
])
async def test_bad_query_parameters_are_unprocessable(app: FastAPI, client: httpx.AsyncClient,
                                                      params: dict[str, str]) -> None:
    response = await client.get("/v1/alerts", params=params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["problems"][0]["location"].startswith("query.")


async def test_a_bad_cursor_says_what_to_pass(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/alerts", params={"cursor": "not-a-cursor"})

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"
    assert "pass back the next_cursor of the previous page" in response.text


async def test_a_naive_time_says_an_offset_is_needed(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/alerts", params={"raised_since": "2026-11-20T10:00:00"})

    assert response.status_code == 422
    assert response.json()["error"]["problems"] == [
        {"location": "query.raised_since", "message": "needs a UTC offset, e.g. 2026-11-20T10:00:00Z"}]


async def test_one_alert_by_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", json=surge())
    [listed] = (await client.get("/v1/alerts")).json()["items"]

    response = await client.get(f"/v1/alerts/{listed['id']}")

    assert response.status_code == 200
    assert response.json() == listed
    assert response.json()["raised_at"] == "2026-11-20T10:25:00Z"


async def test_an_unknown_alert_is_not_found(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/alerts/alr_doesnotexist")

    assert response.status_code == 404
    assert response.json() == {"error": {"type": "not_found", "message": "no alert with id 'alr_doesnotexist'"}}


async def test_an_operators_status_shows_in_the_api_after_detection_updates_the_alert(
    app: FastAPI, client: httpx.AsyncClient,
) -> None:
    events = surge()
    await client.post("/v1/events", json=events[:7])  # raised, not yet updated
    [alert] = (await client.get("/v1/alerts")).json()["items"]
    with app.state.database.engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET status = 'acknowledged' WHERE id = :i"), {"i": alert["id"]})

    await client.post("/v1/events", json=events[7:])

    updated = (await client.get(f"/v1/alerts/{alert['id']}")).json()
    assert (alert["version"], updated["version"], updated["status"]) == (1, 2, "acknowledged")


async def test_raised_since_filters_on_event_time_not_arrival(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", json=surge())
    raised = dt.datetime(2026, 11, 20, 10, 25, tzinfo=dt.UTC)

    assert len(await ids(client, raised_since=raised.isoformat())) == 1
    assert await ids(client, raised_since=(raised + dt.timedelta(seconds=1)).isoformat()) == []


@pytest.mark.parametrize("path", [
    pytest.param("/v1/alerts", id="list"),
    pytest.param("/v1/alerts/alr_1", id="one"),
])
async def test_reading_alerts_while_the_database_is_down_is_unavailable(
    app: FastAPI, client: httpx.AsyncClient, path: str,
) -> None:
    def down(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        raise OperationalError(statement, None, Exception("server closed the connection unexpectedly"))

    event.listen(app.state.database.engine, "before_cursor_execute", down)
    try:
        response = await client.get(path)
    finally:
        event.remove(app.state.database.engine, "before_cursor_execute", down)

    assert response.status_code == 503
    assert response.json()["error"]["type"] == "storage_unavailable"
    assert "server closed the connection unexpectedly" in response.json()["error"]["message"]
