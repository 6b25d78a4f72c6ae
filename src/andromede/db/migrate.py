"""Bring a database schema to the latest Alembic revision, from code (no alembic.ini).

The migration scripts ship inside the package (``andromede/db/migrations``), so this works the
same from a source checkout and from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from andromede.db.database import create_engine

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def upgrade(database_url: str) -> None:
    """Apply every pending migration to ``database_url``; a no-op when already at head.

    Blocking: call it before serving, or through ``asyncio.to_thread``."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            _upgrade_to_head(conn)
    finally:
        engine.dispose()
