"""Findings of the security review of API keys and webhooks, each pinned by a test: input the
database cannot store is the client's error (422) on every backend, never a 503 that asks for
a retry; a key revoked while it was being verified does not stay cached; a subscriber's
``Retry-After`` cannot crash a delivery worker.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.support import SIGNALS, client_for, running, surge
from warning.access import Scope
from warning.notify.webhooks import parse_retry_after
from warning.storage.database import make_engine
from warning.storage.keys import KeyStore
from warning.storage.migrations import upgrade

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def app_on(db_url: str, make_settings: Any) -> AsyncIterator[FastAPI]:
    """The app on SQLite and on PostgreSQL, private webhook targets allowed (no DNS in tests)."""
    async with running(make_settings(signals=SIGNALS, database_url=db_url, webhook_allow_private=True)) as app:
        yield app


@pytest.fixture
async def client_on(app_on: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_on) as c:
        yield c


# -- input the database cannot store ------------------------------------------------------------


@pytest.mark.parametrize("url", [
    pytest.param("http://127.0.0.1/a\tb", id="tab"),
    pytest.param("http://127.0.0.1/\x00", id="NUL"),
    pytest.param("http://127.0.0.1/\x7f", id="DEL"),
])
async def test_a_webhook_url_with_control_characters_is_refused(client_on: httpx.AsyncClient, url: str) -> None:
    # urlsplit drops tabs and accepts the rest, but httpx refuses such a URL on every attempt.
    answer = await client_on.post("/v1/subscriptions", json={"url": url})

    assert (answer.status_code, answer.json()["error"]["type"]) == (422, "invalid_request")


@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("POST", "/v1/subscriptions", {"url": "http://127.0.0.1/", "description": "a\x00b"},
                 id="subscription description"),
    pytest.param("GET", "/v1/subscriptions/sub_%00", None, id="subscription id"),
    pytest.param("GET", "/v1/alerts?entity=%00", None, id="alert filter"),
    pytest.param("POST", "/v1/alerts/{alert}/acknowledge", {"comment": "a\x00b"}, id="move comment"),
    pytest.param("POST", "/v1/crises/{crisis}/acknowledge", {"comment": "a\x00b"}, id="crisis move comment"),
])
async def test_a_nul_character_is_the_clients_error_not_an_unavailable_database(
        client_on: httpx.AsyncClient, db_url: str, method: str, path: str, body: Any) -> None:
    assert (await client_on.post("/v1/events", json=surge())).status_code == 202
    alert = (await client_on.get("/v1/alerts")).json()["items"][0]["id"]
    crisis = (await client_on.get("/v1/crises")).json()["items"][0]["id"]

    answer = await client_on.request(method, path.format(alert=alert, crisis=crisis), json=body)

    # SQLite stores a NUL; PostgreSQL refuses it, which is about the request, not the database.
    assert answer.status_code < 500, answer.text
    if db_url.startswith("postgresql"):
        assert (answer.status_code, answer.json()["error"]["type"]) == (422, "invalid_request")
    # A refused move left nothing behind, in the database or in memory.
    status = (await client_on.get(f"/v1/alerts/{alert}")).json()["status"]
    assert status == ("acknowledged" if answer.status_code == 200 and "acknowledge" in path else "open")


async def test_an_event_id_with_a_nul_is_rejected_alone_not_with_its_batch(client_on: httpx.AsyncClient) -> None:
    # The whole batch failed on PostgreSQL before (and a Kafka partition retried it for ever).
    events = surge()
    events[0]["id"] = "a\x00b"

    answer = await client_on.post("/v1/events", json=events)

    assert answer.status_code == 202, answer.text
    assert [r["index"] for r in answer.json()["rejected"]] == [0]
    assert answer.json()["accepted"] == len(events) - 1


# -- API keys -------------------------------------------------------------------------------------


def test_a_key_revoked_while_it_is_verified_is_not_cached_afterwards(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    revoke_now: list[int] = []

    def monotonic() -> float:
        # verify() reads the clock after its lookup: a revocation committed then (another request
        # of this process) must not be undone by the verification caching what it read before.
        while revoke_now:
            keys.revoke(revoke_now.pop(), by="admin", now=NOW)
        return 100.0

    keys = KeyStore(engine, monotonic=monotonic)
    issued = keys.create(name="Li", scopes=[Scope.read], created_by="tests", now=NOW)
    revoke_now.append(issued.key.id)

    keys.verify(issued.secret, now=NOW)  # the lookup saw the key active; the revocation came after

    assert keys.verify(issued.secret, now=NOW) is None
    engine.dispose()


# -- webhooks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b2", "\u2460"])
def test_a_retry_after_of_unicode_digits_is_ignored_rather_than_raised(value: str) -> None:
    # str.isdigit() accepts "²" and "①", float() does not; httpx decodes a header's bytes as
    # latin-1 when they are not UTF-8, so a subscriber can send b"Retry-After: \xb2".
    assert parse_retry_after(value, 0.0) is None
