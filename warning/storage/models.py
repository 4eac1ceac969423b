"""Tables. Times are timezone-aware UTC; JSON columns hold evidence, snapshots and notice payloads."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
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


class IngestJournalRow(Base):
    """A batch of events the live service accepted since its last checkpoint of series state.

    ``events`` is :func:`ingest.journal.encode` of the batch after deduplication. The stored
    series snapshots plus these batches, replayed in ``seq`` order, are the committed state
    (:mod:`ingest.live`); a checkpoint rewrites the snapshots and empties the journal.
    """

    __tablename__ = "ingest_journal"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    events: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


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


class CrisisTypeRow(Base):
    """The crisis type an operator set on a crisis (``crs_...``, :mod:`warning.crises`).

    Crises are computed from the alerts; only what operators add to one is stored, keyed by
    the crisis id they acted on (an id that stays valid: it names the crisis' first alert).
    """

    __tablename__ = "crisis_types"

    crisis_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    crisis_type: Mapped[str] = mapped_column(String(40))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)


class CrisisReviewRow(Base):
    """A crisis' post-mortem: what operators wrote, and the signals' movement Tocsin computed
    when it was recorded (kept, because closed buckets are pruned after their retention)."""

    __tablename__ = "crisis_reviews"

    crisis_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alert_ids: Mapped[list[str]] = mapped_column(JSON)  # the alerts the crisis held when reviewed
    summary: Mapped[str] = mapped_column(Text)
    root_cause: Mapped[str] = mapped_column(Text)
    crisis_type: Mapped[str] = mapped_column(String(40))
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    remedies: Mapped[list[str]] = mapped_column(JSON)
    lessons: Mapped[list[str]] = mapped_column(JSON)
    movement: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is stored (:mod:`warning.access` says why), with its owner.

    ``name`` is the owner, recorded as the actor of every change made with the key;
    ``prefix`` is the key's first characters, not secret, so a list can tell keys apart.
    A key is active while ``revoked_at`` is null.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class SubscriptionRow(Base):
    """A webhook subscriber: where to deliver, which notices, and the secrets that sign them.

    ``secret`` is kept as given out (``whsec_...``), not hashed: see
    :mod:`warning.notify.signing` for why HMAC needs it and what protects it.
    ``previous_secret`` still signs until ``previous_secret_expires_at`` (rotation's grace).
    Empty filter lists match everything.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    min_severity: Mapped[str | None] = mapped_column(String(10))
    signals: Mapped[list[str]] = mapped_column(JSON)
    entities: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DeliveryRow(Base):
    """One notice (or ping) to deliver to one subscriber: the webhook outbox.

    Inserted in the transaction that marks the notice sent, so a notice and its deliveries
    exist together or not at all. ``id`` orders the deliveries of one alert to one
    subscriber: one is attempted only once every earlier one is no longer ``pending``.
    ``event`` is the CloudEvent as sent (the body is the same bytes on every attempt);
    ``webhook_id`` is derived from the notice and the subscription, so it is stable
    across retries and redeliveries. ``round_attempts`` and ``retry_until`` belong to the
    current round of retries (a redelivery starts a new one).
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(40), unique=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    notice_id: Mapped[str | None] = mapped_column(String(80))
    alert_id: Mapped[str | None] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(60))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    retry_until: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    round_attempts: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(None, "subscription_id", "state", "next_attempt_at"),
        Index(None, "subscription_id", "alert_id", "id"),
        Index(None, "state", "created_at"),
    )


class DeliveryAttemptRow(Base):
    """One HTTP attempt of a delivery: what came back, how long it took, what happens next."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(40))
    duration_seconds: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class KafkaCheckpointRow(Base):
    """How far a Kafka partition's state goes: the next offset to read (null: from the start).

    ``epoch`` fences a worker that lost the partition without noticing: each assignment
    increments it, and a checkpoint is written only under the epoch its worker claimed
    (:mod:`warning.storage.checkpoints`).
    """

    __tablename__ = "kafka_checkpoints"

    topic: Mapped[str] = mapped_column(String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_offset: Mapped[int | None] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class KafkaSeriesStateRow(Base):
    """The state of one series as of its partition's checkpoint (``Series.snapshot``, orjson)."""

    __tablename__ = "kafka_series_states"

    topic: Mapped[str] = mapped_column(String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    signal: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
