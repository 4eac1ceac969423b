"""Early firing: a count rule raises its alert once the open bucket's running sum fires,
not when the bucket closes, and the run stays deterministic and restartable."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from detectors.base import Bucket
from detectors.exponential_growth import Params
from tests.detectors.test_exponential_growth import ONSET, counts, growth, normal, spikes
from warning.alerts import AlertChange, ChangeReason
from warning.events import Event
from warning.pipeline import Pipeline
from warning.settings import Settings, load_settings

HOUR = 3600.0
T0 = 1795132800.0 - 21 * 24 * HOUR  # ONSET is then 05:00 on a Monday, as in the detector's tests
RULE = "mentions.exponential_growth"


def hourly_counts(seed: int = 3) -> np.ndarray:
    """A month of a 120-a-day brand whose mentions double every 8 h from ONSET, up to 200x."""
    return counts(normal(120.0) * np.minimum(growth(8.0), 200.0), seed)


def per_mention(hours: np.ndarray, seed: int = 4) -> list[Event]:
    """One event per mention, spread at random over its hour."""
    rng = np.random.default_rng(seed)
    return [Event("mentions", "brand-x", T0 + h * HOUR + float(at), 1.0)
            for h, k in enumerate(hours) for at in np.sort(rng.uniform(0.0, HOUR, int(k)))]


def aggregates(hours: np.ndarray) -> list[Event]:
    """One event per hour at HH:59 carrying the hour's count, as in the scenario file."""
    return [Event("mentions", "brand-x", T0 + h * HOUR + 59 * 60, float(k)) for h, k in enumerate(hours)]


def settings(tmp_path: Path, lateness: str) -> Settings:
    return load_settings(None, data_dir=tmp_path, signals={"mentions": {"lateness": lateness}})


def changes_by_event(pipeline: Pipeline, events: Sequence[Event]) -> list[tuple[int, AlertChange]]:
    """Each event processed on its own: the changes, with the index of the event that made them."""
    return [(i, c) for i, e in enumerate(events) for c in pipeline.process([e]).changes if c.alert.rule == RULE]


def first_firing_bucket(hours: np.ndarray) -> int:
    """The first hour whose closed bucket fires, the detector run on closed buckets alone."""
    det = Params().build()
    for h, x in enumerate(hours):
        bucket = Bucket(T0 + h * HOUR, T0 + (h + 1) * HOUR, float(x), float(x))
        if det.score_one(bucket) is not None:
            return h
        det.learn_one(bucket)
    raise AssertionError("the wave never fired")


def test_a_per_mention_feed_raises_inside_the_hour_that_fires(tmp_path: Path) -> None:
    hours = hourly_counts()
    events = per_mention(hours)
    seen = changes_by_event(Pipeline(settings(tmp_path, "5m")), events)
    fires = first_firing_bucket(hours)

    i, raised = seen[0]
    assert raised.reason is ChangeReason.raised and fires > ONSET
    # Stamped at the mention that brought the hour's count there, well inside the hour ...
    assert raised.alert.raised_at == events[i].ts
    assert T0 + fires * HOUR <= raised.alert.raised_at < T0 + (fires + 1) * HOUR - 600
    # ... and the closed bucket updates that alert rather than raising another.
    assert seen[1][1].alert.id == raised.alert.id and seen[1][1].at == T0 + (fires + 1) * HOUR
    assert sum(c.reason is ChangeReason.raised for _, c in seen) == 1


def test_a_checkpoint_taken_after_an_early_raise_holds_the_alert(tmp_path: Path) -> None:
    config = settings(tmp_path, "5m")
    events = per_mention(hourly_counts())
    at = changes_by_event(Pipeline(config), events)[0][0]  # the mention that raises, mid-hour
    pipeline, key = Pipeline(config), ("mentions", "brand-x")
    pipeline.process(events[:at])
    pipeline.snapshot_json([key])  # the live service checkpoints, caching the rules' part

    assert [c.reason for c in pipeline.process([events[at]]).changes] == [ChangeReason.raised]
    assert orjson.loads(pipeline.snapshot_json([key])[key]) == json_round_trip(pipeline.snapshot([key]))[key]


@pytest.mark.parametrize("seed", [10, 13, 15])
def test_the_first_minutes_of_a_spike_raise_nothing(tmp_path: Path, seed: int) -> None:
    # Half an hour into a 20x spike, its count so far can pass for the next hour of a wave
    # when judged against a whole hour's expectation; at its pace the hour is a jump.
    events = per_mention(spikes(seed), seed)

    assert changes_by_event(Pipeline(settings(tmp_path, "5m")), events) == []


def test_hourly_aggregates_raise_at_their_event_without_waiting_for_the_lateness(tmp_path: Path) -> None:
    hours = hourly_counts()
    events = aggregates(hours)
    seen = changes_by_event(Pipeline(settings(tmp_path, "1h")), events)
    fires = first_firing_bucket(hours)

    i, raised = seen[0]
    assert raised.reason is ChangeReason.raised
    assert raised.alert.raised_at == events[fires].ts  # HH:59, where the bucket closing said HH+1:00
    # Known when the bucket before it closed, an hour before its own close.
    assert i == fires + 1
    assert (seen[1][0], seen[1][1].reason) == (fires + 2, ChangeReason.updated)


def test_the_seed_case_alerts_under_three_times_normal(tmp_path: Path) -> None:
    # SPEC's example as hourly aggregates: 50 a day, doubling every 10.8 h, 5 000 a day three
    # days later. An hour's count is drawn at the rate of its start, so the rate when the
    # alert is raised at the hour's event (HH:59) is that hour's; closing the bucket first
    # would have raised it at the next hour's rate, 7 % higher.
    config = settings(tmp_path, "1h")
    multiple = growth(10.8)
    raised = []
    for seed in range(100, 120):
        changes = Pipeline(config).process(aggregates(counts(normal(50.0) * multiple, seed))).changes
        at = next(c.alert.raised_at for c in changes if c.reason is ChangeReason.raised)
        hour = int((at - T0) // HOUR)
        assert hour > ONSET
        raised.append(multiple[hour])
    assert np.median(raised) < 3.0 and sum(m < 3.0 for m in raised) >= 12 and max(raised) < 4.5


@pytest.mark.parametrize("lateness", ["5m", "1h"])
def test_a_run_restored_at_any_point_fires_early_as_the_uninterrupted_run(tmp_path: Path, lateness: str) -> None:
    config = settings(tmp_path, lateness)
    events = per_mention(hourly_counts())
    run = _run(Pipeline(config), events)
    uninterrupted = as_json([c for c, _ in run])
    raised_at = next(i for c, i in run if c.reason is ChangeReason.raised)

    # Cuts around the raise, inside the hour that fires, and elsewhere.
    for cut in (raised_at - 7, raised_at, raised_at + 1, raised_at + 11, len(events) // 3, len(events) - 5):
        first = Pipeline(config)
        changes = [c for c, _ in _run(first, events[:cut], flush=False)]
        second = Pipeline(config)
        second.restore(json_round_trip(first.snapshot()))
        changes += [c for c, _ in _run(second, events[cut:])]
        assert as_json(changes) == uninterrupted, cut


def as_json(changes: Sequence[AlertChange]) -> list[bytes]:
    return [orjson.dumps([c.reason.value, c.at, c.alert.to_json(), c.alert.strength]) for c in changes]


def json_round_trip(snapshot: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], list[Any]]:
    """What a checkpoint store keeps: the state as JSON text."""
    stored = orjson.dumps([[signal, entity, state] for (signal, entity), state in snapshot.items()])
    return {(signal, entity): state for signal, entity, state in orjson.loads(stored)}


def _run(pipeline: Pipeline, events: Sequence[Event], *, flush: bool = True) -> list[tuple[AlertChange, int]]:
    """Batches of 10 events; each change with the end of its batch (an index into ``events``)."""
    out = []
    for start in range(0, len(events), 10):
        out += [(c, start + 10) for c in pipeline.process(events[start:start + 10]).changes]
    if flush:
        out += [(c, len(events)) for c in pipeline.flush().changes]
    return out
