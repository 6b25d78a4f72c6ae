"""The account-level Block Public Access (decision 0152) over every MetadataStore, and the
object service's joining of it into the buckets it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.model import Bucket, PublicAccessBlock
from andromede.storage.service import ObjectService, StorageLimits
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from support.keys import cipher_in
from support.schema import migrated_sqlite

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=1000,
    max_parts=100,
    max_key_length=100,
    max_user_metadata_size=64,
    read_chunk_size=777,
    deletion_grace=30.0,
)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    if request.param == "memory":
        yield MemoryMetadataStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield SqlMetadataStore(db)
    finally:
        await db.close()


async def test_account_block_put_get_replace_delete(store: MetadataStore) -> None:
    assert await store.get_account_public_access_block("t1") is None
    block = PublicAccessBlock(True, False, True, False)
    await store.put_account_public_access_block("t1", block)
    assert await store.get_account_public_access_block("t1") == block
    assert await store.get_account_public_access_block("t2") is None
    other = PublicAccessBlock(False, True, False, True)
    await store.put_account_public_access_block("t1", other)
    assert await store.get_account_public_access_block("t1") == other
    await store.put_account_public_access_block("t1", None)
    assert await store.get_account_public_access_block("t1") is None
    await store.put_account_public_access_block("t1", None)  # deleting nothing is no error


async def test_the_service_joins_the_account_block_into_its_buckets(
    store: MetadataStore, tmp_path: Path
) -> None:
    objects = ObjectService(store, MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "keys"))
    await store.create_bucket(
        Bucket(
            name="b1",
            tenant_id="t1",
            owner_id="o-t1",
            region="eu",
            created_at=T0,
            public_access_block=PublicAccessBlock(False, False, False, False),
        )
    )
    read = await objects.get_bucket("b1")
    assert read.account_public_access_block is None
    assert read.effective_public_access_block == PublicAccessBlock(False, False, False, False)
    await objects.put_account_public_access_block("t1", PublicAccessBlock(False, True, False, True))
    read = await objects.get_bucket("b1")
    assert read.public_access_block == PublicAccessBlock(False, False, False, False)
    assert read.effective_public_access_block == PublicAccessBlock(False, True, False, True)
    looked_up = await objects.look_up_object("b1", "nothing")
    assert looked_up.bucket.effective_public_access_block == PublicAccessBlock(
        False, True, False, True
    )
    await objects.put_account_public_access_block("t1", None)
    assert (await objects.get_bucket("b1")).account_public_access_block is None


async def test_another_gateways_change_holds_at_once(store: MetadataStore, tmp_path: Path) -> None:
    objects = ObjectService(store, MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "keys"))
    await store.create_bucket(
        Bucket(name="b1", tenant_id="t1", owner_id="o-t1", region="eu", created_at=T0)
    )
    await store.create_bucket(
        Bucket(name="b2", tenant_id="t2", owner_id="o-t2", region="eu", created_at=T0)
    )
    assert (await objects.get_bucket("b1")).account_public_access_block is None
    block = PublicAccessBlock(True, True, True, True)
    # Written by another gateway: straight into the store, past this service.
    await store.put_account_public_access_block("t1", block)
    assert (await objects.get_bucket("b1")).account_public_access_block == block
    assert (await objects.look_up_object("b1", "k")).bucket.account_public_access_block == block
    assert [b.account_public_access_block for b in await store.list_buckets("t1")] == [block]
    # Another account's buckets are not concerned.
    assert (await objects.get_bucket("b2")).account_public_access_block is None
