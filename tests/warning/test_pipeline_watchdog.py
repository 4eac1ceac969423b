"""The feed watchdog in the pipeline: a series silent while its peers keep reporting raises
no_data at the moment its silence crossed the limit, clears when data is back, and replays
identically across snapshot and restore."""
from __future__ import annotations

from typing import Any

import orjson
import pytest

from warning.alerts import AlertChange
from warning.events import Event
from warning.pipeline import Pipeline
from warning.settings import Settings

HOUR = 3600.0
T0 = 1795132800.0  # 2026-11-20T00:00:00Z
QUIET = {"detectors": [{"kind": "threshold", "limit": 1e9}]}


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(signals={"mentions": QUIET, "alarms": QUIET, "satisfaction": QUIET})  # type: ignore[no-any-return]


def hourly(entities: dict[str, tuple[float, float]], hours: int) -> list[Event]:
    """One mentions event per hour per entity, for the hours in each entity's [from, to)."""
    return [Event("mentions", entity, T0 + h * HOUR + 60, 10.0)
            for h in range(hours) for entity, (start, stop) in entities.items() if start <= h < stop]


def run(settings: Settings, events: list[Event], cut: int | None = None) -> list[AlertChange]:
    pipeline = Pipeline(settings)
    if cut is None:
        return pipeline.process(events).changes
    first = pipeline.process(events[:cut]).changes
    restored = Pipeline(settings)
    restored.restore({key: orjson.loads(orjson.dumps(state)) for key, state in pipeline.snapshot().items()})
    return first + restored.process(events[cut:]).changes


def test_a_series_silent_while_its_peers_report_raises_no_data_then_clears(settings: Settings) -> None:
    events = hourly({"a": (0, 120), "b": (0, 120), "c": (0, 72)}, 120)
    events += [Event("mentions", "c", T0 + 100 * HOUR + 60, 10.0)]
    events.sort(key=lambda e: e.ts)

    changes = [c for c in Pipeline(settings).process(events).changes if c.alert.entity == "c"]

    assert [c.reason.value for c in changes] == ["raised", "cleared"]
    raised = changes[0].alert
    assert raised.kind == "no_data" and raised.rule == "mentions.no_data"
    last_event = T0 + 71 * HOUR + 60
    assert raised.raised_at == last_event + 12 * HOUR  # 12 usual gaps of an hour
    assert raised.evidence["silent_hours"] == 12.0
    assert changes[1].at >= T0 + 100 * HOUR


def test_a_whole_signal_going_quiet_is_the_end_of_the_feed_not_an_entity_silence(settings: Settings) -> None:
    events = hourly({"a": (0, 72), "b": (0, 72)}, 72)
    events += [Event("alarms", "svc", T0 + h * HOUR, 1.0) for h in range(200)]
    events.sort(key=lambda e: e.ts)

    changes = Pipeline(settings).process(events).changes

    assert [c for c in changes if c.alert.kind == "no_data"] == []


def test_a_feed_too_young_to_judge_is_left_alone(settings: Settings) -> None:
    events = hourly({"a": (0, 100), "young": (0, 20)}, 100)
    events.sort(key=lambda e: e.ts)

    assert Pipeline(settings).process(events).changes == []


@pytest.mark.parametrize("cut", [
    pytest.param(150, id="before the silence"),
    pytest.param(230, id="during the silence, before the limit"),
    pytest.param(290, id="after no_data was raised"),
    pytest.param(330, id="after the feed came back"),
])
def test_snapshot_and_restore_give_the_same_watchdog_alerts(settings: Settings, cut: int) -> None:
    events = hourly({"a": (0, 150), "b": (0, 150), "c": (0, 72)}, 150)
    events += [Event("mentions", "c", T0 + 110 * HOUR + 60, 10.0)]
    events.sort(key=lambda e: e.ts)

    assert run(settings, events, cut) == run(settings, events)


def test_explain_describes_each_bucket_of_the_entity(make_settings: Any) -> None:
    settings = make_settings(signals={"mentions": {"detectors": [{"kind": "threshold", "limit": 15}]}})
    seen: list[dict[str, Any]] = []
    events = [Event("mentions", "a", T0 + h * HOUR, 10.0 if h < 5 else 20.0) for h in range(8)]
    events += [Event("mentions", "b", T0 + h * HOUR, 10.0) for h in range(8)]

    Pipeline(settings, explain=("a", seen.append)).process(sorted(events, key=lambda e: e.ts))

    assert [s["bucket"] for s in seen] == [f"2026-11-20T0{h}:00:00Z" for h in range(6)]
    assert all(s["entity"] == "a" and "mentions.threshold" in s["rules"] for s in seen)
    assert seen[5]["changes"] == [{"rule": "mentions.threshold", "reason": "raised", "severity": "moderate",
                                   "message": "value 20 above the limit 15 for 1 bucket"}]
    assert "why" in seen[0]["rules"]["mentions.threshold"]
