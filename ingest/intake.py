"""Sorting a batch of raw records into valid events and rejections, keeping positions.

Every source goes through :func:`sort_batch`: the HTTP route answers rejections by their
index in the request, file and Kafka sources dead-letter them with their source.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.validate import Validator
from warning.events import Event, Rejected
from warning.timefmt import rfc3339


@dataclass(slots=True)
class SortedBatch:
    events: list[Event] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # input index of each event
    rejected: list[tuple[int, Rejected]] = field(default_factory=list)


def sort_batch(records: Iterable[tuple[str, Any]], validator: Validator) -> SortedBatch:
    """Validate ``(source, record)`` pairs.

    A record is either a raw line (``bytes``, still to be decoded) or an already decoded
    JSON value; a ``str`` is a decoded JSON string, so it is checked, never parsed again.
    """
    out = SortedBatch()
    events, positions, rejected = out.events, out.positions, out.rejected
    parse, check, limit = validator.parse_line, validator.check, validator.max_event_bytes
    for position, (source, record) in enumerate(records):
        if type(record) is not bytes:
            result = check(record)
        elif len(record) > limit:
            result = parse(record)
        else:
            # parse_line written out, a call less per line: this runs for every event.
            try:
                obj = orjson.loads(record)
            except orjson.JSONDecodeError:
                result = parse(record)  # for its reason
            else:
                result = check(obj)
        if type(result) is Event:
            events.append(result)
            positions.append(position)
        else:
            rejected.append((position, Rejected(raw_text(record), result, source)))  # type: ignore[arg-type]
    return out


def raw_text(record: Any, limit: int = 64 * 1024) -> str:
    """The input as text for a dead letter, cut to ``limit`` characters."""
    if isinstance(record, bytes):
        text = record.decode("utf-8", errors="replace")
    else:
        try:
            text = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        except TypeError:
            text = repr(record)
    text = text.rstrip("\n")
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def event_json(event: Event) -> str:
    """A valid event back in canonical JSON (for late events' dead letters)."""
    body: dict[str, Any] = {"ts": rfc3339(event.ts), "signal": event.signal, "entity": event.entity,
                            "value": event.value}
    if event.id is not None:
        body["id"] = event.id
    if event.count != 1.0:
        body["count"] = event.count
    if event.total is not None:
        body["total"] = event.total
    if event.labels:
        body["labels"] = event.labels
    return orjson.dumps(body).decode()
