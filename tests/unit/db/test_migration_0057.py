"""Migration 0057 (multi-Region KMS keys, decision 0138): its two columns of ``kms_keys`` come
and go on SQLite and on a real PostgreSQL, existing keys staying single-Region; its downgrade
refuses while a multi-Region key record exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_COLUMNS = {"multi_region_type", "pending_window_days"}


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("kms_keys")}
    finally:
        engine.dispose()


def _execute(url: str, statement: str, **params: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _insert(url: str, key_id: str) -> None:
    _execute(
        url,
        "INSERT INTO kms_keys (key_id, tenant_id, region, description, key_usage, key_spec, "
        "origin, state, created_at, rotation_enabled, rotation_period_days, policy, tags, "
        "format_version, revision) VALUES "
        "(:key_id, '111111111111', 'eu-fr-1', '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', "
        "'AWS_KMS', 'Enabled', '2027-01-01 00:00:00', false, 365, '{}', '[]', 1, 0)",
        key_id=key_id,
    )


def _check(url: str) -> None:
    migrate(url, "0056")
    assert not _COLUMNS & _columns(url)
    _insert(url, "00000000-0000-4000-8000-000000000001")
    migrate(url, "0057")
    assert _COLUMNS <= _columns(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            row = conn.execute(
                sa.text("SELECT multi_region_type, pending_window_days FROM kms_keys")
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == (None, None)  # an existing key stays single-Region
    _insert(url, "mrk-0123456789abcdef0123456789abcdef@eu-fr-1")
    _execute(url, "UPDATE kms_keys SET multi_region_type = 'PRIMARY' WHERE key_id LIKE 'mrk-%'")
    with pytest.raises(RuntimeError, match="multi-Region"):
        migrate(url, "0056", down=True)
    assert _COLUMNS <= _columns(url)
    _execute(url, "DELETE FROM kms_keys WHERE key_id LIKE 'mrk-%'")
    migrate(url, "0056", down=True)
    assert not _COLUMNS & _columns(url)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
