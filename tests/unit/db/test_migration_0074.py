"""Migration 0074 (access points restricted to a VPC, decision 0157's addendum): the column
comes and goes on SQLite and on a real PostgreSQL, existing access points keep the Internet
origin (null), and the downgrade refuses while an access point is restricted to a VPC (it
would open it to the Internet)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0073"


def _execute(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("access_points")}
    finally:
        engine.dispose()


def _insert(url: str, name: str, vpc: str | None) -> None:
    column, value = (", vpc_id", f", '{vpc}'") if vpc else ("", "")
    _execute(
        url,
        "INSERT INTO access_points (tenant_id, name, bucket, bucket_account, alias,"  # noqa: S608
        f" public_access_block, format_version, created_at{column}) VALUES ('111111111111',"
        f" '{name}', 'b', '111111111111', '{name}-x-s3alias', '[]', 1,"
        f" '2026-12-05 12:00:00'{value})",
    )


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert "vpc_id" not in _columns(url)
    _insert(url, "old", None)
    migrate(url, "0074")
    assert "vpc_id" in _columns(url)
    assert _execute(url, "SELECT vpc_id FROM access_points WHERE name = 'old'") == [(None,)]
    _insert(url, "inside", "vpc-0aaaaaaaaaaaaaaaa")
    with pytest.raises(RuntimeError, match="VPC"):
        migrate(url, _BEFORE, down=True)
    _execute(url, "DELETE FROM access_points WHERE name = 'inside'")
    migrate(url, _BEFORE, down=True)
    assert "vpc_id" not in _columns(url)
    assert _execute(url, "SELECT name FROM access_points") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
