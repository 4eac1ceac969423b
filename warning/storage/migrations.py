"""Applying the Alembic migrations in ``alembic/`` (``tocsin db upgrade``, and at start)."""
from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

SCRIPTS = Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(url: str) -> Config:
    """The Alembic configuration for ``url``, independent of the working directory."""
    if not (SCRIPTS / "env.py").exists():
        raise FileNotFoundError(f"migrations not found at {SCRIPTS}; install Tocsin from its source tree (pip install -e .)")
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
