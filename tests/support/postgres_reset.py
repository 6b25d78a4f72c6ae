"""Bringing a used test database back to what its template was, so that the next test can have
it instead of a new copy (tests/support/postgres.py, decision 0298).

``CREATE DATABASE … TEMPLATE`` of the migrated template writes all of its ~15 MB again through
the WAL (PostgreSQL 15's default strategy): 0.5 to 1.4 s of the cluster's CPU and of the test's
wall time for each of the ~530 tests of a run that ask for a database, and a truncation of
every table is no cheaper (~190 tables, ~350 indexes, each given a new file). A test writes into
a few tables: those are found (one query), emptied, and their sequences started again.

A database is given again only when what the test cannot have undone by writing rows is as the
template left it: its schema (tables, columns and their defaults, constraints, indexes,
triggers, functions, schemas, extensions), its Alembic revision, its large objects and its
settings. Anything else (a migration test's downgrade, a ``SET`` on the database) and the
database is dropped as before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

__all__ = ["empty_tables_again", "state_of", "user_tables"]

# One line per object a test could have changed otherwise than by writing rows, hashed.
_STATE = """
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (
  SELECT 'column ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(a.attname, '')
    || ' ' || coalesce(format_type(a.atttypid, a.atttypmod), '') || ' '
    || coalesce(a.attnotnull::text, '') || ' ' || coalesce(a.attstorage::text, '') || ' '
    || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS line
  FROM pg_class c
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
    || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'function ' || oid::regprocedure::text FROM pg_proc
    WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
  UNION ALL SELECT 'extension ' || extname FROM pg_extension
  UNION ALL SELECT 'large objects ' || count(*) FROM pg_largeobject_metadata
  UNION ALL SELECT 'settings ' || count(*) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'revision ' || version_num FROM alembic_version
) AS state
"""


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def state_of(conn: psycopg.Connection[Any]) -> str:
    """A digest of what a database holds besides its rows (see the module's docstring)."""
    return str(_one(conn, _STATE))


def user_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The tables of the database's ``public`` schema, but Alembic's."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'alembic_version' ORDER BY tablename"
    )
    return [str(row[0]) for row in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def empty_tables_again(conn: psycopg.Connection[Any], tables: Sequence[str]) -> None:
    """Empty those of ``tables`` that have a row, and start again every sequence that was
    used: the database then holds what a new copy of its template would."""
    probes = " UNION ALL ".join(
        f"SELECT {index} WHERE EXISTS (SELECT 1 FROM {_quoted(table)})"  # noqa: S608
        for index, table in enumerate(tables)
    )
    written = [tables[int(row[0])] for row in conn.execute(probes)] if tables else []
    if written:
        conn.execute(f"TRUNCATE {', '.join(_quoted(t) for t in written)} CASCADE")
    used = conn.execute(
        "SELECT sequencename FROM pg_sequences "
        "WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )
    for (sequence,) in list(used):
        conn.execute(f"ALTER SEQUENCE {_quoted(str(sequence))} RESTART")
