"""Tables. Times are timezone-aware UTC; JSON columns hold evidence, snapshots and notice payloads."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which stores no zone) as well."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; Tocsin stores UTC times only")
        # SQLite compares the stored text, which carries no offset: bind every time as UTC.
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AlertRow(Base):
    """The current version of each alert."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(200))
    signal: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    raised_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    response_due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    crisis_type: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    strength: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(None, "raised_at", "id"),
        Index(None, "entity", "raised_at"),
        Index(None, "status", "raised_at"),
    )


class AlertHistoryRow(Base):
    """Every version of every alert, with why it changed."""

    __tablename__ = "alert_history"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DeadLetterRow(Base):
    """A rejected (``invalid``) or ``late`` event with its raw input, source and reason."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(400))
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class BucketRow(Base):
    """A closed bucket of a series, kept ``bucket_retention_days`` for evidence and charts."""

    __tablename__ = "buckets"

    signal: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    start: Mapped[dt.datetime] = mapped_column(UtcDateTime(), primary_key=True)
    end: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    value: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    total: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index(None, "start"),)


class SeriesSnapshotRow(Base):
    """Detector, bucket, open-alert and seen-id state of one series (a checkpoint).

    ``state`` is the orjson encoding of :meth:`warning.series.Series.snapshot`.
    """

    __tablename__ = "series_snapshots"

    signal: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class SeenEventIdRow(Base):
    """Ids of accepted events, kept ``seen_ids_retention_days`` so producers may retry."""

    __tablename__ = "seen_event_ids"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class AlertMoveRow(Base):
    """An operator's move of an alert: who, when, from which state to which, and why."""

    __tablename__ = "alert_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)  # the alert version the move produced
    actor: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AlertRoleRow(Base):
    """One person's tenure in one role on one alert; ``renounced_at`` is null while it lasts."""

    __tablename__ = "alert_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    assumed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    assumed_by: Mapped[str] = mapped_column(String(200))
    assume_comment: Mapped[str | None] = mapped_column(Text)
    renounced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    renounced_by: Mapped[str | None] = mapped_column(String(200))
    renounce_comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "alert_id", "role"),)


class AlertStageRow(Base):
    """A stage of the response an alert reached: once, with the time and the actor who reached it."""

    __tablename__ = "alert_stages"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    reached_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    owner: Mapped[str] = mapped_column(String(200))


class NoticeRow(Base):
    """A notice to send at ``due_at``: the outbox of :mod:`warning.notify.outbox`.

    Pending while ``sent_at`` and ``cancelled_at`` are both null. ``payload`` is the notice
    as delivered (:meth:`warning.notices.Notice.payload`); the id is derived from the alert
    and the point or version it is for, so planning the same notice twice is harmless.
    """

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index(None, "sent_at", "cancelled_at", "due_at"),)
