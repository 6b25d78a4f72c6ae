"""Bring a database schema to the latest Alembic revision, from code (no alembic.ini).

The migration scripts ship inside the package (``andromede/db/migrations``), so this works the
same from a source checkout and from an installed wheel.

Alembic is synchronous, so PostgreSQL is migrated through psycopg 3 on the same database as the
asyncpg URL names (:func:`andromede.db.database.create_engine`). Its DDL is transactional: the
whole upgrade commits or nothing does. Several gateways may start at once against one
PostgreSQL; a transaction-level advisory lock makes them take turns, and each one after the
first finds the schema at head and does nothing. SQLite serialises them by its write lock, taken
at BEGIN.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
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


# An arbitrary constant that names "Andromède's schema migration" among advisory locks.
_MIGRATION_LOCK = 0x616E64726F6D6564  # "andromed"


def _upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


def upgrade(database_url: str) -> None:
    """Apply every pending migration to ``database_url``; a no-op when already at head.

    Blocking: call it before serving, or through ``asyncio.to_thread``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            # On SQLite: BEGIN IMMEDIATE, so that a second process migrating at the same moment
            # waits for the write lock instead of failing to upgrade a read transaction.
            conn = conn.execution_options(andromede_write=True)
            with conn.begin():
                _upgrade_to_head(conn)
    finally:
        engine.dispose()
