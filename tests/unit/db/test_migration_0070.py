"""Migration 0070 (S3 access points, decision 0157): its table comes and goes
on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.migrations import check_tables_come_and_go


def _check(url: str) -> None:
    check_tables_come_and_go(url, "0070", ["access_points"])


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
