"""Migration 0006 keeps parts and queued deletions, which then belong to the default region."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from andromede.db.database import create_engine, open_database
from andromede.db.migrate import alembic_config
from andromede.storage.store_sql import SqlMetadataStore


def test_rows_from_before_regions_are_the_default_regions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0005")
            conn.execute(
                sa.text(
                    "INSERT INTO buckets (name, tenant_id, owner_id, region, created_at)"
                    " VALUES ('b', 't', 'o', 'eu-fr-1', 0)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO multipart_uploads VALUES ('u1', 'b', 'k', 0, 'o', '{}', NULL,"
                    " NULL, 2, NULL)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO parts (upload_id, part_number, blob_id, size, etag,"
                    " last_modified) VALUES ('u1', 1, 'old-part', 5, 'e', 0)"
                )
            )
            conn.execute(
                sa.text("INSERT INTO blob_deletions (blob_id, not_before) VALUES ('old-blob', 0)")
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()

    async def check() -> None:
        db = open_database(url)
        try:
            store = SqlMetadataStore(db)
            [part] = await store.get_parts("u1", [1])
            assert (part.blob_id, part.region) == ("old-part", None)
            now = datetime.now(UTC)
            assert await store.take_due_blob_deletions(now, 10, regions=["eu-de-1"]) == []
            taken = await store.take_due_blob_deletions(now, 10, regions=["eu-fr-1", None])
            assert taken == ["old-blob"]
        finally:
            await db.close()

    asyncio.run(check())
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
