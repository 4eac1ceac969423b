"""Which labels drive a change: per-label baselines and their share of an alert's excess.

Where events carry labels (channel, region, product), each closed bucket carries its
value per ``key=value`` label, and each series keeps a small exponentially weighted
baseline per label. When a rule fires, :func:`contributors` compares the firing bucket
with those baselines: for a sum, each label's excess over its usual level; for a mean,
each label's pull on the mean (its weight times its drop). Labels are ranked by their
share of the total change, ties broken by name, so the list is deterministic.

Memory stays bounded: at most :data:`MAX_LABELS` labels per series are followed; a new
label takes the place of the one with the smallest baseline.
"""
from __future__ import annotations

from typing import Any

MAX_LABELS = 16
TOP = 5
ALPHA = 0.05  # about 20 buckets of memory


class LabelProfile:
    """Per-label baselines of one series: ``label -> [mean sum, mean weight]`` per bucket."""

    __slots__ = ("base",)

    def __init__(self) -> None:
        self.base: dict[str, list[float]] = {}

    def learn_one(self, labels: dict[str, list[float]] | None) -> None:
        base = self.base
        for stats in base.values():
            stats[0] -= ALPHA * stats[0]
            stats[1] -= ALPHA * stats[1]
        if not labels:
            return
        for label, (total, weight) in labels.items():
            known = base.get(label)
            if known is None:
                if len(base) >= MAX_LABELS:
                    smallest = min(base, key=lambda k: (base[k][1], k))
                    del base[smallest]
                base[label] = [ALPHA * total, ALPHA * weight]
            else:
                known[0] += ALPHA * total
                known[1] += ALPHA * weight

    def contributors(self, labels: dict[str, list[float]], is_count: bool) -> list[dict[str, Any]]:
        """The labels that contribute most to the change in this bucket, largest first."""
        changes: dict[str, tuple[float, float, float]] = {}
        for label, (total, weight) in labels.items():
            base_total, base_weight = self.base.get(label, (0.0, 0.0))
            if is_count:
                observed, expected = total, base_total
                change = observed - expected
            else:
                observed = total / weight if weight else 0.0
                expected = base_total / base_weight if base_weight else observed
                change = weight * (expected - observed)  # a drop counts positive
            changes[label] = (change, observed, expected)
        positive = sum(c for c, _, _ in changes.values() if c > 0)
        if positive <= 0:
            return []
        ranked = sorted(((c, label, o, e) for label, (c, o, e) in changes.items() if c > 0),
                        key=lambda item: (-item[0], item[1]))
        return [{"label": label, "observed": round(o, 4), "expected": round(e, 4), "share": round(c / positive, 3)}
                for c, label, o, e in ranked[:TOP]]

    def snapshot(self) -> list[Any]:
        return [[label, stats[0], stats[1]] for label, stats in self.base.items()]

    def restore(self, state: list[Any]) -> None:
        self.base = {label: [float(total), float(weight)] for label, total, weight in state}
