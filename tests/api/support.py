"""Event streams, settings and app helpers the API tests share.

Every signal is watched by the static ``threshold`` rule so alerts are deterministic: on
``alarms`` (5-minute buckets, 5 minutes of lateness) two buckets in a row over 10 raise an
alert when the second one closes, that is once an event 5 minutes past its end arrives.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from warning.access import Scope
from warning.clock import Clock
from warning.settings import Settings
from warning.storage.database import Database

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SIGNALS: dict[str, Any] = {
    "satisfaction": {"detectors": [{"kind": "threshold", "limit": 50, "direction": "below"}]},
    "mentions": {"detectors": [{"kind": "threshold", "limit": 100}]},
    "alarms": {"detectors": [{"kind": "threshold", "limit": 10, "for_buckets": 2}]},
}


def rfc3339(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def alarm(minutes: float, value: float, *, entity: str = "policy-system", id: str | None = None) -> dict[str, Any]:
    """An ``alarms`` event ``minutes`` after 2026-11-20T10:00:00Z."""
    event: dict[str, Any] = {"ts": rfc3339(minutes), "signal": "alarms", "entity": entity, "value": value}
    if id is not None:
        event["id"] = id
    return event


def surge(entity: str = "policy-system", *, prefix: str = "evt") -> list[dict[str, Any]]:
    """Alarm counts every 5 minutes (10:00 to 10:35), over the limit at 10:15, 10:20 and 10:25.

    The 10:30 event closes the 10:20 bucket, the second over the limit in a row: the alert is
    raised at its end (10:25). The 10:35 event closes the 10:25 bucket: the alert is updated
    (version 2, last seen 10:30).
    """
    values = [2, 2, 2, 20, 20, 20, 2, 2]
    return [alarm(5 * i, v, entity=entity, id=f"{prefix}-{entity}-{i}") for i, v in enumerate(values)]


OWNER = "Duty desk"
"""The owner of the key the test clients send: the actor the API records for their changes."""

Headers = dict[str, str]
KeyOf = Callable[[str], Headers]
"""``key_of(name)``: the ``Authorization`` header of an admin key owned by ``name``."""


def bearer(app: FastAPI, name: str = OWNER, *scopes: Scope) -> Headers:
    """The ``Authorization`` header of a new key of ``name`` (every scope by default) in the app's database."""
    issued = app.state.keys.create(name=name, scopes=scopes or [Scope.admin], created_by="tests",
                                   now=dt.datetime.now(UTC))
    return {"Authorization": f"Bearer {issued.secret}"}


def client_for(app: FastAPI, name: str = OWNER, *scopes: Scope) -> httpx.AsyncClient:
    """A client of the started ``app`` that sends a key of ``name`` with ``scopes`` (admin: all)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin.test",
                             headers=bearer(app, name, *scopes))


@asynccontextmanager
async def running(settings: Settings, clock: Clock | None = None) -> AsyncIterator[FastAPI]:
    """The app for ``settings`` between its start-up and its shutdown (the lifespan entered
    explicitly: it migrates the database, restores the pipeline and sends the notices due)."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (``name`` as exposed)."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise KeyError(f"no sample {name}{labels}")


def database(app: FastAPI) -> Database:
    return app.state.database  # type: ignore[no-any-return]


async def alerts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The first page of stored alerts."""
    response = await client.get("/v1/alerts")
    assert response.status_code == 200
    return response.json()["items"]  # type: ignore[no-any-return]
