"""The seasonal count baseline shared by the count detectors (``rate_surge``, ``exponential_growth``).

The expected count of a bucket is ``level * hour_factor[hour of day] * day_factor[day of
week]`` (Holt-Winters style, multiplicative), all learned online:

- the level is a ratio of two EWMAs, mean count over mean seasonal factor, which unlike a
  mean of ratios is not thrown by a factor that is still noisy;
- a factor is its slot's mean count over the mean of the slots (bias-corrected EWMAs, so
  they are plain means while young), shrunk towards 1 by a prior worth ``PRIOR`` counts;
- counts are negative binomial (NB2: variance = mean + mean^2 / k), which is what
  overdispersed complaint and alarm counts look like: nearly Poisson when low, far noisier
  when high. :meth:`SeasonalCounts.excess_variance` is 1/k, a ratio of two EWMAs.

A count above its cap (three standard deviations over its expectation) is winsorized
before the level learns it and teaches the seasonal slots and the noise nothing. A
detector may also *hold* the baseline (say, while it fires: only the level learns,
winsorized), so no crisis becomes the new normal, yet a lasting shift is followed.

Buckets shorter than an hour are learned once per hour block: a 5-minute bucket only adds
to a few running sums, and its expectation is the block's, computed when the block
starts. That keeps a quiet 5-minute bucket to well under a microsecond. Hourly (or
longer) buckets are learned at once, and the next bucket's expectation is worked out
then, so that scoring it is a lookup. The day-of-week slots learn once a day (the day's
mean typical count). Scalars live in ``__slots__`` attributes (about four times faster to
read and write than an ``array``), the slots in one array, their effective sample sizes
in tables shared by every series.
"""
from __future__ import annotations

import math
from array import array
from functools import lru_cache
from typing import Any

from scipy.special import betainc, gammainc

PRIOR = 5.0  # counts' worth of belief that a seasonal slot is average
NO_CAP = 1e300  # the cap while nothing is known (finite: state stays plain JSON)
HOURS, HOUR_VISITS, DAYS, DAY_VISITS = 0, 24, 48, 55  # offsets in ``seasons``
_SCALARS = ("n", "width", "mean_x", "mean_m", "level_w", "noise_w", "var_num", "var_den", "hour_sum", "hours_seen",
            "day_sum", "days_seen", "day_at", "day_x", "day_n", "acc_n", "acc_x", "acc_xx", "skip_noise_n",
            "skip_noise_x", "skip_noise_xx", "skip_season_n", "skip_season_x", "block_end", "block_e", "block_cap",
            "block_f")
ESS_VISITS = 2000  # visits counted per slot: enough for the effective sample size to converge
HOLD = 1  # learn_count's hold: the level learns the winsorized count; slots and noise nothing


class SeasonalCounts:
    """Learned state of the seasonal NB baseline; count detectors extend it."""

    __slots__ = ("_day_ess", "_day_f", "_day_key", "_hour_ess", "_level_rate", "_noise_rate", "_warm", "acc_n",
                 "acc_x", "acc_xx", "block_cap", "block_e", "block_end", "block_f", "day_at", "day_n", "day_sum",
                 "day_x", "days_seen", "hour_sum", "hours_seen", "level_w", "mean_m", "mean_x", "n", "noise_w",
                 "seasons", "skip_noise_n", "skip_noise_x", "skip_noise_xx", "skip_season_n", "skip_season_x",
                 "var_den", "var_num", "width")

    def __init__(self) -> None:
        # Learned scalars (``_SCALARS``, in snapshot order): buckets learned and their width;
        # the level's and the noise's EWMAs; the sums of the hour and day slots and how many
        # have been seen; the day whose typical counts add up for its slot; the sub-hour
        # block's sums; and the cached expectation of the current block (or next hour).
        self.n = self.width = self.mean_x = self.mean_m = self.level_w = self.noise_w = 0.0
        self.var_num = self.var_den = self.hour_sum = self.hours_seen = self.day_sum = self.days_seen = 0.0
        self.day_x = self.day_n = self.acc_n = self.acc_x = self.acc_xx = self.skip_noise_n = 0.0
        self.skip_noise_x = self.skip_noise_xx = self.skip_season_n = self.skip_season_x = 0.0
        self.block_end = self.block_e = self.block_cap = self.block_f = 0.0
        self.day_at = -1.0
        self.seasons = array("d", [0.0]) * 62
        self._level_rate = self._noise_rate = 0.0
        self._hour_ess = self._day_ess = _ess(0.5)
        self._warm = math.inf  # buckets of warm-up, known with the bucket width
        self._day_key, self._day_f = -1, 1.0  # the day whose factor _day_f is (derived)

    def configure(self, level_half_life_hours: float, season_half_life_days: float, warmup_hours: float) -> None:
        """Rates from the bucket width (``self.width``, set by the first bucket learned)."""
        width = self.width
        self._level_rate = 1.0 - 0.5 ** (width / (level_half_life_hours * 3600.0))
        # A variance needs more data than a mean: the noise remembers four times longer.
        self._noise_rate = 1.0 - 0.5 ** (width / (4.0 * level_half_life_hours * 3600.0))
        self._hour_ess = _ess(0.5 ** (1.0 / season_half_life_days))  # one visit a day
        self._day_ess = _ess(0.5 ** (7.0 / (4.0 * season_half_life_days)))  # one a week, 4x the memory
        self._warm = warmup_hours * 3600.0 / width
        self._day_key = -1

    def excess_variance(self) -> float:
        """1/k of the NB2 model: variance = mean + mean^2 / k (0 is Poisson)."""
        return self.var_num / self.var_den if self.var_num > 0.0 else 0.0

    def expected_count(self, start: float) -> tuple[float, float, float]:
        """(expected count, winsorizing cap, seasonal factor) of the bucket starting at ``start``.

        A young slot is shrunk towards 1 by a prior worth ``PRIOR`` counts, so a slot that
        has seen two quiet buckets does not make every later count look enormous. Epoch day
        0 was a Thursday, hence the ``+ 3`` (Monday is day 0).
        """
        if self.block_end - 3600.0 <= start < self.block_end:
            return self.block_e, self.block_cap, self.block_f
        return self._expect_fresh(start)

    def _expect_fresh(self, start: float) -> tuple[float, float, float]:
        k = int(start // 3600.0)
        f = 1.0
        if self.hour_sum > 0.0:
            seasons = self.seasons
            h = k % 24
            ess = self._hour_ess[int(seasons[HOUR_VISITS + h])]
            f = (ess * seasons[h] + PRIOR) / (ess * self.hour_sum / self.hours_seen + PRIOR)
        if k // 24 != self._day_key:
            self._day_key = k // 24
            self._day_f = self._day_factor((k // 24 + 3) % 7)
        f *= self._day_f
        if self.mean_m <= 0.0:
            return 0.0, NO_CAP, f
        # Half a count over the level's memory (a Jeffreys prior) keeps the expectation of a
        # series that has only ever been zero above zero.
        e = (self.mean_x + 0.5 * self._level_rate) / self.mean_m * f
        c = self.var_num / self.var_den if self.var_num > 0.0 else 0.0
        return e, e + 3.0 * math.sqrt(e + c * e * e), f

    def _day_factor(self, d: int) -> float:
        if self.day_sum <= 0.0:
            return 1.0
        ess = self._day_ess[int(self.seasons[DAY_VISITS + d])]
        return (ess * self.seasons[DAYS + d] + PRIOR) / (ess * self.day_sum / self.days_seen + PRIOR)

    def cap(self, e: float) -> float:
        """Three standard deviations above ``e``: counts beyond are winsorized when learned."""
        return e + 3.0 * math.sqrt(e + self.excess_variance() * e * e) if e > 0.0 else NO_CAP

    def learn_count(self, x: float, start: float, e: float, cap: float, f: float, hold: int = 0,
                    seasonal: bool = True) -> bool:
        """Learn count ``x`` given its ``expected_count``; True when a new hour block began.

        ``f`` is the seasonal factor (times the exposure, in rate mode), ``hold`` is 0 or
        HOLD, and ``seasonal`` False keeps the seasonal slots out of it. The caller
        counts the bucket (``n``).
        """
        if self.width >= 3600.0 or not seasonal:  # a bucket is a block of its own
            self.learn_hour(x, start, e, cap, f, hold, seasonal)
            return True
        began = not self.block_end - 3600.0 <= start < self.block_end
        if began:
            self.fold_block()
            self.block_end = (start // 3600.0 + 1.0) * 3600.0
            self.block_e, self.block_cap, self.block_f = e, cap, f
        kept = x if x < cap else cap  # noqa: FURB136 (min() is a call, and this runs per bucket)
        self.acc_n += 1.0
        self.acc_x += kept
        self.acc_xx += kept * kept
        if hold or e <= 0.0:
            self.skip_noise_n += 1.0
            self.skip_noise_x += kept
            self.skip_noise_xx += kept * kept
        if hold or x > cap:
            self.skip_season_n += 1.0
            self.skip_season_x += kept
        return began

    def learn_hour(self, x: float, start: float, e: float, cap: float, f: float, hold: int = 0,
                   seasonal: bool = True) -> None:
        """:meth:`learn_count` of a bucket that is a block of its own, written out for speed;
        then the next bucket's expectation, ready for its ``score_one``."""
        kept = x if x < cap else cap  # noqa: FURB136 (as above)
        r = self._level_rate
        w = self.level_w * (1.0 - r) + r  # bias-corrected EWMAs: a plain mean while young
        self.level_w = w
        mean_x = self.mean_x = self.mean_x + r / w * (kept - self.mean_x)
        mean_m = self.mean_m = self.mean_m + r / w * (f - self.mean_m)
        c = self.var_num / self.var_den if self.var_num > 0.0 else 0.0
        if not hold:
            if e > 0.0:
                r = self._noise_rate
                w = self.noise_w * (1.0 - r) + r
                self.noise_w = w
                d = kept - e
                var_num = self.var_num = self.var_num + r / w * (d * d - e - self.var_num)
                var_den = self.var_den = self.var_den + r / w * (e * e - self.var_den)
                c = var_num / var_den if var_num > 0.0 else 0.0
            if seasonal and x <= cap:
                self._learn_slots(x, start)
        if not seasonal:
            return
        # _expect_fresh(start + width), written out: this runs for every hourly bucket.
        k = int((start + self.width) // 3600.0)
        f = 1.0
        hour_sum = self.hour_sum
        if hour_sum > 0.0:
            seasons = self.seasons
            ess = self._hour_ess[int(seasons[HOUR_VISITS + k % 24])]
            f = (ess * seasons[k % 24] + PRIOR) / (ess * hour_sum / self.hours_seen + PRIOR)
        if k // 24 != self._day_key:
            self._day_key = k // 24
            self._day_f = self._day_factor((k // 24 + 3) % 7)
        f *= self._day_f
        self.block_end = (k + 1) * 3600.0
        self.block_f = f
        if mean_m <= 0.0:
            self.block_e, self.block_cap = 0.0, NO_CAP
            return
        e = (mean_x + 0.5 * self._level_rate) / mean_m * f
        self.block_e, self.block_cap = e, e + 3.0 * math.sqrt(e + c * e * e)

    def prepare(self, start: float) -> None:
        """Work out the expectation of the (hourly or longer) bucket starting at ``start`` now."""
        self.block_end = (start // 3600.0 + 1.0) * 3600.0
        self.block_e, self.block_cap, self.block_f = self._expect_fresh(start)

    def fold_block(self) -> None:
        """Fold the finished hour block of sub-hour buckets into level, noise and slots."""
        cnt = self.acc_n
        if cnt <= 0.0:
            return
        e = self.block_e
        nn = cnt - self.skip_noise_n
        nx = self.acc_x - self.skip_noise_x
        nxx = self.acc_xx - self.skip_noise_xx
        sn = cnt - self.skip_season_n
        self.acc_n = 0.0
        # Bias-corrected EWMAs: a plain mean while young. The level is a ratio of means
        # (counts over factors): unlike a mean of ratios it is not thrown by a factor that
        # is still noisy. So is 1/k, for the same reason.
        keep = (1.0 - self._level_rate) ** cnt
        w = self.level_w * keep + 1.0 - keep
        self.level_w = w
        self.mean_x += (1.0 - keep) / w * (self.acc_x / cnt - self.mean_x)
        self.mean_m += (1.0 - keep) / w * (self.block_f - self.mean_m)
        if nn > 0.0 and e > 0.0:
            keep = (1.0 - self._noise_rate) ** nn
            w = self.noise_w * keep + 1.0 - keep
            self.noise_w = w
            self.var_num += (1.0 - keep) / w * ((nxx - 2.0 * e * nx) / nn + e * e - e - self.var_num)
            self.var_den += (1.0 - keep) / w * (e * e - self.var_den)
        if sn > 0.0:
            self._learn_slots((self.acc_x - self.skip_season_x) / sn, self.block_end - 1.0)
        self.acc_x = self.acc_xx = self.skip_noise_n = self.skip_noise_x = 0.0
        self.skip_noise_xx = self.skip_season_n = self.skip_season_x = 0.0

    def _learn_slots(self, x: float, start: float) -> None:
        """The hour-of-day slot of ``start`` learns ``x`` (a bias-corrected EWMA, its effective
        sample size from its visits); the day's typical counts add up for its day-of-week
        slot, which learns their mean when the day is over."""
        k = int(start // 3600.0)
        seasons = self.seasons
        h = k % 24
        visits = seasons[HOUR_VISITS + h]
        if visits < ESS_VISITS:
            if visits == 0.0:
                self.hours_seen += 1.0
            visits += 1.0
            seasons[HOUR_VISITS + h] = visits
        old = seasons[h]
        new = old + (x - old) / self._hour_ess[int(visits)]
        seasons[h] = new
        self.hour_sum += new - old
        if k // 24 != self.day_at:
            if self.day_n > 0.0:
                self._fold_day()
            self.day_at = float(k // 24)
        self.day_x += x
        self.day_n += 1.0

    def _fold_day(self) -> None:
        seasons = self.seasons
        i = DAY_VISITS + (int(self.day_at) + 3) % 7
        visits = seasons[i]
        if visits == 0.0:
            self.days_seen += 1.0
        if visits < ESS_VISITS:
            seasons[i] = visits = visits + 1.0
        old = seasons[i - DAY_VISITS + DAYS]
        seasons[i - DAY_VISITS + DAYS] = new = old + (self.day_x / self.day_n - old) / self._day_ess[int(visits)]
        self.day_sum += new - old
        self.day_x = self.day_n = 0.0
        self._day_key = -1  # the day factors changed

    def baseline_state(self) -> list[Any]:
        return [*(getattr(self, name) for name in _SCALARS), *self.seasons]

    def restore_baseline(self, state: list[Any]) -> None:
        for name, value in zip(_SCALARS, state):
            setattr(self, name, float(value))
        self.seasons = array("d", state[len(_SCALARS):len(_SCALARS) + 62])
        self._day_key = -1


@lru_cache(maxsize=64)
def _ess(keep: float) -> tuple[float, ...]:
    """Effective sample size of a bias-corrected EWMA with this ``keep`` after each number of
    visits (0 to ESS_VISITS): ``(1 - keep^visits) / (1 - keep)``. Shared by every series."""
    return tuple((1.0 - keep ** k) / (1.0 - keep) if k else 1.0 for k in range(ESS_VISITS + 1))


def count_tail(k: float, mean: float, phi: float) -> float:
    """P(X >= k) for a count with this mean and variance ``phi * mean`` (NB, or Poisson)."""
    if k <= 0.0:
        return 1.0
    if phi <= 1.0001:
        return float(gammainc(k, mean))
    p = 1.0 / phi  # NB(r, p): mean r(1-p)/p, variance mean/p
    return float(betainc(k, mean * p / (1.0 - p), 1.0 - p))
