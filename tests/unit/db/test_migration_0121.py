"""Migration 0121 (DynamoDB on-demand backups, decision 0253): its three tables come and go on
SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.migrations import has_table, migrate

_BEFORE = "0120"  # its down_revision when written
_TABLES = ("dynamodb_backups", "dynamodb_backup_items", "dynamodb_item_versions")


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not any(has_table(url, t) for t in _TABLES)
    migrate(url, "0121")
    assert all(has_table(url, t) for t in _TABLES)
    migrate(url, _BEFORE, down=True)
    assert not any(has_table(url, t) for t in _TABLES)
    migrate(url, "0121")
    assert all(has_table(url, t) for t in _TABLES)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
