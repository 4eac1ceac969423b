"""Webhook subscriptions and their deliveries in the database.

:func:`enqueue` runs inside the outbox's transaction (:mod:`warning.notify.outbox`): the
notices it marks sent get their deliveries in the same commit, so no notice is sent
without its deliveries, nor delivered without having been sent. The dispatcher
(:mod:`warning.notify.dispatcher`) then takes due deliveries with :func:`due`, which only
returns the head of each (subscription, alert) queue, and writes each attempt's outcome
with :func:`record_attempt`. The other functions are the services behind
``/v1/subscriptions``; each runs in one transaction of its own.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import aliased

from warning.errors import Conflict, NotFound
from warning.notify.signing import new_secret
from warning.notify.webhooks import PING, RETRY_WINDOW, notice_event, ping_event
from warning.storage.database import Database, translated
from warning.storage.models import DeliveryAttemptRow, DeliveryRow, SubscriptionRow
from warning.subscriptions import Attempt, Delivery, Filters, Subscription

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class SubscriptionDisabled(Conflict):
    kind = "subscription_disabled"


@dataclass(slots=True, frozen=True)
class DueDelivery:
    """What the dispatcher needs to attempt one delivery."""

    id: int
    webhook_id: str
    subscription_id: str
    event: dict[str, Any]
    round_attempts: int
    retry_until: dt.datetime


# -- subscriptions ------------------------------------------------------------------------

@contextmanager
def _transaction(db: Database, what: str) -> Iterator[Connection]:
    with translated(what), db.engine.begin() as conn:
        yield conn


def create(db: Database, *, url: str, filters: Filters, description: str | None, actor: str,
           now: dt.datetime) -> Subscription:
    """A new enabled subscription with a fresh secret (in the result: show it once)."""
    row = {"id": "sub_" + secrets.token_hex(10), "url": url, "description": description, **_filters(filters),
           "secret": new_secret(), "previous_secret": None, "previous_secret_expires_at": None, "enabled": True,
           "disabled_reason": None, "created_at": now, "created_by": actor, "updated_at": now}
    with _transaction(db, "create the subscription") as conn:
        conn.execute(insert(SubscriptionRow), [row])
        return _get(conn, row["id"])


def get(db: Database, subscription_id: str) -> Subscription:
    with _transaction(db, "read the subscription") as conn:
        return _get(conn, subscription_id)


def list_all(db: Database) -> list[Subscription]:
    with _transaction(db, "list the subscriptions") as conn:
        rows = conn.execute(select(SubscriptionRow).order_by(SubscriptionRow.created_at, SubscriptionRow.id))
        return [_subscription(r) for r in rows.mappings()]


def update_subscription(db: Database, subscription_id: str, *, now: dt.datetime, url: str | None = None,
                        filters: Filters | None = None, description: str | None = None,
                        enabled: bool | None = None) -> Subscription:
    """Change what is given (None leaves a field as it is); enabling clears the disabled reason."""
    values: dict[str, Any] = {"updated_at": now}
    if url is not None:
        values["url"] = url
    if filters is not None:
        values.update(_filters(filters))
    if description is not None:
        values["description"] = description
    if enabled is not None:
        values["enabled"] = enabled
        values["disabled_reason"] = None if enabled else "disabled over the API"
    with _transaction(db, "update the subscription") as conn:
        _get(conn, subscription_id)
        conn.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id).values(**values))
        return _get(conn, subscription_id)


def delete_subscription(db: Database, subscription_id: str) -> None:
    """The subscription and its deliveries (pending ones too) are gone."""
    with _transaction(db, "delete the subscription") as conn:
        _get(conn, subscription_id)
        # Deleted explicitly rather than by the foreign key's cascade: SQLite only cascades
        # with foreign keys on, and this must not depend on a connection setting.
        deliveries = select(DeliveryRow.id).where(DeliveryRow.subscription_id == subscription_id)
        conn.execute(delete(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(deliveries)))
        conn.execute(delete(DeliveryRow).where(DeliveryRow.subscription_id == subscription_id))
        conn.execute(delete(SubscriptionRow).where(SubscriptionRow.id == subscription_id))


def rotate_secret(db: Database, subscription_id: str, *, grace: dt.timedelta, now: dt.datetime) -> Subscription:
    """A new secret signs from now on; the current one keeps signing beside it for ``grace``."""
    with _transaction(db, "rotate the secret") as conn:
        current = _get(conn, subscription_id)
        conn.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id).values(
            secret=new_secret(), previous_secret=current.secret if grace > dt.timedelta(0) else None,
            previous_secret_expires_at=now + grace if grace > dt.timedelta(0) else None, updated_at=now))
        return _get(conn, subscription_id)


def _get(conn: Connection, subscription_id: str) -> Subscription:
    row = conn.execute(select(SubscriptionRow).where(SubscriptionRow.id == subscription_id)).mappings().first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id!r}")
    return _subscription(row)


def _subscription(r: RowMapping) -> Subscription:
    filters = Filters(tuple(r["event_types"]), r["min_severity"], tuple(r["signals"]), tuple(r["entities"]))
    return Subscription(r["id"], r["url"], filters, r["enabled"], r["created_at"], r["created_by"], r["updated_at"],
                        r["description"], r["disabled_reason"], r["secret"], r["previous_secret"],
                        r["previous_secret_expires_at"])


def _filters(f: Filters) -> dict[str, Any]:
    return {"event_types": list(f.event_types), "min_severity": f.min_severity, "signals": list(f.signals),
            "entities": list(f.entities)}


def enabled_subscriptions(db: Database) -> dict[str, Subscription]:
    with _transaction(db, "read the subscriptions") as conn:
        rows = conn.execute(select(SubscriptionRow).where(SubscriptionRow.enabled.is_(True))).mappings()
        return {r["id"]: _subscription(r) for r in rows}


# -- the outbox of deliveries -------------------------------------------------------------

def enqueue(conn: Connection, notices: Sequence[Mapping[str, Any]], now: dt.datetime) -> int:
    """One pending delivery per notice and enabled subscription it matches, in ``conn``'s
    transaction (the one marking the notices sent); returns how many."""
    if not notices:
        return 0
    subscriptions = [_subscription(r) for r in conn.execute(
        select(SubscriptionRow).where(SubscriptionRow.enabled.is_(True)).order_by(SubscriptionRow.id)).mappings()]
    rows = [_delivery(s.id, notice_event(s.id, dict(n)), now, notice_id=n["id"], alert_id=n["alert_id"],
                      type=n["type"])
            for n in notices for s in subscriptions if s.filters.matches(n)]
    if rows:
        upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(upsert(DeliveryRow).on_conflict_do_nothing(index_elements=["webhook_id"]), rows)
    return len(rows)


def enqueue_ping(db: Database, subscription_id: str, now: dt.datetime) -> Delivery:
    with _transaction(db, "queue the test delivery") as conn:
        if not _get(conn, subscription_id).enabled:
            raise SubscriptionDisabled(f"subscription {subscription_id!r} is disabled; enable it to test it")
        row = _delivery(subscription_id, ping_event(subscription_id, now.timestamp(), secrets.token_hex(8)), now,
                        notice_id=None, alert_id=None, type=PING)
        delivery_id = conn.execute(insert(DeliveryRow).returning(DeliveryRow.id), [row]).scalar_one()
        return _deliveries(conn, subscription_id, ids=[delivery_id])[0]


def _delivery(subscription_id: str, event: dict[str, Any], now: dt.datetime, *, notice_id: str | None,
              alert_id: str | None, type: str) -> dict[str, Any]:
    return {"webhook_id": event["id"], "subscription_id": subscription_id, "notice_id": notice_id,
            "alert_id": alert_id, "type": type, "event": event, "state": PENDING, "created_at": now,
            "next_attempt_at": now, "retry_until": now + dt.timedelta(seconds=RETRY_WINDOW), "round_attempts": 0}


def due_subscriptions(db: Database, now: dt.datetime) -> list[str]:
    """Enabled subscriptions with a delivery due at ``now``."""
    query = (select(DeliveryRow.subscription_id).distinct()
             .join(SubscriptionRow, SubscriptionRow.id == DeliveryRow.subscription_id)
             .where(SubscriptionRow.enabled.is_(True), DeliveryRow.state == PENDING, DeliveryRow.next_attempt_at <= now))
    with _transaction(db, "look for due deliveries") as conn:
        return list(conn.execute(query).scalars())


def due(db: Database, subscription_id: str, now: dt.datetime, *, limit: int,
        busy: Collection[int] = ()) -> list[DueDelivery]:
    """Up to ``limit`` deliveries of the subscription due at ``now`` and not ``busy`` (in
    flight), each the earliest pending one of its alert: a delivery waits while an earlier
    one of the same alert to the same subscriber is pending, so they arrive in order."""
    earlier = aliased(DeliveryRow)
    blocked = exists().where(earlier.subscription_id == DeliveryRow.subscription_id,
                             earlier.alert_id == DeliveryRow.alert_id, earlier.state == PENDING,
                             earlier.id < DeliveryRow.id)
    query = (select(DeliveryRow.id, DeliveryRow.webhook_id, DeliveryRow.subscription_id, DeliveryRow.event,
                    DeliveryRow.round_attempts, DeliveryRow.retry_until)
             .where(DeliveryRow.subscription_id == subscription_id, DeliveryRow.state == PENDING,
                    DeliveryRow.next_attempt_at <= now, ~blocked)
             .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id).limit(limit + len(busy)))
    with _transaction(db, "take the due deliveries") as conn:
        rows = [DueDelivery(*r) for r in conn.execute(query).all() if r[0] not in busy]
    return rows[:limit]


@dataclass(slots=True, frozen=True)
class Outcome:
    """One attempt of a delivery and, for a 410, why its subscription is disabled."""

    delivery: DueDelivery
    attempt: Attempt
    disable: str | None = None


def record_attempts(db: Database, outcomes: Sequence[Outcome]) -> None:
    """Store attempts and what they did to their deliveries (and subscriptions), in one
    transaction. An attempt of a delivery no longer pending (deleted, or taken back by a
    redelivery meanwhile) is dropped."""
    with _transaction(db, "record the delivery attempts") as conn:
        ids = [o.delivery.id for o in outcomes]
        pending = set(conn.execute(select(DeliveryRow.id).where(DeliveryRow.id.in_(ids),
                                                                DeliveryRow.state == PENDING)).scalars().all())
        kept = [o for o in outcomes if o.delivery.id in pending]
        if not kept:
            return
        conn.execute(update(DeliveryRow).where(DeliveryRow.id == bindparam("delivery_id")), [{
            "delivery_id": o.delivery.id, "state": _STATES.get(o.attempt.outcome, DEAD),
            "next_attempt_at": o.attempt.next_attempt_at, "round_attempts": o.delivery.round_attempts + 1,
            "last_attempt_at": o.attempt.at, "last_error": o.attempt.error,
            "delivered_at": o.attempt.at if o.attempt.outcome == "delivered" else None,
        } for o in kept])
        conn.execute(insert(DeliveryAttemptRow), [{
            "delivery_id": o.delivery.id, "at": o.attempt.at, "outcome": o.attempt.outcome,
            "status_code": o.attempt.status_code, "error": o.attempt.error, "reason": o.attempt.reason,
            "duration_seconds": o.attempt.duration_seconds, "next_attempt_at": o.attempt.next_attempt_at,
        } for o in kept])
        for o in kept:
            if o.disable is not None:
                conn.execute(update(SubscriptionRow).where(SubscriptionRow.id == o.delivery.subscription_id)
                             .values(enabled=False, disabled_reason=o.disable, updated_at=o.attempt.at))


_STATES = {"delivered": DELIVERED, "retry": PENDING}


def backlog(db: Database) -> tuple[int, dt.datetime | None]:
    """How many deliveries are pending, and when the oldest of them was queued."""
    query = select(func.count(), func.min(DeliveryRow.created_at)).where(DeliveryRow.state == PENDING)
    with _transaction(db, "measure the delivery backlog") as conn:
        count, oldest = conn.execute(query).one()
    # min() comes back as text on SQLite (the column's type is not applied to aggregates).
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.UTC)
    return int(count), oldest


# -- what subscribers can see and redo ----------------------------------------------------

def deliveries_of(db: Database, subscription_id: str, *, state: str | None = None, limit: int = 50,
                  before: int | None = None) -> list[Delivery]:
    """The subscription's deliveries, newest first, each with every attempt."""
    with _transaction(db, "list the deliveries") as conn:
        _get(conn, subscription_id)
        return _deliveries(conn, subscription_id, state=state, limit=limit, before=before)


def redeliver(db: Database, subscription_id: str, delivery_id: int, now: dt.datetime) -> Delivery:
    """Send a delivery again (same ``webhook-id``), with a fresh round of retries."""
    with _transaction(db, "queue the redelivery") as conn:
        if not _deliveries(conn, subscription_id, ids=[delivery_id]):
            raise NotFound(f"no delivery {delivery_id} of subscription {subscription_id!r}")
        conn.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(
            state=PENDING, next_attempt_at=now, retry_until=now + dt.timedelta(seconds=RETRY_WINDOW),
            round_attempts=0, delivered_at=None))
        return _deliveries(conn, subscription_id, ids=[delivery_id])[0]


def _deliveries(conn: Connection, subscription_id: str, *, ids: Sequence[int] | None = None, state: str | None = None,
                limit: int = 50, before: int | None = None) -> list[Delivery]:
    query = select(DeliveryRow).where(DeliveryRow.subscription_id == subscription_id)
    if ids is not None:
        query = query.where(DeliveryRow.id.in_(ids))
    if state is not None:
        query = query.where(DeliveryRow.state == state)
    if before is not None:
        query = query.where(DeliveryRow.id < before)
    rows = conn.execute(query.order_by(DeliveryRow.id.desc()).limit(limit)).mappings().all()
    attempts: dict[int, list[Attempt]] = {r["id"]: [] for r in rows}
    if rows:
        for a in conn.execute(select(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(attempts))
                              .order_by(DeliveryAttemptRow.id)).mappings():
            attempts[a["delivery_id"]].append(Attempt(a["at"], a["outcome"], a["status_code"], a["error"], a["reason"],
                                                      a["duration_seconds"], a["next_attempt_at"]))
    return [Delivery(r["id"], r["webhook_id"], r["subscription_id"], r["type"], r["state"], r["alert_id"],
                     r["notice_id"], r["created_at"], r["next_attempt_at"], r["delivered_at"], r["last_error"],
                     r["event"], tuple(attempts[r["id"]])) for r in rows]
