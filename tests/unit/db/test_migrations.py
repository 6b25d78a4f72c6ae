"""The migrations reproduce ``tables.metadata`` exactly, and running them again changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config, upgrade
from andromede.db.tables import metadata

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted(ix["name"] or "" for ix in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }


def _inspect(url: str) -> tuple[list[Any], dict[str, Any], str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = _diff(conn)
            schema = _schema(conn)
            version = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()
    return diff, schema, version


def test_upgrade_matches_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    diff, schema, version = _inspect(url)
    assert diff == []
    assert version == HEAD
    assert set(schema) == set(metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    _, before, _ = _inspect(url)
    upgrade(url)
    diff, after, version = _inspect(url)
    assert diff == []
    assert after == before
    assert version == HEAD


def test_a_diff_is_detected(tmp_path: Path) -> None:
    # Guard against a comparison that cannot fail: a schema missing a column must show up.
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_parts_blob_id"))
            diff = _diff(conn)
    finally:
        engine.dispose()
    assert diff and diff[0][0] == "add_index"


def test_buckets_made_before_0002_keep_acls_disabled_and_no_public_access_block(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(
                sa.text(
                    "INSERT INTO buckets (name, tenant_id, owner_id, region, created_at) "
                    "VALUES ('old', 't', 'o', 'eu', 0)"
                )
            )
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT object_ownership, policy, public_access_block FROM buckets "
                    "WHERE name = 'old'"
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("BucketOwnerEnforced", None, None)
