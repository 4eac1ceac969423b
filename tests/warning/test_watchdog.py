"""The feed watchdog: silence where there always was data raises no_data; sparse feeds never do."""
from __future__ import annotations

import orjson
import pytest

from detectors.base import Bucket
from warning.watchdog import FeedWatchdog, WatchdogConfig

HOUR = 3600.0


def fed(presence_pattern: list[bool], buckets: int = 200, width: float = HOUR) -> FeedWatchdog:
    watchdog = FeedWatchdog(WatchdogConfig(min_silence="6h"))
    for i in range(buckets):
        has_data = presence_pattern[i % len(presence_pattern)]
        watchdog.learn_one(Bucket(i * width, (i + 1) * width, 5.0 if has_data else 0.0, 1.0 if has_data else 0.0))
    return watchdog


@pytest.mark.parametrize(("silent_hours", "fires"), [
    pytest.param(11.9, False, id="shorter than 12 usual gaps stays quiet"),
    pytest.param(12.0, True, id="12 hourly gaps of silence fires"),
])
def test_a_regular_feed_that_goes_silent_raises_no_data(silent_hours: float, fires: bool) -> None:
    watchdog = fed([True])
    last_event = 200 * HOUR - 1

    finding = watchdog.check(last_event, last_event + silent_hours * HOUR, HOUR)

    assert (finding is not None) is fires
    if finding:
        assert finding.evidence["silent_hours"] == pytest.approx(silent_hours, abs=0.01)
        assert "no data for 12.0 h" in finding.message


def test_never_fires_below_min_silence_even_for_a_dense_feed() -> None:
    watchdog = fed([True], width=300.0)  # 5-minute buckets: 12 gaps is one hour

    assert watchdog.check(0.0, 5 * HOUR, 300.0) is None
    assert watchdog.check(0.0, 6 * HOUR, 300.0) is not None


@pytest.mark.parametrize("pattern", [
    pytest.param([True, False, False, False], id="data in a quarter of buckets"),
    pytest.param([False], id="never any data"),
])
def test_a_sparse_feed_is_not_watched(pattern: list[bool]) -> None:
    watchdog = fed(pattern)

    assert watchdog.check(0.0, 1000 * HOUR, HOUR) is None


def test_a_young_feed_is_not_judged_yet() -> None:
    watchdog = fed([True], buckets=10)

    assert watchdog.check(0.0, 1000 * HOUR, HOUR) is None


def test_snapshot_and_restore_round_trip_through_json() -> None:
    watchdog = fed([True, True, False])
    clone = FeedWatchdog(watchdog.config)

    clone.restore(orjson.loads(orjson.dumps(watchdog.snapshot())))

    assert clone.snapshot() == watchdog.snapshot()
