"""Column types portable between SQLite and PostgreSQL.

Kept apart from ``tables.py`` because migrations import them too: a revision must keep
producing the same schema, so these types only ever grow new dialect variants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = ["UtcDateTime", "big_id", "key_text", "utc_from_stored"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime with microseconds, whatever the database keeps.

    PostgreSQL gets ``timestamptz`` (its own UTC). SQLite has no date type: SQLAlchemy's text
    ``DATETIME`` costs a regular-expression parse per value, which was a third of the time of a
    LIST of 1,000 keys, so SQLite stores integer microseconds since the Unix epoch (sortable,
    exact, a fraction of a microsecond to convert). Naive datetimes are refused, not guessed.
    """

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | int | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes only")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(
        self, value: datetime | int | None, dialect: Dialect
    ) -> datetime | None:
        return None if value is None else utc_from_stored(value)


def utc_from_stored(value: datetime | int) -> datetime:
    """What a ``UtcDateTime`` column holds (integer microseconds on SQLite, a datetime on
    PostgreSQL), as an aware UTC datetime; for columns read raw on hot paths."""
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
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
