"""Migration 0044 (operator access loose ends, decision 0114): the requests' ``include_kms``
column (false for requests made before) and the index the lapse sweep reads come and go on
SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_TABLE = "operator_access_requests"
_INDEX = "ix_operator_access_requests_status_created_at"


def _shape(url: str) -> tuple[dict[str, object], set[str]]:
    """The table's columns (name → server default) and index names."""
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"]: c.get("default") for c in inspector.get_columns(_TABLE)}
        indexes = {i["name"] or "" for i in inspector.get_indexes(_TABLE)}
        return columns, indexes
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0043")
    columns, indexes = _shape(url)
    assert "include_kms" not in columns and _INDEX not in indexes
    migrate(url, "0044")
    columns, indexes = _shape(url)
    assert "include_kms" in columns and _INDEX in indexes
    assert str(columns["include_kms"]).lower() in {"false", "0", "'0'", "'false'"}
    migrate(url, "0043", down=True)
    columns, indexes = _shape(url)
    assert "include_kms" not in columns and _INDEX not in indexes
    migrate(url, "0044")


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
