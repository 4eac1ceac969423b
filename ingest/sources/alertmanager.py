"""Alertmanager's webhook (payload version 4) as a source of ``alarms`` events.

Each *firing* alert of a notification is one ``alarms`` event (value 1) of the entity
named by the first of ``entity_labels`` the alert carries, at the alert's ``startsAt``:
the alarm rate Tocsin watches is the rate at which alerts start firing. Resolved alerts
are not counted.

Alertmanager sends a firing alert again with every notification of its group (each
``group_interval`` while the group changes, each ``repeat_interval`` otherwise), and both
members of an HA pair send it. The event id is derived from the alert's label set (what
Alertmanager's fingerprint hashes) and the instant of ``startsAt``, so ingest's
idempotency counts each firing once however often and by whichever Alertmanager it is
delivered; a new firing of the same alert has a new ``startsAt`` and counts again.

A notification's alerts are merged in time order (by ``startsAt``), so an older firing in
a group is never late against a newer one of the same notification.

Labels are carried over as event labels (which drive the evidence's ``contributors``),
except the one naming the entity, within the validator's bounds: labels over the size
limits are left out and at most ``MAX_LABELS`` are kept, in name order.

A payload that is not Alertmanager's (wrong version, an alert without labels or a valid
``startsAt``) raises :class:`PayloadError`; a firing alert with none of the entity labels
is a rejection of its own (answered and dead-lettered) so the rest of the group counts.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.intake import raw_text
from ingest.validate import MAX_LABEL_KEY, MAX_LABEL_VALUE, MAX_LABELS
from warning.events import Rejected
from warning.timefmt import rfc3339

SIGNAL = "alarms"
PAYLOAD_VERSION = "4"


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook payload; ``location`` points at the culprit."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


@dataclass(slots=True)
class Mapped:
    """A payload sorted for ingest; every index is the alert's position in ``alerts``."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (source, canonical event)
    indexes: list[int] = field(default_factory=list)  # the alert behind each record
    unmapped: list[tuple[int, Rejected]] = field(default_factory=list)  # firing, but no entity label
    resolved: list[int] = field(default_factory=list)  # not counted


def map_payload(payload: Any, entity_labels: Sequence[str], source: str) -> Mapped:
    """Alertmanager's webhook body to canonical events; ``source`` prefixes each record's source."""
    if not isinstance(payload, dict):
        raise PayloadError("body", "an Alertmanager webhook payload must be a JSON object")
    version = payload.get("version")
    if version != PAYLOAD_VERSION:
        raise PayloadError("body.version", f"expected webhook payload version '4', got {version!r}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("body.alerts", "must be an array of alerts")
    out = Mapped()
    fields = [_alert_fields(alert, f"body.alerts[{index}]") for index, alert in enumerate(alerts)]
    for index in sorted(range(len(alerts)), key=lambda i: fields[i][2]):
        status, labels, starts_at = fields[index]
        alert = alerts[index]
        if status == "resolved":
            out.resolved.append(index)
            continue
        where = f"{source} alerts[{index}]"
        entity_label = next((name for name in entity_labels if labels.get(name)), None)
        if entity_label is None:
            reason = (f"entity label missing: the alert has none of {', '.join(entity_labels)} "
                      "(setting alertmanager_entity_labels)")
            out.unmapped.append((index, Rejected(raw_text(alert), reason, where)))
            continue
        out.records.append((where, {
            "id": event_id(labels, starts_at),
            "ts": rfc3339(starts_at),
            "signal": SIGNAL,
            "entity": labels[entity_label],
            "value": 1,
            "labels": bounded_labels(labels, drop=entity_label),
        }))
        out.indexes.append(index)
    return out


def event_id(labels: dict[str, str], starts_at: float) -> str:
    """Names one firing of one alert: its label set and the instant it started."""
    identity = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS) + b"\x00" + repr(starts_at).encode()
    return "am_" + hashlib.blake2b(identity, digest_size=12).hexdigest()


def bounded_labels(labels: dict[str, str], *, drop: str) -> dict[str, str]:
    kept = {k: v for k, v in sorted(labels.items())
            if k != drop and len(k) <= MAX_LABEL_KEY and len(v) <= MAX_LABEL_VALUE}
    return dict(list(kept.items())[:MAX_LABELS])


def _alert_fields(alert: Any, where: str) -> tuple[str, dict[str, str], float]:
    if not isinstance(alert, dict):
        raise PayloadError(where, "each alert must be an object")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}.status", f"must be 'firing' or 'resolved', got {status!r}")
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not labels or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise PayloadError(f"{where}.labels", "must be a non-empty object of strings")
    return status, labels, _instant(alert.get("startsAt"), f"{where}.startsAt")


def _instant(value: Any, where: str) -> float:
    """Go writes RFC 3339 with nanoseconds and its own zone; the instant is what counts."""
    if not isinstance(value, str):
        raise PayloadError(where, "must be an RFC 3339 timestamp")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(where, f"is not an RFC 3339 timestamp: {value[:60]!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(where, f"needs a UTC offset: {value[:60]!r}")
    return parsed.timestamp()
