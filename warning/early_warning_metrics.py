"""The early-warning state of each series, read from what its rules see as buckets close.

:class:`EarlyWarningBoard` runs in place of :meth:`Series.detect` (the pipeline's
:class:`warning.pipeline.DetectionHook`) in the live service. It times detection and counts
closed buckets per signal, and, for the newest bucket a batch closes in a series, asks
each rule to ``explain`` it before it is learned, keeping four numbers the rules work
with: the multiple of normal (observed over expected), the growth rate and doubling time of
a fitted wave, and the relative drop below the baseline. With several rules on a series
the most alarming value of each is kept.

``explain`` is for people and costs some twenty times a plain ``detect`` (it refits the
growth model), so a series is explained at most once per ``metrics_refresh_seconds`` of
wall time: every bucket of a live feed (buckets close minutes apart), a fraction of them
when a backlog is replayed through the API. At most ``capacity`` series are kept, the
least recently active dropped first.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from detectors.base import Bucket
from warning.alerts import AlertChange
from warning.series import Series

SeriesKey = tuple[str, str]
LN2 = math.log(2.0)
HOUR = 3600.0


@dataclass(slots=True, frozen=True)
class SeriesState:
    """What the rules of one series saw in its newest explained bucket. ``None``: no rule says."""

    multiple: float | None = None  # observed / expected
    growth_per_second: float | None = None  # fitted exponential growth rate; negative: declining
    doubling_seconds: float | None = None  # only while growing
    drop: float | None = None  # relative drop below the baseline; negative: above it
    bucket_end: float = 0.0  # event time
    explained_at: float = 0.0  # wall time (monotonic)


class EarlyWarningBoard:
    """The latest early-warning state per series, and detection time per signal."""

    def __init__(self, *, capacity: int, refresh_seconds: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.refresh_seconds = refresh_seconds
        self._timer = timer
        self._states: OrderedDict[SeriesKey, SeriesState] = OrderedDict()  # least recently active first
        # Since the last drain: plain numbers on the hot path, moved to the Prometheus counters per batch.
        self._buckets: dict[str, int] = {}
        self._seconds: dict[str, float] = {}

    def detect(self, series: Series, closed: list[Bucket], changes: list[AlertChange]) -> None:
        key = (series.signal, series.entity)
        now = self._timer()
        state = self._states.get(key)
        started = time.perf_counter()
        if state is None or now - state.explained_at >= self.refresh_seconds:
            newest = closed[-1]
            series.detect(closed[:-1], changes)
            elapsed = time.perf_counter() - started
            views = [detector.explain(newest) for detector in series.detectors]  # before it is learned
            self._states[key] = read_views(views, newest.end, now)
            started = time.perf_counter()
            series.detect([newest], changes)
        else:
            series.detect(closed, changes)
            elapsed = 0.0
        elapsed += time.perf_counter() - started  # detection only: explaining is the metrics' cost
        self._states.move_to_end(key)
        if len(self._states) > self.capacity:
            self._states.popitem(last=False)
        self._buckets[series.signal] = self._buckets.get(series.signal, 0) + len(closed)
        self._seconds[series.signal] = self._seconds.get(series.signal, 0.0) + elapsed

    def drain(self) -> tuple[dict[str, int], dict[str, float]]:
        """Buckets closed and seconds spent detecting per signal since the last drain (under the ingest lock)."""
        buckets, seconds = self._buckets, self._seconds
        self._buckets, self._seconds = {}, {}
        return buckets, seconds

    def states(self) -> list[tuple[SeriesKey, SeriesState]]:
        """Every series kept, most recently active first (under the ingest lock)."""
        return list(reversed(self._states.items()))

    def forget(self, keys: Iterable[SeriesKey]) -> None:
        for key in keys:
            self._states.pop(key, None)


def read_views(views: list[dict[str, Any]], bucket_end: float, explained_at: float) -> SeriesState:
    """The early-warning numbers in the rules' ``explain`` views, whatever the rules' kinds:
    ``multiple`` (or ``observed`` / ``expected``), ``doubling_time_hours``, ``weekly_drops``."""
    multiples, rates, drops = [], [], []
    for view in views:
        multiple = _number(view.get("multiple"))
        observed, expected = _number(view.get("observed")), _number(view.get("expected"))
        if multiple is None and observed is not None and expected:
            multiple = observed / expected
        if multiple is not None:
            multiples.append(multiple)
        doubling = _number(view.get("doubling_time_hours"))
        if doubling:
            rates.append(LN2 / (doubling * HOUR))
        weekly = view.get("weekly_drops")
        if isinstance(weekly, list) and weekly and (drop := _number(weekly[-1])) is not None:
            drops.append(drop)
    rate = max(rates, default=None)
    return SeriesState(
        multiple=max(multiples, default=None),
        growth_per_second=rate,
        doubling_seconds=LN2 / rate if rate is not None and rate > 0 else None,
        drop=max(drops, default=None),
        bucket_end=bucket_end,
        explained_at=explained_at,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
