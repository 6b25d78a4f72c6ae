"""Migration 0162 (S3 Storage Lens configurations, decision 0415): its table comes and goes
on SQLite and on a real PostgreSQL, from 0161."""

from __future__ import annotations

from pathlib import Path

from support.migrations import has_table, migrate

_TABLE = "storage_lens_configurations"


def _check(url: str) -> None:
    migrate(url, "0161")
    assert not has_table(url, _TABLE)
    migrate(url, "0162")
    assert has_table(url, _TABLE)
    migrate(url, "0161", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0162")
    assert has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
