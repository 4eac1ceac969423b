"""Schemas of what the console reads beyond the workflow API: who is signed in, the clock
it counts down on, an alert's chart, and the monitored entities.

Examples set every field: FastAPI drops nulls from the examples it serves, which would leave
a required field out.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MeRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Duty desk", "scopes": ["read", "operate"]}]})

    name: str = Field(description="the key's owner: the actor of every change made with it")
    scopes: list[Literal["ingest", "read", "operate", "admin"]] = Field(description="what the key may do")


class ClockRead(BaseModel):
    """What the page needs to count down like the service does."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "now": "2026-11-20T11:42:05Z", "rate": 1.0, "response_hours": 6.0,
        "response_hours_by_severity": {"minor": 24.0}, "escalation_hours": [3.0, 5.0],
    }]})

    now: str = Field(description="the service's clock now (RFC 3339): the countdowns' reference")
    rate: float = Field(description="service seconds per wall-clock second: 1 live, more in `tocsin demo`")
    response_hours: float
    response_hours_by_severity: dict[str, float]
    escalation_hours: list[float] = Field(description="escalation points: the countdown turns amber, then red")


class BucketPoint(BaseModel):
    start: str
    value: float | None = Field(description="the bucket's sum or mean; null for an empty mean bucket")


class SeriesRead(BaseModel):
    """An alert's series around its firing, with the levels the rule judged it by."""

    # A rate_surge on 5-minute alarm buckets: fires above 3x the expected rate.
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alert_id": "alr_81c2d0e4f5a6b7c8d9e0", "signal": "alarms", "entity": "brand-x", "bucket_seconds": 300.0,
        "buckets": [{"start": f"2026-11-20T10:{minute:02d}:00Z", "value": value}
                    for minute, value in ((15, 1.0), (20, 2.0), (25, 1.0), (30, 6.0), (35, 9.0), (40, 8.0))],
        "baseline": 1.2, "threshold": 3.6, "direction": "above",
        "fired_at": "2026-11-20T10:35:00Z", "cleared_at": "2026-11-20T14:10:00Z",
    }]})

    alert_id: str
    signal: str
    entity: str
    bucket_seconds: float
    buckets: list[BucketPoint] = Field(description="closed buckets, oldest first")
    baseline: float | None = Field(description="the level the rule expected (its evidence), if it says")
    threshold: float | None = Field(description="where the rule starts to fire, if it has a level")
    direction: Literal["above", "below"] | None = Field(description="the side of the threshold that fires")
    fired_at: str
    cleared_at: str | None


class SignalRead(BaseModel):
    signal: str
    state: Literal["normal", "watch", "alert"]
    recent: list[float | None] = Field(description="the newest closed buckets' values, oldest first (sparkline)")
    last_bucket: str | None
    alert_ids: list[str] = Field(description="its open, acknowledged or responding alerts")


class EntityRead(BaseModel):
    entity: str
    state: Literal["normal", "watch", "alert"] = Field(description="the worst state of its signals")
    signals: list[SignalRead]


class EntityPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"entity": "brand-x", "state": "alert", "signals": [
            {"signal": "alarms", "state": "alert", "recent": [1.0, 2.0, 1.0, 6.0, 9.0, 8.0],
             "last_bucket": "2026-11-20T10:40:00Z", "alert_ids": ["alr_81c2d0e4f5a6b7c8d9e0"]},
            {"signal": "satisfaction", "state": "normal", "recent": [86.5, 87.1, 85.9, 86.2],
             "last_bucket": "2026-11-19T00:00:00Z", "alert_ids": []},
        ]}],
        "total": 1,
    }]})

    items: list[EntityRead]
    total: int = Field(description="entities matching the search")
