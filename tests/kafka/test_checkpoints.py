"""Partition checkpoints and when the worker commits them, without a broker: incremental
state writes, restore, fencing, and alert changes that send a notice committed at once."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import TopicPartition
from sqlalchemy import select

from ingest.kafka.partition import PartitionState
from ingest.kafka.records import Decoder
from ingest.kafka.worker import Worker
from ingest.validate import Validator
from tests.kafka.test_worker import replayed, stored
from warning.alerts import ChangeReason
from warning.events import Event
from warning.metrics import Metrics
from warning.pipeline import Pipeline
from warning.settings import Settings
from warning.storage.checkpoints import CheckpointStore, Fenced
from warning.storage.database import Database
from warning.storage.migrations import upgrade
from warning.storage.models import KafkaSeriesStateRow


@dataclass(frozen=True)
class FakeRecord:
    offset: int
    value: bytes | None
    key: bytes | None = None
    topic: str = "t"
    partition: int = 0
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=list)


def alarms(entity: str, first: int, count: int, offset: int) -> list[FakeRecord]:
    """``count`` events of ``entity``, one per 5-minute bucket from bucket ``first``."""
    return [FakeRecord(offset + i, orjson.dumps({
        "ts": f"2025-01-06T{(first + i) * 5 // 60:02d}:{(first + i) * 5 % 60:02d}:00Z", "signal": "alarms",
        "entity": entity, "value": 3.0}), entity.encode()) for i in range(count)]


@pytest.fixture
def store(make_settings: Callable[..., Settings], tmp_path: Path) -> tuple[Settings, Database, CheckpointStore]:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade(settings.sqlalchemy_url)
    database = Database(settings)
    return settings, database, CheckpointStore(database)


def commit(database: Database, store: CheckpointStore, state: PartitionState) -> dict[tuple[str, str], bytes]:
    checkpoint = state.checkpoint()
    database.record(changes=state.changes, closed=state.closed, extra=store.writer([checkpoint]))
    state.committed(checkpoint)
    return dict(checkpoint.states)


def stored_states(database: Database) -> dict[tuple[str, str], tuple[bytes, object]]:
    """Each stored series state, with when it was written."""
    table = KafkaSeriesStateRow
    with database.engine.connect() as conn:
        rows = conn.execute(select(table.signal, table.entity, table.state, table.updated_at))
        return {(r.signal, r.entity): (r.state, r.updated_at) for r in rows}


def test_a_checkpoint_writes_only_the_series_changed_since_the_last_one_and_restores_exactly(
        store: tuple[Settings, Database, CheckpointStore]) -> None:
    settings, database, checkpoints = store
    validator, decoder = Validator(settings), Decoder(settings.max_event_bytes, settings.max_body_bytes)
    state = PartitionState(checkpoints.claim("t", 0), settings, validator, decoder)
    state.take(alarms("svc-a", 0, 10, 0) + alarms("svc-b", 0, 10, 10))
    assert set(commit(database, checkpoints, state)) == {("alarms", "svc-a"), ("alarms", "svc-b")}
    b_before = stored_states(database)[("alarms", "svc-b")]

    state.take(alarms("svc-a", 10, 5, 20))
    assert set(commit(database, checkpoints, state)) == {("alarms", "svc-a")}
    assert stored_states(database)[("alarms", "svc-b")] == b_before  # not rewritten (same write time)

    state.take([])
    assert not state.dirty  # nothing new: the next commit skips this partition

    restored = PartitionState(checkpoints.claim("t", 0), settings, validator, decoder)
    assert restored.position == 25
    assert restored.pipeline.snapshot() == state.pipeline.snapshot()


def test_a_worker_that_lost_its_partition_cannot_checkpoint_it(
        store: tuple[Settings, Database, CheckpointStore]) -> None:
    settings, database, checkpoints = store
    validator, decoder = Validator(settings), Decoder(settings.max_event_bytes, settings.max_body_bytes)
    stale = PartitionState(checkpoints.claim("t", 0), settings, validator, decoder)
    checkpoints.claim("t", 0)  # another worker took it over
    stale.take(alarms("svc-a", 0, 3, 0))
    with pytest.raises(Fenced):
        commit(database, checkpoints, stale)
    assert stored_states(database) == {}
    assert PartitionState(checkpoints.claim("t", 0), settings, validator, decoder).position is None


class FakeConsumer:
    """What the worker loop uses of ``KafkaConsumer``; each poll hands out the next batch."""

    def __init__(self) -> None:
        self.batches: list[dict[TopicPartition, list[FakeRecord]]] = []

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[FakeRecord]]:
        return self.batches.pop(0) if self.batches else {}

    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def seek_to_beginning(self, partition: TopicPartition) -> None: ...
    def highwater(self, partition: TopicPartition) -> int | None: return None
    def commit(self, offsets: Any) -> None: ...


class FakeProducer:
    def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no dead letter expected")

    def flush(self, timeout: float | None = None) -> None: ...


def test_an_alert_change_that_sends_a_notice_is_committed_at_once_the_rest_at_the_interval(
        make_settings: Callable[..., Settings], tmp_path: Path, alarm_slice: list[dict[str, Any]]) -> None:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'tocsin.db'}", kafka_checkpoint_seconds=3600)
    upgrade(settings.sqlalchemy_url)
    database = Database(settings)
    consumer = FakeConsumer()
    worker = Worker(settings, database, Metrics(), consumer=consumer, producer=FakeProducer())
    tp = TopicPartition("t", 0)
    worker.assigned([tp])
    # The oracle: which chunks make an alert change that sends a notice (raised, cleared, ...).
    validator, reference = Validator(settings), Pipeline(settings)
    chunk = 200
    records = [FakeRecord(i, orjson.dumps(e)) for i, e in enumerate(alarm_slice)]
    kinds = set()
    for start in range(0, len(records), chunk):
        events = [validator.check(e) for e in alarm_slice[start:start + chunk]]
        notifying = any(c.reason is not ChangeReason.updated
                        for c in reference.process([e for e in events if type(e) is Event]).changes)
        kinds.add(notifying)
        consumer.batches.append({tp: records[start:start + chunk]})
        worker.step(poll_ms=0)
        committed = worker.partitions[tp].committed_offset
        end = min(start + chunk, len(records))  # offsets are the indexes
        if notifying:
            assert committed == end, f"records {start}-{end}: an alert notice waited for the interval"
        else:
            assert committed is None or committed <= start, f"records {start}-{end}: committed before the interval"
    assert kinds == {True, False}
    assert set(stored(database)) == set(replayed(alarm_slice, settings))  # every alert raised is stored
    database.engine.dispose()
