"""Migration 0056 (which VPC is each tenant's default, decision 0137): its table comes and goes
on SQLite and on a real PostgreSQL; its downgrade loses nothing while rows name the derived
default VPC, and refuses once a tenant deleted its default VPC or made a new one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.compute.network import default_ids
from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLE = "compute_default_vpcs"


def _insert(url: str, tenant_id: str, vpc_id: str | None, subnet_id: str | None = None) -> None:
    document = json.dumps({"tenant_id": tenant_id, "vpc_id": vpc_id, "subnet_id": subnet_id})
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision) "  # noqa: S608
                    "VALUES (:id, :id, :document, 1, 0)"
                ),
                {"id": tenant_id, "document": document},
            )
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0055")
    assert not has_table(url, _TABLE)
    migrate(url, "0056")
    assert has_table(url, _TABLE)
    # A row naming the default VPC and subnet derived from the tenant's id says what no row
    # says.
    derived = default_ids("111111111111")
    _insert(url, "111111111111", derived.vpc_id, derived.subnet_id)
    migrate(url, "0055", down=True)
    assert not has_table(url, _TABLE)
    theirs = default_ids("222222222222")
    for vpc_id, subnet_id in (
        (None, None),  # the default VPC deleted
        ("vpc-0123456789abcdef0", "subnet-0123456789abcdef0"),  # made again: CreateDefaultVpc
        (theirs.vpc_id, "subnet-0123456789abcdef0"),  # its subnet made again: CreateDefaultSubnet
    ):
        migrate(url, "0056")
        _insert(url, "222222222222", vpc_id, subnet_id)
        with pytest.raises(RuntimeError, match=_TABLE):
            migrate(url, "0055", down=True)
        assert has_table(url, _TABLE)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {_TABLE}"))  # noqa: S608
        finally:
            engine.dispose()
        migrate(url, "0055", down=True)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
