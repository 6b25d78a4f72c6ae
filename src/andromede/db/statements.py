"""The few statements whose SQL differs between SQLite and PostgreSQL, behind one spelling.

Stores otherwise write portable SQLAlchemy Core. Row locks need no helper: ``with_for_update``
renders ``FOR UPDATE``/``FOR KEY SHARE``/``SKIP LOCKED`` on PostgreSQL and nothing on SQLite,
whose single writer already runs write transactions one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["InsertIgnoringConflict"]


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
