"""``sustained_drop``: each of the last two weeks well below the four weeks before them.

The detector keeps the last six weeks of daily means in a ring, each stored less the
learned day-of-week offset of its weekday (satisfaction has a weekday pattern), so the
daily work is sums over short lists. For the day being scored:

- the *baseline* is the four weeks before the last two: their median, and their noise as
  the robust standard deviation ``IQR / 1.349``, so a one-day outlier moves neither
  (worked out once a day, when the day before is learned);
- each of the last two weeks is summarised by the mean of its middle days (the two
  highest and two lowest of seven left out, one each of five or six), so neither a
  one-day outlier nor a short dip straddling the two weeks makes a weekly drop.

It is *confirmed* when both weekly values are at least ``min_drop`` (relative) below the
baseline and each drop is at least ``z`` standard errors deep: a 5-9 % dip lasting a few
days touches at most one full week, and a drop inside the noise is not a drop.

A large drop is worth a word before two weeks have passed: an *early notice* (severity
``minor``, evidence ``provisional: true``, a message starting "Early notice:") goes out
when the last ``early_days`` to 7 days each lie ``min_drop`` or more below the baseline
and together (without their deepest and highest day, so one bad day cannot make it)
``early_drop`` or more below it, ``z`` standard errors beyond ``min_drop``
(:mod:`detectors.drop_tests`). Six days, a majority of a week, are what keeps 5-9 % dips
of up to a week from passing for a 10 % drop (in simulations, one dip in two hundred
does, against one in twenty on four days), and still leave the notice within a week.
It keeps firing while the last four days stay ``clear_drop`` below the baseline, for
three weeks at most, so the confirmation updates the same alert; a notice nothing
confirms clears, and the alert resolves itself.

Once firing, the baseline is frozen at its value when the first finding came and a
confirmed drop keeps firing while both weeks stay ``clear_drop`` below it, so one crisis
makes one alert and the crisis never becomes its own baseline. Severity (SPEC): a drop of
the latest week of 5-10 % is ``minor``, 10-15 % ``moderate``, 15 % or more ``severe``.
Values must be on a positive scale (the drop is relative).

Parameters
----------
min_drop
    Relative drop of each week that fires (0.05 is 5 %).
z
    How many standard errors of the baseline noise a drop must exceed.
clear_drop
    While firing, the relative drop below which the drop is over.
min_days
    Days with data needed in each week (and four times as many in the baseline).
early_drop, early_days
    The drop an early notice needs, and the fewest days it may rest on (0 days: never).
weekday_half_life_weeks
    Memory of the day-of-week offsets.

Examples
--------
>>> import numpy as np
>>> from detectors.base import Bucket
>>> rng = np.random.default_rng(5)
>>> det = Params().build()
>>> days = list(90 + rng.normal(0, 1.5, 70)) + list(76 + rng.normal(0, 1.5, 28))  # -15.6 %
>>> findings = []
>>> for i, v in enumerate(days):
...     b = Bucket(i * 86400.0, (i + 1) * 86400.0, float(v), 1.0)
...     findings.append(det.score_one(b))
...     det.learn_one(b)
>>> first = next(i for i, f in enumerate(findings) if f) - 70
>>> first, findings[70 + first].message.startswith("Early notice"), findings[70 + first].severity.name
(5, True, 'minor')
>>> confirmed = next(i for i, f in enumerate(findings) if f and not f.evidence["provisional"]) - 70
>>> confirmed, findings[70 + confirmed].severity.name
(10, 'severe')

References
----------
Rousseeuw, P. J. and Croux, C. (1993), "Alternatives to the median absolute deviation",
*JASA* 88: 1273-1283 (robust scales: the MAD and the interquartile range).
"""
from __future__ import annotations

import math
from array import array
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Bucket, Finding, rounded
from detectors.drop_tests import confirmed_drop, early_notice
from detectors.registry import register

DAY = 86400.0
SPAN = 42  # days kept: four baseline weeks and the two weeks judged
NOTICE_DAYS = 21  # the longest an unconfirmed early notice keeps firing


@register("sustained_drop")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_drop: float = Field(0.05, gt=0, lt=1)
    z: float = Field(3.0, ge=0)
    clear_drop: float = Field(0.025, ge=0, lt=1)
    min_days: int = Field(4, ge=1, le=7)
    early_drop: float = Field(0.10, gt=0, lt=1)
    early_days: int = Field(6, ge=0, le=7)
    weekday_half_life_weeks: float = Field(8.0, gt=0)

    def build(self) -> SustainedDrop:
        return SustainedDrop(self)


# Learned scalars: days learned, last day learned, firing (0 no, 1 early notice, 2
# confirmed), frozen baseline and noise, the day firing began, the 7 day-of-week offsets
# (Monday first) and their bias-correction weights, and the baseline (median, noise, days)
# of the next day, which only needs days already learned.
N, LAST, FIRING, BASE, NOISE, SINCE, OFFSETS, WEIGHTS = 0, 1, 2, 3, 4, 5, 6, 13
NEXT_BASE, NEXT_NOISE, NEXT_DAYS = 20, 21, 22
NOTICE, CONFIRMED = 1.0, 2.0
Assessment = tuple[Finding | None, float, float, float]  # (finding, baseline, noise, adjusted value)
_NO_MEMO: tuple[Bucket | None, float, Assessment] = (None, -1.0, (None, 0.0, 0.0, math.nan))


class SustainedDrop:
    kind: ClassVar[str] = "sustained_drop"
    __slots__ = ("_memo", "days", "params", "s")

    def __init__(self, params: Params) -> None:
        self.params = params
        self.s = array("d", [0.0, -1.0] + [0.0] * 21)
        self.days = array("d", [math.nan]) * SPAN  # day d in slot d % SPAN, less its offset; NaN: no data
        # What score_one worked out for a bucket, kept for the learn_one that follows: a
        # cache keyed by the bucket and the day count, never learned state.
        self._memo = _NO_MEMO

    def score_one(self, bucket: Bucket) -> Finding | None:
        return self._assess(bucket)[0]

    def learn_one(self, bucket: Bucket) -> None:
        s, p = self.s, self.params
        found, base, noise, adjusted = self._assess(bucket)
        self._memo = _NO_MEMO
        day = int(bucket.start // DAY)
        if found is None:
            s[FIRING] = 0.0
        else:
            if s[FIRING] == 0.0:
                s[BASE], s[NOISE], s[SINCE] = base, noise, float(day)  # frozen for the life of the alert
            s[FIRING] = CONFIRMED if found.strength >= 1.0 else NOTICE
        for d in range(max(int(s[LAST]) + 1, day - SPAN + 1), day):
            self.days[d % SPAN] = math.nan  # days that never came had no data
        self.days[day % SPAN] = adjusted
        s[LAST] = float(day)
        s[N] += 1.0
        # Learn the weekday pattern from ordinary days only.
        v = bucket.value
        if v is not None and math.isfinite(v) and noise > 0.0 and found is None and abs(adjusted - base) < 3 * noise:
            i = (day + 3) % 7  # epoch day 0 was a Thursday; Monday is 0
            rate = 1.0 - 0.5 ** (1.0 / p.weekday_half_life_weeks)
            w = s[WEIGHTS + i] + rate * (1.0 - s[WEIGHTS + i])
            centre = sum(s[OFFSETS:OFFSETS + 7]) / 7.0
            s[OFFSETS + i] += (v - base + centre - s[OFFSETS + i]) * rate / w
            s[WEIGHTS + i] = w
        s[NEXT_BASE], s[NEXT_NOISE], s[NEXT_DAYS] = self._baseline(day + 1)

    def _assess(self, bucket: Bucket) -> Assessment:
        memo = self._memo
        if memo[0] is bucket and memo[1] == self.s[N]:
            return memo[2]
        result = self._judge(bucket)
        self._memo = (bucket, self.s[N], result)
        return result

    def _days(self, first: int, last: int) -> list[float]:
        """The adjusted values of days ``first..last`` (NaN: no data), oldest first."""
        known = int(self.s[LAST])
        if first > known - SPAN and last <= known:  # all in the ring: one or two slices
            i, j = first % SPAN, last % SPAN + 1
            return self.days[i:j].tolist() if i < j else self.days[i:].tolist() + self.days[:j].tolist()
        return [self.days[d % SPAN] if known - SPAN < d <= known else math.nan for d in range(first, last + 1)]

    def _recent(self, today: int, adjusted: float, count: int) -> list[float]:
        """The adjusted values of the ``count`` days up to ``today`` (NaN: no data), oldest first."""
        out = self._days(today - count + 1, today - 1)
        out.append(adjusted)
        return out

    def _baseline(self, today: int) -> tuple[float, float, float]:
        """(median, robust noise, days with data) of the four weeks before the last two.

        The noise is the interquartile range over 1.349, a normal standard deviation that
        neither a few outliers nor a weekday pattern throws.
        """
        known = int(self.s[LAST])
        values = self._days(max(today - 41, known - SPAN + 1), min(today - 14, known))
        if math.isnan(sum(values)):  # (a NaN is a day without data)
            values = [v for v in values if not math.isnan(v)]
        values.sort()
        k = len(values)
        if not k:
            return 0.0, 0.0, 0.0
        base = values[k // 2] if k % 2 else 0.5 * (values[k // 2 - 1] + values[k // 2])
        return base, (_quantile(values, 0.75) - _quantile(values, 0.25)) / 1.349 or 1e-9 * abs(base), float(k)

    def _judge(self, bucket: Bucket) -> Assessment:
        s, p = self.s, self.params
        today = int(bucket.start // DAY)
        v = bucket.value
        adjusted = math.nan
        if v is not None and math.isfinite(v):
            offsets = s[OFFSETS:OFFSETS + 7]
            adjusted = v - offsets[(today + 3) % 7] + sum(offsets) / 7.0  # offsets give the pattern, not the level
        if s[N] < SPAN - 1:
            return None, 0.0, 0.0, adjusted  # warming up: six weeks, this day included
        if today == s[LAST] + 1.0:
            base, noise, counted = s[NEXT_BASE], s[NEXT_NOISE], s[NEXT_DAYS]
        else:
            base, noise, counted = self._baseline(today)
        firing = s[FIRING]
        ref, ref_noise = (s[BASE], s[NOISE]) if firing else (base, noise)
        if counted < 4 * p.min_days or ref <= 0.0:
            return None, base, noise, adjusted
        recent = self._recent(today, adjusted, 14)
        found = confirmed_drop(recent, ref, ref_noise, counted, firing == CONFIRMED, p)
        if found is None and firing != CONFIRMED and (firing == 0.0 or today - s[SINCE] < NOTICE_DAYS):
            found = early_notice(recent, ref, ref_noise, counted, firing == NOTICE, p)
        return found, base, noise, adjusted

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What ``score_one`` sees in ``bucket``: baseline, noise, the two weekly means and the
        recent days against the early-notice test, and why it fires or stays quiet."""
        s, p = self.s, self.params
        found, base, noise, adjusted = self._assess(bucket)
        ref = s[BASE] if s[FIRING] else base
        today = int(bucket.start // DAY)
        recent = self._recent(today, adjusted, 14) if s[N] > 0 else [adjusted]
        weeks = [[v for v in w if not math.isnan(v)] for w in (recent[:-7], recent[-7:])]
        means = [rounded(sum(w) / len(w)) if w else None for w in weeks]
        out: dict[str, Any] = {
            "kind": self.kind, "observed": bucket.value, "adjusted": None if math.isnan(adjusted) else rounded(adjusted),
            "baseline": rounded(ref) if ref else None, "noise": rounded(s[NOISE] if s[FIRING] else noise),
            "weekly_means": means, "weekly_drops": [None if m is None or not ref else rounded((ref - m) / ref)
                                                    for m in means],
            "firing": ("no", "early_notice", "confirmed")[int(s[FIRING])], "fires": found is not None,
        }
        if s[N] < SPAN - 1:
            out["why"] = f"warming up: {int(s[N])} of {SPAN - 1} days learned"
        elif found is not None:
            out["why"] = f"fires: {found.message}"
        elif not ref:
            out["why"] = "quiet: no baseline (too few days with data)"
        else:
            out["why"] = (f"quiet: weekly drops {out['weekly_drops']} are not both {p.min_drop:.0%} and {p.z:g} "
                          f"standard errors deep, and the last days are no early notice "
                          f"({p.early_drop:.0%} over {p.early_days}+ days)")
        return out

    def snapshot(self) -> list[Any]:
        return [list(self.s), [None if math.isnan(v) else v for v in self.days]]

    def restore(self, state: list[Any]) -> None:
        self.s = array("d", state[0])
        self.days = array("d", [math.nan if v is None else v for v in state[1]])
        self._memo = _NO_MEMO


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated."""
    at = q * (len(ordered) - 1)
    i = int(at)
    return ordered[i] + (ordered[min(i + 1, len(ordered) - 1)] - ordered[i]) * (at - i)
