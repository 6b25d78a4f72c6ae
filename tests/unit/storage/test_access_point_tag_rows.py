"""Access point rows written before decision 0392 (format 1: ``public_access_block`` the
Block Public Access alone) are read with no tags, and the first tag change rewrites the row as
format 2 with its Block Public Access kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from andromede.db import tables
from andromede.db.database import open_database
from andromede.storage.access_points import SqlAccessPointStore
from andromede.storage.model import PublicAccessBlock
from support.schema import migrated_sqlite


async def test_a_format_1_row_is_read_and_upgraded_by_a_tag_change(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    block = PublicAccessBlock(True, False, True, False)
    row = {
        "tenant_id": "111111111111",
        "name": "old",
        "bucket": "b1",
        "bucket_account": "111111111111",
        "alias": "old-abcdefghijklmn-s3alias",
        "policy": None,
        "vpc_id": None,
        "public_access_block": block.to_json(),
        "format_version": 1,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    await db.write(lambda conn: conn.execute(tables.access_points.insert(), [row]))
    store = SqlAccessPointStore(db)
    found = await store.get("111111111111", "old")
    assert found is not None
    assert (found.public_access_block, found.tags) == (block, ())
    assert await store.change_tags("111111111111", "old", lambda tags: (("k", "v"),))
    found = await store.get("111111111111", "old")
    assert found is not None
    assert (found.public_access_block, found.tags) == (block, (("k", "v"),))
    version = await db.read(
        lambda conn: conn.execute(
            tables.access_points.select().with_only_columns(tables.access_points.c.format_version)
        ).scalar_one()
    )
    assert version == 2
    await db.close()
