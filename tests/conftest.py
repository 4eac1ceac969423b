"""Shared fixtures: settings in a temporary data directory, and the database under test.

Storage tests take ``db_url``, which runs them once on SQLite and once on PostgreSQL. The
PostgreSQL run uses ``TOCSIN_TEST_POSTGRES_URL`` (``.ci/run`` sets it for the server on
127.0.0.1:5432) with a schema of its own per test, so parallel runs never collide. Without
that variable the PostgreSQL case is skipped with the reason, except under ``CI=true``,
where a missing server is a failure.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from warning.settings import Settings, load_settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade

POSTGRES_URL = os.environ.get("TOCSIN_TEST_POSTGRES_URL", "")
# The project's shared data (scenario sample, NAB corpus): beside the repository, or where this
# workplace keeps it when the repository is a clone elsewhere (CI clones it).
SHARED = Path(os.environ.get("TOCSIN_SHARED_DATA", "/work/shared"))
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    """``make_settings(**overrides)``: settings with data in this test's directory."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return load_settings(None, **overrides)

    return make


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()  # type: ignore[no-any-return]


def _postgres_schema_url() -> Iterator[str]:
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but TOCSIN_TEST_POSTGRES_URL is not set: .ci/run must provide PostgreSQL")
        pytest.skip("PostgreSQL not configured: set TOCSIN_TEST_POSTGRES_URL (e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the storage tests on it")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite in a temporary file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tocsin.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def database(db_url: str, make_settings: Any) -> Iterator[Database]:
    """A migrated database on each backend."""
    upgrade(db_url)
    db = Database(make_settings(database_url=db_url))
    yield db
    db.engine.dispose()
