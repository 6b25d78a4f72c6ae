"""Decision 0275 over every DynamoDB store: a stream's shard layout (partitions, shard
lifetime) kept with it, numbers that carry their record's time, and one shard read over the
single change log — its partition's records only, below its generation's bound, within a
limit, a page of bytes and a scanning budget, ``exhausted`` once the log ran out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.model import BillingMode, KeyElement, StoredItem, Table
from andromede.dynamodb.store import ABSENT, DynamoStore
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.stream_shards import ShardScan, partition_of
from andromede.dynamodb.streams import SEQUENCE_BASE, ChangeRecord, Stream, StreamViewType
from support.store_backends import BACKENDS, backend_database

EVEN = b"\x00" * 7 + b"\x02"  # partition 0 of 2
ODD = b"\x00" * 7 + b"\x03"  # partition 1 of 2


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DynamoStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDynamoStore() if db is None else SqlDynamoStore(db)


def _table() -> Table:
    return Table(
        tenant_id="t1",
        name="a",
        region="eu-fr-1",
        created=1,
        hash_key=KeyElement("pk", "S"),
        sort_key=None,
        attributes=(KeyElement("pk", "S"),),
        billing_mode=BillingMode.PAY_PER_REQUEST,
        read_capacity=0,
        write_capacity=0,
        wrapped_key=b"w",
    )


def _stream() -> Stream:
    return Stream(
        tenant_id="t1",
        table_name="a",
        label="L1",
        region="eu-fr-1",
        created=10,
        view_type=StreamViewType.NEW_IMAGE,
        hash_key=KeyElement("pk", "S"),
        sort_key=None,
        table_created=1,
        wrapped_key=b"w",
        iterator_key=b"k" * 32,
        next_sequence=10 * SEQUENCE_BASE + 1,
        trimmed_to=10 * SEQUENCE_BASE + 1,
        partitions=2,
        shard_lifetime_ms=100,
    )


async def _put(store: DynamoStore, hash_token: bytes, n: int, created: int) -> None:
    sort = bytes([n])
    row = StoredItem(hash_token, sort, b"sealed" + sort, 10, 1)
    record = ChangeRecord("INSERT", hash_token, sort, None, row.sealed, 10, created)
    assert await store.put_item("t1", "a", row, ABSENT, record)


def _scan(partition: int, end: int, start: int, **more: int) -> ShardScan:
    limits = {"limit": 100, "max_bytes": 1 << 20, "budget": 100} | more
    return ShardScan(partition, 2, end, following=start, **limits)


async def test_a_shard_reads_its_partition_below_its_bound(store: DynamoStore) -> None:
    assert partition_of(EVEN, 2) == 0 and partition_of(ODD, 2) == 1
    await store.create_table(_table(), max_tables=10)
    await store.create_stream(_stream())
    held = await store.get_stream("t1", "a", "L1")
    assert held is not None and (held.partitions, held.shard_lifetime_ms) == (2, 100)
    # Generation 0 is [10, 110) ms; generation 1 from 110.
    for n, (token, created) in enumerate(
        [(EVEN, 20), (ODD, 20), (EVEN, 30), (ODD, 109), (EVEN, 110), (ODD, 150)]
    ):
        await _put(store, token, n, created)
    log = await store.read_changes("t1", "a", "L1", 0, 100, 1 << 20)
    numbers = [r.sequence for r in log]
    assert numbers == [20 * SEQUENCE_BASE + 1, 20 * SEQUENCE_BASE + 2] + [
        c * SEQUENCE_BASE + 1 for c in (30, 109, 110, 150)
    ]
    bound = 110 * SEQUENCE_BASE + 1
    first = 10 * SEQUENCE_BASE + 1

    even = _scan(0, bound, first)
    await store.read_shard("t1", "a", "L1", first, even)
    assert [r.change.sort_token for r in even.records] == [b"\x00", b"\x02"]
    assert even.exhausted  # the next record is past the bound
    assert even.following == numbers[3] + 1

    odd_later = _scan(1, 1 << 62, bound)
    await store.read_shard("t1", "a", "L1", bound, odd_later)
    assert [r.change.sort_token for r in odd_later.records] == [b"\x05"]
    assert odd_later.exhausted and odd_later.following == numbers[5] + 1

    limited = _scan(0, bound, first, limit=1)
    await store.read_shard("t1", "a", "L1", first, limited)
    assert len(limited.records) == 1 and not limited.exhausted
    assert limited.following == numbers[0] + 1  # goes on after the one it took

    by_bytes = _scan(0, bound, first, max_bytes=15)
    await store.read_shard("t1", "a", "L1", first, by_bytes)
    assert len(by_bytes.records) == 1 and not by_bytes.exhausted  # the first always

    budgeted = _scan(1, bound, first, budget=1)
    await store.read_shard("t1", "a", "L1", first, budgeted)
    assert budgeted.records == [] and not budgeted.exhausted
    assert budgeted.following == numbers[0] + 1  # passed one record of the other partition
