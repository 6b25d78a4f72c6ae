"""Migration 0130 (managed Contributor Insights rules, decision 0278): ``insight_rules``'
``managed_by`` comes and goes on SQLite and on a real PostgreSQL, a rule put before it read
as the account's own (empty)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0129"


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
        return {c["name"] for c in sa.inspect(engine).get_columns("insight_rules")}
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert "managed_by" not in _columns(url)
    _execute(
        url,
        "INSERT INTO insight_rules (tenant_id, rule_name, state, definition, transformed_logs,"
        " tags, created, format_version) VALUES ('111111111111', 'old', 'ENABLED', '{}', false,"
        " '[]', 1, 1)",
    )
    migrate(url, "0130")
    assert _execute(url, "SELECT rule_name, managed_by FROM insight_rules") == [("old", "")]
    migrate(url, _BEFORE, down=True)
    assert "managed_by" not in _columns(url)
    assert _execute(url, "SELECT rule_name FROM insight_rules") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
