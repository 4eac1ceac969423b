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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from warning.alerts import Alert, AlertStatus
from warning.errors import Conflict, NotFound
from warning.metrics import Metrics
from warning.notices import plan
from warning.pipeline import Pipeline, SeriesKey
from warning.settings import Settings
from warning.storage import notices as notice_store
from warning.storage import workflow as store
from warning.storage.database import Database, translated
from warning.storage.notices import StoredNotice
from warning.timeline import TimelineEntry, build
from warning.workflow import (
    MOVES,
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

    @property
    def metrics(self) -> Metrics: ...

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
        next_state(action, alert.status)  # refuses a move the table does not allow, before the role check
        commander = store.holder(_roles_of(ops.database, alert_id), Role.incident_commander)
        if action is Action.respond and commander is None:
            raise MissingRole(Role.incident_commander, (
                f"cannot respond to alert {alert_id!r} without an incident commander: "
                f"PUT /v1/alerts/{alert_id}/roles/incident_commander first"))
        write, key = _apply_move(pipeline, alert, action, actor, comment, now, hours)
        return Operation(write, {key} if key else set())

    ops.operate(work)
    workflow = get_workflow(ops.database, alert_id=alert_id)
    _count_move(ops, action, workflow, now)
    return workflow


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


# -- several alerts at once (a crisis, :mod:`warning.crisis_response`) ------------------------


class NoAlertAllows(Conflict):
    """None of the alerts allows the move: each one's state, and what each allows instead."""

    kind = "invalid_transition"

    def __init__(self, action: Action, alerts: Sequence[Alert]) -> None:
        self.alerts = [{"id": a.id, "status": a.status.value, "allowed": allowed_actions(a.status)} for a in alerts]
        self.allowed = sorted({move for a in self.alerts for move in a["allowed"]})
        states = ", ".join(sorted({a.status.value for a in alerts}))
        super().__init__(f"cannot {action.value} any of the alerts (states: {states}); allowed on some of them: "
                         f"{', '.join(self.allowed) or 'nothing (every alert is closed)'}")

    def details(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "alerts": self.alerts}


def move_where_allowed(ops: Operator, *, alert_ids: Sequence[str], action: Action, actor: str, comment: str | None,
                       now: float, also: Callable[[Connection], None] | None = None) -> list[str]:
    """Make the move on each of the alerts whose state allows it; returns the ids moved.

    All or nothing: under the ingest lock every alert is read and checked first (no alert
    allows it: :class:`NoAlertAllows`; ``respond`` on an alert without an incident commander:
    :class:`MissingRole` naming them all), and only then are the moves applied, committed in
    one transaction with ``also`` (what else the caller writes with them) and the snapshots
    of the series holding the alerts.
    """
    hours = ops.settings.escalation_hours
    moved_ids: list[str] = []

    def work(pipeline: Pipeline) -> Operation:
        alerts = [get_alert(ops.database, alert_id=i) for i in alert_ids]
        movable = [a for a in alerts if a.status in MOVES[action][0]]
        if not movable:
            raise NoAlertAllows(action, alerts)
        if action is Action.respond:
            leaderless = [a.id for a in movable
                          if store.holder(_roles_of(ops.database, a.id), Role.incident_commander) is None]
            if leaderless:
                raise MissingRole(Role.incident_commander, (
                    f"cannot respond without an incident commander on {', '.join(leaderless)}: "
                    "assign one first"))
        writes: list[Callable[[Connection], None]] = []
        touched: set[SeriesKey] = set()
        for alert in movable:  # everything checked: from here on nothing raises
            write, key = _apply_move(pipeline, alert, action, actor, comment, now, hours)
            writes.append(write)
            touched |= {key} if key else set()
            moved_ids.append(alert.id)

        def write_all(conn: Connection) -> None:
            for write in writes:
                write(conn)
            if also is not None:
                also(conn)

        return Operation(write_all, touched)

    ops.operate(work)
    for alert_id in moved_ids:  # committed: counted as :func:`move` counts one
        _count_move(ops, action, get_workflow(ops.database, alert_id=alert_id), now)
    return moved_ids


def assume_role_on_all(ops: Operator, *, alert_ids: Sequence[str], role: Role, name: str, actor: str,
                       comment: str | None, now: float) -> list[str]:
    """``name`` takes ``role`` on each alert (as :func:`assume_role`), in one transaction;
    returns the ids where it changed hands (naming the holder again changes nothing)."""
    changed: list[str] = []

    def work(pipeline: Pipeline) -> Operation:
        for alert_id in alert_ids:
            get_alert(ops.database, alert_id=alert_id)
        holders = {i: store.holder(_roles_of(ops.database, i), role) for i in alert_ids}
        changed.extend(i for i, current in holders.items() if current is None or current.name != name)

        def write(conn: Connection) -> None:
            for alert_id in changed:
                current = holders[alert_id]
                if current is not None:
                    store.renounce(conn, current, now, actor, comment)
                store.assume(conn, alert_id, role, name, now, actor, comment)
                store.reach_stage(conn, alert_id, stage_of_role(role), now, actor)

        return Operation(write if changed else None)

    ops.operate(work)
    return changed


def renounce_role_on_all(ops: Operator, *, alert_ids: Sequence[str], role: Role, actor: str, comment: str | None,
                         now: float) -> list[str]:
    """Nobody holds ``role`` any more on the alerts where someone did (as :func:`renounce_role`),
    in one transaction; returns their ids. Nobody held it anywhere: :class:`RoleNotHeld`; a
    responding alert would lose its commander: :class:`MissingRole`, and nothing changes."""
    renounced: list[str] = []

    def work(pipeline: Pipeline) -> Operation:
        held: list[RoleTenure] = []
        for alert_id in alert_ids:
            alert = get_alert(ops.database, alert_id=alert_id)
            current = store.holder(_roles_of(ops.database, alert_id), role)
            if current is None:
                continue
            if role is Role.incident_commander and alert.status is AlertStatus.responding:
                raise MissingRole(role, (
                    f"alert {alert_id!r} is responding and needs its incident commander; hand over with "
                    "PUT .../roles/incident_commander instead"))
            held.append(current)
            renounced.append(alert_id)
        if not held:
            raise RoleNotHeld(role, *alert_ids)

        def write(conn: Connection) -> None:
            for tenure in held:
                store.renounce(conn, tenure, now, actor, comment)

        return Operation(write)

    ops.operate(work)
    return renounced


def _count_move(ops: Operator, action: Action, workflow: Workflow, now: float) -> None:
    """The workflow metrics of a committed move (time to acknowledge or respond, the clock's outcome)."""
    overdue = [(n.state, n.cancelled_at) for n in workflow.notices if n.type == "alert.overdue"]
    ops.metrics.workflow.moved(action, workflow.alert, now, overdue)


def _apply_move(pipeline: Pipeline, alert: Alert, action: Action, actor: str, comment: str | None, now: float,
                hours: tuple[float, ...]) -> tuple[Callable[[Connection], None], SeriesKey | None]:
    """One checked move applied to the pipeline's memory, and what it writes (as in :func:`move`)."""
    target = next_state(action, alert.status)
    moved = replace(alert, status=target, version=alert.version + 1,
                    resolved_at=now if target is AlertStatus.resolved else alert.resolved_at)
    record = MoveRecord(action, alert.status, target, moved.version, actor, now, comment)
    notices = plan(moved, target.value, now, hours, actor=actor)
    key = pipeline.move_alert(moved)

    def write(conn: Connection) -> None:
        store.write_move(conn, alert, moved, record)
        store.reach_stage(conn, alert.id, STAGE_OF_ACTION[action], now, actor)
        notice_store.apply_plans(conn, [notices])

    return write, key
