"""Schemas of the response workflow: operators' requests, an alert's workflow and timeline.

Nullable fields default to None: FastAPI drops nulls from the examples it serves, and a
served example must still validate.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import ALERT_EXAMPLE, AlertRead, ErrorDetail
from warning.response import Workflow
from warning.timefmt import rfc3339
from warning.timeline import TimelineEntry


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text on one line (no control characters)")
    return value


Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                   AfterValidator(_printable)]
Comment = Annotated[str, StringConstraints(max_length=2000)]


class ChangeRequest(BaseModel):
    """Why a change is made. Who makes it is the API key's owner, never a field of the body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"comment": "complaints on weibo confirmed; opening a bridge"},
    ]})

    comment: Comment | None = Field(None, description="why, for the timeline (at most 2000 characters)")


class RoleRequest(ChangeRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Ana Ruiz", "comment": "Ana leads this one"},
    ]})

    name: Person = Field(description="who takes the role (1-200 printable characters)")


class RoleRead(BaseModel):
    role: Literal["incident_commander", "information_officer", "technical_lead", "customer_care_lead",
                  "legal_adviser"]
    name: str
    assumed_at: str
    assumed_by: str
    renounced_at: str | None = Field(None, description="null while the person holds the role")
    renounced_by: str | None = None


class StageRead(BaseModel):
    stage: Literal["alert_response", "assessment", "resource_allocation", "action", "effect_tracking",
                   "post_mortem_review"]
    reached_at: str
    owner: str = Field(description="the actor of the change that reached the stage")


class NoticeRead(BaseModel):
    id: str
    type: str = Field(description="alert.raised, alert.escalation, alert.overdue, alert.resolved, ...")
    state: Literal["pending", "sent", "cancelled"]
    due_at: str
    elapsed_hours: float | None = Field(None, description="clock notices: hours after the alert was raised")
    sent_at: str | None = None
    cancelled_at: str | None = None


def _at(hours: str) -> str:
    return f"2026-11-20T{hours}:00Z"


WORKFLOW_EXAMPLE: dict[str, Any] = {
    "alert": {**ALERT_EXAMPLE, "cleared_at": _at("14:00"), "resolved_at": _at("15:10"), "version": 8},
    "allowed": ["review"],
    "roles": [
        {"role": "incident_commander", "name": "Ana Ruiz", "assumed_at": _at("10:40"), "assumed_by": "Duty desk"},
        {"role": "information_officer", "name": "Li Wei", "assumed_at": _at("11:05"), "assumed_by": "Ana Ruiz",
         "renounced_at": _at("13:00"), "renounced_by": "Ana Ruiz"},
    ],
    "stages": [
        {"stage": "alert_response", "reached_at": _at("10:20"), "owner": "Duty desk"},
        {"stage": "assessment", "reached_at": _at("10:40"), "owner": "Duty desk"},
        {"stage": "resource_allocation", "reached_at": _at("11:05"), "owner": "Ana Ruiz"},
        {"stage": "action", "reached_at": _at("13:45"), "owner": "Ana Ruiz"},
        {"stage": "effect_tracking", "reached_at": _at("15:10"), "owner": "Ana Ruiz"},
    ],
    "notices": [
        {"id": "alr_3f9a1c0d2b7e8a6f4c21/v1", "type": "alert.raised", "state": "sent", "due_at": _at("10:00"),
         "sent_at": _at("10:00")},
        {"id": "alr_3f9a1c0d2b7e8a6f4c21/escalation-3h", "type": "alert.escalation", "state": "sent",
         "due_at": _at("13:00"), "elapsed_hours": 3.0, "sent_at": _at("13:00")},
        {"id": "alr_3f9a1c0d2b7e8a6f4c21/escalation-5h", "type": "alert.escalation", "state": "cancelled",
         "due_at": _at("15:00"), "elapsed_hours": 5.0, "cancelled_at": _at("13:45")},
    ],
}


class WorkflowRead(BaseModel):
    """An alert and where its response stands: what may be done next, who holds which role
    (past holders too), the stages reached and the clock's notices."""

    model_config = ConfigDict(json_schema_extra={"examples": [WORKFLOW_EXAMPLE]})

    alert: AlertRead
    allowed: list[Literal["acknowledge", "respond", "resolve", "review"]] = Field(
        description="the moves allowed from the alert's current state")
    roles: list[RoleRead]
    stages: list[StageRead] = Field(description="the stages reached, in the order of the response")
    notices: list[NoticeRead]

    @classmethod
    def of(cls, w: Workflow) -> WorkflowRead:
        def opt(ts: float | None) -> str | None:
            return None if ts is None else rfc3339(ts)

        return cls(
            alert=AlertRead.of(w.alert),
            allowed=w.allowed,
            roles=[RoleRead(role=t.role.value, name=t.name, assumed_at=rfc3339(t.assumed_at),
                            assumed_by=t.assumed_by, renounced_at=opt(t.renounced_at),
                            renounced_by=t.renounced_by) for t in w.roles],
            stages=[StageRead(stage=s.stage.value, reached_at=rfc3339(s.reached_at), owner=s.owner)
                    for s in w.stages],
            notices=[NoticeRead(id=n.id, type=n.type, state=n.state, due_at=rfc3339(n.due_at.timestamp()),
                                elapsed_hours=n.payload.get("elapsed_hours"),
                                sent_at=opt(n.sent_at.timestamp() if n.sent_at else None),
                                cancelled_at=opt(n.cancelled_at.timestamp() if n.cancelled_at else None))
                     for n in w.notices],
        )


class TimelineEntryRead(BaseModel):
    at: str
    event: str = Field(description="detection.<reason>, status.<status>, role.assumed, role.renounced, "
                                   "stage.reached, notice.sent or notice.cancelled")
    actor: str | None = None
    comment: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class TimelineRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alert_id": "alr_3f9a1c0d2b7e8a6f4c21",
        "entries": [
            {"at": _at("10:00"), "event": "detection.raised", "details": {"severity": "moderate", "version": 1}},
            {"at": _at("10:00"), "event": "notice.sent",
             "details": {"id": "alr_3f9a1c0d2b7e8a6f4c21/v1", "type": "alert.raised", "due_at": _at("10:00")}},
            {"at": _at("10:20"), "event": "status.acknowledged", "actor": "Duty desk", "comment": "looking",
             "details": {"action": "acknowledge", "from": "open", "to": "acknowledged", "version": 3}},
            {"at": _at("10:20"), "event": "stage.reached", "actor": "Duty desk",
             "details": {"stage": "alert_response"}},
            {"at": _at("10:40"), "event": "role.assumed", "actor": "Duty desk",
             "details": {"role": "incident_commander", "name": "Ana Ruiz"}},
        ],
    }]})

    alert_id: str
    entries: list[TimelineEntryRead] = Field(description="everything that happened to the alert, in time order")

    @classmethod
    def of(cls, alert_id: str, entries: list[TimelineEntry]) -> TimelineRead:
        return cls(alert_id=alert_id, entries=[
            TimelineEntryRead(at=rfc3339(e.at), event=e.event, actor=e.actor, comment=e.comment, details=e.details)
            for e in entries
        ])


class ConflictDetail(ErrorDetail):
    current: str | None = Field(None, description="invalid_transition: the alert's state")
    allowed: list[str] | None = Field(None, description="invalid_transition: the moves allowed from it")
    role: str | None = Field(None, description="missing_role, role_not_held: the role concerned")


class ConflictBody(BaseModel):
    """A 409: the request is valid but the alert's state does not allow it."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"type": "invalid_transition", "current": "acknowledged", "allowed": ["respond", "resolve"],
                   "message": "cannot acknowledge an alert that is acknowledged; allowed from acknowledged: "
                              "respond, resolve"}},
        {"error": {"type": "missing_role", "role": "incident_commander",
                   "message": "cannot respond to alert 'alr_3f9a1c0d2b7e8a6f4c21' without an incident commander: "
                              "PUT /v1/alerts/alr_3f9a1c0d2b7e8a6f4c21/roles/incident_commander first"}},
    ]})

    error: ConflictDetail


def conflict_response(description: str) -> dict[str, Any]:
    return {"model": ConflictBody, "description": description}
