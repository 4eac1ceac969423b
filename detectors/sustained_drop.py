"""``sustained_drop``: each of the last two weeks well below the four weeks before them.

The detector keeps the last six weeks of daily means in a ring. For the day being scored:

- the *baseline* is the four weeks before the last two: its median, and its noise as
  the robust standard deviation ``1.4826 * MAD`` of the daily values, so a one-day
  outlier moves neither;
- each of the last two weeks is summarised by its trimmed mean (the highest and the
  lowest day left out when five or more days have data), so a one-day outlier cannot
  make, or hide, a weekly drop;
- daily values are first corrected by learned day-of-week offsets (satisfaction has a
  weekday pattern), which matters when days are missing and sharpens the noise estimate.

It fires when both weekly values are at least ``min_drop`` (relative) below the
baseline and each drop is at least ``z`` standard errors (the baseline noise over the
days counted) deep: a 5-9 % dip lasting a few days touches at most one full week, and a
drop inside the noise is not a drop. Once firing, the baseline is frozen at its value
when the alert started and the rule keeps firing while both weeks stay ``clear_drop``
below it, so one crisis makes one alert and the crisis never becomes its own baseline.

Severity (SPEC): a drop of the latest week of 5-10 % is ``minor``, 10-15 % ``moderate``,
15 % or more ``severe``. Values must be on a positive scale (the drop is relative).

Parameters
----------
min_drop
    Relative drop of each week that fires (0.05 is 5 %).
z
    How many standard errors of the baseline noise each weekly drop must exceed.
clear_drop
    While firing, the relative drop of both weeks below which the drop is over.
min_days
    Days with data needed in each week (and four times as many in the baseline).
weekday_half_life_weeks
    Memory of the day-of-week offsets.

Examples
--------
>>> import numpy as np
>>> from detectors.base import Bucket
>>> rng = np.random.default_rng(5)
>>> det = Params().build()
>>> days = list(90 + rng.normal(0, 1.5, 70)) + list(76 + rng.normal(0, 1.5, 28))  # -15.6 %
>>> for i, v in enumerate(days):
...     b = Bucket(i * 86400.0, (i + 1) * 86400.0, float(v), 1.0)
...     f = det.score_one(b)
...     det.learn_one(b)
...     if f is not None:
...         break
>>> i - 70, f.severity.name
(9, 'severe')

References
----------
Rousseeuw, P. J. and Croux, C. (1993), "Alternatives to the median absolute deviation",
*JASA* 88: 1273-1283 (the MAD as a robust scale).
"""
from __future__ import annotations

import math
from array import array
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Bucket, Finding, Severity, rounded
from detectors.registry import register

DAY = 86400.0
SPAN = 42  # days kept: four baseline weeks and the two weeks judged


@register("sustained_drop")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_drop: float = Field(0.05, gt=0, lt=1)
    z: float = Field(3.0, ge=0)
    clear_drop: float = Field(0.025, ge=0, lt=1)
    min_days: int = Field(4, ge=1, le=7)
    weekday_half_life_weeks: float = Field(8.0, gt=0)

    def build(self) -> SustainedDrop:
        return SustainedDrop(self)


# Learned scalars: days learned, last day learned, firing, frozen baseline and noise, the
# 7 day-of-week offsets (Monday first) and their bias-correction weights, and the baseline
# (median, noise, days) of the next day, which only needs days already learned.
N, LAST, FIRING, BASE, NOISE, OFFSETS, WEIGHTS = 0, 1, 2, 3, 4, 5, 12
NEXT_BASE, NEXT_NOISE, NEXT_DAYS = 19, 20, 21
Assessment = tuple[Finding | None, float, float]  # (finding, baseline, noise)


class SustainedDrop:
    kind: ClassVar[str] = "sustained_drop"
    __slots__ = ("_memo", "days", "params", "s")

    def __init__(self, params: Params) -> None:
        self.params = params
        self.s = array("d", [0.0, -1.0, 0.0, 0.0, 0.0] + [0.0] * 17)
        self.days = array("d", [math.nan]) * SPAN  # day d in slot d % SPAN; NaN is no data
        # What score_one worked out for a bucket, kept for the learn_one that follows: a
        # cache keyed by the bucket and the day count, never learned state.
        self._memo: tuple[Bucket | None, float, Assessment] = (None, -1.0, (None, 0.0, 0.0))

    def score_one(self, bucket: Bucket) -> Finding | None:
        return self._assess(bucket)[0]

    def learn_one(self, bucket: Bucket) -> None:
        s, p = self.s, self.params
        found, base, noise = self._assess(bucket)
        self._memo = (None, -1.0, (None, 0.0, 0.0))
        day = int(bucket.start // DAY)
        if found is not None and s[FIRING] == 0.0:
            s[BASE], s[NOISE] = base, noise  # frozen for the life of the alert
        s[FIRING] = 1.0 if found is not None else 0.0
        last = int(s[LAST])
        for d in range(max(last + 1, day - SPAN + 1), day):
            self.days[d % SPAN] = math.nan  # days that never came had no data
        v = bucket.value
        self.days[day % SPAN] = math.nan if v is None or not math.isfinite(v) else v
        s[LAST] = float(day)
        s[N] += 1.0
        # Learn the weekday pattern from ordinary days only.
        if v is not None and math.isfinite(v) and noise > 0.0 and found is None and abs(v - base) < 3 * noise:
            i = (day + 3) % 7  # epoch day 0 was a Thursday; Monday is 0
            rate = 1.0 - 0.5 ** (1.0 / p.weekday_half_life_weeks)
            w = s[WEIGHTS + i] + rate * (1.0 - s[WEIGHTS + i])
            centre = sum(s[OFFSETS:OFFSETS + 7]) / 7.0
            s[OFFSETS + i] += (v - base + centre - s[OFFSETS + i]) * rate / w
            s[WEIGHTS + i] = w
        s[NEXT_BASE], s[NEXT_NOISE], s[NEXT_DAYS] = self._baseline(day + 1, None)

    def _assess(self, bucket: Bucket) -> Assessment:
        memo = self._memo
        if memo[0] is bucket and memo[1] == self.s[N]:
            return memo[2]
        result = self._judge(bucket)
        self._memo = (bucket, self.s[N], result)
        return result

    def _adjusted(self, first: int, last: int, today: int, value: float | None) -> list[float]:
        """Days ``first..last`` with data, less their weekday offsets; ``today`` is ``value``."""
        s, days, known = self.s, self.days, int(self.s[LAST])
        centre = sum(s[OFFSETS:OFFSETS + 7]) / 7.0  # offsets describe the pattern, not the level
        offset = [o - centre for o in s[OFFSETS:OFFSETS + 7]]
        lo, hi = max(first, known - SPAN + 1), min(last, known, today - 1)
        out = [days[d % SPAN] - offset[(d + 3) % 7] for d in range(lo, hi + 1)]
        if first <= today <= last and value is not None:
            out.append(value - offset[(today + 3) % 7])
        return [v for v in out if not math.isnan(v)]  # NaN is a day without data

    def _baseline(self, today: int, value: float | None) -> tuple[float, float, int]:
        """(median, robust noise, days with data) of the four weeks before the last two."""
        base_days = self._adjusted(today - 41, today - 14, today, value)
        if not base_days:
            return 0.0, 0.0, 0
        base_days.sort()
        base = _median(base_days)
        noise = 1.4826 * _median(sorted([abs(v - base) for v in base_days])) or 1e-9 * abs(base)
        return base, noise, len(base_days)

    def _judge(self, bucket: Bucket) -> Assessment:
        s, p = self.s, self.params
        if s[N] < SPAN - 1:
            return None, 0.0, 0.0  # warming up: six weeks, this day included
        today = int(bucket.start // DAY)
        value = bucket.value if bucket.value is not None and math.isfinite(bucket.value) else None
        if today == s[LAST] + 1.0:
            base, noise, counted = s[NEXT_BASE], s[NEXT_NOISE], int(s[NEXT_DAYS])
        else:
            base, noise, counted = self._baseline(today, value)
        if counted < 4 * p.min_days:
            return None, 0.0, 0.0
        firing = s[FIRING] > 0.0
        ref, ref_noise = (s[BASE], s[NOISE]) if firing else (base, noise)
        if ref <= 0.0:
            return None, base, noise
        weeks = []
        for first in (today - 13, today - 6):
            week = self._adjusted(first, first + 6, today, value)
            if len(week) < p.min_days:
                return None, base, noise
            weeks.append((_trimmed_mean(week), len(week)))
        drops = [(ref - m) / ref for m, _ in weeks]
        # Standard error of a weekly value against the baseline median (1.2 and pi/2: the
        # variance inflation of a trimmed mean and of a median under normal noise).
        zs = [(ref - m) / (ref_noise * math.sqrt(1.2 / k + 1.571 / counted)) for m, k in weeks]
        if firing:
            holds = min(drops) >= p.clear_drop
        else:
            holds = min(drops) >= p.min_drop and min(zs) >= p.z
        if not holds:
            return None, base, noise
        drop = drops[1]
        severity = Severity.severe if drop >= 0.15 else Severity.moderate if drop >= 0.10 else Severity.minor
        finding = Finding(
            severity=severity,
            strength=drop,
            message=f"satisfaction {weeks[1][0]:.1f} vs baseline {ref:.1f} ({-100 * drop:.1f} %), "
                    f"two weeks running",
            evidence={
                "baseline": rounded(ref), "weekly_means": [rounded(m) for m, _ in weeks],
                "relative_drop": rounded(drop), "weekly_drops": [rounded(d) for d in drops],
                "noise": rounded(ref_noise), "z": [rounded(z, 2) for z in zs],
                "days": [k for _, k in weeks], "baseline_days": counted,
                "strength_unit": "relative drop",
            },
        )
        return finding, base, noise

    def snapshot(self) -> list[Any]:
        return [list(self.s), [None if math.isnan(v) else v for v in self.days]]

    def restore(self, state: list[Any]) -> None:
        self.s = array("d", state[0])
        self.days = array("d", [math.nan if v is None else v for v in state[1]])
        self._memo = (None, -1.0, (None, 0.0, 0.0))


def _median(ordered: list[float]) -> float:
    k = len(ordered)
    return ordered[k // 2] if k % 2 else 0.5 * (ordered[k // 2 - 1] + ordered[k // 2])


def _trimmed_mean(week: list[float]) -> float:
    """The mean without the highest and the lowest day, once there are five or more."""
    if len(week) < 5:
        return sum(week) / len(week)
    return (sum(week) - max(week) - min(week)) / (len(week) - 2)
