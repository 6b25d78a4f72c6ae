"""Migration 0158 (S3 Object Lambda access points, decision 0384): its table comes and goes
on SQLite and on a real PostgreSQL, from 0157."""

from __future__ import annotations

from pathlib import Path

from support.migrations import has_table, migrate

_TABLE = "object_lambda_access_points"


def _check(url: str) -> None:
    migrate(url, "0157")
    assert not has_table(url, _TABLE)
    migrate(url, "0158")
    assert has_table(url, _TABLE)
    migrate(url, "0157", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0158")
    assert has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
