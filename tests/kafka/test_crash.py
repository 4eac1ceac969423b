"""``tocsin worker`` killed with SIGKILL mid-stream and started again: same alerts, no notice twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.kafka.conftest import Broker, RunningWorker, caught_up, checkpointed, wait_until
from tests.kafka.test_worker import notices, replayed, stored
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade

TOCSIN = Path(sys.executable).parent / "tocsin"


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "TOCSIN_DATABASE_URL": settings.sqlalchemy_url, "TOCSIN_DATA_DIR": str(settings.data_dir),
           "TOCSIN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "TOCSIN_KAFKA_TOPICS": ",".join(settings.kafka_topics),
           "TOCSIN_KAFKA_GROUP": settings.kafka_group, "TOCSIN_KAFKA_DEAD_LETTER_TOPIC": settings.kafka_dead_letter_topic,
           "TOCSIN_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
           "TOCSIN_KAFKA_CHECKPOINT_SECONDS": str(settings.kafka_checkpoint_seconds)}
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([str(TOCSIN), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_stream_resumes_to_the_alerts_and_notices_of_an_uninterrupted_run(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker],
        alarm_slice: list[dict[str, Any]], tmp_path: Path) -> None:
    topic = broker.topic(6)
    settings = kafka_settings(topic, database_url=f"sqlite:///{tmp_path / 'killed.db'}")
    half, rest = len(alarm_slice) // 2, len(alarm_slice) * 3 // 4
    ends = broker.produce(topic, alarm_slice[:half])
    log = tmp_path / "worker.log"
    upgrade(settings.sqlalchemy_url)
    database = Database(settings)
    worker = start_worker(settings, log)
    try:
        wait_until(caught_up(database, topic, ends), 60, "the worker to take the first half")
        first_half = sum(ends.values())
        ends = {**ends, **broker.produce(topic, alarm_slice[half:rest])}
        # Killed as soon as the first checkpoint of the third quarter is committed: mid-stream,
        # and the last quarter is produced only after the kill (a fast worker would otherwise
        # have taken everything before the kill arrived).
        wait_until(lambda: sum(o or 0 for o in checkpointed(database, topic).values()) > first_half, 30,
                   "a checkpoint into the second half")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        ends = {**ends, **broker.produce(topic, alarm_slice[rest:])}  # end offsets of every partition
        worker = start_worker(settings, log)
        wait_until(caught_up(database, topic, ends), 60, "the restarted worker to take the rest")
    finally:
        worker.terminate()
        worker.wait(20)
    uninterrupted = workers(kafka_settings(topic, database_url=f"sqlite:///{tmp_path / 'whole.db'}"))
    wait_until(caught_up(uninterrupted.database, topic, ends), 60, "the uninterrupted worker")

    assert stored(database) == replayed(alarm_slice, settings) == stored(uninterrupted.database)
    assert notices(database) == notices(uninterrupted.database)
    assert len(notices(database)) > 0
    database.engine.dispose()
