"""The notices table as an outbox, on SQLite and PostgreSQL: planned in the alert's own
transaction, planned anew only while pending, sent once."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from detectors.base import Severity
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.clock import HOUR, ManualClock
from warning.notify.log import NotificationLog
from warning.notify.outbox import Outbox
from warning.storage.database import Database
from warning.storage.notices import notices_of, scheduler
from warning.timefmt import rfc3339

R = 1795170300.0  # 2026-11-20T10:25:00Z
ESCALATIONS = (3.0, 5.0)


def alert(**changes: object) -> Alert:
    base = Alert(id="alr_x", kind="threshold", rule="alarms.threshold", signal="alarms", entity="policy-system",
                 severity=Severity.moderate, status=AlertStatus.open, raised_at=R, last_seen_at=R,
                 response_due_at=R + 6 * HOUR, message="over the limit", evidence={"limit": 10}, strength=1.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def store(db: Database, *changes: AlertChange) -> None:
    db.record(changes=list(changes), extra=scheduler(changes, ESCALATIONS))


def states(db: Database) -> list[tuple[str, str, str]]:
    with db.engine.connect() as conn:
        return [(n.id.removeprefix("alr_x/"), n.state, rfc3339(n.due_at.timestamp())) for n in notices_of(conn, "alr_x")]


@pytest.fixture
def outbox(database: Database, tmp_path: Path) -> Outbox:
    return Outbox(database, ManualClock(R), NotificationLog(tmp_path / "notifications.jsonl"), threading.Lock())


def test_a_raised_alert_is_stored_with_its_notices(database: Database) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))

    assert states(database) == [
        ("v1", "pending", rfc3339(R)), ("escalation-3h", "pending", rfc3339(R + 3 * HOUR)),
        ("escalation-5h", "pending", rfc3339(R + 5 * HOUR)), ("overdue", "pending", rfc3339(R + 6 * HOUR)),
    ]


def test_storing_the_same_batch_twice_plans_nothing_twice(database: Database) -> None:
    raised = AlertChange(alert(), ChangeReason.raised, R)
    store(database, raised)
    store(database, raised)

    assert len(states(database)) == 4


def test_a_deadline_brought_forward_moves_the_pending_points_and_drops_the_rest(database: Database,
                                                                                outbox: Outbox) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))
    assert isinstance(outbox.clock, ManualClock)
    outbox.clock.set(R + 3 * HOUR)
    outbox.tick()
    worse = alert(version=2, severity=Severity.severe, response_due_at=R + 4 * HOUR)

    store(database, AlertChange(worse, ChangeReason.severity_raised, R + 3.5 * HOUR))

    assert states(database) == [
        ("v1", "sent", rfc3339(R)), ("escalation-3h", "sent", rfc3339(R + 3 * HOUR)),
        ("v2", "pending", rfc3339(R + 3.5 * HOUR)), ("overdue", "pending", rfc3339(R + 4 * HOUR)),
        ("escalation-5h", "cancelled", rfc3339(R + 5 * HOUR)),
    ]


def test_a_resolved_alert_cancels_its_pending_clock_but_still_says_so(database: Database) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))
    resolved = alert(version=2, status=AlertStatus.resolved, resolved_at=R + HOUR)

    store(database, AlertChange(resolved, ChangeReason.resolved, R + HOUR))

    assert [(i, s) for i, s, _ in states(database)] == [
        ("v1", "pending"), ("v2", "pending"), ("escalation-3h", "cancelled"), ("escalation-5h", "cancelled"),
        ("overdue", "cancelled")]


def test_a_tick_sends_what_is_due_once_and_logs_it(database: Database, outbox: Outbox) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))
    assert isinstance(outbox.clock, ManualClock)
    outbox.clock.set(R + 5 * HOUR)

    first, second = outbox.tick(), outbox.tick()

    assert [n["type"] for n in first] == ["alert.raised", "alert.escalation", "alert.escalation"]
    assert second == []
    logged = outbox.log.read()
    assert [(n["id"], n["at"], n["sent_at"]) for n in logged] == [
        ("alr_x/v1", rfc3339(R), rfc3339(R + 5 * HOUR)),
        ("alr_x/escalation-3h", rfc3339(R + 3 * HOUR), rfc3339(R + 5 * HOUR)),
        ("alr_x/escalation-5h", rfc3339(R + 5 * HOUR), rfc3339(R + 5 * HOUR)),
    ]


def test_a_clock_notice_carries_the_alert_as_it_stands_when_sent(database: Database, outbox: Outbox) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))
    store(database, AlertChange(alert(version=2, last_seen_at=R + HOUR, evidence={"limit": 10, "peak": 40}),
                                ChangeReason.updated, R + HOUR))
    assert isinstance(outbox.clock, ManualClock)
    outbox.clock.set(R + 3 * HOUR)

    escalation = outbox.tick()[-1]

    assert escalation["type"] == "alert.escalation"
    assert (escalation["alert"]["version"], escalation["alert"]["evidence"]) == (2, {"limit": 10, "peak": 40})
    assert escalation["elapsed_hours"] == 3.0
    assert escalation["reason"] == ("no response 3 h after the alert was raised; the deadline is "
                                    f"{rfc3339(R + 6 * HOUR)}")


def test_a_log_that_cannot_be_written_leaves_the_notices_pending(database: Database, outbox: Outbox,
                                                                 tmp_path: Path) -> None:
    store(database, AlertChange(alert(), ChangeReason.raised, R))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log's directory should be")
    outbox.log = NotificationLog(blocked / "notifications.jsonl")

    with pytest.raises(OSError):
        outbox.tick()

    assert states(database)[0][1] == "pending"
