"""Alertmanager's webhook payload (version 4) to canonical ``alarms`` events."""
from __future__ import annotations

from typing import Any

import pytest

from ingest.intake import sort_batch
from ingest.sources.alertmanager import PayloadError, map_payload
from ingest.validate import MAX_LABELS, Validator
from warning.settings import Settings

ENTITY_LABELS = ("service",)


def am_alert(status: str = "firing", starts_at: str = "2026-11-20T10:00:01.123456789Z", **labels: str) -> dict[str, Any]:
    labels = labels or {"alertname": "HighErrorRate", "service": "checkout", "instance": "10.0.0.7:9100"}
    return {"status": status, "labels": labels, "annotations": {"summary": "errors"}, "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "5c1ad1b1"}


def payload(*alerts: Any, version: Any = "4") -> dict[str, Any]:
    return {"version": version, "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "tocsin", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": list(alerts)}


def test_a_firing_alert_is_one_alarm_of_the_labelled_entity_at_its_start() -> None:
    mapped = map_payload(payload(am_alert()), ENTITY_LABELS, "am")

    [(source, event)] = mapped.records
    assert source == "am alerts[0]"
    assert event["signal"] == "alarms" and event["value"] == 1
    assert event["entity"] == "checkout"
    assert event["ts"] == "2026-11-20T10:00:01.123456Z"
    assert event["labels"] == {"alertname": "HighErrorRate", "instance": "10.0.0.7:9100"}
    assert mapped.indexes == [0] and mapped.unmapped == [] and mapped.resolved == []


def test_the_mapped_event_passes_ingest_validation(settings: Settings) -> None:
    mapped = map_payload(payload(am_alert(), am_alert(service="billing", alertname="Down")), ENTITY_LABELS, "am")

    batch = sort_batch(mapped.records, Validator(settings))

    assert batch.rejected == []
    assert [(e.entity, e.value, e.labels) for e in batch.events] == [
        ("checkout", 1.0, {"alertname": "HighErrorRate", "instance": "10.0.0.7:9100"}),
        ("billing", 1.0, {"alertname": "Down"}),
    ]


def test_a_notifications_alerts_are_merged_in_time_order(settings: Settings) -> None:
    # Alertmanager orders a group's alerts by labels; the 10:20 firing must not close 10:00's bucket first.
    later, earlier = am_alert(starts_at="2026-11-20T10:20:00Z"), am_alert(starts_at="2026-11-20T10:00:00Z", service="checkout", instance="h2")

    mapped = map_payload(payload(later, earlier), ENTITY_LABELS, "am")

    assert [e["ts"] for _, e in mapped.records] == ["2026-11-20T10:00:00Z", "2026-11-20T10:20:00Z"]
    assert mapped.indexes == [1, 0]


def test_resolved_alerts_are_listed_not_counted() -> None:
    mapped = map_payload(payload(am_alert("resolved"), am_alert()), ENTITY_LABELS, "am")

    assert mapped.resolved == [0]
    assert mapped.indexes == [1]


def test_the_first_entity_label_present_names_the_entity() -> None:
    labels = ("service", "job", "instance")
    mapped = map_payload(payload(am_alert(alertname="A", job="node", instance="h1"), am_alert(alertname="B", instance="h2")),
                         labels, "am")

    assert [e["entity"] for _, e in mapped.records] == ["node", "h2"]
    assert mapped.records[0][1]["labels"] == {"alertname": "A", "instance": "h1"}


def test_an_alert_without_an_entity_label_is_rejected_with_the_reason_and_the_rest_counts() -> None:
    mapped = map_payload(payload(am_alert(alertname="NoService", instance="h1"), am_alert()), ENTITY_LABELS, "am")

    [(index, rejected)] = mapped.unmapped
    assert index == 0
    assert "entity label missing: the alert has none of service" in rejected.reason
    assert "alertmanager_entity_labels" in rejected.reason
    assert rejected.source == "am alerts[0]" and '"alertname":"NoService"' in rejected.raw
    assert mapped.indexes == [1]


def test_a_repeated_notification_of_the_same_firing_gets_the_same_id() -> None:
    first = am_alert()
    # A later notification of the group, or the other Alertmanager of an HA pair writing its own zone:
    # other annotations and endsAt, startsAt at the same instant.
    repeat = {**am_alert(starts_at="2026-11-20T11:00:01.123456+01:00"), "annotations": {"summary": "still"},
              "endsAt": "2026-11-20T10:09:00Z"}

    ids = [e["id"] for _, e in map_payload(payload(first, repeat), ENTITY_LABELS, "am").records]

    assert ids[0] == ids[1]


@pytest.mark.parametrize("other", [
    pytest.param(am_alert(starts_at="2026-11-20T10:30:00Z"), id="a new firing of the same alert"),
    pytest.param(am_alert(alertname="HighErrorRate", service="checkout", instance="10.0.0.8:9100"),
                 id="another alert of the same entity"),
])
def test_another_firing_gets_another_id(other: dict[str, Any]) -> None:
    ids = [e["id"] for _, e in map_payload(payload(am_alert(), other), ENTITY_LABELS, "am").records]

    assert ids[0] != ids[1]


def test_labels_are_bounded_to_what_ingest_accepts() -> None:
    labels = {f"l{i:02d}": "v" for i in range(MAX_LABELS + 5)}
    labels.update(service="checkout", huge="x" * 500, **{"k" * 100: "long name"})

    [(_, event)] = map_payload(payload(am_alert(**labels)), ENTITY_LABELS, "am").records

    assert list(event["labels"]) == [f"l{i:02d}" for i in range(MAX_LABELS)]


@pytest.mark.parametrize(("body", "location"), [
    pytest.param([], "body", id="not an object"),
    pytest.param(payload(am_alert(), version="3"), "body.version", id="another payload version"),
    pytest.param({"version": "4"}, "body.alerts", id="no alerts"),
    pytest.param(payload("nope"), "body.alerts[0]", id="an alert that is not an object"),
    pytest.param(payload(am_alert(status="pending")), "body.alerts[0].status", id="an unknown status"),
    pytest.param(payload({**am_alert(), "labels": {"a": 1}}), "body.alerts[0].labels", id="labels not strings"),
    pytest.param(payload({**am_alert(), "labels": {}}), "body.alerts[0].labels", id="no labels"),
    pytest.param(payload(am_alert(), am_alert(starts_at="yesterday")), "body.alerts[1].startsAt",
                 id="startsAt not a timestamp"),
    pytest.param(payload(am_alert(starts_at="2026-11-20T10:00:00")), "body.alerts[0].startsAt",
                 id="startsAt without an offset"),
])
def test_a_body_that_is_not_a_v4_payload_is_refused_with_where(body: Any, location: str) -> None:
    with pytest.raises(PayloadError) as caught:
        map_payload(body, ENTITY_LABELS, "am")

    assert caught.value.location == location
    assert caught.value.message
