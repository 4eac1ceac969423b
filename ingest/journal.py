"""The live ingest's journal: a batch of validated events as one compact blob, and back.

A batch is stored as the JSON array of its events' fields, in order; orjson writes floats
in their shortest exact form, so :func:`decode` gives back events equal to the ones
encoded, and replaying them gives exactly the state they gave the first time.
"""
from __future__ import annotations

from collections.abc import Sequence

import orjson

from warning.events import Event


def encode(events: Sequence[Event]) -> bytes:
    return orjson.dumps([(e.signal, e.entity, e.ts, e.value, e.id, e.count, e.total, e.labels) for e in events])


def decode(blob: bytes) -> list[Event]:
    return [Event(*fields) for fields in orjson.loads(blob)]
