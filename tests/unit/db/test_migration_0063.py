"""Migration 0063 (each tenant's instance metadata defaults, decision 0145): its table comes
and goes on SQLite and on a real PostgreSQL; the downgrade refuses while a tenant has
defaults set (launches would silently stop taking them), and goes once they are cleared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLE = "compute_metadata_defaults"


def _execute(url: str, statement: str, **params: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0062")
    assert not has_table(url, _TABLE)
    migrate(url, "0063")
    assert has_table(url, _TABLE)
    migrate(url, "0062", down=True)
    assert not has_table(url, _TABLE)
    migrate(url, "0063")
    document = json.dumps({"tenant_id": "111111111111", "http_tokens": "optional"})
    _execute(
        url,
        f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision) "  # noqa: S608
        "VALUES (:id, :id, :document, 1, 0)",
        id="111111111111",
        document=document,
    )
    with pytest.raises(RuntimeError, match=_TABLE):
        migrate(url, "0062", down=True)
    assert has_table(url, _TABLE)
    _execute(url, f"DELETE FROM {_TABLE}")  # noqa: S608
    migrate(url, "0062", down=True)
    assert not has_table(url, _TABLE)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
