"""Migration 0039 (Object Lock, decision 0102): its columns come and go on SQLite and on a
real PostgreSQL, and going back is refused while a bucket has Object Lock, since dropping the
columns would lift every retention and legal hold."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import create_engine
from andromede.storage.object_lock import ObjectLockConfiguration
from support.migrations import migrate

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _columns(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            for table in ("buckets", "objects", "object_versions")
        }
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0039")
    assert all("object_lock" in names for names in _columns(url).values())
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.buckets.insert().values(
                    name="vault", tenant_id="t", owner_id="o", region="r", created_at=NOW,
                    versioning="Enabled", object_lock=ObjectLockConfiguration().to_json(),
                )
            )  # fmt: skip
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match="Object Lock"):
        migrate(url, "0038", down=True)
    assert all("object_lock" in names for names in _columns(url).values())
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(tables.buckets.delete().where(tables.buckets.c.name == "vault"))
    finally:
        engine.dispose()
    migrate(url, "0038", down=True)
    assert not any("object_lock" in names for names in _columns(url).values())


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
