"""Grouping alerts into crises, the fusion rule, ids, status, clock and type."""
from __future__ import annotations

import itertools

import pytest

from detectors.base import Severity
from warning.alerts import Alert, AlertStatus
from warning.crises import TypeSource, crisis_id, crisis_type, first_alert_id, fused_signals, group
from warning.storage.crises import TypeSet, lookup

H = 3600.0
GAP = 6 * H


def alert(id: str, signal: str, raised_h: float, *, entity: str = "brand-x", last_seen_h: float | None = None,
          cleared_h: float | None = None, severity: Severity = Severity.minor,
          status: AlertStatus = AlertStatus.open, due_h: float | None = None, kind: str = "threshold",
          crisis_type: str | None = None) -> Alert:
    raised = raised_h * H
    return Alert(
        id=id, kind=kind, rule=f"{signal}.{kind}", signal=signal, entity=entity, severity=severity, status=status,
        raised_at=raised, last_seen_at=(raised_h + 1 if last_seen_h is None else last_seen_h) * H,
        response_due_at=(raised_h + 6 if due_h is None else due_h) * H, message="", evidence={}, strength=1.0,
        crisis_type=crisis_type, cleared_at=None if cleared_h is None else cleared_h * H,
    )


def test_two_signals_at_once_make_a_crisis_at_least_moderate() -> None:
    [crisis] = group([alert("alr_a", "mentions", 0, last_seen_h=3), alert("alr_b", "alarms", 2)], gap=GAP)

    assert (crisis.severity, crisis.fused_signals) == (Severity.moderate, 2)
    assert [a.id for a in crisis.alerts] == ["alr_a", "alr_b"]


def test_three_signals_at_once_make_it_severe() -> None:
    [crisis] = group([alert("alr_a", "mentions", 0, last_seen_h=5), alert("alr_b", "alarms", 1, last_seen_h=4),
                      alert("alr_c", "satisfaction", 3)], gap=GAP)

    assert (crisis.severity, crisis.fused_signals) == (Severity.severe, 3)


def test_signals_in_one_crisis_that_were_never_active_together_do_not_fuse() -> None:
    [crisis] = group([alert("alr_a", "mentions", 0, last_seen_h=1, cleared_h=2),
                      alert("alr_b", "alarms", 4, last_seen_h=5)], gap=GAP)

    assert (crisis.severity, crisis.fused_signals) == (Severity.minor, 1)


def test_alerts_still_firing_fuse_though_their_last_firing_buckets_differ() -> None:
    """A daily satisfaction alert last seen at its one bucket, hourly alerts seen since: all still firing."""
    [crisis] = group([alert("alr_s", "satisfaction", 0, last_seen_h=0), alert("alr_m", "mentions", 2, last_seen_h=5),
                      alert("alr_a", "alarms", 3, last_seen_h=4, cleared_h=4.5)], gap=GAP)

    assert (crisis.severity, crisis.fused_signals) == (Severity.severe, 3)


def test_fusion_never_lowers_the_worst_alert() -> None:
    [crisis] = group([alert("alr_a", "mentions", 0, severity=Severity.severe)], gap=GAP)

    assert crisis.severity is Severity.severe


def test_two_alerts_of_one_signal_count_as_one_signal() -> None:
    alerts = [alert("alr_a", "mentions", 0, last_seen_h=3), alert("alr_b", "mentions", 1, last_seen_h=3)]

    assert fused_signals(alerts) == 1


def test_alerts_far_apart_in_time_form_two_crises() -> None:
    crises = group([alert("alr_a", "mentions", 0, last_seen_h=1), alert("alr_b", "alarms", 1 + 6 + 0.5)], gap=GAP)

    assert [[a.id for a in c.alerts] for c in crises] == [["alr_a"], ["alr_b"]]


def test_an_alert_raised_within_the_gap_of_the_last_activity_joins() -> None:
    """Activity runs to the alert's clearing, not its raise: a long firing keeps the crisis open."""
    crises = group([alert("alr_a", "mentions", 0, last_seen_h=10, cleared_h=11), alert("alr_b", "alarms", 16.5)],
                   gap=GAP)

    assert len(crises) == 1
    assert crises[0].active_until == 17.5 * H


def test_a_late_alert_that_bridges_the_gap_merges_two_crises_under_the_earlier_id() -> None:
    """A daily satisfaction bucket closes after the hourly signals moved on: its alert arrives late."""
    early, late = alert("alr_a", "mentions", 0, last_seen_h=1), alert("alr_c", "alarms", 12)
    bridge = alert("alr_b", "satisfaction", 6, last_seen_h=7)

    before = group([early, late], gap=GAP)
    after = group([early, late, bridge], gap=GAP)

    assert [c.id for c in before] == ["crs_a", "crs_c"]
    assert [(c.id, len(c.alerts)) for c in after] == [("crs_a", 3)]


def test_what_was_recorded_on_an_absorbed_crisis_stays_with_the_crisis() -> None:
    recorded = {"crs_c": TypeSet("crs_c", "service_outage", "Ana", 5.0), "crs_x": TypeSet("crs_x", "", "", 9.0)}

    assert lookup(recorded, "crs_a", ["crs_a", "crs_b", "crs_c"], lambda t: t.set_at) == recorded["crs_c"]
    assert lookup(recorded, "crs_c", ["crs_c"], lambda t: t.set_at) == recorded["crs_c"]
    assert lookup(recorded, "crs_a", ["crs_a"], lambda t: t.set_at) is None


def test_each_entity_has_its_own_crises() -> None:
    crises = group([alert("alr_a", "mentions", 0, entity="brand-x"), alert("alr_b", "alarms", 0, entity="brand-y")],
                   gap=GAP)

    assert sorted((c.entity, c.severity.name) for c in crises) == [("brand-x", "minor"), ("brand-y", "minor")]


def test_feed_watchdog_alerts_belong_to_no_crisis() -> None:
    crises = group([alert("alr_a", "mentions", 0), alert("alr_b", "alarms", 0, kind="no_data")], gap=GAP)

    assert [[a.id for a in c.alerts] for c in crises] == [["alr_a"]]


def test_the_crisis_id_names_its_first_alert_whatever_the_order_read() -> None:
    alerts = [alert("alr_9f", "mentions", 1), alert("alr_0a", "alarms", 0), alert("alr_55", "satisfaction", 2)]

    ids = {tuple(c.id for c in group(order, gap=GAP)) for order in itertools.permutations(alerts)}

    assert ids == {("crs_0a",)}
    assert first_alert_id("crs_0a") == "alr_0a" and crisis_id("alr_0a") == "crs_0a"


@pytest.mark.parametrize("bad", ["alr_0a", "crs_", "crs_../x", "0a"])
def test_a_malformed_crisis_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a crisis id"):
        first_alert_id(bad)


def test_the_clock_is_the_earliest_alerts_even_when_a_later_one_is_due_sooner() -> None:
    [crisis] = group([alert("alr_a", "mentions", 0, due_h=6), alert("alr_b", "alarms", 1, due_h=3)], gap=GAP)

    assert crisis.response_due_at == 6 * H


def test_the_status_is_the_least_advanced_alerts() -> None:
    S = AlertStatus
    [crisis] = group([alert("alr_a", "mentions", 0, status=S.responding), alert("alr_b", "alarms", 1, status=S.resolved),
                      alert("alr_c", "satisfaction", 2, status=S.acknowledged)], gap=GAP)

    assert crisis.status is S.acknowledged


@pytest.mark.parametrize(("operator", "entity", "alerts", "expected"), [
    pytest.param("service_outage", "product_defect", "communication_failure", ("service_outage", TypeSource.operator),
                 id="the operator's word wins"),
    pytest.param(None, "product_defect", "communication_failure", ("product_defect", TypeSource.entity),
                 id="the entity's current configuration over the alerts'"),
    pytest.param(None, None, "communication_failure", ("communication_failure", TypeSource.alert),
                 id="the rule's type the alert was raised with"),
    pytest.param(None, None, None, (None, None), id="no type anywhere"),
])
def test_crisis_type_precedence(operator: str | None, entity: str | None, alerts: str | None,
                                expected: tuple[str | None, TypeSource | None]) -> None:
    [crisis] = group([alert("alr_a", "mentions", 0), alert("alr_b", "alarms", 0.5, crisis_type=alerts)], gap=GAP)

    assert crisis_type(crisis, operator_type=operator, entity_type=entity) == expected
