"""``exponential_growth``: complaints growing exponentially, far above their seasonal normal.

Each hour's expected count comes from the seasonal count baseline (:mod:`detectors.seasonal`:
level x hour-of-day x day-of-week factors, negative-binomial noise, held still while a
surge may be under way). When the last ``recent_hours`` run clearly above it (a cheap
pre-filter: at least ``min_multiple`` and z > 3), the last ``window_hours`` are fitted with
a "normal, then growing" model,

    count[t] ~ NB2(mean = expected[t] * exp(b * max(0, t - onset)), 1/k from the baseline)

in which the multiple of normal is 1 until an onset and then grows log-linearly, which is
how a complaint wave starts. Pinning the pre-onset level to the learned baseline, rather
than fitting a free level, is what gives the test its power while the wave is small. The
onset (at least ``recent_hours`` ago) is picked by the score test at ``b = 0``, which
needs only running sums, and ``b`` by Newton's method. The rule fires when

- the wave grows fast: doubling time ``ln 2 / b`` under ``max_doubling_hours`` and a
  fitted current multiple of at least ``min_multiple``;
- the growth is significant for count data: likelihood-ratio p-value below ``p_value``;
- the model fits: Pearson chi-square not rejected at ``fit_p_value``; and
- it is not a spike: leaving out the ``spike_hours`` most extreme hours since the onset,
  the other hours since the onset still carry an excess with p-value below
  ``spike_p_value``. A 1-3 hour spike on a flat series leaves nothing behind; a wave does.

``p_value`` is 1e-6 because the test runs every hour on every brand: in sample data the
smallest p-values of quiet series over four months were about 1e-5. Once firing, the rule
keeps firing while the recent hours stay ``clear_multiple`` above normal, so one wave
makes one alert; its evidence then comes from a log-linear fit with a free level, as the
wave is no longer pinned to normal. Severity (SPEC): ``severe`` when 100x normal is
projected within 24 h, ``moderate`` when 10x is, else ``minor``. The evidence has the
growth rate per hour with its 95 % interval, the doubling time, the current multiple of
normal (fitted, and observed over the recent hours, which is the finding's strength),
hours to 10x and 100x, the onset and the p-value; growth fields are ``None`` once the
wave no longer grows.

Parameters
----------
window_hours
    Hours fitted.
recent_hours
    Hours of the pre-filter and of the while-firing check; the youngest onset tested.
max_doubling_hours
    The slowest doubling that still counts as exponential growth.
min_multiple
    The least current multiple of normal that may fire.
p_value
    Significance of the growth.
fit_p_value
    A fit whose Pearson chi-square p-value is below this is not log-linear growth.
clear_multiple
    While firing, the multiple of the recent hours below which the wave is over.
spike_hours, spike_p_value
    The longest spike to see through, and the significance the rest of the wave needs.
level_half_life_hours, season_half_life_days, warmup_hours
    The seasonal baseline's memory and warm-up. A short level memory follows slow
    trends, so they are not mistaken for growth.

Examples
--------
>>> import numpy as np
>>> from detectors.base import Bucket
>>> rng = np.random.default_rng(3)
>>> det = Params(warmup_hours=72).build()
>>> rate = [8.0] * 240 + [8.0 * 2 ** (h / 10) for h in range(48)]  # doubling every 10 h
>>> first = None
>>> for i, lam in enumerate(rate):
...     b = Bucket(i * 3600.0, (i + 1) * 3600.0, float(rng.poisson(lam)))
...     f = det.score_one(b)
...     det.learn_one(b)
...     if f and first is None:
...         first = (i - 240, f)
>>> hours, f = first
>>> 10 <= hours <= 24, f.evidence["doubling_time_hours"] < 24
(True, True)

References
----------
McCullagh, P. and Nelder, J. A. (1989), *Generalized Linear Models*, 2nd ed., ch. 6
(log-linear models, quasi-likelihood and overdispersion).
"""
from __future__ import annotations

import math
from array import array
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import chdtrc

from detectors.base import Bucket, Finding, Severity, rounded
from detectors.growth_fit import Growth, fit_growth, fit_level_and_growth
from detectors.registry import register
from detectors.seasonal import (
    BASE_LEN,
    WIDTH,
    N,
    count_rates,
    count_tail,
    excess_variance,
    expected_count,
    learn_count,
)

LN2, LN10, LN100 = math.log(2.0), math.log(10.0), math.log(100.0)


@register("exponential_growth")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: int = Field(24, ge=6, le=96)
    recent_hours: int = Field(6, ge=1, le=24)
    max_doubling_hours: float = Field(24.0, gt=0)
    min_multiple: float = Field(1.5, ge=1)
    p_value: float = Field(1e-6, gt=0, lt=0.5)
    fit_p_value: float = Field(1e-3, ge=0, lt=0.5)
    clear_multiple: float = Field(2.0, ge=1)
    spike_hours: int = Field(3, ge=0, le=12)
    spike_p_value: float = Field(0.01, gt=0, le=1)
    level_half_life_hours: float = Field(72.0, gt=0)
    season_half_life_days: float = Field(14.0, gt=0)
    warmup_hours: float = Field(168.0, ge=0)

    @model_validator(mode="after")
    def _recent_within_window(self) -> Params:
        if self.recent_hours + self.spike_hours >= self.window_hours:
            raise ValueError("recent_hours + spike_hours must be less than window_hours")
        return self

    def build(self) -> ExponentialGrowth:
        return ExponentialGrowth(self)


# What score_one works out for a bucket: expected count, winsorizing cap, seasonal factor,
# the recent hours' observed and expected counts, whether they look suspect, the finding
# and the growth behind it.
Look = tuple[float, float, float, float, float, bool, Finding | None, Growth | None, bool]
NOTHING: Look = (0.0, 0.0, 1.0, 0.0, 0.0, False, None, None, False)

# Detector scalars after the baseline: firing, the recent hours' observed and expected sums,
# and the growth last fitted while firing (GROWTH..GROWTH+4, see Growth; onset 1 is none)
# with the recent multiple it was fitted at.
FIRING, RECENT_X, RECENT_E, GROWTH, FITTED_AT = BASE_LEN, BASE_LEN + 1, BASE_LEN + 2, BASE_LEN + 3, BASE_LEN + 8
_NO_GROWTH = array("d", [0.0]) * 6


class ExponentialGrowth:
    kind: ClassVar[str] = "exponential_growth"
    __slots__ = ("_memo", "_rates", "_warm", "es", "params", "s", "xs")

    def __init__(self, params: Params) -> None:
        self.params = params
        self.s = array("d", [0.0]) * (BASE_LEN + 9)
        # Rings of the newest counts and expectations (bucket i in slot i % window_hours).
        self.xs = array("d", [0.0]) * params.window_hours
        self.es = array("d", [0.0]) * params.window_hours
        self._rates = (0.0, 0.0, 0.0)
        self._warm = math.inf
        # What score_one worked out for a bucket, kept for the learn_one that follows: a
        # cache, keyed by the bucket and the learned-bucket count, never learned state.
        self._memo: tuple[Bucket | None, float, Look] = (None, -1.0, NOTHING)

    def _configure(self, width: float) -> None:
        p = self.params
        self._rates = count_rates(p.level_half_life_hours, p.season_half_life_days, width)
        self._warm = p.warmup_hours * 3600.0 / width

    def _recent(self, x: float, e: float) -> tuple[float, float]:
        """Observed and expected counts of the newest ``recent_hours`` buckets, this one included."""
        s = self.s
        n, r = int(s[N]), self.params.recent_hours
        sx, se = s[RECENT_X] + x, s[RECENT_E] + e
        if n >= r:  # the oldest of the running sums drops out
            i = (n - r) % self.params.window_hours
            sx -= self.xs[i]
            se -= self.es[i]
        return sx, se

    def _suspect(self, sx: float, se: float) -> bool:
        """Cheap pre-filter: the recent hours run well above normal (z > 3)."""
        if se <= 0.0 or sx < self.params.min_multiple * se:
            return False
        var = se + excess_variance(self.s) * se * se / self.params.recent_hours
        return (sx - se) * (sx - se) > 9.0 * var

    def _look(self, bucket: Bucket) -> Look:
        """What score_one works out for ``bucket`` (see ``Look``), once per bucket."""
        memo = self._memo
        if memo[0] is bucket and memo[1] == self.s[N]:
            return memo[2]
        s = self.s
        x = bucket.value or 0.0
        e, cap, f = expected_count(s, bucket.start, self._rates)
        e = max(round(e, 6), 1e-6)  # short in snapshots, and the same after a restore
        sx, se = self._recent(x, e)
        suspect = self._suspect(sx, se)
        found = growth = None
        fresh = True
        if s[N] >= self._warm:
            if s[FIRING] == 0.0:
                if suspect:
                    growth = self._wave(x, e)
            elif sx >= self.params.clear_multiple * se:
                # Still well above normal: keep firing. Past its start the wave is no longer
                # pinned to normal, so refit with a free level, every few hours or sooner
                # when the wave has grown (a finding that may become the alert's peak).
                if int(s[N]) % self.params.recent_hours == 0 or sx > 1.25 * s[FITTED_AT] * se:
                    xs, es, ts = self._window(x, e)
                    growth = fit_level_and_growth(xs, es, ts, excess_variance(s))
                elif s[GROWTH + 2] > 0.0:
                    g, fresh = s[GROWTH:GROWTH + 5], False
                    growth = (g[0], g[1], g[2], g[3], None if g[4] > 0.0 else g[4])
                found = self._finding(sx, se, growth)
            if growth is not None and found is None:
                found = self._finding(sx, se, growth)
        look = (e, cap, f, sx, se, suspect, found, growth, fresh)
        self._memo = (bucket, s[N], look)
        return look

    def score_one(self, bucket: Bucket) -> Finding | None:
        if self.s[N] < self._warm:
            return None
        return self._look(bucket)[6]

    def learn_one(self, bucket: Bucket) -> None:
        s = self.s
        if s[N] == 0.0:
            s[WIDTH] = bucket.end - bucket.start
            self._configure(s[WIDTH])
        e, cap, f, sx, se, suspect, found, growth, fresh = self._look(bucket)
        self._memo = (None, -1.0, NOTHING)
        # The baseline holds still while a surge may be under way.
        hold = s[N] >= self._warm and (suspect or found is not None)
        s[FIRING] = 0.0 if found is None else 1.0
        if found is None or growth is None:
            if s[FITTED_AT] != 0.0:
                s[GROWTH:FITTED_AT + 1] = _NO_GROWTH
        elif fresh:
            onset = 1.0 if growth[4] is None else growth[4]
            s[GROWTH:FITTED_AT + 1] = array("d", (*growth[:4], onset, sx / se))
        x = bucket.value or 0.0
        i = int(s[N]) % self.params.window_hours
        self.xs[i] = x
        self.es[i] = e
        s[RECENT_X], s[RECENT_E] = sx, se
        learn_count(s, x, bucket.start, e, cap, f, hold, self._rates)

    def _window(self, x: float, e: float) -> tuple[list[float], list[float], list[float]]:
        """Counts, expectations and hours (0 for this one) of the window."""
        w = self.params.window_hours
        n = int(self.s[N])
        k = min(w - 1, n)
        xs = [self.xs[i % w] for i in range(n - k, n)] + [x]
        es = [self.es[i % w] for i in range(n - k, n)] + [e]
        return xs, es, [float(i - k) for i in range(k + 1)]

    def _wave(self, x: float, e: float) -> Growth | None:
        """The growth of a wave starting in the window, if the rule's conditions hold."""
        p = self.params
        xs, es, ts = self._window(x, e)
        n = len(xs)
        c = excess_variance(self.s)
        fit = fit_growth(xs, es, ts, c, p.recent_hours)
        if fit is None:
            return None
        lr, b, _, onset, pearson = fit
        if b <= LN2 / p.max_doubling_hours or -b * onset < math.log(p.min_multiple):
            return None
        if chdtrc(1, lr) >= p.p_value or chdtrc(n - 1, pearson) < p.fit_p_value:
            return None
        if p.spike_hours:
            # A spike of a few hours can pass for growth. Growth still shows as an excess
            # since its onset once the spike_hours most extreme hours are left out.
            ratio = sorted(xs[i] / es[i] for i in range(n) if ts[i] > onset)
            cut = ratio[-p.spike_hours] if len(ratio) > p.spike_hours else -math.inf
            rx = re = re2 = 0.0
            for x_, e_, t_ in zip(xs, es, ts):
                if t_ > onset and x_ / e_ < cut:
                    rx += x_
                    re += e_
                    re2 += e_ * e_
            if re <= 0.0 or count_tail(rx, re, 1.0 + c * re2 / re) >= p.spike_p_value:
                return None
        lr, b, var_b, onset, _ = fit
        return -b * onset, b, var_b, float(chdtrc(1, lr)), onset

    def _finding(self, sx: float, se: float, fit: Growth | None) -> Finding:
        """A finding with the fit's growth evidence (``None`` where the wave no longer grows).

        Its strength is the multiple of normal over the recent hours, as observed.
        """
        recent = sx / se if se > 0.0 else 0.0
        message = f"complaints {recent:.1f}x normal over the last {self.params.recent_hours} h"
        severity = Severity.minor
        growth: dict[str, Any] = dict.fromkeys(
            ("growth_rate_per_hour", "growth_rate_95ci", "doubling_time_hours", "multiple", "hours_to_10x",
             "hours_to_100x", "growth_started_hours_ago", "p_value"))
        if fit is not None and fit[1] > 1e-9:
            log_multiple, b, var_b, pv, onset = fit
            spread = 1.96 * math.sqrt(var_b)
            to10, to100 = max(0.0, (LN10 - log_multiple) / b), max(0.0, (LN100 - log_multiple) / b)
            severity = Severity.severe if to100 <= 24 else Severity.moderate if to10 <= 24 else Severity.minor
            message = (f"complaints doubling every {LN2 / b:.0f} h, {math.exp(log_multiple):.1f}x normal, "
                       f"100x projected in {to100:.0f} h")
            growth = {
                "growth_rate_per_hour": rounded(b), "growth_rate_95ci": [rounded(b - spread), rounded(b + spread)],
                "doubling_time_hours": rounded(LN2 / b, 2), "multiple": rounded(math.exp(log_multiple)),
                "hours_to_10x": rounded(to10, 1), "hours_to_100x": rounded(to100, 1),
                "growth_started_hours_ago": None if onset is None else -onset, "p_value": float(f"{pv:.3g}"),
            }
        return Finding(
            severity=severity,
            strength=recent,
            message=message,
            evidence={
                **growth, "recent_multiple": rounded(recent), "observed": sx, "expected": rounded(se),
                "excess_variance": rounded(excess_variance(self.s)),
                "strength_unit": "multiple of normal over the recent hours",
            },
        )

    def snapshot(self) -> list[Any]:
        return [list(self.s), list(self.xs), list(self.es)]

    def restore(self, state: list[Any]) -> None:
        self.s = array("d", state[0])
        self.xs = array("d", state[1])
        self.es = array("d", state[2])
        self._memo = (None, -1.0, NOTHING)
        if self.s[N] > 0.0:
            self._configure(self.s[WIDTH])
