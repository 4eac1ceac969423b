"""Who may do what, over every route of the app: 401 without a valid key, 403 without the scope,
the key's owner as the actor, the first admin key, and open mode on loopback only.

The route tests walk ``app.routes``, so a route added without a scope fails here.
"""
from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app, run
from api.auth import FIRST_ADMIN, PUBLIC_PATHS, Requirement
from tests.api.support import OWNER, SIGNALS, Headers, KeyOf, bearer, client_for, running, surge
from warning.access import IMPLIED, Scope
from warning.errors import ConfigError
from warning.settings import Settings, load_settings


def requirements(dependant: Dependant) -> list[Scope]:
    found = [d.call.scope for d in dependant.dependencies if isinstance(d.call, Requirement)]
    return found + [s for d in dependant.dependencies for s in requirements(d)]


# Every API route as served, included routers flattened (paths with their prefixes).
ROUTES = [(str(c.path), c.route) for c in iter_route_contexts(create_app(load_settings(None)).routes)
          if isinstance(c.route, APIRoute)]
GUARDED = [(method, path, (requirements(r.dependant) or [Scope.admin])[0])
           for path, r in ROUTES if path not in PUBLIC_PATHS for method in sorted(r.methods or ())]


def url(path: str) -> str:
    """A concrete URL for a route's path: every parameter filled with a placeholder."""
    return re.sub(r"\{[^}]+\}", "1", path)


def body_for(method: str) -> dict[str, Any] | None:
    return {"name": "Li Wei"} if method in ("PUT", "POST", "PATCH") else None


@pytest.fixture
def anonymous(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin.test")


# -- every route needs exactly one scope -----------------------------------------------------------


@pytest.mark.parametrize(("path", "route"), [pytest.param(p, r, id=f"{sorted(r.methods or ())} {p}") for p, r in ROUTES])
def test_every_route_declares_exactly_one_scope_or_is_public(path: str, route: APIRoute) -> None:
    expected = 0 if path in PUBLIC_PATHS else 1

    assert len(requirements(route.dependant)) == expected


# One app serves every route's call (starting one per route would take a minute).


async def test_every_route_refuses_a_call_without_a_key(anonymous: httpx.AsyncClient) -> None:
    answers = {(method, path): await anonymous.request(method, url(path), json=body_for(method))
               for method, path, _ in GUARDED}

    assert {route: a.status_code for route, a in answers.items() if a.status_code != 401} == {}
    assert {a.headers["www-authenticate"] for a in answers.values()} == {"Bearer"}
    assert {a.json()["error"]["type"] for a in answers.values()} == {"unauthenticated"}


async def test_every_route_refuses_a_key_without_its_scope(app: FastAPI, anonymous: httpx.AsyncClient) -> None:
    errors, expected = {}, {}
    for method, path, scope in GUARDED:
        others = [s for s in Scope if scope not in IMPLIED[s]]  # every scope that does not grant this one
        answer = await anonymous.request(method, url(path), json=body_for(method),
                                         headers=bearer(app, "Li", *others))
        errors[method, path] = (answer.status_code, answer.json()["error"])
        expected[method, path] = (403, {
            "type": "forbidden", "required_scope": scope.value,
            "message": f"this route needs the {scope.value!r} scope; the key of 'Li' has {', '.join(sorted(others))}"})

    assert errors == expected


@pytest.mark.parametrize(("key", "reason"), [
    pytest.param("Bearer tsn_nope", "unknown", id="unknown key"),
    pytest.param("Bearer ", "missing", id="empty key"),
    pytest.param("Basic dXNlcjpwYXNz", "missing", id="not a bearer token"),
    pytest.param("tsn_nope", "missing", id="no scheme"),
])
async def test_a_bad_key_answers_401(anonymous: httpx.AsyncClient, key: str, reason: str) -> None:
    answer = await anonymous.get("/v1/alerts", headers={"Authorization": key})

    assert (answer.status_code, answer.headers["www-authenticate"]) == (401, "Bearer")
    assert answer.json()["error"]["message"] == {
        "unknown": "the API key is not valid (unknown or revoked)",
        "missing": "this route needs an API key: send 'Authorization: Bearer <key>'"}[reason]


async def test_healthz_needs_no_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).status_code == 200


@pytest.mark.parametrize(("method", "path", "scope", "expected"), [
    pytest.param("POST", "/v1/events", Scope.ingest, 202, id="ingest posts events"),
    pytest.param("GET", "/v1/alerts", Scope.read, 200, id="read lists alerts"),
    pytest.param("GET", "/metrics", Scope.read, 200, id="read scrapes metrics"),
    pytest.param("GET", "/v1/alerts/alr_x/timeline", Scope.operate, 404, id="operate reads (read implied)"),
    pytest.param("POST", "/v1/alerts/alr_x/acknowledge", Scope.operate, 404, id="operate moves"),
    pytest.param("GET", "/v1/keys", Scope.admin, 200, id="admin lists keys"),
    pytest.param("POST", "/v1/events", Scope.admin, 202, id="admin ingests (everything implied)"),
])
async def test_a_key_with_the_scope_gets_through(app: FastAPI, anonymous: httpx.AsyncClient, method: str, path: str,
                                                 scope: Scope, expected: int) -> None:
    body = surge()[:1] if path == "/v1/events" else None

    answer = await anonymous.request(method, path, json=body, headers=bearer(app, "Li", scope))

    assert answer.status_code == expected, answer.text


async def test_the_openapi_document_says_which_routes_need_a_key(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()

    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert {"401", "403"} <= set(doc["paths"]["/v1/alerts"]["get"]["responses"])
    assert doc["paths"]["/v1/alerts"]["get"]["security"] == [{"HTTPBearer": []}]


# -- the actor is the key's owner ------------------------------------------------------------------


async def raise_alert(client: httpx.AsyncClient) -> str:
    await client.post("/v1/events", json=surge())
    return str((await client.get("/v1/alerts")).json()["items"][0]["id"])


async def test_changes_are_recorded_under_the_keys_owner(client: httpx.AsyncClient, key_of: KeyOf) -> None:
    alert_id = await raise_alert(client)
    ana: Headers = key_of("Ana Ruiz")

    await client.put(f"/v1/alerts/{alert_id}/roles/incident_commander", json={"name": "Omar"}, headers=ana)
    await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"comment": "on it"})
    refused = await client.post(f"/v1/alerts/{alert_id}/respond", json={"actor": "Someone else"}, headers=ana)
    entries = (await client.get(f"/v1/alerts/{alert_id}/timeline")).json()["entries"]

    assert refused.status_code == 422
    assert [(e["event"], e["actor"]) for e in entries if e["actor"]] == [
        ("role.assumed", "Ana Ruiz"), ("stage.reached", "Ana Ruiz"),
        ("status.acknowledged", OWNER), ("stage.reached", OWNER)]


# -- the first admin key, and open mode -----------------------------------------------------------


async def test_the_first_start_creates_an_admin_key_shown_once(
    api_settings: Settings, capsys: pytest.CaptureFixture[str],
) -> None:
    path: Path = api_settings.data_dir / "admin.key"
    async with running(api_settings):
        printed = capsys.readouterr().err
    secret = path.read_text().strip()

    async with running(api_settings) as app:
        again = capsys.readouterr().err
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers={"Authorization": f"Bearer {secret}"}) as admin:
            keys = (await admin.get("/v1/keys")).json()["items"]

    assert printed.rstrip().endswith(f"\n{secret}") and str(path) in printed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert again == "" and path.read_text().strip() == secret
    assert [(k["name"], k["scopes"]) for k in keys] == [(FIRST_ADMIN, ["admin"])]


async def test_no_first_key_when_one_is_active(api_settings: Settings) -> None:
    async with running(api_settings) as app:
        app.state.keys.revoke(1, by="test", now=app.state.keys.list()[0].created_at)
    (api_settings.data_dir / "admin.key").unlink()

    async with running(api_settings) as app:  # none active: a new one
        names = [(k.name, k.active) for k in app.state.keys.list()]

    assert names == [(FIRST_ADMIN, False), (FIRST_ADMIN, True)]
    assert (api_settings.data_dir / "admin.key").exists()


async def test_open_mode_lets_everyone_in_as_local(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, auth="open")
    async with running(settings) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as anyone:
            alert_id = await raise_alert(anyone)
            moved = await anyone.post(f"/v1/alerts/{alert_id}/resolve")
        keys = app.state.keys.list()

    assert moved.status_code == 200
    assert moved.json()["stages"][-1]["owner"] == "local"
    assert keys == []  # no first admin key: nobody needs one
    assert not (settings.data_dir / "admin.key").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20"])
def test_open_mode_is_refused_on_a_host_others_can_reach(make_settings: Any, host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        make_settings(auth="open", host=host)
    with pytest.raises(ConfigError, match="loopback"):
        run(make_settings(auth="open"), host=host)  # --host of tocsin serve: refused before listening


async def test_a_key_revoked_over_the_api_stops_working_at_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    reader = bearer(app, "dashboard", Scope.read)
    assert (await client.get("/v1/alerts", headers=reader)).status_code == 200  # verified, so cached
    key_id = next(k["id"] for k in (await client.get("/v1/keys")).json()["items"] if k["name"] == "dashboard")

    await client.delete(f"/v1/keys/{key_id}")

    assert (await client.get("/v1/alerts", headers=reader)).status_code == 401


async def test_the_shared_client_sends_an_admin_key(app: FastAPI) -> None:
    async with client_for(app, "ingester", Scope.ingest) as producer:
        assert (await producer.get("/v1/alerts")).status_code == 403
