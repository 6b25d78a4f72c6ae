"""A bucket document's compare-and-set (decision 0154), on the memory, SQLite and PostgreSQL
stores: it replaces only the document it was given, and of two gateways swapping from the same
document — two ``Database``\\ s on one database, as two ``andromede serve`` processes — exactly
one wins. S3 Inventory's claims of its reports, and its configurations' writes, rest on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage.errors import NoSuchBucket
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from support.schema import migrated_sqlite

from .test_metadata_store import bucket

KIND = "inventory-runs"


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


async def test_a_swap_replaces_only_the_document_expected(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    store, _ = gateways
    await store.create_bucket(bucket("b"))
    assert not await store.swap_bucket_document("b", KIND, "old", "new")
    assert await store.get_bucket_document("b", KIND) is None
    assert await store.swap_bucket_document("b", KIND, None, "one")
    assert not await store.swap_bucket_document("b", KIND, None, "again")
    assert not await store.swap_bucket_document("b", KIND, "zero", "two")
    assert await store.swap_bucket_document("b", KIND, "one", "two")
    assert await store.get_bucket_document("b", KIND) == "two"
    assert not await store.swap_bucket_document("b", KIND, "one", None)
    assert await store.swap_bucket_document("b", KIND, "two", None)
    assert await store.get_bucket_document("b", KIND) is None
    assert await store.swap_bucket_document("b", KIND, None, None)  # none, as expected
    assert await store.list_bucket_documents(KIND, None, 10) == []
    with pytest.raises(NoSuchBucket):
        await store.swap_bucket_document("nowhere", KIND, None, "x")


async def test_of_concurrent_swaps_from_one_document_exactly_one_wins(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    first, second = gateways
    await first.create_bucket(bucket("b"))
    for round_ in range(8):
        expected = await first.get_bucket_document("b", KIND)
        results = await asyncio.gather(
            *(
                (first if n % 2 else second).swap_bucket_document(
                    "b", KIND, expected, f"{round_}-{n}"
                )
                for n in range(6)
            )
        )
        assert sum(results) == 1
        [winner] = [n for n, won in enumerate(results) if won]
        assert await second.get_bucket_document("b", KIND) == f"{round_}-{winner}"
