"""Webhook delivery: outbox throughput, and the time from an alert to its first delivery attempt.

What is measured
    The service in-process (``create_app`` with its lifespan: the outbox tick and the
    dispatcher run as they do live, on wall time, SQLite in a temporary directory) and a
    receiver in a separate process (asyncio, HTTP/1.1 keep-alive, answers 204), so the two
    do not share a GIL.

    Throughput: ``--notices`` raised alerts are stored at once (their notices due now) for
    ``--subscribers`` subscriptions; the clock starts when the outbox tick queues their
    deliveries and stops when none is pending. Notices delivered per second counts each
    (notice, subscriber) pair once, all answered 2xx and recorded.

    Latency: ``--alerts`` times, one alert raised over ``POST /v1/events`` (the event that
    closes the second bucket over the limit); the latency is the first attempt's start
    (recorded by the dispatcher, on the same wall clock) minus the moment the POST was sent.
    It includes the wait for the outbox tick, so it depends on ``--tick``
    (``clock_tick_seconds``, 5 s by default): a notice waits half a tick on average.

    .venv/bin/python benchmarks/webhook_delivery.py
    .venv/bin/python benchmarks/webhook_delivery.py --tick 0.1
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from detectors.base import Severity
from warning.access import Scope
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.settings import load_settings
from warning.storage import subscriptions as store
from warning.storage.database import utc
from warning.storage.models import DeliveryAttemptRow, DeliveryRow
from warning.storage.notices import scheduler
from warning.subscriptions import Filters

SIGNALS: dict[str, Any] = {"alarms": {"detectors": [{"kind": "threshold", "limit": 10, "for_buckets": 2}]}}


def serve(port: Any) -> None:
    """The receiver process: answers every POST with 204."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]
        await server.serve_forever()

    asyncio.run(main())


def pending(db: Any) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(DeliveryRow.state == "pending")).scalar_one())


async def throughput(app: Any, url: str, notices: int, subscribers: int) -> float:
    db = app.state.database
    now = time.time()
    for i in range(subscribers):
        store.create(db, url=f"{url}/t{i}", filters=Filters(), description=None, actor="bench", now=utc(now))
    base = Alert(id="", kind="threshold", rule="alarms.threshold", signal="alarms", entity="", severity=Severity.moderate,
                 status=AlertStatus.open, raised_at=now, last_seen_at=now, response_due_at=now + 6 * 3600,
                 message="over the limit", evidence={"limit": 10}, strength=1.0)
    changes = [AlertChange(dataclasses.replace(base, id=f"alr_bench{i:06d}", entity=f"e{i}"), ChangeReason.raised, now)
               for i in range(notices)]
    db.record(changes=changes, extra=scheduler(changes, (3.0, 5.0)))
    started = time.perf_counter()
    await asyncio.to_thread(app.state.outbox.tick)
    while pending(db):
        await asyncio.sleep(0.05)
    return notices * subscribers / (time.perf_counter() - started)


async def latencies(app: Any, client: httpx.AsyncClient, alerts: int, tick: float) -> list[float]:
    db = app.state.database
    for s in store.list_all(db):  # only this part's subscriber from here on
        store.update_subscription(db, s.id, now=utc(time.time()), enabled=False)
    store.create(db, url=app.state.bench_url + "/latency", filters=Filters(event_types=("alert.raised",)),
                 description=None, actor="bench", now=utc(time.time()))
    out = []
    t0 = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    rng = random.Random(5)
    for i in range(alerts):
        entity = f"latency-{i}"
        await asyncio.sleep(rng.uniform(0, tick))  # alerts come at any moment of the tick, not just after one
        # Two 5-minute buckets over the limit; the last event closes the second one (5 minutes
        # of lateness after its end): the alert is raised by that request.
        points = [(1, 2), (6, 20), (11, 20), (21, 2)]
        events = [{"id": f"{entity}-{m}", "ts": (t0 + dt.timedelta(minutes=m)).isoformat(), "signal": "alarms",
                   "entity": entity, "value": v} for m, v in points]
        await client.post("/v1/events", json=events[:-1])
        sent = time.time()
        answer = await client.post("/v1/events", json=events[-1:])
        assert answer.status_code == 202, answer.text
        [alert] = (await client.get("/v1/alerts", params={"entity": entity})).json()["items"]
        query = (select(func.min(DeliveryAttemptRow.at))
                 .join(DeliveryRow, DeliveryRow.id == DeliveryAttemptRow.delivery_id)
                 .where(DeliveryRow.alert_id == alert["id"]))
        while True:
            with db.engine.connect() as conn:
                first = conn.execute(query).scalar()
            if first is not None:
                break
            await asyncio.sleep(0.005)
        at = first if isinstance(first, dt.datetime) else dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
        out.append(at.timestamp() - sent)
    return out


async def run(args: argparse.Namespace, url: str) -> None:
    data = Path(tempfile.mkdtemp(prefix="tocsin-webhook-bench-"))
    settings = load_settings(None, data_dir=data, signals=SIGNALS, webhook_allow_private=True,
                             clock_tick_seconds=args.tick)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.bench_url = url
        key = app.state.keys.create(name="bench", scopes=[Scope.admin], created_by="bench", now=dt.datetime.now(dt.UTC))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin.bench",
                                     headers={"Authorization": f"Bearer {key.secret}"}) as client:
            rate = await throughput(app, url, args.notices, args.subscribers)
            print(f"outbox throughput: {rate:,.0f} notices delivered/s "
                  f"({args.notices} notices x {args.subscribers} subscribers)")
            found = await latencies(app, client, args.alerts, args.tick)
    found.sort()
    p99 = found[min(len(found) - 1, round(0.99 * (len(found) - 1)))]
    print(f"alert -> first delivery attempt (tick {args.tick:g} s, {len(found)} alerts): "
          f"median {statistics.median(found) * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, max {found[-1] * 1000:,.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--alerts", type=int, default=30)
    parser.add_argument("--tick", type=float, default=5.0, help="clock_tick_seconds (the service default: 5)")
    args = parser.parse_args()
    port = mp.Value("i", 0)
    receiver = mp.get_context("fork").Process(target=serve, args=(port,), daemon=True)
    receiver.start()
    try:
        while not port.value:
            time.sleep(0.01)
        asyncio.run(run(args, f"http://127.0.0.1:{port.value}"))
    finally:
        receiver.terminate()


if __name__ == "__main__":
    main()
