"""Schemas of ``/v1/subscriptions``: subscriptions, their secret (shown once) and deliveries."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import ALERT_EXAMPLE
from warning.subscriptions import Attempt, Delivery, Filters, Subscription

EventType = Literal["alert.raised", "alert.severity_raised", "alert.cleared", "alert.refired", "alert.resolved",
                    "alert.acknowledged", "alert.responding", "alert.reviewed", "alert.escalation", "alert.overdue"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
FILTER_FIELDS = ("event_types", "min_severity", "signals", "entities")
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "sub_5b1e0c9a7d3f2e4a8c6b", "url": "https://hooks.example.com/tocsin", "description": "duty desk",
    "event_types": ["alert.raised", "alert.escalation", "alert.overdue"], "min_severity": "moderate",
    "signals": [], "entities": ["brand-x"], "enabled": True, "disabled_reason": "",
    "previous_secret_expires_at": "2026-11-21T10:00:00Z", "created_at": "2026-11-20T10:00:00Z",
    "created_by": "local", "updated_at": "2026-11-20T10:00:00Z",
}


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


class SubscriptionCreate(BaseModel):
    """Empty filters match everything: ``{"url": ...}`` alone subscribes to every notice."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "url": "https://hooks.example.com/tocsin", "description": "duty desk",
        "event_types": ["alert.raised", "alert.escalation", "alert.overdue"], "min_severity": "moderate",
        "entities": ["brand-x"]}]})

    url: Url = Field(description="http(s) target; checked against the URL policy (see the README)")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    event_types: list[EventType] = Field([], description="notice types to send; empty: all")
    min_severity: Literal["minor", "moderate", "severe"] | None = Field(
        None, description="only alerts at least this severe; null: all")
    signals: list[Name] = Field([], max_length=1000, description="only alerts on these signals; empty: all")
    entities: list[Name] = Field([], max_length=1000, description="only alerts on these entities; empty: all")

    def filters(self) -> Filters:
        return Filters(tuple(self.event_types), self.min_severity, tuple(self.signals), tuple(self.entities))


class SubscriptionUpdate(BaseModel):
    """Only the fields given change; a filter given replaces that filter whole."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True,
                                                                               "min_severity": "severe"}]})

    url: Url | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    enabled: bool | None = Field(None, description="true re-enables a subscription disabled by a 410")
    event_types: list[EventType] | None = None
    min_severity: Literal["minor", "moderate", "severe"] | None = None
    signals: list[Name] | None = Field(None, max_length=1000)
    entities: list[Name] | None = Field(None, max_length=1000)

    def filters(self, current: Filters) -> Filters | None:
        given = self.model_fields_set & set(FILTER_FIELDS)
        if not given:
            return None
        return Filters(
            tuple(self.event_types or ()) if "event_types" in given else current.event_types,
            self.min_severity if "min_severity" in given else current.min_severity,
            tuple(self.signals or ()) if "signals" in given else current.signals,
            tuple(self.entities or ()) if "entities" in given else current.entities,
        )


class RotateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"grace_hours": 24}]})

    grace_hours: float = Field(24.0, ge=0, le=24 * 30,
                               description="how long the previous secret keeps signing beside the new one")


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

    id: str
    url: str
    description: str | None = None
    event_types: list[str]
    min_severity: str | None = None
    signals: list[str]
    entities: list[str]
    enabled: bool
    disabled_reason: str | None = Field(None, description="why it was disabled (a 410, or over the API)")
    previous_secret_expires_at: str | None = Field(None, description="while set, the previous secret signs too")
    created_at: str
    created_by: str
    updated_at: str

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionRead:
        return cls(id=s.id, url=s.url, description=s.description, event_types=list(s.filters.event_types),
                   min_severity=s.filters.min_severity, signals=list(s.filters.signals),
                   entities=list(s.filters.entities), enabled=s.enabled, disabled_reason=s.disabled_reason,
                   previous_secret_expires_at=_time(s.previous_secret_expires_at), created_at=_time(s.created_at) or "",
                   created_by=s.created_by, updated_at=_time(s.updated_at) or "")


class SubscriptionWithSecret(SubscriptionRead):
    """The answer to creation and rotation: the only time the secret is shown."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **SUBSCRIPTION_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]})

    secret: str = Field(description="whsec_...: verify signatures with it; it is not shown again")

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionWithSecret:
        return cls(**SubscriptionRead.of(s).model_dump(), secret=s.secret)


class SubscriptionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SUBSCRIPTION_EXAMPLE]}]})

    items: list[SubscriptionRead]


class AttemptRead(BaseModel):
    at: str
    outcome: Literal["delivered", "retry", "dead", "gone"]
    status_code: int | None = None
    error: str | None = None
    reason: str | None = Field(None, description="the failure's class, as in tocsin_webhook_failures_total")
    duration_seconds: float
    next_attempt_at: str | None = None

    @classmethod
    def of(cls, a: Attempt) -> AttemptRead:
        return cls(at=_time(a.at) or "", outcome=a.outcome, status_code=a.status_code,
                   error=a.error, reason=a.reason, duration_seconds=round(a.duration_seconds, 6),
                   next_attempt_at=_time(a.next_attempt_at))


DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": 4711, "webhook_id": "msg_2Zb8c1f0a9e34d7b6c5a", "type": "io.tocsin.alert.raised", "state": "delivered",
    "alert_id": ALERT_EXAMPLE["id"], "notice_id": f"{ALERT_EXAMPLE['id']}/v1", "created_at": "2026-11-20T10:05:00Z",
    "next_attempt_at": "2026-11-20T10:05:05Z", "delivered_at": "2026-11-20T10:05:05Z",
    "last_error": "503 Service Unavailable",
    "attempts": [
        {"at": "2026-11-20T10:05:00Z", "outcome": "retry", "status_code": 503, "error": "503 Service Unavailable",
         "reason": "server_error", "duration_seconds": 0.041, "next_attempt_at": "2026-11-20T10:05:05Z"},
        {"at": "2026-11-20T10:05:05Z", "outcome": "delivered", "status_code": 204, "error": "", "reason": "",
         "duration_seconds": 0.038, "next_attempt_at": "2026-11-20T10:05:05Z"},
    ],
    "event": {"specversion": "1.0", "id": "msg_2Zb8c1f0a9e34d7b6c5a", "source": "/tocsin",
              "type": "io.tocsin.alert.raised", "subject": ALERT_EXAMPLE["id"], "time": "2026-11-20T10:05:00Z",
              "datacontenttype": "application/json",
              "data": {"alert": ALERT_EXAMPLE, "notice_id": f"{ALERT_EXAMPLE['id']}/v1", "reason": "new alert"}},
}


class DeliveryRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERY_EXAMPLE]})

    id: int
    webhook_id: str = Field(description="the webhook-id header and CloudEvents id, the same on every attempt")
    type: str
    state: Literal["pending", "delivered", "dead"] = Field(description="dead: the retries ran out (dead-lettered)")
    alert_id: str | None = None
    notice_id: str | None = None
    created_at: str
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    last_error: str | None = None
    attempts: list[AttemptRead]
    event: dict[str, Any] = Field(description="the CloudEvent sent")

    @classmethod
    def of(cls, d: Delivery) -> DeliveryRead:
        return cls(id=d.id, webhook_id=d.webhook_id, type=d.type, state=d.state,
                   alert_id=d.alert_id, notice_id=d.notice_id, created_at=_time(d.created_at) or "",
                   next_attempt_at=_time(d.next_attempt_at) if d.state == "pending" else None,
                   delivered_at=_time(d.delivered_at), last_error=d.last_error,
                   attempts=[AttemptRead.of(a) for a in d.attempts], event=d.event)


class DeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [DELIVERY_EXAMPLE], "next_before": 4711}]})

    items: list[DeliveryRead]
    next_before: int | None = Field(description="pass as ?before= for older deliveries; null on the last page")
