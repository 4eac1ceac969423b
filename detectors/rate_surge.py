"""``rate_surge``: a count rate far above its seasonal expectation for several buckets.

Each bucket's expected count comes from the seasonal count baseline
(:mod:`detectors.seasonal`: level x hour-of-day x day-of-week factors learned online,
negative-binomial noise with a learned size, held still while the rule fires).

A surge is judged on the newest ``k`` buckets for every ``k`` from 2 to ``max_buckets``,
with two tests that no single bucket, however tall, can pass on its own
(:mod:`detectors.surge_scan`): two buckets that are both far above normal fire at once,
the earliest a two-bucket rule can, and a weaker surge as soon as enough buckets add up.
A window fires when its count without the largest bucket is at least ``min_multiple``
times the expected count and a test's p-value is below ``p_value`` (Bonferroni over the
windows and the two tests). Most buckets never get that far: a
bucket below ``min_multiple`` times normal (or within two Poisson deviations of it)
starts no scan, and inside an hour block that check is one comparison against a gate
worked out when the block began. Once firing, the rule keeps firing while the last
``max_buckets`` buckets stay ``clear_multiple`` above normal, so one surge makes one alert.

Error rates: with ``error_rate_threshold`` set, the rule fires when ``value / total`` is
above the threshold for ``threshold_buckets`` consecutive buckets (buckets without a
total break the run), and the surge test runs on errors per request (expected errors are
the learned error rate times ``total``, without seasons: traffic carries those), so a
traffic peak with a normal error rate is not a surge.

Severity follows the multiple: ``minor`` below 5x, ``moderate`` below 10x, ``severe``
from 10x; a crossed error-rate threshold is ``moderate``. With ``p_value`` at 1e-5 and
``min_multiple`` at 3, simulated services (48 months of 30, with blips) raised no false
alert, while most surges fire on their second bucket.

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
>>> det.explain(Bucket(147 * 300.0, 148 * 300.0, 2.0))["why"]
'still firing: alarm rate 12.5x normal over 4 buckets (25.0 vs 2.01 per bucket)'

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
from detectors.seasonal import HOLD, NO_CAP, SeasonalCounts, count_tail
from detectors.surge_scan import Window, scan, windows


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


# What _assess works out for a bucket: the finding to report, whether the surge test holds
# (the rule's firing state), the expected count, its cap and the seasonal multiplier.
Assessment = tuple[Finding | None, bool, float, float, float]
_NO_MEMO: tuple[Bucket | None, float, Assessment] = (None, -1.0, (None, False, 0.0, NO_CAP, 1.0))


class RateSurge(SeasonalCounts):
    kind: ClassVar[str] = "rate_surge"
    __slots__ = ("_memo", "_quiet", "_rate_mode", "es", "firing", "params", "run", "xs")

    def __init__(self, params: Params) -> None:
        super().__init__()
        self.params = params
        self.firing = self.run = 0.0
        # Rings of the newest counts and expectations; slot n % max_buckets is the newest.
        self.xs = array("d", [0.0]) * params.max_buckets
        self.es = array("d", [0.0]) * params.max_buckets
        self._rate_mode = params.error_rate_threshold is not None
        # Derived, never learned state: a count below _quiet inside the current hour block
        # (or the next bucket, for hourly buckets) is neither unusual nor winsorized; the
        # assessment score_one made of a bucket is kept for the learn_one that follows
        # (keyed by the bucket and the bucket count).
        self._quiet = -1.0
        self._memo = _NO_MEMO

    def score_one(self, bucket: Bucket) -> Finding | None:
        if (bucket.value or 0.0) < self._quiet and bucket.start < self.block_end:
            return None  # the common case: a quiet bucket inside the current hour block
        return self._assess(bucket)[0]

    def learn_one(self, bucket: Bucket) -> None:
        x = bucket.value or 0.0
        if x < self._quiet and bucket.start < self.block_end:
            # What learn_count does with a typical bucket, inlined: this runs for most buckets.
            n = self.n
            i = int(n) % self.params.max_buckets
            self.xs[i] = x
            self.es[i] = self.block_e
            self.n = n + 1.0
            if self.width < 3600.0:
                self.acc_n += 1.0
                self.acc_x += x
                self.acc_xx += x * x
            else:
                self.learn_hour(x, bucket.start, self.block_e, self.block_cap, self.block_f)
                self._set_gates()
            return
        if self.n == 0.0:
            self.width = bucket.end - bucket.start
            p = self.params
            self.configure(p.level_half_life_hours, p.season_half_life_days, p.warmup_hours)
        _, surge, e, cap, f = self._assess(bucket)
        self._memo = _NO_MEMO
        if self._rate_mode:
            total = bucket.total or 0.0
            over = total > 0.0 and x / total > (self.params.error_rate_threshold or 0.0)
            self.run = self.run + 1.0 if over else 0.0
            if total <= 0.0:
                return  # no exposure: nothing to learn a rate from
        if self.n >= self._warm:
            self.firing = 1.0 if surge else 0.0
        i = int(self.n) % self.params.max_buckets
        self.xs[i] = x
        self.es[i] = e
        self.learn_count(x, bucket.start, e, cap, f, HOLD if self.firing else 0, not self._rate_mode)
        self.n += 1.0
        self._set_gates()

    def _set_gates(self) -> None:
        """The quiet gates of the block cached in the baseline (see ``__init__``)."""
        e = self.block_e
        if self._rate_mode or self.firing or e <= 0.0:
            self._quiet = -1.0
            return
        self._quiet = min(self.block_cap, max(self.params.min_multiple * e, e + 2.0 * math.sqrt(e)))

    def _expectation(self, bucket: Bucket) -> tuple[float, float, float]:
        """(expected count, cap, multiplier) of ``bucket``."""
        if not self._rate_mode:
            return self.expected_count(bucket.start)
        # Error-rate mode: errors per request, without seasons (traffic carries those).
        total = bucket.total or 0.0
        e = (self.mean_x + 0.5 * self._level_rate) / self.mean_m * total if self.mean_m > 0.0 else 0.0
        return e, self.cap(e), total

    def _unusual(self, x: float, e: float) -> bool:
        """A surge starts with a bucket far above normal (and not by one count)."""
        return x >= self.params.min_multiple * e and (x - e) * (x - e) >= 4.0 * e

    def _assess(self, bucket: Bucket) -> Assessment:
        memo = self._memo
        if memo[0] is bucket and memo[1] == self.n:
            return memo[2]
        x = bucket.value or 0.0
        e, cap, f = self._expectation(bucket)
        found = surge = None
        if self._rate_mode:
            found = self._threshold(bucket)
        exposed = bucket.total or not self._rate_mode
        if self.n >= self._warm and exposed and (self.firing or self._unusual(x, e)):
            surge = self._scan(x, e, self.firing > 0.0)
        result = (found or surge, surge is not None, e, cap, f)
        self._memo = (bucket, self.n, result)
        return result

    def _windows(self, x: float, e: float) -> list[Window]:
        return windows(self.xs, self.es, int(self.n), x, e, self.excess_variance())

    def _scan(self, x: float, e: float, firing: bool) -> Finding | None:
        """The most significant window of the newest buckets, as a finding (or ``None``)."""
        p = self.params
        best = scan(self._windows(x, e), self.xs, self.es, int(self.n), e, self.excess_variance(), p.min_multiple,
                    p.p_value / (2 * (p.max_buckets - 1)), p.clear_multiple if firing else None)
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
        run = int(self.run) + 1
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

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What ``score_one`` sees in ``bucket``: expectation, multiple, the best window's
        p-value against ``p_value / (max_buckets - 1)``, and why it fires or stays quiet."""
        p = self.params
        x = bucket.value or 0.0
        found, _, e, _, _ = self._assess(bucket)
        windows = self._windows(x, e) if self.n >= 1 else []
        tested = [(count_tail(r, re, phi), r / re, k) for r, re, phi, _, k in windows]
        pv, mult, k = min(tested) if tested else (1.0, 0.0, 0)
        alpha = p.p_value / (p.max_buckets - 1)
        if self.n < self._warm:
            why = f"warming up: {int(self.n)} buckets learned, {self.params.warmup_hours:g} h needed"
        elif found is not None:
            why = ("still firing: " if self.firing else "fires: ") + found.message
        elif self.firing:
            why = f"clears: the newest buckets are under {p.clear_multiple:g}x normal"
        elif not self._unusual(x, e):
            why = f"quiet: {x:g} vs {e:.2f} expected is not {p.min_multiple:g}x normal and 2 sd above it"
        else:
            why = f"quiet: best window {mult:.1f}x normal over {k} buckets, p={pv:.2g} not below {alpha:.2g}"
        return {
            "kind": self.kind, "observed": x, "expected": rounded(e), "multiple": rounded(x / e) if e > 0 else None,
            "excess_variance": rounded(self.excess_variance()), "best_window_buckets": k,
            "best_window_multiple": rounded(mult), "best_window_p_value": float(f"{pv:.3g}"),
            "p_value_needed": float(f"{alpha:.3g}"), "firing": bool(self.firing), "fires": found is not None,
            "why": why,
        }

    def snapshot(self) -> list[Any]:
        return [self.baseline_state(), [self.firing, self.run], list(self.xs), list(self.es)]

    def restore(self, state: list[Any]) -> None:
        self.restore_baseline(state[0])
        self.firing, self.run = float(state[1][0]), float(state[1][1])
        self.xs = array("d", state[2])
        self.es = array("d", state[3])
        self._memo = _NO_MEMO
        p = self.params
        if self.n > 0.0:
            self.configure(p.level_half_life_hours, p.season_half_life_days, p.warmup_hours)
        self._set_gates()
