"""The movement of a signal around the response, on synthetic series with known trends."""
from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from detectors.base import Bucket
from warning.postmortem import Verdict, fit_line, movement

H = 3600.0
D = 86400.0
T0 = 1_763_632_800.0  # 2025-11-20T10:00:00Z: real epoch times, as stored


def hourly(value_at: Callable[[int], float | None], hours: int) -> list[Bucket]:
    return [Bucket(T0 + i * H, T0 + (i + 1) * H, value_at(i), 1.0, None) for i in range(hours)]


def complaints(after: Callable[[int], float]) -> list[Bucket]:
    """10 an hour for a day, then doubling every 11 h for 12 h, then ``after(hours since)``."""
    peak = 10 * 2 ** (12 / 11)

    def value(i: int) -> float:
        if i < 24:
            return 10.0
        if i < 36:
            return 10 * 2 ** ((i - 24) / 11)
        return after(i - 36) if i - 36 else peak

    return hourly(value, 60)


CRISIS, RESPONSE = T0 + 26 * H, T0 + 36 * H


def test_fit_line_recovers_an_exact_line() -> None:
    line = fit_line([(T0 + t, 3.0 - 0.5 * t) for t in (0.0, 10.0, 20.0, 30.0)])

    assert line is not None
    assert line.slope == pytest.approx(-0.5)
    assert line.at(T0 + 40) == pytest.approx(-17.0)


def test_fit_line_needs_two_distinct_times() -> None:
    assert fit_line([(T0, 1.0), (T0, 2.0)]) is None


def test_complaints_that_fell_after_the_response_stopped_growing() -> None:
    m = movement("mentions", complaints(lambda h: 21.3 * 0.6 ** (h / 24)), aggregate="sum",
                 crisis_started_at=CRISIS, response_started_at=RESPONSE)

    assert m.verdict is Verdict.stopped_growing
    assert m.doubling_hours == pytest.approx(11, rel=0.15)  # log(1 + value) bends a little at 10/h
    assert m.after_change_per_day == pytest.approx(-0.4, abs=0.03)
    assert m.observed is not None and m.projected is not None and m.projected > 2 * m.observed
    assert m.baseline == 10.0
    assert "was doubling every" in m.summary and "fell" in m.summary and "stopped growing" in m.summary


def test_complaints_that_kept_doubling_are_still_worsening() -> None:
    m = movement("mentions", complaints(lambda h: 21.3 * 2 ** (h / 11)), aggregate="sum",
                 crisis_started_at=CRISIS, response_started_at=RESPONSE)

    assert m.verdict is Verdict.still_worsening
    assert m.projected == pytest.approx(m.observed, rel=0.3)  # on the course it was on


def test_complaints_back_to_their_usual_level_recovered() -> None:
    m = movement("mentions", complaints(lambda h: max(10.0, 21.3 * 0.3 ** h)), aggregate="sum",
                 crisis_started_at=CRISIS, response_started_at=RESPONSE)

    assert m.verdict is Verdict.recovered
    assert m.observed == 10.0


def test_satisfaction_is_fitted_as_a_line_and_lower_is_worse() -> None:
    """90 for 20 days, down 3 points a day for 6 days, then up 2 a day from the response on."""
    def value(i: int) -> float:
        return 90.0 if i < 20 else 90 - 3 * (i - 20) if i < 26 else 72 + 2 * (i - 26)

    days = [Bucket(T0 + i * D, T0 + (i + 1) * D, value(i), 1.0, None) for i in range(36)]

    m = movement("satisfaction", days, aggregate="mean", crisis_started_at=T0 + 23 * D,
                 response_started_at=T0 + 26 * D)

    assert m.before_change_per_day == pytest.approx(-3.0)
    assert m.after_change_per_day == pytest.approx(2.0)
    assert m.doubling_hours is None
    assert m.verdict is Verdict.recovered  # 90 again by the end
    assert m.projected == pytest.approx(90 - 3 * (35 - 20))  # the falling line, carried to the last day


def test_satisfaction_still_falling_is_still_worsening() -> None:
    days = [Bucket(T0 + i * D, T0 + (i + 1) * D, 90.0 - max(0, i - 20) * 2.0, 1.0, None) for i in range(32)]

    m = movement("satisfaction", days, aggregate="mean", crisis_started_at=T0 + 23 * D,
                 response_started_at=T0 + 26 * D)

    assert m.verdict is Verdict.still_worsening


def test_missing_mean_buckets_are_skipped_not_zero() -> None:
    def value(i: int) -> float | None:
        return None if i % 2 else (90.0 if i < 20 else 70.0)

    days = [Bucket(T0 + i * D, T0 + (i + 1) * D, value(i), 1.0, None) for i in range(40)]

    m = movement("satisfaction", days, aggregate="mean", crisis_started_at=T0 + 21 * D,
                 response_started_at=T0 + 30 * D)

    assert m.verdict is Verdict.stopped_growing
    assert m.observed == 70.0 and m.after_change_per_day == pytest.approx(0.0)


@pytest.mark.parametrize(("hours", "response_h"), [
    pytest.param(36, 36, id="nothing after the response"),
    pytest.param(60, 1, id="nothing before it"),
])
def test_too_few_buckets_give_no_verdict(hours: int, response_h: int) -> None:
    m = movement("mentions", hourly(lambda i: 10.0 + i, hours), aggregate="sum", crisis_started_at=T0,
                 response_started_at=T0 + response_h * H)

    assert m.verdict is Verdict.not_enough_data
    assert m.projected is None and "not enough data" in m.summary


def test_zero_counts_fit_without_error() -> None:
    m = movement("alarms", hourly(lambda i: 0.0 if i < 24 or i >= 30 else 2.0 ** (i - 23), 40), aggregate="sum",
                 crisis_started_at=T0 + 25 * H, response_started_at=T0 + 30 * H)

    assert m.verdict is Verdict.recovered
    assert m.observed == 0.0 and math.isfinite(m.projected or math.nan)
