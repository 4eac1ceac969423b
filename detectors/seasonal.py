"""The seasonal count baseline shared by the count detectors (``rate_surge``, ``exponential_growth``).

The expected count of a bucket is ``level * hour_factor[hour of day] * day_factor[day of
week]`` (Holt-Winters style, multiplicative), all learned online:

- the level is a ratio of two EWMAs, mean count over mean seasonal factor, which unlike a
  mean of ratios is not thrown by a factor that is still noisy;
- a factor is its slot's mean count over the mean of the slots (bias-corrected EWMAs, so
  they are plain means while young), shrunk towards 1 by a prior worth ``PRIOR`` counts;
- counts are negative binomial with a fixed size k (NB2: variance = mean + mean^2 / k),
  which is what overdispersed complaint and alarm counts look like: nearly Poisson when
  low, far noisier when high. :func:`excess_variance` is 1/k, a ratio of two EWMAs.

A count more than three standard deviations above its expectation is winsorized before
it is learned, and then (or while the detector holds, e.g. during an alert) only the
level learns, never the seasonal slots or the noise: no crisis becomes the new normal,
yet a lasting shift is followed within days.

The state is the head of the detector's own state array (indices below), so a detector
snapshots one array. Buckets shorter than an hour are learned once per hour block: a
5-minute bucket only adds to accumulators, and its expectation is the block's, computed
before the previous block is folded in, so that ``score_one`` and ``learn_one`` agree
without ``score_one`` writing anything. That keeps a quiet 5-minute bucket to about a
microsecond. Hourly (or longer) buckets are learned at once.
"""
from __future__ import annotations

import math
from array import array

from scipy.special import betainc, gammainc

N, WIDTH, MEAN_X, MEAN_M, LEVEL_W, VAR_NUM, VAR_DEN = 0, 1, 2, 3, 4, 5, 6
HOUR_SUM, HOURS_SEEN, DAY_SUM, DAYS_SEEN = 7, 8, 9, 10
BLOCK_END, BLOCK_E, BLOCK_CAP, BLOCK_F = 11, 12, 13, 14
ACC_N, ACC_X, ACC_M, ACC_V, ACC_E2, ACC_SX, ACC_SN = 15, 16, 17, 18, 19, 20, 21
HOURS, DAYS, BASE_LEN = 22, 70, 84  # (mean, weight) pairs of 24 hour and 7 day slots
PRIOR = 5.0  # counts' worth of belief that a seasonal slot is average
NO_CAP = 1e300  # the cap while nothing is known (finite: state stays plain JSON)


def count_rates(level_half_life_hours: float, season_half_life_days: float,
                width: float) -> tuple[float, float, float]:
    """Per-bucket level rate; per-visit rates of an hour slot and of a day slot."""
    level = 1.0 - 0.5 ** (width / (level_half_life_hours * 3600.0))
    hour = 1.0 - 0.5 ** (1.0 / season_half_life_days)  # one visit a day
    day = 1.0 - 0.5 ** (1.0 / (24.0 * 4.0 * season_half_life_days / 7.0))  # 24 a week, 4x memory
    return level, hour, day


def excess_variance(s: array[float]) -> float:
    """1/k of the NB2 model: variance = mean + mean^2 / k (0 is Poisson)."""
    return s[VAR_NUM] / s[VAR_DEN] if s[VAR_NUM] > 0.0 else 0.0


def expected_count(s: array[float], start: float, rates: tuple[float, float, float]
                   ) -> tuple[float, float, float]:
    """(expected count, winsorizing cap, seasonal factor) of the bucket starting at ``start``.

    The factors are hour-of-day and day-of-week slot means over the mean of the slots. A
    young slot is shrunk towards 1 by a prior worth ``PRIOR`` counts, so a slot that has
    seen two quiet buckets does not make every later count look enormous. Epoch day 0 was
    a Thursday, hence the ``+ 3`` (Monday is day 0).
    """
    if s[BLOCK_END] - 3600.0 <= start < s[BLOCK_END]:
        return s[BLOCK_E], s[BLOCK_CAP], s[BLOCK_F]
    k = int(start // 3600.0)
    h = HOURS + 2 * (k % 24)
    d = DAYS + 2 * ((k // 24 + 3) % 7)
    f = 1.0
    if s[HOUR_SUM] > 0.0:
        w = s[h + 1] / rates[1]  # the slot's effective sample size
        f = (w * s[h] + PRIOR) / (w * s[HOUR_SUM] / s[HOURS_SEEN] + PRIOR)
    if s[DAY_SUM] > 0.0:
        w = s[d + 1] / rates[2]
        f *= (w * s[d] + PRIOR) / (w * s[DAY_SUM] / s[DAYS_SEEN] + PRIOR)
    if s[MEAN_M] <= 0.0:
        return 0.0, NO_CAP, f
    # Half a count over the level's memory (a Jeffreys prior) keeps the expectation of a
    # series that has only ever been zero above zero.
    e = (s[MEAN_X] + 0.5 * rates[0]) / s[MEAN_M] * f
    return e, cap_count(s, e), f


def cap_count(s: array[float], e: float) -> float:
    """Three standard deviations above ``e``: counts beyond are winsorized when learned."""
    return e + 3.0 * math.sqrt(e + excess_variance(s) * e * e) if e > 0.0 else NO_CAP


def learn_count(s: array[float], x: float, start: float, e: float, cap: float, m: float,
                hold: bool, rates: tuple[float, float, float], seasonal: bool = True) -> None:
    """Learn count ``x`` given its ``expected_count`` (``e``, ``cap``) and multiplier ``m``.

    ``m`` is the seasonal factor (times the exposure, in rate mode). A count above ``cap``
    is winsorized, and then, or while ``hold`` (say, an open alert), only the slow level
    learns, never the seasonal slots: no crisis becomes the new normal, yet a lasting
    shift is followed within days.
    """
    kept = x if x < cap else cap  # noqa: FURB136 (min() is a call, and this runs per bucket)
    if not s[BLOCK_END] - 3600.0 <= start < s[BLOCK_END]:
        if s[WIDTH] >= 3600.0:  # a bucket is a block of its own: learn it at once
            noise = e > 0.0 and not hold
            s[N] += 1.0
            _fold(s, rates, seasonal and x <= cap and not hold, 1.0, kept, m,
                  (kept - e) ** 2 - e if noise else 0.0, e * e if noise else 0.0, x, int(start // 3600.0))
            return
        if s[ACC_N] > 0.0:
            typical = s[ACC_SN]
            _fold(s, rates, seasonal and typical > 0.0, s[ACC_N], s[ACC_X], s[ACC_M], s[ACC_V], s[ACC_E2],
                  s[ACC_SX] / typical if typical > 0.0 else 0.0, int((s[BLOCK_END] - 1.0) // 3600.0))
            s[ACC_N:ACC_SN + 1] = _NO_ACC
        s[BLOCK_END] = (start // 3600.0 + 1.0) * 3600.0
        s[BLOCK_E], s[BLOCK_CAP], s[BLOCK_F] = e, cap, m
    s[ACC_N] += 1.0
    s[ACC_M] += m
    if e > 0.0 and not hold:
        d = kept - e
        s[ACC_V] += d * d - e
        s[ACC_E2] += e * e
    s[ACC_X] += kept
    if x <= cap and not hold:
        s[ACC_SX] += x
        s[ACC_SN] += 1.0
    s[N] += 1.0


def _fold(s: array[float], rates: tuple[float, float, float], seasonal: bool, cnt: float, sum_x: float,
          sum_m: float, sum_v: float, sum_e2: float, slot_x: float, hour: int) -> None:
    """Fold a finished block (``cnt`` buckets, their sums) into level, noise and two slots.

    ``slot_x`` is the block's mean count over its typical buckets, learned by the hour and
    day slots of ``hour`` (hours since the epoch) when ``seasonal``.
    """
    # Bias-corrected EWMAs, (mean, weight) pairs: a plain mean while young.
    keep = 1.0 - rates[0] if cnt == 1.0 else (1.0 - rates[0]) ** cnt
    w = s[LEVEL_W] * keep + 1.0 - keep
    a = (1.0 - keep) / w
    s[LEVEL_W] = w
    # The level is a ratio of means (counts over factors): unlike a mean of ratios it is
    # not thrown by a factor that is still noisy. So is 1/k, for the same reason.
    s[MEAN_X] += a * (sum_x / cnt - s[MEAN_X])
    s[MEAN_M] += a * (sum_m / cnt - s[MEAN_M])
    if sum_e2 > 0.0:  # (held buckets teach nothing about the noise)
        s[VAR_NUM] += a * (sum_v / cnt - s[VAR_NUM])
        s[VAR_DEN] += a * (sum_e2 / cnt - s[VAR_DEN])
    if seasonal:
        # Slot means are bias-corrected EWMAs too, with their sums kept for the factors.
        for i, rate, total in ((HOURS + 2 * (hour % 24), rates[1], HOUR_SUM),
                               (DAYS + 2 * ((hour // 24 + 3) % 7), rates[2], DAY_SUM)):
            w = s[i + 1]
            if w == 0.0:
                s[total + 1] += 1.0  # one more slot seen
            old = s[i]
            w += rate * (1.0 - w)
            s[i] = new = old + (slot_x - old) * rate / w
            s[i + 1] = w
            s[total] += new - old


_NO_ACC = array("d", [0.0]) * (ACC_SN + 1 - ACC_N)


def count_tail(k: float, mean: float, phi: float) -> float:
    """P(X >= k) for a count with this mean and variance ``phi * mean`` (NB, or Poisson)."""
    if k <= 0.0:
        return 1.0
    if phi <= 1.0001:
        return float(gammainc(k, mean))
    p = 1.0 / phi  # NB(r, p): mean r(1-p)/p, variance mean/p
    return float(betainc(k, mean * p / (1.0 - p), 1.0 - p))
