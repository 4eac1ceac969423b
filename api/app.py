"""``create_app(settings)``: the FastAPI application, assembled from the routers."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from api import errors
from api.routers import alerts, events, health
from ingest.live import LiveIngest
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(settings.sqlalchemy_url)
        database = Database(settings)
        metrics = Metrics()
        app.state.settings = settings
        app.state.database = database
        app.state.metrics = metrics
        app.state.ingest = LiveIngest(settings, database, metrics)
        yield
        database.engine.dispose()

    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        summary="Crisis early warning: signals in, alerts with a 6-hour response clock out.",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (events.router, alerts.router, health.router):
        app.include_router(router)
    return app


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, workers=1)
