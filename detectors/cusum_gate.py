"""A seasonal count baseline gated by a CUSUM, which learns suspect buckets only once cleared.

:class:`GatedCounts` extends :class:`detectors.seasonal.SeasonalCounts` with the two things
a detector of slowly building excesses needs around its baseline:

- a one-sided CUSUM of the NB log-likelihood ratio of "twice normal" against normal,
  ``S = max(0, S + x log 2 - (x + k) log((1 + 2e/k) / (1 + e/k)))`` (1/k the baseline's
  excess variance). It accumulates the evidence of an excess bucket by bucket for a
  multiply-add (the coefficients of the next bucket are worked out when one is learned),
  and ignores shifts under about 1.4x, such as slow trends. A detector runs its expensive
  test only once ``S`` reaches its gate; ``S`` is capped at ``CAP``, so that the memory of
  a spike fades within hours, not days;
- held-back learning. A bucket with ``S >= HOLD_SCORE`` is *suspect*: it waits in the
  ring of the newest counts and expectations until it is clear whether a crisis began. If
  none did, it is learned then, so quiet series are learned without bias (freezing the
  baseline on high counts alone would bias it, and its noise, low); if one did, it is
  never learned, nor are the crisis's first buckets (the detector says how long it
  freezes), so no crisis becomes the new normal while it grows; after that, they are
  *held* (only the level learns them, winsorized), so a lasting new level is followed
  within days. After a whole ring of suspicion and no crisis, the waiting buckets are
  learned.

The common case, a bucket with no excess, takes one comparison to score and a few dozen
arithmetic operations to learn (:meth:`GatedCounts.learn_quiet`).

References
----------
Page, E. S. (1954), "Continuous inspection schemes", *Biometrika* 41: 100-115.
"""
from __future__ import annotations

import math
from array import array
from typing import Any

from detectors.base import Bucket
from detectors.seasonal import HOLD, SeasonalCounts

LN2 = math.log(2.0)
HOLD_SCORE = 2.0  # the CUSUM from which a bucket is suspect
CAP = 12.0  # the most evidence the CUSUM keeps: more would only hold a spike's memory for days
FREEZE = 2  # learn_gated's crisis: nothing is learned (HOLD, 1: only the level, winsorized)


class GatedCounts(SeasonalCounts):
    """Learned state: the baseline, the CUSUM, the ring and how many of its newest wait."""

    __slots__ = ("_coef_a", "_coef_b", "cusum", "es", "held", "xs")

    def __init__(self, ring: int) -> None:
        super().__init__()
        self.cusum = self.held = 0.0
        # Rings of the newest counts and expectations (bucket i in slot i % ring).
        self.xs = array("d", [0.0]) * ring
        self.es = array("d", [0.0]) * ring
        # Derived, never learned state: the CUSUM increment x * a - b of the cached next bucket.
        self._coef_a, self._coef_b = 0.0, math.inf

    def coefficients(self, e: float) -> tuple[float, float]:
        """(a, b) of the CUSUM increment ``x * a - b`` of a bucket expecting ``e``."""
        c = self.excess_variance()
        if c <= 1e-9:
            return LN2, e
        shift = math.log1p(c * e / (1.0 + c * e))
        return LN2 - shift, shift / c

    def next_cusum(self, bucket: Bucket, x: float) -> float:
        """The CUSUM once ``bucket`` (count ``x``) is in (0 while warming up)."""
        if self.n < self._warm:
            return 0.0
        if bucket.start < self.block_end:
            a, b = self._coef_a, self._coef_b
        else:
            a, b = self.coefficients(self.expected_count(bucket.start)[0])
        s = self.cusum + x * a - b
        return 0.0 if s < 0.0 else CAP if s > CAP else s  # noqa: FURB136 (calls cost, per bucket)

    def learn_quiet(self, bucket: Bucket, x: float) -> bool:
        """Learn ``bucket`` if it is the next, hourly or longer, and not suspect: True if so.

        :meth:`learn_gated` written out for the common case, for speed.
        """
        start = bucket.start
        if start >= self.block_end or self.width < 3600.0:
            return False
        cusum = self.cusum + x * self._coef_a - self._coef_b if self.n >= self._warm else 0.0
        if cusum >= HOLD_SCORE:
            return False
        e, cap, f = self.block_e, self.block_cap, self.block_f
        if self.held:
            self._catch_up(start, int(self.n), 0)
        i = int(self.n) % len(self.xs)
        self.xs[i] = x
        self.es[i] = round(e, 4)  # short in snapshots
        self.n += 1.0
        self.cusum = cusum if cusum > 0.0 else 0.0  # noqa: FURB136 (as above)
        self.learn_hour(x, start, e, cap, f)
        c, e = self.var_num / self.var_den if self.var_num > 0.0 else 0.0, self.block_e
        if c > 1e-9:  # coefficients(e), written out
            shift = math.log1p(c * e / (1.0 + c * e))
            self._coef_a, self._coef_b = LN2 - shift, shift / c
        else:
            self._coef_a, self._coef_b = LN2, e
        return True

    def learn_gated(self, bucket: Bucket, x: float, e: float, cap: float, f: float, cusum: float,
                    crisis: int = 0) -> None:
        """Learn ``bucket`` (count ``x``, its ``expected_count`` and the CUSUM after it): held
        back while suspect; during a crisis, not at all (FREEZE, the buckets that waited
        with it) or held (HOLD: only the level learns, winsorized)."""
        self.cusum = cusum
        n = int(self.n)
        ring = len(self.xs)
        self.xs[n % ring] = x
        self.es[n % ring] = round(e, 4)
        self.n += 1.0
        if crisis == FREEZE:
            self.held = 0.0  # the buckets that waited were the crisis beginning
            if self.width >= 3600.0:
                self.prepare(bucket.end)
        elif crisis:
            self.learn_count(x, bucket.start, e, cap, f, HOLD)
        elif cusum >= HOLD_SCORE:
            self.held += 1.0
            if self.held >= ring:  # a whole ring of suspicion, and no crisis: learn it
                self._catch_up(bucket.end, n + 1, 0)
            if self.width >= 3600.0:
                self.prepare(bucket.end)
        else:
            self._catch_up(bucket.start, n, 0)
            self.learn_count(x, bucket.start, e, cap, f)
        self._coef_a, self._coef_b = self.coefficients(self.block_e)

    def _catch_up(self, end: float, stop: int, hold: int) -> None:
        """Learn the ``held`` buckets waiting in the ring, up to bucket ``stop`` (excluded),
        the last of which ends at ``end``."""
        k = int(self.held)
        if not k:
            return
        self.held = 0.0
        ring = len(self.xs)
        level = (self.mean_x + 0.5 * self._level_rate) / self.mean_m if self.mean_m > 0.0 else 0.0
        for j in range(stop - k, stop):
            e = self.es[j % ring]
            self.learn_count(self.xs[j % ring], end - (stop - j) * self.width, e, self.cap(e),
                             e / level if level > 0.0 else 1.0, hold)

    def window(self, x: float, e: float, size: int) -> tuple[list[float], list[float]]:
        """Counts and expectations of the newest ``size`` buckets, oldest first, this one last."""
        ring, n = len(self.xs), int(self.n)
        k = min(size - 1, n)
        return [self.xs[i % ring] for i in range(n - k, n)] + [x], [self.es[i % ring] for i in range(n - k, n)] + [e]

    def gated_state(self) -> list[Any]:
        return [self.baseline_state(), [self.cusum, self.held], list(self.xs), list(self.es)]

    def restore_gated(self, state: list[Any]) -> None:
        self.restore_baseline(state[0])
        self.cusum, self.held = float(state[1][0]), float(state[1][1])
        self.xs, self.es = array("d", state[2]), array("d", state[3])
