"""The response workflow over HTTP: moves, roles, and what an alert's response looks like.

Each route fetches its inputs, calls one :mod:`warning.response` function and returns its
schema; the rules (the table of allowed moves, roles, stages, the clock) live there. Changes
need the ``operate`` scope and are recorded under the caller's key owner; reads need ``read``.
The body of a move or of renouncing a role is optional (it only carries a comment).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OperateAccess, Principal, ReadAccess
from api.deps import ClockDep, DatabaseDep, IngestDep
from api.schemas import error_response
from api.workflow_schemas import ChangeRequest, RoleRequest, TimelineRead, WorkflowRead, conflict_response
from warning import response
from warning.workflow import Action, Role

router = APIRouter(prefix="/v1/alerts", tags=["workflow"], responses={
    404: error_response("no alert with this id"),
    422: error_response("a parameter or the body is invalid; the message names it"),
})
WRITE: dict[int | str, dict[str, Any]] = {503: error_response("the database is unavailable; nothing was changed, retry")}
MOVED: dict[int | str, dict[str, Any]] = {**WRITE, 409: conflict_response("the move is not allowed from the alert's state (the answer lists "
                                         "the allowed moves), or a role it needs is missing")}
ROLES: dict[int | str, dict[str, Any]] = {**WRITE, 409: conflict_response("nobody holds the role, or the alert needs it while responding")}


def _move(ingest: IngestDep, clock: ClockDep, alert_id: str, action: Action, caller: Principal,
          body: ChangeRequest | None) -> WorkflowRead:
    return WorkflowRead.of(response.move(ingest, alert_id=alert_id, action=action, actor=caller.name,
                                         comment=body.comment if body else None, now=clock.now()))


@router.post("/{alert_id}/acknowledge", response_model=WorkflowRead, responses=MOVED,
             summary="Acknowledge an alert: someone has seen it (open -> acknowledged)")
def acknowledge(alert_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
                body: ChangeRequest | None = None) -> WorkflowRead:
    return _move(ingest, clock, alert_id, Action.acknowledge, caller, body)


@router.post("/{alert_id}/respond", response_model=WorkflowRead, responses=MOVED,
             summary="Start the response (-> responding); needs an incident commander; stops the clock")
def respond(alert_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
            body: ChangeRequest | None = None) -> WorkflowRead:
    return _move(ingest, clock, alert_id, Action.respond, caller, body)


@router.post("/{alert_id}/resolve", response_model=WorkflowRead, responses=MOVED,
             summary="Resolve an alert; the rule's next firing raises a new alert")
def resolve(alert_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
            body: ChangeRequest | None = None) -> WorkflowRead:
    return _move(ingest, clock, alert_id, Action.resolve, caller, body)


@router.post("/{alert_id}/review", response_model=WorkflowRead, responses=MOVED,
             summary="Record the post-mortem review of a resolved alert (resolved -> reviewed)")
def review(alert_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
           body: ChangeRequest | None = None) -> WorkflowRead:
    return _move(ingest, clock, alert_id, Action.review, caller, body)


@router.put("/{alert_id}/roles/{role}", response_model=WorkflowRead, responses=WRITE,
            summary="Give a role to someone; the previous holder hands over")
def assume_role(alert_id: str, role: Role, body: RoleRequest, caller: OperateAccess, ingest: IngestDep,
                clock: ClockDep) -> WorkflowRead:
    return WorkflowRead.of(response.assume_role(ingest, alert_id=alert_id, role=role, name=body.name,
                                                actor=caller.name, comment=body.comment, now=clock.now()))


@router.delete("/{alert_id}/roles/{role}", response_model=WorkflowRead, responses=ROLES,
               summary="Leave a role empty (the holder renounces it)")
def renounce_role(alert_id: str, role: Role, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
                  body: ChangeRequest | None = None) -> WorkflowRead:
    return WorkflowRead.of(response.renounce_role(ingest, alert_id=alert_id, role=role, actor=caller.name,
                                                  comment=body.comment if body else None, now=clock.now()))


@router.get("/{alert_id}/workflow", response_model=WorkflowRead,
            summary="Where the response stands: allowed moves, roles, stages, notices")
def workflow(alert_id: str, caller: ReadAccess, db: DatabaseDep) -> WorkflowRead:
    return WorkflowRead.of(response.get_workflow(db, alert_id=alert_id))


@router.get("/{alert_id}/timeline", response_model=TimelineRead,
            summary="Everything that happened to an alert, in time order")
def timeline(alert_id: str, caller: ReadAccess, db: DatabaseDep) -> TimelineRead:
    return TimelineRead.of(alert_id, response.get_timeline(db, alert_id=alert_id))
