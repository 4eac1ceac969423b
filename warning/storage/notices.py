"""The ``notices`` table: the outbox of the response clock and of alert changes.

Plans (:func:`warning.notices.plan`) are applied inside the transaction of the change
that made them: the batch that raised an alert, or the operator's move. So a notice
exists exactly when its cause was committed. :func:`take_due` marks due notices sent
inside the transaction that sends them (:mod:`warning.notify.outbox`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warning.alerts import AlertChange
from warning.notices import CLOCK_TYPES, Notice, NoticePlan, plan
from warning.storage.database import _alert as alert_of_row  # one row -> Alert conversion, kept there
from warning.storage.database import translated, utc
from warning.storage.models import AlertRow, NoticeRow

PENDING = (NoticeRow.sent_at.is_(None), NoticeRow.cancelled_at.is_(None))


@dataclass(slots=True, frozen=True)
class StoredNotice:
    id: str
    alert_id: str
    type: str
    due_at: dt.datetime
    sent_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    payload: dict[str, Any]

    @property
    def state(self) -> str:
        return "sent" if self.sent_at else "cancelled" if self.cancelled_at else "pending"


def scheduler(changes: Sequence[AlertChange], escalation_hours: tuple[float, ...]) -> Callable[[Connection], None] | None:
    """What a batch's alert changes do to the notices, as a write for the batch's
    transaction (``Database.record(extra=...)``); None when nothing is to be done."""
    plans = [plan(c.alert, c.reason.value, c.at, escalation_hours) for c in changes]
    plans = [p for p in plans if p.send is not None or p.clock is not None or p.cancel]
    if not plans:
        return None
    return lambda conn: apply_plans(conn, plans)


def apply_plans(conn: Connection, plans: Sequence[NoticePlan]) -> None:
    """Apply ``plans`` in order: the same rules as :class:`warning.notices.NoticeBook`."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for p in plans:
        if p.cancel or p.clock is not None:
            keep = {n.id for n in p.clock or ()}
            pending = conn.execute(select(NoticeRow.id).where(
                NoticeRow.alert_id == p.alert_id, NoticeRow.type.in_(CLOCK_TYPES), *PENDING)).scalars()
            dropped = [i for i in pending if i not in keep]
            if dropped:
                conn.execute(update(NoticeRow).where(NoticeRow.id.in_(dropped)).values(cancelled_at=utc(p.at)))
        if p.clock:
            stmt = insert(NoticeRow)
            # A point planned anew (a deadline brought forward) moves only while still pending.
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["id"], set_={"due_at": stmt.excluded.due_at, "payload": stmt.excluded.payload},
                where=NoticeRow.sent_at.is_(None) & NoticeRow.cancelled_at.is_(None),
            ), [_row(n) for n in p.clock])
        if p.send is not None:
            conn.execute(insert(NoticeRow).on_conflict_do_nothing(), [_row(p.send)])


def _row(n: Notice) -> dict[str, Any]:
    return {"id": n.id, "alert_id": n.alert_id, "type": n.type, "due_at": utc(n.due_at), "payload": n.payload()}


def any_due(engine: Engine, now: float) -> bool:
    """A cheap look before taking the ingest lock: is anything due at ``now``?"""
    query = select(NoticeRow.id).where(*PENDING, NoticeRow.due_at <= utc(now)).limit(1)
    with translated("look for due notices"), engine.connect() as conn:
        return conn.execute(query).first() is not None


def take_due(conn: Connection, now: float) -> list[dict[str, Any]]:
    """Mark every notice due at ``now`` sent (at ``now``), oldest first, and return their
    payloads: clock notices carry the alert as it stands now, not as it was raised."""
    clock_last = case((NoticeRow.type.in_(CLOCK_TYPES), 1), else_=0)  # at equal times, causes first
    rows = conn.execute(select(NoticeRow).where(*PENDING, NoticeRow.due_at <= utc(now))
                        .order_by(NoticeRow.due_at, clock_last, NoticeRow.id)).mappings().all()
    if not rows:
        return []
    clock_alerts = {r["alert_id"] for r in rows if r["type"] in CLOCK_TYPES}
    alerts = {}
    if clock_alerts:
        for a in conn.execute(select(AlertRow).where(AlertRow.id.in_(clock_alerts))).mappings():
            alerts[a["id"]] = alert_of_row(a).to_json()
    sent_at = utc(now)
    payloads = []
    for r in rows:
        payload = dict(r["payload"])
        if r["alert_id"] in alerts and r["type"] in CLOCK_TYPES:
            payload["alert"] = alerts[r["alert_id"]]
        conn.execute(update(NoticeRow).where(NoticeRow.id == r["id"], *PENDING)
                     .values(sent_at=sent_at, payload=payload))
        payloads.append(payload)
    return payloads


def notices_of(conn: Connection, alert_id: str) -> list[StoredNotice]:
    query = select(NoticeRow).where(NoticeRow.alert_id == alert_id).order_by(NoticeRow.due_at, NoticeRow.id)
    return [StoredNotice(r.id, r.alert_id, r.type, r.due_at, r.sent_at, r.cancelled_at, r.payload)
            for r in conn.execute(query)]
