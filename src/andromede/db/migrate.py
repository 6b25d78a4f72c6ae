"""Bring a database schema to the latest Alembic revision, from code (no alembic.ini).

The migration scripts ship inside the package (``andromede/db/migrations``), so this works the
same from a source checkout and from an installed wheel.

Alembic is synchronous, so PostgreSQL is migrated through psycopg 3 on the same database as the
asyncpg URL names (:func:`andromede.db.database.create_engine`). Its DDL is transactional: the
whole upgrade commits or nothing does. Several gateways may start at once against one
PostgreSQL; a transaction-level advisory lock makes them take turns, and each one after the
first finds the schema at head and does nothing. SQLite serialises them by its write lock, taken
at BEGIN.

An empty database (no table at all) is not taken through the history: its schema is created
from the models (``tables.metadata``) and stamped at head in the same transaction, as Alembic's
cookbook recommends ("Building an Up to Date Database from Scratch"). Replaying the ~40
migrations cost ~0.9 s of a loaded machine's CPU at every first start (decision 0115). It is
safe because the models and the migrations make the same schema, which
``tests/unit/db/test_migrations.py`` compares on both engines; the one thing only a migration
did (0016's ``SET STORAGE EXTERNAL`` on PostgreSQL) is the models' too (``tables.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db.database import create_engine
from andromede.db.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations, optionally bound to a connection."""
    # Alembic is imported when there is something to migrate: with what it brings (mako,
    # pygments) it took 0.2 s of every start, most of which find the schema at head (0115).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# An arbitrary constant that names "Andromède's schema migration" among advisory locks.
_MIGRATION_LOCK = 0x616E64726F6D6564  # "andromed"


def _upgrade_to_head(connection: Connection, *, replay: bool) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    head = _head_revision()
    if not replay and head is not None and _stamped_revision(connection) == head:
        return  # the usual start: nothing to do, and no need to read the ~40 migration scripts
    # Checked under the lock (PostgreSQL) or the write lock (SQLite): a gateway that waited for
    # another's creation finds the tables, and the upgrade that follows has nothing to do.
    if not replay and head is not None and not sa.inspect(connection).get_table_names():
        metadata.create_all(connection)
        _stamp(connection, head)
        return
    from alembic import command

    config = alembic_config(connection)
    if not replay and not sa.inspect(connection).get_table_names():
        metadata.create_all(connection)  # scripts not readable as files: Alembic finds the head
        command.stamp(config, "head")
    else:
        command.upgrade(config, "head")


# Alembic's own version table (``MigrationContext._version``), written here for a database
# created from the models: ``command.stamp`` imported Alembic (with mako and pygments) and read
# every migration script to find a head the file names already give, 0.2 s of each new data
# folder's first start (a test run starts some 250). tests/unit/db/test_migrations.py checks
# that what this writes is what Alembic reads and writes.
_VERSION_TABLE = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _stamp(connection: Connection, head: str) -> None:
    _VERSION_TABLE.create(connection)
    connection.execute(_VERSION_TABLE.insert().values(version_num=head))


def _head_revision() -> str | None:
    """The latest revision, from the migration files' names: each file's revision id is its
    four-digit prefix, one after the other (tests/unit/db/test_migrations.py checks this
    against Alembic's own reading). None if the scripts are not there as files."""
    names = [path.name[:4] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]" * 4 + "_*.py")]
    return max(names, default=None)


def _stamped_revision(connection: Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def upgrade(database_url: str, *, replay: bool = False) -> None:
    """Apply every pending migration to ``database_url``; a no-op when already at head. An
    empty database gets the models' schema and is stamped at head, unless ``replay`` asks for
    every migration in turn (what the tests of the migrations compare it with).

    Blocking: call it before serving, or through ``asyncio.to_thread``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            # On SQLite: BEGIN IMMEDIATE, so that a second process migrating at the same moment
            # waits for the write lock instead of failing to upgrade a read transaction.
            conn = conn.execution_options(andromede_write=True)
            with conn.begin():
                _upgrade_to_head(conn, replay=replay)
    finally:
        engine.dispose()
