"""Migrations: ``upgrade head`` builds exactly the models' schema, on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from alembic import command
from api.cli import main
from warning.storage import migrations
from warning.storage.database import make_engine
from warning.storage.migrations import upgrade
from warning.storage.models import Base

TABLES = {"alembic_version", *Base.metadata.tables}
HEAD = "0007"
CONFIG = """
[signals.satisfaction]
detectors = [{kind = "threshold", limit = 50, direction = "below"}]
[signals.mentions]
detectors = [{kind = "threshold", limit = 10}]
[signals.alarms]
detectors = [{kind = "threshold", limit = 10, for_buckets = 2}]
"""


def schema_of(url: str) -> tuple[set[str], str | None]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
                if "alembic_version" in tables else None
        return tables, version
    finally:
        engine.dispose()


def test_upgrade_head_builds_exactly_the_models(db_url: str) -> None:
    upgrade(db_url)

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_the_migrated_schema_has_every_table_at_the_head_revision(db_url: str) -> None:
    upgrade(db_url)

    assert schema_of(db_url) == (TABLES, HEAD)


def test_an_empty_database_differs_from_the_models(db_url: str) -> None:
    """The drift check is live: without the migrations every table is reported missing."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()

    assert sorted(d[1].name for d in differences if d[0] == "add_table") == sorted(TABLES - {"alembic_version"})


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)

    assert schema_of(db_url) == (TABLES, HEAD)


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(db_url: str) -> None:
    upgrade(db_url)

    command.downgrade(migrations.alembic_config(db_url), "base")
    emptied = schema_of(db_url)
    upgrade(db_url)

    assert emptied == ({"alembic_version"}, None)
    assert schema_of(db_url) == (TABLES, HEAD)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tocsin.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_CONFIG", str(path))
    return path


def test_tocsin_db_upgrade_creates_the_tables_and_is_idempotent(
    db_url: str, config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db_url)

    assert main(["db", "upgrade"]) == 0
    assert schema_of(db_url) == (TABLES, HEAD)
    assert main(["db", "upgrade"]) == 0

    assert schema_of(db_url) == (TABLES, HEAD)
    assert capsys.readouterr().err.count("is up to date") == 2


def test_tocsin_db_upgrade_creates_the_data_directory_on_the_embedded_default(
    tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "fresh" / "data"
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(data))
    monkeypatch.delenv("TOCSIN_DATABASE_URL", raising=False)

    assert main(["db", "upgrade"]) == 0

    assert schema_of(f"sqlite:///{data / 'tocsin.db'}") == (TABLES, HEAD)


def test_tocsin_db_upgrade_does_not_print_the_database_password(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    upgraded: list[str] = []
    monkeypatch.setattr(migrations, "upgrade", lambda url, revision="head": upgraded.append(url))
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "postgresql+psycopg://tocsin:s3cret-pw@db.internal:5432/tocsin")

    assert main(["db", "upgrade"]) == 0

    assert upgraded == ["postgresql+psycopg://tocsin:s3cret-pw@db.internal:5432/tocsin"]
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err
    assert "db.internal:5432/tocsin" in err


def test_tocsin_db_upgrade_with_an_invalid_config_fails_with_the_key_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_url: Any,
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[signals.alarms]\nbucket = "five minutes"\n', encoding="utf-8")
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db_url)

    assert main(["--config", str(path), "db", "upgrade"]) == 2

    assert "signals.alarms.bucket" in capsys.readouterr().err
    assert "alerts" not in schema_of(db_url)[0]
