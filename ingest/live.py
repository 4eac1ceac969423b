"""Live ingest: each batch goes through the pipeline and is committed before it is answered.

For every batch :meth:`LiveIngest.submit` validates, runs the pipeline and stores in one
transaction the dead letters, the alert changes with their notices, and the batch's
accepted events, appended to the ingest journal. Only then is the batch answered, so an
event answered as accepted survives a ``kill -9`` right after the answer. The buckets it
closed and the ids it accepted are staged by the database and written at the next
checkpoint (they can be derived again from the journal).

Series state (buckets, detectors, alert tracks) is not rewritten by every batch: that
was most of a batch's cost, since a batch touches about as many series as it has events.
Every ``ingest_checkpoint_seconds`` (or ``ingest_checkpoint_events``) one batch's
transaction carries a checkpoint instead (the service's timer makes one when no batch comes): the snapshots of every series changed since the
last one, and the journal emptied. The committed state is therefore always "the stored
snapshots, then the journal's batches replayed in order", which is what a start (and a
failed commit) rebuilds memory from: the pipeline is deterministic, so the replay gives
the state the batches gave the first time (their results were committed with them and
are not written again). The trade-off is the start-up replay after a crash, at most one
checkpoint interval of events. A batch that creates a series checkpoints at once, so the
stored snapshots always list every series (the console's entity list reads them).

One lock serialises batches: the pipeline is a single writer per process (Kafka workers
scale out by partition, each owning its series). Operators' moves of alerts
(:meth:`LiveIngest.operate`) and the notices' tick take the same lock; a move that
changes a series' state is committed with a checkpoint, so it is ordered with the batches.
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
from ingest.journal import decode, encode
from ingest.validate import Validator
from warning.alerts import AlertChange
from warning.early_warning_metrics import EarlyWarningBoard
from warning.errors import StorageError
from warning.events import Rejected
from warning.metrics import Metrics, reject_reason
from warning.pipeline import ClosedBucket, Pipeline, SeriesKey
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


@dataclass(slots=True)
class Committed:
    """The pipeline as committed, with where the journal stands."""

    pipeline: Pipeline
    seq: int  # the journal's last batch (0: empty)
    dirty: set[SeriesKey] = field(default_factory=set)  # series changed by the journal's batches
    journaled: int = 0  # events in the journal
    closed: list[ClosedBucket] = field(default_factory=list)  # the buckets the journal's batches closed
    seen_ids: list[str] = field(default_factory=list)  # and the ids they accepted


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
        metrics.expect(settings.signals, settings.escalation_hours)
        self.lock = threading.Lock()
        # Called with each committed batch's alert changes (the console's live stream), in the lock.
        self.on_changes: Callable[[Sequence[AlertChange]], None] | None = None
        self.pipeline = self._new_pipeline()
        self._seq = 0  # the journal's last batch
        self._journaled = 0  # events journaled since the last checkpoint
        self._dirty: set[SeriesKey] = set()  # series changed since the last checkpoint
        self._checkpointed_at = time.monotonic()
        self._needs_recovery = True
        self._recover()
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
            self._recover_if_needed()
            ids = [e.id for e in batch.events if e.id is not None]
            kept = drop_seen(batch.events, batch.positions, self.database.known_ids(ids) if ids else ())
            try:
                series_before = len(self.pipeline.series)
                out = self.pipeline.process(kept.events)
                for late in out.late:
                    position = kept.positions[late.position]
                    rejected = Rejected(event_json(late.event), late.reason, records[position][0], kind="late")
                    receipt.rejected.append((position, rejected))
                receipt.rejected.sort(key=lambda item: item[0])
                self._dirty |= out.touched  # on a failure below, _failed() recovers it with the rest
                checkpoint = len(self.pipeline.series) > series_before or self._checkpoint_due(len(kept.events))
                self.database.record(
                    changes=out.changes,
                    rejected=[r for _, r in receipt.rejected],
                    closed=out.closed,
                    seen_ids=accepted_ids(kept.events, {late.position for late in out.late}),
                    snapshots=self.pipeline.snapshot_json(self._dirty) if checkpoint else None,
                    empty_journal=checkpoint,
                    journal=(self._seq + 1, encode(kept.events)) if kept.events and not checkpoint else None,
                    extra=scheduler(out.changes, self.settings.escalation_hours) if out.changes else None,
                )
            except BaseException as exc:
                self._failed(exc)
                raise
            if checkpoint:
                self._checkpointed()
            elif kept.events:
                self._seq += 1
                self._journaled += len(kept.events)
            if out.changes and self.on_changes is not None:  # committed: now it may be told
                self.on_changes(out.changes)
        receipt.accepted = out.accepted
        receipt.duplicates = kept.duplicates
        self._count(source, receipt, out.changes, started)
        self.prune_if_due()
        return receipt

    def operate(self, work: Callable[[Pipeline], Operation]) -> None:
        """Run an operator's change (:mod:`warning.response`) in order with the batches: under
        the lock; one that changed series state is committed with a checkpoint."""
        with self.lock:
            self._recover_if_needed()
            op = work(self.pipeline)  # checks first: a refused move raises before changing anything
            if op.write is None and not op.touched:
                return
            checkpoint = bool(op.touched)
            try:
                self.database.record(
                    snapshots=self.pipeline.snapshot_json(self._dirty | op.touched) if checkpoint else None,
                    empty_journal=checkpoint, extra=op.write)
            except BaseException as exc:
                self._failed(exc)
                raise
            if checkpoint:
                self._checkpointed()

    def checkpoint_if_due(self) -> None:
        """A checkpoint when one is due and no batch came to make it (a quiet feed): the
        service calls this every ``ingest_checkpoint_seconds``."""
        with self.lock:
            if self._checkpoint_due(0):
                self._checkpoint("a due checkpoint")

    def close(self) -> None:
        """A last checkpoint at shutdown, so the next start has no journal to replay."""
        with self.lock:
            self._checkpoint("the checkpoint at shutdown")

    def _checkpoint(self, what: str) -> None:
        """Store every series changed since the last checkpoint and empty the journal (in the lock)."""
        if self._needs_recovery or not (self._journaled or self._dirty):
            return
        try:
            self.database.record(snapshots=self.pipeline.snapshot_json(self._dirty), empty_journal=True)
        except StorageError as exc:  # nothing is lost: the journal stays, and a start replays it
            log.warning("%s was not stored: %s", what, exc)
            return
        self._checkpointed()

    def _checkpoint_due(self, events: int) -> bool:
        return (self._journaled + events >= self.settings.ingest_checkpoint_events
                or time.monotonic() - self._checkpointed_at >= self.settings.ingest_checkpoint_seconds)

    def _checkpointed(self) -> None:
        self._dirty = set()
        self._journaled = 0
        self._checkpointed_at = time.monotonic()

    def _new_pipeline(self) -> Pipeline:
        return Pipeline(self.settings, keep_closed=True, detection=self.early_warning)

    def committed(self) -> Committed:
        """The state a restart would rebuild: the stored snapshots, then the journal replayed.

        Raises :class:`StorageError` when the database cannot be read.
        """
        pipeline = self._new_pipeline()
        pipeline.restore(self.database.load_snapshots())
        journal = self.database.load_journal()
        committed = Committed(pipeline, seq=journal[-1][0] if journal else 0)
        for _, blob in journal:
            events = decode(blob)
            out = pipeline.process(events)  # alert changes and dead letters were committed with the batch
            committed.dirty |= out.touched
            committed.journaled += len(events)
            committed.closed += out.closed
            committed.seen_ids += accepted_ids(events, {late.position for late in out.late})
        return committed

    def _recover(self) -> None:
        """Memory from the committed state; on a :class:`StorageError` it stays due, and is
        tried again before the next batch or move."""
        committed = self.committed()
        self.database.stage(committed.closed, committed.seen_ids)  # staged, perhaps written already
        self.early_warning.drain()  # replayed detection is not new work for the counters
        self.pipeline, self._seq = committed.pipeline, committed.seq
        self._dirty, self._journaled = committed.dirty, committed.journaled
        self._checkpointed_at = time.monotonic()
        self._needs_recovery = False
        self.metrics.series.set(len(self.pipeline.series))

    def _recover_if_needed(self) -> None:
        if self._needs_recovery:
            self._recover()

    def _failed(self, exc: BaseException) -> None:
        """Memory may be ahead of the database: rebuild it from what was committed."""
        if isinstance(exc, StorageError):
            self.metrics.storage_errors.inc()
        self._needs_recovery = True
        try:
            self._recover()
        except StorageError:
            pass  # the database is down: recovered before the next batch instead

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
