"""Moving a database along the migrations' history, for the tests of one migration
(tests/unit/db/test_migration_*.py): up or down to a revision, whether a table is there, and
the check most of them make — the migration's tables come and go, and a guarded downgrade
refuses while a row would be lost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
import sqlalchemy as sa
from alembic import command

from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config

__all__ = ["GuardedRow", "check_tables_come_and_go", "document_row", "has_table", "migrate"]

# A statement inserting one row, and its parameters.
GuardedRow = tuple[str, Mapping[str, str]]


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


def execute(url: str, statement: str, params: Mapping[str, str] | None = None) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), dict(params or {}))
    finally:
        engine.dispose()


def document_row(table: str, row_id: str, document: str) -> GuardedRow:
    """The insert of one row of a document table (id, tenant, document, format, revision)."""
    return (
        f"INSERT INTO {table} (id, tenant_id, document, format_version, revision) "  # noqa: S608
        "VALUES (:id, '111111111111', :document, 1, 0)",
        {"id": row_id, "document": document},
    )


def check_tables_come_and_go(
    url: str,
    revision: str,
    tables: Sequence[str],
    *,
    guarded: str | None = None,
    row: GuardedRow | None = None,
) -> None:
    """Migration ``revision`` creates ``tables`` and its downgrade drops them, again after an
    upgrade; with ``guarded`` and ``row``: once ``row`` is in table ``guarded``, the downgrade
    refuses naming that table and keeps it, and goes once the table is emptied."""
    before = f"{int(revision) - 1:04d}"
    migrate(url, before)
    assert not any(has_table(url, table) for table in tables)
    migrate(url, revision)
    assert all(has_table(url, table) for table in tables)
    migrate(url, before, down=True)
    assert not any(has_table(url, table) for table in tables)
    migrate(url, revision)
    assert all(has_table(url, table) for table in tables)
    if guarded is None or row is None:
        return
    execute(url, *row)
    with pytest.raises(RuntimeError, match=guarded):
        migrate(url, before, down=True)
    assert has_table(url, guarded)
    execute(url, f"DELETE FROM {guarded}")  # noqa: S608
    migrate(url, before, down=True)
    assert not any(has_table(url, table) for table in tables)
