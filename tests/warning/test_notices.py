"""Notices: what each alert change plans, and a replay's notices on event time."""
from __future__ import annotations

import dataclasses

import pytest

from detectors.base import Severity
from warning.alerts import Alert, AlertChange, AlertStatus, ChangeReason
from warning.notices import plan, replay_notices
from warning.timefmt import rfc3339

HOUR = 3600.0
R = 1795170300.0  # 2026-11-20T10:25:00Z
ESCALATIONS = (3.0, 5.0)


def alert(*, version: int = 1, severity: Severity = Severity.moderate, status: AlertStatus = AlertStatus.open,
          due_hours: float = 6.0) -> Alert:
    return Alert(id="alr_x", kind="threshold", rule="alarms.threshold", signal="alarms", entity="policy-system",
                 severity=severity, status=status, raised_at=R, last_seen_at=R, response_due_at=R + due_hours * HOUR,
                 message="value 20 above the limit 10 for 2 buckets", evidence={"limit": 10}, strength=10.0,
                 version=version)


def change(a: Alert, reason: ChangeReason, hours: float) -> AlertChange:
    return AlertChange(a, reason, R + hours * HOUR)


def sent(changes: list[AlertChange], end_hours: float) -> list[tuple[str, str, float | None]]:
    notices, _ = replay_notices(changes, R + end_hours * HOUR, ESCALATIONS)
    return [(n.type, n.payload()["at"], n.elapsed_hours) for n in notices]


def at(hours: float) -> str:
    return rfc3339(R + hours * HOUR)


def test_a_raised_alert_sends_a_notice_and_schedules_the_clock_at_exact_points() -> None:
    p = plan(alert(), "raised", R, ESCALATIONS)

    assert p.send is not None and (p.send.id, p.send.type, p.send.due_at) == ("alr_x/v1", "alert.raised", R)
    assert p.clock is not None
    assert [(n.id, n.type, n.due_at - R, n.elapsed_hours) for n in p.clock] == [
        ("alr_x/escalation-3h", "alert.escalation", 3 * HOUR, 3.0),
        ("alr_x/escalation-5h", "alert.escalation", 5 * HOUR, 5.0),
        ("alr_x/overdue", "alert.overdue", 6 * HOUR, 6.0),
    ]


def test_a_shorter_clock_drops_the_escalation_points_past_its_deadline() -> None:
    p = plan(alert(severity=Severity.severe, due_hours=2.0), "raised", R, ESCALATIONS)

    assert p.clock is not None and [(n.type, n.elapsed_hours) for n in p.clock] == [("alert.overdue", 2.0)]


@pytest.mark.parametrize(("status", "notified"), [
    pytest.param(AlertStatus.open, True, id="open: notified"),
    pytest.param(AlertStatus.acknowledged, True, id="acknowledged but not responding: notified"),
    pytest.param(AlertStatus.responding, False, id="responding: the team is on it"),
])
def test_a_severity_rise_is_notified_until_the_response_starts(status: AlertStatus, notified: bool) -> None:
    p = plan(alert(version=4, severity=Severity.severe, status=status), "severity_raised", R + HOUR, ESCALATIONS)

    assert (p.send is not None) is notified
    if p.send is not None:
        assert (p.send.type, p.send.reason) == ("alert.severity_raised", f"severity rose to severe while {status.value}")


@pytest.mark.parametrize(("status", "cancels"), [
    pytest.param(AlertStatus.acknowledged, False, id="acknowledged: the clock runs on"),
    pytest.param(AlertStatus.responding, True, id="responding: the clock stops"),
    pytest.param(AlertStatus.resolved, True, id="resolved: the clock stops"),
])
def test_an_operator_move_is_notified_with_its_actor(status: AlertStatus, cancels: bool) -> None:
    p = plan(alert(version=2, status=status), status.value, R + HOUR, ESCALATIONS, actor="Ana Ruiz")

    assert p.send is not None and p.send.type == f"alert.{status.value}" and p.send.actor == "Ana Ruiz"
    assert p.cancel is cancels


def test_plain_updates_plan_nothing() -> None:
    p = plan(alert(version=2), "updated", R + 0.1 * HOUR, ESCALATIONS)

    assert (p.send, p.clock, p.cancel) == (None, None, False)


# -- replay: the clock on event time -------------------------------------------------------------


def test_replay_sends_escalations_at_exact_points_until_the_alert_resolves() -> None:
    a = alert()
    changes = [change(a, ChangeReason.raised, 0), change(dataclasses.replace(a, version=2), ChangeReason.cleared, 1),
               change(dataclasses.replace(a, version=3, status=AlertStatus.resolved), ChangeReason.resolved, 4)]

    assert sent(changes, end_hours=24) == [
        ("alert.raised", at(0), None), ("alert.cleared", at(1), None), ("alert.escalation", at(3), 3.0),
        ("alert.resolved", at(4), None),
    ]


def test_replay_without_a_response_goes_overdue_at_the_deadline() -> None:
    assert sent([change(alert(), ChangeReason.raised, 0)], end_hours=6) == [
        ("alert.raised", at(0), None), ("alert.escalation", at(3), 3.0), ("alert.escalation", at(5), 5.0),
        ("alert.overdue", at(6), 6.0),
    ]


def test_replay_stops_the_clock_at_the_last_event_and_counts_what_was_not_yet_due() -> None:
    notices, pending = replay_notices([change(alert(), ChangeReason.raised, 0)], R + 5.5 * HOUR, ESCALATIONS)

    assert [n.type for n in notices] == ["alert.raised", "alert.escalation", "alert.escalation"]
    assert pending == 1


def test_replay_notices_do_not_depend_on_the_order_changes_arrive_in() -> None:
    a = alert()
    changes = [change(a, ChangeReason.raised, 0),
               change(dataclasses.replace(a, version=2, status=AlertStatus.resolved), ChangeReason.resolved, 2.5)]

    assert sent(changes[::-1], end_hours=24) == sent(changes, end_hours=24) == [
        ("alert.raised", at(0), None), ("alert.resolved", at(2.5), None),
    ]


def test_a_deadline_brought_forward_into_the_past_is_due_when_it_moved() -> None:
    a = alert()
    worse = dataclasses.replace(a, version=2, severity=Severity.severe, response_due_at=R + 2 * HOUR)
    changes = [change(a, ChangeReason.raised, 0), change(worse, ChangeReason.severity_raised, 2.5)]

    assert sent(changes, end_hours=24) == [
        ("alert.raised", at(0), None), ("alert.severity_raised", at(2.5), None), ("alert.overdue", at(2.5), 2.0),
    ]


def test_a_clock_notice_carries_the_alert_as_it_stood_when_due() -> None:
    a = alert()
    worse = dataclasses.replace(a, version=2, severity=Severity.severe)
    notices, _ = replay_notices([change(a, ChangeReason.raised, 0), change(worse, ChangeReason.severity_raised, 1)],
                                R + 3 * HOUR, ESCALATIONS)

    escalation = notices[-1].payload()
    assert (escalation["type"], escalation["alert"]["severity"], escalation["alert"]["version"]) == \
        ("alert.escalation", "severe", 2)
    assert set(escalation) == {"id", "type", "alert_id", "entity", "at", "elapsed_hours", "reason", "actor", "alert"}
