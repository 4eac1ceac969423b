"""The detection core every source shares: bucket on event time -> detect -> alert changes.

:class:`Pipeline` is deterministic and synchronous and does no I/O. Sources (HTTP, files,
Kafka) hand it batches of validated events; sinks (storage, notifications, the replay
output) take the :class:`Outcome` it returns. Its state is a map of
:class:`warning.series.Series` keyed by ``(signal, entity)``; :meth:`Pipeline.snapshot`
and :meth:`Pipeline.restore` move any subset of it, so a run stopped, restored and
continued yields exactly the alert changes of an uninterrupted run.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from detectors.base import Bucket, Severity
from warning.alerts import Alert, AlertChange, RuleContext
from warning.buckets import BucketWindow
from warning.events import Event
from warning.series import RulesJson, Series
from warning.settings import Settings, SignalConfig
from warning.watchdog import FeedWatchdog

SeriesKey = tuple[str, str]
RULES_JSON_CACHED = 20_000
NEVER = float("-inf")


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


class DetectionHook(Protocol):
    """Runs a series' rules on its closed buckets in place of :meth:`Series.detect`, with the
    same alert changes: how the live service times detection and reads what the rules see
    (:mod:`warning.early_warning_metrics`)."""

    def detect(self, series: Series, closed: list[Bucket], changes: list[AlertChange]) -> None: ...


class Pipeline:
    """Per-series state plus the rules of the configured signals."""

    def __init__(
        self,
        settings: Settings,
        *,
        keep_closed: bool = False,
        explain: tuple[str, Callable[[dict[str, Any]], None]] | None = None,
        detection: DetectionHook | None = None,
    ) -> None:
        self.settings = settings
        self.detection = detection
        self.keep_closed = keep_closed
        self.series: dict[SeriesKey, Series] = {}
        # The feed watchdog's clock per signal: the latest event time of any of its series
        # (peers keep reporting while one goes silent), and the series to check against it.
        self.clocks: dict[str, float] = {}
        self._by_signal: dict[str, list[Series]] = {name: [] for name in settings.signals}
        self._check_every = {name: _check_interval(cfg) for name, cfg in settings.signals.items()}
        # ``tocsin replay --explain ENTITY``: what each rule saw in that entity's buckets.
        self.explain_entity: str | None = explain[0] if explain else None
        self._explain_sink: Callable[[dict[str, Any]], None] | None = explain[1] if explain else None
        # The serialised rule state of series whose rules have not run since (snapshot_json).
        self._rules_json: dict[SeriesKey, RulesJson] = {}
        response = {s: settings.response_seconds(s.name) for s in Severity}
        self._contexts: dict[str, list[tuple[RuleContext, Any]]] = {
            name: [
                (RuleContext(rule.kind, rule.name, name, cfg.resolve_after, response, rule.crisis_type), rule.params)
                for rule in cfg.rules
            ]
            for name, cfg in settings.signals.items()
        }
        self._watch_contexts = {
            name: RuleContext("no_data", f"{name}.no_data", name, cfg.resolve_after, response)
            for name, cfg in settings.signals.items() if cfg.watchdog.enabled
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
        watch_ctx = self._watch_contexts.get(signal)
        watch = None
        if watch_ctx is not None:
            watch = (watch_ctx if entity_type is None else _with_crisis_type(watch_ctx, entity_type),
                     FeedWatchdog(cfg.watchdog))
        series = Series(signal, entity, window, rules, watch)
        self.series[(signal, entity)] = series
        self._by_signal[signal].append(series)
        return series

    def process(self, events: Sequence[Event]) -> Outcome:
        """Merge a batch of validated events and detect on every bucket they close."""
        out = Outcome()
        touched, changes = out.touched, out.changes
        all_series = self.series
        clocks, check_every = self.clocks, self._check_every
        # Without --explain, a detection hook or kept buckets, a series' rules run directly.
        plain = self._explain_sink is None and self.detection is None and not self.keep_closed
        accepted = 0
        for position, event in enumerate(events):
            signal, ts = event.signal, event.ts
            key = (signal, event.entity)
            series = all_series.get(key) or self._new_series(*key)
            clock = clocks.get(signal, NEVER)
            if ts > clock:
                clocks[signal] = ts
                every = check_every[signal]
                if ts // every > clock // every:
                    self._check_feeds(signal, ts, out)
            # Close as we go: a later event may only be late against what closed before it.
            closed = series.window.add(ts, event.value, event.count, event.total, event.labels)
            if isinstance(closed, str):
                out.late.append(LateEvent(position, event, closed))
                continue
            accepted += 1
            touched.add(key)
            if closed:
                if plain and not self._rules_json:
                    series.detect(closed, changes)
                else:
                    self._detect(series, closed, out)
                if series.early_rules:
                    series.arm(changes)
            elif ts < series.early_until and series.fire_early(changes) and self._rules_json:
                self._rules_json.pop(key, None)  # in the next bucket, which fired before closing
        out.accepted = accepted
        return out

    def flush(self, keys: Iterable[SeriesKey] | None = None) -> Outcome:
        """Close every open bucket (the end of a finite replay)."""
        out = Outcome()
        for key in list(self.series) if keys is None else keys:
            series = self.series[key]
            closed = series.window.close_all()
            if closed:
                self._detect(series, closed, out)
                if series.early_rules:
                    series.arm(out.changes)
                out.touched.add(key)
        return out

    def _check_feeds(self, signal: str, now: float, out: Outcome) -> None:
        """Every time a signal's clock enters a new check interval: which of its series went silent."""
        for series in self._by_signal[signal]:
            change = series.check_feed(now)
            if change is not None:
                out.changes.append(change)
                out.touched.add((series.signal, series.entity))

    def _detect(self, series: Series, closed: list[Bucket], out: Outcome) -> None:
        if series.entity == self.explain_entity and self._explain_sink is not None:
            for seen in series.explain(closed, out.changes):
                self._explain_sink(seen)
        elif self.detection is not None:
            self.detection.detect(series, closed, out.changes)
        else:
            series.detect(closed, out.changes)
        if self._rules_json:  # empty unless snapshot_json is used (the live service)
            self._rules_json.pop((series.signal, series.entity), None)
        if self.keep_closed:
            out.closed.extend(ClosedBucket(series.signal, series.entity, b) for b in closed)

    def snapshot(self, keys: Iterable[SeriesKey] | None = None) -> dict[SeriesKey, list[Any]]:
        """JSON-compatible state of the given series (all by default)."""
        chosen = self.series if keys is None else {k: self.series[k] for k in keys}
        return {key: series.snapshot() for key, series in chosen.items()}

    def snapshot_json(self, keys: Iterable[SeriesKey]) -> dict[SeriesKey, bytes]:
        """``orjson.dumps`` of each given series' :meth:`snapshot`, for storage.

        A series' detectors and alert tracks change only when one of its buckets closes;
        in between, only its open buckets do. Their JSON from the last call is kept and
        reused until then, which halves the cost of checkpointing a batch whose events
        mostly land in open buckets. At most ``RULES_JSON_CACHED`` series are kept.
        """
        cache, out = self._rules_json, {}
        for key in keys:
            series = self.series[key]
            rules = cache.get(key)
            if rules is None:
                if len(cache) >= RULES_JSON_CACHED:
                    cache.clear()
                rules = cache[key] = series.rules_json()
            out[key] = series.snapshot_json(rules)
        return out

    def restore(self, snapshots: dict[SeriesKey, list[Any]]) -> None:
        """Replace the state of the given series; series of unconfigured signals are skipped."""
        for (signal, entity), state in snapshots.items():
            if signal not in self.settings.signals:
                continue
            series = self.series.get((signal, entity)) or self._new_series(signal, entity)
            series.restore(state)
            watermark = series.window.watermark
            if watermark > self.clocks.get(signal, NEVER):
                self.clocks[signal] = watermark
            self._rules_json.pop((signal, entity), None)

    def move_alert(self, alert: Alert) -> SeriesKey | None:
        """An operator moved ``alert`` (its new version): keep the move in the series that
        holds it, if any, and return that series, whose snapshot must be stored with the move."""
        key = (alert.signal, alert.entity)
        series = self.series.get(key)
        if series is None or not series.move_alert(alert.id, alert.status, alert.version):
            return None
        self._rules_json.pop(key, None)
        return key

    def forget(self, keys: Iterable[SeriesKey]) -> None:
        """Drop series from memory (a partition handed to another worker)."""
        for key in keys:
            series = self.series.pop(key, None)
            if series is not None:
                self._by_signal[series.signal].remove(series)
            self._rules_json.pop(key, None)


def _check_interval(cfg: SignalConfig) -> float:
    """A quarter of the shortest silence the watchdog can fire on, and at least a bucket."""
    wd = cfg.watchdog
    return max(cfg.bucket, max(wd.min_silence, wd.silence_buckets * cfg.bucket) / 4)


def _with_crisis_type(ctx: RuleContext, crisis_type: str) -> RuleContext:
    return RuleContext(ctx.kind, ctx.rule, ctx.signal, ctx.resolve_after, ctx.response_seconds, crisis_type)
