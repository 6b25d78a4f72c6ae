"""Migration 0076 (decision 0163's addendum): upgrading keeps the events queued in clear for
the start-up step to seal; downgrading deletes the sealed ones, which an earlier release
would push as their ciphertext, and keeps the clear ones."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config

_INSERT = sa.text(
    "INSERT INTO notification_events (tenant_id, topic_arn, message, format_version, attempts,"
    " not_before, created_at) VALUES ('t1', 'arn:aws:sns:eu:t1:e', :message, :version, 0, 0, 0)"
)
_HELD = sa.text("SELECT message, format_version FROM notification_events ORDER BY id")


def test_clear_rows_stay_and_sealed_ones_go_on_downgrade(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0075")
            conn.execute(_INSERT, {"message": "clear", "version": 1})
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0076")
            assert conn.execute(_HELD).all() == [("clear", 1)]
            conn.execute(_INSERT, {"message": '{"sealed":"AAAA"}', "version": 2})
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0075")
            assert conn.execute(_HELD).all() == [("clear", 1)]
    finally:
        engine.dispose()
