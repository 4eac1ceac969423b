"""Crises over HTTP, on SQLite and PostgreSQL: grouping and fusion, acting on a crisis's
alerts, 409s, the type, and the post-mortem with the signals' movement from stored buckets.

Every signal is watched by a ``threshold`` rule of severity ``minor`` on 5-minute buckets,
so what raises a crisis' severity above minor is the fusion rule alone. A bucket closes
(and its alert is raised) once an event of its series 5 minutes past its end arrives.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.crisis_schemas import (
    CrisisChangeRead,
    CrisisConflictBody,
    CrisisDetail,
    CrisisPage,
    CrisisRead,
    CrisisRoleRequest,
    CrisisTypeRequest,
    ReviewRead,
    ReviewRequest,
)
from tests.api.support import OWNER, T0, client_for, rfc3339, running, sample
from warning.clock import ManualClock
from warning.settings import Settings

MINUTE = 60.0
LIMITS: dict[str, dict[str, Any]] = {
    "satisfaction": {"limit": 50, "direction": "below"},
    "mentions": {"limit": 100},
    "alarms": {"limit": 10},
}
CRISIS_SIGNALS = {
    signal: {"bucket": "5m", "lateness": "5m", "watchdog": {"enabled": False},
             "detectors": [{"kind": "threshold", "severity": "minor", **limit}]}
    for signal, limit in LIMITS.items()
}
CALM = {"satisfaction": 80.0, "mentions": 50.0, "alarms": 2.0}
BAD = {"satisfaction": 40.0, "mentions": 200.0, "alarms": 20.0}
REVIEW: dict[str, Any] = {
    "summary": "The policy system went down; complaints followed.",
    "root_cause": "An expired certificate on the claims gateway.",
    "crisis_type": "service_outage",
    "impact": {"financial": {"amount": 12000.5, "currency": "EUR"}, "brand": {"level": "moderate"},
               "operational": {"level": "severe", "description": "claims backlog"}, "customers_lost": 12},
    "remedies": ["apology", "refund"],
    "lessons": ["Monitor certificate expiry"],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0.timestamp())


@pytest.fixture
def api_settings(make_settings: Any) -> Settings:
    """SQLite: crises are computed from the alerts, whose storage is tested on both backends elsewhere."""
    return make_settings(signals=CRISIS_SIGNALS,  # type: ignore[no-any-return]
                         entities={"insurer": {"crisis_type": "product_defect"}})


@pytest.fixture
async def app(api_settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    async with running(api_settings, clock) as started:
        yield started


@pytest.fixture
async def stored(api_settings: Settings, db_url: str, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on SQLite and on PostgreSQL: for what crises store (type, review)."""
    async with running(api_settings.model_copy(update={"database_url": db_url}), clock) as app, \
            client_for(app) as client:
        yield client


def events(signal: str, values: list[float], *, entity: str = "policy-system", start: float = 0) -> list[dict[str, Any]]:
    """One event per 5-minute bucket from 10:00 + ``start`` minutes."""
    return [{"id": f"{signal}-{entity}-{start + 5 * i}", "ts": rfc3339(start + 5 * i), "signal": signal,
             "entity": entity, "value": v} for i, v in enumerate(values)]


def burst(signal: str, *, entity: str = "policy-system", start: float = 0) -> list[dict[str, Any]]:
    """Calm, then over the limit in the 10:05 and 10:10 buckets (the alert is raised at 10:10,
    last seen 10:15, cleared 10:20), then calm until the 10:35 event closes 10:25."""
    calm, bad = CALM[signal], BAD[signal]
    return events(signal, [calm, bad, bad, calm, calm, calm, calm, calm], entity=entity, start=start)


async def post(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> None:
    answer = (await client.post("/v1/events", json=batch)).json()
    assert answer["accepted"] == len(batch), answer


async def only_crisis(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    page = CrisisPage.model_validate((await client.get("/v1/crises", params=params)).json())
    assert len(page.items) == 1, page
    return (await ok(client.get(f"/v1/crises/{page.items[0].id}")))


async def ok(request: Any) -> dict[str, Any]:
    answer = await request
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def conflict(request: Any) -> dict[str, Any]:
    answer = await request
    assert answer.status_code == 409, answer.text
    return CrisisConflictBody.model_validate(answer.json()).error.model_dump(exclude_none=True)


async def statuses(client: httpx.AsyncClient, crisis: dict[str, Any]) -> list[str]:
    return [(await ok(client.get(f"/v1/alerts/{i}")))["status"] for i in crisis["alert_ids"]]


async def three_signal_crisis(client: httpx.AsyncClient) -> dict[str, Any]:
    for signal in ("alarms", "mentions", "satisfaction"):
        await post(client, burst(signal))
    return await only_crisis(client)


# -- grouping and fusion --------------------------------------------------------------------------


async def test_three_signals_at_once_make_one_severe_crisis(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)

    assert CrisisDetail.model_validate(crisis)
    assert (crisis["severity"], crisis["fused_signals"], crisis["signals"]) == (
        "severe", 3, ["alarms", "mentions", "satisfaction"])
    assert {a["severity"] for a in crisis["alerts"]} == {"minor"}
    assert (crisis["status"], crisis["started_at"], crisis["response_due_at"]) == (
        "open", rfc3339(10), rfc3339(10 + 6 * 60))
    assert crisis["id"] == "crs_" + crisis["alert_ids"][0].removeprefix("alr_")
    assert (crisis["crisis_type"], crisis["roles"], crisis["review"], crisis["allowed"]) == (
        None, [], None, ["acknowledge", "respond", "resolve"])


async def test_two_signals_at_once_make_it_moderate(client: httpx.AsyncClient) -> None:
    await post(client, burst("alarms"))
    await post(client, burst("mentions"))

    crisis = await only_crisis(client)

    assert (crisis["severity"], crisis["fused_signals"]) == ("moderate", 2)


async def test_the_clock_is_the_earliest_alerts(client: httpx.AsyncClient) -> None:
    await post(client, burst("alarms"))
    await post(client, burst("mentions", start=60))  # raised 11:10, within the gap: same crisis

    crisis = await only_crisis(client)

    assert [a["raised_at"] for a in crisis["alerts"]] == [rfc3339(10), rfc3339(70)]
    assert crisis["response_due_at"] == crisis["alerts"][0]["response_due_at"] == rfc3339(10 + 360)
    assert (crisis["severity"], crisis["fused_signals"]) == ("minor", 1)  # one after the other: no fusion


async def test_far_apart_in_time_or_on_other_entities_are_separate_crises(client: httpx.AsyncClient) -> None:
    await post(client, burst("alarms") + burst("alarms", start=12 * 60))  # 12 h later: past the 6 h gap
    await post(client, burst("alarms", entity="claims-portal"))

    page = (await ok(client.get("/v1/crises", params={"limit": 2})))
    rest = (await ok(client.get("/v1/crises", params={"limit": 2, "cursor": page["next_cursor"]})))

    listed = [(c["entity"], c["started_at"]) for c in page["items"] + rest["items"]]
    assert listed == [("policy-system", rfc3339(12 * 60 + 10)), ("policy-system", rfc3339(10)),
                      ("claims-portal", rfc3339(10))]  # newest first, then by id
    assert rest["next_cursor"] is None
    assert len((await ok(client.get("/v1/crises", params={"entity": "claims-portal"})))["items"]) == 1
    since = (await ok(client.get("/v1/crises", params={"since": rfc3339(60)})))["items"]
    assert [c["started_at"] for c in since] == [rfc3339(12 * 60 + 10)]


async def test_crisis_ids_are_the_same_after_a_restart(api_settings: Settings, clock: ManualClock) -> None:
    async with running(api_settings, clock) as app, client_for(app) as client:
        first = await three_signal_crisis(client)
    async with running(api_settings, clock) as app, client_for(app) as client:
        again = await only_crisis(client)

    assert again["id"] == first["id"] and again["alert_ids"] == first["alert_ids"]


async def test_an_unknown_or_malformed_crisis_id_is_404(client: httpx.AsyncClient) -> None:
    for crisis_id in ("crs_0000", "alr_123", "crs_a-b", "nothing"):
        answer = await client.get(f"/v1/crises/{crisis_id}")

        assert (answer.status_code, answer.json()["error"]["type"]) == (404, "not_found"), crisis_id


async def test_bad_list_parameters_are_422(client: httpx.AsyncClient) -> None:
    for params in ({"since": "2026-11-20T10:00:00"}, {"cursor": "nonsense"}, {"limit": "0"}, {"status": "closed"}):
        answer = await client.get("/v1/crises", params=params)

        assert answer.status_code == 422, (params, answer.text)
        name = next(iter(params))
        assert answer.json()["error"]["problems"][0]["location"] == f"query.{name}"


# -- acting on a crisis ---------------------------------------------------------------------------


async def test_acknowledging_a_crisis_acknowledges_every_alert(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)

    changed = CrisisChangeRead.model_validate(await ok(client.post(
        f"/v1/crises/{crisis['id']}/acknowledge", json={"comment": "one incident"})))

    assert changed.changed == crisis["alert_ids"]
    assert changed.crisis.status == "acknowledged"
    assert await statuses(client, crisis) == ["acknowledged"] * 3
    timeline = (await ok(client.get(f"/v1/alerts/{crisis['alert_ids'][1]}/timeline")))["entries"]
    move = next(e for e in timeline if e["event"] == "status.acknowledged")
    assert (move["actor"], move["comment"]) == (OWNER, "one incident")
    metrics = (await client.get("/metrics")).text
    assert sample(metrics, "tocsin_workflow_time_to_acknowledge_seconds_count", severity="minor") == 3


async def test_respond_needs_a_commander_then_the_crisis_commander_leads_every_alert(
        client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    url = f"/v1/crises/{crisis['id']}"

    refused = await conflict(client.post(f"{url}/respond"))
    assert (refused["type"], refused["role"]) == ("missing_role", "incident_commander")
    assert await statuses(client, crisis) == ["open"] * 3  # nothing moved

    named = await ok(client.put(f"{url}/roles/incident_commander", json={"name": "Ana Ruiz"}))
    assert named["changed"] == crisis["alert_ids"]
    assert named["crisis"]["roles"] == [
        {"role": "incident_commander", "name": "Ana Ruiz", "alert_ids": crisis["alert_ids"]}]
    again = await ok(client.put(f"{url}/roles/incident_commander", json={"name": "Ana Ruiz"}))
    assert again["changed"] == []  # naming the holder again changes nothing

    await ok(client.post(f"{url}/respond"))
    assert await statuses(client, crisis) == ["responding"] * 3
    workflow = await ok(client.get(f"/v1/alerts/{crisis['alert_ids'][2]}/workflow"))
    assert [(r["name"], r["assumed_by"]) for r in workflow["roles"]] == [("Ana Ruiz", OWNER)]


async def test_a_move_no_alert_allows_is_409_with_each_alerts_state(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    await ok(client.post(f"/v1/crises/{crisis['id']}/resolve"))

    refused = await conflict(client.post(f"/v1/crises/{crisis['id']}/acknowledge"))

    assert refused["type"] == "invalid_transition"
    assert refused["allowed"] == ["review"]
    assert refused["alerts"] == [{"id": i, "status": "resolved", "allowed": ["review"]} for i in crisis["alert_ids"]]


async def test_a_move_applies_to_the_alerts_that_allow_it(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    first, *others = crisis["alert_ids"]
    await ok(client.post(f"/v1/alerts/{first}/resolve", json={}))

    changed = await ok(client.post(f"/v1/crises/{crisis['id']}/acknowledge"))

    assert changed["changed"] == others
    assert await statuses(client, crisis) == ["resolved", "acknowledged", "acknowledged"]
    assert changed["crisis"]["status"] == "acknowledged"  # the least advanced alert
    assert changed["crisis"]["allowed"] == ["respond", "resolve"]  # review only once every alert is closed


async def test_leaving_a_role_empty_on_a_crisis(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    url = f"/v1/crises/{crisis['id']}/roles/information_officer"

    await ok(client.put(url, json={"name": "Li Wei"}))
    left = await ok(client.request("DELETE", url, json={"comment": "handing to PR"}))
    assert (left["changed"], left["crisis"]["roles"]) == (crisis["alert_ids"], [])

    refused = await conflict(client.request("DELETE", url))
    assert (refused["type"], refused["role"]) == ("role_not_held", "information_officer")


async def test_a_responding_crisis_keeps_its_commander(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    url = f"/v1/crises/{crisis['id']}"
    await ok(client.put(f"{url}/roles/incident_commander", json={"name": "Ana Ruiz"}))
    await ok(client.post(f"{url}/respond"))

    refused = await conflict(client.request("DELETE", f"{url}/roles/incident_commander"))

    assert refused["type"] == "missing_role"
    roles = (await ok(client.get(url)))["roles"]
    assert [r["name"] for r in roles] == ["Ana Ruiz"]


async def test_roles_on_a_closed_crisis_are_409(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)
    await ok(client.post(f"/v1/crises/{crisis['id']}/resolve"))

    refused = await conflict(client.put(f"/v1/crises/{crisis['id']}/roles/technical_lead", json={"name": "Bo"}))

    assert refused["type"] == "crisis_closed"


BAD_CHANGES: list[tuple[str, str, dict[str, Any]]] = [  # (what is wrong, path, body)
    ("the actor is the caller's, never the body's", "acknowledge", {"actor": "someone else"}),
    ("comment too long", "acknowledge", {"comment": "x" * 2001}),
    ("empty name", "roles/incident_commander", {"name": " "}),
    ("unknown role", "roles/mascot", {"name": "Bo"}),
    ("unknown crisis type", "type", {"crisis_type": "alien_invasion"}),
]


async def test_bad_requests_are_422_and_change_nothing(client: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(client)

    for wrong, path, body in BAD_CHANGES:
        method = "POST" if path == "acknowledge" else "PUT"
        answer = await client.request(method, f"/v1/crises/{crisis['id']}/{path}", json=body)

        assert (answer.status_code, answer.json()["error"]["type"]) == (422, "invalid_request"), wrong
    after = await ok(client.get(f"/v1/crises/{crisis['id']}"))
    assert (after["status"], after["roles"], after["crisis_type"]) == ("open", [], None)


# -- type -----------------------------------------------------------------------------------------


async def test_the_operator_type_overrides_the_configured_one(stored: httpx.AsyncClient) -> None:
    await post(stored, burst("alarms", entity="insurer"))
    crisis = await only_crisis(stored)
    assert (crisis["crisis_type"], crisis["type_source"]) == ("product_defect", "entity")

    await ok(stored.put(f"/v1/crises/{crisis['id']}/type", json={"crisis_type": "service_outage"}))

    crisis = await only_crisis(stored)
    assert (crisis["crisis_type"], crisis["type_source"]) == ("service_outage", "operator")


# -- post-mortem ----------------------------------------------------------------------------------


async def test_a_review_needs_every_alert_resolved(stored: httpx.AsyncClient) -> None:
    crisis = await three_signal_crisis(stored)

    refused = await conflict(stored.put(f"/v1/crises/{crisis['id']}/review", json=REVIEW))

    assert refused["type"] == "crisis_not_resolved"
    assert [a["status"] for a in refused["alerts"]] == ["open"] * 3
    assert (await stored.get(f"/v1/crises/{crisis['id']}/review")).status_code == 404


BAD_REVIEWS: list[tuple[str, str, dict[str, Any]]] = [  # (what is wrong, the field named, the change)
    ("unknown remedy", "remedies", {"remedies": ["apology", "free_beer"]}),
    ("a remedy twice", "remedies", {"remedies": ["refund", "refund"]}),
    ("empty summary", "summary", {"summary": "   "}),
    ("root cause too long", "root_cause", {"root_cause": "x" * 5001}),
    ("unknown crisis type", "crisis_type", {"crisis_type": "unknown"}),
    ("negative amount", "impact.financial.amount", {"impact": {"financial": {"amount": -1, "currency": "EUR"}}}),
    ("not a currency code", "impact.financial.currency", {"impact": {"financial": {"amount": 1, "currency": "euro"}}}),
    ("not a number", "impact.financial.amount", {"impact": {"financial": {"amount": "NaN", "currency": "EUR"}}}),
    ("unknown impact level", "impact.brand.level", {"impact": {"brand": {"level": "catastrophic"}}}),
    ("negative customers lost", "impact.customers_lost", {"impact": {"customers_lost": -3}}),
    ("empty lesson", "lessons.0", {"lessons": [""]}),
    ("unknown field", "reviewer", {"reviewer": "me"}),
]


async def test_an_invalid_review_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    await post(client, burst("alarms"))
    crisis = await only_crisis(client)
    await ok(client.post(f"/v1/crises/{crisis['id']}/resolve"))

    for wrong, field, change in BAD_REVIEWS:
        answer = await client.put(f"/v1/crises/{crisis['id']}/review", json={**REVIEW, **change})

        assert answer.status_code == 422, (wrong, answer.text)
        assert answer.json()["error"]["problems"][0]["location"].startswith(f"body.{field}"), (wrong, answer.text)
    assert await statuses(client, crisis) == ["resolved"]


async def test_a_review_reviews_the_alerts_and_measures_how_complaints_moved(
        stored: httpx.AsyncClient, clock: ManualClock) -> None:
    """Mentions at 50 every 5 minutes, then growing 30 % a bucket from 10:30 (over the limit
    from 10:45); the response starts at 11:00; they fall back to 50 by 11:25."""
    rising = [50.0] * 6 + [50 * 1.3 ** k for k in range(1, 7)]  # 10:00 .. 10:55
    await post(stored, events("mentions", rising))
    crisis = await only_crisis(stored)
    url = f"/v1/crises/{crisis['id']}"
    clock.set(T0.timestamp() + 60 * MINUTE)
    await ok(stored.put(f"{url}/roles/incident_commander", json={"name": "Ana Ruiz"}))
    await ok(stored.post(f"{url}/respond"))
    await post(stored, events("mentions", [150, 90, 60, 50, 50, 50, 50], start=60))  # 11:00 .. 11:30
    clock.set(T0.timestamp() + 90 * MINUTE)
    await ok(stored.post(f"{url}/resolve"))
    clock.set(T0.timestamp() + 24 * 60 * MINUTE)

    review = ReviewRead.model_validate(await ok(stored.put(f"{url}/review", json=REVIEW)))

    assert (review.reviewed_by, review.crisis_type, review.remedies) == (OWNER, "service_outage", ["apology", "refund"])
    assert review.impact.financial is not None and review.impact.financial.amount == 12000.5
    [mentions] = review.movement
    assert (mentions.signal, mentions.response_started_at, mentions.before_buckets) == (
        "mentions", rfc3339(60), 7)  # the run-up: from the last calm bucket (10:25) to 10:55
    assert mentions.doubling_hours == pytest.approx(0.23, abs=0.03)  # 30 % every 5 minutes, in log(1 + x)
    assert mentions.verdict == "recovered" and mentions.observed == 50
    assert mentions.projected is not None and mentions.projected > 10 * mentions.observed  # where it was heading
    assert await statuses(stored, crisis) == ["reviewed"]
    kept = await ok(stored.get(f"{url}/review"))
    assert kept == review.model_dump(mode="json")
    after = await only_crisis(stored)
    assert (after["status"], after["crisis_type"], after["type_source"]) == ("reviewed", "service_outage", "operator")
    assert after["review"] == kept


async def test_a_review_can_be_revised(stored: httpx.AsyncClient) -> None:
    await post(stored, burst("alarms"))
    crisis = await only_crisis(stored)
    await ok(stored.post(f"/v1/crises/{crisis['id']}/resolve"))
    await ok(stored.put(f"/v1/crises/{crisis['id']}/review", json=REVIEW))

    revised = await ok(stored.put(f"/v1/crises/{crisis['id']}/review", json={**REVIEW, "lessons": ["Rotate certs"]}))

    assert revised["lessons"] == ["Rotate certs"]
    # resolved at 10:00 on the test clock, before any of the alarms' buckets had closed: nothing to fit
    assert [m["verdict"] for m in revised["movement"]] == ["not_enough_data"]
    assert await statuses(stored, crisis) == ["reviewed"]


# -- documentation --------------------------------------------------------------------------------


async def test_the_served_examples_are_valid(client: httpx.AsyncClient) -> None:
    schemas = (await ok(client.get("/openapi.json")))["components"]["schemas"]
    models: list[Any] = [CrisisRead, CrisisDetail, CrisisPage, CrisisConflictBody, ReviewRequest, CrisisRoleRequest,
                         CrisisTypeRequest]

    for model in models:
        examples = schemas[model.__name__]["examples"]
        assert examples, model.__name__
        for example in examples:
            model.model_validate(example)


async def test_the_documented_review_is_accepted(client: httpx.AsyncClient) -> None:
    schemas = (await ok(client.get("/openapi.json")))["components"]["schemas"]
    await post(client, burst("alarms"))
    crisis = await only_crisis(client)
    await ok(client.post(f"/v1/crises/{crisis['id']}/resolve"))

    review = await ok(client.put(f"/v1/crises/{crisis['id']}/review", json=schemas["ReviewRequest"]["examples"][0]))

    assert review["impact"]["customers_lost"] == 40
