"""Migration 0104 (log group classes and deletion protection, decision 0222): the two columns
of ``log_groups`` come and go on SQLite and on a real PostgreSQL, a group made before them
STANDARD and unprotected, as AWS's groups made before either existed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0103"


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
        return {c["name"] for c in sa.inspect(engine).get_columns("log_groups")}
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not {"log_class", "deletion_protection"} & _columns(url)
    _execute(
        url,
        "INSERT INTO log_groups (tenant_id, group_name, created, tags, stored_bytes,"
        " format_version) VALUES ('111111111111', '/old', 1, '{}', 0, 1)",
    )
    migrate(url, "0104")
    assert {"log_class", "deletion_protection"} <= _columns(url)
    rows = _execute(url, "SELECT log_class, deletion_protection FROM log_groups")
    assert [(cls, bool(protected)) for cls, protected in rows] == [("STANDARD", False)]
    migrate(url, _BEFORE, down=True)
    assert not {"log_class", "deletion_protection"} & _columns(url)
    assert _execute(url, "SELECT group_name FROM log_groups") == [("/old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
