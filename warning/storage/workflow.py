"""Operators' records: moves, role tenures and stages reached, written inside the
transaction of the move (``Database.record(extra=...)``) and read back for the timeline.

An operator's move writes a new alert version directly, not through the detection upsert
of :mod:`warning.storage.database`: that one never changes a status an operator set,
which is what keeps detection from undoing a move.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warning.alerts import Alert, AlertStatus
from warning.errors import Conflict
from warning.storage.database import utc
from warning.storage.models import AlertHistoryRow, AlertMoveRow, AlertRoleRow, AlertRow, AlertStageRow
from warning.workflow import Action, MoveRecord, Role, RoleTenure, Stage, StageReached

DETECTION_REASONS = ("raised", "severity_raised", "cleared", "refired", "resolved")
STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}


def write_move(conn: Connection, before: Alert, after: Alert, move: MoveRecord) -> None:
    """The alert's new version (and its history row) and the move that made it."""
    at = utc(move.at)
    moved = conn.execute(
        update(AlertRow).where(AlertRow.id == after.id, AlertRow.version == before.version).values(
            status=after.status.value, version=after.version, updated_at=at,
            resolved_at=None if after.resolved_at is None else utc(after.resolved_at)))
    if moved.rowcount != 1:
        raise Conflict(f"alert {after.id!r} changed while it was being moved; try again")
    conn.execute(insert(AlertHistoryRow).values(
        alert_id=after.id, version=after.version, reason=f"operator.{move.action.value}", at=at,
        severity=after.severity.name, status=after.status.value, evidence=after.evidence, recorded_at=at))
    conn.execute(insert(AlertMoveRow).values(
        alert_id=after.id, action=move.action.value, from_status=move.from_status.value,
        to_status=move.to_status.value, version=move.version, actor=move.actor, comment=move.comment, at=at))


def reach_stage(conn: Connection, alert_id: str, stage: Stage, at: float, owner: str) -> None:
    """Record ``stage`` as reached, unless it was already: a stage is reached once."""
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert_(AlertStageRow).on_conflict_do_nothing().values(
        alert_id=alert_id, stage=stage.value, reached_at=utc(at), owner=owner))


def assume(conn: Connection, alert_id: str, role: Role, name: str, at: float, actor: str,
           comment: str | None) -> None:
    conn.execute(insert(AlertRoleRow).values(
        alert_id=alert_id, role=role.value, name=name, assumed_at=utc(at), assumed_by=actor,
        assume_comment=comment))


def renounce(conn: Connection, tenure: RoleTenure, at: float, actor: str, comment: str | None) -> None:
    conn.execute(update(AlertRoleRow).where(AlertRoleRow.id == tenure.id).values(
        renounced_at=utc(at), renounced_by=actor, renounce_comment=comment))


def read_roles(conn: Connection, alert_id: str) -> list[RoleTenure]:
    """Every tenure on the alert, current ones (``renounced_at`` None) included, oldest first."""
    query = select(AlertRoleRow).where(AlertRoleRow.alert_id == alert_id).order_by(
        AlertRoleRow.assumed_at, AlertRoleRow.id)
    return [RoleTenure(r.id, Role(r.role), r.name, r.assumed_at.timestamp(), r.assumed_by, r.assume_comment,
                       _ts(r.renounced_at), r.renounced_by, r.renounce_comment) for r in conn.execute(query)]


def holder(tenures: list[RoleTenure], role: Role) -> RoleTenure | None:
    return next((t for t in tenures if t.role is role and t.renounced_at is None), None)


def read_stages(conn: Connection, alert_id: str) -> list[StageReached]:
    rows = conn.execute(select(AlertStageRow).where(AlertStageRow.alert_id == alert_id))
    stages = [StageReached(Stage(r.stage), r.reached_at.timestamp(), r.owner) for r in rows]
    return sorted(stages, key=lambda s: STAGE_ORDER[s.stage])


def read_moves(conn: Connection, alert_id: str) -> list[MoveRecord]:
    query = select(AlertMoveRow).where(AlertMoveRow.alert_id == alert_id).order_by(AlertMoveRow.id)
    return [MoveRecord(Action(r.action), AlertStatus(r.from_status), AlertStatus(r.to_status), r.version,
                       r.actor, r.at.timestamp(), r.comment) for r in conn.execute(query)]


def read_detection(conn: Connection, alert_id: str) -> list[dict[str, Any]]:
    """The versions detection made that change what a person would notice (not plain updates)."""
    query = select(AlertHistoryRow.version, AlertHistoryRow.reason, AlertHistoryRow.at, AlertHistoryRow.severity,
                   AlertHistoryRow.status).where(
        AlertHistoryRow.alert_id == alert_id, AlertHistoryRow.reason.in_(DETECTION_REASONS),
    ).order_by(AlertHistoryRow.version)
    return [dict(r) for r in conn.execute(query).mappings()]


def moved_alerts(conn: Connection, alert_ids: Sequence[str]) -> dict[str, tuple[AlertStatus, int]]:
    """The stored status and version of those of ``alert_ids`` that are no longer ``open``
    (an operator moved them, or detection resolved them): the Kafka workers' view of the
    moves (:mod:`ingest.kafka.moves`). Primary-key lookups, 500 ids a query."""
    found: dict[str, tuple[AlertStatus, int]] = {}
    for i in range(0, len(alert_ids), 500):
        rows = conn.execute(select(AlertRow.id, AlertRow.status, AlertRow.version).where(
            AlertRow.id.in_(alert_ids[i:i + 500]), AlertRow.status != AlertStatus.open.value))
        found.update({r.id: (AlertStatus(r.status), r.version) for r in rows})
    return found


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()
