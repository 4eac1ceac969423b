"""What operators add to a crisis: the type they set, and its post-mortem review.

Crises themselves are not stored: :mod:`warning.crises` computes them from the alerts
table on every read, so they can never disagree with their alerts (a stored crisis would
have to be kept in step with every alert change of every ingest path, in the batch's
transaction, and repaired whenever grouping rules or the gap change).

Rows are keyed by the id of the crisis they were recorded on. A crisis can later absorb
another one (an alert that bridges the gap arrives late); its rows stay under the absorbed
id, so readers look them up under the ids of every alert the crisis holds (:func:`lookup`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warning.storage.database import utc
from warning.storage.models import CrisisReviewRow, CrisisTypeRow


@dataclass(slots=True, frozen=True)
class TypeSet:
    crisis_id: str
    crisis_type: str
    set_by: str
    set_at: float
    comment: str | None = None


@dataclass(slots=True, frozen=True)
class Review:
    """A post-mortem as recorded. ``impact`` and ``movement`` are JSON values (validated by the API)."""

    crisis_id: str
    alert_ids: list[str]
    summary: str
    root_cause: str
    crisis_type: str
    impact: dict[str, Any]
    remedies: list[str]
    lessons: list[str]
    movement: list[dict[str, Any]]
    reviewed_by: str
    reviewed_at: float


def set_type(conn: Connection, t: TypeSet) -> None:
    """The operator's type for the crisis; a later one replaces it."""
    values = {"crisis_id": t.crisis_id, "crisis_type": t.crisis_type, "set_by": t.set_by, "set_at": utc(t.set_at),
              "comment": t.comment}
    _upsert(conn, CrisisTypeRow, values)


def write_review(conn: Connection, r: Review) -> None:
    """The crisis' post-mortem; recording it again replaces it (PUT)."""
    values = {"crisis_id": r.crisis_id, "alert_ids": r.alert_ids, "summary": r.summary, "root_cause": r.root_cause,
              "crisis_type": r.crisis_type, "impact": r.impact, "remedies": r.remedies, "lessons": r.lessons,
              "movement": r.movement, "reviewed_by": r.reviewed_by, "reviewed_at": utc(r.reviewed_at)}
    _upsert(conn, CrisisReviewRow, values)


def types_of(conn: Connection, crisis_ids: Iterable[str]) -> dict[str, TypeSet]:
    rows = conn.execute(select(CrisisTypeRow).where(CrisisTypeRow.crisis_id.in_(set(crisis_ids))))
    return {r.crisis_id: TypeSet(r.crisis_id, r.crisis_type, r.set_by, r.set_at.timestamp(), r.comment)
            for r in rows}


def reviews_of(conn: Connection, crisis_ids: Iterable[str]) -> dict[str, Review]:
    rows = conn.execute(select(CrisisReviewRow).where(CrisisReviewRow.crisis_id.in_(set(crisis_ids))))
    return {r.crisis_id: Review(r.crisis_id, r.alert_ids, r.summary, r.root_cause, r.crisis_type, r.impact,
                                r.remedies, r.lessons, r.movement, r.reviewed_by, r.reviewed_at.timestamp())
            for r in rows}


T = TypeVar("T", TypeSet, Review)


def lookup(rows: dict[str, T], crisis_id: str, candidate_ids: Iterable[str], at: Callable[[T], float]) -> T | None:
    """The row of a crisis: its own, else the most recent (by ``at``) recorded under the id of
    a crisis it absorbed (``candidate_ids``: the ids its alerts would give a crisis)."""
    if crisis_id in rows:
        return rows[crisis_id]
    absorbed = [rows[i] for i in candidate_ids if i in rows]
    return max(absorbed, key=at, default=None)


def _upsert(conn: Connection, model: type[CrisisTypeRow | CrisisReviewRow], values: dict[str, Any]) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(model).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["crisis_id"], set_={k: stmt.excluded[k] for k in values if k != "crisis_id"}))
