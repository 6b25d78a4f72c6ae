"""Migration 0072 (VPC gateway endpoints, decision 0160): its table comes and goes on
SQLite and on a real PostgreSQL; the downgrade refuses while an endpoint exists (routes
would name nothing), and goes once they are deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLE = "compute_vpc_endpoints"
_BEFORE = "0071"


def _execute(url: str, statement: str, **params: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not has_table(url, _TABLE)
    migrate(url, "0072")
    assert has_table(url, _TABLE)
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0072")
    document = json.dumps({"vpc_endpoint_id": "vpce-0123456789abcdef0"})
    _execute(
        url,
        f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision) "  # noqa: S608
        "VALUES (:id, '111111111111', :document, 1, 0)",
        id="vpce-0123456789abcdef0",
        document=document,
    )
    with pytest.raises(RuntimeError, match=_TABLE):
        migrate(url, _BEFORE, down=True)
    assert has_table(url, _TABLE)
    _execute(url, f"DELETE FROM {_TABLE}")  # noqa: S608
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
