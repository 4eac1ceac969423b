"""The detection core every source shares: bucket on event time -> detect -> alert changes.

:class:`Pipeline` is deterministic and synchronous and does no I/O. Sources (HTTP, files,
Kafka) hand it batches of validated events; sinks (storage, notifications, the replay
output) take the :class:`Outcome` it returns. Its state is a map of
:class:`warning.series.Series` keyed by ``(signal, entity)``; :meth:`Pipeline.snapshot`
and :meth:`Pipeline.restore` move any subset of it, so a run stopped, restored and
continued yields exactly the alert changes of an uninterrupted run.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Bucket, Severity
from warning.alerts import AlertChange, RuleContext
from warning.buckets import BucketWindow
from warning.events import Event
from warning.series import Series
from warning.settings import Settings

SeriesKey = tuple[str, str]


@dataclass(slots=True, frozen=True)
class ClosedBucket:
    signal: str
    entity: str
    bucket: Bucket


@dataclass(slots=True, frozen=True)
class LateEvent:
    """A valid event whose bucket had closed; ``position`` is its index in the batch."""

    position: int
    event: Event
    reason: str


@dataclass(slots=True)
class Outcome:
    """What one batch produced, in the order it happened."""

    changes: list[AlertChange] = field(default_factory=list)
    closed: list[ClosedBucket] = field(default_factory=list)
    late: list[LateEvent] = field(default_factory=list)
    touched: set[SeriesKey] = field(default_factory=set)  # series whose state changed
    accepted: int = 0  # events merged into a bucket


class Pipeline:
    """Per-series state plus the rules of the configured signals."""

    def __init__(self, settings: Settings, *, keep_closed: bool = False) -> None:
        self.settings = settings
        self.keep_closed = keep_closed
        self.series: dict[SeriesKey, Series] = {}
        response = {s: settings.response_seconds(s.name) for s in Severity}
        self._contexts: dict[str, list[tuple[RuleContext, Any]]] = {
            name: [
                (RuleContext(rule.kind, rule.name, name, cfg.resolve_after, response, rule.crisis_type), rule.params)
                for rule in cfg.rules
            ]
            for name, cfg in settings.signals.items()
        }

    def _new_series(self, signal: str, entity: str) -> Series:
        cfg = self.settings.signals[signal]
        entity_cfg = self.settings.entities.get(entity)
        entity_type = entity_cfg.crisis_type if entity_cfg else None
        rules = [
            (ctx if entity_type is None else _with_crisis_type(ctx, entity_type), params.build())
            for ctx, params in self._contexts[signal]
        ]
        window = BucketWindow(cfg.bucket, cfg.lateness, cfg.is_count)
        series = Series(signal, entity, window, rules)
        self.series[(signal, entity)] = series
        return series

    def process(self, events: Sequence[Event]) -> Outcome:
        """Merge a batch of validated events and detect on every bucket they close."""
        out = Outcome()
        touched: dict[SeriesKey, Series] = {}
        all_series = self.series
        accepted = 0
        for position, event in enumerate(events):
            key = (event.signal, event.entity)
            series = all_series.get(key) or self._new_series(*key)
            reason = series.window.add(event.ts, event.value, event.count, event.total)
            if reason is not None:
                out.late.append(LateEvent(position, event, reason))
                continue
            accepted += 1
            touched[key] = series
            # Close as we go: a later event may only be late against what closed before it.
            closed = series.window.close_ready()
            if closed:
                self._detect(series, closed, out)
        out.accepted = accepted
        out.touched.update(touched)
        return out

    def flush(self, keys: Iterable[SeriesKey] | None = None) -> Outcome:
        """Close every open bucket (the end of a finite replay)."""
        out = Outcome()
        for key in list(self.series) if keys is None else keys:
            series = self.series[key]
            closed = series.window.close_all()
            if closed:
                self._detect(series, closed, out)
                out.touched.add(key)
        return out

    def _detect(self, series: Series, closed: list[Bucket], out: Outcome) -> None:
        series.detect(closed, out.changes)
        if self.keep_closed:
            out.closed.extend(ClosedBucket(series.signal, series.entity, b) for b in closed)

    def snapshot(self, keys: Iterable[SeriesKey] | None = None) -> dict[SeriesKey, list[Any]]:
        """JSON-compatible state of the given series (all by default)."""
        chosen = self.series if keys is None else {k: self.series[k] for k in keys}
        return {key: series.snapshot() for key, series in chosen.items()}

    def restore(self, snapshots: dict[SeriesKey, list[Any]]) -> None:
        """Replace the state of the given series; series of unconfigured signals are skipped."""
        for (signal, entity), state in snapshots.items():
            if signal not in self.settings.signals:
                continue
            series = self.series.get((signal, entity)) or self._new_series(signal, entity)
            series.restore(state)

    def forget(self, keys: Iterable[SeriesKey]) -> None:
        """Drop series from memory (a partition handed to another worker)."""
        for key in keys:
            self.series.pop(key, None)


def _with_crisis_type(ctx: RuleContext, crisis_type: str) -> RuleContext:
    return RuleContext(ctx.kind, ctx.rule, ctx.signal, ctx.resolve_after, ctx.response_seconds, crisis_type)
