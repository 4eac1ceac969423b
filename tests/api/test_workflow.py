"""The response workflow over HTTP, on SQLite and PostgreSQL: moves, 409s, roles, stages,
the timeline, and an operator's resolve closing the alert in the pipeline too."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.workflow_schemas import ChangeRequest, ConflictBody, RoleRequest, TimelineRead, WorkflowRead
from tests.api.support import SIGNALS, T0, Headers, KeyOf, alarm, client_for, running, surge
from warning.clock import ManualClock
from warning.settings import Settings
from warning.timefmt import rfc3339

RAISED = T0.timestamp() + 25 * 60  # the surge's alert is raised at 10:25


def at(minutes: float) -> str:
    """RFC 3339 of 10:00 + ``minutes`` on the day of the surge."""
    return rfc3339(T0.timestamp() + minutes * 60)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(RAISED)


@pytest.fixture
def api_settings(make_settings: Any, db_url: str) -> Settings:
    return make_settings(signals=SIGNALS, database_url=db_url, clock_tick_seconds=3600)  # type: ignore[no-any-return]


@pytest.fixture
async def app(api_settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    async with running(api_settings, clock) as started:
        yield started


async def raise_alert(client: httpx.AsyncClient) -> str:
    assert (await client.post("/v1/events", json=surge())).json()["accepted"] == 8
    items = (await client.get("/v1/alerts")).json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


async def refire(client: httpx.AsyncClient, prefix: str = "again") -> None:
    """Two more buckets over the limit (10:40, 10:45), closed by the 10:55 event."""
    events = [alarm(m, v, id=f"{prefix}-{m}") for m, v in ((40, 20), (45, 20), (50, 2), (55, 2))]
    assert (await client.post("/v1/events", json=events)).json()["accepted"] == 4


# A change is recorded under the owner of the key it is made with: the client's key (owner
# OWNER, "Duty desk") unless a helper is given another key's header (``as_``).


async def act(client: httpx.AsyncClient, alert_id: str, action: str, as_: Headers | None = None,
              **body: Any) -> httpx.Response:
    return await client.post(f"/v1/alerts/{alert_id}/{action}", json=body or None, headers=as_)


async def put_role(client: httpx.AsyncClient, alert_id: str, role: str, name: str, as_: Headers | None = None,
                   **body: Any) -> httpx.Response:
    return await client.put(f"/v1/alerts/{alert_id}/roles/{role}", json={"name": name, **body}, headers=as_)


async def delete_role(client: httpx.AsyncClient, alert_id: str, role: str, as_: Headers | None = None) -> httpx.Response:
    return await client.request("DELETE", f"/v1/alerts/{alert_id}/roles/{role}", headers=as_)


async def ok(response: Any) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# -- moves ----------------------------------------------------------------------------------------


async def test_an_alert_goes_through_the_whole_lifecycle(client: httpx.AsyncClient, clock: ManualClock) -> None:
    alert_id = await raise_alert(client)
    await ok(put_role(client, alert_id, "incident_commander", "Ana Ruiz"))
    seen = []
    for action in ("acknowledge", "respond", "resolve", "review"):
        clock.advance(600)
        body = await ok(act(client, alert_id, action))
        seen.append((body["alert"]["status"], body["allowed"]))

    assert seen == [("acknowledged", ["respond", "resolve"]), ("responding", ["resolve"]),
                    ("resolved", ["review"]), ("reviewed", [])]
    stored = (await client.get(f"/v1/alerts/{alert_id}")).json()
    assert (stored["status"], stored["resolved_at"], stored["version"]) == ("reviewed", at(55), 6)


@pytest.mark.parametrize(("before", "action", "current", "allowed"), [
    pytest.param([], "review", "open", ["acknowledge", "respond", "resolve"], id="review an open alert"),
    pytest.param(["acknowledge"], "acknowledge", "acknowledged", ["respond", "resolve"], id="acknowledge twice"),
    pytest.param(["respond"], "acknowledge", "responding", ["resolve"], id="acknowledge while responding"),
    pytest.param(["resolve"], "respond", "resolved", ["review"], id="respond to a resolved alert"),
    pytest.param(["resolve", "review"], "resolve", "reviewed", [], id="resolve a reviewed alert"),
])
async def test_a_refused_move_answers_409_with_the_state_and_the_allowed_moves(
    client: httpx.AsyncClient, before: list[str], action: str, current: str, allowed: list[str],
) -> None:
    alert_id = await raise_alert(client)
    await ok(put_role(client, alert_id, "incident_commander", "Ana Ruiz"))
    for step in before:
        await ok(act(client, alert_id, step))

    refused = await act(client, alert_id, action, comment="again")

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["type"], error["current"], error["allowed"]) == ("invalid_transition", current, allowed)
    assert error["message"].startswith(f"cannot {action} an alert that is {current}")
    assert (await client.get(f"/v1/alerts/{alert_id}")).json()["status"] == current


async def test_respond_without_an_incident_commander_is_refused(client: httpx.AsyncClient) -> None:
    alert_id = await raise_alert(client)
    await ok(put_role(client, alert_id, "technical_lead", "Li Wei"))

    refused = await act(client, alert_id, "respond")

    assert refused.status_code == 409
    assert refused.json() == {"error": {
        "type": "missing_role", "role": "incident_commander",
        "message": f"cannot respond to alert {alert_id!r} without an incident commander: "
                   f"PUT /v1/alerts/{alert_id}/roles/incident_commander first",
    }}
    assert (await client.get(f"/v1/alerts/{alert_id}")).json()["status"] == "open"


# -- roles and stages -----------------------------------------------------------------------------


async def test_roles_keep_who_held_them_from_when_to_when(client: httpx.AsyncClient, clock: ManualClock,
                                                          key_of: KeyOf) -> None:
    alert_id = await raise_alert(client)
    clock.set(RAISED + 600)
    await ok(put_role(client, alert_id, "incident_commander", "Ana Ruiz"))
    await ok(put_role(client, alert_id, "information_officer", "Li Wei", as_=key_of("Ana Ruiz")))
    clock.set(RAISED + 1200)
    await ok(put_role(client, alert_id, "incident_commander", "Omar Haddad", as_=key_of("Ana Ruiz")))
    clock.set(RAISED + 1800)
    body = await ok(delete_role(client, alert_id, "information_officer", as_=key_of("Li Wei")))

    assert body["roles"] == [
        {"role": "incident_commander", "name": "Ana Ruiz", "assumed_at": at(35), "assumed_by": "Duty desk",
         "renounced_at": at(45), "renounced_by": "Ana Ruiz"},
        {"role": "information_officer", "name": "Li Wei", "assumed_at": at(35), "assumed_by": "Ana Ruiz",
         "renounced_at": at(55), "renounced_by": "Li Wei"},
        {"role": "incident_commander", "name": "Omar Haddad", "assumed_at": at(45), "assumed_by": "Ana Ruiz",
         "renounced_at": None, "renounced_by": None},
    ]


async def test_naming_the_current_holder_again_changes_nothing(client: httpx.AsyncClient, clock: ManualClock) -> None:
    alert_id = await raise_alert(client)
    first = await ok(put_role(client, alert_id, "legal_adviser", "Sam Okafor"))
    clock.advance(600)

    again = await ok(put_role(client, alert_id, "legal_adviser", "Sam Okafor"))

    assert again["roles"] == first["roles"] and len(again["roles"]) == 1


async def test_renouncing_a_role_nobody_holds_answers_409(client: httpx.AsyncClient) -> None:
    alert_id = await raise_alert(client)

    refused = await delete_role(client, alert_id, "customer_care_lead")

    assert refused.status_code == 409
    assert refused.json() == {"error": {"type": "role_not_held", "role": "customer_care_lead",
                                        "message": f"nobody holds customer_care_lead on alert {alert_id!r}"}}


async def test_a_responding_alert_keeps_its_commander_until_handed_over(client: httpx.AsyncClient) -> None:
    alert_id = await raise_alert(client)
    await ok(put_role(client, alert_id, "incident_commander", "Ana Ruiz"))
    await ok(act(client, alert_id, "respond"))

    refused = await delete_role(client, alert_id, "incident_commander")
    handed_over = await ok(put_role(client, alert_id, "incident_commander", "Omar Haddad"))

    assert (refused.status_code, refused.json()["error"]["type"]) == (409, "missing_role")
    assert [(r["name"], r["renounced_at"] is None) for r in handed_over["roles"]] == [
        ("Ana Ruiz", False), ("Omar Haddad", True)]


async def test_the_six_stages_are_recorded_once_with_time_and_owner(client: httpx.AsyncClient,
                                                                    clock: ManualClock, key_of: KeyOf) -> None:
    alert_id = await raise_alert(client)
    steps = [("acknowledge", "Duty desk"), ("incident_commander", "Duty desk"), ("technical_lead", "Ana Ruiz"),
             ("customer_care_lead", "Ana Ruiz"), ("respond", "Ana Ruiz"), ("resolve", "Ana Ruiz"),
             ("review", "Omar Haddad")]
    for minutes, (step, actor) in enumerate(steps, start=1):
        clock.set(RAISED + minutes * 60)
        if step.endswith(("_commander", "_lead")):
            body = await ok(put_role(client, alert_id, step, "Someone", as_=key_of(actor)))
        else:
            body = await ok(act(client, alert_id, step, as_=key_of(actor)))

    assert body["stages"] == [
        {"stage": "alert_response", "reached_at": at(26), "owner": "Duty desk"},
        {"stage": "assessment", "reached_at": at(27), "owner": "Duty desk"},
        {"stage": "resource_allocation", "reached_at": at(28), "owner": "Ana Ruiz"},  # once: not again at 10:29
        {"stage": "action", "reached_at": at(30), "owner": "Ana Ruiz"},
        {"stage": "effect_tracking", "reached_at": at(31), "owner": "Ana Ruiz"},
        {"stage": "post_mortem_review", "reached_at": at(32), "owner": "Omar Haddad"},
    ]


# -- the timeline ---------------------------------------------------------------------------------


async def test_the_timeline_shows_detection_moves_roles_stages_and_notices_in_time_order(
    app: FastAPI, client: httpx.AsyncClient, clock: ManualClock,
) -> None:
    alert_id = await raise_alert(client)
    clock.set(RAISED + 60)
    app.state.outbox.tick()  # sends alert.raised
    for minutes, step in ((5, "acknowledge"), (15, "incident_commander"), (20, "respond")):
        clock.set(RAISED + minutes * 60)
        if step == "incident_commander":
            await ok(put_role(client, alert_id, step, "Ana Ruiz", comment="Ana leads"))
        else:
            await ok(act(client, alert_id, step, comment=f"{step} note"))

    timeline = await ok(client.get(f"/v1/alerts/{alert_id}/timeline"))

    assert timeline["alert_id"] == alert_id
    assert [(e["at"], e["event"], e.get("actor"), e.get("comment")) for e in timeline["entries"]] == [
        (at(25), "detection.raised", None, None),
        (at(26), "notice.sent", None, None),
        (at(30), "status.acknowledged", "Duty desk", "acknowledge note"),
        (at(30), "stage.reached", "Duty desk", None),
        (at(40), "role.assumed", "Duty desk", "Ana leads"),
        (at(40), "stage.reached", "Duty desk", None),
        (at(45), "status.responding", "Duty desk", "respond note"),
        (at(45), "stage.reached", "Duty desk", None),
        (at(45), "notice.cancelled", None, None),
        (at(45), "notice.cancelled", None, None),
        (at(45), "notice.cancelled", None, None),
    ]
    details = [e["details"] for e in timeline["entries"]]
    assert details[2] == {"action": "acknowledge", "from": "open", "to": "acknowledged", "version": 3}
    assert details[4] == {"role": "incident_commander", "name": "Ana Ruiz"}
    assert [d["type"] for d in details[8:]] == ["alert.escalation", "alert.escalation", "alert.overdue"]


# -- the pipeline follows the operators ----------------------------------------------------------


async def test_after_an_operator_resolves_the_next_firing_raises_a_new_alert(client: httpx.AsyncClient) -> None:
    first = await raise_alert(client)
    await ok(act(client, first, "resolve"))

    await refire(client)

    alerts = (await client.get("/v1/alerts")).json()["items"]
    assert [(a["id"] == first, a["status"], a["raised_at"]) for a in alerts] == [
        (False, "open", at(50)), (True, "resolved", at(25))]


async def test_an_operators_resolve_survives_a_restart(api_settings: Settings, clock: ManualClock) -> None:
    async with running(api_settings, clock) as app, client_for(app) as client:
        first = await raise_alert(client)
        await ok(act(client, first, "resolve"))

    async with running(api_settings, clock) as app, client_for(app) as client:
        await refire(client)
        ids = [a["id"] for a in (await client.get("/v1/alerts")).json()["items"]]

    assert len(ids) == 2 and ids[1] == first


async def test_detection_never_overwrites_an_operators_status(client: httpx.AsyncClient) -> None:
    alert_id = await raise_alert(client)
    await ok(act(client, alert_id, "acknowledge"))

    await refire(client)

    alerts = (await client.get("/v1/alerts")).json()["items"]
    assert [(a["id"], a["status"]) for a in alerts] == [(alert_id, "acknowledged")]
    assert alerts[0]["version"] > 3 and alerts[0]["last_seen_at"] == at(50)


# -- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "location"), [
    pytest.param({"actor": "Ana"}, "body.actor", id="an actor: the key's owner is the actor"),
    pytest.param({"comment": "c" * 2001}, "body.comment", id="comment over 2000 characters"),
    pytest.param({"comment": 3}, "body.comment", id="comment not text"),
    pytest.param({"status": "resolved"}, "body.status", id="unknown field"),
])
async def test_an_invalid_move_request_answers_422_naming_the_field(client: httpx.AsyncClient, body: dict[str, Any],
                                                                    location: str) -> None:
    alert_id = await raise_alert(client)

    refused = await client.post(f"/v1/alerts/{alert_id}/acknowledge", json=body)

    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "invalid_request"
    assert [p["location"] for p in refused.json()["error"]["problems"]] == [location]


@pytest.mark.parametrize(("role", "body", "location"), [
    pytest.param("spokesperson", {"name": "Li Wei"}, "path.role", id="unknown role"),
    pytest.param("technical_lead", {"comment": "who?"}, "body.name", id="no name"),
    pytest.param("technical_lead", {"name": ""}, "body.name", id="empty name"),
    pytest.param("technical_lead", {"name": "   "}, "body.name", id="blank name"),
    pytest.param("technical_lead", {"name": "x" * 201}, "body.name", id="name over 200 characters"),
    pytest.param("technical_lead", {"name": "Li\nWei"}, "body.name", id="name with a control character"),
    pytest.param("technical_lead", {"name": "Li Wei", "actor": "Ana"}, "body.actor", id="an actor"),
])
async def test_an_invalid_role_request_answers_422(client: httpx.AsyncClient, role: str, body: dict[str, Any],
                                                   location: str) -> None:
    alert_id = await raise_alert(client)

    refused = await client.put(f"/v1/alerts/{alert_id}/roles/{role}", json=body)

    assert refused.status_code == 422
    assert [p["location"] for p in refused.json()["error"]["problems"]] == [location]


@pytest.mark.parametrize(("method", "path"), [
    pytest.param("POST", "/acknowledge", id="acknowledge"),
    pytest.param("POST", "/respond", id="respond"),
    pytest.param("POST", "/resolve", id="resolve"),
    pytest.param("POST", "/review", id="review"),
    pytest.param("PUT", "/roles/technical_lead", id="assume a role"),
    pytest.param("DELETE", "/roles/technical_lead", id="renounce a role"),
    pytest.param("GET", "/workflow", id="workflow"),
    pytest.param("GET", "/timeline", id="timeline"),
])
async def test_an_unknown_alert_answers_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"name": "Li Wei"} if method == "PUT" else None

    answer = await client.request(method, f"/v1/alerts/alr_nope{path}", json=body)

    assert answer.status_code == 404
    assert answer.json() == {"error": {"type": "not_found", "message": "no alert with id 'alr_nope'"}}


# -- documentation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("schema", "model"), [
    pytest.param("WorkflowRead", WorkflowRead, id="WorkflowRead"),
    pytest.param("TimelineRead", TimelineRead, id="TimelineRead"),
    pytest.param("ChangeRequest", ChangeRequest, id="ChangeRequest"),
    pytest.param("RoleRequest", RoleRequest, id="RoleRequest"),
    pytest.param("ConflictBody", ConflictBody, id="ConflictBody"),
])
async def test_the_served_workflow_examples_are_valid(client: httpx.AsyncClient, schema: str, model: Any) -> None:
    examples = (await client.get("/openapi.json")).json()["components"]["schemas"][schema]["examples"]

    assert examples
    for example in examples:
        assert model.model_validate(example).model_dump(mode="json", exclude_none=True) == example
