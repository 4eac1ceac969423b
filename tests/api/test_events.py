"""``POST /v1/events``: one event or an array, answered after everything is stored."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.api.support import SIGNALS, alarm, alerts, client_for, database, running, sample, surge
from warning.errors import StorageError

NOTHING = {"accepted": 0, "duplicates": [], "rejected": []}


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("/v1/events", json=body)


# -- accepted ---------------------------------------------------------------------------------


async def test_a_single_event_object_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post(client, alarm(0, 3, id="evt-1"))

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": [], "rejected": []}


async def test_an_array_of_events_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post(client, [alarm(0, 3), alarm(1, 4), alarm(2, 5, entity="claims")])

    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": [], "rejected": []}


async def test_an_empty_array_accepts_nothing(client: httpx.AsyncClient) -> None:
    response = await post(client, [])

    assert (response.status_code, response.json()) == (202, NOTHING)


async def test_accepted_events_raise_their_alert(client: httpx.AsyncClient) -> None:
    await post(client, surge())

    [alert] = await alerts(client)
    assert {k: alert[k] for k in ("kind", "rule", "signal", "entity", "severity", "status", "raised_at",
                                  "last_seen_at", "response_due_at", "version")} == {
        "kind": "threshold", "rule": "alarms.threshold", "signal": "alarms", "entity": "policy-system",
        "severity": "moderate", "status": "open", "raised_at": "2026-11-20T10:25:00Z",
        "last_seen_at": "2026-11-20T10:30:00Z", "response_due_at": "2026-11-20T16:25:00Z", "version": 2,
    }
    assert alert["evidence"] == {"limit": 10.0, "direction": "above", "observed": [20.0, 20.0], "buckets": 3}


# -- rejected and duplicates --------------------------------------------------------------------


async def test_rejected_events_are_answered_by_index_with_their_reason(client: httpx.AsyncClient) -> None:
    body = [
        alarm(0, 3),
        {"ts": "2026-11-20T10:00:00Z", "signal": "alarms", "entity": "policy-system"},
        alarm(1, -1),
        {**alarm(2, 3), "signal": "weather"},
        [alarm(2, 3)],
        {**alarm(3, 3), "ts": "2026-11-20T10:03:00"},
        {**alarm(4, 3), "colour": "red"},
        alarm(5, 3),
    ]

    response = await post(client, body)

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": [], "rejected": [
        {"index": 1, "kind": "invalid", "reason": "missing field 'value'"},
        {"index": 2, "kind": "invalid", "reason": "value of a count signal (alarms) must be >= 0, got -1"},
        {"index": 3, "kind": "invalid",
         "reason": "unknown signal 'weather'; configured signals: alarms, mentions, satisfaction"},
        {"index": 4, "kind": "invalid", "reason": "an event must be a JSON object, got an array"},
        {"index": 5, "kind": "invalid",
         "reason": "ts needs a UTC offset, 'Z' or '+hh:mm': '2026-11-20T10:03:00'"},
        {"index": 6, "kind": "invalid", "reason": "unknown field 'colour'; allowed fields: count, entity, id, "
                                                  "labels, signal, total, ts, value"},
    ]}


@pytest.mark.parametrize("item", [
    pytest.param("not an event", id="a string"),
    pytest.param(orjson.dumps(alarm(0, 3)).decode(), id="a string holding an event's JSON"),
])
async def test_a_string_in_the_array_is_not_an_event(client: httpx.AsyncClient, item: str) -> None:
    """The body is decoded once: a string element is a string, never a line to decode again."""
    response = await post(client, [item])

    assert response.json() == {"accepted": 0, "duplicates": [], "rejected": [
        {"index": 0, "kind": "invalid", "reason": "an event must be a JSON object, got a string"}]}


async def test_a_late_event_is_answered_as_late(client: httpx.AsyncClient) -> None:
    await post(client, [alarm(0, 3), alarm(30, 3)])

    response = await post(client, [alarm(31, 3), alarm(1, 50, id="evt-late")])

    assert response.json() == {"accepted": 1, "duplicates": [], "rejected": [{
        "index": 1, "kind": "late",
        "reason": "late: its bucket 2026-11-20T10:00:00Z closed when the series reached 2026-11-20T10:31:00Z "
                  "(allowed lateness 300 s)",
    }]}


async def test_an_event_late_against_an_earlier_one_of_its_own_batch_is_late(client: httpx.AsyncClient) -> None:
    response = await post(client, [alarm(0, 3), alarm(30, 3), alarm(1, 3)])

    assert response.json()["accepted"] == 2
    assert [(r["index"], r["kind"]) for r in response.json()["rejected"]] == [(2, "late")]


async def test_a_late_event_can_be_sent_again_and_is_late_again(client: httpx.AsyncClient) -> None:
    await post(client, [alarm(0, 3), alarm(30, 3)])
    await post(client, alarm(1, 3, id="evt-late"))

    response = await post(client, alarm(1, 3, id="evt-late"))

    assert [r["kind"] for r in response.json()["rejected"]] == ["late"]
    assert response.json()["duplicates"] == []


async def test_an_id_repeated_within_a_batch_is_a_duplicate(client: httpx.AsyncClient) -> None:
    response = await post(client, [alarm(0, 3, id="a"), alarm(1, 4, id="b"), alarm(2, 5, id="a")])

    assert response.json() == {"accepted": 2, "duplicates": [2], "rejected": []}


async def test_a_rejected_event_does_not_reserve_its_id(client: httpx.AsyncClient) -> None:
    await post(client, {**alarm(0, -5), "id": "evt-fixed-later"})

    response = await post(client, alarm(0, 5, id="evt-fixed-later"))

    assert response.json() == {"accepted": 1, "duplicates": [], "rejected": []}


async def test_a_batch_with_bad_events_keeps_the_good_ones(app: FastAPI, client: httpx.AsyncClient) -> None:
    good = surge()
    bad_ts = {"ts": "yesterday", "signal": "alarms", "entity": "policy-system", "value": 1}
    body: list[Any] = [*good[:3], bad_ts, *good[3:], 17, {**alarm(3, 2), "value": "NaN"}]

    response = await post(client, body)

    assert response.json()["accepted"] == len(good)
    assert [r["index"] for r in response.json()["rejected"]] == [3, 9, 10]
    [alert] = await alerts(client)
    assert (alert["entity"], alert["raised_at"]) == ("policy-system", "2026-11-20T10:25:00Z")
    letters = sorted(database(app).dead_letters(), key=lambda d: d["id"])
    assert [(d["kind"], d["reason"], d["source"], d["raw"]) for d in letters] == [
        ("invalid", "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: 'yesterday'", "http:127.0.0.1[3]",
         '{"ts":"yesterday","signal":"alarms","entity":"policy-system","value":1}'),
        ("invalid", "an event must be a JSON object, got a number", "http:127.0.0.1[9]", "17"),
        ("invalid", "value must be a number, got a string", "http:127.0.0.1[10]",
         '{"ts":"2026-11-20T10:03:00Z","signal":"alarms","entity":"policy-system","value":"NaN"}'),
    ]


async def test_a_late_event_is_dead_lettered_with_its_reason(app: FastAPI, client: httpx.AsyncClient) -> None:
    await post(client, [alarm(0, 3), alarm(30, 3)])

    await post(client, alarm(1, 50, id="evt-late"))

    [letter] = database(app).dead_letters()
    assert (letter["kind"], letter["source"]) == ("late", "http:127.0.0.1[0]")
    assert letter["reason"].startswith("late: its bucket 2026-11-20T10:00:00Z closed")
    assert orjson.loads(letter["raw"]) == {"id": "evt-late", "ts": "2026-11-20T10:01:00Z", "signal": "alarms",
                                           "entity": "policy-system", "value": 50.0}


async def test_a_retried_batch_is_all_duplicates_and_nothing_is_counted_twice(
    app: FastAPI, client: httpx.AsyncClient,
) -> None:
    batch = surge()
    first = await post(client, batch)
    stored = await alerts(client)
    buckets = database(app).buckets("alarms", "policy-system")

    retry = await post(client, batch)

    assert first.json() == {"accepted": 8, "duplicates": [], "rejected": []}
    assert retry.json() == {"accepted": 0, "duplicates": list(range(8)), "rejected": []}
    assert await alerts(client) == stored
    assert database(app).buckets("alarms", "policy-system") == buckets
    metrics = (await client.get("/metrics")).text
    assert sample(metrics, "tocsin_ingest_events_total", source="http", outcome="accepted") == 8
    assert sample(metrics, "tocsin_ingest_events_total", source="http", outcome="duplicate") == 8
    assert sample(metrics, "tocsin_alerts_raised_total", kind="threshold", severity="moderate") == 1


# -- bodies that cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    pytest.param(b"this is not json", id="text"),
    pytest.param(b"", id="empty"),
    pytest.param(b'[{"ts": "2026-11-20T10:00:00Z",', id="truncated"),
    pytest.param(b"\xff\xfe\x00", id="not utf-8"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z"}\n{"ts": "2026-11-20T10:05:00Z"}', id="JSON lines"),
])
async def test_a_body_that_is_not_json_is_a_bad_request(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "bad_request"
    assert response.json()["error"]["message"].startswith("the body is not valid JSON")


@pytest.mark.parametrize("body", [
    pytest.param("42", id="number"),
    pytest.param('"an event"', id="string"),
    pytest.param("null", id="null"),
    pytest.param("true", id="boolean"),
])
async def test_a_json_scalar_is_a_bad_request(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"error": {"type": "bad_request",
                                         "message": "the body must be an event object or an array of events"}}


# -- body size ------------------------------------------------------------------------------------


LIMIT = 300


@pytest.fixture
async def small_app(make_settings: Any) -> AsyncIterator[FastAPI]:
    async with running(make_settings(signals=SIGNALS, max_body_bytes=LIMIT)) as app:
        yield app


def body_of(size: int) -> bytes:
    """A valid one-event body of exactly ``size`` bytes (padded with JSON whitespace)."""
    body = orjson.dumps(alarm(0, 3, id="evt-sized"))
    assert len(body) <= size
    return body + b" " * (size - len(body))


async def chunks(body: bytes, size: int = 64) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i:i + size]


@pytest.mark.parametrize("send", [
    pytest.param(lambda body: {"content": body}, id="with Content-Length"),
    pytest.param(lambda body: {"content": chunks(body)}, id="streamed without Content-Length"),
])
async def test_a_body_over_max_body_bytes_is_too_large(
    small_app: FastAPI, send: Callable[[bytes], dict[str, Any]],
) -> None:
    async with client_for(small_app) as client:
        response = await client.post("/v1/events", **send(body_of(LIMIT + 1)))
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "payload_too_large"
        assert str(LIMIT) in response.json()["error"]["message"]
        metrics = (await client.get("/metrics")).text

    assert database(small_app).known_ids(["evt-sized"]) == set()
    assert sample(metrics, "tocsin_ingest_events_total", source="http", outcome="accepted") == 0


@pytest.mark.parametrize("send", [
    pytest.param(lambda body: {"content": body}, id="with Content-Length"),
    pytest.param(lambda body: {"content": chunks(body)}, id="streamed without Content-Length"),
])
async def test_a_body_of_exactly_max_body_bytes_is_accepted(
    small_app: FastAPI, send: Callable[[bytes], dict[str, Any]],
) -> None:
    async with client_for(small_app) as client:
        response = await client.post("/v1/events", **send(body_of(LIMIT)))

    assert (response.status_code, response.json()) == (202, {"accepted": 1, "duplicates": [], "rejected": []})


async def test_a_false_content_length_cannot_smuggle_a_large_body(small_app: FastAPI) -> None:
    async with client_for(small_app) as client:
        response = await client.post("/v1/events", content=chunks(body_of(LIMIT * 3)),
                                     headers={"content-length": "10"})

    assert response.status_code in (400, 413)
    assert database(small_app).known_ids(["evt-sized"]) == set()


# -- storage failure -------------------------------------------------------------------------------


def fail_by_raising(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Database.record`` raises once."""
    db = database(app)
    real = db.record
    calls = []

    def record(**batch: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise StorageError("could not store the batch: OperationalError: database is locked")
        real(**batch)

    monkeypatch.setattr(db, "record", record)


def fail_in_the_database(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses the batch's last write once, after the others went through."""
    engine = database(app).engine
    failed: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not failed and statement.startswith("INSERT INTO series_snapshots"):
            failed.append(statement)
            raise OperationalError(statement, None, Exception("disk I/O error"))

    event.listen(engine, "before_cursor_execute", before)


@pytest.mark.parametrize("fail", [
    pytest.param(fail_by_raising, id="record raises StorageError"),
    pytest.param(fail_in_the_database, id="the database refuses the last write"),
])
async def test_a_storage_failure_answers_503_and_a_retry_gives_the_uninterrupted_result(
    app: FastAPI, client: httpx.AsyncClient, make_settings: Any, tmp_path: Path,
    fail: Callable[[FastAPI, pytest.MonkeyPatch], None], monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = surge()[:5]
    second = [*surge()[5:], *surge("claims"), {"ts": "2026-11-20T10:00:00Z"}]
    await post(client, first)
    committed = app.state.ingest.committed().pipeline.snapshot()

    fail(app, monkeypatch)
    failed = await post(client, second)

    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "storage_unavailable"
    ingest = app.state.ingest
    assert ingest.pipeline.snapshot() == committed == ingest.committed().pipeline.snapshot()
    assert ("alarms", "claims") not in ingest.pipeline.series
    assert await alerts(client) == []
    assert database(app).dead_letters() == []

    retried = await post(client, second)

    uninterrupted = make_settings(signals=SIGNALS, data_dir=tmp_path / "uninterrupted")
    async with running(uninterrupted) as reference, client_for(reference) as ref:
        await post(ref, first)
        expected = await post(ref, second)
        assert retried.status_code == 202
        assert retried.json() == expected.json()
        assert await alerts(client) == await alerts(ref)
        assert ingest.pipeline.snapshot() == reference.state.ingest.pipeline.snapshot()
        ours, theirs = (await client.get("/metrics")).text, (await ref.get("/metrics")).text
    assert len(await alerts(client)) == 2
    assert sample(ours, "tocsin_storage_errors_total") == 1
    for outcome in ("accepted", "invalid", "duplicate", "late"):
        assert sample(ours, "tocsin_ingest_events_total", source="http", outcome=outcome) == \
            sample(theirs, "tocsin_ingest_events_total", source="http", outcome=outcome)


class Outage:
    """The database goes down (every statement fails) from a chosen statement on, until ``end()``."""

    def __init__(self, app: FastAPI, starts_at: str) -> None:
        self.starts_at, self.down = starts_at, False
        event.listen(database(app).engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(self.starts_at):
            self.down = True
        if self.down:
            raise OperationalError(statement, None, Exception("server closed the connection unexpectedly"))

    def end(self) -> None:
        self.down = False
        self.starts_at = "never"


@pytest.mark.parametrize("starts_at", [
    pytest.param("SELECT seen_event_ids.id", id="down before the batch (id lookup)"),
    pytest.param("INSERT INTO series_snapshots", id="down in the middle of the write"),
])
async def test_a_database_outage_answers_503_and_after_it_a_retry_gives_the_uninterrupted_result(
    app: FastAPI, client: httpx.AsyncClient, make_settings: Any, tmp_path: Path, starts_at: str,
) -> None:
    first = surge()[:5]
    second = [*surge()[5:], *surge("claims")]
    await post(client, first)

    outage = Outage(app, starts_at)
    failed = await post(client, second)
    outage.end()
    retried = await post(client, second)

    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "storage_unavailable"
    uninterrupted = make_settings(signals=SIGNALS, data_dir=tmp_path / "uninterrupted")
    async with running(uninterrupted) as reference, client_for(reference) as ref:
        await post(ref, first)
        expected = await post(ref, second)
        assert (retried.status_code, retried.json()) == (202, expected.json())
        assert await alerts(client) == await alerts(ref)
        assert app.state.ingest.pipeline.snapshot() == reference.state.ingest.pipeline.snapshot()


async def test_concurrent_copies_of_a_batch_are_accepted_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    batch = surge()

    receipts = await asyncio.gather(*(post(client, batch) for _ in range(4)))

    assert sorted(r.json()["accepted"] for r in receipts) == [0, 0, 0, 8]
    assert sorted(len(r.json()["duplicates"]) for r in receipts) == [0, 8, 8, 8]
    [alert] = await alerts(client)
    assert alert["version"] == 2


async def test_a_crash_in_the_pipeline_leaves_memory_as_committed(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any failure between taking a batch and storing it, not only the database's."""
    await post(client, surge()[:5])
    ingest = app.state.ingest
    committed = ingest.committed().pipeline.snapshot()
    pipeline = ingest.pipeline
    real = pipeline.process

    def crash_after_processing(events: Any) -> Any:
        real(events)
        raise RuntimeError("a detector bug")

    monkeypatch.setattr(pipeline, "process", crash_after_processing)
    with pytest.raises(RuntimeError, match="a detector bug"):
        await post(client, [*surge()[5:], *surge("claims")])

    assert ingest.pipeline.snapshot() == committed == ingest.committed().pipeline.snapshot()


async def test_a_failed_retention_run_does_not_fail_the_batch(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def prune(now: Any = None) -> tuple[int, int]:
        raise StorageError("could not apply the retention: OperationalError: database is locked")

    monkeypatch.setattr(database(app), "prune", prune)
    app.state.ingest._pruned_at = float("-inf")  # retention is due

    response = await post(client, alarm(0, 3, id="evt-1"))

    assert (response.status_code, response.json()) == (202, {"accepted": 1, "duplicates": [], "rejected": []})
    assert database(app).known_ids(["evt-1"]) == {"evt-1"}
