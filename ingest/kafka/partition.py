"""The state one worker holds for one partition: its own pipeline, and what is not committed yet.

Each partition gets a :class:`warning.pipeline.Pipeline` of its own, so what it computes
depends only on the partition's records, never on which other partitions the worker
happens to hold: a partition handed to another worker, or replayed after a crash,
gives the same alert changes. Keys are entities, so an entity's series lives in the
partition its events come from. (If one entity's events arrive on two partitions, e.g.
records produced without a key, each partition keeps a series of its own for it and
sees only part of its events: keep the key.)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.dedupe import MemorySeenIds, accepted_ids, drop_seen
from ingest.intake import event_json
from ingest.kafka.moves import held_alerts
from ingest.kafka.records import Decoder, Poison, Record, item_bytes
from ingest.validate import Validator
from warning.alerts import AlertChange, ChangeReason
from warning.events import Event
from warning.pipeline import ClosedBucket, Pipeline, SeriesKey
from warning.settings import Settings
from warning.storage.checkpoints import Checkpoint, Claim

# Ids remembered per partition to drop a producer's retries (an entity's retries land in
# its partition). Forgotten when the partition moves: records are replayed from the
# checkpoint by offset, so only a retry straddling a move goes unrecognised.
SEEN_IDS_PER_PARTITION = 100_000


@dataclass(slots=True)
class Taken:
    """What one call of :meth:`PartitionState.take` did."""

    accepted: int = 0
    duplicates: int = 0
    poison: list[Poison] = field(default_factory=list)


class PartitionState:
    def __init__(self, claim: Claim, settings: Settings, validator: Validator, decoder: Decoder) -> None:
        self.topic, self.partition, self.epoch = claim.topic, claim.partition, claim.epoch
        self.validator, self.decoder = validator, decoder
        self.pipeline = Pipeline(settings, keep_closed=True)
        self.pipeline.restore(claim.states)
        self.open_alerts = held_alerts(self.pipeline)  # the alerts operators may move (ingest.kafka.moves)
        self.committed_offset = claim.next_offset  # what the database holds
        self.position = claim.next_offset  # the next offset to process
        self.seen = MemorySeenIds(SEEN_IDS_PER_PARTITION)
        self.changes: list[AlertChange] = []
        self.closed: list[ClosedBucket] = []
        self.touched: set[SeriesKey] = set()
        self.pending_events = 0  # accepted since the last commit
        self.notifying = False  # an uncommitted alert change sends a notice: commit it soon

    @property
    def dirty(self) -> bool:
        return self.position is not None and self.position != self.committed_offset

    def take(self, records: Sequence[Record]) -> Taken:
        """Run the records (in offset order) through the pipeline; records before
        :attr:`position` are skipped (already in the state, fetched again after a seek)."""
        out = Taken()
        position = self.position
        if records and position is not None and records[0].offset < position:
            records = [r for r in records if r.offset >= position]
        if not records:
            return out
        events: list[Event] = []
        owners: list[int] = []  # for each event: its record's index in ``records``
        decode, check = self.decoder.decode, self.validator.check
        for i, record in enumerate(records):
            body = decode(record)
            if isinstance(body, dict):  # one event: the common case, without a list around it
                checked = check(body)
                if type(checked) is Event:
                    events.append(checked)
                    owners.append(i)
                else:
                    out.poison.append(Poison(record, str(checked)))
            elif isinstance(body, Poison):
                out.poison.append(body)
            else:
                self._items(record, i, body, events, owners, out.poison)
        kept = drop_seen(events, list(range(len(events))), self.seen)
        result = self.pipeline.process(kept.events)
        late_positions = {late.position for late in result.late}
        self.seen.remember(accepted_ids(kept.events, late_positions))
        for late in result.late:
            record = records[owners[kept.positions[late.position]]]
            out.poison.append(Poison(record, late.reason, kind="late", raw=event_json(late.event).encode()))
        self.changes.extend(result.changes)
        self.notifying = self.notifying or any(c.reason is not ChangeReason.updated for c in result.changes)
        self.closed.extend(result.closed)
        self.touched |= result.touched
        out.accepted = result.accepted
        out.duplicates = len(kept.duplicates)
        self.position = records[-1].offset + 1
        return out

    def _items(self, record: Record, owner: int, items: list[Any], events: list[Event], owners: list[int],
               poison: list[Poison]) -> None:
        """The events of a record's array; an invalid item is a dead letter of its own (its whole
        record when it is the only item)."""
        single = len(items) == 1
        check = self.validator.check
        for index, item in enumerate(items):
            checked = check(item)
            if type(checked) is Event:
                events.append(checked)
                owners.append(owner)
            else:
                poison.append(Poison(record, str(checked), index=None if single else index,
                                     raw=None if single else item_bytes(item)))

    def checkpoint(self) -> Checkpoint:
        """The checkpoint of everything taken so far (to commit with :attr:`changes`)."""
        assert self.position is not None, "nothing was taken"
        return Checkpoint(self.topic, self.partition, self.epoch, self.position,
                          self.pipeline.snapshot_json(self.touched))

    def committed(self, checkpoint: Checkpoint) -> None:
        """``checkpoint`` is in the database: forget what it covered."""
        self.committed_offset = checkpoint.next_offset
        self.changes.clear()
        self.closed.clear()
        self.touched.clear()
        self.pending_events = 0
        self.notifying = False

