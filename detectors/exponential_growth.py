"""``exponential_growth``: complaints growing exponentially, far above their seasonal normal.

Each hour's expected count ``e`` comes from the seasonal count baseline
(:mod:`detectors.seasonal`: level x hour-of-day x day-of-week factors, negative-binomial
noise), gated by a CUSUM of "twice normal" (:mod:`detectors.cusum_gate`), which also holds
suspect hours back from the baseline until it is clear whether a wave began. From a CUSUM
of 6 (well under 1 % of quiet hours) the growth test runs: the generalized likelihood
ratio of "normal, then growing", ``count[t] ~ NB2(mean = e[t] * exp(b * max(0, t -
onset)))``, over the last ``window_hours``, maximised over the onset and ``b``, without the
hours that are spikes (:func:`detectors.growth_fit.fit_wave`). Pinning the pre-onset level
to the baseline is what gives it power while the wave is small.

The rule fires when the growth is significant (likelihood-ratio p-value below ``p_value``:
the test runs every hour over many onsets, and 1e-6 keeps simulated quiet, spiking and
trending brands to about one false alert in 25 brand-years), the wave grows like one
(doubling between ``min_doubling_hours``, faster is a jump, and ``max_doubling_hours``,
slower is a trend), is at least ``min_multiple`` times normal by the fit, and the model
fits (Pearson chi-square not rejected at ``fit_p_value``).

Once firing, the rule keeps firing while the last ``recent_hours`` stay ``clear_multiple``
above normal, so one wave makes one alert; meanwhile the baseline learns nothing for a
window, then only its level, winsorized (a lasting new level is followed within days).
Severity (SPEC): ``severe`` when 100x normal is projected within 24 h, ``moderate`` when
10x is, else ``minor``. The evidence has the growth rate per hour with its 95 % interval,
the doubling time, the fitted multiple of normal, hours to 10x and 100x, the onset and the
p-value (refitted with a free level over the last day while firing; ``None`` once the wave
no longer grows), and the observed multiple over the recent hours, the finding's strength.
Windows count buckets (hours at the default width); rates are per hour whatever the width.
The rule fires early (:class:`detectors.base.FiresEarly`): under the count that takes the
CUSUM to its gate it cannot fire, so the pipeline asks it about an open bucket only once
the bucket's running sum gets there.

Parameters
----------
window_hours
    Hours fitted by the growth test.
min_growth_hours
    The youngest onset tested: a wave has grown for at least this long.
recent_hours
    Hours of the while-firing check (and how often its evidence is refitted).
max_doubling_hours, min_doubling_hours
    The slowest doubling that counts as exponential growth; the fastest a wave can grow.
min_multiple
    The least fitted current multiple of normal that may fire.
p_value, fit_p_value
    Significance of the growth; Pearson goodness of fit below which it is not log-linear.
clear_multiple
    While firing, the multiple of the recent hours below which the wave is over.
spike_hours, spike_p_value
    How many of the hours most above normal may be spikes, and how far beyond what the
    other hours predict one must be to be left out.
level_half_life_hours, season_half_life_days, warmup_hours
    The seasonal baseline's memory and warm-up.

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
>>> 8 <= hours <= 20, f.evidence["doubling_time_hours"] < 24
(True, True)

References
----------
Lai, T. L. (1995), "Sequential changepoint detection in quality control and dynamical
systems", *JRSS B* 57: 613-658 (GLR). McCullagh, P. and Nelder, J. A. (1989),
*Generalized Linear Models*, 2nd ed., ch. 6 (log-linear models, overdispersion).
"""
from __future__ import annotations

import math
from array import array
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import chdtrc, chdtri

from detectors.base import Bucket, Finding, rounded
from detectors.cusum_gate import FREEZE, LN2, GatedCounts
from detectors.growth_fit import Growth, OnsetFit, Vector, WaveTest, fit_level_and_growth, growth_finding
from detectors.registry import register
from detectors.seasonal import HOLD

GATE = 6.0  # the CUSUM from which the growth test runs
MIN_EXCESS_VARIANCE = 0.1  # 1/k the growth test never goes below: poorly known at low counts, it errs low


@register("exponential_growth")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: int = Field(48, ge=12, le=96)
    min_growth_hours: int = Field(4, ge=2, le=24)
    recent_hours: int = Field(6, ge=1, le=24)
    max_doubling_hours: float = Field(24.0, gt=0)
    min_doubling_hours: float = Field(4.0, gt=0)
    min_multiple: float = Field(1.5, ge=1)
    p_value: float = Field(1e-6, gt=0, lt=0.5)
    fit_p_value: float = Field(1e-3, ge=0, lt=0.5)
    clear_multiple: float = Field(2.0, ge=1)
    spike_hours: int = Field(4, ge=0, le=12)
    spike_p_value: float = Field(1e-4, gt=0, lt=0.5)
    level_half_life_hours: float = Field(72.0, gt=0)
    season_half_life_days: float = Field(14.0, gt=0)
    warmup_hours: float = Field(168.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if max(self.recent_hours, self.min_growth_hours + self.spike_hours) >= self.window_hours:
            raise ValueError("recent_hours and min_growth_hours + spike_hours must be less than window_hours")
        if self.min_doubling_hours >= self.max_doubling_hours:
            raise ValueError("min_doubling_hours must be less than max_doubling_hours")
        return self

    def build(self) -> ExponentialGrowth:
        return ExponentialGrowth(self)


# What _look works out for a bucket: expected count, cap, seasonal factor, the CUSUM after
# it, the finding, the growth behind it and whether that growth was fitted just now.
Look = tuple[float, float, float, float, Finding | None, Growth | None, bool]
_NO_MEMO: tuple[tuple[float, float, float], Look] = ((0.0, 0.0, -1.0), (0.0, 0.0, 1.0, 0.0, None, None, False))


class ExponentialGrowth(GatedCounts):
    kind: ClassVar[str] = "exponential_growth"
    __slots__ = ("_crit", "_memo", "_test", "firing", "growth", "params")

    def __init__(self, params: Params) -> None:
        super().__init__(params.window_hours)
        self.params = params
        self.firing = 0.0
        # The growth last fitted while firing (see Growth; onset 1 is none) and the recent
        # multiple it was fitted at.
        self.growth = array("d", [0.0]) * 6
        self._crit = float(chdtri(1, params.p_value))  # the likelihood ratio p_value needs
        self._test = self._wave_test(1.0)
        # score_one's look at a bucket, kept for the learn_one that follows (and for the
        # closed bucket after an early look at the same count): a cache keyed by the bucket's
        # start and count and the buckets learned, never learned state.
        self._memo = _NO_MEMO

    def _wave_test(self, hours: float) -> WaveTest:
        """The growth test, its rates per bucket of ``hours``."""
        p = self.params
        return WaveTest(p.min_growth_hours, LN2 / p.max_doubling_hours * hours, LN2 / p.min_doubling_hours * hours,
                        p.spike_hours, p.spike_p_value, math.log(p.min_multiple), self._crit, p.fit_p_value)

    def score_one(self, bucket: Bucket) -> Finding | None:
        if self.n < self._warm:
            return None
        # The common case: the next bucket, and the CUSUM says no excess worth a test.
        quiet = self.cusum + (bucket.value or 0.0) * self._coef_a - self._coef_b < GATE
        if quiet and not self.firing and bucket.start < self.block_end:
            return None
        return self._look(bucket)[4]

    def firing_floor(self, start: float) -> float:
        """The count that takes the CUSUM to its gate: under it ``score_one`` is quiet."""
        if self.n < self._warm or self.firing:
            return math.inf
        if start < self.block_end:
            a, b = self._coef_a, self._coef_b
        else:
            a, b = self.coefficients(self.expected_count(start)[0])
        # a = log 2 - log(1 + ...) > 0 but for an absurd overdispersion: then no early look.
        return (GATE - self.cusum + b) / a if a > 0.0 else math.inf

    def learn_one(self, bucket: Bucket) -> None:
        x = bucket.value or 0.0
        if not self.firing and self.learn_quiet(bucket, x):
            return
        if self.n == 0.0:
            self.width = bucket.end - bucket.start
            self._configure()
        e, cap, f, cusum, found, growth, fresh = self._look(bucket)
        self._memo = _NO_MEMO
        if found is None:
            if self.firing:
                cusum = 0.0  # the wave is over: its evidence is spent
            if self.growth[5] != 0.0:
                self.growth = array("d", [0.0]) * 6
        elif growth is not None and fresh:
            self.growth = array("d", (*growth[:4], 1.0 if growth[4] is None else growth[4], self._recent(x, e)[2]))
        self.firing = 0.0 if found is None else self.firing + 1.0
        # A wave teaches the baseline nothing for a window, then only its level, winsorized.
        crisis = 0 if found is None else FREEZE if self.firing <= self.params.window_hours else HOLD
        self.learn_gated(bucket, x, e, cap, f, cusum, crisis)

    def _look(self, bucket: Bucket) -> Look:
        """What score_one works out for ``bucket`` (see ``Look``), once per bucket."""
        x = bucket.value or 0.0
        key = (bucket.start, x, self.n)
        if self._memo[0] == key:
            return self._memo[1]
        e, cap, f = self.expected_count(bucket.start)
        cusum = self.next_cusum(bucket, x)
        found = growth = None
        fresh = True
        if self.n >= self._warm:
            if not self.firing:
                if cusum >= GATE:
                    growth = self._test.wave(*self._arrays(x, e), self._c())
                    if growth is not None:
                        found = self._finding(x, e, growth)
            elif (recent := self._recent(x, e)[2]) >= self.params.clear_multiple:
                # Still well above normal: keep firing. Past its start the wave is no longer
                # pinned to normal, so refit with a free level, every few hours or sooner
                # when the wave has grown (a finding that may become the alert's peak).
                g = self.growth
                if int(self.n) % self.params.recent_hours == 0 or recent > 1.25 * g[5] or g[2] <= 0.0:
                    xs, es = self.window(x, e, min(24, self.params.window_hours))
                    growth = fit_level_and_growth(xs, es, [i - len(xs) + 1.0 for i in range(len(xs))], self._c())
                else:
                    growth, fresh = (g[0], g[1], g[2], g[3], None if g[4] > 0.0 else g[4]), False
                found = self._finding(x, e, growth)
        look = (e, cap, f, cusum, found, growth, fresh)
        self._memo = (key, look)
        return look

    def _c(self) -> float:
        return max(self.excess_variance(), MIN_EXCESS_VARIANCE)

    def _recent(self, x: float, e: float) -> tuple[float, float, float]:
        """Observed and expected counts of the newest ``recent_hours``, and their ratio."""
        xs, es = self.window(x, e, self.params.recent_hours)
        sx, se = sum(xs), sum(es)
        return sx, se, sx / se if se > 0.0 else 0.0

    def _arrays(self, x: float, e: float) -> tuple[Vector, Vector]:
        xs, es = self.window(x, round(e, 4), self.params.window_hours)
        return np.array(xs), np.array(es)

    def _finding(self, x: float, e: float, fit: Growth | None) -> Finding:
        sx, se, _ = self._recent(x, e)
        return growth_finding(fit, sx, se, self.params.recent_hours, self.width / 3600.0, self._c())

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What ``score_one`` sees in ``bucket``: expectation, the CUSUM against its gate, and
        the growth test's fit (worked out even when the gate would skip it)."""
        p = self.params
        x = bucket.value or 0.0
        e, _, _, cusum, found, _, _ = self._look(bucket)
        fit: OnsetFit | None = None
        if self.n >= p.window_hours and e > 0.0:
            fit = self._test.fit(*self._arrays(x, e), self._c())[0]
        per_hour = 3600.0 / self.width if self.width else 1.0
        out: dict[str, Any] = {
            "kind": self.kind, "observed": x, "expected": rounded(e), "multiple": rounded(x / e) if e > 0 else None,
            "cusum": rounded(cusum), "cusum_gate": GATE, "firing": bool(self.firing), "fires": found is not None,
            "likelihood_ratio": None if fit is None else rounded(fit.lr, 2),
            "likelihood_ratio_needed": rounded(self._crit, 2),
            "p_value": None if fit is None else float(f"{chdtrc(1, max(fit.lr, 0.0)):.3g}"),
            "doubling_time_hours": None if fit is None else rounded(LN2 / (fit.b * per_hour), 2),
            "fitted_multiple": None if fit is None else rounded(math.exp(-fit.b * fit.onset)),
            "growth_started_hours_ago": None if fit is None else -fit.onset / per_hour,
        }
        if self.n < self._warm:
            why = f"warming up: {int(self.n)} buckets learned, {p.warmup_hours:g} h needed"
        elif found is not None:
            why = ("still firing: " if self.firing else "fires: ") + found.message
        elif self.firing:
            why = f"clears: the last {p.recent_hours} h are under {p.clear_multiple:g}x normal"
        elif cusum < GATE:
            why = f"quiet: CUSUM {cusum:.2f} under {GATE:g}, no excess worth a growth test"
        else:
            why = (f"quiet: no growth test passed (likelihood ratio {out['likelihood_ratio']} of {self._crit:.1f} "
                   f"needed, doubling {out['doubling_time_hours']} h, {out['fitted_multiple']}x normal)")
        return {**out, "why": why}

    def snapshot(self) -> list[Any]:
        return [*self.gated_state(), self.firing, list(self.growth)]

    def restore(self, state: list[Any]) -> None:
        self.restore_gated(state[:4])
        self.firing, self.growth = float(state[4]), array("d", state[5])
        self._memo = _NO_MEMO
        if self.n > 0.0:
            self._configure()

    def _configure(self) -> None:
        """Rates from the bucket width: the baseline's, the growth test's and the CUSUM's."""
        p = self.params
        self.configure(p.level_half_life_hours, p.season_half_life_days, p.warmup_hours)
        self._test = self._wave_test(self.width / 3600.0)
        self._coef_a, self._coef_b = self.coefficients(self.block_e)
