"""``anomaly``: a generic online detector for any signal, with a calibrated score in [0, 1].

The score means the same on every series, so one threshold serves them all: it is the
evidence against "this is normal for this series", in decades of probability, over 6.
``0.5`` is a one-in-a-thousand bucket, ``0.67`` one in ten thousand, ``1.0`` one in a million
or more (on light-tailed noise the alarm rates match; on heavy-tailed noise the high end is
optimistic). Two kinds of evidence are combined:

*Records.* The value, its medium moving average and its volatility are compared with the
highest and lowest levels they ever reached. A new extreme, by a margin of the historical
range widened by the noise, is the classic sign of an incident (Numenta's "spatial anomaly");
a new extreme among ``n`` points is worth at most ``log10(n)`` decades, the chance of one.

*Tail probabilities.* Deviations at several time scales (the step from the last value, a
short and a medium moving average against a slow baseline, the medium average against a
slower one and, once the series shows a daily cycle, the deviation from its hour-of-day
profile) are each divided by their own typical size and turned into a tail probability by
a generalised Pareto tail fitted online to that statistic's recent excesses over its 97 %
quantile (peaks over threshold, as in SPOT). The smallest probability, Bonferroni-corrected,
is the evidence: the tail fit is what makes a spiky series and a smooth one comparable.

Each point is scored before it is learned, so it never explains itself. After a detection
the score reads 0 for ``hold`` buckets: the incident is already reported, and twenty alerts
for one incident are noise. A flat line has no tail and never alarms; a step out of it
scores 1 once, then becomes the new normal as the averages and tails adapt.

The model is a river anomaly detector (:class:`TailScorer`: ``learn_one`` / ``score_one`` on
``{"y": value, "t": epoch seconds}``), so it also runs in river pipelines; :class:`Anomaly`
puts it behind Tocsin's detector contract. Its state is 23 numbers, 24 tail moments and a
24-bin day profile: about 1.4 KB as JSON and 2 KB in memory per series (river's
HalfSpaceTrees at its defaults needs about 1 MiB). Scoring and learning a point takes
10-20 microseconds. On the NAB corpus without realTweets it scores 74 (standard profile),
with one threshold (0.5) for all 48 files; see ``benchmarks/nab_run.py``.

Parameters
----------
threshold
    Score from which a bucket is reported and the hold starts; 0.5 (the default) is the best
    single threshold on NAB, about one false alarm per thousand buckets of plain noise.
    Raise it for quieter alerting: 0.67 for one in ten thousand, 0.83 for one in 100 000.
hold
    Buckets after a detection during which the score reads 0 (default 30).
seasonal
    Learn an hour-of-day profile and use it once it explains the series (default ``True``).
severity
    The severity of the alert (``minor``, ``moderate`` or ``severe``).

Examples
--------
A spike of 12 standard deviations after 1500 buckets of noise, at a threshold of about one
false alarm per 60 000 buckets:

>>> import random
>>> from detectors.base import Bucket
>>> rng = random.Random(2)
>>> det = Params(threshold=0.8).build()
>>> for i in range(2000):
...     bucket = Bucket(i * 300.0, (i + 1) * 300.0, 100 + rng.gauss(0, 2) + (25 if i == 1500 else 0))
...     finding = det.score_one(bucket)
...     if finding is not None:
...         print(i, finding.message)
...     det.learn_one(bucket)
1500 anomaly score 1.00: short average has a tail probability of 9.9e-11

References
----------
[^1]: Siffer, A., Fouque, P.-A., Termier, A., Largouet, C., 2017. Anomaly detection in streams
with extreme value theory. KDD '17. https://doi.org/10.1145/3097983.3098144
[^2]: Ahmad, S., Lavin, A., Purdy, S., Agha, Z., 2017. Unsupervised real-time anomaly
detection for streaming data. Neurocomputing 262. https://doi.org/10.1016/j.neucom.2017.04.070
[^3]: Lavin, A., Ahmad, S., 2015. Evaluating real-time anomaly detection algorithms: the
Numenta Anomaly Benchmark. https://arxiv.org/abs/1510.03336
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Hashable
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from river import base as river_base

from detectors.base import Bucket, Finding, Severity, rounded
from detectors.registry import register

# Time scales, as the weight of the newest point in an exponentially weighted average.
SLOW = 0.01  # the baseline every deviation is measured from (~100 points)
VERY_SLOW = 0.005  # the long baseline for slow drifts (~200 points)
FAST = 0.3, 0.1  # short and medium moving averages
VOLATILITY = 0.01  # average absolute step, for volatility records

# Records: a new extreme by RECORD_MARGIN of the historical range (plus RANGE_NOISE mean
# absolute deviations, so a noisy series needs a larger margin) is worth the same evidence
# as a one-in-a-thousand tail event (3 decades) once the history is RECORD_MATURITY decades
# long, less before, and never more than log10(n) decades; volatility records count
# VOLATILITY_WEIGHT.
RECORD_MARGIN = 0.027
RANGE_NOISE = 4.0
VOLATILITY_WEIGHT = 0.3
RECORD_MATURITY = 3.0  # decades of history (1000 points) for a record to count in full

# Tails: generalised Pareto fitted by moments to the excesses over a tracked TAIL_LEVEL
# quantile; TAIL_MEMORY is the weight of the newest excess.
TAIL_LEVEL = 0.97
TAIL_STEP = 0.05
TAIL_MEMORY = 0.05
MAX_Z = 1e4

# Hour-of-day profile: SEASON_BINS bins, each learning over SEASON_DAYS days; used when the
# deviation from it is under SEASON_GATE of the plain deviation.
SEASON_BINS = 24
SEASON_DAYS = 3.0
SEASON_GATE = 0.7
DAY = 86400.0

WARMUP_RECORDS = 150  # points before records count: a short history breaks records often
WARMUP_TAILS = 50  # points before tail probabilities count
TAIL_START = 20  # points before the tails start learning
SECOND_EVIDENCE = 0.3  # share of the weaker kind of evidence added to the stronger
DECADES_AT_ONE = 6.0  # score 1.0 = 6 decades of evidence (p = 1e-6); 0.5 = 1e-3

# Statistics with a tail, in state order: the first four always count, the last two only
# once the series has shown a daily cycle.
STATISTICS = (
    "step from the last value",
    "short average",
    "medium average",
    "medium average against the long baseline",
    "deviation from the hour-of-day profile",
    "average deviation from the hour-of-day profile",
)
_Y, _YA = 4, 5
_N_TAILS = 6
_N_PLAIN = 4
# Records, as reported: (what, direction).
RECORDS = (
    ("value", "above its all-time high"),
    ("value", "below its all-time low"),
    ("medium average", "above its all-time high"),
    ("medium average", "below its all-time low"),
    ("volatility", "above its all-time high"),
)
_EPS = 1e-9


def _tail_p(tail: array[float], i: int, z: float, count: int) -> float:
    """P(statistic >= z) under the tail fitted in ``tail[4i:4i+4]`` = (u, mean z, m1, m2)."""
    u = tail[4 * i]
    if count < 30 or z <= u:
        return 1.0
    y = z - u
    m1 = tail[4 * i + 2]
    var = tail[4 * i + 3] - m1 * m1
    if m1 <= 0.0 or var <= 0.0:
        return (1.0 - TAIL_LEVEL) * math.exp(-y / max(m1, 1e-12))
    ratio = m1 * m1 / var
    xi = min(max(0.5 * (1.0 - ratio), 0.0), 0.5)
    sigma = 0.5 * m1 * (ratio + 1.0)
    if xi < 1e-6:
        return (1.0 - TAIL_LEVEL) * math.exp(-y / sigma)
    return (1.0 - TAIL_LEVEL) * float((1.0 + xi * y / sigma) ** (-1.0 / xi))


def _tail_learn(tail: array[float], i: int, z: float, count: int) -> None:
    """Move the tracked quantile and the excess moments of tail ``i`` (``count`` >= 1)."""
    k = 4 * i
    tail[k + 1] += (z - tail[k + 1]) / min(count, 1000)
    if count == 1:
        tail[k] = z
    step = TAIL_STEP * max(tail[k + 1], 1e-12)
    if z > tail[k]:
        y = z - tail[k]
        w = max(TAIL_MEMORY, 1.0 / (count * (1.0 - TAIL_LEVEL) + 1.0))
        tail[k + 2] += w * (y - tail[k + 2])
        tail[k + 3] += w * (y * y - tail[k + 3])
        tail[k] += step * TAIL_LEVEL
    else:  # statistics are >= 0, and so is their quantile
        tail[k] = max(tail[k] - step * (1.0 - TAIL_LEVEL), 0.0)


class Evaluation(NamedTuple):
    """What the model makes of one value, before learning it."""

    score: float  # in [0, 1]
    record: float  # evidence from records, in decades (3 = a one-in-a-thousand event)
    tail: float  # evidence from the tail probabilities, in decades (Bonferroni-corrected)
    record_kind: int  # index in RECORDS of the largest record, or -1
    record_level: float  # the level that record broke
    tail_kind: int  # index in STATISTICS of the most improbable statistic, or -1
    tail_p: float  # its tail probability, uncorrected
    seasonal: bool  # whether the hour-of-day statistics counted
    stats: list[float]  # every statistic, for learning


_QUIET = Evaluation(0.0, 0.0, 0.0, -1, 0.0, -1, 1.0, False, [0.0] * _N_TAILS)


class TailScorer(river_base.AnomalyDetector):
    """The scoring model, as a river anomaly detector on ``{"y": value, "t": seconds}``.

    ``score_one`` returns the calibrated score in [0, 1] (before any hold); ``t`` is only
    used for the hour-of-day profile and may be left out when ``seasonal`` is off. Missing
    and non-finite values score 0 and are not learned.
    """

    _SCALARS: ClassVar[tuple[str, ...]] = (
        "n", "prev", "t_prev", "mu", "mad", "f3", "f1", "s3", "s1", "step", "long", "s_long",
        "hi", "lo", "f_hi", "f_lo", "vol", "v_hi", "v_lo", "day_level", "s_day", "y_avg", "s_y_avg",
    )

    def __init__(self, seasonal: bool = True) -> None:
        self.seasonal = seasonal
        self.n = 0
        self.prev = self.t_prev = self.mu = self.mad = 0.0
        self.f3 = self.f1 = self.s3 = self.s1 = self.step = self.long = self.s_long = 0.0
        self.hi = self.lo = self.f_hi = self.f_lo = self.vol = self.v_hi = self.v_lo = 0.0
        self.day_level = self.s_day = self.y_avg = self.s_y_avg = 0.0
        self.tail = array("d", bytes(8 * 4 * _N_TAILS))  # per statistic: (u, mean, m1, m2)
        self.profile = array("d", bytes(8 * SEASON_BINS))
        self.visits = array("H", bytes(2 * SEASON_BINS))

    # -- river API -------------------------------------------------------------------------

    def score_one(self, x: dict[Hashable, Any]) -> float:
        y = _finite(x["y"])
        return 0.0 if y is None else self.evaluate(y, float(x.get("t", 0.0))).score

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        y = _finite(x["y"])
        if y is not None:
            t = float(x.get("t", 0.0))
            self.update(y, t, self.evaluate(y, t))

    # -- the model -------------------------------------------------------------------------

    def expected(self, t: float) -> float:
        """The level the model expects at ``t``: the hour-of-day profile when it counts."""
        if self.seasonal and self._seasonal():
            return self.day_level + self.profile[_bin(t)]
        return self.mu

    def _seasonal(self) -> bool:
        return self.n > WARMUP_TAILS and self.s_day < SEASON_GATE * self.mad and min(self.visits) >= 3

    def evaluate(self, x: float, t: float) -> Evaluation:
        """How surprising value ``x`` at ``t`` is. Pure: reads the learned state only."""
        n = self.n
        if n == 0:
            return _QUIET
        mu = self.mu
        eps = _EPS * (abs(mu) + 1.0)
        f3 = self.f3 + FAST[0] * (x - self.f3)
        f1 = self.f1 + FAST[1] * (x - self.f1)
        step = x - self.prev

        # Records: the value and the medium average against their all-time ranges (widened
        # by the noise), and the volatility against its own.
        excess, kind, level = 0.0, -1, 0.0
        if n >= WARMUP_RECORDS:
            span = self.hi - self.lo + RANGE_NOISE * self.mad
            if span > 0.0:
                for k, e, lv in ((0, x - self.hi, self.hi), (1, self.lo - x, self.lo)):
                    if e > 0.0 and e / span > excess:
                        excess, kind, level = e / span, k, lv
            span = self.f_hi - self.f_lo + RANGE_NOISE * self.mad
            if span > 0.0:
                for k, e, lv in ((2, f1 - self.f_hi, self.f_hi), (3, self.f_lo - f1, self.f_lo)):
                    if e > 0.0 and e / span > excess:
                        excess, kind, level = e / span, k, lv
            vol = self.vol + VOLATILITY * (abs(step) - self.vol)
            span = self.v_hi - self.v_lo
            if span > 0.0 and vol > self.v_hi and VOLATILITY_WEIGHT * (vol - self.v_hi) / span > excess:
                excess, kind, level = VOLATILITY_WEIGHT * (vol - self.v_hi) / span, 4, self.v_hi
        # A new extreme among n points is a one-in-n event at most: log10(n) decades.
        record = min(3.0 * excess / RECORD_MARGIN * min(1.0, math.log10(n) / RECORD_MATURITY), math.log10(n))

        # Tail statistics: |deviation| over its typical size.
        stats = [
            abs(step) / (self.step + eps),
            abs(f3 - mu) / (self.s3 + eps),
            abs(f1 - mu) / (self.s1 + eps),
            abs(f1 - self.long) / (self.s_long + eps),
            0.0,
            0.0,
        ]
        seasonal = False
        if self.seasonal:
            resid = x - self.day_level - self.profile[_bin(t)]
            y_avg = self.y_avg + FAST[1] * (resid - self.y_avg)
            stats[_Y] = abs(resid) / (self.s_day + eps)
            stats[_YA] = abs(y_avg) / (self.s_y_avg + eps)
            seasonal = self._seasonal()
        evidence, tail_kind, tail_p = 0.0, -1, 1.0
        if n > WARMUP_TAILS:
            count = n - TAIL_START
            used = _N_TAILS if seasonal else _N_PLAIN
            for i in range(used):
                p = _tail_p(self.tail, i, stats[i], count)
                if p < tail_p:
                    tail_p, tail_kind = p, i
            evidence = -math.log10(max(min(1.0, tail_p * used), 1e-300))

        strong, weak = (record, evidence) if record >= evidence else (evidence, record)
        score = min(1.0, (min(strong, DECADES_AT_ONE) + SECOND_EVIDENCE * weak) / DECADES_AT_ONE)
        return Evaluation(score, record, evidence, kind, level, tail_kind, tail_p, seasonal, stats)

    def update(self, x: float, t: float, evaluation: Evaluation) -> None:
        """Learn ``x`` at ``t``, given ``evaluate(x, t)`` from the same state."""
        stats = evaluation.stats
        if self.n == 0:
            self.prev = self.mu = self.f3 = self.f1 = self.long = x
            self.hi = self.lo = self.f_hi = self.f_lo = self.day_level = x
            self.t_prev = t
        step = abs(x - self.prev)
        self.n = n = self.n + 1
        w = max(SLOW, 1.0 / n)
        mu = self.mu

        self.f3 += FAST[0] * (x - self.f3)
        self.f1 += FAST[1] * (x - self.f1)
        self.s3 += w * (abs(self.f3 - mu) - self.s3)
        self.s1 += w * (abs(self.f1 - mu) - self.s1)
        self.step += w * (step - self.step)
        w_long = max(VERY_SLOW, 1.0 / n)
        self.s_long += w_long * (abs(self.f1 - self.long) - self.s_long)
        self.long += w_long * (x - self.long)

        if x > self.hi:
            self.hi = x
        elif x < self.lo:
            self.lo = x
        if self.f1 > self.f_hi:
            self.f_hi = self.f1
        elif self.f1 < self.f_lo:
            self.f_lo = self.f1
        if n > 1:
            self.vol += VOLATILITY * (step - self.vol)
            if n == 2:
                self.v_hi = self.v_lo = self.vol
            elif self.vol > self.v_hi:
                self.v_hi = self.vol
            elif self.vol < self.v_lo:
                self.v_lo = self.vol

        if n > TAIL_START:
            count = n - TAIL_START
            for i in range(_N_TAILS if self.seasonal else _N_PLAIN):
                _tail_learn(self.tail, i, min(stats[i], MAX_Z), count)

        if self.seasonal:
            b = _bin(t)
            expected = self.profile[b]
            resid = x - self.day_level - expected
            self.y_avg += FAST[1] * (resid - self.y_avg)
            self.s_day += w * (abs(resid) - self.s_day)
            self.s_y_avg += w * (abs(self.y_avg) - self.s_y_avg)
            dt = min(max(t - self.t_prev, 1.0), DAY) if n > 1 else 300.0
            if self.visits[b] < 65535:
                self.visits[b] += 1
            rate = max(min(1.0, dt / (SEASON_DAYS * DAY / SEASON_BINS)), 1.0 / self.visits[b])
            self.profile[b] = expected + rate * (x - self.day_level - expected)
            self.day_level += max(dt / DAY, 1.0 / n) * resid
            self.t_prev = t

        self.mu = mu + w * (x - mu)
        self.mad += w * (abs(x - self.mu) - self.mad)
        self.prev = x

    # -- state -----------------------------------------------------------------------------

    def state(self) -> list[Any]:
        return [
            [getattr(self, name) for name in self._SCALARS],
            list(self.tail),
            list(self.profile) if self.seasonal else [],
            list(self.visits) if self.seasonal else [],
        ]

    def load(self, state: list[Any]) -> None:
        scalars, tail, profile, visits = state
        for name, value in zip(self._SCALARS, scalars, strict=True):
            setattr(self, name, int(value) if name == "n" else float(value))
        self.tail = array("d", (float(v) for v in tail))
        if self.seasonal:
            self.profile = array("d", (float(v) for v in profile))
            self.visits = array("H", (int(v) for v in visits))


def _finite(value: Any) -> float | None:
    """``value`` as a float clamped to +-1e150 (so squares stay finite), or ``None``."""
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    return min(max(v, -1e150), 1e150)


def _bin(t: float) -> int:
    return int((t % DAY) / DAY * SEASON_BINS) % SEASON_BINS


@register("anomaly")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(0.5, gt=0.0, le=1.0)
    hold: int = Field(30, ge=0)
    seasonal: bool = True
    severity: Literal["minor", "moderate", "severe"] = "moderate"

    def build(self) -> Anomaly:
        return Anomaly(self)


class Anomaly:
    kind: ClassVar[str] = "anomaly"
    __slots__ = ("_seen", "_seen_eval", "_seen_n", "holding", "model", "params")

    STATE_VERSION: ClassVar[int] = 1

    def __init__(self, params: Params) -> None:
        self.params = params
        self.model = TailScorer(seasonal=params.seasonal)
        self.holding = 0  # buckets left in the hold after a detection
        # The last evaluation (not learned state): learn_one after score_one reuses it.
        self._seen: Bucket | None = None
        self._seen_n = -1
        self._seen_eval = _QUIET

    def _evaluate(self, bucket: Bucket) -> Evaluation | None:
        x = _finite(bucket.value)
        if x is None:
            return None
        if bucket is self._seen and self._seen_n == self.model.n:
            return self._seen_eval
        evaluation = self.model.evaluate(x, bucket.start)
        self._seen, self._seen_n, self._seen_eval = bucket, self.model.n, evaluation
        return evaluation

    def score(self, bucket: Bucket) -> float:
        """The anomaly score of ``bucket`` in [0, 1]: 0 for a missing value and while
        holding after a detection."""
        evaluation = self._evaluate(bucket)
        if evaluation is None or self.holding:
            return 0.0
        return evaluation.score

    def score_one(self, bucket: Bucket) -> Finding | None:
        evaluation = self._evaluate(bucket)
        if evaluation is None or self.holding or evaluation.score < self.params.threshold:
            return None
        return Finding(
            severity=Severity[self.params.severity],
            strength=evaluation.score,
            message=f"anomaly score {evaluation.score:.2f}: {_reason(evaluation, bucket.value)}",
            evidence=self._evidence(bucket, evaluation),
        )

    def _evidence(self, bucket: Bucket, e: Evaluation) -> dict[str, Any]:
        return {
            "score": rounded(e.score),
            "model": "tail-scorer",
            "observed": bucket.value,
            "expected": rounded(self.model.expected(bucket.start)),
            "record_decades": rounded(e.record, 2),
            "tail_decades": rounded(e.tail, 2),
            "record": " ".join(RECORDS[e.record_kind]) if e.record_kind >= 0 else None,
            "statistic": STATISTICS[e.tail_kind] if e.tail_kind >= 0 else None,
            "tail_p": float(f"{e.tail_p:.3g}"),
            "seasonal": e.seasonal,
        }

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What ``score_one`` sees in ``bucket`` and why it fires or stays quiet."""
        e = self._evaluate(bucket)
        if e is None:
            return {"kind": self.kind, "observed": None, "fires": False, "why": "quiet: no value"}
        n = self.model.n
        if self.holding:
            why = f"holding: {self.holding} more buckets after a detection"
        elif n <= WARMUP_TAILS and e.score < self.params.threshold:
            why = f"warming up: {n} of {WARMUP_TAILS + 1} buckets learned"
        elif e.score >= self.params.threshold:
            why = f"fires: {_reason(e, bucket.value)}"
        else:
            why = (f"quiet: score {e.score:.2f} below {self.params.threshold:g} "
                   f"({_reason(e, bucket.value)})")
        return {"kind": self.kind, **self._evidence(bucket, e), "threshold": self.params.threshold,
                "holding": self.holding, "fires": not self.holding and e.score >= self.params.threshold,
                "why": why}

    def learn_one(self, bucket: Bucket) -> None:
        evaluation = self._evaluate(bucket)
        if evaluation is None:
            return
        if self.holding:
            self.holding -= 1
        elif evaluation.score >= self.params.threshold:
            self.holding = self.params.hold
        x = _finite(bucket.value)
        assert x is not None
        self.model.update(x, bucket.start, evaluation)
        self._seen, self._seen_eval = None, _QUIET

    def snapshot(self) -> list[Any]:
        return [self.STATE_VERSION, self.holding, self.model.state()]

    def restore(self, state: list[Any]) -> None:
        version, holding, model = state
        if version != self.STATE_VERSION:
            raise ValueError(f"anomaly state version {version!r}; expected {self.STATE_VERSION}")
        self.holding = int(holding)
        self.model.load(model)
        self._seen, self._seen_eval = None, _QUIET


def _reason(e: Evaluation, value: float | None) -> str:
    """One line on the stronger evidence."""
    if e.record >= e.tail and e.record_kind >= 0:
        what, where = RECORDS[e.record_kind]
        return f"{what} {where} of {e.record_level:.4g}"
    if e.tail_kind >= 0:
        return f"{STATISTICS[e.tail_kind]} has a tail probability of {e.tail_p:.2g}"
    return "nothing unusual"
