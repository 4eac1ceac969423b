"""Webhook subscriptions: who receives which notices.

A subscription names a target URL and filters; a notice goes to every enabled subscription
whose filters it passes (:meth:`Filters.matches`). Every filter left empty matches
everything, so ``{}`` subscribes to all notices. The filters read the notice's payload
(:meth:`warning.notices.Notice.payload`): its ``type`` and the alert as it stood.

A subscription is disabled when its target answers 410 Gone (the receiver says it is gone
for good); it then gets no new deliveries, and its pending ones wait until it is enabled
again (``PATCH {"enabled": true}``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Severity

# Every type a notice can have (warning.notices): what ``event_types`` may name.
EVENT_TYPES = (
    "alert.raised", "alert.severity_raised", "alert.cleared", "alert.refired", "alert.resolved",
    "alert.acknowledged", "alert.responding", "alert.reviewed", "alert.escalation", "alert.overdue",
)
SEVERITIES = tuple(s.name for s in Severity)


@dataclass(slots=True, frozen=True)
class Filters:
    event_types: tuple[str, ...] = ()
    min_severity: str | None = None
    signals: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.event_types) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
        if self.min_severity is not None and self.min_severity not in SEVERITIES:
            raise ValueError(f"min_severity must be one of {list(SEVERITIES)}, got {self.min_severity!r}")

    def matches(self, notice: Mapping[str, Any]) -> bool:
        """Does the notice ``payload`` pass every filter?"""
        alert = notice.get("alert") or {}
        if self.event_types and notice.get("type") not in self.event_types:
            return False
        if self.signals and alert.get("signal") not in self.signals:
            return False
        if self.entities and notice.get("entity") not in self.entities:
            return False
        if self.min_severity is not None:
            severity = alert.get("severity")
            if severity not in SEVERITIES or SEVERITIES.index(severity) < SEVERITIES.index(self.min_severity):
                return False
        return True


@dataclass(slots=True, frozen=True)
class Subscription:
    id: str
    url: str
    filters: Filters
    enabled: bool
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    description: str | None = None
    disabled_reason: str | None = None
    secret: str = field(default="", repr=False)
    previous_secret: str | None = field(default=None, repr=False)  # rotated out, signs until it expires
    previous_secret_expires_at: dt.datetime | None = None

    def signing_secrets(self, now: dt.datetime) -> tuple[str, ...]:
        """The secrets that sign at ``now``: the current one, and the previous during its grace."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(slots=True, frozen=True)
class Attempt:
    at: dt.datetime
    outcome: str  # delivered | retry | dead | gone
    status_code: int | None
    error: str | None
    reason: str | None  # the failure reason (metrics label), None when delivered
    duration_seconds: float
    next_attempt_at: dt.datetime | None


@dataclass(slots=True, frozen=True)
class Delivery:
    id: int
    webhook_id: str
    subscription_id: str
    type: str
    state: str  # pending | delivered | dead
    alert_id: str | None
    notice_id: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_error: str | None
    event: dict[str, Any]
    attempts: tuple[Attempt, ...] = ()
