"""Operators' moves reach the Kafka workers (:mod:`ingest.kafka.moves`).

The operator here is the API process of Kafka mode: :mod:`warning.response` run through an
:class:`ApiOperator`, whose pipeline holds no series, so a move changes the database only
and the worker owning the series must follow. The alerts come from ``tests.api.support``'s
threshold rules: a surge raises one at 10:25, two more buckets over the limit fire again.
"""
from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from ingest.kafka.moves import MovedMeanwhile, Moves, held_alerts
from ingest.kafka.partition import PartitionState
from ingest.kafka.records import Decoder
from ingest.kafka.worker import Worker
from ingest.validate import Validator
from tests.api.support import SIGNALS, T0, alarm, surge
from tests.kafka.conftest import Broker, RunningWorker, caught_up, wait_until
from tests.kafka.test_crash import start_worker
from tests.kafka.test_worker import dead_letters
from warning import response
from warning.alerts import AlertStatus
from warning.events import Event
from warning.metrics import Metrics
from warning.pipeline import Pipeline
from warning.settings import Settings
from warning.storage.checkpoints import CheckpointStore
from warning.storage.database import Database
from warning.storage.migrations import upgrade
from warning.storage.models import KafkaSeriesStateRow
from warning.workflow import Action

RAISED = T0.timestamp() + 25 * 60


@dataclass
class ApiOperator:
    """The API process in Kafka mode: moves are stored; its pipeline holds no series."""

    settings: Settings
    database: Database
    metrics: Metrics = field(default_factory=Metrics)

    def operate(self, work: Callable[[Pipeline], response.Operation]) -> None:
        op = work(Pipeline(self.settings))
        assert not op.touched
        if op.write is not None:
            self.database.record(extra=op.write)


def move(ops: ApiOperator, alert_id: str, action: Action, minutes: float = 5) -> int:
    """The move, ``minutes`` after the alert was raised; the version it made."""
    return response.move(ops, alert_id=alert_id, action=action, actor="Duty desk", comment=None,
                         now=RAISED + minutes * 60).alert.version


def refire(entity: str, start: float = 40) -> list[dict[str, Any]]:
    """Two more buckets over the limit (10:40, 10:45 by default), closed by the 10:55 event."""
    return [alarm(m, v, entity=entity, id=f"again-{entity}-{m}")
            for m, v in ((start, 20), (start + 5, 20), (start + 10, 2), (start + 15, 2))]


def alerts_of(database: Database) -> dict[str, list[tuple[str, str, str]]]:
    """Per entity, oldest first: (id, status, raised_at)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for a in database.all_alerts():
        j = a.to_json()
        out.setdefault(a.entity, []).append((a.id, j["status"], j["raised_at"]))
    return out


def holds(worker: Worker, alert_id: str, status: AlertStatus | None = None) -> bool:
    """Does one of the worker's partitions hold the alert (in ``status``, if given)?"""
    with worker.lock:
        for state in worker.partitions.values():
            for series in state.pipeline.series.values():
                for track in (*series.tracks, series.watch_track):
                    alert = None if track is None else track.alert
                    if alert is not None and alert.id == alert_id and status in (None, alert.status):
                        return True
    return False


def test_a_resolved_alert_stays_resolved_and_the_next_surge_raises_a_new_one(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker]) -> None:
    topic = broker.topic(2)
    settings = kafka_settings(topic, signals=SIGNALS)
    running = workers(settings)
    ends = broker.produce(topic, surge("policy-system") + surge("billing"))
    wait_until(caught_up(running.database, topic, ends), 30, "the surges")
    raised = alerts_of(running.database)
    [(resolved, _, _)], [(acknowledged, _, _)] = raised["policy-system"], raised["billing"]

    ops = ApiOperator(settings, running.database)
    resolved_version = move(ops, resolved, Action.resolve)
    acknowledged_version = move(ops, acknowledged, Action.acknowledge)
    wait_until(lambda: not holds(running.worker, resolved) and holds(running.worker, acknowledged,
                                                                    AlertStatus.acknowledged), 10,
               "the worker to follow the moves")
    ends = broker.produce(topic, refire("policy-system") + refire("billing"))
    wait_until(caught_up(running.database, topic, ends), 30, "the second surges")

    after = alerts_of(running.database)
    new = [a for a in after["policy-system"] if a[0] != resolved]
    assert sorted(after["policy-system"]) == sorted([(resolved, "resolved", "2026-11-20T10:25:00Z"),
                                                     (new[0][0], "open", "2026-11-20T10:50:00Z")])
    assert response.get_alert(running.database, alert_id=resolved).version == resolved_version  # detection left it alone
    # The acknowledged alert fired again: the same alert, still acknowledged, its versions after the move.
    billing = response.get_alert(running.database, alert_id=acknowledged)
    assert after["billing"] == [(acknowledged, "acknowledged", "2026-11-20T10:25:00Z")]
    assert billing.version > acknowledged_version and billing.last_seen_at == T0.timestamp() + 50 * 60
    history = [(h["version"], h["reason"], h["status"]) for h in running.database.alert_history(acknowledged)]
    assert history[:3] == [(1, "raised", "open"), (2, "updated", "open"),
                           (3, "operator.acknowledge", "acknowledged")]
    assert {status for _, _, status in history[3:]} == {"acknowledged"} and len(history) > 3


def test_a_move_the_killed_worker_never_checkpointed_is_applied_by_the_next_one(
        broker: Broker, kafka_settings: Callable[..., Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = broker.topic(1)
    config = tmp_path / "tocsin.toml"
    config.write_text('[signals.alarms]\ndetectors = [{kind = "threshold", limit = 10, for_buckets = 2}]\n')
    monkeypatch.setenv("TOCSIN_CONFIG", str(config))
    settings = kafka_settings(topic, signals=SIGNALS)
    upgrade(settings.sqlalchemy_url)
    database = Database(settings)
    log = tmp_path / "worker.log"
    ends = broker.produce(topic, surge())
    worker = start_worker(settings, log)
    try:
        wait_until(caught_up(database, topic, ends), 60, "the surge")
        [first] = database.all_alerts()
        move(ApiOperator(settings, database), first.id, Action.resolve)
        time.sleep(1.5)  # the worker has read the move (within a second), and has nothing to checkpoint
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        # The checkpoint still holds the alert open: the restarted worker must read the move again.
        with database.engine.connect() as conn:
            [state] = conn.execute(select(KafkaSeriesStateRow.state).where(
                KafkaSeriesStateRow.topic == topic, KafkaSeriesStateRow.entity == "policy-system")).scalars()
        assert first.id.encode() in state
        ends = broker.produce(topic, refire("policy-system"))
        worker = start_worker(settings, log)
        wait_until(caught_up(database, topic, ends), 60, "the restarted worker")
    finally:
        worker.terminate()
        worker.wait(20)

    alerts = sorted(database.all_alerts(), key=lambda a: a.raised_at)
    assert [(a.id == first.id, a.status.value, a.raised_at - T0.timestamp()) for a in alerts] == [
        (True, "resolved", 25 * 60), (False, "open", 50 * 60)]
    database.engine.dispose()


def test_a_bucket_sum_the_database_would_refuse_is_dead_lettered_at_validation(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker]) -> None:
    """Two valid 1e308 alarms would sum to infinity, which PostgreSQL refuses in an alert's
    evidence: every commit of the worker would fail. Values of unscaled signals are bounded."""
    topic = broker.topic(1)
    settings = kafka_settings(topic, signals=SIGNALS)
    huge = [alarm(16, 1e308, id="huge-1"), alarm(17, 1e308, id="huge-2")]
    events = surge()
    ends = broker.produce(topic, events[:4] + huge + events[4:])
    running = workers(settings)
    wait_until(caught_up(running.database, topic, ends), 30, "the worker past the huge values")

    letters = dead_letters(broker, settings.kafka_dead_letter_topic, 2)
    assert [h["tocsin.reason"] for h, _ in letters] == ["value 1e+308 is outside the alarms scale [0, 1e+15]"] * 2
    assert [orjson.loads(value)["id"] for _, value in letters] == ["huge-1", "huge-2"]
    assert [a.status for a in running.database.all_alerts()] == [AlertStatus.open]


# -- without a broker: a partition's state, the operator and the commit --------------------------


@pytest.fixture
def partition(database: Database, make_settings: Callable[..., Settings]) -> PartitionState:
    """Partition 0 of topic ``t``, claimed, whose surge raised an alert (committed, version 2)."""
    settings = make_settings(signals=SIGNALS)
    state = PartitionState(CheckpointStore(database).claim("t", 0), settings, Validator(settings),
                           Decoder(settings.max_event_bytes, settings.max_body_bytes))
    process(state, surge())
    database.record(changes=state.changes)
    state.changes.clear()
    return state


def process(state: PartitionState, events: list[dict[str, Any]]) -> None:
    """As :meth:`PartitionState.take` does with the records' events."""
    checked = [state.validator.check(e) for e in events]
    out = state.pipeline.process([e for e in checked if isinstance(e, Event)])
    state.changes.extend(out.changes)
    state.touched |= out.touched


def test_uncommitted_changes_are_renumbered_after_an_acknowledgement(database: Database,
                                                                     partition: PartitionState) -> None:
    [alert_id] = held_alerts(partition.pipeline)
    process(partition, refire("policy-system"))  # cleared, then refired: versions 3 and 4, not committed
    assert [c.alert.version for c in partition.changes] == [3, 4]
    ops = ApiOperator(partition.pipeline.settings, database)
    acknowledged = move(ops, alert_id, Action.acknowledge)  # version 3 in the database

    Moves(database).catch_up([partition])
    assert [(c.alert.version, c.alert.status) for c in partition.changes] == [
        (acknowledged + 1, AlertStatus.acknowledged), (acknowledged + 2, AlertStatus.acknowledged)]
    assert held_alerts(partition.pipeline) == {alert_id: ("alarms", "policy-system")}
    database.record(changes=partition.changes, extra=Moves(database).guard(partition.changes))

    history = [(h["version"], h["reason"], h["status"]) for h in database.alert_history(alert_id)]
    assert history[2:] == [(3, "operator.acknowledge", "acknowledged"), (4, "cleared", "acknowledged"),
                           (5, "refired", "acknowledged")]
    assert response.get_alert(database, alert_id=alert_id).status is AlertStatus.acknowledged


def test_a_resolve_drops_the_uncommitted_changes_and_the_alert_from_its_track(
        database: Database, partition: PartitionState) -> None:
    [alert_id] = held_alerts(partition.pipeline)
    process(partition, refire("policy-system"))
    resolved = move(ApiOperator(partition.pipeline.settings, database), alert_id, Action.resolve)

    Moves(database).catch_up([partition])

    assert partition.changes == [] and held_alerts(partition.pipeline) == {}
    assert ("alarms", "policy-system") in partition.touched  # in the next checkpoint
    process(partition, refire("policy-system", start=60))
    assert [(c.reason.value, c.alert.id != alert_id) for c in partition.changes] == [("raised", True)]
    assert response.get_alert(database, alert_id=alert_id).version == resolved


def test_a_move_landing_during_the_commit_rolls_it_back_and_is_applied_before_the_retry(
        database: Database, partition: PartitionState) -> None:
    [alert_id] = held_alerts(partition.pipeline)
    moves = Moves(database)
    process(partition, refire("policy-system"))
    moves.catch_up([partition])  # nothing moved yet
    acknowledged = move(ApiOperator(partition.pipeline.settings, database), alert_id, Action.acknowledge)

    with pytest.raises(MovedMeanwhile):
        database.record(changes=partition.changes, extra=moves.guard(partition.changes))
    assert [h["reason"] for h in database.alert_history(alert_id)][2:] == ["operator.acknowledge"]  # rolled back

    moves.catch_up([partition])  # not throttled after a refused commit
    database.record(changes=partition.changes, extra=moves.guard(partition.changes))
    stored = response.get_alert(database, alert_id=alert_id)
    assert (stored.status, stored.version) == (AlertStatus.acknowledged, acknowledged + 2)


def test_no_query_while_no_alert_is_held(database: Database, make_settings: Callable[..., Settings],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(signals=SIGNALS)
    state = PartitionState(CheckpointStore(database).claim("t", 1), settings, Validator(settings),
                           Decoder(settings.max_event_bytes, settings.max_body_bytes))
    process(state, surge()[:3])  # buckets, no alert
    monkeypatch.setattr(database, "engine", None)  # any query would fail

    Moves(database).catch_up([state], force=True)

