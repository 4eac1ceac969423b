"""Operators' moves reach the worker whose partition holds the alert.

In Kafka mode an operator's move (acknowledge, respond, resolve, review:
:mod:`warning.response`) is made by the API process, whose pipeline holds no series: it
changes the stored alert only. The worker holding the alert's series must follow, or its
alert track keeps the alert as it was: the next firing would update an alert an operator
resolved instead of raising a new one, detection would resolve an acknowledged alert,
and the worker's next versions would race the operator's.

Decision: the worker compares what it holds with the database before each commit (reading
at most once a second) and when it claims a partition. It asks for the stored status of the
alerts its partitions hold open and of those its uncommitted changes touch
(:func:`warning.storage.workflow.moved_alerts`: primary-key lookups, and no query at all
while it holds none), and where the stored status is not the one it holds, it applies it
with :meth:`warning.pipeline.Pipeline.move_alert`, as the embedded mode does under its
lock. The series then goes into the partition's next checkpoint. Why a comparison: the
API must check and store a move at once (a refused one is a 409), so a topic of moves
would be a second copy to keep in step; and following ``alert_moves`` by id needs a
cursor in the checkpoint, which skips a move PostgreSQL commits out of id order. A
comparison keeps no state at all. A claimed partition restores its checkpoint and compares again, so a move
made after that checkpoint (during a rebalance, or before a crash that lost the worker's
memory of it) is applied again; applying one twice changes nothing.

Versions: the stored alert keeps the newest version (detection's upsert never lowers it
nor changes an operator's status), and the operator moved from the newest stored one.
A held alert adopts the operator's status and version; the changes the worker made to it
since its last commit are renumbered after the operator's version, with its status, or
dropped when the operator closed the alert (the rule's next firing raises a new alert,
as in the embedded mode). A move that lands between the comparison and the commit is
caught inside the commit's transaction (:meth:`Moves.guard`), after the alert writes
have locked the rows: the transaction rolls back and the commit is made again after
another comparison. What a move cannot undo: buckets a worker closed before it learned
of the move (within a commit interval) counted for the alert as it knew it then.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from warning.alerts import Alert, AlertChange, AlertStatus
from warning.errors import StorageError
from warning.pipeline import Pipeline, SeriesKey
from warning.storage.database import Database, translated
from warning.storage.workflow import moved_alerts

if TYPE_CHECKING:
    from ingest.kafka.partition import PartitionState

log = logging.getLogger(__name__)

CLOSED = frozenset({AlertStatus.resolved, AlertStatus.reviewed})
EVERY_SECONDS = 1.0


class MovedMeanwhile(StorageError):
    """An operator moved alerts this commit writes after the worker last compared: roll back."""

    def __init__(self, alert_ids: Sequence[str]) -> None:
        super().__init__(f"alerts {sorted(alert_ids)} were moved by an operator during the commit")


def held_alerts(pipeline: Pipeline) -> dict[str, SeriesKey]:
    """The alerts ``pipeline``'s tracks hold (a restored partition's), by id."""
    held = {}
    for key, series in pipeline.series.items():
        for track in (*series.tracks, series.watch_track):
            if track is not None and track.alert is not None:
                held[track.alert.id] = key
    return held


class Moves:
    """Brings the operators' moves into a worker's partitions."""

    def __init__(self, database: Database, every_seconds: float = EVERY_SECONDS) -> None:
        self.database = database
        self.every_seconds = every_seconds
        self.next_at = 0.0

    def catch_up(self, states: Iterable[PartitionState], *, force: bool = False) -> None:
        """Apply the stored status of every alert the partitions hold or are changing, where it
        is not the one they hold. Called before every commit, so that it sees every change;
        it reads at most once per ``every_seconds`` unless ``force``d. A database error is
        logged and left to the commit that follows (and the next call)."""
        states = list(states)
        for state in states:
            _note(state)
        now = time.monotonic()
        if not force and now < self.next_at:
            return
        owners: dict[str, PartitionState] = {}
        for state in states:
            owners.update(dict.fromkeys(state.open_alerts, state))
            owners.update((c.alert.id, state) for c in state.changes)
        if owners:
            try:
                with translated("read the operators' moves"), self.database.engine.connect() as conn:
                    stored = moved_alerts(conn, list(owners))
            except StorageError as exc:
                log.warning("operators' moves not read: %s", exc)
                return
            for alert_id, (status, version) in stored.items():
                _follow(owners[alert_id], alert_id, status, version)
        self.next_at = now + self.every_seconds

    def guard(self, changes: Sequence[AlertChange]) -> Callable[[Connection], None] | None:
        """For the commit's transaction (``Database.record(extra=...)``), after its alert writes:
        raises :class:`MovedMeanwhile` when a stored status is not the one written, i.e. an
        operator's move committed after :meth:`catch_up` read. The alert upsert has locked the
        rows (PostgreSQL; SQLite has one writer), so no move can land after this check."""
        if not changes:
            return None
        written = {c.alert.id: c.alert.status for c in changes}

        def check(conn: Connection) -> None:
            moved = [i for i, (status, _) in moved_alerts(conn, list(written)).items() if status is not written[i]]
            if moved:
                self.next_at = 0.0  # compare again before the commit is retried
                raise MovedMeanwhile(moved)

        return check


def _note(state: PartitionState) -> None:
    """Fold the uncommitted changes into the partition's open alerts (again after a failed
    commit: the same result)."""
    for change in state.changes:
        alert = change.alert
        if alert.status in CLOSED:
            state.open_alerts.pop(alert.id, None)
        else:
            state.open_alerts[alert.id] = (alert.signal, alert.entity)


def _follow(state: PartitionState, alert_id: str, status: AlertStatus, version: int) -> None:
    """Make the partition hold the alert as stored, ``status`` at ``version``, if it does not."""
    pending = [i for i, c in enumerate(state.changes) if c.alert.id == alert_id]
    key = state.open_alerts.get(alert_id)
    held = None if key is None else _held(state.pipeline, key, alert_id)
    latest = state.changes[pending[-1]].alert if pending else held
    if latest is None:
        state.open_alerts.pop(alert_id, None)  # no longer held
        return
    if latest.status is status:
        return
    if status in CLOSED or held is None:
        # Closed by an operator; or moved while detection was resolving it, which detection
        # never does to a moved alert: the operator's version stands, detection's is dropped.
        state.changes[:] = [c for c in state.changes if c.alert.id != alert_id]
        state.open_alerts.pop(alert_id, None)
        if held is not None:
            state.pipeline.move_alert(replace(held, status=status))
    else:
        # Everything the worker wrote before is committed and older than the operator's version.
        for n, i in enumerate(pending, 1):
            change = state.changes[i]
            state.changes[i] = replace(change, alert=replace(change.alert, status=status, version=version + n))
        state.pipeline.move_alert(replace(held, status=status, version=version + len(pending)))
    if key is not None:
        state.touched.add(key)


def _held(pipeline: Pipeline, key: SeriesKey, alert_id: str) -> Alert | None:
    series = pipeline.series.get(key)
    if series is None:
        return None
    for track in (*series.tracks, series.watch_track):
        if track is not None and track.alert is not None and track.alert.id == alert_id:
            return track.alert
    return None
