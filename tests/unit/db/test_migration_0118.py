"""Migration 0118 (Parameter Store's resource policies, decision 0249): its table comes and
goes on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.migrations import has_table, migrate

_BEFORE = "0117"  # a revision before 0118 (its down_revision when written)


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not has_table(url, "ssm_resource_policies")
    migrate(url, "0118")
    assert has_table(url, "ssm_resource_policies")
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, "ssm_resource_policies")
    migrate(url, "0118")
    assert has_table(url, "ssm_resource_policies")


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
