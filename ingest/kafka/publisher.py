"""HTTP ingest with ``ingest_mode = "kafka"``: validate, then publish to the workers' topic.

The API tier then scales apart from the worker tier. Each valid event goes to the first of
``kafka_topics`` keyed by its entity (so one entity's events stay in order in one
partition); the answer comes once the broker has acknowledged every one of them
(``acks=all``): an accepted event is durable in Kafka. Invalid events are answered as in
the embedded mode; repeats of an id and late events are the workers' business (they are
dropped and dead-lettered there), so ``duplicates`` is always empty here.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.intake import sort_batch
from ingest.kafka.config import producer_options
from ingest.live import Receipt
from ingest.validate import Validator
from warning.errors import StorageError
from warning.metrics import Metrics
from warning.settings import Settings

SEND_TIMEOUT_SECONDS = 10.0


class BrokerUnavailable(StorageError):
    """The brokers did not take the batch (503: nothing of it is to be relied on, retry it)."""


class KafkaPublisher:
    def __init__(self, settings: Settings, metrics: Metrics, producer: Any = None) -> None:
        self.topic = settings.kafka_topics[0]
        self.metrics = metrics
        self.validator = Validator(settings)
        self._producer = producer
        self._settings = settings
        self._lock = threading.Lock()

    @property
    def producer(self) -> Any:
        """Connected on first use, so the service starts (and answers /healthz) while the brokers are down."""
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(**producer_options(self._settings, linger_ms=1))
                except KafkaError as exc:
                    raise BrokerUnavailable(f"cannot reach the Kafka brokers: {exc}") from exc
            return self._producer

    def submit(self, records: Sequence[tuple[str, Any]], source: str = "http") -> Receipt:
        batch = sort_batch(records, self.validator)
        producer = self.producer
        try:
            futures = [producer.send(self.topic, key=event.entity.encode(), value=orjson.dumps(records[position][1]))
                       for event, position in zip(batch.events, batch.positions)]
            producer.flush(timeout=SEND_TIMEOUT_SECONDS)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT_SECONDS)
        except KafkaError as exc:
            self.metrics.storage_errors.inc()
            raise BrokerUnavailable(f"the Kafka brokers did not take the batch: {exc.__class__.__name__}: {exc}") \
                from exc
        self.metrics.events.labels(source, "accepted").inc(len(batch.events))
        self.metrics.events.labels(source, "invalid").inc(len(batch.rejected))
        return Receipt(accepted=len(batch.events), rejected=list(batch.rejected))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


def start_publisher(settings: Settings, metrics: Metrics) -> KafkaPublisher | None:
    """The publisher when ``ingest_mode`` is ``kafka``; None for the embedded default."""
    return KafkaPublisher(settings, metrics) if settings.ingest_mode == "kafka" else None
