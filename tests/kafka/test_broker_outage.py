"""The broker frozen (SIGSTOP) for 30 s mid-stream, then resumed: the worker reconnects, loses nothing."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.kafka.conftest import Broker, RunningWorker, caught_up, wait_until
from tests.kafka.test_worker import replayed, stored
from warning.settings import Settings

OUTAGE_SECONDS = 30


def test_a_broker_frozen_for_30_seconds_mid_stream_loses_no_alert(
        broker: Broker, kafka_settings: Callable[..., Settings], workers: Callable[[Settings], RunningWorker],
        alarm_slice: list[dict[str, Any]]) -> None:
    topic = broker.topic(6)
    settings = kafka_settings(topic)
    half = len(alarm_slice) // 2
    ends = broker.produce(topic, alarm_slice[:half])
    running = workers(settings)
    wait_until(lambda: bool(running.worker.partitions), 30, "the worker to join")

    broker.freeze()
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:
        broker.thaw()
    ends = broker.produce(topic, alarm_slice[half:])
    wait_until(caught_up(running.database, topic, ends), 90, "the worker to catch up after the outage")

    assert stored(running.database) == replayed(alarm_slice, settings)
