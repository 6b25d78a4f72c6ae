"""Moving a database along the migrations' history, for the tests of one migration
(tests/unit/db/test_migration_*.py): up or down to a revision, and whether a table is there."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config

__all__ = ["has_table", "migrate"]


def migrate(url: str, target: str, *, down: bool = False) -> None:
    """Upgrade (or, with ``down``, downgrade) the database at ``url`` to revision ``target``, in
    one transaction."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if down:
                command.downgrade(alembic_config(conn), target)
            else:
                command.upgrade(alembic_config(conn), target)
    finally:
        engine.dispose()


def has_table(url: str, table: str) -> bool:
    engine = create_engine(url)
    try:
        return table in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
