"""``rate_surge``: a count rate far above its seasonal expectation for several buckets.

Each bucket's expected count comes from the seasonal count baseline
(:mod:`detectors.seasonal`: level x hour-of-day x day-of-week factors learned online,
negative-binomial noise with a learned size, held still while the rule fires).

A surge is judged on the newest ``k`` buckets for every ``k`` from 2 to ``max_buckets``,
each window without its largest bucket: a single-bucket blip can then never fire on its
own, however tall, while two buckets that are both far above normal fire at once, and a
weaker surge fires as soon as enough buckets add up. A window fires when its count is at
least ``min_multiple`` times the expected count and its negative-binomial tail
probability is below ``p_value`` (Bonferroni over the windows). A normal-approximation
check comes first, so the exact tail (``scipy.special``) is evaluated only for windows
that might pass, and a bucket below ``min_multiple`` times normal costs no scan at all.
Once firing, the rule keeps firing while the last ``max_buckets`` buckets stay
``clear_multiple`` above normal, so one surge makes one alert.

Error rates: with ``error_rate_threshold`` set, the rule fires when ``value / total`` is
above the threshold for ``threshold_buckets`` consecutive buckets (buckets without a
total break the run), and the surge test runs on errors per request (expected errors are
the learned error rate times ``total``, without seasons: traffic carries those), so a
traffic peak with a normal error rate is not a surge.

Severity follows the multiple: ``minor`` below 5x, ``moderate`` below 10x, ``severe``
from 10x; a crossed error-rate threshold is ``moderate``. With ``p_value`` at 1e-5 and
``min_multiple`` at 3, no window of a quiet service in a month of sample data came close
to firing, while most surges fire on their second bucket and a 4x surge on a service
with one alarm in two buckets fires within the hour.

Parameters
----------
level_half_life_hours
    Memory of the level. Longer is steadier; shorter follows drifts sooner.
season_half_life_days
    Memory of the hour-of-day and day-of-week factors.
warmup_hours
    Event time learned before the first finding.
min_multiple
    How far above normal "far above" is.
p_value
    Family-wise false-positive rate of one bucket's test.
max_buckets
    The longest window tested; also the window that keeps an open surge firing.
clear_multiple
    While firing, the multiple below which the surge is over.
error_rate_threshold
    Optional error-rate limit (``value / total``).
threshold_buckets
    Consecutive buckets above ``error_rate_threshold`` needed to fire.

Examples
--------
>>> import random
>>> from detectors.base import Bucket
>>> rng = random.Random(7)
>>> det = Params(warmup_hours=6).build()
>>> counts = [sum(rng.random() < 0.02 for _ in range(100)) for _ in range(144)]
>>> counts += [40, 35, 38]                      # a surge after 12 quiet hours
>>> fired = []
>>> for i, x in enumerate(counts):
...     b = Bucket(i * 300.0, (i + 1) * 300.0, float(x))
...     f = det.score_one(b)
...     fired.append(f is not None)
...     det.learn_one(b)
>>> fired.index(True) - 144, f.severity.name
(1, 'severe')

References
----------
Holt, C. C. (1957); Winters, P. R. (1960), "Forecasting sales by exponentially weighted
moving averages". Naus, J. I. (1982), "Approximations for distributions of scan statistics".
"""
from __future__ import annotations

import math
from array import array
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Bucket, Finding, Severity, rounded
from detectors.registry import register
from detectors.seasonal import (
    BASE_LEN,
    BLOCK_CAP,
    BLOCK_E,
    BLOCK_END,
    BLOCK_F,
    MEAN_M,
    MEAN_X,
    WIDTH,
    N,
    cap_count,
    count_rates,
    count_tail,
    excess_variance,
    expected_count,
    learn_count,
)


@register("rate_surge")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level_half_life_hours: float = Field(72.0, gt=0)
    season_half_life_days: float = Field(7.0, gt=0)
    warmup_hours: float = Field(24.0, ge=0)
    min_multiple: float = Field(3.0, gt=1)
    p_value: float = Field(1e-5, gt=0, lt=0.5)
    max_buckets: int = Field(12, ge=2, le=48)
    clear_multiple: float = Field(1.5, ge=1)
    error_rate_threshold: float | None = Field(None, gt=0)
    threshold_buckets: int = Field(3, ge=1, le=48)

    def build(self) -> RateSurge:
        return RateSurge(self)


FIRING, RUN = BASE_LEN, BASE_LEN + 1  # detector scalars after the baseline


class RateSurge:
    kind: ClassVar[str] = "rate_surge"
    __slots__ = ("_memo", "_rate_mode", "_rates", "_warm", "es", "params", "s", "xs")

    def __init__(self, params: Params) -> None:
        self.params = params
        self.s = array("d", [0.0]) * (BASE_LEN + 2)
        # Rings of the newest counts and expectations; slot n % max_buckets is the newest.
        self.xs = array("d", [0.0]) * params.max_buckets
        self.es = array("d", [0.0]) * params.max_buckets
        self._rates = (0.0, 0.0, 0.0)
        self._warm = math.inf  # buckets of warm-up, known with the bucket width
        self._rate_mode = params.error_rate_threshold is not None
        # The scan score_one ran for a bucket, kept for the learn_one that follows: a cache
        # keyed by the bucket and the learned-bucket count, never learned state.
        self._memo: tuple[Bucket | None, float, Finding | None] = (None, -1.0, None)

    def _configure(self, width: float) -> None:
        p = self.params
        self._rates = count_rates(p.level_half_life_hours, p.season_half_life_days, width)
        self._warm = p.warmup_hours * 3600.0 / width

    def _expect(self, bucket: Bucket) -> tuple[float, float, float]:
        """(expected count, cap, multiplier) of ``bucket``."""
        if not self._rate_mode:
            return expected_count(self.s, bucket.start, self._rates)
        # Error-rate mode: errors per request, without seasons (traffic carries those).
        s, total = self.s, bucket.total or 0.0
        e = (s[MEAN_X] + 0.5 * self._rates[0]) / s[MEAN_M] * total if s[MEAN_M] > 0.0 else 0.0
        return e, cap_count(s, e), total

    def score_one(self, bucket: Bucket) -> Finding | None:
        s = self.s
        if self._rate_mode:
            found = self._threshold(bucket)
            if found is not None or (not bucket.total):
                return found
        if s[N] < self._warm:
            return None
        x = bucket.value or 0.0
        end = s[BLOCK_END]  # inside the current hour block the expectation is cached
        e = s[BLOCK_E] if end - 3600.0 <= bucket.start < end and not self._rate_mode else self._expect(bucket)[0]
        if s[FIRING] == 0.0 and not self._unusual(x, e):
            return None
        found = self._scan(x, e, s[FIRING] > 0.0)
        self._memo = (bucket, s[N], found)
        return found

    def _unusual(self, x: float, e: float) -> bool:
        """Cheap pre-filter: a surge starts with a bucket far above normal (and not by one count)."""
        return x >= self.params.min_multiple * e and (x - e) * (x - e) >= 4.0 * e

    def learn_one(self, bucket: Bucket) -> None:
        s = self.s
        x = bucket.value or 0.0
        if s[N] == 0.0:
            s[WIDTH] = bucket.end - bucket.start
            self._configure(s[WIDTH])
        if self._rate_mode:
            total = bucket.total or 0.0
            over = total > 0.0 and x / total > (self.params.error_rate_threshold or 0.0)
            s[RUN] = s[RUN] + 1.0 if over else 0.0
            if total <= 0.0:
                return  # no exposure: nothing to learn a rate from
        end = s[BLOCK_END]
        if end - 3600.0 <= bucket.start < end and not self._rate_mode:
            e, cap, m = s[BLOCK_E], s[BLOCK_CAP], s[BLOCK_F]
        else:
            e, cap, m = self._expect(bucket)
        n = s[N]
        if n >= self._warm and (s[FIRING] > 0.0 or self._unusual(x, e)):
            memo = self._memo
            found = memo[2] if memo[0] is bucket and memo[1] == n else self._scan(x, e, s[FIRING] > 0.0)
            s[FIRING] = 0.0 if found is None else 1.0
        self._memo = (None, -1.0, None)
        i = int(n) % self.params.max_buckets
        self.xs[i] = x
        self.es[i] = e
        learn_count(s, x, bucket.start, e, cap, m, s[FIRING] > 0.0, self._rates, not self._rate_mode)

    def _scan(self, x: float, e: float, firing: bool) -> Finding | None:
        """The strongest window of the newest buckets, each without its largest bucket."""
        p, xs, es = self.params, self.xs, self.es
        m = p.max_buckets
        n = int(self.s[N])
        c = excess_variance(self.s)
        alpha = p.p_value / (m - 1)  # Bonferroni over the windows
        sx, se, se2, top, top_e = x, e, e * e, x, e
        best: tuple[float, float, float, float, int] | None = None
        for k in range(2, min(m, n) + 1):
            j = (n - k + 1) % m
            xj, ej = xs[j], es[j]
            sx += xj
            se += ej
            se2 += ej * ej
            if xj > top:
                top, top_e = xj, ej
            rest, rest_e = sx - top, se - top_e
            if rest < p.min_multiple * rest_e or rest_e <= 0.0:
                continue
            # A sum of NB2 counts: variance phi * mean with phi = 1 + c * sum(e^2) / sum(e).
            phi = 1.0 + c * (se2 - top_e * top_e) / rest_e
            # Normal z below 4: count tails are heavier, so the exact test cannot pass.
            if (rest - rest_e) ** 2 < 16.0 * phi * rest_e:
                continue
            pv = count_tail(rest, rest_e, phi)
            if pv < alpha and (best is None or pv < best[0]):
                best = (pv, rest, rest_e, phi, k)
        if best is None and firing and sx - top >= p.clear_multiple * (se - top_e):
            # Weaker but present: the newest max_buckets are still clearly above normal.
            phi = 1.0 + c * (se2 - top_e * top_e) / (se - top_e)
            best = (count_tail(sx - top, se - top_e, phi), sx - top, se - top_e, phi, min(m, n))
        if best is None:
            return None
        pv, obs, exp, phi, k = best
        mult = obs / exp
        severity = Severity.severe if mult >= 10 else Severity.moderate if mult >= 5 else Severity.minor
        return Finding(
            severity=severity,
            strength=mult,
            message=f"alarm rate {mult:.1f}x normal over {k} buckets "
                    f"({obs / (k - 1):.1f} vs {exp / (k - 1):.2f} per bucket)",
            evidence={
                "expected_rate": rounded(exp / (k - 1)), "observed_rate": rounded(obs / (k - 1)),
                "multiple": rounded(mult), "p_value": float(f"{pv:.3g}"), "buckets": k,
                "dispersion": rounded(phi), "strength_unit": "multiple",
            },
        )

    def _threshold(self, bucket: Bucket) -> Finding | None:
        limit = self.params.error_rate_threshold
        assert limit is not None
        run = int(self.s[RUN]) + 1
        if not bucket.total or (bucket.value or 0.0) / bucket.total <= limit:
            return None
        if run < self.params.threshold_buckets:
            return None
        rate = (bucket.value or 0.0) / bucket.total
        return Finding(
            severity=Severity.moderate,
            strength=rate / limit,
            message=f"error rate {rate:.2%} above its threshold {limit:.2%} for {run} buckets",
            evidence={"threshold": limit, "observed_rate": rounded(rate), "buckets": run,
                      "strength_unit": "rate / threshold"},
        )

    def snapshot(self) -> list[Any]:
        return [list(self.s), list(self.xs), list(self.es)]

    def restore(self, state: list[Any]) -> None:
        self.s = array("d", state[0])
        self.xs = array("d", state[1])
        self.es = array("d", state[2])
        self._memo = (None, -1.0, None)
        if self.s[N] > 0.0:
            self._configure(self.s[WIDTH])
