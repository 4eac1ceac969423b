"""Replay: a finite file of events through the pipeline on event time.

The file source is the thinnest one: read -> sort -> :class:`warning.pipeline.Pipeline`
-> collect the final version of every alert. Rejected and late events are handed to a
dead-letter sink with their source (``file:line``) and reason.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from ingest.dedupe import MemorySeenIds, accepted_ids, drop_seen
from ingest.intake import event_json, sort_batch
from ingest.validate import Validator
from warning.alerts import Alert, AlertChange
from warning.events import Rejected
from warning.pipeline import Outcome, Pipeline
from warning.settings import Settings

T = TypeVar("T")
# Small batches keep each batch's lines, events and buckets in the CPU cache: a replay runs
# ~20 % faster with 256 than with 8192 (benchmarks/replay_throughput.py).
BATCH = 256


@dataclass(slots=True)
class ReplayResult:
    alerts: dict[str, Alert] = field(default_factory=dict)  # final version of each alert, by id
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0


def replay(
    records: Iterable[tuple[str, Any]],
    settings: Settings,
    *,
    dead_letter: Callable[[Rejected], None] = lambda r: None,
    on_changes: Callable[[list[AlertChange]], None] = lambda c: None,
    pipeline: Pipeline | None = None,
    flush: bool = True,
) -> ReplayResult:
    """Run ``(source, record)`` pairs (see :func:`ingest.sources.files.read_lines`) through
    ``pipeline`` (a fresh one by default); ``flush`` closes the open buckets at the end."""
    pipeline = pipeline or Pipeline(settings)
    validator = Validator(settings)
    seen = MemorySeenIds(settings.max_seen_ids)
    result = ReplayResult()

    def take(out: Outcome) -> None:
        for change in out.changes:
            result.alerts[change.alert.id] = change.alert
        if out.changes:
            on_changes(out.changes)

    for chunk in _chunks(records, BATCH):
        batch = sort_batch(chunk, validator)
        kept = drop_seen(batch.events, batch.positions, seen)
        out = pipeline.process(kept.events)
        seen.remember(accepted_ids(kept.events, {late.position for late in out.late}))
        rejected = list(batch.rejected)
        for late in out.late:
            position = kept.positions[late.position]
            rejected.append((position, Rejected(event_json(late.event), late.reason, chunk[position][0], kind="late")))
        # In input order, whatever the batch size: the dead-letter file reads like the input.
        for _, reason in sorted(rejected, key=lambda item: item[0]):
            dead_letter(reason)
        take(out)
        result.events += len(chunk)
        result.accepted += out.accepted
        result.duplicates += len(kept.duplicates)
        result.rejected += len(batch.rejected)
        result.late += len(out.late)
    if flush:
        take(pipeline.flush())
    return result


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
