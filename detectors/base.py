"""The detector contract.

A detector watches one series (one signal of one entity) and sees its closed buckets in
event-time order. For each bucket the pipeline first asks ``score_one`` (so a point is
judged before it is learned) and then calls ``learn_one``; a detector decides itself
whether an anomalous bucket may enter its baseline.

Parameters and learned state are kept apart, as in river: parameters live in one shared,
frozen ``Params`` object per rule, learned state in the detector, so that ``snapshot()``
and ``restore()`` are small and a hundred thousand series stay cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Protocol


class Severity(IntEnum):
    """Ordered so that ``max`` gives the worse one."""

    minor = 1
    moderate = 2
    severe = 3


# Not frozen: building one per event is on the hot path, and frozen dataclasses cost
# about 0.7 us more to build. Nothing mutates them (the contract suite checks it).
@dataclass(slots=True)
class Bucket:
    """One closed bucket of a series: ``[start, end)`` in epoch seconds.

    ``value`` is the sum (count signals) or the weighted mean (mean signals); ``None``
    means the bucket had no data and the signal treats that as missing. ``weight`` is
    the number of events (or the summed ``count`` weights of a mean). ``total`` is the
    summed request totals when events carry them (error rates), else ``None``.
    ``labels`` holds, when events carried labels, ``"key=value" -> [sum, weight]`` of
    the events with that label (a mean is ``sum / weight``).
    """

    start: float
    end: float
    value: float | None
    weight: float = 0.0
    total: float | None = None
    labels: dict[str, list[float]] | None = None


@dataclass(slots=True, frozen=True)
class Finding:
    """What a detector reports for a bucket whose condition holds.

    ``strength`` orders findings of one rule (a larger one becomes the alert's peak
    evidence); it is in the detector's own unit, stated in its evidence.
    """

    severity: Severity
    strength: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    """Learned state of one rule on one series."""

    kind: ClassVar[str]

    def score_one(self, bucket: Bucket) -> Finding | None:
        """The finding for ``bucket`` if the rule's condition holds, else ``None``.

        Returns ``None`` while warming up; never raises on a valid bucket.
        """

    def learn_one(self, bucket: Bucket) -> None:
        """Update the learned state with ``bucket``."""

    def explain(self, bucket: Bucket) -> dict[str, Any]:
        """What the detector sees in ``bucket`` before learning it, for people tuning a rule.

        JSON-compatible: the expected and observed values, the statistics the decision
        rests on and a ``why`` sentence saying why it fires or stays quiet (``warming up``,
        ``2.1x normal but p=0.02 above 1e-5``...). Side-effect free, like ``score_one``;
        used by ``tocsin replay --explain``, never on the hot path.
        """

    def snapshot(self) -> list[Any]:
        """The learned state as JSON-compatible values, enough for ``restore``."""

    def restore(self, state: list[Any]) -> None:
        """Replace the learned state with one taken by ``snapshot``."""


class FiresEarly(Detector, Protocol):
    """A count detector that may fire before its bucket closes (opt-in).

    A count only grows while its bucket is open, so once the running sum of the next
    bucket could fire, the pipeline asks ``score_one`` about the bucket as it stands (and
    at its pace so far) and may raise the alert at once, stamped with the bucket's latest
    event time; the closed bucket is scored as usual and updates (or clears) the alert.
    The detector only says from which count to ask (:mod:`warning.series`).
    """

    def firing_floor(self, start: float) -> float:
        """A count under which ``score_one`` cannot fire on the next bucket, which starts at
        ``start``: a cheap lower bound, ``inf`` when it cannot fire or fires already."""


class Params(Protocol):
    """Validated parameters of one rule, shared by every series the rule runs on."""

    def build(self) -> Detector:
        """A fresh detector with empty learned state."""


def rounded(x: float, digits: int = 4) -> float:
    """Evidence numbers rounded for people; NaN and infinities pass through (orjson writes null)."""
    return round(x, digits) if math.isfinite(x) else x
