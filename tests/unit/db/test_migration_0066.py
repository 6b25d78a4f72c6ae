"""Migration 0066 (the account-level Block Public Access, decision 0152): its table comes and
goes on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.migrations import has_table, migrate

_TABLE = "account_public_access_blocks"
_BEFORE = "0065"


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not has_table(url, _TABLE)
    migrate(url, "0066")
    assert has_table(url, _TABLE)
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0066")
    assert has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
