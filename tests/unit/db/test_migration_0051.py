"""Migration 0051 (billing profiles and credit notes, decision 0126): its three tables come and
go on SQLite and on a real PostgreSQL, and its downgrade refuses while a credit note or a
profile is stored — accounting records and what invoices yet to issue need are not dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_TABLES = {"billing_profiles", "billing_credit_notes", "billing_credit_note_sequences"}
_AT = datetime(2027, 1, 5, tzinfo=UTC)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) & _TABLES
    finally:
        engine.dispose()


def _execute(url: str, statement: str, **values: object) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), values)
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0050")
    assert _tables(url) == set()
    migrate(url, "0051")
    assert _tables(url) == _TABLES
    migrate(url, "0050", down=True)
    assert _tables(url) == set()
    migrate(url, "0051")
    for table, row in (
        (
            "billing_credit_notes",
            "(number, invoice_number, tenant_id, issued_at, document) "
            "VALUES ('AV-2027-000001', 'INV-2027-000001', 't', :at, '{}')",
        ),
        ("billing_profiles", "(tenant_id, updated_at, document) VALUES ('t', :at, '{}')"),
    ):
        at = _AT if url.startswith("postgresql") else 0
        _execute(url, f"INSERT INTO {table} {row}", at=at)
        with pytest.raises(RuntimeError, match=table):
            migrate(url, "0050", down=True)
        assert _tables(url) == _TABLES
        _execute(url, f"DELETE FROM {table}")  # noqa: S608
    migrate(url, "0050", down=True)
    assert _tables(url) == set()


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
