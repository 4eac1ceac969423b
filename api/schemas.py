"""Request and response schemas, one family per resource, with OpenAPI examples."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from warning.alerts import Alert

# Every field set: FastAPI drops null values from the examples it serves, which would leave the
# served example without required fields.
ALERT_EXAMPLE: dict[str, Any] = {
    "id": "alr_3f9a1c0d2b7e8a6f4c21", "kind": "exponential_growth", "rule": "mentions.exponential_growth",
    "signal": "mentions", "entity": "brand-x", "severity": "severe", "status": "resolved",
    "raised_at": "2026-11-20T10:00:00Z", "last_seen_at": "2026-11-20T13:00:00Z",
    "response_due_at": "2026-11-20T16:00:00Z", "cleared_at": "2026-11-21T02:00:00Z",
    "resolved_at": "2026-11-22T02:00:00Z", "crisis_type": "communication_failure",
    "message": "complaints doubling every 9.1 h, 4.1x normal, 100x projected in 27 h",
    "evidence": {"growth_rate_per_hour": 0.076, "doubling_time_hours": 9.1, "multiple": 4.1,
                 "hours_to_10x": 11.7, "hours_to_100x": 27.9, "p_value": 1e-9},
    "version": 4,
}
EVENT_EXAMPLE: dict[str, Any] = {"id": "evt-81f2", "ts": "2026-11-20T10:00:00Z", "signal": "mentions",
                                 "entity": "brand-x", "value": 42, "labels": {"channel": "weibo"}}


class AlertRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})

    id: str
    kind: str
    rule: str
    signal: str
    entity: str
    severity: Literal["minor", "moderate", "severe"]
    status: Literal["open", "acknowledged", "responding", "resolved", "reviewed"]
    raised_at: str = Field(description="event time of the first firing (RFC 3339)")
    last_seen_at: str
    response_due_at: str = Field(description="raised_at + the response clock (6 h by default)")
    cleared_at: str | None
    resolved_at: str | None
    crisis_type: str | None
    message: str
    evidence: dict[str, Any]
    version: int

    @classmethod
    def of(cls, alert: Alert) -> AlertRead:
        return cls.model_validate(alert.to_json())


class AlertPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [ALERT_EXAMPLE],
        "next_cursor": "WyIyMDI2LTExLTIwVDEwOjAwOjAwKzAwOjAwIiwiYWxyXzNmOWExYzBkMmI3ZThhNmY0YzIxIl0",
    }]})

    items: list[AlertRead]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class RejectedItem(BaseModel):
    index: int = Field(description="position of the event in the request (0 for a single object)")
    kind: Literal["invalid", "late"]
    reason: str


class EventsReceipt(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 2, "duplicates": [3], "rejected": [
            {"index": 1, "kind": "invalid", "reason": "missing field 'ts'"},
            {"index": 4, "kind": "late", "reason": "late: its bucket 2026-11-20T09:00:00Z closed when the "
                                                    "series reached 2026-11-20T11:30:00Z (allowed lateness 3600 s)"},
        ]}]})

    accepted: int = Field(description="events merged into their buckets and stored")
    duplicates: list[int] = Field(description="indexes of events whose id was already accepted (ignored)")
    rejected: list[RejectedItem] = Field(description="indexes and reasons of events not merged (dead-lettered)")


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok", "series": 1520}]})

    status: Literal["ok", "unavailable"]
    database: str
    series: int


class ErrorDetail(BaseModel):
    type: str = Field(description="stable machine-readable kind: not_found, bad_request, payload_too_large, "
                                  "storage_unavailable, ...")
    message: str = Field(description="what went wrong, for people")


class ErrorBody(BaseModel):
    """The body of every error Tocsin answers on purpose (api/errors.py)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"type": "not_found", "message": "no alert with id 'alr_3f9a1c0d2b7e8a6f4c21'"}},
    ]})

    error: ErrorDetail


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for an error answered with :class:`ErrorBody`."""
    return {"model": ErrorBody, "description": description}
