"""Kafka records to events: canonical JSON, JSON arrays, and the CloudEvents Kafka binding.

A record's value is one canonical event (a JSON object) or a JSON array of them (producers
that batch). The CloudEvents Kafka binding is accepted in both modes:

- binary: ``ce_*`` headers (``ce_specversion`` 1.0, ``ce_id``, ...) and the event (or array)
  as the value; ``ce_id`` and ``ce_time`` fill a single event's missing ``id`` and ``ts``;
- structured: ``content-type: application/cloudevents+json`` and an envelope whose
  ``data`` is the event (or array), with ``id`` and ``time`` used the same way.

Decoding never raises: what cannot become an event is a :class:`Poison` value with the
reason and where it came from, for the dead-letter topic.

Before that, :mod:`ingest.kafka.fetched` reads the fetched record batches into records.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ingest.intake import raw_text

STRUCTURED = "application/cloudevents+json"


class Record(Protocol):
    """What is used of kafka-python's ``ConsumerRecord``."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


@dataclass(slots=True, frozen=True)
class Poison:
    """A record, or one item of a record's array, that is not an event."""

    record: Record
    reason: str
    kind: str = "invalid"  # or "late": valid, but its bucket had closed
    index: int | None = None  # position in the record's array
    raw: bytes | None = None  # the item itself; None means the record's whole value


class Decoder:
    """Turns records into JSON values for :class:`ingest.validate.Validator.check`."""

    def __init__(self, max_event_bytes: int, max_record_bytes: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_record_bytes = max_record_bytes

    def decode(self, record: Record) -> dict[str, Any] | list[Any] | Poison:
        """The record's event (a dict) or array of events (a list), each still to validate, or
        why it holds neither."""
        value = record.value
        if value is None:
            return Poison(record, "the record has no value (a tombstone); an event or an array of events was expected")
        size = len(value)
        if size > self.max_record_bytes:
            return Poison(record, f"record value is {size} bytes; the limit is {self.max_record_bytes}")
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return Poison(record, f"not valid JSON: {exc}")
        headers = record.headers
        if headers:
            envelope = _cloudevent(headers, body)
            if isinstance(envelope, str):
                return Poison(record, envelope)
            if envelope is not None:
                body, fill = envelope
                if type(body) is dict:
                    for name, header in fill.items():
                        if header is not None:
                            body.setdefault(name, header)
        if type(body) is dict:
            if size > self.max_event_bytes:
                return Poison(record, f"event is {size} bytes; the limit is {self.max_event_bytes}")
            return body
        if type(body) is list:
            return body
        return Poison(record, f"a record must hold an event object or an array of events, got {_json_type(body)}")


def _cloudevent(headers: Sequence[tuple[str, bytes | None]], body: Any) -> tuple[Any, dict[str, Any]] | str | None:
    """``(data, {"id": ..., "ts": ...})`` for a CloudEvent, a reason if it is a broken one, else None."""
    found = {name.lower(): value for name, value in headers}
    content_type = (found.get("content-type") or b"").decode("latin-1").split(";")[0].strip()
    if content_type == STRUCTURED:
        if type(body) is not dict or "data" not in body:
            return "a structured CloudEvent must be a JSON object with 'data'"
        version, event_id, time = body.get("specversion"), body.get("id"), body.get("time")
        data = body["data"]
    elif "ce_specversion" in found:
        version = (found["ce_specversion"] or b"").decode("latin-1")
        event_id = _text(found.get("ce_id"))
        time = _text(found.get("ce_time"))
        data = body
    else:
        return None
    if version != "1.0":
        return f"CloudEvents specversion {version!r} is not supported; use '1.0'"
    return data, {"id": event_id, "ts": time}


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", errors="replace")


def _json_type(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(type(value), "null")


def poison_value(poison: Poison, limit: int) -> tuple[bytes, int]:
    """What the dead-letter record carries (cut to ``limit`` bytes) and the original size."""
    raw = poison.record.value or b"" if poison.raw is None else poison.raw
    return raw[:limit], len(raw)


def item_bytes(item: Any) -> bytes:
    """One item of an array (or a late event) as bytes for its dead letter."""
    return raw_text(item).encode()
