"""Migration 0123 (Kinesis record size and account settings, decision 0260):
``kinesis_streams``' ``max_record_kib`` comes and goes on SQLite and on a real PostgreSQL, a
stream made before it read at AWS's 1024 KiB default; ``kinesis_account_settings`` made and
dropped."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0120"


def _execute(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _shape(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("kinesis_streams")}
        return columns, set(inspector.get_table_names())
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    columns, tables = _shape(url)
    assert "max_record_kib" not in columns and "kinesis_account_settings" not in tables
    _execute(
        url,
        "INSERT INTO kinesis_streams (tenant_id, stream_name, region, status, mode, created,"
        " retention_hours, shards, open_shards, iterator_key, tags, encryption_type, key_id,"
        " consumers, revision, layout, next_sequence, format_version) VALUES ('111111111111',"
        " 'old', 'eu-fr-1', 'ACTIVE', 'PROVISIONED', 1, 24, '[]', 0, :key, '[]', 'NONE', NULL,"
        " '[]', 1, 1, 0, 1)",
        key=b"k" * 32,
    )
    migrate(url, "0123")
    assert _execute(url, "SELECT max_record_kib FROM kinesis_streams") == [(1024,)]
    _execute(
        url,
        "INSERT INTO kinesis_account_settings (tenant_id, commitment, started_at, ended_at,"
        " earliest_end, revision, format_version) VALUES ('111111111111', 'ENABLED',"
        " 1800000000000, NULL, 1800086400000, 1, 1)",
    )
    migrate(url, _BEFORE, down=True)
    columns, tables = _shape(url)
    assert "max_record_kib" not in columns and "kinesis_account_settings" not in tables
    assert _execute(url, "SELECT stream_name FROM kinesis_streams") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
