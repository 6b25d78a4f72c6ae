"""Migration 0077 (SQS FIFO queues, decision 0164): the group column and the two tables come
and go on SQLite and on a real PostgreSQL, a standard queue's messages keep no group, and the
downgrade refuses while a FIFO queue holds a message (the release before would deliver it out
of its group's order)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import migrate

_BEFORE = "0076"


def _execute(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _shape(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("queue_messages")}
        return columns, set(inspector.get_table_names())
    finally:
        engine.dispose()


def _insert(url: str, message_id: str, group: str | None) -> None:
    column, value = (", group_key", f", '{group}'") if group else ("", "")
    _execute(
        url,
        "INSERT INTO queue_messages (message_id, tenant_id, queue_name, sealed, format_version,"  # noqa: S608
        f" sent_at, visible_at, expires_at, receive_count{column}) VALUES ('{message_id}',"
        " '111111111111', 'q', 'x', 1, '2026-12-05 12:00:00', '2026-12-05 12:00:00',"
        f" '2026-12-09 12:00:00', 0{value})",
    )


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert "group_key" not in _shape(url)[0]
    _insert(url, "old", None)
    migrate(url, "0077")
    columns, tables = _shape(url)
    assert "group_key" in columns
    assert {"queue_deduplications", "queue_receive_attempts"} <= tables
    assert _execute(url, "SELECT group_key FROM queue_messages WHERE message_id = 'old'") == [
        (None,)
    ]
    _insert(url, "ordered", "g" * 64)
    with pytest.raises(RuntimeError, match="FIFO"):
        migrate(url, _BEFORE, down=True)
    _execute(url, "DELETE FROM queue_messages WHERE message_id = 'ordered'")
    migrate(url, _BEFORE, down=True)
    columns, tables = _shape(url)
    assert "group_key" not in columns and "queue_deduplications" not in tables
    assert _execute(url, "SELECT message_id FROM queue_messages") == [("old",)]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
