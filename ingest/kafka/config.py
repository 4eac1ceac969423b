"""kafka-python clients as the worker and the publisher use them, built from the settings.

Group timing: the session timeout is ``kafka_session_timeout_ms`` (default 10 s) and
heartbeats go every third of it, as Kafka recommends. Production brokers: keep 10-45 s
(a shorter session makes a long GC pause or a slow commit look like a dead worker). The
Tansu build the tests use holds each group join until half the session timeout has
passed (23 s with kafka-python's 45 s default), so the tests use 2 s: a join in about 1 s.

Install kafka-python with its ``crc32c`` extra: without it, checking each record batch's
CRC-32C in pure Python makes parsing several times slower.
"""
from __future__ import annotations

import os
from typing import Any

from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from ingest.kafka.fetched import LeanPartitionRecords
from warning.settings import Settings

# Records handed to the pipeline per poll: big enough to amortise a poll (~100 us), small
# enough that a poll's events stay in the CPU cache and memory stays bounded.
MAX_POLL_RECORDS = 5000


def worker_consumer(settings: Settings) -> KafkaConsumer:
    """The worker's consumer, reading fetched records with :class:`LeanPartitionRecords`."""
    built = KafkaConsumer(**consumer_options(settings))
    built._fetcher.PartitionRecords = LeanPartitionRecords  # kafka-python's fetcher builds them from this
    return built


def consumer_options(settings: Settings) -> dict[str, Any]:
    session = settings.kafka_session_timeout_ms
    return {
        "bootstrap_servers": _servers(settings),
        "group_id": settings.kafka_group,
        "client_id": f"tocsin-worker-{os.getpid()}",
        # Offsets come from the checkpoints (the worker seeks on every assignment); Kafka's
        # committed offsets follow them, for lag tools only.
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": session,
        "heartbeat_interval_ms": max(100, session // 3),
        "max_poll_records": MAX_POLL_RECORDS,
        # Bounded memory: at most this much fetched and not yet handed to the pipeline.
        "fetch_max_bytes": 16 * 1024 * 1024,
        "max_partition_fetch_bytes": 2 * 1024 * 1024,
        "reconnect_backoff_max_ms": 2000,
        # Eager assignors: every rebalance revokes every partition and assigns anew, so each
        # assignment is restored and sought from its checkpoint (cooperative ones keep
        # partitions without a callback, which this design does not need).
        "partition_assignment_strategy": (RangePartitionAssignor, RoundRobinPartitionAssignor),
    }


def producer_options(settings: Settings, *, linger_ms: int = 5) -> dict[str, Any]:
    return {
        "bootstrap_servers": _servers(settings),
        "client_id": f"tocsin-{os.getpid()}",
        "acks": "all",  # an accepted event or a dead letter survives the loss of a broker
        "linger_ms": linger_ms,
        "batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
        "reconnect_backoff_max_ms": 2000,
    }


def _servers(settings: Settings) -> list[str]:
    return [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
