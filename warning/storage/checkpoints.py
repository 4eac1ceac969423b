"""Per-partition checkpoints of the Kafka workers: series state plus the offset it covers.

A partition's checkpoint is its row in ``kafka_checkpoints`` (the next offset to read) and
the rows of its series in ``kafka_series_states``. :meth:`CheckpointStore.write` adds a
checkpoint to the transaction that stores the alert changes it covers
(``Database.record(extra=...)``), so the database never holds alerts without the state
that produced them, nor state without its alerts. After a crash the worker restores the
checkpoint and reads on from its offset: the events replayed give the same alert changes
again, and alert and notice writes are idempotent upserts keyed by deterministic ids.

Fencing: :meth:`CheckpointStore.claim` increments the partition's ``epoch``; a write
under an older epoch (a worker that lost the partition in a rebalance without noticing)
raises :class:`Fenced` and rolls back its whole transaction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from warning.errors import StorageError
from warning.pipeline import SeriesKey
from warning.storage.database import BulkWrite, Database, _table, translated
from warning.storage.models import KafkaCheckpointRow, KafkaSeriesStateRow

UTC = dt.UTC


@dataclass(slots=True, frozen=True)
class Claim:
    """A partition as its new owner finds it."""

    topic: str
    partition: int
    epoch: int
    next_offset: int | None  # None: nothing was ever checkpointed, read from the start
    states: dict[SeriesKey, list[Any]]


@dataclass(slots=True)
class Checkpoint:
    """What one partition adds to a commit: its new offset and the series that changed."""

    topic: str
    partition: int
    epoch: int
    next_offset: int
    states: Mapping[SeriesKey, bytes] = field(default_factory=dict)


class Fenced(StorageError):
    """Another worker claimed these partitions since this one did: its checkpoint is refused."""

    def __init__(self, partitions: Sequence[tuple[str, int]]) -> None:
        super().__init__(f"partitions {sorted(partitions)} were claimed by another worker")
        self.partitions = list(partitions)


class CheckpointStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        engine = database.engine
        insert = database._insert
        self._new_row = insert(_table(KafkaCheckpointRow)).on_conflict_do_nothing()
        stmt = insert(_table(KafkaSeriesStateRow))
        self._states = BulkWrite(
            stmt.on_conflict_do_update(
                index_elements=["topic", "partition", "signal", "entity"],
                set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at}),
            ("topic", "partition", "signal", "entity", "state", "updated_at"), engine.dialect)

    def claim(self, topic: str, partition: int) -> Claim:
        """Take the partition over: a new epoch, and the state and offset of its checkpoint."""
        now = dt.datetime.now(UTC)
        table = KafkaCheckpointRow
        where = (table.topic == topic, table.partition == partition)
        with translated(f"claim partition {topic}/{partition}"), self.database.engine.begin() as conn:
            conn.execute(self._new_row, {"topic": topic, "partition": partition, "next_offset": None, "epoch": 0,
                                         "updated_at": now})
            conn.execute(update(table).where(*where).values(epoch=table.epoch + 1, updated_at=now))
            row = conn.execute(select(table.epoch, table.next_offset).where(*where)).one()
            states = {(r.signal, r.entity): orjson.loads(r.state) for r in conn.execute(
                select(KafkaSeriesStateRow.signal, KafkaSeriesStateRow.entity, KafkaSeriesStateRow.state)
                .where(KafkaSeriesStateRow.topic == topic, KafkaSeriesStateRow.partition == partition))}
        return Claim(topic, partition, row.epoch, row.next_offset, states)

    def writer(self, checkpoints: Sequence[Checkpoint]) -> Callable[[Connection], None]:
        """The checkpoints' part of a commit, for ``Database.record(extra=...)``."""

        def write(conn: Connection) -> None:
            now = dt.datetime.now(UTC)
            table = KafkaCheckpointRow
            fenced = []
            for cp in checkpoints:
                moved = conn.execute(
                    update(table)
                    .where(table.topic == cp.topic, table.partition == cp.partition, table.epoch == cp.epoch)
                    .values(next_offset=cp.next_offset, updated_at=now))
                if moved.rowcount != 1:
                    fenced.append((cp.topic, cp.partition))
            if fenced:
                raise Fenced(fenced)  # before writing any state: the transaction rolls back
            state, updated_at = self._states.processor("state"), self._states.processor("updated_at")(now)
            rows = [(cp.topic, cp.partition, signal, entity, state(snapshot), updated_at)
                    for cp in checkpoints for (signal, entity), snapshot in cp.states.items()]
            if rows:
                self._states.execute(conn, rows)

        return write
