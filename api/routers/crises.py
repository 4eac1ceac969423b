"""Crises over HTTP: an entity's alerts that belong together, acting on them, the post-mortem.

Each route fetches its inputs, calls one :mod:`warning.crisis_response` function and returns
its schema; the rules (grouping, fusion, which alerts a move applies to) live there.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from api.auth import OperateAccess, ReadAccess
from api.crisis_schemas import (
    CrisisChange,
    CrisisChangeRead,
    CrisisDetail,
    CrisisPage,
    CrisisRead,
    CrisisRoleRequest,
    CrisisTypeRequest,
    ReviewRead,
    ReviewRequest,
    conflict_response,
)
from api.deps import ClockDep, DatabaseDep, IngestDep, SettingsDep
from api.errors import InvalidParameter
from api.schemas import error_response
from warning import crisis_response
from warning.alerts import AlertStatus
from warning.crisis_response import CrisisFilter, CrisisView
from warning.errors import NotFound
from warning.workflow import Action, Role

router = APIRouter(prefix="/v1/crises", tags=["crises"], responses={
    404: error_response("no crisis with this id"),
    422: error_response("a parameter or the body is invalid; the message names it"),
})
WRITE: dict[int | str, dict[str, Any]] = {503: error_response("the database is unavailable; nothing was changed, retry")}
MOVED: dict[int | str, dict[str, Any]] = {**WRITE, 409: conflict_response(
    "no alert of the crisis allows the move (the answer lists each alert's state and allowed moves), or respond "
    "without an incident commander on the alerts it would move")}
ROLES: dict[int | str, dict[str, Any]] = {**WRITE, 409: conflict_response(
    "no alert of the crisis is under response any more, nobody holds the role, or a responding alert needs it")}
OptionalChange = Annotated[CrisisChange | None, Body()]


@router.get("", response_model=CrisisPage, summary="List crises, newest first")
def list_crises(
    caller: ReadAccess,
    db: DatabaseDep,
    settings: SettingsDep,
    entity: str | None = None,
    status: Literal["open", "acknowledged", "responding", "resolved", "reviewed"] | None = None,
    since: Annotated[dt.datetime | None, Query(description="crises active at or after this time (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> CrisisPage:
    if since is not None and since.tzinfo is None:
        raise InvalidParameter("query.since", "needs a UTC offset, e.g. 2026-11-20T10:00:00Z")
    filters = CrisisFilter(entity, None if status is None else AlertStatus(status),
                           None if since is None else since.timestamp())
    try:
        views, next_cursor = crisis_response.list_crises(db, settings, filters, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidParameter("query.cursor", str(exc)) from None
    return CrisisPage(items=[CrisisRead.of(v) for v in views], next_cursor=next_cursor)


@router.get("/{crisis_id}", response_model=CrisisDetail,
            summary="One crisis: its alerts, fused severity, type, clock, roles and review")
def get_crisis(crisis_id: str, caller: ReadAccess, db: DatabaseDep, settings: SettingsDep) -> CrisisDetail:
    return CrisisDetail.of(crisis_response.get_crisis(db, settings, crisis_id=crisis_id))


def _changed(result: tuple[CrisisView, list[str]]) -> CrisisChangeRead:
    view, changed = result
    return CrisisChangeRead(crisis=CrisisDetail.of(view), changed=changed)


def _act(crisis_id: str, action: Action, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
         body: CrisisChange | None) -> CrisisChangeRead:
    return _changed(crisis_response.act(ingest, crisis_id=crisis_id, action=action, actor=caller.name,
                                        comment=body.comment if body else None, now=clock.now()))


@router.post("/{crisis_id}/acknowledge", response_model=CrisisChangeRead, responses=MOVED,
             summary="Acknowledge every open alert of the crisis")
def acknowledge(crisis_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
                body: OptionalChange = None) -> CrisisChangeRead:
    return _act(crisis_id, Action.acknowledge, caller, ingest, clock, body)


@router.post("/{crisis_id}/respond", response_model=CrisisChangeRead, responses=MOVED,
             summary="Start the response on every open or acknowledged alert (each needs an incident commander)")
def respond(crisis_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
            body: OptionalChange = None) -> CrisisChangeRead:
    return _act(crisis_id, Action.respond, caller, ingest, clock, body)


@router.post("/{crisis_id}/resolve", response_model=CrisisChangeRead, responses=MOVED,
             summary="Resolve every alert of the crisis not yet resolved")
def resolve(crisis_id: str, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
            body: OptionalChange = None) -> CrisisChangeRead:
    return _act(crisis_id, Action.resolve, caller, ingest, clock, body)


@router.put("/{crisis_id}/roles/{role}", response_model=CrisisChangeRead, responses=ROLES,
            summary="Give a role on every alert under response; previous holders hand over")
def assume_role(crisis_id: str, role: Role, body: CrisisRoleRequest, caller: OperateAccess, ingest: IngestDep,
                clock: ClockDep) -> CrisisChangeRead:
    return _changed(crisis_response.assume_role(ingest, crisis_id=crisis_id, role=role, name=body.name,
                                                actor=caller.name, comment=body.comment, now=clock.now()))


@router.delete("/{crisis_id}/roles/{role}", response_model=CrisisChangeRead, responses=ROLES,
               summary="Leave a role empty on every alert under response")
def renounce_role(crisis_id: str, role: Role, caller: OperateAccess, ingest: IngestDep, clock: ClockDep,
                  body: OptionalChange = None) -> CrisisChangeRead:
    return _changed(crisis_response.renounce_role(ingest, crisis_id=crisis_id, role=role, actor=caller.name,
                                                  comment=body.comment if body else None, now=clock.now()))


@router.put("/{crisis_id}/type", response_model=CrisisDetail, responses=WRITE,
            summary="Set the crisis type (over the configured one)")
def set_type(crisis_id: str, body: CrisisTypeRequest, caller: OperateAccess, db: DatabaseDep, settings: SettingsDep,
             clock: ClockDep) -> CrisisDetail:
    return CrisisDetail.of(crisis_response.set_type(db, settings, crisis_id=crisis_id, crisis_type=body.crisis_type,
                                                    actor=caller.name, comment=body.comment, now=clock.now()))


@router.put("/{crisis_id}/review", response_model=ReviewRead, responses={**WRITE, 409: conflict_response(
    "an alert of the crisis is not resolved yet")},
            summary="Record the post-mortem; Tocsin adds how each signal moved after the response began")
def record_review(crisis_id: str, body: ReviewRequest, caller: OperateAccess, ingest: IngestDep,
                  clock: ClockDep) -> ReviewRead:
    view = crisis_response.record_review(ingest, crisis_id=crisis_id, review=body.to_input(), actor=caller.name,
                                         now=clock.now())
    assert view.review is not None  # just recorded
    return ReviewRead.of(view.review)


@router.get("/{crisis_id}/review", response_model=ReviewRead, summary="The crisis' post-mortem review")
def get_review(crisis_id: str, caller: ReadAccess, db: DatabaseDep, settings: SettingsDep) -> ReviewRead:
    view = crisis_response.get_crisis(db, settings, crisis_id=crisis_id)
    if view.review is None:
        raise NotFound(f"crisis {view.crisis.id!r} has no post-mortem review yet")
    return ReviewRead.of(view.review)
