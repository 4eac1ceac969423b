"""The dead-letter topic: every record (or array item) that did not become part of a series.

Each dead letter keeps the source record's key and carries, in headers, why and where
from: ``tocsin.kind`` (``invalid`` or ``late``), ``tocsin.reason``, ``tocsin.source.topic``,
``tocsin.source.partition``, ``tocsin.source.offset``, ``tocsin.source.index`` (the item
of an array) and ``tocsin.value_bytes`` (the original size: values are cut to
``MAX_VALUE_BYTES``, the source offset still points at the whole record).

Dead letters are flushed before the checkpoint that moves past their records is
committed, so none is lost; a crash between the two sends them again when the records
are replayed (at least once: deduplicate on the source topic, partition, offset, index).
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from ingest.kafka.records import Poison, poison_value

log = logging.getLogger(__name__)
MAX_VALUE_BYTES = 64 * 1024


class Producer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...


class DeadLetters:
    def __init__(self, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.unflushed = 0
        self.failed = 0  # sends the broker refused for good (counted, logged)

    def send(self, poison: Poison) -> None:
        record = poison.record
        value, size = poison_value(poison, MAX_VALUE_BYTES)
        headers = [
            ("tocsin.kind", poison.kind.encode()),
            ("tocsin.reason", poison.reason.encode("utf-8", errors="replace")[:4096]),
            ("tocsin.source.topic", record.topic.encode()),
            ("tocsin.source.partition", str(record.partition).encode()),
            ("tocsin.source.offset", str(record.offset).encode()),
            ("tocsin.value_bytes", str(size).encode()),
        ]
        if poison.index is not None:
            headers.append(("tocsin.source.index", str(poison.index).encode()))
        future = self.producer.send(self.topic, value=value, key=record.key, headers=headers)
        future.add_errback(self._failed, record.topic, record.partition, record.offset)
        self.unflushed += 1

    def _failed(self, exc: BaseException, topic: str, partition: int, offset: int) -> None:
        self.failed += 1
        log.error("dead letter for %s/%d@%d not stored: %s", topic, partition, offset, exc)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every dead letter sent so far is stored (raises KafkaTimeoutError otherwise)."""
        if self.unflushed:
            self.producer.flush(timeout=timeout)
            self.unflushed = 0
