"""Migration 0134 (Step Functions' versions, aliases and redrives, decision 0283): the
``stepfunctions_versions`` and ``stepfunctions_aliases`` tables and the executions'
``version_number``, ``alias_name``, ``redrive_count`` and ``redriven`` come and go on SQLite
and on a real PostgreSQL; an execution started before it reads as started by no version and
never redriven."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0133"


def _inspect(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("stepfunctions_executions")}
        return columns, set(inspector.get_table_names())
    finally:
        engine.dispose()


def _execute(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    columns, names = _inspect(url)
    assert "redrive_count" not in columns and "stepfunctions_versions" not in names
    _execute(
        url,
        "INSERT INTO stepfunctions_executions (tenant_id, region, machine_name, execution_name,"
        " status, started, stopped, wake_at, role_arn, revision_id, transitions, event_count,"
        " document_sealed, lease_owner, lease_until, waiting_activity, activity_taken, revision,"
        " format_version) VALUES ('111111111111', 'eu-fr-1', 'm', 'old', 'FAILED', 1, 2, 1,"
        " 'arn:aws:iam::111111111111:role/r', 'rev', 1, 3, :doc, NULL, 0, NULL, false, 3, 1)",
        doc=b"sealed",
    )
    migrate(url, "0134")
    columns, names = _inspect(url)
    assert {"version_number", "alias_name", "redrive_count", "redriven"} <= columns
    assert {"stepfunctions_versions", "stepfunctions_aliases"} <= names
    assert _execute(
        url,
        "SELECT version_number, alias_name, redrive_count, redriven FROM stepfunctions_executions",
    ) == [(None, None, 0, None)]
    migrate(url, _BEFORE, down=True)
    columns, names = _inspect(url)
    assert "redrive_count" not in columns and "stepfunctions_aliases" not in names
    assert _execute(url, "SELECT execution_name FROM stepfunctions_executions") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
