"""Request dependencies, as ``Annotated`` aliases so routes stay one-liners."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingest.live import LiveIngest
from warning.clock import Clock
from warning.metrics import Metrics
from warning.settings import Settings
from warning.storage.database import Database
from warning.storage.keys import KeyStore


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _ingest(request: Request) -> LiveIngest:
    return request.app.state.ingest  # type: ignore[no-any-return]


def _clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def _keys(request: Request) -> KeyStore:
    return request.app.state.keys  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
IngestDep = Annotated[LiveIngest, Depends(_ingest)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
ClockDep = Annotated[Clock, Depends(_clock)]
KeysDep = Annotated[KeyStore, Depends(_keys)]
