"""Migration 0003 keeps existing identities and gives them case-insensitive names."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config


def test_existing_users_get_a_name_key_and_a_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            conn.execute(
                sa.text("INSERT INTO tenants VALUES ('123456789012', 'acme', 'active', 0)")
            )
            conn.execute(
                sa.text("INSERT INTO users VALUES ('AIDA1', '123456789012', 'Alice', 0, 0)")
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            row = conn.execute(sa.text("SELECT name_key, path FROM users")).one()
            assert tuple(row) == ("alice", "/")
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, tenant_id, name, is_root, created_at, path, name_key)"
                    " VALUES ('AIDA2', '123456789012', 'ALICE', 0, 0, '/', 'alice')"
                )
            )
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
