"""``POST /v1/ingest/alertmanager`` over the ingest path: idempotency, dead letters, errors.

The payload mapping itself is tested in ``tests/ingest/test_alertmanager_source.py``; a real
Alertmanager delivering to this route is in ``tests/acceptance/test_alertmanager.py``.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.support import SIGNALS, client_for, running, sample
from tests.ingest.test_alertmanager_source import am_alert, payload
from warning.access import Scope

ROUTE = "/v1/ingest/alertmanager"


@pytest.fixture
async def app(make_settings: Any) -> AsyncIterator[FastAPI]:
    async with running(make_settings(signals=SIGNALS)) as started:
        yield started


@pytest.fixture
async def alertmanager(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Alertmanager's webhook, with a key that may only ingest."""
    async with client_for(app, "alertmanager", Scope.ingest) as client:
        yield client


async def test_a_repeated_notification_is_answered_as_duplicates(app: FastAPI, alertmanager: httpx.AsyncClient) -> None:
    body = payload(am_alert(), am_alert("resolved", service="billing", alertname="Gone"))

    first = await alertmanager.post(ROUTE, json=body)
    again = await alertmanager.post(ROUTE, json={**body, "alerts": [{**am_alert(), "endsAt": "2026-11-20T11:00:00Z"}]})

    assert (first.status_code, first.json()) == (202, {"accepted": 1, "duplicates": [], "rejected": [], "resolved": [1]})
    assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicates": [0], "rejected": [], "resolved": []})
    assert ("alarms", "checkout") in app.state.ingest.pipeline.series  # counted for the labelled entity


async def test_an_alert_without_the_entity_label_is_answered_and_dead_lettered(
        app: FastAPI, alertmanager: httpx.AsyncClient) -> None:
    body = payload(am_alert(alertname="NoService", instance="h1"), am_alert())

    answer = await alertmanager.post(ROUTE, json=body)

    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1
    [rejected] = answer.json()["rejected"]
    assert rejected["index"] == 0 and rejected["kind"] == "invalid"
    assert "entity label missing: the alert has none of service" in rejected["reason"]
    [dead] = app.state.database.dead_letters()
    assert dead["reason"] == rejected["reason"] and '"alertname":"NoService"' in dead["raw"]
    async with client_for(app) as admin:
        exposition = (await admin.get("/metrics")).text
    assert sample(exposition, "tocsin_ingest_rejected_total", source="alertmanager", reason="bad_entity") == 1


async def test_a_firing_older_than_its_buckets_lateness_is_dead_lettered_as_late(
        app: FastAPI, alertmanager: httpx.AsyncClient) -> None:
    await alertmanager.post(ROUTE, json=payload(am_alert(starts_at="2026-11-20T12:00:00Z")))

    answer = await alertmanager.post(ROUTE, json=payload(am_alert(starts_at="2026-11-20T10:00:00Z", service="checkout",
                                                                  instance="h2")))

    assert answer.json()["accepted"] == 0
    assert [r["kind"] for r in answer.json()["rejected"]] == ["late"]


@pytest.mark.parametrize(("body", "status", "location"), [
    pytest.param(b"{not json", 400, None, id="not JSON"),
    pytest.param(b'{"version": "3", "alerts": []}', 422, "body.version", id="another payload version"),
    pytest.param(b'{"version": "4", "alerts": [{"status": "firing"}]}', 422, "body.alerts[0].labels",
                 id="an alert without labels"),
])
async def test_a_body_that_is_not_a_webhook_payload_is_refused_with_the_reason(
        alertmanager: httpx.AsyncClient, body: bytes, status: int, location: str | None) -> None:
    answer = await alertmanager.post(ROUTE, content=body, headers={"content-type": "application/json"})

    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["message"]
    if location is not None:
        assert error["problems"][0]["location"] == location


async def test_a_key_without_the_ingest_scope_is_refused(app: FastAPI) -> None:
    async with client_for(app, "reader", Scope.read) as reader:
        answer = await reader.post(ROUTE, json=payload(am_alert()))

    assert answer.status_code == 403
