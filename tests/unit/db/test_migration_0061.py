"""Migration 0061 (scheduled rotation of the audit log signing key, decision 0140's addendum):
``audit_signing_keys`` gains the rotation claim and the sealed key, both empty for the key a
region already registered, which keeps its public key and age; on the way down the columns
go and the key stays. On SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("audit_signing_keys")}
    finally:
        engine.dispose()


def _rows(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0060")
    _rows(
        url,
        "INSERT INTO audit_signing_keys (key_name, public_key, created_at) VALUES"
        " ('s3.test/eu-test-1/audit', :key, '2026-12-05 00:00:00+00:00')",
        key=b"\x01\x02",
    )
    assert "sealed_key" not in _columns(url)
    migrate(url, "0061")
    assert {"rotation_claimed_until", "sealed_key"} <= _columns(url)
    [row] = _rows(
        url, "SELECT public_key, rotation_claimed_until, sealed_key FROM audit_signing_keys"
    )
    assert (bytes(row[0]), row[1], row[2]) == (b"\x01\x02", None, None)  # type: ignore[call-overload]
    migrate(url, "0060", down=True)
    assert not {"rotation_claimed_until", "sealed_key"} & _columns(url)
    assert len(_rows(url, "SELECT key_name FROM audit_signing_keys")) == 1


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
