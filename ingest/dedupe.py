"""Idempotent ingest: an event whose id was already accepted is ignored.

Deduplication happens at the edge, before the pipeline, against a store of accepted ids:
in memory for a replay (:class:`MemorySeenIds`, bounded by count), in the database for the
live service (bounded by ``seen_ids_retention_days``, written in the same transaction
as the batch, so a producer's retry after a lost answer is recognised even across a
restart). Only ids of events that were merged are remembered; a rejected or late event
may be sent again.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter

from warning.events import Event

_ID = attrgetter("id")


@dataclass(slots=True)
class Deduplicated:
    events: list[Event] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # index of each kept event in the input
    duplicates: list[int] = field(default_factory=list)  # index of each ignored repeat


def drop_seen(events: list[Event], positions: list[int], seen: Collection[str]) -> Deduplicated:
    """Keep the events whose id is neither in ``seen`` nor earlier in the same batch."""
    ids = list(map(_ID, events))
    distinct = set(ids)
    if len(distinct) == len(ids) and None not in distinct and not any(map(seen.__contains__, ids)):
        return Deduplicated(list(events), list(positions))  # the common batch, every id new: tested in C
    out = Deduplicated()
    batch_ids: set[str] = set()
    for event, position in zip(events, positions):
        event_id = event.id
        if event_id is not None:
            if event_id in seen or event_id in batch_ids:
                out.duplicates.append(position)
                continue
            batch_ids.add(event_id)
        out.events.append(event)
        out.positions.append(position)
    return out


class MemorySeenIds(dict[str, None]):
    """Accepted ids in insertion order; the oldest are forgotten beyond ``limit``.

    A dict, so ``id in seen`` stays a C-level lookup on the replay's hot path.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, ids: Iterable[str]) -> None:
        self.update(dict.fromkeys(ids))
        excess = len(self) - self.limit
        if excess > 0:
            for event_id in list(islice(self, excess)):
                del self[event_id]


def accepted_ids(events: list[Event], late: Collection[int]) -> list[str]:
    """Ids of the events the pipeline merged (``late`` holds indexes into ``events``)."""
    if not late:
        ids = list(map(_ID, events))
        return ids if None not in ids else [i for i in ids if i is not None]
    return [e.id for i, e in enumerate(events) if e.id is not None and i not in late]
