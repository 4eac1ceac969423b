"""The operators' side of an alert: moves, roles, and what they read back.

Service functions, keyword-only, as the API's routers call them. Every change runs
through an :class:`Operator` (the live ingest), which runs it under the lock that orders
batches and commits it in one transaction with the snapshot of the series holding the
alert. That is what makes a resolve close the alert in the pipeline too, so the rule's
next firing raises a new alert, and what keeps a batch from racing a move.

The work a change does is split in two: ``work(pipeline)`` reads and checks (raising
:class:`warning.workflow.InvalidTransition` and friends before anything changes), then
updates the pipeline's memory and returns the writes for the transaction. Times come from
the caller's injected clock (``now``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy.engine import Connection

from warning.alerts import Alert, AlertStatus
from warning.errors import NotFound
from warning.notices import plan
from warning.pipeline import Pipeline, SeriesKey
from warning.settings import Settings
from warning.storage import notices as notice_store
from warning.storage import workflow as store
from warning.storage.database import Database, translated
from warning.storage.notices import StoredNotice
from warning.timeline import TimelineEntry, build
from warning.workflow import (
    STAGE_OF_ACTION,
    Action,
    MissingRole,
    MoveRecord,
    Role,
    RoleNotHeld,
    RoleTenure,
    StageReached,
    allowed_actions,
    next_state,
    stage_of_role,
)


@dataclass(slots=True)
class Operation:
    """What a change writes, and the series whose state it changed in memory."""

    write: Callable[[Connection], None] | None = None
    touched: set[SeriesKey] = field(default_factory=set)


class Operator(Protocol):
    """Runs operators' changes in order with ingest (:class:`ingest.live.LiveIngest`)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...

    def operate(self, work: Callable[[Pipeline], Operation]) -> None: ...


@dataclass(slots=True, frozen=True)
class Workflow:
    """An alert with where its response stands."""

    alert: Alert
    allowed: list[str]
    roles: list[RoleTenure]
    stages: list[StageReached]
    notices: list[StoredNotice]


def move(ops: Operator, *, alert_id: str, action: Action, actor: str, comment: str | None, now: float) -> Workflow:
    """Acknowledge, respond, resolve or review: the table of allowed moves decides."""
    hours = ops.settings.escalation_hours

    def work(pipeline: Pipeline) -> Operation:
        alert = get_alert(ops.database, alert_id=alert_id)
        target = next_state(action, alert.status)
        commander = store.holder(_roles_of(ops.database, alert_id), Role.incident_commander)
        if action is Action.respond and commander is None:
            raise MissingRole(Role.incident_commander, (
                f"cannot respond to alert {alert_id!r} without an incident commander: "
                f"PUT /v1/alerts/{alert_id}/roles/incident_commander first"))
        moved = replace(alert, status=target, version=alert.version + 1,
                        resolved_at=now if target is AlertStatus.resolved else alert.resolved_at)
        record = MoveRecord(action, alert.status, target, moved.version, actor, now, comment)
        notices = plan(moved, target.value, now, hours, actor=actor)
        key = pipeline.move_alert(moved)

        def write(conn: Connection) -> None:
            store.write_move(conn, alert, moved, record)
            store.reach_stage(conn, alert_id, STAGE_OF_ACTION[action], now, actor)
            notice_store.apply_plans(conn, [notices])

        return Operation(write, {key} if key else set())

    ops.operate(work)
    return get_workflow(ops.database, alert_id=alert_id)


def assume_role(ops: Operator, *, alert_id: str, role: Role, name: str, actor: str, comment: str | None,
                now: float) -> Workflow:
    """``name`` takes ``role``; whoever held it hands over (renounced now). Naming the
    current holder again changes nothing."""

    def work(pipeline: Pipeline) -> Operation:
        get_alert(ops.database, alert_id=alert_id)
        current = store.holder(_roles_of(ops.database, alert_id), role)
        if current is not None and current.name == name:
            return Operation()

        def write(conn: Connection) -> None:
            if current is not None:
                store.renounce(conn, current, now, actor, comment)
            store.assume(conn, alert_id, role, name, now, actor, comment)
            store.reach_stage(conn, alert_id, stage_of_role(role), now, actor)

        return Operation(write)

    ops.operate(work)
    return get_workflow(ops.database, alert_id=alert_id)


def renounce_role(ops: Operator, *, alert_id: str, role: Role, actor: str, comment: str | None,
                  now: float) -> Workflow:
    """Nobody holds ``role`` any more. An alert being responded to keeps its commander:
    hand over instead (:func:`assume_role` with the new name)."""

    def work(pipeline: Pipeline) -> Operation:
        alert = get_alert(ops.database, alert_id=alert_id)
        current = store.holder(_roles_of(ops.database, alert_id), role)
        if current is None:
            raise RoleNotHeld(role, alert_id)
        if role is Role.incident_commander and alert.status is AlertStatus.responding:
            raise MissingRole(role, (
                f"alert {alert_id!r} is responding and needs its incident commander; hand over with "
                f"PUT /v1/alerts/{alert_id}/roles/incident_commander instead"))
        return Operation(lambda conn: store.renounce(conn, current, now, actor, comment))

    ops.operate(work)
    return get_workflow(ops.database, alert_id=alert_id)


def get_alert(db: Database, *, alert_id: str) -> Alert:
    alert = db.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return alert


def get_workflow(db: Database, *, alert_id: str) -> Workflow:
    alert = get_alert(db, alert_id=alert_id)
    with translated("read the alert's workflow"), db.engine.connect() as conn:
        return Workflow(alert, allowed_actions(alert.status), store.read_roles(conn, alert_id),
                        store.read_stages(conn, alert_id), notice_store.notices_of(conn, alert_id))


def get_timeline(db: Database, *, alert_id: str) -> list[TimelineEntry]:
    get_alert(db, alert_id=alert_id)
    with translated("read the alert's timeline"), db.engine.connect() as conn:
        return build(store.read_detection(conn, alert_id), store.read_moves(conn, alert_id),
                     store.read_roles(conn, alert_id), store.read_stages(conn, alert_id),
                     notice_store.notices_of(conn, alert_id))


def _roles_of(db: Database, alert_id: str) -> list[RoleTenure]:
    with translated("read the roles"), db.engine.connect() as conn:
        return store.read_roles(conn, alert_id)
