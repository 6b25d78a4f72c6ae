"""The few statements whose SQL differs between SQLite and PostgreSQL, behind one spelling,
and the point reads of the hot paths, compiled once.

Stores otherwise write portable SQLAlchemy Core. Row locks need no helper: ``with_for_update``
renders ``FOR UPDATE``/``FOR KEY SHARE``/``SKIP LOCKED`` on PostgreSQL and nothing on SQLite,
whose single writer already runs write transactions one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["AsyncpgText", "InsertIgnoringConflict", "RowQuery", "RowStatement", "Upsert"]


# Named parameters (``:name``), which the sqlite3 module binds from a mapping as it is.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")
# asyncpg's ``$1``, ``$2``…, with the bind casts SQLAlchemy's asyncpg dialect sends.
_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]


class AsyncpgText:
    """A statement compiled once for asyncpg: its text with ``$1``, ``$2``… and the parameters'
    names in that order, each with the value the statement gave it, if any (a literal or a
    LIMIT becomes a parameter too). For the hot statements that PostgreSQL's
    :class:`~andromede.db.database.Database` sends straight to asyncpg, without SQLAlchemy's
    per-call execution and the greenlet that runs it (docs/decisions/0027-rados-small-gets.md).
    """

    __slots__ = ("parameters", "text")

    def __init__(self, statement: sa.ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_ASYNCPG))
        self.text = str(compiled)
        values = compiled.params
        self.parameters: tuple[tuple[str, Any], ...] = tuple(
            (name, _REQUIRED if compiled.binds[name].required else values.get(name))
            for name in compiled.positiontup or ()
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The values for ``$1``, ``$2``…: from ``params``, else the statement's own
        (KeyError for a parameter that has none)."""
        arguments = [params.get(name, value) for name, value in self.parameters]
        if _REQUIRED in arguments:
            missing = [name for name, _ in self.parameters if name not in params]
            raise KeyError(f"no value for the parameters {missing}")
        return arguments


_REQUIRED = object()  # a parameter the statement gives no value


class RowQuery:
    """A read-only ``SELECT`` of at most one row, for :meth:`Database.read_row
    <andromede.db.database.Database.read_row>`.

    Built once (a module constant): its SQLite and PostgreSQL texts are compiled here, so a
    read goes straight to the driver (sqlite3, or asyncpg, whose statement cache keeps the
    prepared statement) without SQLAlchemy's per-call execution machinery, which cost several
    times the query on a small GET (docs/decisions/0025-small-request-cpu-2.md), nor, on
    PostgreSQL, the greenlet that runs it (docs/decisions/0027-rados-small-gets.md). A row is a
    tuple of the selected columns in order, whose values no column type converts: read a
    ``UtcDateTime`` column with ``andromede.db.types.utc_from_stored``, which takes SQLite's
    integer microseconds and PostgreSQL's datetimes alike. Only columns whose driver value is
    the value (text, numbers, ``UtcDateTime``) belong in a ``RowQuery``.
    """

    __slots__ = ("columns", "postgresql", "sqlite_text", "statement")

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self.columns: tuple[str, ...] = tuple(statement.selected_columns.keys())
        self.sqlite_text = str(statement.compile(dialect=_SQLITE_NAMED))
        self.postgresql = AsyncpgText(statement)


class RowStatement:
    """A write of one statement that returns one row, for :meth:`Database.write_row
    <andromede.db.database.Database.write_row>`: PostgreSQL sends the precompiled text to
    asyncpg in autocommit (the statement is its own transaction, as with ``write_statement``);
    SQLite runs ``statement`` through SQLAlchemy in its writer's batch. The row comes as a
    mapping of column name to the driver's value (see :class:`RowQuery` on ``UtcDateTime``).
    """

    __slots__ = ("postgresql", "statement")

    def __init__(self, statement: sa.TextClause | sa.Insert | sa.Update | sa.Delete) -> None:
        self.statement: sa.Executable = statement
        self.postgresql = AsyncpgText(statement)


class InsertIgnoringConflict:
    """``INSERT … ON CONFLICT (columns) DO NOTHING``, built once per dialect.

    Calling it inserts one row and says whether it did: False when a row with the same
    ``conflict_columns`` exists. On PostgreSQL a row inserted by a transaction still in flight
    makes this one wait for its outcome instead of failing with a unique violation, so the
    caller can then read that row (a new statement at READ COMMITTED sees it) and take the
    "already there" path.
    """

    def __init__(self, table: sa.Table, conflict_columns: Sequence[str]) -> None:
        columns = [table.c[name] for name in conflict_columns]
        self._statements: dict[str, sa.Insert] = {
            "sqlite": sqlite.insert(table).on_conflict_do_nothing(index_elements=columns),
            "postgresql": postgresql.insert(table).on_conflict_do_nothing(index_elements=columns),
        }

    def __call__(self, conn: Connection, values: Mapping[str, Any]) -> bool:
        result = conn.execute(self._statements[conn.dialect.name], dict(values))
        return result.rowcount == 1


class Upsert:
    """``INSERT … ON CONFLICT (columns) DO UPDATE SET …``, built once per dialect.

    The portable spelling of SQLite's ``INSERT OR REPLACE`` for a row keyed by
    ``conflict_columns``: inserts the row, or updates ``update_columns`` (default: every other
    column of the row given) of the existing one. Unlike ``INSERT OR REPLACE`` it never deletes
    a row, so no foreign key pointing at it is cascaded or broken.
    """

    def __init__(
        self,
        table: sa.Table,
        conflict_columns: Sequence[str],
        update_columns: Sequence[str] | None = None,
    ) -> None:
        keys = [table.c[name] for name in conflict_columns]
        updated = (
            list(update_columns)
            if update_columns is not None
            else [c.name for c in table.c if c.name not in conflict_columns]
        )
        sqlite_insert = sqlite.insert(table)
        postgresql_insert = postgresql.insert(table)
        self._statements: dict[str, sa.Insert] = {
            "sqlite": sqlite_insert.on_conflict_do_update(
                index_elements=keys,
                set_={name: sqlite_insert.excluded[name] for name in updated},
            ),
            "postgresql": postgresql_insert.on_conflict_do_update(
                index_elements=keys,
                set_={name: postgresql_insert.excluded[name] for name in updated},
            ),
        }

    def __call__(self, conn: Connection, values: Mapping[str, Any]) -> None:
        conn.execute(self._statements[conn.dialect.name], dict(values))
