"""Migration 0060 (KMS aliases per region, decision 0138): ``kms_aliases.region`` comes from
the key each existing alias points at, the primary key becomes (tenant, region, name) so one
name is taken once per region, on SQLite and on a real PostgreSQL; the downgrade refuses
while a name is taken in two regions."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_TENANT = "111111111111"
_SINGLE = "00000000-0000-4000-8000-000000000001"
_MRK = "mrk-0123456789abcdef0123456789abcdef"


def _execute(url: str, statement: str, **params: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _rows(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return [tuple(row) for row in conn.execute(sa.text(statement))]
    finally:
        engine.dispose()


def _primary_key(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return list(sa.inspect(engine).get_pk_constraint("kms_aliases")["constrained_columns"])
    finally:
        engine.dispose()


def _key(url: str, key_id: str, region: str) -> None:
    _execute(
        url,
        "INSERT INTO kms_keys (key_id, tenant_id, region, description, key_usage, key_spec, "
        "origin, state, created_at, rotation_enabled, rotation_period_days, policy, tags, "
        "format_version, revision) VALUES "
        "(:key_id, :tenant, :region, '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', "
        "'AWS_KMS', 'Enabled', '2027-01-01 00:00:00', false, 365, '{}', '[]', 1, 0)",
        key_id=key_id,
        tenant=_TENANT,
        region=region,
    )


def _alias(url: str, name: str, key_id: str) -> None:
    """An alias as made before 0060 (no region)."""
    _execute(
        url,
        "INSERT INTO kms_aliases (tenant_id, name, key_id, created_at, updated_at) "
        "VALUES (:tenant, :name, :key_id, '2027-01-01 00:00:00', '2027-01-01 00:00:00')",
        tenant=_TENANT,
        name=name,
        key_id=key_id,
    )


def _regional_alias(url: str, name: str, key_id: str, region: str) -> None:
    _execute(
        url,
        "INSERT INTO kms_aliases (tenant_id, name, key_id, created_at, updated_at, region) "
        "VALUES (:tenant, :name, :key_id, '2027-01-01 00:00:00', '2027-01-01 00:00:00', "
        ":region)",
        tenant=_TENANT,
        name=name,
        key_id=key_id,
        region=region,
    )


def _check(url: str) -> None:
    migrate(url, "0059")
    assert _primary_key(url) == ["tenant_id", "name"]
    _key(url, _SINGLE, "eu-fr-1")
    _key(url, f"{_MRK}@eu-fr-1", "eu-fr-1")
    _key(url, f"{_MRK}@eu-de-1", "eu-de-1")
    _alias(url, "alias/single", _SINGLE)
    _alias(url, "alias/app", f"{_MRK}@eu-de-1")
    migrate(url, "0060")
    assert _primary_key(url) == ["tenant_id", "region", "name"]
    assert sorted(_rows(url, "SELECT name, region, key_id FROM kms_aliases")) == [
        ("alias/app", "eu-de-1", f"{_MRK}@eu-de-1"),  # the region of the key it points at
        ("alias/single", "eu-fr-1", _SINGLE),
    ]
    # One name in each region now; twice in one region is still refused.
    _regional_alias(url, "alias/app", f"{_MRK}@eu-fr-1", "eu-fr-1")
    with pytest.raises(sa.exc.IntegrityError):
        _regional_alias(url, "alias/app", _SINGLE, "eu-fr-1")
    with pytest.raises(RuntimeError, match="more than one region"):
        migrate(url, "0059", down=True)
    assert _primary_key(url) == ["tenant_id", "region", "name"]
    _execute(url, "DELETE FROM kms_aliases WHERE region = 'eu-fr-1' AND name = 'alias/app'")
    migrate(url, "0059", down=True)
    assert _primary_key(url) == ["tenant_id", "name"]
    assert sorted(_rows(url, "SELECT name, key_id FROM kms_aliases")) == [
        ("alias/app", f"{_MRK}@eu-de-1"),
        ("alias/single", _SINGLE),
    ]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
