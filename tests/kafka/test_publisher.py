"""``ingest_mode = "kafka"``: the HTTP API validates and publishes, the workers detect."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from kafka import KafkaConsumer

from tests.api.support import client_for, running, surge
from tests.kafka.conftest import Broker
from warning.settings import Settings


async def test_http_events_are_published_keyed_by_entity_and_invalid_ones_answered(
        broker: Broker, kafka_settings: Callable[..., Settings]) -> None:
    topic = broker.topic(3)
    settings = kafka_settings(topic, ingest_mode="kafka")
    events = surge("policy-system") + surge("claims", prefix="c")
    bad: dict[str, Any] = {"ts": "yesterday", "signal": "alarms", "entity": "x", "value": 1}

    async with running(settings) as app, client_for(app) as client:
        answer = await client.post("/v1/events", json=[*events, bad])
        assert answer.status_code == 202
        assert answer.json()["accepted"] == len(events)
        assert [r["index"] for r in answer.json()["rejected"]] == [len(events)]
        stored = (await client.get("/v1/alerts")).json()

    published = read_topic(broker, topic, len(events))
    assert sorted(orjson.loads(value)["id"] for _, value, _ in published) == sorted(e["id"] for e in events)
    partitions_of: dict[bytes, set[int]] = {}
    for key, _, partition in published:
        partitions_of.setdefault(key, set()).add(partition)
    assert set(partitions_of) == {b"policy-system", b"claims"}
    assert all(len(p) == 1 for p in partitions_of.values())  # one entity, one partition: its order kept
    assert stored["items"] == []  # nothing was processed in-process


def read_topic(broker: Broker, topic: str, count: int) -> list[tuple[bytes, bytes, int]]:
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    try:
        out = []
        for record in consumer:
            out.append((record.key, record.value, record.partition))
            if len(out) == count:
                break
        return out
    finally:
        consumer.close()
