"""Schemas of crises: what a crisis looks like, operators' requests on it, its post-mortem.

Nullable fields default to None: FastAPI drops nulls from the examples it serves, and a
served example must still validate.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import ALERT_EXAMPLE, AlertRead, ErrorDetail
from api.workflow_schemas import Comment, Person
from warning.crisis_response import CrisisView, ReviewInput
from warning.storage.crises import Review
from warning.timefmt import rfc3339

CrisisType = Literal["product_defect", "service_outage", "communication_failure"]
Remedy = Literal["apology", "refund", "discount", "free_service", "replacement", "process_change"]
Level = Literal["none", "minor", "moderate", "severe"]
Status = Literal["open", "acknowledged", "responding", "resolved", "reviewed"]
Move = Literal["acknowledge", "respond", "resolve", "review"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Lesson = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not list a value twice")
    return values


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# -- requests -----------------------------------------------------------------------------------


class CrisisChange(BaseModel):
    """Why, for the alerts' timelines. The actor is the caller (its API key's owner)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"comment": "complaints and call-centre alarms are one incident; bridge opened"}]})

    comment: Comment | None = Field(None, description="why, for the timeline (at most 2000 characters)")


class CrisisRoleRequest(CrisisChange):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Ana Ruiz", "comment": "Ana leads this one"}]})

    name: Person = Field(description="who takes the role on each alert under response (1-200 printable characters)")


class CrisisTypeRequest(CrisisChange):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"crisis_type": "service_outage", "comment": "the policy system is down, not the product"}]})

    crisis_type: CrisisType


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[float, Field(ge=0), AfterValidator(_finite)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 4217, e.g. EUR")


class ImpactNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class Impact(BaseModel):
    """The playbook's three dimensions of impact, and the customers lost, each where known."""

    model_config = ConfigDict(extra="forbid")

    financial: Money | None = Field(None, description="what the crisis cost")
    brand: ImpactNote | None = Field(None, description="reputation: coverage, sentiment, trust")
    operational: ImpactNote | None = Field(None, description="service disruption, staff time, backlog")
    customers_lost: int | None = Field(None, ge=0, description="customers who left because of the crisis")


REVIEW_EXAMPLE: dict[str, Any] = {
    "summary": "A policy-system outage left claims unanswered for five hours; complaints spread on weibo.",
    "root_cause": "An expired TLS certificate on the claims gateway.",
    "crisis_type": "service_outage",
    "impact": {"financial": {"amount": 120000, "currency": "EUR"},
               "brand": {"level": "moderate", "description": "two news articles, negative sentiment for a day"},
               "operational": {"level": "severe", "description": "claims backlog of 3 days"},
               "customers_lost": 40},
    "remedies": ["apology", "refund", "process_change"],
    "lessons": ["Monitor certificate expiry", "Name a spokesperson within the first hour"],
}


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [REVIEW_EXAMPLE]})

    summary: Text
    root_cause: Text
    crisis_type: CrisisType = Field(description="also becomes the crisis' operator-set type")
    impact: Impact
    remedies: Annotated[list[Remedy], AfterValidator(_unique)] = Field(
        default_factory=list, description="the remedies taken, each at most once")
    lessons: Annotated[list[Lesson], Field(max_length=50)] = Field(default_factory=list)

    def to_input(self) -> ReviewInput:
        return ReviewInput(self.summary, self.root_cause, self.crisis_type,
                           self.impact.model_dump(exclude_none=True), list(self.remedies), list(self.lessons))


# -- answers ------------------------------------------------------------------------------------


MOVEMENT_EXAMPLE: dict[str, Any] = {
    "signal": "mentions", "aggregate": "sum", "response_started_at": "2026-11-20T15:00:00Z",
    "verdict": "stopped_growing",
    "summary": "mentions was doubling every 3.88 h; after the response it fell 90.6 % a day; projected 230 by "
               "2026-11-20T22:30:00Z, observed 38.0: stopped growing",
    "before_buckets": 7, "after_buckets": 8, "before_change_per_day": 72.05, "after_change_per_day": -0.906,
    "doubling_hours": 3.88, "baseline": 21.0, "projected": 229.8, "observed": 38.0,
    "observed_at": "2026-11-20T22:30:00Z",
}


class MovementRead(BaseModel):
    signal: str
    aggregate: Literal["sum", "mean"]
    response_started_at: str
    verdict: Literal["stopped_growing", "recovered", "still_worsening", "not_enough_data"]
    summary: str
    before_buckets: int
    after_buckets: int
    before_change_per_day: float | None = Field(
        None, description="trend before the response: sums relative (0.5 = +50 % a day), means in units a day")
    after_change_per_day: float | None = None
    doubling_hours: float | None = Field(None, description="sums growing before the response")
    baseline: float | None = Field(None, description="the usual level before the crisis (median)")
    projected: float | None = Field(None, description="where the trend before the response led, at observed_at")
    observed: float | None = None
    observed_at: str | None = None

    @classmethod
    def of(cls, m: dict[str, Any]) -> MovementRead:
        times = {k: rfc3339(m[k]) for k in ("response_started_at", "observed_at") if m.get(k) is not None}
        return cls.model_validate({**m, **times})


class ReviewRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **REVIEW_EXAMPLE, "movement": [MOVEMENT_EXAMPLE],
        "alert_ids": ["alr_3f9a1c0d2b7e8a6f4c21", "alr_81c2d0e4f5a6b7c8d9e0", "alr_0a1b2c3d4e5f60718293"],
        "reviewed_by": "Ana Ruiz", "reviewed_at": "2026-11-23T09:30:00Z",
    }]})

    summary: str
    root_cause: str
    crisis_type: CrisisType
    impact: Impact
    remedies: list[Remedy]
    lessons: list[str]
    movement: list[MovementRead] = Field(description="computed: how each signal moved after the response began")
    alert_ids: list[str] = Field(description="the alerts the crisis held when the review was recorded")
    reviewed_by: str
    reviewed_at: str

    @classmethod
    def of(cls, r: Review) -> ReviewRead:
        return cls(summary=r.summary, root_cause=r.root_cause, crisis_type=r.crisis_type,
                   impact=Impact.model_validate(r.impact), remedies=r.remedies,
                   lessons=r.lessons, movement=[MovementRead.of(m) for m in r.movement], alert_ids=r.alert_ids,
                   reviewed_by=r.reviewed_by, reviewed_at=rfc3339(r.reviewed_at))


class RoleHolderRead(BaseModel):
    role: Literal["incident_commander", "information_officer", "technical_lead", "customer_care_lead",
                  "legal_adviser"]
    name: str
    alert_ids: list[str] = Field(description="the alerts on which this person holds the role")


CRISIS_EXAMPLE: dict[str, Any] = {
    "id": "crs_3f9a1c0d2b7e8a6f4c21", "entity": "brand-x", "status": "responding", "severity": "severe",
    "fused_signals": 3, "signals": ["alarms", "mentions", "satisfaction"], "crisis_type": "service_outage",
    "type_source": "operator", "started_at": "2026-11-20T10:00:00Z", "active_until": "2026-11-20T16:00:00Z",
    "response_due_at": "2026-11-20T16:00:00Z",
    "alert_ids": ["alr_3f9a1c0d2b7e8a6f4c21", "alr_81c2d0e4f5a6b7c8d9e0", "alr_0a1b2c3d4e5f60718293"],
    "allowed": ["resolve"], "reviewed": False,
}


class CrisisRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CRISIS_EXAMPLE]})

    id: str = Field(description="crs_ and the digest of its first alert's id: stable across reads and restarts")
    entity: str
    status: Status = Field(description="where its least advanced alert stands")
    severity: Literal["minor", "moderate", "severe"] = Field(
        description="the worst alert's, raised by fusion: 2 signals at once at least moderate, 3 severe")
    fused_signals: int = Field(description="the most distinct signals with an alert active at one moment")
    signals: list[str]
    crisis_type: CrisisType | None = None
    type_source: Literal["operator", "entity", "alert"] | None = Field(
        None, description="operator-set, the entity's configuration, or the rules' when the alerts were raised")
    started_at: str = Field(description="when its first alert was raised")
    active_until: str = Field(description="the latest activity (last firing or clearing) of its alerts")
    response_due_at: str = Field(description="the crisis' clock: its earliest alert's deadline")
    alert_ids: list[str]
    allowed: list[Move] = Field(description="moves allowed on at least one of its alerts; review (PUT .../review) "
                                            "once every alert is resolved")
    reviewed: bool = Field(description="a post-mortem review is recorded")

    @classmethod
    def of(cls, v: CrisisView) -> CrisisRead:
        return cls.model_validate(_summary(v))


class CrisisDetail(CrisisRead):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **CRISIS_EXAMPLE, "alerts": [ALERT_EXAMPLE],
        "roles": [{"role": "incident_commander", "name": "Ana Ruiz", "alert_ids": CRISIS_EXAMPLE["alert_ids"]}],
    }]})

    alerts: list[AlertRead]
    roles: list[RoleHolderRead] = Field(description="current holders over all its alerts")
    review: ReviewRead | None = None

    @classmethod
    def of(cls, v: CrisisView) -> CrisisDetail:
        return cls.model_validate({
            **_summary(v), "alerts": [a.to_json() for a in v.crisis.alerts],
            "roles": [{"role": r.role.value, "name": r.name, "alert_ids": r.alert_ids} for r in v.roles],
            "review": None if v.review is None else ReviewRead.of(v.review),
        })


class CrisisPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [CRISIS_EXAMPLE], "next_cursor": None}]})

    items: list[CrisisRead]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last page")


# The answer to POST .../resolve: both alerts are now resolved, so the post-mortem is the next move.
SURGE_ALERT_EXAMPLE: dict[str, Any] = {
    **ALERT_EXAMPLE, "id": "alr_81c2d0e4f5a6b7c8d9e0", "kind": "rate_surge", "rule": "alarms.rate_surge",
    "signal": "alarms", "severity": "moderate", "raised_at": "2026-11-20T10:35:00Z",
    "last_seen_at": "2026-11-20T12:10:00Z", "response_due_at": "2026-11-20T16:35:00Z",
    "cleared_at": "2026-11-20T14:10:00Z", "resolved_at": "2026-11-22T09:15:00Z", "crisis_type": "service_outage",
    "message": "alarm rate 6.2x normal over 4 buckets (7.4 vs 1.20 per bucket)",
    "evidence": {"expected_rate": 1.2, "observed_rate": 7.4, "multiple": 6.2, "p_value": 3.1e-8, "buckets": 4,
                 "dispersion": 1.1, "strength_unit": "multiple"},
    "version": 5,
}
RESOLVED_CRISIS_EXAMPLE: dict[str, Any] = {
    **CRISIS_EXAMPLE, "status": "resolved", "fused_signals": 2, "signals": ["alarms", "mentions"],
    "active_until": "2026-11-21T02:00:00Z", "alert_ids": [ALERT_EXAMPLE["id"], SURGE_ALERT_EXAMPLE["id"]],
    "allowed": ["review"], "alerts": [ALERT_EXAMPLE, SURGE_ALERT_EXAMPLE],
    "roles": [{"role": "incident_commander", "name": "Ana Ruiz",
               "alert_ids": [ALERT_EXAMPLE["id"], SURGE_ALERT_EXAMPLE["id"]]}],
}


class CrisisChangeRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"crisis": RESOLVED_CRISIS_EXAMPLE, "changed": [SURGE_ALERT_EXAMPLE["id"]]}]})

    crisis: CrisisDetail
    changed: list[str] = Field(description="the alerts the change applied to (the others did not allow it)")


class CrisisConflictDetail(ErrorDetail):
    allowed: list[str] | None = Field(None, description="invalid_transition: moves allowed on some alert")
    alerts: list[dict[str, Any]] | None = Field(None, description="each alert concerned, with its status "
                                                                  "(and, for invalid_transition, its allowed moves)")
    role: str | None = Field(None, description="missing_role, role_not_held: the role concerned")


class CrisisConflictBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"type": "invalid_transition", "allowed": ["review"],
                   "alerts": [{"id": "alr_3f9a1c0d2b7e8a6f4c21", "status": "resolved", "allowed": ["review"]}],
                   "message": "cannot acknowledge any of the alerts (states: resolved); allowed on some of them: "
                              "review"}},
        {"error": {"type": "crisis_not_resolved",
                   "alerts": [{"id": "alr_3f9a1c0d2b7e8a6f4c21", "status": "responding"}],
                   "message": "crisis 'crs_3f9a1c0d2b7e8a6f4c21' has alerts not yet resolved "
                              "(alr_3f9a1c0d2b7e8a6f4c21: responding); resolve them first"}},
    ]})

    error: CrisisConflictDetail


def conflict_response(description: str) -> dict[str, Any]:
    return {"model": CrisisConflictBody, "description": description}


def _summary(v: CrisisView) -> dict[str, Any]:
    c = v.crisis
    return {
        "id": c.id, "entity": c.entity, "status": c.status.value, "severity": c.severity.name,
        "fused_signals": c.fused_signals, "signals": c.signals, "crisis_type": v.crisis_type,
        "type_source": None if v.type_source is None else v.type_source.value,
        "started_at": rfc3339(c.started_at), "active_until": rfc3339(c.active_until),
        "response_due_at": rfc3339(c.response_due_at), "alert_ids": [a.id for a in c.alerts],
        "allowed": v.allowed, "reviewed": v.review is not None,
    }
