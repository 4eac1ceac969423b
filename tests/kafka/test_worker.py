"""Workers against a real broker: same alerts as a replay, across rebalances, without loss;
and the workers' reading of fetched records, record for record kafka-python's own."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.record.util import calc_crc32c

from ingest.kafka.fetched import LeanPartitionRecords
from ingest.replay import replay
from tests.kafka.conftest import Broker, RunningWorker, caught_up, checkpointed, wait_until
from warning.settings import Settings
from warning.storage.database import Database


def replayed(events: list[dict[str, Any]], settings: Settings) -> dict[str, dict[str, Any]]:
    """What the replay core makes of the events, without its end-of-file flush (a stream does not end)."""
    result = replay([("test", orjson.dumps(e)) for e in events], settings, flush=False)
    return {a.id: a.to_json() for a in result.alerts.values()}


def stored(database: Database) -> dict[str, dict[str, Any]]:
    return {a.id: a.to_json() for a in database.all_alerts()}


def notices(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, type, due_at, cancelled_at FROM notices ORDER BY id")
        return [tuple(r) for r in rows]


def test_one_worker_over_six_partitions_raises_the_alerts_of_a_replay(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker],
        alarm_slice: list[dict[str, Any]]) -> None:
    topic = broker.topic(6)
    settings = kafka_settings(topic)
    ends = broker.produce(topic, alarm_slice)

    running = workers(settings)
    assert running.worker.consumer._fetcher.PartitionRecords is LeanPartitionRecords  # what these tests read with
    wait_until(caught_up(running.database, topic, ends), 60, "the worker to checkpoint every record")

    expected = replayed(alarm_slice, settings)
    assert len(expected) >= 2
    assert stored(running.database) == expected
    assert set(checkpointed(running.database, topic)) == set(range(6))

    # Lag is the high watermark of the fetch responses minus the position. (This Tansu build
    # answers ListOffsets with batch counts, but its fetch responses carry true offsets.)
    consumer = running.worker.consumer
    wait_until(lambda: all(consumer.highwater(TopicPartition(topic, p)) == end for p, end in ends.items()), 10,
               "the high watermarks to reach the produced ends")
    lag = running.worker.metrics.lag
    wait_until(lambda: all(lag.labels(topic, str(p))._value.get() == 0 for p in ends), 5, "no lag")


def test_workers_joining_and_leaving_lose_and_duplicate_no_alert(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker],
        alarm_slice: list[dict[str, Any]]) -> None:
    topic = broker.topic(6)
    settings = kafka_settings(topic)
    half = len(alarm_slice) // 2
    first, second = workers(settings), workers(settings)
    ends = broker.produce(topic, alarm_slice[:half])
    wait_until(lambda: len(first.worker.partitions) + len(second.worker.partitions) == 6, 30, "two workers to share")
    assert first.worker.partitions and second.worker.partitions

    third = workers(settings)
    wait_until(lambda: len(third.worker.partitions) > 0, 30, "the third worker to get partitions")
    ends = broker.produce(topic, alarm_slice[half:])
    first.stop()
    wait_until(caught_up(third.database, topic, ends), 60, "the remaining workers to checkpoint every record")

    expected = replayed(alarm_slice, settings)
    assert stored(third.database) == expected
    rebalances = sum(w.worker.metrics.rebalances._value.get() for w in (first, second, third))
    assert rebalances >= 5  # 2 joins, then a rebalance for the third and one for the leaver


def test_poison_records_go_to_the_dead_letter_topic_with_their_origin(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker]) -> None:
    topic = broker.topic(1)
    settings = kafka_settings(topic)
    good = {"ts": "2025-01-06T00:00:00Z", "signal": "alarms", "entity": "svc-1", "value": 1}
    huge = orjson.dumps({**good, "labels": {"note": "x" * 1_000_000}})
    ends = {0: 5}
    broker.send_raw(topic, [
        (b"svc-1", b"not json at all", []),
        (b"svc-1", orjson.dumps({"ts": "2025-01-06T00:00:00Z", "signal": "alarms"}), []),
        (b"svc-1", huge, []),
        (b"svc-1", orjson.dumps([good, {**good, "value": -3}]), []),
        (b"svc-1", orjson.dumps(good), []),
    ])

    running = workers(settings)
    wait_until(caught_up(running.database, topic, ends), 30, "the worker to get past the poison")
    letters = dead_letters(broker, settings.kafka_dead_letter_topic, 4)

    by_offset = {int(h["tocsin.source.offset"]): (h, value) for h, value in letters}
    assert sorted(by_offset) == [0, 1, 2, 3]
    assert by_offset[0][0]["tocsin.reason"].startswith("not valid JSON")
    assert "missing" in by_offset[1][0]["tocsin.reason"]
    assert by_offset[2][0]["tocsin.reason"].startswith(f"event is {len(huge)} bytes")
    assert int(by_offset[2][0]["tocsin.value_bytes"]) == len(huge)
    assert by_offset[3][0]["tocsin.source.index"] == "1"
    assert orjson.loads(by_offset[3][1])["value"] == -3
    for headers, _ in letters:
        assert headers["tocsin.source.topic"] == topic
        assert headers["tocsin.source.partition"] == "0"
        assert headers["tocsin.kind"] == "invalid"
    assert running.worker.metrics.dead_letters.labels("invalid")._value.get() == 4
    assert running.worker.metrics.shared.events.labels("kafka", "accepted")._value.get() == 2


def dead_letters(broker: Broker, topic: str, count: int) -> list[tuple[dict[str, str], bytes]]:
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    try:
        out = []
        for record in consumer:
            out.append(({k: v.decode() for k, v in record.headers}, record.value))
            if len(out) == count:
                break
        return out
    finally:
        consumer.close()


RawRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]  # key, value, headers


def record_batches() -> bytes:
    """Record batches of the shapes a fetch may return, back to back."""
    def batch(offset: int, compression: int, records: Sequence[RawRecord], skip_after: int = -1) -> bytes:
        builder = MemoryRecordsBuilder(2, compression, 1 << 22, offset=offset)
        for i, (key, value, headers) in enumerate(records):
            builder.append(1_736_000_000_000 + i * 70_000, key, value, headers)
            if i == skip_after:
                builder.skip(3)  # offsets a compaction removed
        builder.close()
        return bytes(builder.buffer())

    plain: list[RawRecord] = [(f"svc-{i}".encode(), orjson.dumps({"i": i, "pad": "x" * (i * 7 % 300)}), [])
                              for i in range(300)]
    odd: list[RawRecord] = [
        (None, b"{}", []), (b"k", None, []), (b"", b"", []),
        (b"k", b"v" * 20_000, [("ce_specversion", b"1.0"), ("ce_id", None), ("\u00e9", b"")]),
    ]
    return (batch(0, 0, plain, skip_after=150) + batch(303, 0, odd) + batch(307, 1, plain[:50])  # 1: gzip
            + batch(357, 0, plain[:3]))


def fetched(kind: type, data: bytes, fetch_offset: int, take: int | None = None) -> tuple[list[Any], int]:
    records = kind(fetch_offset, TopicPartition("t", 3), MemoryRecords(data))
    return records.take(take), records.next_fetch_offset


@pytest.mark.parametrize(("fetch_offset", "take"), [(0, None), (0, 100), (151, 7), (305, None), (320, 40)])
def test_lean_records_are_kafka_pythons_records(fetch_offset: int, take: int | None) -> None:
    data = record_batches()
    lean = fetched(LeanPartitionRecords, data, fetch_offset, take)
    assert lean == fetched(Fetcher.PartitionRecords, data, fetch_offset, take)
    assert lean[0][0].offset >= fetch_offset


@pytest.mark.parametrize("kind", [LeanPartitionRecords, Fetcher.PartitionRecords])
def test_a_corrupt_record_is_an_error_after_the_records_before_it(kind: type) -> None:
    data = bytearray(record_batches()[:4000])  # the first batch cut short, its length and CRC patched to match
    data[8:12] = (len(data) - 12).to_bytes(4, "big")
    data[17:21] = calc_crc32c(memoryview(data)[21:]).to_bytes(4, "big")
    records = kind(0, TopicPartition("t", 3), MemoryRecords(bytes(data)))
    assert [r.offset for r in records.take()] == list(range(29))
    with pytest.raises(CorruptRecordError):
        records.take()
