"""The live ingest's journal: between checkpoints of series state, accepted batches are kept as
events, and the committed state (snapshots, then the journal replayed) is what a restart and a
failed commit rebuild memory from (ingest/live.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.api.support import SIGNALS, alarm, alerts, client_for, database, running, surge

HOURLY = 3600.0


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    return response


def later(prefix: str = "later") -> list[dict[str, Any]]:
    """The policy-system alarms go on calmly after surge(), then over the limit again."""
    values = [2, 2, 20, 20, 20, 2, 2]
    return [alarm(40 + 5 * i, v, id=f"{prefix}-{i}") for i, v in enumerate(values)]


async def uninterrupted(make_settings: Any, tmp_path: Path, *batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    settings = make_settings(signals=SIGNALS, data_dir=tmp_path / "uninterrupted")
    async with running(settings) as app, client_for(app) as client:
        for batch in batches:
            await post(client, batch)
        return await alerts(client)


async def test_batches_between_checkpoints_are_journaled_and_replayed_at_restart(
    make_settings: Any, tmp_path: Path,
) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    events = surge()
    async with running(settings) as app, client_for(app) as client:
        await post(client, events[:2])  # creates the series: a checkpoint
        checkpoint = database(app).load_snapshots()
        for one in events[2:]:
            await post(client, [one])
        journal = database(app).load_journal()
        memory = app.state.ingest.pipeline.snapshot()
        assert database(app).load_snapshots() == checkpoint != memory  # not rewritten per batch
        app.state.ingest.close = lambda: None  # as if killed: no checkpoint at shutdown
    assert [seq for seq, _ in journal] == [1, 2, 3, 4, 5, 6]

    async with running(settings) as app, client_for(app) as client:
        assert app.state.ingest.pipeline.snapshot() == memory
        await post(client, later())
        restarted = await alerts(client)

    assert restarted == await uninterrupted(make_settings, tmp_path, events, later())
    [alert] = restarted  # the refire updated the alert raised before the restart: memory knew it
    assert alert["version"] > 2


async def test_a_checkpoint_is_due_after_checkpoint_events_and_empties_the_journal(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY, ingest_checkpoint_events=3)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])  # a checkpoint: new series
        await post(client, surge()[2:4])  # journaled: 2 events
        assert len(database(app).load_journal()) == 1
        await post(client, surge()[4:5])  # 3 events since the checkpoint: a checkpoint
        assert database(app).load_journal() == []
        assert database(app).load_snapshots() == app.state.ingest.pipeline.snapshot()


async def test_every_batch_is_a_checkpoint_with_an_interval_of_zero(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=0)
    async with running(settings) as app, client_for(app) as client:
        for one in surge():
            await post(client, [one])
            assert database(app).load_journal() == []
            assert database(app).load_snapshots() == app.state.ingest.pipeline.snapshot()


async def test_an_operators_move_is_committed_with_a_checkpoint(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])
        await post(client, surge()[2:])  # raises the alert; journaled
        [alert] = await alerts(client)
        assert len(database(app).load_journal()) == 1

        answer = await client.post(f"/v1/alerts/{alert['id']}/resolve", json={"comment": "fixed"})

        assert answer.status_code == 200, answer.text
        assert database(app).load_journal() == []
        memory = app.state.ingest.pipeline.snapshot()
        assert database(app).load_snapshots() == memory

    async with running(settings) as app, client_for(app) as client:
        assert app.state.ingest.pipeline.snapshot() == memory
        await post(client, later())
        resolved, raised = sorted(await alerts(client), key=lambda a: a["raised_at"])
    assert (resolved["id"], resolved["status"]) == (alert["id"], "resolved")
    assert raised["id"] != alert["id"] and raised["status"] == "open"  # a new alert, not the resolved one


@pytest.mark.parametrize("statement", ["INSERT INTO alerts", "INSERT INTO ingest_journal"])
async def test_a_failed_journaled_batch_leaves_memory_as_committed_and_a_retry_gives_the_uninterrupted_result(
    make_settings: Any, tmp_path: Path, statement: str,
) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    first, second = surge()[:4], surge()[4:]
    async with running(settings) as app, client_for(app) as client:
        await post(client, first[:2])
        await post(client, first[2:])  # journaled
        committed = app.state.ingest.pipeline.snapshot()
        failed: list[str] = []

        def refuse_once(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
            if not failed and sql.startswith(statement):
                failed.append(sql)
                raise OperationalError(sql, None, Exception("disk I/O error"))

        event.listen(database(app).engine, "before_cursor_execute", refuse_once)
        refused = await client.post("/v1/events", json=second)

        assert failed and refused.status_code == 503
        assert app.state.ingest.pipeline.snapshot() == committed == app.state.ingest.committed().pipeline.snapshot()
        assert len(database(app).load_journal()) == 1
        await post(client, second)
        retried = await alerts(client)

    assert retried == await uninterrupted(make_settings, tmp_path, first, second)
    assert len(retried) == 1


async def test_a_journaled_batchs_buckets_and_ids_are_staged_and_seen_before_the_checkpoint(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])
        await post(client, surge()[2:])  # journaled: closes five buckets, accepts six ids
        db = database(app)
        with db.engine.connect() as conn:
            stored_ids = conn.exec_driver_sql("SELECT count(*) FROM seen_event_ids").scalar()
            stored_buckets = conn.exec_driver_sql("SELECT count(*) FROM buckets").scalar()
        assert (stored_ids, stored_buckets) == (2, 0)  # the first batch's ids; it closed no bucket

        again = (await client.post("/v1/events", json=surge())).json()
        assert again == {"accepted": 0, "duplicates": list(range(8)), "rejected": []}

        page = (await client.get("/v1/entities", params={"points": 10})).json()  # writes what is staged
        [entity] = page["items"]
        [signal] = entity["signals"]
        assert signal["recent"] == [2, 2, 2, 20, 20, 20]  # the buckets up to 10:25; 10:30 and 10:35 are open
        assert len(db.buckets("alarms", "policy-system")) == 6
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM seen_event_ids").scalar() == 8


async def test_a_shutdown_checkpoints_so_the_next_start_replays_nothing(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])
        await post(client, surge()[2:])
        assert database(app).load_journal() != []
        memory = app.state.ingest.pipeline.snapshot()
        db = database(app)

    assert db.load_journal() == [] and db.load_snapshots() == memory
    assert len(db.buckets("alarms", "policy-system")) == 6
    assert db.known_ids([f"evt-policy-system-{i}" for i in range(8)]) == {f"evt-policy-system-{i}" for i in range(8)}


@pytest.mark.parametrize("journaled", [
    pytest.param([{k: v for k, v in e.items() if k != "id"} for e in surge()[2:]], id="buckets staged, no id"),
    pytest.param([alarm(6, 2, id="evt-a"), alarm(7, 2, id="evt-b")], id="ids staged, no bucket closed"),
])
async def test_reads_of_buckets_work_with_only_one_kind_staged(make_settings: Any, journaled: list[dict[str, Any]]) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=HOURLY)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])
        await post(client, journaled)

        page = await client.get("/v1/entities")

        assert page.status_code == 200, page.text
        [signal] = page.json()["items"][0]["signals"]
        assert signal["recent"] == [b.value for b in database(app).buckets("alarms", "policy-system")]


async def test_a_quiet_feed_is_checkpointed_by_the_timer(make_settings: Any) -> None:
    settings = make_settings(signals=SIGNALS, ingest_checkpoint_seconds=2.0)
    async with running(settings) as app, client_for(app) as client:
        await post(client, surge()[:2])
        await post(client, surge()[2:])  # within 2 s of the first: journaled
        assert database(app).load_journal() != []

        await asyncio.sleep(4.5)  # no batch comes; the timer's second round at the latest

        assert database(app).load_journal() == []
        assert database(app).load_snapshots() == app.state.ingest.pipeline.snapshot()
