"""Column types portable between SQLite and PostgreSQL.

Kept apart from ``tables.py`` because migrations import them too: a revision must keep
producing the same schema, so these types only ever grow new dialect variants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = ["UtcDateTime", "big_id", "key_text"]


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime with microseconds, whatever the database keeps.

    SQLite stores ``DATETIME`` as text without zone: we convert to UTC, drop the zone on the
    way in and put UTC back on the way out. PostgreSQL gets ``timestamptz`` (its own UTC).
    Naive datetimes are refused rather than guessed.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def key_text() -> TypeEngine[str]:
    """Text compared in UTF-8 byte order, as S3 sorts keys.

    SQLite's default BINARY collation compares the UTF-8 bytes already; PostgreSQL needs
    ``COLLATE "C"`` (byte order on a UTF-8 database) instead of the locale's collation.
    """
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def big_id() -> TypeEngine[int]:
    """An auto-increment id: 64-bit on PostgreSQL, SQLite's INTEGER rowid alias otherwise
    (only a column typed exactly ``INTEGER PRIMARY KEY`` aliases the rowid)."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
