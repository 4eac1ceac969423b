"""``tocsin worker``: a member of the consumer group, running the detection core per partition.

The loop: poll -> each partition's records through its own pipeline -> every
``kafka_checkpoint_seconds`` (or at once, when an alert change sends a notice) one
database transaction with the alert changes, notices and closed buckets of every
partition and their checkpoints -> only then the offsets to Kafka. The checkpoints'
offsets are the truth: an assigned partition is restored from its checkpoint and sought
to its offset (:mod:`warning.storage.checkpoints`), so a worker killed at any moment
loses nothing and, replaying from there, writes exactly the alert changes and notices of
an uninterrupted run (same ids, idempotent writes).

Rebalances: kafka-python calls the listener on its IO thread. Revocation commits what
the worker holds and drops it; assignment only pauses the partitions and queues them,
and the loop claims them (restore, seek, resume), so no database work blocks heartbeats
except the final commit of a revocation. A lock orders the callbacks with the loop, which
never holds it while calling the consumer (whose IO thread runs the callbacks).

Backpressure: the loop is synchronous, so a slow database slows consumption; while commits
fail or too many events wait uncommitted, or while the notices outbox has more due
notices than it can send, every partition is paused (still polling, so the worker keeps
its membership). Memory stays bounded by the fetch limits and ``max_pending_events``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ingest.kafka.config import producer_options, worker_consumer
from ingest.kafka.deadletters import DeadLetters
from ingest.kafka.health import Readiness, WorkerMetrics
from ingest.kafka.moves import MovedMeanwhile, Moves
from ingest.kafka.partition import PartitionState
from ingest.kafka.records import Decoder
from ingest.validate import Validator
from warning.errors import StorageError
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.checkpoints import CheckpointStore, Fenced
from warning.storage.database import Database, translated, utc
from warning.storage.models import NoticeRow
from warning.storage.notices import PENDING, scheduler

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 10_000  # due notices not sent yet, beyond which consumption pauses
OUTBOX_CHECK_SECONDS = 5.0


class Worker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        metrics: Metrics,
        *,
        max_pending_events: int = 500_000,
        consumer: Any = None,
        producer: Any = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = CheckpointStore(database)
        self.moves = Moves(database)
        self.metrics = WorkerMetrics(metrics)
        self.validator = Validator(settings)
        self.decoder = Decoder(settings.max_event_bytes, settings.max_body_bytes)
        self.max_pending_events = max_pending_events
        self.readiness = Readiness(stale_after=max(30.0, 10 * settings.kafka_checkpoint_seconds))
        self.consumer = consumer or worker_consumer(settings)
        self.dead_letters = DeadLetters(producer or KafkaProducer(**producer_options(settings)),
                                        settings.kafka_dead_letter_topic)
        self.partitions: dict[TopicPartition, PartitionState] = {}
        self.unclaimed: set[TopicPartition] = set()
        self.lock = threading.Lock()
        self.generation = 0  # bumped by every rebalance callback: a poll across one is discarded
        self.stopping = threading.Event()
        self.pending_events = 0
        self.last_commit = time.monotonic()
        self.committed_at: dict[TopicPartition, float] = {}
        self.retry_at = 0.0  # after a failed commit, when to try again
        self.failures = 0
        self.outbox_full = False
        self.outbox_checked = float("-inf")
        self.paused = False

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until :meth:`stop`, then commit and leave the group."""
        self.consumer.subscribe(list(self.settings.kafka_topics), listener=_Listener(self))
        try:
            while not self.stopping.is_set():
                self.step()
        finally:
            self.close()

    def stop(self) -> None:
        self.stopping.set()

    def step(self, poll_ms: int = 100) -> None:
        """One round: claim new partitions, poll, process, commit when due."""
        self._claim_new()
        self._apply_backpressure()
        generation = self.generation
        batch = self.consumer.poll(timeout_ms=poll_ms)
        offsets: dict[TopicPartition, int] | None = None
        with self.lock:
            if generation == self.generation:  # else a rebalance happened: sought anew, refetched
                for tp, records in batch.items():
                    state = self.partitions.get(tp)
                    if state is not None:
                        self._take(state, records)
            if self._commit_due():
                offsets = self._commit()
        if offsets:
            self._commit_kafka(offsets)
        self._observe()

    def close(self) -> None:
        with self.lock:
            self._commit()
        try:
            self.consumer.close()  # revokes (commits nothing new) and leaves the group at once
        finally:
            self.dead_letters.producer.close()  # type: ignore[attr-defined]

    # -- partitions -----------------------------------------------------------------------

    def revoked(self, partitions: Any) -> None:
        """Listener: commit what is held, then give the partitions up."""
        with self.lock:
            self.generation += 1
            self._commit()
            for tp in partitions:
                self._drop(tp)
            self.readiness.in_group = False

    def lost(self, partitions: Any) -> None:
        """Listener: evicted from the group; the state is dropped (the next owner replays it)."""
        with self.lock:
            self.generation += 1
            for tp in partitions:
                self._drop(tp)
            self.readiness.in_group = False

    def assigned(self, partitions: Any) -> None:
        """Listener: queue the partitions, paused until the loop has claimed them."""
        with self.lock:
            self.generation += 1
            self.unclaimed |= set(partitions)
            self.metrics.rebalances.inc()
            self.readiness.in_group = True
        if partitions:
            self.consumer.pause(*partitions)

    def _claim_new(self) -> None:
        if not self.unclaimed:
            return
        with self.lock:
            queued = sorted(self.unclaimed, key=lambda tp: (tp.topic, tp.partition))
        for tp in queued:
            try:
                claim = self.store.claim(tp.topic, tp.partition)
            except StorageError as exc:
                self.readiness.problem = f"cannot restore partitions: {exc}"
                log.warning("partition %s/%d not restored yet: %s", tp.topic, tp.partition, exc)
                return
            with self.lock:
                if tp not in self.unclaimed:
                    continue  # revoked meanwhile
                self.unclaimed.discard(tp)
                self.partitions[tp] = PartitionState(claim, self.settings, self.validator, self.decoder)
                self.moves.catch_up([self.partitions[tp]], force=True)  # moves made since its checkpoint
                self.committed_at[tp] = time.monotonic()
                self.generation += 1
            if claim.next_offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, claim.next_offset)
            if not self.paused:
                self.consumer.resume(tp)
            log.info("partition %s/%d restored: %d series, from offset %s (epoch %d)", tp.topic, tp.partition,
                     len(claim.states), claim.next_offset, claim.epoch)
        self.readiness.partitions = len(self.partitions)

    def _drop(self, tp: TopicPartition) -> None:
        state = self.partitions.pop(tp, None)
        self.unclaimed.discard(tp)
        self.committed_at.pop(tp, None)
        if state is not None:
            self.pending_events -= state.pending_events
            self.metrics.forget(tp.topic, tp.partition)
        self.readiness.partitions = len(self.partitions)

    # -- processing and commits (under the lock) -------------------------------------------

    def _take(self, state: PartitionState, records: Any) -> None:
        taken = state.take(records)
        for poison in taken.poison:
            self.dead_letters.send(poison)
            self.metrics.dead_letters.labels(poison.kind).inc()
        events = self.metrics.shared.events
        events.labels("kafka", "accepted").inc(taken.accepted)
        events.labels("kafka", "duplicate").inc(taken.duplicates)
        late = sum(1 for p in taken.poison if p.kind == "late")
        events.labels("kafka", "late").inc(late)
        events.labels("kafka", "invalid").inc(len(taken.poison) - late)
        state.pending_events += taken.accepted
        self.pending_events += taken.accepted

    def _commit_due(self) -> bool:
        """Every ``kafka_checkpoint_seconds``; at once for an alert change that sends a notice
        (raised, cleared, ...: rare, and what end-to-end latency is about) or a full buffer."""
        now = time.monotonic()
        if now < self.retry_at:
            return False
        if self.pending_events >= self.max_pending_events:
            return True
        if now - self.last_commit >= self.settings.kafka_checkpoint_seconds:
            return True
        return any(state.notifying for state in self.partitions.values())

    def _commit(self) -> dict[TopicPartition, int] | None:
        """Commit every partition with uncommitted work; the offsets to tell Kafka, or None on failure."""
        started = time.monotonic()
        elapsed = started - self.last_commit
        for _ in range(2):  # once more without the partitions another worker took, or after a move
            self.moves.catch_up(self.partitions.values())
            dirty = [(tp, s) for tp, s in self.partitions.items() if s.dirty]
            if not dirty:
                self._committed(started, elapsed, 0)
                return {}
            checkpoints = [s.checkpoint() for _, s in dirty]
            changes = [c for _, s in dirty for c in s.changes]
            try:
                self.dead_letters.flush()
                self.database.record(
                    changes=changes, closed=[c for _, s in dirty for c in s.closed],
                    extra=_both(self.moves.guard(changes), _both(scheduler(changes, self.settings.escalation_hours),
                                                                self.store.writer(checkpoints))))
            except Fenced as exc:
                log.warning("%s: dropping them", exc)
                for tp, _ in dirty:
                    if (tp.topic, tp.partition) in exc.partitions:
                        self._drop(tp)
                continue
            except MovedMeanwhile as exc:
                log.info("%s: committing again", exc)
                continue
            except (StorageError, KafkaError) as exc:
                self._failed(exc)
                return None
            events = sum(s.pending_events for _, s in dirty)
            for (tp, state), checkpoint in zip(dirty, checkpoints):
                state.committed(checkpoint)
                self.committed_at[tp] = started
            self._count_changes(changes)
            self.metrics.commit_seconds.observe(time.monotonic() - started)
            self._committed(started, elapsed, events)
            return {tp: cp.next_offset for (tp, _), cp in zip(dirty, checkpoints)}
        return None

    def _committed(self, started: float, elapsed: float, events: int) -> None:
        if events:
            self.metrics.events_per_second.set(events / max(elapsed, 1e-6))
        self.pending_events = sum(s.pending_events for s in self.partitions.values())
        self.last_commit = started
        self.failures = 0
        self.retry_at = 0.0
        self.readiness.progress()

    def _failed(self, exc: Exception) -> None:
        self.metrics.shared.storage_errors.inc()
        self.failures += 1
        delay = min(5.0, 0.1 * 2 ** self.failures)
        self.retry_at = time.monotonic() + delay
        self.readiness.problem = f"commits failing: {exc}"
        log.warning("checkpoint not committed (retrying in %.1f s): %s", delay, exc)

    def _count_changes(self, changes: Any) -> None:
        m = self.metrics.shared
        for change in changes:
            m.alerts.labels(change.alert.kind, change.reason.value).inc()
            if change.reason == "raised":
                m.alerts_raised.labels(change.alert.kind, change.alert.severity.name).inc()
        m.series.set(sum(len(s.pipeline.series) for s in self.partitions.values()))

    # -- Kafka side effects (without the lock) ---------------------------------------------

    def _commit_kafka(self, offsets: dict[TopicPartition, int]) -> None:
        """Tell Kafka the offsets the checkpoints cover (for lag tools; never relied upon)."""
        try:
            self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except KafkaError as exc:
            log.info("offsets not committed to Kafka (the checkpoints hold them): %s", exc)

    def _apply_backpressure(self) -> None:
        now = time.monotonic()
        if now - self.outbox_checked >= OUTBOX_CHECK_SECONDS:
            self.outbox_checked = now
            try:
                self.outbox_full = due_notices(self.database) > OUTBOX_LIMIT
            except StorageError:
                pass  # the commit reports the database
        behind = self.failures > 0 and self.pending_events >= self.max_pending_events
        pause = behind or self.outbox_full
        if pause != self.paused:
            held = list(self.partitions)
            if pause:
                self.consumer.pause(*held)
                log.warning("consumption paused: %s", "the outbox is behind" if self.outbox_full else
                            "commits are failing")
            else:
                self.consumer.resume(*held)
            self.paused = pause
            self.metrics.paused.set(int(pause))

    def _observe(self) -> None:
        now = time.monotonic()
        for tp, state in list(self.partitions.items()):
            labels = (tp.topic, str(tp.partition))
            self.metrics.checkpoint_age.labels(*labels).set(now - self.committed_at.get(tp, now))
            high = self.consumer.highwater(tp)
            if high is not None and state.position is not None:
                self.metrics.lag.labels(*labels).set(max(0, high - state.position))
        if not self.partitions and not self.failures:
            self.readiness.progress()  # idle members are healthy


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker.revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.assigned(assigned)

    def on_partitions_lost(self, lost: Any) -> None:
        self.worker.lost(lost)


def _both(first: Callable[[Connection], None] | None, second: Callable[[Connection], None]) -> Callable[[Connection], None]:
    def write(conn: Connection) -> None:
        if first is not None:
            first(conn)
        second(conn)

    return write


def due_notices(database: Database) -> int:
    """Notices due now and not sent: how far the outbox is behind."""
    query = select(func.count()).select_from(NoticeRow).where(*PENDING, NoticeRow.due_at <= utc(time.time()))
    with translated("count due notices"), database.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)

