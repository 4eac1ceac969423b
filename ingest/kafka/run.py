"""The ``tocsin worker`` process: migrate, start the health endpoint, run until SIGTERM/SIGINT."""
from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

from kafka.errors import KafkaError

from ingest.kafka.health import serve
from ingest.kafka.worker import Worker
from warning.errors import StorageError
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade

log = logging.getLogger(__name__)
GC_GENERATION0_THRESHOLD = 20_000  # as for `tocsin serve` (api/app.py): batches make short-lived garbage


def run_worker(settings: Settings, *, metrics_host: str = "127.0.0.1", metrics_port: int | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GENERATION0_THRESHOLD), gen1, gen2)
    upgrade(settings.sqlalchemy_url)
    database = Database(settings)
    metrics = Metrics()
    try:
        worker = Worker(settings, database, metrics)
    except KafkaError as exc:
        raise StorageError(f"cannot reach the Kafka brokers at {settings.kafka_bootstrap}: {exc}") from exc
    server = None
    if metrics_port is not None:
        server = serve(metrics_host, metrics_port, worker.readiness, metrics)

    def stop(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker joining group %r on %s", settings.kafka_group, ", ".join(settings.kafka_topics))
    try:
        worker.run()
    finally:
        if server is not None:
            server.shutdown()
        database.engine.dispose()
    return 0
