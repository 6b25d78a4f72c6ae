"""Migration 0073 (secondary private addresses, decision 0161): the table comes and goes on
SQLite and on a real PostgreSQL; the downgrade refuses while an interface holds an address
(it would lose its holder), and goes once none does."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_BEFORE = "0072"
_TABLE = "compute_private_addresses"


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not has_table(url, _TABLE)
    migrate(url, "0073")
    assert has_table(url, _TABLE)
    _execute(
        url,
        f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision) "  # noqa: S608
        "VALUES ('subnet-1:10.0.0.9', '111111111111', '{}', 1, 0)",
    )
    with pytest.raises(sa.exc.IntegrityError):
        _execute(
            url,
            f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision) "  # noqa: S608
            "VALUES ('subnet-1:10.0.0.9', '222222222222', '{}', 1, 0)",
        )
    with pytest.raises(RuntimeError, match=_TABLE):
        migrate(url, _BEFORE, down=True)
    _execute(url, f"DELETE FROM {_TABLE}")  # noqa: S608
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
