"""Idempotent ingest at the edge: repeats of accepted ids are dropped, by position."""
from __future__ import annotations

from ingest.dedupe import MemorySeenIds, accepted_ids, drop_seen
from warning.events import Event

T0 = 1795132800.0


def ev(event_id: str | None) -> Event:
    return Event("alarms", "svc", T0, 1.0, event_id)


def test_repeats_of_seen_ids_and_within_the_batch_are_dropped_by_position() -> None:
    events = [ev("a"), ev("b"), ev(None), ev("a"), ev(None), ev("c")]

    kept = drop_seen(events, [10, 11, 12, 13, 14, 15], seen={"b"})

    assert [e.id for e in kept.events] == ["a", None, None, "c"]
    assert kept.positions == [10, 12, 14, 15]
    assert kept.duplicates == [11, 13]


def test_a_batch_of_new_ids_is_kept_whole() -> None:
    events = [ev("a"), ev("b"), ev("c")]

    kept = drop_seen(events, [4, 5, 6], seen=MemorySeenIds(10))

    assert kept.events == events and kept.positions == [4, 5, 6] and kept.duplicates == []


def test_only_merged_events_are_remembered() -> None:
    assert accepted_ids([ev("a"), ev("late"), ev(None), ev("b")], late={1}) == ["a", "b"]
    assert accepted_ids([ev("a"), ev(None), ev("b")], late=set()) == ["a", "b"]


def test_memory_forgets_the_oldest_ids_beyond_its_limit() -> None:
    seen = MemorySeenIds(limit=3)

    seen.remember(["a", "b"])
    seen.remember(["c", "d", "e"])

    assert list(seen) == ["c", "d", "e"]
    assert "a" not in seen and "e" in seen
