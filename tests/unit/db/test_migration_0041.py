"""Migration 0041 (operator access requests and audit retention, decision 0107) on SQLite:
the requests' table comes and goes, an entry's text may become NULL and a log counts its
pruned prefix (0 for logs of before), and going back is refused once entries were pruned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from andromede.db import tables
from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def _migrate(url: str, target: str, *, down: bool = False) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            (command.downgrade if down else command.upgrade)(alembic_config(conn), target)
    finally:
        engine.dispose()


def _execute(url: str, statement: sa.Executable) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(statement)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def test_up_and_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    _migrate(url, "0040")
    log = sa.table(
        "audit_logs", sa.column("log_id"), sa.column("size"), sa.column("root_hash"),
        sa.column("updated_at"),
    )  # fmt: skip
    _execute(url, log.insert().values(log_id="t", size=1, root_hash=b"r" * 32, updated_at=NOW))
    _migrate(url, "0041")
    assert _execute(url, sa.select(tables.audit_logs.c.pruned_size)) == [(0,)]
    _execute(
        url,
        tables.audit_log_entries.insert().values(
            log_id="t", leaf_index=0, entry=None, leaf_hash=b"h" * 32
        ),
    )
    engine = create_engine(url)
    try:
        assert "operator_access_requests" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    _execute(url, tables.audit_logs.update().values(pruned_size=1))
    with pytest.raises(RuntimeError, match="pruned"):
        _migrate(url, "0040", down=True)
    _execute(url, tables.audit_log_entries.delete())
    _execute(url, tables.audit_logs.update().values(pruned_size=0))
    _migrate(url, "0040", down=True)
    engine = create_engine(url)
    try:
        assert "operator_access_requests" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
