"""Event-time buckets of one series, with a watermark and allowed lateness.

Buckets are aligned to the epoch (``[k * width, (k + 1) * width)``, so daily buckets are
UTC days). The watermark is the latest event time seen *in this series*: keeping it per
series means a series' closed buckets depend only on its own events, never on how the
streams of other entities interleave, which is what lets the work be partitioned by
entity and still give the same alerts as one replay.

A bucket closes once ``end + lateness <= watermark``. Events for a closed bucket are
late: they are kept as late (with the reason) by the caller, never merged silently.
Every bucket between the first and the watermark is emitted, so a count signal sees its
empty buckets as zero and a mean signal sees them as missing (``value=None``); after a
silence longer than ``MAX_GAP_BUCKETS`` buckets only the last ones of it are emitted.
"""
from __future__ import annotations

from typing import Any

from detectors.base import Bucket
from warning.timefmt import rfc3339

MAX_GAP_BUCKETS = 10_000


class BucketWindow:
    """The open buckets of one series and where the closed part ends."""

    __slots__ = ("is_count", "lateness", "next_close", "open", "watermark", "width")

    def __init__(self, width: float, lateness: float, is_count: bool) -> None:
        self.width = width
        self.lateness = lateness
        self.is_count = is_count
        # start -> [sum of value * count, sum of count, sum of total or None,
        #           {"key=value": [sum, weight]} or None, latest event time]
        self.open: dict[float, list[Any]] = {}
        self.next_close: float | None = None  # start of the oldest bucket not yet closed
        self.watermark = float("-inf")

    def add(self, ts: float, value: float, count: float, total: float | None,
            labels: dict[str, str] | None = None) -> list[Bucket] | str:
        """Merge one observation and close every bucket whose end plus lateness the watermark
        has now passed: the closed buckets, or the reason when the observation's bucket had
        already closed (then nothing changes). One call per event: this runs for every event."""
        width = self.width
        start = ts - ts % width
        next_close = self.next_close
        if next_close is None:
            next_close = self.next_close = start
        elif start < next_close:
            if start + width + self.lateness > self.watermark:
                # Not closed, only earlier than the series' first event: open it.
                next_close = self.next_close = start
            else:
                return (
                    f"late: its bucket {rfc3339(start)} closed when the series reached "
                    f"{rfc3339(self.watermark)} (allowed lateness {self.lateness:g} s)"
                )
        acc = self.open.get(start)
        weight = 1.0 if self.is_count else count
        if acc is None:
            acc = self.open[start] = [value * weight, weight, total, None, ts]
        else:
            acc[0] += value * weight
            acc[1] += weight
            if ts > acc[4]:  # noqa: PLR1730 (max() is a call, and this runs per event)
                acc[4] = ts
            if total is not None:
                acc[2] = total if acc[2] is None else acc[2] + total
        if labels:
            by_label = acc[3]
            if by_label is None:
                by_label = acc[3] = {}
            for key, label_value in labels.items():
                stats = by_label.setdefault(f"{key}={label_value}", [0.0, 0.0])
                stats[0] += value * weight
                stats[1] += weight
        watermark = self.watermark
        if ts > watermark:
            watermark = self.watermark = ts
        horizon = watermark - self.lateness
        end = next_close + width
        if end > horizon:
            return []  # the common answer
        if end + width <= horizon:
            return self._close_until(horizon)  # several buckets (or a long silence)
        # One bucket closes, as with one event per bucket: _close_until written out.
        self.next_close = end
        acc = self.open.pop(next_close, None)
        if acc is None:
            return [Bucket(next_close, end, 0.0 if self.is_count else None, 0.0)]
        return [Bucket(next_close, end, acc[0] if self.is_count else acc[0] / acc[1], acc[1], acc[2], acc[3])]

    def close_all(self) -> list[Bucket]:
        """Close every open bucket (end of a finite replay)."""
        if not self.open:
            return []
        return self._close_until(max(self.open) + self.width)

    def _close_until(self, horizon: float) -> list[Bucket]:
        start = self.next_close
        width = self.width
        if start is None or start + width > horizon:
            return []
        if horizon - start > MAX_GAP_BUCKETS * width:  # rare: spares the division per bucket
            gap = int((horizon - start) // width) - MAX_GAP_BUCKETS
            if gap > 0:
                # A series silent for ages: emit the last MAX_GAP_BUCKETS empty buckets only, so
                # one event cannot make a worker close millions of buckets; never skip data.
                start = min(start + gap * width, min(self.open, default=float("inf")))
        closed = []
        pop = self.open.pop
        is_count = self.is_count
        while start + width <= horizon:
            acc = pop(start, None)
            if acc is None:
                closed.append(Bucket(start, start + width, 0.0 if is_count else None, 0.0))
            elif is_count:
                closed.append(Bucket(start, start + width, acc[0], acc[1], acc[2], acc[3]))
            else:
                closed.append(Bucket(start, start + width, acc[0] / acc[1], acc[1], acc[2], acc[3]))
            start += width
        self.next_close = start
        return closed

    def snapshot(self) -> list[Any]:
        watermark = None if self.watermark == float("-inf") else self.watermark
        return [self.next_close, watermark, [[s, *acc] for s, acc in self.open.items()]]

    def restore(self, state: list[Any]) -> None:
        self.next_close = state[0]
        self.watermark = float("-inf") if state[1] is None else state[1]
        # Older snapshots lack labels and the latest event time (the bucket's end stands in).
        self.open = {row[0]: [*row[1:4], row[4] if len(row) > 4 else None,
                              row[5] if len(row) > 5 else row[0] + self.width] for row in state[2]}
