"""Validation of raw input into canonical events, with one precise reason per rejection.

The checks follow SPEC "Canonical event". This is the hottest code in a replay (every
event passes here once), so it is written as straight-line checks rather than a schema
library; each failure returns a reason string instead of raising.
"""
from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from math import isfinite
from typing import Any

import orjson

from warning.events import Event
from warning.settings import Settings

ALLOWED_FIELDS = frozenset({"id", "ts", "signal", "entity", "value", "labels", "count", "total"})
REQUIRED_FIELDS = ("ts", "signal", "entity", "value")
MAX_ID = 200
MAX_ENTITY = 200
MAX_LABELS = 32
MAX_LABEL_KEY = 64
MAX_LABEL_VALUE = 200
# Event times far outside any plausible feed are typos; accepting one would make its series
# jump (or wait) centuries.
MIN_YEAR, MAX_YEAR = 1970, 2200
# The value bound of a signal without a scale: far above any real count, and low enough that
# a bucket's sum stays finite (two values near 1e308 sum to infinity, which PostgreSQL refuses
# in an alert's evidence: the batch, or a Kafka worker's every commit, would fail).
MAX_MAGNITUDE = 1e15

_fromisoformat = dt.datetime.fromisoformat
TIMES_CACHED = 4096
ENTITIES_CACHED = 65536


@dataclass(slots=True, frozen=True)
class SignalRule:
    """What validation needs to know about one configured signal."""

    is_count: bool
    low: float
    high: float
    # Where a valid value lies: finite, >= 0 for a count, inside the scale (one test per event).
    least: float
    most: float


def _rule(is_count: bool, low: float, high: float) -> SignalRule:
    least = max(low, 0.0 if is_count else -sys.float_info.max)
    return SignalRule(is_count, low, high, least, min(high, sys.float_info.max))


class Validator:
    """Checks decoded JSON values against the configured signals."""

    def __init__(self, settings: Settings) -> None:
        self.max_event_bytes = settings.max_event_bytes
        self.signals = {
            name: _rule(
                cfg.is_count,
                cfg.scale[0] if cfg.scale else (0.0 if cfg.is_count else -MAX_MAGNITUDE),
                cfg.scale[1] if cfg.scale else MAX_MAGNITUDE,
            )
            for name, cfg in settings.signals.items()
        }
        self._known = ", ".join(sorted(self.signals))
        # Parsed event times by their text. Producers stamp whole batches with one time (a
        # collector's tick, a bucket start), so most lookups hit and skip the parse (~0.5 us).
        # Bounded by clearing; safe across threads because a value never changes.
        self._times: dict[str, float] = {}
        # Entities that passed their check, likewise (a set lookup instead of three tests).
        self._entities: set[str] = set()

    def parse_line(self, line: bytes | str) -> Event | str:
        """One JSON line to an event, or the reason it was rejected."""
        if len(line) > self.max_event_bytes:
            return f"event is {len(line)} bytes; the limit is {self.max_event_bytes}"
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return f"not valid JSON: {exc}"
        return self.check(obj)

    def check(self, obj: Any) -> Event | str:
        """A decoded JSON value to an event, or the reason it was rejected."""
        if type(obj) is not dict:
            return f"an event must be a JSON object, got {_json_type(obj)}"
        if not ALLOWED_FIELDS.issuperset(obj):
            unknown = sorted(set(obj) - ALLOWED_FIELDS)
            return f"unknown field {unknown[0]!r}; allowed fields: {', '.join(sorted(ALLOWED_FIELDS))}"
        try:
            raw_ts, signal, entity, value = obj["ts"], obj["signal"], obj["entity"], obj["value"]
        except KeyError:
            missing = next(name for name in REQUIRED_FIELDS if name not in obj)
            return f"missing field {missing!r}"

        rule = self.signals.get(signal) if type(signal) is str else None
        if rule is None:
            return f"unknown signal {signal!r}; configured signals: {self._known}"
        if type(entity) is not str or entity not in self._entities:
            if type(entity) is not str or not 0 < len(entity) <= MAX_ENTITY or not entity.isprintable():
                return f"entity must be 1-{MAX_ENTITY} printable characters, got {_clip(entity)}"
            if len(self._entities) >= ENTITIES_CACHED:
                self._entities.clear()
            self._entities.add(entity)

        ts = self._times.get(raw_ts) if type(raw_ts) is str else None
        if ts is None:
            parsed = _timestamp(raw_ts)
            if isinstance(parsed, str):
                return parsed
            if len(self._times) >= TIMES_CACHED:
                self._times.clear()
            ts = self._times[raw_ts] = parsed
        if type(value) is not float and type(value) is not int:
            return f"value must be a number, got {_json_type(value)}"
        if not rule.least <= value <= rule.most:
            return _value_reason(value, rule, signal)

        event_id = obj.get("id")
        if event_id is None:
            if len(obj) == 4:
                return Event(signal, entity, ts, float(value))  # the required fields alone
        elif type(event_id) is not str or not 0 < len(event_id) <= MAX_ID or not event_id.isprintable():
            return _id_reason(event_id)
        elif len(obj) == 5:
            # The common event: the required fields and an id, nothing optional to check.
            return Event(signal, entity, ts, float(value), event_id)
        count = obj.get("count", 1.0)
        if type(count) not in (int, float) or not (isfinite(count) and count > 0):
            return f"count must be a finite number > 0, got {_clip(count)}"
        total = obj.get("total")
        if total is not None:
            if not rule.is_count:
                return f"total applies to count signals only, not {signal}"
            if type(total) not in (int, float) or not isfinite(total) or total < value:
                return f"total must be a finite number >= value ({value}), got {_clip(total)}"
        labels = obj.get("labels")
        if labels is not None:
            reason = _labels(labels)
            if reason:
                return reason
        return Event(signal, entity, ts, float(value), event_id, float(count),
                     None if total is None else float(total), labels)


def _value_reason(value: float, rule: SignalRule, signal: str) -> str:
    if not isfinite(value):
        return f"value must be finite, got {value}"
    if rule.is_count and value < 0:
        return f"value of a count signal ({signal}) must be >= 0, got {value}"
    return f"value {value} is outside the {signal} scale [{rule.low:g}, {rule.high:g}]"


def _id_reason(event_id: Any) -> str:
    if type(event_id) is not str or not 0 < len(event_id) <= MAX_ID:
        return f"id must be a string of 1-{MAX_ID} characters, got {_clip(event_id)}"
    return f"id must be printable characters, got {_clip(event_id)}"  # PostgreSQL refuses a NUL in a batch


def _timestamp(raw: Any) -> float | str:
    if type(raw) is not str:
        return f"ts must be an RFC 3339 string, got {_json_type(raw)}"
    # RFC 3339's shape, checked by position (cheaper than a regex on the hot path):
    # YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm), T and Z in either case.
    if len(raw) < 19 or raw[4] != "-" or raw[7] != "-" or raw[10] not in "Tt " or raw[13] != ":" or raw[16] != ":":
        return f"ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: {_clip(raw)}"
    if raw[-1] not in "Zz" and (raw[-3] != ":" or raw[-6] not in "+-"):
        return f"ts needs a UTC offset, 'Z' or '+hh:mm': {_clip(raw)}"
    try:
        t = _fromisoformat(raw if raw[-1] != "z" and raw[10] != "t" else raw.upper())
    except ValueError:
        return f"ts is not an RFC 3339 timestamp: {_clip(raw)}"
    if t.tzinfo is None:
        return f"ts needs a UTC offset, 'Z' or '+hh:mm': {_clip(raw)}"
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        return f"ts year {t.year} is outside {MIN_YEAR}-{MAX_YEAR}: {_clip(raw)}"
    return t.timestamp()


def _labels(labels: Any) -> str | None:
    if type(labels) is not dict:
        return f"labels must be an object of strings, got {_json_type(labels)}"
    if len(labels) > MAX_LABELS:
        return f"at most {MAX_LABELS} labels, got {len(labels)}"
    for key, value in labels.items():
        if len(key) > MAX_LABEL_KEY:
            return f"label name longer than {MAX_LABEL_KEY} characters: {_clip(key)}"
        if type(value) is not str or len(value) > MAX_LABEL_VALUE:
            return f"label {key!r} must be a string of at most {MAX_LABEL_VALUE} characters, got {_clip(value)}"
    return None


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _clip(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
