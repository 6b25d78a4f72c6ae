"""Decision 0237's DynamoDB store over every implementation (memory, SQLite, PostgreSQL): one
name an account, the account's table bound, compare-and-set table changes, items written
only over the revision read (absent, or the one held), queries in sort-token order between
bounds both ways and after a position, scans in key order within a segment, usage, expiry
and a closed tenant forgotten; decision 0246's streams: records appended with their writes
(and only then) to the table's enabled stream, numbered in order, read by number within a
count and bytes, time-to-live deletions recorded, pruned past the retention; decision 0253's
backups: the sealed rows of the table's revision copied at once, outliving the table, listed
by table, time and page, deleted and forgotten with the tenant."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.backup_memory import MemoryBackupStore
from andromede.dynamodb.backup_store_sql import SqlBackupStore
from andromede.dynamodb.backups import Backup, BackupStore
from andromede.dynamodb.errors import LimitExceeded, TableInUse
from andromede.dynamodb.idempotency import PENDING_MS, Claim
from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.model import (
    BillingMode,
    IndexKey,
    KeyElement,
    SecondaryIndex,
    StoredItem,
    Table,
)
from andromede.dynamodb.store import ABSENT, Bound, DynamoStore, ScanRange, TransactWrite
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.streams import SEQUENCE_BASE, ChangeRecord, Stream, StreamViewType
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DynamoStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDynamoStore() if db is None else SqlDynamoStore(db)


def table(name: str, tenant_id: str = "t1") -> Table:
    return Table(
        tenant_id=tenant_id,
        name=name,
        region="eu-fr-1",
        created=1_800_000_000_000,
        hash_key=KeyElement("pk", "S"),
        sort_key=KeyElement("sk", "B"),
        attributes=(KeyElement("pk", "S"), KeyElement("sk", "B")),
        billing_mode=BillingMode.PAY_PER_REQUEST,
        read_capacity=0,
        write_capacity=0,
        wrapped_key=b"\x01wrapped",
        tags=(("a", "b"),),
    )


def item(hash_token: bytes, sort_token: bytes, revision: int = 1, **more: object) -> StoredItem:
    return StoredItem(hash_token, sort_token, b"sealed" + sort_token, 10, revision, **more)  # type: ignore[arg-type]


async def test_tables_are_named_once_bounded_and_changed_by_revision(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=2)
    with pytest.raises(TableInUse):
        await store.create_table(table("a"), max_tables=2)
    await store.create_table(table("b"), max_tables=2)
    with pytest.raises(LimitExceeded):
        await store.create_table(table("c"), max_tables=2)
    await store.create_table(table("c", tenant_id="t2"), max_tables=2)
    assert await store.table_names("t1", None, 10) == ["a", "b"]
    assert await store.table_names("t1", "a", 10) == ["b"]
    held = await store.get_table("t1", "a")
    assert held == table("a")
    changed = dataclasses.replace(table("a"), revision=2, ttl_attribute="exp", tags=())
    assert await store.replace_table(changed)
    assert not await store.replace_table(changed)  # a second write over revision 1
    assert await store.get_table("t1", "a") == changed
    assert await store.delete_table("t1", "a") and not await store.delete_table("t1", "a")
    assert await store.get_table("t1", "a") is None


async def test_a_tables_on_demand_maximums_and_decreases_are_kept(store: DynamoStore) -> None:
    """Decision 0267: OnDemandThroughput and the day's throughput decreases survive a read."""
    await store.create_table(table("a"), max_tables=2)
    changed = dataclasses.replace(
        table("a"),
        revision=2,
        max_read_requests=7,
        max_write_requests=-1,
        decreases_today=3,
        last_decrease=1_800_000_123_000,
        indexes=(
            SecondaryIndex(
                "by-g", False, KeyElement("g", "S"), None, max_read_requests=3, max_write_requests=4
            ),
        ),
    )
    assert await store.replace_table(changed)
    assert await store.get_table("t1", "a") == changed


async def test_a_replicas_creation_progress_is_kept(store: DynamoStore) -> None:
    """Decision 0291: a replica being made (its status, its copy's progress) survives a read."""
    await store.create_table(table("a"), max_tables=2)
    changed = dataclasses.replace(
        table("a"),
        revision=2,
        replicas=(("eu-de-1", "CREATING"), ("eu-es-1", "ACTIVE")),
        replica_progress=(("eu-de-1", 40),),
    )
    assert await store.replace_table(changed)
    assert await store.get_table("t1", "a") == changed
    settled = dataclasses.replace(changed, revision=3, replica_progress=())
    assert await store.replace_table(settled)
    assert await store.get_table("t1", "a") == settled


async def test_items_are_written_over_the_revision_read(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    h = b"\x10" * 32
    assert await store.put_item("t1", "a", item(h, b"x"), ABSENT)
    assert not await store.put_item("t1", "a", item(h, b"x"), ABSENT)  # it is there now
    assert await store.put_item("t1", "a", item(h, b"x", 2), 1)
    assert not await store.put_item("t1", "a", item(h, b"x", 3), 1)  # another write came first
    assert await store.put_item("t1", "a", item(h, b"x", 5), None)
    assert (await store.get_item("t1", "a", h, b"x")) == item(h, b"x", 5)
    assert not await store.put_item("t1", "nope", item(h, b"x"), None)
    assert not await store.delete_item("t1", "a", h, b"x", 4)
    assert await store.usage("t1", "a") == (1, 10)
    assert await store.delete_item("t1", "a", h, b"x", 5)
    assert await store.get_item("t1", "a", h, b"x") is None


async def test_queries_and_scans_page_in_key_order(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    h1, h2 = b"\x01" * 32, b"\xf0" * 32
    sorts = [b"", b"\x00", b"a", b"ab", b"b", b"\xff"]
    for sort in reversed(sorts):
        await store.put_item("t1", "a", item(h1, sort), ABSENT)
    await store.put_item("t1", "a", item(h2, b"a"), ABSENT)

    async def tokens(
        low: Bound | None,
        high: Bound | None,
        forward: bool = True,
        after: bytes | None = None,
        limit: int = 10,
    ) -> list[bytes]:
        rows = await store.query("t1", "a", h1, low, high, forward, after, limit)
        return [r.sort_token for r in rows]

    assert await tokens(None, None) == sorts
    assert await tokens(None, None, forward=False) == sorts[::-1]
    assert await tokens(Bound(b"a", True), Bound(b"b", False)) == [b"a", b"ab"]
    assert await tokens(Bound(b"a", False), Bound(b"b", True)) == [b"ab", b"b"]
    assert await tokens(None, None, after=b"a", limit=2) == [b"ab", b"b"]
    assert await tokens(None, None, forward=False, after=b"a") == [b"\x00", b""]
    scanned = await store.scan("t1", "a", ScanRange(), None, 100)
    assert [(r.hash_token, r.sort_token) for r in scanned] == [(h1, s) for s in sorts] + [
        (h2, b"a")
    ]
    after = await store.scan("t1", "a", ScanRange(), (h1, b"b"), 100)
    assert [r.sort_token for r in after] == [b"\xff", b"a"]
    low_half = await store.scan("t1", "a", ScanRange(0, 1 << 31), None, 100)
    assert {r.hash_token for r in low_half} == {h1}


async def test_expiry_and_a_closed_tenant(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.create_table(table("b", tenant_id="t2"), max_tables=10)
    await store.put_item("t1", "a", item(b"h", b"1", expires=100), ABSENT)
    await store.put_item("t1", "a", item(b"h", b"2", expires=300), ABSENT)
    await store.put_item("t1", "a", item(b"h", b"3"), ABSENT)
    await store.put_item("t2", "b", item(b"h", b"1"), ABSENT)
    assert await store.expire(200, 100) == {("t1", "a"): 1}  # per table (decision 0254)
    assert await store.usage("t1", "a") == (2, 20)
    assert await store.forget_tenant("t1") == 1
    assert await store.get_table("t1", "a") is None and await store.usage("t1", "a") == (0, 0)
    assert await store.usage("t2", "b") == (1, 10)


async def test_a_transaction_applies_all_or_none(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.create_table(table("b"), max_tables=10)
    await store.put_item("t1", "a", item(b"h", b"1"), ABSENT)
    await store.put_item("t1", "b", item(b"h", b"gone"), ABSENT)
    moved = [
        TransactWrite("a", b"h", b"1", 1, item(b"h", b"1", 2)),
        TransactWrite("a", b"h", b"2", ABSENT, item(b"h", b"2")),
        TransactWrite("b", b"h", b"gone", 1, delete=True),
        TransactWrite("b", b"h", b"never", ABSENT),  # a check that it is absent
    ]
    stale = [
        TransactWrite("a", b"h", b"3", ABSENT, item(b"h", b"3")),
        TransactWrite("a", b"h", b"1", 2, item(b"h", b"1", 3)),  # it is at revision 1
    ]
    assert not await store.transact("t1", stale)
    assert await store.get_item("t1", "a", b"h", b"3") is None  # the first write rolled back
    assert await store.transact("t1", moved)
    assert (await store.get_item("t1", "a", b"h", b"1")) == item(b"h", b"1", 2)
    assert await store.get_item("t1", "a", b"h", b"2") is not None
    assert await store.get_item("t1", "b", b"h", b"gone") is None
    assert not await store.transact("t1", moved)  # every revision has moved on
    assert not await store.transact(
        "t1",
        [
            TransactWrite("a", b"h", b"3", ABSENT, item(b"h", b"3")),
            TransactWrite("a", b"h", b"1", 1),
        ],
    )
    assert await store.get_item("t1", "a", b"h", b"3") is None  # rolled back with the check
    assert not await store.transact("t1", [TransactWrite("nope", b"h", b"1", ABSENT)])


def indexed(hash_token: bytes, sort_token: bytes, *keys: IndexKey, **more: object) -> StoredItem:
    return dataclasses.replace(item(hash_token, sort_token, **more), index_keys=keys)


async def test_index_entries_follow_their_items(store: DynamoStore) -> None:
    """Decision 0243: an item's index entries are written, replaced and removed with it (put,
    delete, transaction, expiry, index dropped, table deleted, tenant closed); an index reads
    in (index sort token, item tokens) order both ways, after a position, within bounds."""
    await store.create_table(table("a"), 10)
    g = "g"
    await store.put_item("t1", "a", indexed(b"h1", b"1", IndexKey(g, b"x", b"\x02")), ABSENT)
    await store.put_item("t1", "a", indexed(b"h2", b"1", IndexKey(g, b"x", b"\x01")), ABSENT)
    await store.put_item("t1", "a", indexed(b"h3", b"1", IndexKey(g, b"x", b"\x02")), ABSENT)
    await store.put_item("t1", "a", indexed(b"h4", b"1", IndexKey(g, b"y", b"\x01")), ABSENT)
    await store.put_item("t1", "a", item(b"h5", b"1"), ABSENT)  # sparse: in no index

    async def owners(
        forward: bool = True,
        after: tuple[bytes, bytes, bytes, bytes] | None = None,
        low: Bound | None = None,
    ) -> list[bytes]:
        found = await store.query_index("t1", "a", g, b"x", low, None, forward, after, 10)
        assert all(k.index == g and k.hash_token == b"x" for k, _ in found)
        return [i.hash_token for _, i in found]

    assert await owners() == [b"h2", b"h1", b"h3"]
    assert await owners(False) == [b"h3", b"h1", b"h2"]
    assert await owners(after=(b"x", b"\x02", b"h1", b"1")) == [b"h3"]
    assert await owners(False, after=(b"x", b"\x02", b"h1", b"1")) == [b"h2"]
    assert await owners(low=Bound(b"\x02", True)) == [b"h1", b"h3"]
    scanned = await store.scan_index("t1", "a", g, ScanRange(), None, 10)
    assert [i.hash_token for _, i in scanned] == [b"h2", b"h1", b"h3", b"h4"]
    after = (b"x", b"\x02", b"h3", b"1")
    assert [
        i.hash_token for _, i in await store.scan_index("t1", "a", g, ScanRange(), after, 10)
    ] == [b"h4"]
    assert await store.index_usage("t1", "a") == {g: (4, 40)}

    # Rewritten elsewhere in the index, out of it, deleted: the entries follow.
    moved = indexed(b"h1", b"1", IndexKey(g, b"y", b"\x00"), revision=2)
    assert await store.put_item("t1", "a", moved, 1)
    assert await owners() == [b"h2", b"h3"]
    assert await store.put_item("t1", "a", item(b"h2", b"1", revision=2), 1)
    assert await store.delete_item("t1", "a", b"h3", b"1", None)
    assert await owners() == []
    assert await store.index_usage("t1", "a") == {g: (2, 20)}
    # A refused write changes no entry.
    assert not await store.put_item("t1", "a", indexed(b"h4", b"1", IndexKey(g, b"x", b"")), 9)
    assert await owners() == []
    writes = [
        TransactWrite("a", b"h6", b"1", ABSENT, indexed(b"h6", b"1", IndexKey(g, b"x", b"\x05"))),
        TransactWrite("a", b"h4", b"1", 1, delete=True),
    ]
    assert await store.transact("t1", writes)
    assert await owners() == [b"h6"] and await store.index_usage("t1", "a") == {g: (2, 20)}
    await store.put_item(
        "t1", "a", indexed(b"h7", b"1", IndexKey(g, b"x", b"\x06"), expires=100), ABSENT
    )
    assert await store.expire(200, 100) == {("t1", "a"): 1}
    assert await owners() == [b"h6"]
    await store.drop_index("t1", "a", g)
    assert await owners() == [] and await store.index_usage("t1", "a") == {}
    await store.put_item("t1", "a", indexed(b"h8", b"1", IndexKey(g, b"x", b"")), ABSENT)
    assert await store.delete_table("t1", "a")
    await store.create_table(table("a"), 10)
    assert await owners() == []
    await store.put_item("t1", "a", indexed(b"h8", b"1", IndexKey(g, b"x", b"")), ABSENT)
    assert await store.forget_tenant("t1") == 1
    await store.create_table(table("a"), 10)
    assert await owners() == []


# --- streams (decision 0246) ----------------------------------------------------------------


def stream(label: str, created: int, name: str = "a", tenant_id: str = "t1") -> Stream:
    return Stream(
        tenant_id=tenant_id,
        table_name=name,
        label=label,
        region="eu-fr-1",
        created=created,
        view_type=StreamViewType.NEW_AND_OLD_IMAGES,
        hash_key=KeyElement("pk", "S"),
        sort_key=KeyElement("sk", "B"),
        table_created=1_800_000_000_000,
        wrapped_key=b"\x01wrapped",
        iterator_key=b"k" * 32,
        next_sequence=at(created),
        trimmed_to=at(created),
    )


def at(ms: int) -> int:
    """The first number a record made at ``ms`` can take (decision 0275: numbers carry time)."""
    return ms * SEQUENCE_BASE + 1


def change(event: str, token: bytes, created: int, size: int = 10) -> ChangeRecord:
    old = None if event == "INSERT" else b"old" + token
    new = None if event == "REMOVE" else b"new" + token
    return ChangeRecord(event, b"h", token, old, new, size, created)


async def test_writes_append_their_records_to_the_enabled_stream(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.put_item("t1", "a", item(b"h", b"0"), ABSENT, change("INSERT", b"0", 5))
    await store.create_stream(stream("L1", 10))  # the record above had no stream: dropped
    assert await store.put_item("t1", "a", item(b"h", b"1"), ABSENT, change("INSERT", b"1", 11))
    assert not await store.put_item("t1", "a", item(b"h", b"1"), ABSENT, change("INSERT", b"x", 12))
    assert await store.delete_item("t1", "a", b"h", b"1", 1, change("REMOVE", b"1", 13))
    assert not await store.delete_item("t1", "a", b"h", b"1", 1, change("REMOVE", b"y", 14))
    writes = [
        TransactWrite("a", b"h", b"2", ABSENT, item(b"h", b"2"), record=change("INSERT", b"2", 15)),
        TransactWrite("a", b"h", b"3", ABSENT, item(b"h", b"3"), record=change("INSERT", b"3", 15)),
    ]
    assert await store.transact("t1", writes)
    refused = [
        TransactWrite("a", b"h", b"2", ABSENT, item(b"h", b"2"), record=change("INSERT", b"z", 16))
    ]
    assert not await store.transact("t1", refused)  # the record goes with the refused write
    read = await store.read_changes("t1", "a", "L1", 0, 100, 1 << 20)
    assert [r.sequence for r in read] == [at(11), at(13), at(15), at(15) + 1]
    assert read[0].change == change("INSERT", b"1", 11)
    assert read[1].change == change("REMOVE", b"1", 13)
    assert [r.change.sort_token for r in read[2:]] == [b"2", b"3"]
    assert [r.sequence for r in await store.read_changes("t1", "a", "L1", at(13), 2, 1 << 20)] == [
        at(13),
        at(15),
    ]
    assert len(await store.read_changes("t1", "a", "L1", 0, 100, 15)) == 1  # the first always
    assert len(await store.read_changes("t1", "a", "L1", 0, 100, 20)) == 2
    held = await store.get_stream("t1", "a", "L1")
    assert held is not None and held.next_sequence == at(15) + 2 and held.disabled == 0
    # A new stream ends the enabled one; records go to the new one only.
    await store.create_stream(stream("L2", 20))
    ended = await store.get_stream("t1", "a", "L1")
    assert ended is not None and ended.disabled == 20
    await store.put_item("t1", "a", item(b"h", b"4"), ABSENT, change("INSERT", b"4", 21))
    assert len(await store.read_changes("t1", "a", "L1", 0, 100, 1 << 20)) == 4
    assert [r.sequence for r in await store.read_changes("t1", "a", "L2", 0, 9, 1 << 20)] == [
        at(21)
    ]
    await store.end_stream("t1", "a", 30)
    await store.put_item("t1", "a", item(b"h", b"5"), ABSENT, change("INSERT", b"5", 31))
    assert len(await store.read_changes("t1", "a", "L2", 0, 9, 1 << 20)) == 1
    assert await store.get_stream("t2", "a", "L1") is None


async def test_streams_are_listed_and_expiry_is_recorded_by_the_service(
    store: DynamoStore,
) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.create_table(table("b"), max_tables=10)
    await store.create_stream(stream("L1", 10, "b"))
    await store.create_stream(stream("L1", 10, "a"))
    await store.create_stream(stream("L0", 10, "a", tenant_id="t2"))
    listed = await store.list_streams("t1", None, None, 10)
    assert [(s.table_name, s.label) for s in listed] == [("a", "L1"), ("b", "L1")]
    assert [s.table_name for s in await store.list_streams("t1", None, ("a", "L1"), 10)] == ["b"]
    assert [s.table_name for s in await store.list_streams("t1", "b", None, 10)] == ["b"]
    assert len(await store.list_streams("t1", None, None, 1)) == 1
    assert await store.list_streams("t1", None, None, 10) == listed
    assert listed[0] == stream("L1", 10, "a")
    await store.put_item("t1", "a", item(b"h", b"1", expires=100), ABSENT)
    await store.put_item("t1", "b", item(b"h", b"2", expires=100), ABSENT)
    await store.end_stream("t1", "b", 50)  # b's stream disabled: its expiry goes unrecorded
    assert await store.expire(200, 100) == {("t1", "a"): 1, ("t1", "b"): 1}
    (removed,) = await store.read_changes("t1", "a", "L1", 0, 9, 1 << 20)
    assert removed.change == ChangeRecord(
        "REMOVE", b"h", b"1", item(b"h", b"1").sealed, None, 10, 200_000, by_service=True
    )
    assert await store.read_changes("t1", "b", "L1", 0, 9, 1 << 20) == []


async def test_records_past_the_retention_are_pruned_and_a_tenant_forgotten(
    store: DynamoStore,
) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.create_stream(stream("L1", 10))
    for n, when in enumerate((100, 200, 300)):
        token = bytes([n])
        await store.put_item("t1", "a", item(b"h", token), ABSENT, change("INSERT", token, when))
    assert await store.prune_streams(250) == 2
    held = await store.get_stream("t1", "a", "L1")
    assert held is not None and held.trimmed_to == at(200) + 1
    assert [r.sequence for r in await store.read_changes("t1", "a", "L1", 0, 9, 1 << 20)] == [
        at(300)
    ]
    await store.end_stream("t1", "a", 400)
    assert await store.prune_streams(300) == 0  # disabled at 400: kept until after
    assert await store.prune_streams(401) == 1
    assert await store.get_stream("t1", "a", "L1") is None
    await store.create_stream(stream("L2", 500))
    await store.put_item("t1", "a", item(b"h", b"9"), ABSENT, change("INSERT", b"9", 501))
    assert await store.forget_tenant("t1") == 1
    assert await store.list_streams("t1", None, None, 10) == []
    assert await store.read_changes("t1", "a", "L2", 0, 9, 1 << 20) == []


async def test_concurrent_writes_take_distinct_numbers_in_order(store: DynamoStore) -> None:
    await store.create_table(table("a"), max_tables=10)
    await store.create_stream(stream("L1", 10))

    async def put(n: int) -> bool:
        token = n.to_bytes(2, "big")
        return await store.put_item(
            "t1", "a", item(b"h", token), ABSENT, change("INSERT", token, 100 + n)
        )

    assert all(await asyncio.gather(*(put(n) for n in range(20))))
    read = await store.read_changes("t1", "a", "L1", 0, 100, 1 << 20)
    numbers = [r.sequence for r in read]
    assert len(read) == 20 and numbers == sorted(set(numbers))  # distinct, in commit order
    assert all(r.sequence >= at(r.change.created) for r in read)  # never below its time
    assert sorted(r.change.sort_token for r in read) == [n.to_bytes(2, "big") for n in range(20)]
    assert await store.first_change_since("t1", "a", "L1", 110) == min(
        r.sequence for r in read if r.change.created >= 110
    )
    assert await store.first_change_since("t1", "a", "L1", 200) is None


# --- on-demand backups (decision 0253) -------------------------------------------------------


@pytest.fixture(params=BACKENDS)
async def with_backups(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[DynamoStore, BackupStore]]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            tables = MemoryDynamoStore()
            yield tables, MemoryBackupStore(tables)
        else:
            yield SqlDynamoStore(db), SqlBackupStore(db)


async def test_a_backup_copies_the_sealed_rows_of_the_revision_read(
    with_backups: tuple[DynamoStore, BackupStore],
) -> None:
    store, backups = with_backups
    held = dataclasses.replace(table("a"), deletion_protection=True,
                               restored_from=("arn:b", "arn:t", 5))  # fmt: skip
    await store.create_table(held, max_tables=10)
    assert await store.get_table("t1", "a") == held  # the new fields kept
    for n in range(3):
        assert await store.put_item("t1", "a", item(bytes([n]) * 32, b"s%d" % n), ABSENT)
    await store.put_item("t1", "other", item(b"\x09" * 32, b"x"), None)
    stale = dataclasses.replace(held, revision=0)
    assert (
        await backups.create_backup(Backup("t1", "0000000000001-aaaaaaaa", "n", stale, 1)) is None
    )
    made = await backups.create_backup(Backup("t1", "0000000000002-bbbbbbbb", "n", held, 2))
    assert made is not None and (made.item_count, made.size) == (3, 30)
    assert await backups.get_backup("t1", made.backup_id) == made
    assert await backups.get_backup("t2", made.backup_id) is None
    await store.delete_table("t1", "a")  # the backup outlives its table
    rows = await backups.backup_items("t1", made.backup_id, None, 2)
    assert [r.sealed for r in rows] == [b"sealeds0", b"sealeds1"]
    after = (rows[-1].hash_token, rows[-1].sort_token)
    assert [r.sort_token for r in await backups.backup_items("t1", made.backup_id, after, 5)] == [
        b"s2"
    ]
    second = await backups.create_backup(Backup("t1", "0000000000003-cccccccc", "m", held, 3))
    assert second is None  # its table is gone
    await store.create_table(table("b"), max_tables=10)
    other = await backups.create_backup(Backup("t1", "0000000000004-dddddddd", "m", table("b"), 4))
    assert other is not None and other.item_count == 0
    listed = await backups.list_backups("t1", None, None, None, None, 10)
    assert [b.backup_id for b in listed] == [made.backup_id, other.backup_id]
    assert [b.name for b in await backups.list_backups("t1", "b", None, None, None, 10)] == ["m"]
    assert await backups.list_backups("t1", None, 3, 5, None, 10) == [other]
    assert await backups.list_backups("t1", None, None, None, made.backup_id, 10) == [other]
    assert await backups.list_backups("t1", None, None, None, None, 1) == [made]
    assert await backups.backup_bytes() == {"t1": 30}
    assert await backups.delete_backup("t1", other.backup_id)
    assert not await backups.delete_backup("t1", other.backup_id)
    assert await backups.forget_tenant("t2") == 0
    assert await backups.forget_tenant("t1") == 1
    assert await backups.backup_items("t1", made.backup_id, None, 10) == []


def _version(h: bytes, sealed: bytes | None, at: int) -> ChangeRecord:
    event = "MODIFY" if sealed is not None else "REMOVE"
    return ChangeRecord(event, h, b"s", None, None, 0, at, versioned=True, version=sealed,
                        version_size=0 if sealed is None else len(sealed))  # fmt: skip


async def test_a_recovering_table_keeps_its_item_history(
    with_backups: tuple[DynamoStore, BackupStore],
) -> None:
    """Decision 0253: only a table with point-in-time recovery on keeps versions, written
    with its items (time-to-live deletions too); the items as they were at an instant; the
    versions no restore can need pruned; dropped when recovery is turned off."""
    store, backups = with_backups
    day = 86_400_000
    plain = table("plain")
    await store.create_table(plain, max_tables=10)
    recovering = dataclasses.replace(table("kept"), revision=2, pitr=(1, 10 * day))
    await store.create_table(dataclasses.replace(recovering, revision=1, pitr=None), 10)
    a, b, c = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
    assert await store.put_item("t1", "kept", item(a, b"s"), ABSENT)
    assert await store.replace_table(recovering)
    assert not await backups.start_history(dataclasses.replace(recovering, revision=1))
    assert await backups.start_history(recovering)  # the base: a as stored, at day 10
    await store.put_item("t1", "plain", item(a, b"s"), None, _version(a, b"p", 10 * day + 1))
    await store.put_item("t1", "kept", item(a, b"s", 2), 1, _version(a, b"a1", 10 * day + 5))
    await store.put_item("t1", "kept", item(b, b"s"), ABSENT, _version(b, b"b1", 10 * day + 6))
    await store.delete_item("t1", "kept", a, b"s", 2, _version(a, None, 10 * day + 7))
    expiry = (10 * day + 9000) // 1000  # s
    await store.put_item("t1", "kept", item(c, b"s", expires=expiry), ABSENT,
                         _version(c, b"c1", 10 * day + 8))  # fmt: skip
    assert await store.expire(expiry, 10) == {("t1", "kept"): 1}  # its removal kept too

    async def at(instant: int) -> list[tuple[bytes, bytes]]:
        rows = await backups.items_at("t1", "kept", recovering.created, instant, None, 10)
        return [(r.hash_token, r.sealed) for r in rows]

    assert await at(10 * day) == [(a, b"sealeds")]  # the base: the item as stored
    assert await at(10 * day + 5) == [(a, b"a1")]
    assert await at(10 * day + 6) == [(a, b"a1"), (b, b"b1")]
    assert await at(10 * day + 7) == [(b, b"b1")]
    assert await at(10 * day + 8) == [(b, b"b1"), (c, b"c1")]
    assert await at(10 * day + 9000) == [(b, b"b1")]
    page = await backups.items_at("t1", "kept", recovering.created, 10 * day + 8, (a, b"s"), 1)
    assert [r.hash_token for r in page] == [b]
    assert await at(10 * day - 1) == []
    # A day on, what came before the period goes, but each item's last state then (a's
    # removal goes too).
    assert await backups.prune_history(11 * day + 8) == 3
    assert await at(11 * day) == [(b, b"b1")]
    assert await at(10 * day + 8) == [(b, b"b1"), (c, b"c1")]
    assert await backups.prune_history(11 * day + 8) == 0
    await backups.stop_history("t1", "kept", recovering.created)
    assert await at(11 * day) == []
    assert await backups.items_at("t1", "plain", plain.created, 11 * day, None, 10) == []


async def test_a_tables_key_and_a_backfilling_index_are_kept(store: DynamoStore) -> None:
    """Decision 0254: a change of KMS key replaces the wrapped data key and the sealed table
    key with the definition; an index added stays CREATING until its backfill ends."""
    await store.create_table(table("a"), max_tables=5)
    index = SecondaryIndex("by", False, KeyElement("g", "S"), None, backfilling=True)
    rekeyed = dataclasses.replace(
        table("a"),
        revision=2,
        sse_kms=True,
        kms_key_arn="arn:aws:kms:eu-fr-1:t1:key/k1",
        wrapped_key=b"\x01rewrapped",
        table_key=b"\x00sealed\xff",
        indexes=(index,),
    )
    assert await store.replace_table(rekeyed)
    assert await store.get_table("t1", "a") == rekeyed
    await store.create_table(table("b", tenant_id="t2"), max_tables=5)
    assert await store.backfilling_tables() == [("t1", "a")]  # every account's
    done = dataclasses.replace(
        rekeyed, revision=3, indexes=(dataclasses.replace(index, backfilling=False),)
    )
    assert await store.replace_table(done)
    assert await store.get_table("t1", "a") == done
    assert await store.backfilling_tables() == []


async def test_transaction_tokens_claimed_settled_released_per_account(
    store: DynamoStore,
) -> None:
    """Decision 0259: a token claimed once (a second claim sees the first, unsettled, until
    its pending time lapses), settled for its window, released only while unsettled; per
    account; pruned once lapsed and forgotten with the account."""
    assert await store.claim_token("t1", "tok", b"d1", 1_000) is None
    assert await store.claim_token("t1", "tok", b"d2", 2_000) == Claim(b"d1", False)
    assert await store.claim_token("t2", "tok", b"other", 2_000) is None  # another account's
    await store.settle_token("t1", "tok", 601_000)
    await store.release_token("t1", "tok")  # settled: kept
    assert await store.claim_token("t1", "tok", b"d2", 600_999) == Claim(b"d1", True)
    assert await store.claim_token("t1", "tok", b"d3", 601_000) is None  # lapsed: a new claim
    await store.release_token("t1", "tok")  # its transaction failed
    assert await store.claim_token("t1", "tok", b"d4", 601_001) is None
    # An unsettled claim lapses after PENDING_MS (its gateway died).
    assert await store.claim_token("t1", "tok", b"d5", 601_001 + PENDING_MS) is None
    await store.settle_token("t1", "tok", 2_000_000)
    assert await store.prune_tokens(1_000_000) == 1  # t2's pending claim
    assert await store.claim_token("t1", "tok", b"x", 1_000_000) == Claim(b"d5", True)
    await store.forget_tenant("t1")
    assert await store.claim_token("t1", "tok", b"x", 1_000_000) is None
