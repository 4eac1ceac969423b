"""``GET /healthz``, ``GET /metrics`` and the OpenAPI document."""
from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from api.console.schemas import ClockRead, EntityPage, MeRead, SeriesRead
from api.crisis_schemas import CrisisChangeRead, ReviewRead
from api.routers.alertmanager import AlertmanagerReceipt
from api.schemas import AlertPage, AlertRead, ErrorBody, EventsReceipt, Health
from tests.api.support import alarm, sample, surge

ROUTES = {
    ("/v1/events", "post"), ("/v1/alerts", "get"), ("/v1/alerts/{alert_id}", "get"), ("/healthz", "get"),
    ("/metrics", "get"), ("/v1/alerts/{alert_id}/acknowledge", "post"), ("/v1/alerts/{alert_id}/respond", "post"),
    ("/v1/alerts/{alert_id}/resolve", "post"), ("/v1/alerts/{alert_id}/review", "post"),
    ("/v1/alerts/{alert_id}/roles/{role}", "put"), ("/v1/alerts/{alert_id}/roles/{role}", "delete"),
    ("/v1/alerts/{alert_id}/workflow", "get"), ("/v1/alerts/{alert_id}/timeline", "get"),
    ("/v1/keys", "post"), ("/v1/keys", "get"), ("/v1/keys/{key_id}", "delete"),
    ("/v1/me", "get"), ("/v1/console/clock", "get"), ("/v1/alerts/{alert_id}/series", "get"),
    ("/v1/entities", "get"), ("/v1/stream", "get"),
    ("/v1/crises", "get"), ("/v1/crises/{crisis_id}", "get"), ("/v1/crises/{crisis_id}/acknowledge", "post"),
    ("/v1/crises/{crisis_id}/respond", "post"), ("/v1/crises/{crisis_id}/resolve", "post"),
    ("/v1/crises/{crisis_id}/roles/{role}", "put"), ("/v1/crises/{crisis_id}/roles/{role}", "delete"),
    ("/v1/crises/{crisis_id}/type", "put"), ("/v1/crises/{crisis_id}/review", "put"),
    ("/v1/crises/{crisis_id}/review", "get"), ("/v1/ingest/alertmanager", "post"),
    ("/v1/subscriptions", "post"), ("/v1/subscriptions", "get"), ("/v1/subscriptions/{subscription_id}", "get"),
    ("/v1/subscriptions/{subscription_id}", "patch"), ("/v1/subscriptions/{subscription_id}", "delete"),
    ("/v1/subscriptions/{subscription_id}/rotate-secret", "post"),
    ("/v1/subscriptions/{subscription_id}/deliveries", "get"),
    ("/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver", "post"),
    ("/v1/subscriptions/{subscription_id}/test", "post"),
}


# -- /healthz -------------------------------------------------------------------------------------


async def test_healthz_is_ok_with_the_series_held(app: FastAPI, client: httpx.AsyncClient) -> None:
    empty = await client.get("/healthz")
    await client.post("/v1/events", json=[alarm(0, 1), alarm(0, 1, entity="claims")])

    response = await client.get("/healthz")

    assert (empty.status_code, empty.json()) == (200, {"status": "ok", "database": "ok", "series": 0})
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok", "series": 2})


async def test_healthz_is_unavailable_when_the_database_does_not_answer(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", None, Exception("connection refused"))

    monkeypatch.setattr(app.state.database, "ping", down)

    response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (
        503, {"status": "unavailable", "database": "OperationalError", "series": 0})


# -- /metrics -------------------------------------------------------------------------------------


async def test_metrics_count_events_by_outcome(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", json=[alarm(0, 1, id="a"), alarm(30, 1, id="b"), alarm(40, -1)])
    await client.post("/v1/events", json=[alarm(1, 1, id="c"), alarm(41, 1, id="a"), {"nope": 1}, "x"])

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts = {outcome: sample(response.text, "tocsin_ingest_events_total", source="http", outcome=outcome)
              for outcome in ("accepted", "duplicate", "invalid", "late")}
    assert counts == {"accepted": 2, "duplicate": 1, "invalid": 3, "late": 1}


async def test_metrics_exist_from_the_first_scrape(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    for source in ("http", "file"):
        for outcome in ("accepted", "duplicate", "invalid", "late"):
            assert sample(response.text, "tocsin_ingest_events_total", source=source, outcome=outcome) == 0
    assert sample(response.text, "tocsin_storage_errors_total") == 0
    assert sample(response.text, "tocsin_alerts_raised_total", kind="threshold", severity="severe") == 0


async def test_metrics_count_alert_changes(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", json=surge())

    text = (await client.get("/metrics")).text

    assert sample(text, "tocsin_alerts_changes_total", kind="threshold", reason="raised") == 1
    assert sample(text, "tocsin_alerts_changes_total", kind="threshold", reason="updated") == 1
    assert sample(text, "tocsin_alerts_raised_total", kind="threshold", severity="moderate") == 1
    assert sample(text, "tocsin_pipeline_series") == 1


async def test_each_app_counts_on_its_own_registry(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Two apps in one process (as in these tests) never share counters."""
    await client.post("/v1/events", json=alarm(0, 1))

    text = (await client.get("/metrics")).text

    assert sample(text, "tocsin_ingest_events_total", source="http", outcome="accepted") == 1


# -- OpenAPI --------------------------------------------------------------------------------------


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def has_example(doc: dict[str, Any], content: dict[str, Any]) -> bool:
    return any("example" in media or "examples" in media or "examples" in resolve(doc, media.get("schema", {}))
               for media in content.values())


async def test_openapi_lists_every_route(openapi: dict[str, Any]) -> None:
    routes = {(path, method) for path, ops in openapi["paths"].items() for method in ops}

    assert routes == ROUTES
    assert all(op.get("summary") for ops in openapi["paths"].values() for op in ops.values())


async def test_openapi_documents_the_events_body_with_examples(openapi: dict[str, Any]) -> None:
    body = openapi["paths"]["/v1/events"]["post"]["requestBody"]

    examples = body["content"]["application/json"]["examples"]
    assert set(examples) == {"one", "batch"}
    assert examples["one"]["value"]["signal"] == "mentions"
    assert len(examples["batch"]["value"]) == 2


async def test_the_documented_event_examples_are_accepted(
    openapi: dict[str, Any], client: httpx.AsyncClient,
) -> None:
    examples = openapi["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["examples"]

    one = await client.post("/v1/events", json=examples["one"]["value"])
    batch = await client.post("/v1/events", json=examples["batch"]["value"])

    assert one.json() == {"accepted": 1, "duplicates": [], "rejected": []}
    assert batch.json() == {"accepted": 1, "duplicates": [0], "rejected": []}


@pytest.mark.parametrize(("schema", "model"), [
    pytest.param("EventsReceipt", EventsReceipt, id="EventsReceipt"),
    pytest.param("AlertRead", AlertRead, id="AlertRead"),
    pytest.param("AlertPage", AlertPage, id="AlertPage"),
    pytest.param("Health", Health, id="Health"),
    pytest.param("ErrorBody", ErrorBody, id="ErrorBody"),
    *(pytest.param(model.__name__, model, id=model.__name__) for model in (
        CrisisChangeRead, ReviewRead, MeRead, ClockRead, SeriesRead, EntityPage, AlertmanagerReceipt)),
])
async def test_openapi_schemas_carry_valid_examples(openapi: dict[str, Any], schema: str, model: Any) -> None:
    examples = openapi["components"]["schemas"][schema]["examples"]

    assert len(examples) >= 1
    for example in examples:  # served without nulls: optional fields left unset default to None
        assert model.model_validate(example).model_dump(mode="json", exclude_none=True) == example


async def test_openapi_responses_refer_to_their_schemas(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]

    def ref(path: str, method: str, status: str) -> str:
        return str(paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"])

    assert ref("/v1/events", "post", "202") == "#/components/schemas/EventsReceipt"
    assert ref("/v1/alerts", "get", "200") == "#/components/schemas/AlertPage"
    assert ref("/v1/alerts/{alert_id}", "get", "200") == "#/components/schemas/AlertRead"
    assert ref("/healthz", "get", "200") == "#/components/schemas/Health"
    assert set(paths["/v1/events"]["post"]["responses"]) == {"202", "400", "401", "403", "413", "503"}
    assert "404" in paths["/v1/alerts/{alert_id}"]["get"]["responses"]


@pytest.mark.parametrize(("path", "method"), [pytest.param(p, m, id=f"{m.upper()} {p}") for p, m in sorted(ROUTES)])
async def test_every_documented_response_has_an_example(openapi: dict[str, Any], path: str, method: str) -> None:
    """Success and error answers alike, 422 included; an answer without a body (204) has nothing to show."""
    responses = openapi["paths"][path][method]["responses"]

    missing = [status for status, response in responses.items()
               if "content" in response and not has_example(openapi, response["content"])]

    assert missing == []
