"""``create_app(settings)``: the FastAPI application, assembled from the routers.

The lifespan migrates the database, restores the pipeline, sends the notices that came due
while the service was down, then keeps sending due notices every ``clock_tick_seconds``
on the injected clock (wall time unless a test passes its own).
"""
from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial

import uvicorn
from fastapi import FastAPI

from api import auth, console, errors
from api.routers import alertmanager, alerts, entities, events, health, keys, stream, workflow
from api.routers import console as console_api
from api.routers import crises as crises_api
from api.routers import subscriptions as subscriptions_api
from ingest.kafka.publisher import start_publisher
from ingest.live import LiveIngest
from warning.access import check_open_host
from warning.clock import Clock, WallClock
from warning.errors import TocsinError
from warning.metrics import Metrics
from warning.notify.alertmanager import Forwarding
from warning.notify.dispatcher import Dispatcher
from warning.notify.hub import Hub
from warning.notify.log import NotificationLog
from warning.notify.outbox import Outbox
from warning.scrape_metrics import ServiceCollector
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(settings.sqlalchemy_url)
        database = Database(settings)
        metrics = Metrics()
        ingest = LiveIngest(settings, database, metrics)
        outbox = Outbox(database, app.state.clock, NotificationLog(settings.notifications_path), ingest.lock,
                        metrics.workflow)
        app.state.settings = settings
        app.state.database = database
        app.state.metrics = metrics
        metrics.registry.register(ServiceCollector(ingest, app.state.clock))  # alerts, lag, early warning
        app.state.ingest = ingest
        app.state.publisher = start_publisher(settings, metrics)  # ingest_mode = "kafka": HTTP events to the topic
        app.state.outbox = outbox
        ingest.on_changes, outbox.on_sent = app.state.hub.publish_changes, app.state.hub.publish_notices
        auth.start(app, database.engine)  # the key store; a first admin key when none is active
        dispatcher = Dispatcher(database, app.state.clock, settings, metrics)  # webhook deliveries
        app.state.dispatcher = dispatcher
        outbox.on_queued = dispatcher.wake
        _tick(outbox)  # what came due while the service was down goes out before anything else
        dispatcher.start()
        timers = [asyncio.create_task(_every(settings.clock_tick_seconds, partial(_tick, outbox)))]
        if settings.ingest_checkpoint_seconds > 0:  # a quiet feed gets its checkpoint too (0: every batch is one)
            timers.append(asyncio.create_task(_every(settings.ingest_checkpoint_seconds, ingest.checkpoint_if_due)))
        forwarding = Forwarding.start(settings, database, app.state.clock, metrics)  # when alertmanager_url is set
        yield
        await forwarding.stop()
        await dispatcher.stop()
        if app.state.publisher is not None:
            app.state.publisher.close()
        for task in timers:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        ingest.close()
        database.engine.dispose()

    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        summary="Crisis early warning: signals in, alerts with a 6-hour response clock out.",
        lifespan=lifespan,
    )
    app.state.clock = clock or WallClock()
    app.state.hub = Hub()  # live alert changes and notices, for the console's event streams
    errors.install(app)
    auth.install(app)
    for module in (events, alertmanager, alerts, workflow, crises_api, subscriptions_api, keys, console_api,
                   entities, stream, health):
        app.include_router(module.router)
    console.install(app)
    return app


def _tick(outbox: Outbox) -> None:
    try:
        outbox.tick()
    except (TocsinError, OSError) as exc:  # the next tick tries again; nothing was marked sent
        log.warning("due notices not sent: %s", exc)


async def _every(seconds: float, work: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(work)


# A batch allocates some ten thousand short-lived containers (events, rows, snapshots). At
# CPython's default generation-0 threshold (700) the cycle collector runs a dozen times per
# batch and promotes what the batch still holds, which then sets off full collections of
# the whole heap, series state included: about a fifth of the service's CPU time at batches
# of 500. With a higher threshold a batch's garbage is freed by reference counting first.
GC_GENERATION0_THRESHOLD = 20_000
# An open event stream (GET /v1/stream) never ends by itself: a stop waits this long for
# requests in flight, then closes the streams (the consoles reconnect to the next process).
SHUTDOWN_GRACE_SECONDS = 5


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """``tocsin serve``: the service process (which owns process-wide settings like the GC's)."""
    check_open_host(settings.auth, host or settings.host)  # --host may move an open service off loopback
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GENERATION0_THRESHOLD), gen1, gen2)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, workers=1,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
