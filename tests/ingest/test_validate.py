"""Validation: every bad input of issue 2 gets its own case and a precise reason; valid
events come out as canonical :class:`warning.events.Event` values in UTC epoch seconds."""
from __future__ import annotations

from typing import Any

import orjson
import pytest

from ingest.validate import Validator
from warning.events import Event

# 2026-11-20T10:00:00Z
T10 = 1795168800.0
MISSING = object()


@pytest.fixture
def validator(make_settings: Any) -> Validator:
    """The default signals without their detectors: validation only needs names and scales."""
    quiet = {"detectors": []}
    return Validator(make_settings(signals={"satisfaction": quiet, "mentions": quiet, "alarms": quiet}))


def event(**fields: Any) -> dict[str, Any]:
    """A valid mentions event with ``fields`` replaced (``MISSING`` removes one)."""
    body: dict[str, Any] = {"id": "evt-1", "ts": "2026-11-20T10:00:00Z", "signal": "mentions",
                            "entity": "brand-x", "value": 42}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not MISSING}


def line(**fields: Any) -> bytes:
    return orjson.dumps(event(**fields))


def reason_for(validator: Validator, raw: bytes | str | dict[str, Any]) -> str:
    result = validator.check(raw) if isinstance(raw, dict) else validator.parse_line(raw)
    assert isinstance(result, str), f"expected a rejection, got {result!r}"
    return result


# -- lines that are not an event object ---------------------------------------------------


@pytest.mark.parametrize(("raw", "reason"), [
    pytest.param(b"brand-x,42", "not valid JSON: ", id="not JSON"),
    pytest.param(b'{"ts": "2026-11-20T10:00:00Z", "signal": ', "not valid JSON: ", id="truncated JSON"),
    pytest.param(b"", "not valid JSON: ", id="empty line"),
    pytest.param(b"[" + line() + b"]", "an event must be a JSON object, got an array", id="array"),
    pytest.param(b'"brand-x"', "an event must be a JSON object, got a string", id="string"),
    pytest.param(b"42", "an event must be a JSON object, got a number", id="number"),
    pytest.param(b"null", "an event must be a JSON object, got null", id="null"),
    pytest.param(b"true", "an event must be a JSON object, got a boolean", id="boolean"),
    pytest.param(line().replace(b"42", b"NaN"), "not valid JSON: ", id="NaN literal"),
    pytest.param(line().replace(b"42", b"Infinity"), "not valid JSON: ", id="Infinity literal"),
    pytest.param(line().replace(b"42", b"1e999"), "not valid JSON: number is infinity", id="overflowing number"),
    pytest.param(b"\xef\xbb\xbf" + line(), "not valid JSON: ", id="byte order mark"),
    pytest.param(line(entity="brand-x").replace(b"brand-x", b"brand-\xff"), "not valid JSON: ", id="invalid UTF-8"),
])
def test_a_line_that_is_not_an_event_object_is_rejected(validator: Validator, raw: bytes, reason: str) -> None:
    assert reason_for(validator, raw).startswith(reason)


def test_a_10_mb_line_is_rejected_by_size_before_parsing(validator: Validator) -> None:
    huge = line(labels={"note": "x" * (10 * 1024 * 1024)})

    assert reason_for(validator, huge) == f"event is {len(huge)} bytes; the limit is 65536"


def test_the_size_limit_is_configurable(make_settings: Any) -> None:
    quiet = {"detectors": []}
    small = Validator(make_settings(max_event_bytes=100,
                                    signals={"satisfaction": quiet, "mentions": quiet, "alarms": quiet}))

    raw = line(labels={"note": "x" * 100})

    assert small.parse_line(raw) == f"event is {len(raw)} bytes; the limit is 100"
    assert isinstance(small.parse_line(line()), Event)


# -- fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["ts", "signal", "entity", "value"])
def test_each_required_field_is_named_when_missing(validator: Validator, field: str) -> None:
    assert reason_for(validator, event(**{field: MISSING})) == f"missing field {field!r}"


@pytest.mark.parametrize(("fields", "reason"), [
    pytest.param({"vale": 42, "value": MISSING}, "unknown field 'vale'", id="typo of value"),
    pytest.param({"timestamp": "2026-11-20T10:00:00Z"}, "unknown field 'timestamp'", id="extra field"),
    pytest.param({"Signal": "mentions"}, "unknown field 'Signal'", id="field names are case sensitive"),
])
def test_an_unknown_field_is_rejected_so_that_typos_surface(
    validator: Validator, fields: dict[str, Any], reason: str
) -> None:
    assert reason_for(validator, event(**fields)) == (
        f"{reason}; allowed fields: count, entity, id, labels, signal, total, ts, value"
    )


@pytest.mark.parametrize(("signal", "shown"), [
    pytest.param("sales", "'sales'", id="unconfigured name"),
    pytest.param("Mentions", "'Mentions'", id="wrong case"),
    pytest.param(["mentions"], "['mentions']", id="not a string"),
])
def test_an_unknown_signal_is_rejected_with_the_configured_names(
    validator: Validator, signal: Any, shown: str
) -> None:
    assert reason_for(validator, event(signal=signal)) == (
        f"unknown signal {shown}; configured signals: alarms, mentions, satisfaction"
    )


@pytest.mark.parametrize(("fields", "reason"), [
    pytest.param({"value": float("nan")}, "value must be finite, got nan", id="NaN"),
    pytest.param({"value": float("inf")}, "value must be finite, got inf", id="infinity"),
    pytest.param({"value": float("-inf")}, "value must be finite, got -inf", id="minus infinity"),
    pytest.param({"value": True}, "value must be a number, got a boolean", id="boolean value"),
    pytest.param({"value": "42"}, "value must be a number, got a string", id="numeric string value"),
    pytest.param({"value": None}, "value must be a number, got null", id="null value"),
    pytest.param({"value": -1}, "value of a count signal (mentions) must be >= 0, got -1", id="negative mentions"),
    pytest.param({"signal": "alarms", "value": -0.5},
                 "value of a count signal (alarms) must be >= 0, got -0.5", id="negative alarms"),
    pytest.param({"signal": "satisfaction", "value": 100.5},
                 "value 100.5 is outside the satisfaction scale [0, 100]", id="satisfaction above scale"),
    pytest.param({"signal": "satisfaction", "value": -1},
                 "value -1 is outside the satisfaction scale [0, 100]", id="satisfaction below scale"),
])
def test_a_bad_value_is_rejected(validator: Validator, fields: dict[str, Any], reason: str) -> None:
    assert reason_for(validator, event(**fields)) == reason


@pytest.mark.parametrize(("ts", "reason"), [
    pytest.param("2026-11-20T10:00:00", "ts needs a UTC offset, 'Z' or '+hh:mm': '2026-11-20T10:00:00'",
                 id="no offset"),
    pytest.param("2026-11-20", "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: '2026-11-20'", id="date only"),
    pytest.param("2026-11-20Z", "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: '2026-11-20Z'", id="date only with Z"),
    pytest.param("2026-11-20T10:00Z", "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: '2026-11-20T10:00Z'", id="no seconds"),
    pytest.param("yesterday", "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: 'yesterday'", id="unparsable"),
    pytest.param("2026-02-30T10:00:00Z", "ts is not an RFC 3339 timestamp: '2026-02-30T10:00:00Z'",
                 id="no such day"),
    pytest.param("2026-11-20T10:00:00 UTC", "ts needs a UTC offset, 'Z' or '+hh:mm': '2026-11-20T10:00:00 UTC'",
                 id="zone name"),
    pytest.param(1795168800, "ts must be an RFC 3339 string, got a number", id="epoch number"),
    pytest.param(None, "ts must be an RFC 3339 string, got null", id="null"),
])
def test_a_bad_timestamp_is_rejected(validator: Validator, ts: Any, reason: str) -> None:
    assert reason_for(validator, event(ts=ts)) == reason


@pytest.mark.parametrize("ts", [
    pytest.param("2026-W47-5T10:00:00Z", id="ISO week date"),
    pytest.param("2026-11-20T10:00:00+0530", id="offset without colon"),
    pytest.param("2026-11-20T10:00:00+05:30:15", id="offset with seconds"),
])
def test_iso_8601_forms_outside_rfc_3339_are_rejected(validator: Validator, ts: str) -> None:
    assert reason_for(validator, event(ts=ts)).startswith(("ts is not an RFC 3339", "ts needs a UTC offset"))


@pytest.mark.parametrize("ts", [
    pytest.param("9999-12-31T23:59:59Z", id="year 9999"),
    pytest.param("0001-01-01T00:00:00Z", id="year 1"),
])
def test_a_timestamp_centuries_away_is_rejected(validator: Validator, ts: str) -> None:
    # Accepted, it moves its series' watermark across millions of empty buckets: 5 years of
    # alarms already close 525 600 buckets, year 9999 close ~840 million and exhaust memory.
    assert reason_for(validator, event(signal="alarms", ts=ts)).startswith("ts ")


@pytest.mark.parametrize(("fields", "reason"), [
    pytest.param({"id": "x" * 201}, "id must be a string of 1-200 characters, got 'xxxx", id="id over 200"),
    pytest.param({"id": ""}, "id must be a string of 1-200 characters, got ''", id="empty id"),
    pytest.param({"id": 7}, "id must be a string of 1-200 characters, got 7", id="numeric id"),
    pytest.param({"entity": ""}, "entity must be 1-200 printable characters, got ''", id="empty entity"),
    pytest.param({"entity": "e" * 201}, "entity must be 1-200 printable characters, got 'eeee",
                 id="entity over 200"),
    pytest.param({"entity": "brand\nx"}, "entity must be 1-200 printable characters, got 'brand\\nx'",
                 id="control character in entity"),
    pytest.param({"labels": ["weibo"]}, "labels must be an object of strings, got an array", id="labels array"),
    pytest.param({"labels": {"channel": 3}},
                 "label 'channel' must be a string of at most 200 characters, got 3", id="label not a string"),
    pytest.param({"labels": {"channel": {"name": "weibo"}}},
                 "label 'channel' must be a string of at most 200 characters, got {'name'", id="nested labels"),
    pytest.param({"labels": {"channel": "w" * 201}},
                 "label 'channel' must be a string of at most 200 characters, got 'www", id="label value too long"),
    pytest.param({"labels": {"k" * 65: "x"}}, "label name longer than 64 characters: 'kkk", id="label name too long"),
    pytest.param({"labels": {f"k{i}": "x" for i in range(33)}}, "at most 32 labels, got 33", id="too many labels"),
    pytest.param({"signal": "satisfaction", "value": 80, "count": 0}, "count must be a finite number > 0, got 0",
                 id="zero count"),
    pytest.param({"signal": "satisfaction", "value": 80, "count": True},
                 "count must be a finite number > 0, got True", id="boolean count"),
    pytest.param({"signal": "alarms", "value": 5, "total": 3},
                 "total must be a finite number >= value (5), got 3", id="total below value"),
    pytest.param({"signal": "satisfaction", "value": 80, "total": 100},
                 "total applies to count signals only, not satisfaction", id="total on a mean signal"),
])
def test_a_bad_optional_field_is_rejected(validator: Validator, fields: dict[str, Any], reason: str) -> None:
    assert reason_for(validator, event(**fields)).startswith(reason)


# -- valid events -------------------------------------------------------------------------


@pytest.mark.parametrize(("ts", "epoch"), [
    pytest.param("2026-11-20T10:00:00Z", T10, id="Z"),
    pytest.param("2026-11-20T15:30:00+05:30", T10, id="positive offset"),
    pytest.param("2026-11-20T05:00:00-05:00", T10, id="negative offset"),
    pytest.param("2026-11-20T10:00:00+00:00", T10, id="zero offset"),
    pytest.param("2026-11-20T10:00:00.250Z", T10 + 0.25, id="fraction of a second"),
    pytest.param("2026-11-20 10:00:00Z", T10, id="space separator"),
    pytest.param("2026-11-20t10:00:00z", T10, id="lower-case t and z"),
])
def test_timestamps_with_an_offset_become_utc_epoch_seconds(validator: Validator, ts: str, epoch: float) -> None:
    result = validator.check(event(ts=ts))

    assert isinstance(result, Event)
    assert result.ts == epoch


def test_a_valid_line_keeps_every_field(validator: Validator) -> None:
    raw = line(signal="alarms", entity="svc-a", value=3, total=120, labels={"channel": "api"})

    assert validator.parse_line(raw) == Event(
        signal="alarms", entity="svc-a", ts=T10, value=3.0, id="evt-1", count=1.0, total=120.0,
        labels={"channel": "api"},
    )


def test_a_pre_aggregated_mean_keeps_its_count(validator: Validator) -> None:
    result = validator.check(event(signal="satisfaction", value=88.5, count=40, id=MISSING))

    assert result == Event(signal="satisfaction", entity="brand-x", ts=T10, value=88.5, id=None, count=40.0)


@pytest.mark.parametrize("fields", [
    pytest.param({"id": "x" * 200}, id="id of 200 characters"),
    pytest.param({"entity": "é" * 200}, id="entity of 200 characters"),
    pytest.param({"value": 0}, id="zero count"),
    pytest.param({"signal": "satisfaction", "value": 0}, id="bottom of the scale"),
    pytest.param({"signal": "satisfaction", "value": 100}, id="top of the scale"),
    pytest.param({"labels": None, "id": None}, id="null optional fields"),
])
def test_values_at_the_limits_are_accepted(validator: Validator, fields: dict[str, Any]) -> None:
    assert isinstance(validator.check(event(**fields)), Event)


def test_an_unbounded_scale_still_rejects_infinity_and_negative_counts(make_settings: Any) -> None:
    quiet = {"detectors": []}
    validator = Validator(make_settings(signals={
        "satisfaction": quiet, "mentions": quiet, "alarms": quiet,
        "level": {"aggregate": "mean", "bucket": "1d", "lateness": "1d", "resolve_after": "7d",
                  "scale": [float("-inf"), float("inf")]},
        "hits": {"aggregate": "sum", "bucket": "1h", "lateness": "1h", "resolve_after": "1d", "scale": [-5, 5]},
    }))

    assert isinstance(validator.check(event(signal="level", value=-1e300)), Event)
    assert validator.check(event(signal="level", value=float("inf"))) == "value must be finite, got inf"
    assert validator.check(event(signal="hits", value=-1)) == "value of a count signal (hits) must be >= 0, got -1"


def test_an_entity_is_checked_every_time_it_is_seen(validator: Validator) -> None:
    assert isinstance(validator.check(event(entity="svc-1")), Event)
    assert isinstance(validator.check(event(entity="svc-1")), Event)
    assert validator.check(event(entity="svc\x00")) == "entity must be 1-200 printable characters, got 'svc\\x00'"
    assert validator.check(event(entity="svc\x00")) == "entity must be 1-200 printable characters, got 'svc\\x00'"


def test_a_custom_mean_signal_is_checked_against_its_own_scale(make_settings: Any) -> None:
    quiet = {"detectors": []}
    validator = Validator(make_settings(signals={
        "satisfaction": quiet, "mentions": quiet, "alarms": quiet,
        "nps": {"aggregate": "mean", "bucket": "1d", "lateness": "1d", "resolve_after": "7d", "scale": [-100, 100]},
    }))

    assert isinstance(validator.check(event(signal="nps", value=-40)), Event)
    assert validator.check(event(signal="nps", value=120)) == "value 120 is outside the nps scale [-100, 100]"
