"""The detection core: restartable from snapshots, partitionable by entity, and one open
alert per (rule, entity) with a 6-hour response clock."""
from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

import orjson
import pytest

from detectors.base import Severity
from ingest.validate import Validator
from tests.conftest import SHARED
from warning.alerts import AlertChange, ChangeReason
from warning.events import Event
from warning.pipeline import Pipeline
from warning.settings import Settings, load_settings

SCENARIOS = SHARED / "scenarios" / "events.jsonl.gz"
# Positives and distractors of each family: every seed detector and every alert state is exercised.
ENTITIES = ("svc-00", "svc-03", "svc-04", "brand-03", "brand-05", "brand-09", "sat-00", "sat-02", "sat-04")
THRESHOLDS = {
    "satisfaction": {"detectors": [{"kind": "threshold", "limit": 82, "direction": "below", "for_buckets": 3}]},
    "mentions": {"detectors": [{"kind": "threshold", "limit": 80, "severity": "severe"}]},
    "alarms": {"detectors": [{"kind": "threshold", "limit": 15, "for_buckets": 2}]},
}
HOUR = 3600.0
T0 = 1795132800.0  # 2026-11-20T00:00:00Z
BATCH = 1000


# -- the scenario slice ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario_records() -> list[bytes]:
    """Every event of ENTITIES from the scenario file (about 36 000), in file order."""
    wanted = tuple(b'"entity":"%s"' % e.encode() for e in ENTITIES)
    with gzip.open(SCENARIOS, "rb") as lines:
        return [line for line in lines if any(w in line for w in wanted)]


@pytest.fixture(scope="module", params=["threshold", "default"])
def config(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Threshold rules (independent of detector tuning), then the embedded default rules."""
    signals = THRESHOLDS if request.param == "threshold" else {}
    return load_settings(None, data_dir=tmp_path_factory.mktemp("data"), signals=signals)


@pytest.fixture(scope="module")
def events(scenario_records: list[bytes], config: Settings) -> list[Event]:
    validator = Validator(config)
    parsed = [validator.parse_line(line) for line in scenario_records]
    assert all(isinstance(e, Event) for e in parsed)
    return parsed  # type: ignore[return-value]


def batches(events: Sequence[Event], size: int = BATCH) -> Iterator[list[Event]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


def run(pipeline: Pipeline, events: Sequence[Event], *, flush: bool = True) -> list[AlertChange]:
    changes: list[AlertChange] = []
    for batch in batches(events):
        changes += pipeline.process(batch).changes
    if flush:
        changes += pipeline.flush().changes
    return changes


def as_json(changes: Sequence[AlertChange]) -> list[bytes]:
    """Changes as bytes: exact, and NaN-safe, comparison of every field."""
    return [orjson.dumps([c.reason.value, c.at, c.alert.to_json(), c.alert.strength]) for c in changes]


def json_round_trip(snapshot: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], list[Any]]:
    """What a checkpoint store would keep: the state as JSON text, keyed by signal and entity."""
    stored = orjson.dumps([[signal, entity, state] for (signal, entity), state in snapshot.items()])
    return {(signal, entity): state for signal, entity, state in orjson.loads(stored)}


@pytest.fixture(scope="module")
def uninterrupted(config: Settings, events: list[Event]) -> list[AlertChange]:
    return run(Pipeline(config), events)


# -- (a) stop, snapshot, restore into a new pipeline, continue ------------------------------


def test_the_slice_raises_alerts_on_every_signal(uninterrupted: list[AlertChange]) -> None:
    """So that the runs below compare alerts, not silence (the slice holds positives of each family)."""
    raised = {c.alert.signal for c in uninterrupted if c.reason is ChangeReason.raised}

    assert raised == {"satisfaction", "mentions", "alarms"}


@pytest.mark.parametrize("cut", [
    pytest.param(0.02, id="during warm-up"),
    pytest.param(0.31, id="a third in"),
    pytest.param(0.5, id="midway"),
    pytest.param(0.77, id="three quarters in"),
    pytest.param(0.999, id="just before the end"),
])
def test_a_restored_run_yields_the_changes_of_an_uninterrupted_run(
    config: Settings, events: list[Event], uninterrupted: list[AlertChange], cut: float
) -> None:
    at = int(len(events) * cut) + 7  # off the batch boundaries
    first = Pipeline(config)
    before = run(first, events[:at], flush=False)

    second = Pipeline(config)
    second.restore(json_round_trip(first.snapshot()))
    after = run(second, events[at:])

    assert as_json(before + after) == as_json(uninterrupted)


def test_a_run_restored_while_an_alert_is_open_continues_it(
    config: Settings, events: list[Event], uninterrupted: list[AlertChange]
) -> None:
    first = Pipeline(config)
    before: list[AlertChange] = []
    chunks = batches(events, 250)
    while not any(c.reason is ChangeReason.raised for c in before):
        before += first.process(next(chunks)).changes
    snapshot = json_round_trip(first.snapshot())
    assert any(track is not None for state in snapshot.values() for track in state[3])

    second = Pipeline(config)
    second.restore(snapshot)
    after = run(second, [e for chunk in chunks for e in chunk])

    assert as_json(before + after) == as_json(uninterrupted)


def test_restoring_twice_from_the_same_snapshot_gives_the_same_run(config: Settings, events: list[Event]) -> None:
    at = len(events) // 3
    first = Pipeline(config)
    run(first, events[:at], flush=False)
    snapshot = json_round_trip(first.snapshot())

    outcomes = []
    for _ in range(2):
        pipeline = Pipeline(config)
        pipeline.restore(snapshot)
        outcomes.append(as_json(run(pipeline, events[at:at + 5000])))

    assert outcomes[0] == outcomes[1]


# -- (b) partitioning by entity -------------------------------------------------------------


def by_rule_and_entity(changes: Sequence[AlertChange]) -> dict[tuple[str, str], list[bytes]]:
    grouped: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for change, text in zip(changes, as_json(changes)):
        grouped[(change.alert.rule, change.alert.entity)].append(text)
    return dict(grouped)


def test_one_pipeline_per_entity_gives_the_alerts_of_one_pipeline(
    config: Settings, events: list[Event], uninterrupted: list[AlertChange]
) -> None:
    partitioned: list[AlertChange] = []
    for entity in ENTITIES:
        partitioned += run(Pipeline(config), [e for e in events if e.entity == entity])

    assert by_rule_and_entity(partitioned) == by_rule_and_entity(uninterrupted)


def test_entities_fed_one_after_another_give_the_alerts_of_interleaved_feeding(
    config: Settings, events: list[Event], uninterrupted: list[AlertChange]
) -> None:
    one_by_one = sorted(events, key=lambda e: ENTITIES.index(e.entity))  # stable: time order kept per entity

    assert by_rule_and_entity(run(Pipeline(config), one_by_one)) == by_rule_and_entity(uninterrupted)


def test_a_partition_moves_between_pipelines_through_a_snapshot(
    config: Settings, events: list[Event], uninterrupted: list[AlertChange]
) -> None:
    half = len(events) // 2
    moved = {(e.signal, e.entity) for e in events if e.entity in ("svc-03", "brand-05", "sat-02")}
    owner, taker = Pipeline(config), Pipeline(config)
    changes = run(owner, events[:half], flush=False)

    taker.restore(json_round_trip(owner.snapshot(moved)))
    owner.forget(moved)
    rest = events[half:]
    changes += run(owner, [e for e in rest if (e.signal, e.entity) not in moved])
    changes += run(taker, [e for e in rest if (e.signal, e.entity) in moved])

    assert by_rule_and_entity(changes) == by_rule_and_entity(uninterrupted)


# -- (c) one open alert per (rule, entity) ----------------------------------------------------


@pytest.fixture
def hourly(make_settings: Any) -> Callable[..., list[AlertChange]]:
    """``hourly([v0, v1, ...], **settings)``: one ``errors`` event per hour for ``svc-a`` (a
    threshold rule at 10, buckets of 1 h, no lateness, resolve after 3 h clear); returns the
    alert changes once every bucket is closed. ``None`` skips an hour."""

    def feed(values: Sequence[float | None], *, entity: str = "svc-a", rule: dict[str, Any] | None = None,
             **settings: Any) -> list[AlertChange]:
        errors = {"aggregate": "sum", "bucket": "1h", "lateness": "0s", "resolve_after": "3h",
                  "detectors": [{"kind": "threshold", "limit": 10, **(rule or {})}]}
        quiet = {name: {"detectors": []} for name in ("satisfaction", "mentions", "alarms")}
        pipeline = Pipeline(make_settings(signals={**quiet, "errors": errors}, **settings))
        events = [Event("errors", entity, T0 + hour * HOUR + 60, v) for hour, v in enumerate(values) if v is not None]
        return pipeline.process(events).changes + pipeline.flush().changes

    return feed


def test_refiring_updates_the_one_open_alert(hourly: Callable[..., list[AlertChange]]) -> None:
    changes = hourly([20, 30, 25])

    assert [c.reason for c in changes] == [ChangeReason.raised, ChangeReason.updated, ChangeReason.updated]
    assert {c.alert.id for c in changes} == {changes[0].alert.id}
    assert [c.alert.version for c in changes] == [1, 2, 3]
    assert [c.alert.last_seen_at for c in changes] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert {c.alert.raised_at for c in changes} == {T0 + HOUR}


def test_the_alert_keeps_its_strongest_evidence(hourly: Callable[..., list[AlertChange]]) -> None:
    last = hourly([20, 50, 15])[-1].alert

    assert last.evidence == {"limit": 10.0, "direction": "above", "observed": [50.0], "buckets": 2}
    assert last.message == "value 50 above the limit 10 for 2 buckets"


@pytest.mark.parametrize(("settings", "severity", "hours"), [
    pytest.param({}, "moderate", 6, id="6 hours by default"),
    pytest.param({"response_hours": 4}, "moderate", 4, id="configured clock"),
    pytest.param({"response_hours_by_severity": {"severe": 2}}, "severe", 2, id="per-severity override"),
    pytest.param({"response_hours_by_severity": {"severe": 2}}, "minor", 6, id="override of another severity"),
])
def test_response_is_due_a_fixed_time_after_the_alert_is_raised(
    hourly: Callable[..., list[AlertChange]], settings: dict[str, Any], severity: str, hours: float
) -> None:
    alert = hourly([20, 20], rule={"severity": severity}, **settings)[-1].alert

    assert alert.severity is Severity[severity]
    assert alert.raised_at == T0 + HOUR
    assert alert.response_due_at == alert.raised_at + hours * HOUR


def test_a_clear_condition_resolves_the_alert_and_a_new_firing_raises_a_new_one(
    hourly: Callable[..., list[AlertChange]]
) -> None:
    changes = hourly([20, 0, 0, 0, 0, 20])

    assert [(c.reason, c.at) for c in changes] == [
        (ChangeReason.raised, T0 + HOUR),
        (ChangeReason.cleared, T0 + 2 * HOUR),
        (ChangeReason.resolved, T0 + 5 * HOUR),  # clear for resolve_after = 3 h
        (ChangeReason.raised, T0 + 6 * HOUR),
    ]
    assert changes[2].alert.status == "resolved"
    assert changes[2].alert.resolved_at == T0 + 5 * HOUR
    assert changes[3].alert.id != changes[0].alert.id
    assert changes[3].alert.version == 1


def test_empty_buckets_of_a_count_signal_count_as_clear(hourly: Callable[..., list[AlertChange]]) -> None:
    changes = hourly([20, None, None, None, None, None, 0])

    assert [c.reason for c in changes] == [ChangeReason.raised, ChangeReason.cleared, ChangeReason.resolved]


def test_firing_again_before_resolve_after_reopens_the_same_alert(hourly: Callable[..., list[AlertChange]]) -> None:
    changes = hourly([20, 0, 0, 20])

    assert [c.reason for c in changes] == [ChangeReason.raised, ChangeReason.cleared, ChangeReason.refired]
    assert {c.alert.id for c in changes} == {changes[0].alert.id}
    assert changes[-1].alert.cleared_at is None
    assert changes[-1].alert.status == "open"


def test_alert_ids_are_deterministic(hourly: Callable[..., list[AlertChange]]) -> None:
    first, again = hourly([0, 20])[0].alert, hourly([0, 20])[0].alert
    other_entity = hourly([0, 20], entity="svc-b")[0].alert
    other_rule = hourly([0, 20], rule={"name": "errors.high"})[0].alert
    other_time = hourly([0, 0, 20])[0].alert

    assert first.id == again.id
    assert first.id.startswith("alr_")
    assert len({first.id, other_entity.id, other_rule.id, other_time.id}) == 4


def test_crisis_type_comes_from_the_entity_or_the_rule(hourly: Callable[..., list[AlertChange]]) -> None:
    assert hourly([20])[0].alert.crisis_type is None
    assert hourly([20], rule={"crisis_type": "product_defect"})[0].alert.crisis_type == "product_defect"
    assert hourly([20], entities={"svc-a": {"crisis_type": "service_outage"}})[0].alert.crisis_type == (
        "service_outage"
    )
