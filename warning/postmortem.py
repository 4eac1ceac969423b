"""How a signal moved after the response began, against where it was heading before.

For a post-mortem Tocsin answers, per signal of a crisis, "did the response change the
course of things?". From the signal's closed buckets:

1. **Before**: fit a trend to the run-up: the buckets that closed before the response
   began, from the last one still at the baseline before the crisis (at most ``window``). Count signals (sums: mentions, alarms) grow and fall multiplicatively, so their
   trend is log-linear (a least-squares line through ``log(1 + value)``: a constant growth
   rate, a doubling time); mean signals (satisfaction) drift additively and get a straight
   line.
2. **Projection**: extend that trend to the end of the observation (the middle of the last
   bucket analysed) and compare with what was observed there.
3. **After**: fit the same kind of trend to the first ``window`` buckets from the
   response on (a bucket straddling the moment the response began belongs to neither).

The verdict is read in the trend's own space (log for counts, raw for means), oriented so
that up is worse (counts: more complaints or alarms; means: lower satisfaction), and
measured against the *worst deviation* from the baseline (the median of the ``window``
buckets before the crisis began) seen in either window, which makes one rule fit signals
of any unit:

* ``not_enough_data``: fewer than ``min_before`` buckets before or ``min_after`` after;
* ``still_worsening``: over the after window the after-trend moved further from normal by
  more than ``tolerance`` of the worst deviation;
* ``recovered``: otherwise, and the last observed bucket came back at least
  ``1 - tolerance * 2`` (80 %) of the way from the worst to the baseline;
* ``stopped_growing``: the rest: no longer worsening, not back to normal yet.

Pure and deterministic: buckets in, a :class:`Movement` out.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, Protocol

from detectors.base import Bucket
from warning.timefmt import rfc3339

DAY = 86400.0
HOUR = 3600.0


class Verdict(StrEnum):
    stopped_growing = "stopped_growing"
    recovered = "recovered"
    still_worsening = "still_worsening"
    not_enough_data = "not_enough_data"


@dataclass(slots=True, frozen=True)
class Line:
    """``y = intercept + slope * t`` fitted by least squares (``t`` in epoch seconds)."""

    intercept: float
    slope: float  # per second

    def at(self, t: float) -> float:
        return self.intercept + self.slope * t


def fit_line(points: Sequence[tuple[float, float]]) -> Line | None:
    """The least-squares line through ``(t, y)`` points; None for fewer than two distinct times."""
    if len({t for t, _ in points}) < 2:
        return None
    t0 = points[0][0]  # centred on the first point: epoch seconds squared lose precision
    mean_t = statistics.fmean(t - t0 for t, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    sxx = sum((t - t0 - mean_t) ** 2 for t, _ in points)
    sxy = sum((t - t0 - mean_t) * (y - mean_y) for t, y in points)
    slope = sxy / sxx
    return Line(mean_y - slope * (mean_t + t0), slope)


@dataclass(slots=True, frozen=True)
class Movement:
    """One signal's course before and after the response began, and the verdict."""

    signal: str
    aggregate: Literal["sum", "mean"]
    response_started_at: float
    verdict: Verdict
    summary: str
    before_buckets: int
    after_buckets: int
    before_change_per_day: float | None = None  # sums: relative (0.5 = +50 % a day); means: units a day
    after_change_per_day: float | None = None
    doubling_hours: float | None = None  # sums growing before the response
    baseline: float | None = None
    projected: float | None = None  # where the before-trend led, at observed_at
    observed: float | None = None  # the last bucket analysed
    observed_at: float | None = None


def movement(signal: str, buckets: Sequence[Bucket], *, aggregate: Literal["sum", "mean"],
             crisis_started_at: float, response_started_at: float, window: int = 12, min_before: int = 3,
             min_after: int = 2, tolerance: float = 0.1) -> Movement:
    """The course of ``signal`` (its closed buckets, any order) around ``response_started_at``."""
    present = sorted((b for b in buckets if b.value is not None), key=lambda b: b.start)
    before = [b for b in present if b.end <= response_started_at][-window:]
    after = [b for b in present if b.start >= response_started_at][:window]
    if len(before) < min_before or len(after) < min_after:
        return Movement(signal, aggregate, response_started_at, Verdict.not_enough_data,
                        f"{signal}: not enough data ({len(before)} buckets before the response, {len(after)} "
                        f"after; {min_before} and {min_after} needed)", len(before), len(after))
    space: _Space = _LogSpace() if aggregate == "sum" else _LinearSpace()
    earlier = [_value(b) for b in present if b.end <= crisis_started_at][-window:] or [_value(before[0])]
    baseline = statistics.median(earlier)
    # Oriented so that up is worse: more of a count, less of a mean.
    sign = 1.0 if aggregate == "sum" else -1.0
    normal = sign * space.to(baseline)
    before = _run_up(before, crisis_started_at, lambda b: sign * space.to(_value(b)) <= normal, min_before)
    trend_before = fit_line([(_mid(b), space.to(_value(b))) for b in before])
    trend_after = fit_line([(_mid(b), space.to(_value(b))) for b in after])
    assert trend_before is not None and trend_after is not None  # distinct bucket times
    last = after[-1]
    end, observed = _mid(last), _value(last)
    worst = max(sign * space.to(_value(b)) for b in before + after) - normal
    scale = max(worst, 1e-9)
    drift_after = sign * trend_after.slope * (end - _mid(after[0]))
    if drift_after > tolerance * scale:
        verdict = Verdict.still_worsening
    elif sign * space.to(observed) - normal <= 2 * tolerance * scale:
        verdict = Verdict.recovered
    else:
        verdict = Verdict.stopped_growing

    projected = space.back(trend_before.at(end))
    result = Movement(
        signal, aggregate, response_started_at, verdict, "", len(before), len(after),
        before_change_per_day=space.per_day(trend_before.slope), after_change_per_day=space.per_day(trend_after.slope),
        doubling_hours=math.log(2) / trend_before.slope / HOUR if aggregate == "sum" and trend_before.slope > 0 else None,
        baseline=baseline, projected=projected, observed=observed, observed_at=end,
    )
    return _with_summary(result, space)


def _with_summary(m: Movement, space: _Space) -> Movement:
    assert m.before_change_per_day is not None and m.after_change_per_day is not None
    assert m.projected is not None and m.observed is not None and m.observed_at is not None
    if m.doubling_hours is not None:
        before = f"was doubling every {_num(m.doubling_hours)} h"
    else:
        before = "was " + _course(space.describe(m.before_change_per_day), "rising", "falling", "flat")
    after = _course(space.describe(m.after_change_per_day), "rose", "fell", "stayed flat")
    return replace(m, summary=(
        f"{m.signal} {before}; after the response it {after}; projected {_num(m.projected)} by "
        f"{rfc3339(m.observed_at)}, observed {_num(m.observed)}: {m.verdict.value.replace('_', ' ')}"))


def _course(change: tuple[int, str], up: str, down: str, flat: str) -> str:
    direction, amount = change
    return flat if direction == 0 else f"{up if direction > 0 else down} {amount}"


class _Space(Protocol):
    def to(self, value: float) -> float: ...
    def back(self, y: float) -> float: ...
    def per_day(self, slope: float) -> float: ...
    def describe(self, per_day: float) -> tuple[int, str]: ...  # direction (-1, 0, 1) and how much


class _LogSpace:
    """Counts: ``log(1 + value)``, so a constant slope is a constant growth rate (and zeros fit)."""

    def to(self, value: float) -> float:
        return math.log1p(max(value, 0.0))

    def back(self, y: float) -> float:
        return max(math.expm1(y), 0.0)

    def per_day(self, slope: float) -> float:
        return math.expm1(min(slope * DAY, 700.0))  # relative change a day; capped before overflow

    def describe(self, per_day: float) -> tuple[int, str]:
        if abs(per_day) < 0.01:
            return 0, ""
        return (1 if per_day > 0 else -1), f"{_num(abs(per_day) * 100)} % a day"


class _LinearSpace:
    """Means: the values themselves, so a constant slope is a constant drift."""

    def to(self, value: float) -> float:
        return value

    def back(self, y: float) -> float:
        return y

    def per_day(self, slope: float) -> float:
        return slope * DAY

    def describe(self, per_day: float) -> tuple[int, str]:
        if abs(per_day) < 1e-6:
            return 0, ""
        return (1 if per_day > 0 else -1), f"{_num(abs(per_day))} a day"


def _run_up(before: list[Bucket], crisis_started_at: float, is_normal: Callable[[Bucket], bool],
            at_least: int) -> list[Bucket]:
    """The buckets from the last normal one before the crisis on: the trend that led to it,
    not the calm before (at least ``at_least`` buckets)."""
    start = 0
    for i, b in enumerate(before):
        if b.end <= crisis_started_at and is_normal(b):
            start = i
    return before[min(start, len(before) - at_least):]


def _mid(b: Bucket) -> float:
    return (b.start + b.end) / 2


def _value(b: Bucket) -> float:
    assert b.value is not None
    return b.value


def _num(x: float) -> str:
    """Three significant digits, thousands spaced: ``2 300``, ``11.2``, ``0.402``."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    rounded = round(x, digits)
    return f"{rounded:,.{digits}f}".replace(",", " ")
