"""Migration 0042 (metering and billing, decision 0108): its tables come and go on SQLite and
on a real PostgreSQL, and going back is refused once usage is recorded, since invoices are
made from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import create_engine
from support.migrations import migrate

NOW = datetime(2026, 12, 5, tzinfo=UTC)
BILLING_TABLES = {
    "billing_usage",
    "billing_samplers",
    "billing_runs",
    "billing_prices",
    "billing_vat_rates",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _execute(url: str, statement: sa.Executable) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0042")
    assert BILLING_TABLES <= _tables(url)
    _execute(
        url,
        tables.billing_usage.insert().values(
            tenant_id="t", hour=NOW, region="r", meter="kms.requests", quantity=2**40
        ),
    )
    with pytest.raises(RuntimeError, match="billing usage is recorded"):
        migrate(url, "0040", down=True)
    assert BILLING_TABLES <= _tables(url)
    _execute(url, tables.billing_usage.delete())
    migrate(url, "0040", down=True)
    assert not BILLING_TABLES & _tables(url)
    migrate(url, "0042")
    assert BILLING_TABLES <= _tables(url)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
