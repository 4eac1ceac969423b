"""``create_app(settings)``: the FastAPI application, assembled from the routers.

The lifespan migrates the database, restores the pipeline, sends the notices that came due
while the service was down, then keeps sending due notices every ``clock_tick_seconds``
on the injected clock (wall time unless a test passes its own).
"""
from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import uvicorn
from fastapi import FastAPI

from api import errors
from api.routers import alerts, events, health, workflow
from ingest.live import LiveIngest
from warning.clock import Clock, WallClock
from warning.errors import TocsinError
from warning.metrics import Metrics
from warning.notify.log import NotificationLog
from warning.notify.outbox import Outbox
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
        outbox = Outbox(database, app.state.clock, NotificationLog(settings.notifications_path), ingest.lock)
        app.state.settings = settings
        app.state.database = database
        app.state.metrics = metrics
        app.state.ingest = ingest
        app.state.outbox = outbox
        _tick(outbox)  # what came due while the service was down goes out before anything else
        ticking = asyncio.create_task(_ticks(outbox, settings.clock_tick_seconds))
        yield
        ticking.cancel()
        with suppress(asyncio.CancelledError):
            await ticking
        database.engine.dispose()

    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        summary="Crisis early warning: signals in, alerts with a 6-hour response clock out.",
        lifespan=lifespan,
    )
    app.state.clock = clock or WallClock()
    errors.install(app)
    for router in (events.router, alerts.router, workflow.router, health.router):
        app.include_router(router)
    return app


def _tick(outbox: Outbox) -> None:
    try:
        outbox.tick()
    except (TocsinError, OSError) as exc:  # the next tick tries again; nothing was marked sent
        log.warning("due notices not sent: %s", exc)


async def _ticks(outbox: Outbox, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(_tick, outbox)


# A batch allocates some ten thousand short-lived containers (events, rows, snapshots). At
# CPython's default generation-0 threshold (700) the cycle collector runs a dozen times per
# batch and promotes what the batch still holds, which then sets off full collections of
# the whole heap, series state included: about a fifth of the service's CPU time at batches
# of 500. With a higher threshold a batch's garbage is freed by reference counting first.
GC_GENERATION0_THRESHOLD = 20_000


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """``tocsin serve``: the service process (which owns process-wide settings like the GC's)."""
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GENERATION0_THRESHOLD), gen1, gen2)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, workers=1)
