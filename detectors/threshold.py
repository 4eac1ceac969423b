"""``threshold``: a configured static limit crossed for a configured duration.

Parameters
----------
limit
    The static limit, in the signal's unit (or as a fraction when ``rate = true``).
direction
    ``"above"`` (default) fires on values over the limit, ``"below"`` on values under it.
for_buckets
    How many consecutive buckets must cross the limit before the rule fires.
rate
    Compare ``value / total`` (an error rate) instead of the value; buckets without a
    total are skipped.
severity
    The severity of the alert (``minor``, ``moderate`` or ``severe``).

Examples
--------
>>> from detectors.base import Bucket
>>> det = Params(limit=10, for_buckets=2).build()
>>> fired = []
>>> for i, v in enumerate([12, 5, 11, 13]):
...     bucket = Bucket(i * 300.0, (i + 1) * 300.0, v)
...     fired.append(det.score_one(bucket) is not None)
...     det.learn_one(bucket)
>>> fired
[False, False, False, True]
>>> det.explain(Bucket(1200.0, 1500.0, 14))["why"]
'fires: 14 above the limit 10 for 3 buckets'
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Bucket, Finding, Severity
from detectors.registry import register


@register("threshold")
class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: float
    direction: Literal["above", "below"] = "above"
    for_buckets: int = Field(1, ge=1)
    rate: bool = False
    severity: Literal["minor", "moderate", "severe"] = "moderate"

    def build(self) -> Threshold:
        return Threshold(self)


class Threshold:
    kind: ClassVar[str] = "threshold"
    __slots__ = ("params", "recent", "run")

    def __init__(self, params: Params) -> None:
        self.params = params
        self.run = 0  # consecutive buckets across the limit, including the one being scored
        self.recent: list[float] = []

    def _observed(self, bucket: Bucket) -> float | None:
        if bucket.value is None:
            return None
        if self.params.rate:
            return bucket.value / bucket.total if bucket.total else None
        return bucket.value

    def _crosses(self, x: float) -> bool:
        return x > self.params.limit if self.params.direction == "above" else x < self.params.limit

    def score_one(self, bucket: Bucket) -> Finding | None:
        x = self._observed(bucket)
        if x is None or not self._crosses(x):
            return None
        p = self.params
        run = self.run + 1
        if run < p.for_buckets:
            return None
        observed = (self.recent + [x])[-p.for_buckets:]
        what = "error rate" if p.rate else "value"
        return Finding(
            severity=Severity[p.severity],
            strength=abs(x - p.limit),
            message=f"{what} {x:g} {p.direction} the limit {p.limit:g} for {run} bucket{'s' if run > 1 else ''}",
            evidence={"limit": p.limit, "direction": p.direction, "observed": observed, "buckets": run},
        )

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What ``score_one`` sees in ``bucket``: the observed value against the limit, the run
        of buckets across it, and why it fires or stays quiet."""
        p = self.params
        x = self._observed(bucket)
        crosses = x is not None and self._crosses(x)
        run = self.run + 1 if crosses else 0
        if x is None:
            why = "quiet: no value" + (" or no total to make a rate of" if p.rate else "")
        elif not crosses:
            why = f"quiet: {x:g} is not {p.direction} the limit {p.limit:g}"
        elif run < p.for_buckets:
            why = f"quiet: {x:g} is {p.direction} the limit {p.limit:g}, {run} of {p.for_buckets} buckets running"
        else:
            why = f"fires: {x:g} {p.direction} the limit {p.limit:g} for {run} buckets"
        return {"kind": self.kind, "observed": x, "limit": p.limit, "direction": p.direction, "buckets": run,
                "needed": p.for_buckets, "fires": crosses and run >= p.for_buckets, "why": why}

    def learn_one(self, bucket: Bucket) -> None:
        x = self._observed(bucket)
        if x is not None and self._crosses(x):
            self.run += 1
            self.recent = (self.recent + [x])[-self.params.for_buckets:]
        else:
            self.run = 0
            self.recent = []

    def snapshot(self) -> list[Any]:
        return [self.run, list(self.recent)]

    def restore(self, state: list[Any]) -> None:
        self.run, self.recent = int(state[0]), [float(v) for v in state[1]]
