"""Live ingest: each batch goes through the pipeline and is committed before it is answered.

For every batch :meth:`LiveIngest.submit` validates, runs the pipeline and stores in one
transaction the dead letters, alert changes, closed buckets and the new snapshots of the
series the batch touched. Only then is the batch answered, so an event answered as
accepted survives a ``kill -9`` right after the answer: at start, the pipeline is restored
from those snapshots. If the commit fails, the touched series are reloaded from their
last committed snapshots, so memory never runs ahead of the database; when the database
cannot even be read, those series stay marked and are reloaded before the next batch.

One lock serialises batches: the pipeline is a single writer per process (Kafka workers
scale out by partition, each owning its series). Operators' moves of alerts
(:meth:`LiveIngest.operate`) and the notices' tick take the same lock, so a move is ordered
with the batches and stored with the state of the series holding its alert.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.dedupe import accepted_ids, drop_seen
from ingest.intake import event_json, sort_batch
from ingest.validate import Validator
from warning.alerts import AlertChange
from warning.early_warning_metrics import EarlyWarningBoard
from warning.errors import StorageError
from warning.events import Rejected
from warning.metrics import Metrics, reject_reason
from warning.pipeline import Pipeline
from warning.response import Operation
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.notices import scheduler

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Receipt:
    """The answer to one batch: positions are indexes into the submitted records."""

    accepted: int = 0
    duplicates: list[int] = field(default_factory=list)
    rejected: list[tuple[int, Rejected]] = field(default_factory=list)


class LiveIngest:
    def __init__(self, settings: Settings, database: Database, metrics: Metrics) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics
        self.validator = Validator(settings)
        # Times detection and keeps what the rules see, for /metrics (warning/scrape_metrics.py).
        self.early_warning = EarlyWarningBoard(
            capacity=4 * settings.metrics_max_entities * len(settings.signals),
            refresh_seconds=settings.metrics_refresh_seconds)
        self.pipeline = Pipeline(settings, keep_closed=True, detection=self.early_warning)
        metrics.expect(settings.signals, settings.escalation_hours)
        self.lock = threading.Lock()
        self._stale: set[tuple[str, str]] = set()  # series whose memory may be ahead of the database
        # Called with each committed batch's alert changes (the console's live stream), in the lock.
        self.on_changes: Callable[[Sequence[AlertChange]], None] | None = None
        self.pipeline.restore(database.load_snapshots())
        metrics.series.set(len(self.pipeline.series))
        self._pruned_at = float("-inf")
        self.prune_if_due()

    def prune_if_due(self, every_seconds: float = 3600.0) -> None:
        """Apply the bucket and seen-id retention, at most once per ``every_seconds``."""
        now = time.monotonic()
        if now - self._pruned_at >= every_seconds:
            self._pruned_at = now
            try:
                self.database.prune()
            except StorageError as exc:  # retention can wait an hour; a batch answer cannot
                log.warning("retention not applied: %s", exc)

    def submit(self, records: Sequence[tuple[str, Any]], source: str = "http") -> Receipt:
        started = time.perf_counter()
        batch = sort_batch(records, self.validator)
        receipt = Receipt(rejected=list(batch.rejected))
        with self.lock:
            self._reload_stale()
            ids = [e.id for e in batch.events if e.id is not None]
            kept = drop_seen(batch.events, batch.positions, self.database.known_ids(ids) if ids else ())
            try:
                out = self.pipeline.process(kept.events)
                for late in out.late:
                    position = kept.positions[late.position]
                    rejected = Rejected(event_json(late.event), late.reason, records[position][0], kind="late")
                    receipt.rejected.append((position, rejected))
                receipt.rejected.sort(key=lambda item: item[0])
                self.database.record(
                    changes=out.changes,
                    rejected=[r for _, r in receipt.rejected],
                    closed=out.closed,
                    snapshots=self.pipeline.snapshot_json(out.touched),
                    seen_ids=accepted_ids(kept.events, {late.position for late in out.late}),
                    extra=scheduler(out.changes, self.settings.escalation_hours) if out.changes else None,
                )
            except BaseException as exc:
                if isinstance(exc, StorageError):
                    self.metrics.storage_errors.inc()
                self._roll_back({(e.signal, e.entity) for e in kept.events})
                raise
            if out.changes and self.on_changes is not None:  # committed: now it may be told
                self.on_changes(out.changes)
        receipt.accepted = out.accepted
        receipt.duplicates = kept.duplicates
        self._count(source, receipt, out.changes, started)
        self.prune_if_due()
        return receipt

    def operate(self, work: Callable[[Pipeline], Operation]) -> None:
        """Run an operator's change (:mod:`warning.response`) in order with the batches: under
        the lock, committed in one transaction with the series whose state it changed."""
        with self.lock:
            self._reload_stale()
            op = work(self.pipeline)  # checks first: a refused move raises before changing anything
            if op.write is None and not op.touched:
                return
            try:
                self.database.record(snapshots=self.pipeline.snapshot_json(op.touched), extra=op.write)
            except BaseException as exc:
                if isinstance(exc, StorageError):
                    self.metrics.storage_errors.inc()
                self._roll_back(op.touched)
                raise

    def _roll_back(self, keys: set[tuple[str, str]]) -> None:
        """Return ``keys`` (every series the failed batch may have changed) to their committed state."""
        self._stale |= keys
        try:
            self._reload_stale()
        except StorageError:
            pass  # the database is down: reloaded before the next batch instead

    def _reload_stale(self) -> None:
        if not self._stale:
            return
        committed = self.database.load_snapshots(self._stale)  # StorageError: they stay stale
        self.pipeline.forget(self._stale - committed.keys())
        self.pipeline.restore(committed)
        self._stale.clear()

    def _count(self, source: str, receipt: Receipt, changes: Sequence[Any], started: float) -> None:
        m = self.metrics
        m.events.labels(source, "accepted").inc(receipt.accepted)
        m.events.labels(source, "duplicate").inc(len(receipt.duplicates))
        late = sum(1 for _, r in receipt.rejected if r.kind == "late")
        m.events.labels(source, "late").inc(late)
        m.events.labels(source, "invalid").inc(len(receipt.rejected) - late)
        for _, rejected in receipt.rejected:
            m.rejected.labels(source, reject_reason(rejected.kind, rejected.reason)).inc()
        with self.lock:  # the board is written under it, by the next batch's detection
            buckets, seconds = self.early_warning.drain()
        for signal, n in buckets.items():
            m.buckets_closed.labels(signal).inc(n)
            m.detection_seconds.labels(signal).inc(seconds[signal])
        for change in changes:
            m.alerts.labels(change.alert.kind, change.reason.value).inc()
            if change.reason == "raised":
                m.alerts_raised.labels(change.alert.kind, change.alert.severity.name).inc()
        m.series.set(len(self.pipeline.series))
        m.batch_seconds.labels(source).observe(time.perf_counter() - started)
