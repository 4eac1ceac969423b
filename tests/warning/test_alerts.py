"""Alert tracks: the severity of an open alert only rises; a resolved alert is closed for
good and the next firing starts a new one. (Raising, updating, clearing and resolving through
the pipeline are tested in ``test_pipeline.py``.)"""
from __future__ import annotations

import orjson
import pytest

from detectors.base import Finding, Severity
from warning.alerts import AlertStatus, AlertTrack, ChangeReason, RuleContext

HOUR = 3600.0
T0 = 1795132800.0  # 2026-11-20T00:00:00Z


@pytest.fixture
def track() -> AlertTrack:
    ctx = RuleContext("threshold", "errors.threshold", "errors", resolve_after=3 * HOUR,
                      response_seconds={s: 6 * HOUR for s in Severity})
    return AlertTrack(ctx, "svc-a")


def finding(severity: Severity, strength: float = 1.0) -> Finding:
    return Finding(severity=severity, strength=strength, message=f"{severity.name} {strength}")


def test_severity_only_rises_while_the_alert_is_open(track: AlertTrack) -> None:
    steps = [finding(Severity.moderate), finding(Severity.severe), finding(Severity.minor), None,
             finding(Severity.minor)]
    changes = [track.observe(f, T0 + i * HOUR) for i, f in enumerate(steps, 1)]

    assert [c.reason if c else None for c in changes] == [
        ChangeReason.raised, ChangeReason.severity_raised, ChangeReason.updated, ChangeReason.cleared,
        ChangeReason.refired,
    ]
    assert [c.alert.severity if c else None for c in changes] == [Severity.moderate] + [Severity.severe] * 4


def test_a_worse_severity_with_a_shorter_clock_brings_the_deadline_forward_never_back() -> None:
    clocks = {Severity.minor: 6 * HOUR, Severity.moderate: 6 * HOUR, Severity.severe: 2 * HOUR}
    track = AlertTrack(RuleContext("threshold", "errors.threshold", "errors", 3 * HOUR, clocks), "svc-a")

    raised = track.observe(finding(Severity.moderate), T0)
    worse = track.observe(finding(Severity.severe), T0 + HOUR)
    later = track.observe(finding(Severity.severe), T0 + 4 * HOUR)

    assert raised is not None and raised.alert.response_due_at == T0 + 6 * HOUR
    assert worse is not None and worse.alert.response_due_at == T0 + 2 * HOUR
    assert later is not None and later.alert.response_due_at == T0 + 2 * HOUR


def test_a_new_alert_after_resolution_starts_from_its_own_severity(track: AlertTrack) -> None:
    track.observe(finding(Severity.severe), T0)
    track.observe(None, T0 + HOUR)
    resolved = track.observe(None, T0 + 4 * HOUR)
    new = track.observe(finding(Severity.minor), T0 + 5 * HOUR)

    assert resolved is not None and resolved.reason is ChangeReason.resolved
    assert new is not None and new.reason is ChangeReason.raised
    assert new.alert.severity is Severity.minor
    assert new.alert.response_due_at == T0 + 11 * HOUR


def test_a_quiet_track_reports_nothing(track: AlertTrack) -> None:
    assert [track.observe(None, T0 + i * HOUR) for i in range(3)] == [None, None, None]
    assert track.alert is None


def test_the_peak_finding_gives_the_message_and_evidence(track: AlertTrack) -> None:
    for i, strength in enumerate([2.0, 9.0, 4.0]):
        change = track.observe(Finding(Severity.minor, strength, f"strength {strength}", {"s": strength}), T0 + i)

    assert change is not None
    assert (change.alert.message, change.alert.evidence, change.alert.strength) == ("strength 9.0", {"s": 9.0}, 9.0)
    assert change.alert.last_seen_at == T0 + 2


@pytest.mark.parametrize(("clear_for", "resolved"), [
    pytest.param(2.5 * HOUR, False, id="clear for less than resolve_after"),
    pytest.param(3 * HOUR, True, id="clear for exactly resolve_after"),
])
def test_an_alert_resolves_once_clear_for_resolve_after(track: AlertTrack, clear_for: float, resolved: bool) -> None:
    track.observe(finding(Severity.minor), T0)
    track.observe(None, T0 + HOUR)

    change = track.observe(None, T0 + HOUR + clear_for)

    assert (change is not None and change.reason is ChangeReason.resolved) is resolved
    assert (track.alert is None) is resolved


@pytest.mark.parametrize("steps", [
    pytest.param([finding(Severity.moderate)], id="open and firing"),
    pytest.param([finding(Severity.moderate), None], id="open and clear"),
    pytest.param([finding(Severity.moderate), None, None, None, None], id="resolved"),
])
def test_a_track_restored_from_json_continues_like_the_original(
    track: AlertTrack, steps: list[Finding | None]
) -> None:
    for i, f in enumerate(steps):
        track.observe(f, T0 + i * HOUR)
    restored = AlertTrack(track.ctx, track.entity)
    restored.restore(orjson.loads(orjson.dumps(track.snapshot())))

    assert restored.alert == track.alert
    later = [None, finding(Severity.severe, 5.0), None, None, None, None]
    at = [T0 + (len(steps) + i) * HOUR for i in range(len(later))]
    assert [restored.observe(f, t) for f, t in zip(later, at)] == [track.observe(f, t) for f, t in zip(later, at)]


# -- operators' moves (warning.response routes them here through the pipeline) -------------------


def test_detection_builds_on_an_operators_status_and_version(track: AlertTrack) -> None:
    track.observe(finding(Severity.moderate), T0)
    track.move(AlertStatus.acknowledged, 2)

    worse = track.observe(finding(Severity.severe), T0 + HOUR)

    assert worse is not None and worse.reason is ChangeReason.severity_raised
    assert (worse.alert.status, worse.alert.version) == (AlertStatus.acknowledged, 3)


def test_an_acknowledged_alert_does_not_resolve_itself(track: AlertTrack) -> None:
    track.observe(finding(Severity.minor), T0)
    track.move(AlertStatus.acknowledged, 2)
    track.observe(None, T0 + HOUR)

    assert track.observe(None, T0 + 10 * HOUR) is None
    assert track.alert is not None and track.alert.status is AlertStatus.acknowledged


@pytest.mark.parametrize("still_firing", [pytest.param(True, id="still firing"), pytest.param(False, id="clear")])
def test_after_an_operator_resolves_the_next_firing_raises_a_new_alert(track: AlertTrack, still_firing: bool) -> None:
    first = track.observe(finding(Severity.minor), T0)
    if not still_firing:
        track.observe(None, T0 + HOUR)
    track.move(AlertStatus.resolved, 3)

    quiet = track.observe(None, T0 + 2 * HOUR)
    again = track.observe(finding(Severity.minor), T0 + 3 * HOUR)

    assert track.alert is not None and quiet is None
    assert again is not None and again.reason is ChangeReason.raised
    assert first is not None and again.alert.id != first.alert.id


def test_an_operators_status_survives_a_snapshot(track: AlertTrack) -> None:
    track.observe(finding(Severity.minor), T0)
    track.move(AlertStatus.responding, 2)
    restored = AlertTrack(track.ctx, track.entity)

    restored.restore(orjson.loads(orjson.dumps(track.snapshot())))

    assert restored.alert is not None and (restored.alert.status, restored.alert.version) == (AlertStatus.responding, 2)
