"""Decision 0295's event source mapping store over every implementation (memory, SQLite,
PostgreSQL): added and read back whole, listed by account, changed by compare-and-set on its
version (a stale write refused, the lease kept), leased to one gateway at a time, deleted,
and a closed tenant's forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.mappings import (
    EventSourceMapping,
    MappingStore,
    MemoryMappingStore,
    ShardWindow,
)
from andromede.functions.mappings_sql import SqlMappingStore
from support.store_backends import BACKENDS, backend_database

ONE = "000000000001"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MappingStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMappingStore() if db is None else SqlMappingStore(db)


def mapping(uuid: str, tenant_id: str = ONE) -> EventSourceMapping:
    return EventSourceMapping(
        uuid=uuid,
        tenant_id=tenant_id,
        function_name="fn",
        qualifier="live",
        function_arn=f"arn:aws:lambda:eu-fr-1:{tenant_id}:function:fn:live",
        source_arn=f"arn:aws:sqs:eu-fr-1:{tenant_id}:jobs",
        source_kind="sqs",
        state="Creating",
        last_modified=1000,
        parameters={"BatchSize": 5, "FilterCriteria": {"Filters": [{"Pattern": "{}"}]}},
    )


async def test_added_read_and_listed(store: MappingStore) -> None:
    await store.add(mapping("b"))
    await store.add(mapping("a"))
    await store.add(mapping("c", "000000000002"))
    assert await store.get(ONE, "b") == mapping("b")
    assert await store.get("000000000002", "b") is None  # another account's reach
    assert [m.uuid for m in await store.mappings(ONE)] == ["a", "b"]


async def test_changed_by_compare_and_set(store: MappingStore) -> None:
    await store.add(mapping("a"))
    stored = await store.get(ONE, "a")
    assert stored is not None
    changed = stored.replaced(state="Enabled", last_result="OK")
    assert await store.replace(changed)
    assert not await store.replace(stored.replaced(state="Disabled"))  # stale
    again = await store.get(ONE, "a")
    assert again is not None and (again.state, again.last_result, again.version) == (
        "Enabled", "OK", 2)  # fmt: skip
    assert again.parameters["BatchSize"] == 5 and again.qualifier == "live"


async def test_leased_to_one_gateway(store: MappingStore) -> None:
    await store.add(mapping("a"))
    await store.add(mapping("b"))
    assert [m.uuid for m in await store.claim("g1", 1000, 61_000, 1)] == ["a"]
    assert [m.uuid for m in await store.claim("g2", 2000, 62_000, 10)] == ["b"]
    assert await store.claim("g3", 3000, 63_000, 10) == []
    (renewed,) = await store.claim("g1", 4000, 64_000, 10)  # its own lease, renewed
    assert (renewed.uuid, renewed.lease_owner, renewed.lease_until) == ("a", "g1", 64_000)
    # A change keeps the lease; once it runs out another gateway takes the mapping over.
    assert await store.replace(renewed.replaced(state="Enabled"))
    assert await store.claim("g3", 5000, 65_000, 10) == []
    taken = await store.claim("g3", 64_000, 124_000, 10)
    assert {m.uuid for m in taken} == {"a", "b"}
    assert all(m.lease_owner == "g3" for m in taken)


async def test_deleted_and_forgotten(store: MappingStore) -> None:
    await store.add(mapping("a"))
    await store.add(mapping("b"))
    await store.add(mapping("c", "000000000002"))
    assert await store.delete(ONE, "a")
    assert not await store.delete(ONE, "a")
    assert not await store.delete(ONE, "c")  # another account's
    assert await store.forget_tenant(ONE) == 1
    assert await store.mappings(ONE) == []
    assert [m.uuid for m in await store.mappings("000000000002")] == ["c"]


async def test_stream_checkpoints_moved_only_by_the_lease_holder(store: MappingStore) -> None:
    """Decision 0301: a stream mapping's checkpoints, by shard, written only by the gateway
    holding its lease; gone with the mapping and with a closed tenant."""
    await store.add(mapping("a"))
    await store.add(mapping("b", "000000000002"))
    assert await store.checkpoints("a") == {}
    assert not await store.save_checkpoint("a", "gw-1", "shardId-000000000000", "5")  # no lease
    await store.claim("gw-1", 0, 60_000, 10)
    assert await store.save_checkpoint("a", "gw-1", "shardId-000000000000", "5")
    assert await store.save_checkpoint("a", "gw-1", "shardId-000000000000", "9")
    assert await store.save_checkpoint("a", "gw-1", "shardId-000000000001", "3")
    assert await store.save_checkpoint("b", "gw-1", "shardId-000000000000", "7")
    assert not await store.save_checkpoint("a", "gw-2", "shardId-000000000000", "11")
    assert await store.checkpoints("a") == {
        "shardId-000000000000": "9", "shardId-000000000001": "3"}  # fmt: skip
    stored = await store.get(ONE, "a")
    assert stored is not None and stored.created == 0  # a definition without it reads 0
    assert await store.delete(ONE, "a")
    assert await store.checkpoints("a") == {}
    assert await store.forget_tenant("000000000002") == 1
    assert await store.checkpoints("b") == {}


async def test_tumbling_windows_kept_with_the_checkpoints(store: MappingStore) -> None:
    """Decision 0319: a shard's open tumbling window (start, sealed state) kept on its
    checkpoint by the lease holder, read back by the gateway taking the lease over, closed by a
    checkpoint without one, gone with the mapping and with a closed tenant."""
    shard, other = "shardId-000000000000", "shardId-000000000001"
    await store.add(mapping("a"))
    await store.add(mapping("b", "000000000002"))
    await store.claim("gw-1", 0, 60_000, 10)
    opened = ShardWindow(1_700_000_040_000, b"\x00sealed\xff")
    assert await store.save_checkpoint("a", "gw-1", shard, "5", opened)
    assert await store.save_checkpoint("a", "gw-1", other, "3")
    assert await store.save_checkpoint("b", "gw-1", shard, "7", opened)
    assert not await store.save_checkpoint("a", "gw-2", shard, "9", ShardWindow(1, b"x"))
    assert await store.claim("gw-2", 60_000, 120_000, 10)  # the lease taken over
    assert await store.windows("a") == {shard: opened}
    later = ShardWindow(opened.start, b"more")
    assert await store.save_checkpoint("a", "gw-2", shard, "9", later)
    assert (await store.windows("a"), await store.checkpoints("a")) == (
        {shard: later}, {shard: "9", other: "3"})  # fmt: skip
    assert await store.save_checkpoint("a", "gw-2", shard, "9")  # the window closed
    assert await store.windows("a") == {}
    assert await store.save_checkpoint("a", "gw-2", other, "4", later)
    assert await store.delete(ONE, "a")
    assert await store.windows("a") == {}
    assert await store.forget_tenant("000000000002") == 1
    assert await store.windows("b") == {}
