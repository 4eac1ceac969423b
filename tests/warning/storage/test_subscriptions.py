"""The deliveries outbox on SQLite and PostgreSQL: queued with the notices, taken per alert in
order, attempts recorded, subscriptions disabled by a 410."""
from __future__ import annotations

import datetime as dt

from warning.notify.webhooks import webhook_id
from warning.storage import subscriptions as store
from warning.storage.database import Database
from warning.subscriptions import Attempt, Filters

NOW = dt.datetime(2026, 11, 20, 10, 25, tzinfo=dt.UTC)


def notice(alert_id: str, version: int, type: str = "alert.raised", entity: str = "policy-system",
           severity: str = "moderate") -> dict[str, object]:
    return {"id": f"{alert_id}/v{version}", "type": type, "alert_id": alert_id, "entity": entity,
            "at": "2026-11-20T10:25:00Z", "elapsed_hours": None, "reason": "new alert", "actor": None,
            "alert": {"id": alert_id, "entity": entity, "signal": "alarms", "severity": severity}}


def enqueue(db: Database, *notices: dict[str, object]) -> int:
    with db.engine.begin() as conn:
        return store.enqueue(conn, list(notices), NOW)


def attempt(outcome: str, at: dt.datetime = NOW) -> Attempt:
    retry = at + dt.timedelta(seconds=5) if outcome == "retry" else None
    return Attempt(at, outcome, 500 if outcome != "delivered" else 200, None, None, 0.01, retry)


def test_deliveries_are_queued_per_matching_subscription_once(database: Database) -> None:
    everyone = store.create(database, url="http://a", filters=Filters(), description=None, actor="t", now=NOW)
    severe = store.create(database, url="http://b", filters=Filters(min_severity="severe"), description=None,
                          actor="t", now=NOW)

    first = enqueue(database, notice("alr_1", 1), notice("alr_2", 1, severity="severe"))
    again = enqueue(database, notice("alr_1", 1))  # the same notice sent twice (a retried tick) queues nothing new

    due_everyone = store.due(database, everyone.id, NOW, limit=10)
    due_severe = store.due(database, severe.id, NOW, limit=10)
    assert (first, again) == (3, 1)
    assert [d.event["subject"] for d in due_everyone] == ["alr_1", "alr_2"]
    assert [d.event["subject"] for d in due_severe] == ["alr_2"]
    assert due_severe[0].webhook_id == webhook_id(severe.id, "alr_2/v1")


def test_only_the_earliest_pending_delivery_of_an_alert_is_due(database: Database) -> None:
    sub = store.create(database, url="http://a", filters=Filters(), description=None, actor="t", now=NOW)
    enqueue(database, notice("alr_1", 1), notice("alr_1", 2, "alert.resolved"), notice("alr_2", 1))

    first = store.due(database, sub.id, NOW, limit=10)
    store.record_attempts(database, [store.Outcome(first[0], attempt("retry"))])
    while_retrying = store.due(database, sub.id, NOW + dt.timedelta(seconds=1), limit=10)
    store.record_attempts(database, [store.Outcome(d, attempt("delivered")) for d in
                                     store.due(database, sub.id, NOW + dt.timedelta(seconds=5), limit=10)])
    after = store.due(database, sub.id, NOW + dt.timedelta(seconds=6), limit=10)

    assert [d.event["type"] for d in first] == ["io.tocsin.alert.raised", "io.tocsin.alert.raised"]
    assert [d.event["subject"] for d in while_retrying] == ["alr_2"]  # alr_1's resolved waits behind its raised
    assert [d.event["type"] for d in after] == ["io.tocsin.alert.resolved"]


def test_a_410_disables_the_subscription_and_it_gets_no_new_deliveries(database: Database) -> None:
    sub = store.create(database, url="http://a", filters=Filters(), description=None, actor="t", now=NOW)
    enqueue(database, notice("alr_1", 1))
    [delivery] = store.due(database, sub.id, NOW, limit=10)

    store.record_attempts(database, [store.Outcome(delivery, attempt("gone"), disable="410 Gone")])
    queued_after = enqueue(database, notice("alr_2", 1))

    [listed] = store.deliveries_of(database, sub.id)
    disabled = store.get(database, sub.id)
    assert (disabled.enabled, disabled.disabled_reason, queued_after) == (False, "410 Gone", 0)
    assert (listed.state, [a.outcome for a in listed.attempts]) == ("dead", ["gone"])
    assert store.backlog(database) == (0, None)


def test_the_backlog_counts_pending_deliveries_and_the_oldest(database: Database) -> None:
    store.create(database, url="http://a", filters=Filters(), description=None, actor="t", now=NOW)
    enqueue(database, notice("alr_1", 1), notice("alr_2", 1))

    assert store.backlog(database) == (2, NOW)
