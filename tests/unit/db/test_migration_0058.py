"""Migration 0058 (VPC peering connections, decision 0139): its table comes and goes on SQLite
and on a real PostgreSQL, and its downgrade refuses while a connection is stored — both sides'
route tables name it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLE = "compute_vpc_peering_connections"


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0057")
    assert not has_table(url, _TABLE)
    migrate(url, "0058")
    assert has_table(url, _TABLE)
    migrate(url, "0057", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0058")
    row = "(id, tenant_id, document, format_version, revision) VALUES ('pcx-1', 't', '{}', 1, 0)"
    _execute(url, f"INSERT INTO {_TABLE} {row}")
    with pytest.raises(RuntimeError, match=_TABLE):
        migrate(url, "0057", down=True)
    assert has_table(url, _TABLE)
    _execute(url, f"DELETE FROM {_TABLE}")  # noqa: S608
    migrate(url, "0057", down=True)
    assert not has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
