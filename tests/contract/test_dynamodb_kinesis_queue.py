"""Decision 0262's forwarding queue over every implementation of the DynamoDB store (memory,
SQLite, PostgreSQL): a write's change queued with it only while its table forwards, both of
the item's sealed rows kept whatever the stream's view, a time-to-live deletion queued when
the table forwards, the oldest first, removal by number, one lease holder at a time, and
the queue dropped and forgotten with the tenant."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.kinesis_destinations import DestinationStatus, KinesisDestination
from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.model import BillingMode, KeyElement, StoredItem, Table
from andromede.dynamodb.store import DynamoStore
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.streams import ChangeRecord
from support.store_backends import BACKENDS, backend_database

ARN = "arn:aws:kinesis:eu-fr-1:t1:stream/changes"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DynamoStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDynamoStore() if db is None else SqlDynamoStore(db)


def _table(forwarding: bool, revision: int = 1) -> Table:
    status = DestinationStatus.ACTIVE if forwarding else DestinationStatus.DISABLED
    return Table(
        tenant_id="t1",
        name="things",
        region="eu-fr-1",
        created=1_800_000_000_000,
        hash_key=KeyElement("pk", "S"),
        sort_key=None,
        attributes=(KeyElement("pk", "S"),),
        billing_mode=BillingMode.PAY_PER_REQUEST,
        read_capacity=0,
        write_capacity=0,
        wrapped_key=b"\x01wrapped",
        revision=revision,
        kinesis=(KinesisDestination(ARN, status),),
    )


def _change(token: bytes, old: bytes | None, new: bytes | None, forwarded: bool) -> ChangeRecord:
    event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    return ChangeRecord(
        event, b"h", token, None, new, 3, 1_800_000_000_100,
        version=new, version_size=0 if new is None else 3,
        forwarded=forwarded, forward_old=old, forward_old_size=0 if old is None else 3,
    )  # fmt: skip


async def test_changes_are_queued_with_both_rows_and_removed_by_number(
    store: DynamoStore,
) -> None:
    await store.create_table(_table(True), max_tables=5)
    row = StoredItem(b"h", b"1", b"new-1", 3)
    assert await store.put_item("t1", "things", row, None, _change(b"1", None, b"new-1", True))
    changed = StoredItem(b"h", b"1", b"new-2", 3)
    record = _change(b"1", b"new-1", b"new-2", True)
    assert await store.put_item("t1", "things", changed, None, record)
    assert await store.put_item(
        "t1", "things", StoredItem(b"h", b"2", b"x", 3), None, _change(b"2", None, b"x", True)
    )
    assert await store.queued_tables(10) == [("t1", "things")]
    queued = await store.queued("t1", "things", 10)
    assert [(q.change.event, q.change.forward_old, q.change.version) for q in queued] == [
        ("INSERT", None, b"new-1"),
        ("MODIFY", b"new-1", b"new-2"),
        ("INSERT", None, b"x"),
    ]
    assert queued[0].number < queued[1].number < queued[2].number
    assert queued[1].change.created == 1_800_000_000_100
    assert await store.queued("t1", "things", 1) == queued[:1]
    await store.dequeue("t1", "things", [queued[0].number, queued[2].number])
    assert await store.queued("t1", "things", 10) == [queued[1]]
    await store.drop_queue("t1", "things")
    assert await store.queued_tables(10) == []


async def test_only_forwarding_tables_queue_and_expiry_is_queued(store: DynamoStore) -> None:
    await store.create_table(_table(False), max_tables=5)
    expiring = dataclasses.replace(StoredItem(b"h", b"1", b"old", 3), expires=100)
    assert await store.put_item("t1", "things", expiring, None, _change(b"1", None, b"o", False))
    await store.expire(now=200, limit=10)
    assert await store.queued("t1", "things", 10) == []
    assert await store.replace_table(_table(True, revision=2))
    assert await store.put_item("t1", "things", expiring, None, None)
    await store.expire(now=200, limit=10)
    [queued] = await store.queued("t1", "things", 10)
    assert (queued.change.event, queued.change.by_service) == ("REMOVE", True)
    assert (queued.change.forward_old, queued.change.version) == (b"old", None)


async def test_one_lease_holder_at_a_time_and_the_tenant_forgotten(store: DynamoStore) -> None:
    assert await store.take_lease("t1", "things", "gw-1", now=0, until=1000)
    assert not await store.take_lease("t1", "things", "gw-2", now=500, until=1500)
    assert await store.take_lease("t1", "things", "gw-1", now=500, until=1500)  # renewed
    assert await store.take_lease("t1", "things", "gw-2", now=1500, until=2500)  # ran out
    await store.create_table(_table(True), max_tables=5)
    row = StoredItem(b"h", b"1", b"new-1", 3)
    await store.put_item("t1", "things", row, None, _change(b"1", None, b"new-1", True))
    await store.forget_tenant("t1")
    assert await store.queued_tables(10) == []


async def test_a_deleted_tables_queue_goes_with_it(store: DynamoStore) -> None:
    await store.create_table(_table(True), max_tables=5)
    row = StoredItem(b"h", b"1", b"new-1", 3)
    await store.put_item("t1", "things", row, None, _change(b"1", None, b"new-1", True))
    assert await store.take_lease("t1", "things", "gw-1", now=0, until=1000)
    assert await store.delete_table("t1", "things")
    assert await store.queued_tables(10) == []
    assert await store.take_lease("t1", "things", "gw-2", now=500, until=1500)
