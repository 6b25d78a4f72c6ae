"""Migration 0062 (DHCP options sets, decision 0143): its table comes and goes on SQLite and on
a real PostgreSQL, and its downgrade refuses while a VPC is associated with a set — the VPC
would name a set that is no more; the accounts' default sets alone are no obstacle."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLE = "compute_dhcp_options"


def _execute(url: str, statement: str, **values: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), values)
    finally:
        engine.dispose()


def _insert(url: str, table: str, row_id: str, document: str) -> None:
    _execute(
        url,
        f"INSERT INTO {table} (id, tenant_id, document, format_version, revision)"  # noqa: S608
        " VALUES (:id, 't', :document, 1, 0)",
        id=row_id,
        document=document,
    )


def _vpc(number: int, options: str) -> str:
    return f'{{"vpc_id":"vpc-{number}","dhcp_options_id":"{options}"}}'


def _check(url: str) -> None:
    migrate(url, "0061")
    assert not has_table(url, _TABLE)
    migrate(url, "0062")
    assert has_table(url, _TABLE)
    migrate(url, "0061", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0062")
    # A default set stored, VPCs naming "default" and none: the downgrade loses nothing.
    _insert(url, _TABLE, "dopt-1", "{}")
    _insert(url, "compute_vpcs", "vpc-1", _vpc(1, "default"))
    _insert(url, "compute_vpcs", "vpc-2", _vpc(2, ""))
    migrate(url, "0061", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0062")
    _insert(url, "compute_vpcs", "vpc-3", _vpc(3, "dopt-1"))
    with pytest.raises(RuntimeError, match="DHCP options sets"):
        migrate(url, "0061", down=True)
    assert has_table(url, _TABLE)
    _execute(url, "DELETE FROM compute_vpcs WHERE id = 'vpc-3'")
    migrate(url, "0061", down=True)
    assert not has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
