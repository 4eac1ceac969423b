"""Event-time buckets: aggregation per signal, empty buckets, lateness, snapshots."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from detectors.base import Bucket
from warning.buckets import BucketWindow
from warning.events import Event
from warning.pipeline import Pipeline

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
T0 = 1795132800.0  # 2026-11-20T00:00:00Z, a UTC day boundary


def feed(window: BucketWindow, *points: tuple[float, float] | tuple[float, float, float, float | None]) -> list[Any]:
    """Add ``(ts, value[, count, total])`` points, closing as the pipeline does; returns the
    closed buckets and late reasons in order."""
    out: list[Any] = []
    for point in points:
        ts, value, count, total = (*point, 1.0, None)[:4] if len(point) == 2 else point
        result = window.add(ts, value, count, total)
        out.extend([result] if isinstance(result, str) else result)
    return out


@pytest.fixture
def pipeline(make_settings: Any) -> Callable[..., Pipeline]:
    """``pipeline(**signals)``: a pipeline that keeps closed buckets, default signals without
    detectors, ``signals`` merged over them."""

    def make(**signals: dict[str, Any]) -> Pipeline:
        quiet = {name: {"detectors": []} for name in ("satisfaction", "mentions", "alarms")}
        for name, table in signals.items():
            quiet[name] = {**quiet.get(name, {}), **table}
        return Pipeline(make_settings(signals=quiet), keep_closed=True)

    return make


def closed_buckets(pipeline: Pipeline, *events: Event, flush: bool = False) -> list[Bucket]:
    out = pipeline.process(list(events))
    closed = [c.bucket for c in out.closed]
    if flush:
        closed += [c.bucket for c in pipeline.flush().closed]
    return closed


# -- aggregation per signal (the defaults) ------------------------------------------------


def test_satisfaction_is_a_daily_mean_weighted_by_count(pipeline: Callable[..., Pipeline]) -> None:
    closed = closed_buckets(
        pipeline(),
        Event("satisfaction", "shop", T0 + 1 * HOUR, 80.0, count=10),
        Event("satisfaction", "shop", T0 + 9 * HOUR, 90.0, count=30),
        Event("satisfaction", "shop", T0 + 23 * HOUR, 70.0),  # count defaults to 1
        Event("satisfaction", "shop", T0 + 2 * DAY + HOUR, 85.0),  # closes day 0 (lateness 1 d)
    )

    assert closed == [Bucket(T0, T0 + DAY, pytest.approx((800 + 2700 + 70) / 41), 41.0)]


def test_mentions_are_an_hourly_sum(pipeline: Callable[..., Pipeline]) -> None:
    closed = closed_buckets(
        pipeline(),
        Event("mentions", "brand-x", T0 + 5 * MINUTE, 40.0),
        Event("mentions", "brand-x", T0 + 59 * MINUTE, 2.0),
        Event("mentions", "brand-x", T0 + HOUR, 7.0),
        Event("mentions", "brand-x", T0 + 2 * HOUR, 1.0),  # closes hour 0 (lateness 1 h)
    )

    assert closed == [Bucket(T0, T0 + HOUR, 42.0, 2.0)]


def test_alarms_are_a_five_minute_sum_with_their_request_totals(pipeline: Callable[..., Pipeline]) -> None:
    closed = closed_buckets(
        pipeline(),
        Event("alarms", "svc-a", T0 + 10, 3.0, total=100.0),
        Event("alarms", "svc-a", T0 + 250, 2.0, total=50.0),
        Event("alarms", "svc-a", T0 + 299, 1.0),
        Event("alarms", "svc-a", T0 + 10 * MINUTE, 0.0),  # closes the first 5 minutes
    )

    assert closed == [Bucket(T0, T0 + 5 * MINUTE, 6.0, 3.0, 150.0)]


def test_daily_buckets_are_utc_days(pipeline: Callable[..., Pipeline]) -> None:
    p = pipeline()
    # 2026-11-20T23:30:00-05:00 is 2026-11-21T04:30:00Z: it belongs to the UTC day of the 21st.
    closed = closed_buckets(p, Event("satisfaction", "shop", T0 + DAY + 4.5 * HOUR, 60.0), flush=True)

    assert [(b.start, b.end) for b in closed] == [(T0 + DAY, T0 + 2 * DAY)]


@pytest.mark.parametrize(("signal", "table", "width"), [
    pytest.param("mentions", {"bucket": "15m", "lateness": "0s"}, 15 * MINUTE, id="mentions in 15 minutes"),
    pytest.param("alarms", {"bucket": "1m", "lateness": 0}, MINUTE, id="alarms per minute"),
    pytest.param("satisfaction", {"bucket": "1w", "lateness": "0s"}, 7 * DAY, id="satisfaction per week"),
    pytest.param("sales", {"aggregate": "sum", "bucket": "2h", "lateness": "0s", "resolve_after": "1d"},
                 2 * HOUR, id="a custom signal"),
])
def test_bucket_widths_come_from_the_settings(
    pipeline: Callable[..., Pipeline], signal: str, table: dict[str, Any], width: float
) -> None:
    p = pipeline(**{signal: table})
    start = T0 - T0 % width  # aligned to the epoch, so weeks start on Thursdays
    closed = closed_buckets(p, Event(signal, "e", start + 1, 50.0), Event(signal, "e", start + 2 * width, 50.0))

    assert [(b.start, b.end) for b in closed] == [(start, start + width), (start + width, start + 2 * width)]


# -- empty buckets --------------------------------------------------------------------------


def test_an_empty_count_bucket_is_zero() -> None:
    window = BucketWindow(HOUR, 0.0, is_count=True)

    closed = feed(window, (T0 + 1, 5.0), (T0 + 3 * HOUR + 1, 5.0))

    assert closed == [
        Bucket(T0, T0 + HOUR, 5.0, 1.0),
        Bucket(T0 + HOUR, T0 + 2 * HOUR, 0.0, 0.0),
        Bucket(T0 + 2 * HOUR, T0 + 3 * HOUR, 0.0, 0.0),
    ]


def test_an_empty_mean_bucket_is_missing() -> None:
    window = BucketWindow(DAY, 0.0, is_count=False)

    closed = feed(window, (T0 + 1, 90.0), (T0 + 2 * DAY + 1, 80.0))

    assert closed == [Bucket(T0, T0 + DAY, 90.0, 1.0), Bucket(T0 + DAY, T0 + 2 * DAY, None, 0.0)]


def test_flush_closes_every_open_bucket_including_the_gaps() -> None:
    window = BucketWindow(HOUR, 2 * HOUR, is_count=True)
    assert feed(window, (T0 + 1, 1.0), (T0 + 2 * HOUR + 1, 2.0)) == []

    assert window.close_all() == [
        Bucket(T0, T0 + HOUR, 1.0, 1.0),
        Bucket(T0 + HOUR, T0 + 2 * HOUR, 0.0, 0.0),
        Bucket(T0 + 2 * HOUR, T0 + 3 * HOUR, 2.0, 1.0),
    ]
    assert window.close_all() == []


# -- lateness -------------------------------------------------------------------------------


@pytest.mark.parametrize("late_ts", [
    pytest.param(T0 + 0.5 * HOUR, id="an hour behind the watermark"),
    pytest.param(T0 + 1, id="the start of a bucket about to close"),
])
def test_out_of_order_within_lateness_is_merged_into_its_bucket(late_ts: float) -> None:
    window = BucketWindow(HOUR, HOUR, is_count=True)

    closed = feed(window, (T0 + 10, 1.0), (T0 + 1.5 * HOUR, 2.0), (late_ts, 4.0), (T0 + 2 * HOUR, 8.0))

    assert closed == [Bucket(T0, T0 + HOUR, 5.0, 2.0)]


def test_the_first_events_of_a_series_may_arrive_out_of_order_within_lateness() -> None:
    window = BucketWindow(HOUR, HOUR, is_count=True)

    # 09:59 arrives after 10:30, half an hour behind: no bucket has closed, so it is not late.
    assert feed(window, (T0 + 10.5 * HOUR, 1.0), (T0 + 9 * HOUR + 59 * MINUTE, 2.0)) == []
    assert window.close_all() == [Bucket(T0 + 9 * HOUR, T0 + 10 * HOUR, 2.0, 1.0),
                                  Bucket(T0 + 10 * HOUR, T0 + 11 * HOUR, 1.0, 1.0)]


def test_an_event_beyond_lateness_is_late_with_its_bucket_and_the_lateness() -> None:
    window = BucketWindow(HOUR, HOUR, is_count=True)

    out = feed(window, (T0 + 10, 1.0), (T0 + 2 * HOUR + 6 * MINUTE, 2.0), (T0 + 20 * MINUTE, 4.0))

    assert out == [
        Bucket(T0, T0 + HOUR, 1.0, 1.0),
        ("late: its bucket 2026-11-20T00:00:00Z closed when the series reached 2026-11-20T02:06:00Z "
         "(allowed lateness 3600 s)"),
    ]


def test_a_late_event_changes_nothing() -> None:
    window = BucketWindow(HOUR, 0.0, is_count=True)
    feed(window, (T0 + 10, 1.0), (T0 + HOUR + 10, 2.0))
    before = window.snapshot()

    assert feed(window, (T0 + 20, 100.0)) != []
    assert window.snapshot() == before


def test_lateness_is_kept_per_series(pipeline: Callable[..., Pipeline]) -> None:
    p = pipeline(mentions={"lateness": "0s"})
    p.process([Event("mentions", "brand-a", T0 + 10 * HOUR, 1.0)])

    # brand-a is at 10:00 but brand-b has just started: its own past is still open.
    out = p.process([Event("mentions", "brand-b", T0 + 1 * HOUR, 1.0), Event("mentions", "brand-a", T0, 1.0)])

    assert [(late.event.entity, late.position) for late in out.late] == [("brand-a", 1)]
    assert out.accepted == 1


def test_lateness_comes_from_the_settings(pipeline: Callable[..., Pipeline]) -> None:
    p = pipeline(mentions={"lateness": "3h"})
    p.process([Event("mentions", "brand-x", T0 + 10, 1.0), Event("mentions", "brand-x", T0 + 3.5 * HOUR, 1.0)])

    out = p.process([Event("mentions", "brand-x", T0 + 20, 1.0), Event("mentions", "brand-x", T0 + 4 * HOUR, 1.0)])

    assert out.late == []
    assert [c.bucket for c in out.closed] == [Bucket(T0, T0 + HOUR, 2.0, 2.0)]


# -- snapshot and restore -------------------------------------------------------------------


@pytest.mark.parametrize(("is_count", "width", "lateness"), [
    pytest.param(True, HOUR, HOUR, id="count"),
    pytest.param(False, DAY, DAY, id="mean"),
])
def test_a_window_restored_from_json_continues_like_the_original(is_count: bool, width: float, lateness: float) -> None:
    points = [(T0 + i * width / 3 + 7, float(i % 5), float(1 + i % 3), None) for i in range(12)]
    later = [(T0 + i * width / 3 + 11, float(i), 2.0, None) for i in range(9, 24, 2)] + [(T0 + 5, 1.0, 1.0, None)]
    original = BucketWindow(width, lateness, is_count)
    feed(original, *points)

    restored = BucketWindow(width, lateness, is_count)
    restored.restore(orjson.loads(orjson.dumps(original.snapshot())))

    assert restored.snapshot() == original.snapshot()
    assert feed(restored, *later) == feed(original, *later)
    assert restored.close_all() == original.close_all()


def test_a_fresh_window_snapshots_and_restores() -> None:
    window = BucketWindow(HOUR, HOUR, is_count=True)
    restored = BucketWindow(HOUR, HOUR, is_count=True)

    restored.restore(orjson.loads(orjson.dumps(window.snapshot())))

    assert feed(restored, (T0, 1.0), (T0 + 2 * HOUR, 1.0)) == [Bucket(T0, T0 + HOUR, 1.0, 1.0)]
