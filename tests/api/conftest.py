"""API fixtures: the app with its lifespan entered, and an ``httpx.AsyncClient`` over ASGI
that sends an admin key owned by ``support.OWNER``; ``key_of(name)`` makes other owners' keys.

``fastapi.testclient`` is not used: its deprecation warning would fail the suite.
"""
from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.support import SIGNALS, Headers, KeyOf, bearer, client_for, running
from warning.settings import Settings


@pytest.fixture
def api_settings(make_settings: Any) -> Settings:
    return make_settings(signals=SIGNALS)  # type: ignore[no-any-return]


@pytest.fixture
async def app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(api_settings) as started:
        yield started


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture
def key_of(app: FastAPI) -> KeyOf:
    @functools.cache
    def header(name: str) -> Headers:
        return bearer(app, name)

    return header
