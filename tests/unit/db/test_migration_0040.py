"""Migration 0040 (the audit transparency log, decision 0105): its tables come and go on SQLite
and on a real PostgreSQL, the events of ``audit_events`` stay where they were, and going back
is refused while a log has entries, since that would erase a trail tenants hold checkpoints of."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import create_engine
from support.migrations import migrate

NOW = datetime(2026, 12, 4, tzinfo=UTC)
LOG_TABLES = {"audit_logs", "audit_log_entries", "audit_log_nodes", "audit_signing_keys"}


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
    migrate(url, "0039")
    old_event = tables.audit_events.insert().values(
        occurred_at=NOW, request_id="R0", tenant_id="t", principal=None, action="s3:PutObject",
        resource="arn:aws:s3:::b", outcome="success", details="{}",
    )  # fmt: skip
    _execute(url, old_event)
    migrate(url, "0040")
    assert LOG_TABLES <= _tables(url)
    _execute(
        url,
        tables.audit_log_entries.insert().values(
            log_id="t", leaf_index=0, entry="{}", leaf_hash=b"h"
        ),
    )
    with pytest.raises(RuntimeError, match="transparency log has entries"):
        migrate(url, "0039", down=True)
    assert LOG_TABLES <= _tables(url)
    _execute(url, tables.audit_log_entries.delete())
    migrate(url, "0039", down=True)
    assert not LOG_TABLES & _tables(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            kept = conn.execute(sa.select(tables.audit_events.c.request_id)).scalars().all()
    finally:
        engine.dispose()
    assert kept == ["R0"]


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
