"""A bucket's ABAC status and tags as every request reads them (decision 0418), on the memory,
SQLite and PostgreSQL stores: with the bucket, in its one read, the tags only while ABAC is
Enabled; a change made through one gateway (two ``Database``\\ s on one database, as two
``andromede serve`` processes) is what the other's next read of the bucket sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage.abac import ABAC_DOCUMENT, ABAC_ENABLED
from andromede.storage.model import Bucket
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from support.schema import migrated_sqlite

from .test_metadata_store import bucket, record


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[MetadataStore, MetadataStore]]:
    if request.param == "memory":
        store = MemoryMetadataStore()
        yield store, store
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    first, second = open_database(url), open_database(url)
    try:
        yield SqlMetadataStore(first), SqlMetadataStore(second)
    finally:
        await first.close()
        await second.close()


async def reads(store: MetadataStore) -> list[Bucket]:
    """Every way the request path and the listings read the bucket ``b1`` of ``t1``."""
    found = [
        await store.get_bucket("b1"),
        (await store.get_bucket_and_object("b1", "k"))[0],
        (await store.get_bucket_and_object("b1", "missing"))[0],
        *(await store.list_buckets("t1")),
    ]
    return [b for b in found if b is not None]


async def test_the_tags_come_with_the_bucket_only_while_abac_is_enabled(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    writer, reader = gateways
    await writer.create_bucket(bucket())
    await writer.put_object(record("k"))
    await writer.put_bucket_tags("b1", (("team", "blue"), ("env", "prod")))
    assert {b.abac_tags for b in await reads(reader)} == {None}
    await writer.put_bucket_document("b1", ABAC_DOCUMENT, ABAC_ENABLED)
    assert {b.abac_tags for b in await reads(reader)} == {(("team", "blue"), ("env", "prod"))}
    # Retagged through the other gateway (TagResource): the next read has the new set.
    await writer.put_bucket_tags("b1", (("team", "red"),))
    assert {b.abac_tags for b in await reads(reader)} == {(("team", "red"),)}
    await writer.put_bucket_tags("b1", None)
    assert {b.abac_tags for b in await reads(reader)} == {()}
    assert all(b.abac_enabled for b in await reads(reader))
    await writer.put_bucket_tags("b1", (("team", "blue"),))
    await writer.put_bucket_document("b1", ABAC_DOCUMENT, None)
    assert {b.abac_tags for b in await reads(reader)} == {None}
    assert await reader.get_bucket_tags("b1") == (("team", "blue"),)


async def test_a_bucket_made_again_starts_disabled(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    writer, reader = gateways
    await writer.create_bucket(bucket())
    await writer.put_bucket_tags("b1", (("team", "blue"),))
    await writer.put_bucket_document("b1", ABAC_DOCUMENT, ABAC_ENABLED)
    await writer.delete_bucket("b1")
    await writer.create_bucket(bucket())
    found = await reader.get_bucket("b1")
    assert found is not None and found.abac_tags is None
