"""Migration 0120 (Kinesis resource policies, decision 0248): ``kinesis_streams``' ``policy``
comes and goes on SQLite and on a real PostgreSQL, a stream made before it carrying none and
its consumers (two-element entries) read without one."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0117"


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
        return {c["name"] for c in sa.inspect(engine).get_columns("kinesis_streams")}
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert "policy" not in _columns(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO kinesis_streams (tenant_id, stream_name, region, status, mode,"
                    " created, retention_hours, shards, open_shards, iterator_key, tags,"
                    " encryption_type, key_id, consumers, revision, layout, next_sequence,"
                    " format_version) VALUES ('111111111111', 'old', 'eu-fr-1', 'ACTIVE',"
                    " 'PROVISIONED', 1, 24, '[]', 0, :key, '[]', 'NONE', NULL,"
                    " '[[\"c\", 5000]]', 1, 1, 0, 1)"
                ),
                {"key": b"k" * 32},
            )
    finally:
        engine.dispose()
    migrate(url, "0120")
    assert _execute(url, "SELECT policy, consumers FROM kinesis_streams") == [
        (None, '[["c", 5000]]')
    ]
    migrate(url, _BEFORE, down=True)
    assert "policy" not in _columns(url)
    assert _execute(url, "SELECT stream_name FROM kinesis_streams") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
