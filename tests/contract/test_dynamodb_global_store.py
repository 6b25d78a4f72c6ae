"""Decision 0265's replication state over every store (memory, SQLite, PostgreSQL): a
global table's members and their positions, one lease holder at a time, item clocks
replaced, applied marks checked, taken once and pruned by age, a member leaving taking its
clocks and marks, a closed tenant forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.global_tables_store import (
    ItemClock,
    MemoryReplicationStore,
    ReplicationStore,
)
from andromede.dynamodb.global_tables_store_sql import SqlReplicationStore
from support.store_backends import BACKENDS, backend_database

PARIS, BERLIN = "eu-fr-1", "eu-de-1"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReplicationStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryReplicationStore() if db is None else SqlReplicationStore(db)


async def test_members_positions_and_leases(store: ReplicationStore) -> None:
    await store.join("t1", "orders", PARIS, "2026-12-06T10:00:00.000", 11)
    await store.join("t1", "orders", BERLIN, "2026-12-06T10:00:01.000", 21)
    await store.join("t2", "orders", PARIS, "L", 1)
    assert await store.members("t1", "orders") == {
        PARIS: ("2026-12-06T10:00:00.000", 11),
        BERLIN: ("2026-12-06T10:00:01.000", 21),
    }
    await store.set_position("t1", "orders", PARIS, "2026-12-06T10:00:00.000", 15)
    await store.set_position("t1", "orders", "eu-it-1", "L", 3)  # not a member: nothing
    assert (await store.members("t1", "orders"))[PARIS] == ("2026-12-06T10:00:00.000", 15)
    assert "eu-it-1" not in await store.members("t1", "orders")
    await store.join("t1", "orders", PARIS, "M", 1)  # joined again: its position replaced
    assert (await store.members("t1", "orders"))[PARIS] == ("M", 1)
    assert await store.global_tables(10) == [("t1", "orders"), ("t2", "orders")]
    assert await store.global_tables(1) == [("t1", "orders")]
    assert await store.take_lease("t1", "orders", "a", 1000, 2000)
    assert not await store.take_lease("t1", "orders", "b", 1500, 2500)
    assert await store.take_lease("t1", "orders", "a", 1500, 2500)  # renewed by its holder
    assert await store.take_lease("t1", "orders", "b", 2500, 3500)  # ran out: taken over
    assert await store.take_lease("t2", "orders", "a", 1500, 2500)  # another table's own


async def test_clocks_and_applied_marks(store: ReplicationStore) -> None:
    await store.join("t1", "orders", PARIS, "L", 1)
    await store.join("t1", "orders", BERLIN, "L", 1)
    assert await store.clock("t1", "orders", PARIS, b"h", b"s") is None
    first = ItemClock(5, PARIS, b"d1")
    await store.set_clock("t1", "orders", PARIS, b"h", b"s", first)
    assert await store.clock("t1", "orders", PARIS, b"h", b"s") == first
    later = ItemClock(7, BERLIN, b"")
    await store.set_clock("t1", "orders", PARIS, b"h", b"s", later)
    assert await store.clock("t1", "orders", PARIS, b"h", b"s") == later
    await store.set_clock("t1", "orders", BERLIN, b"h", b"", first)
    assert await store.clock("t1", "orders", BERLIN, b"h", b"s") is None
    assert later.beats(first) and not first.beats(later) and not first.beats(first)
    assert ItemClock(5, "eu-it-1", b"").beats(ItemClock(5, "eu-de-1", b""))  # tie: region
    await store.mark_applied("t1", "orders", BERLIN, b"x", 100)
    await store.mark_applied("t1", "orders", BERLIN, b"y", 300)
    await store.mark_applied("t1", "orders", BERLIN, b"y", 300)  # twice: once
    assert await store.is_applied("t1", "orders", BERLIN, b"x")
    assert not await store.is_applied("t1", "orders", PARIS, b"x")
    assert await store.take_applied("t1", "orders", BERLIN, b"x")
    assert not await store.take_applied("t1", "orders", BERLIN, b"x")
    await store.mark_applied("t1", "orders", BERLIN, b"z", 100)
    assert await store.prune_applied(200) == 1
    assert await store.is_applied("t1", "orders", BERLIN, b"y")
    await store.leave("t1", "orders", BERLIN)
    assert await store.clock("t1", "orders", BERLIN, b"h", b"") is None
    assert not await store.is_applied("t1", "orders", BERLIN, b"y")
    assert await store.clock("t1", "orders", PARIS, b"h", b"s") == later
    assert list(await store.members("t1", "orders")) == [PARIS]
    await store.leave("t1", "orders", PARIS)
    assert await store.global_tables(10) == []


async def test_closed_tenant_forgotten(store: ReplicationStore) -> None:
    for tenant in ("t1", "t2"):
        await store.join(tenant, "orders", PARIS, "L", 1)
        await store.set_clock(tenant, "orders", PARIS, b"h", b"", ItemClock(1, PARIS, b""))
        await store.mark_applied(tenant, "orders", PARIS, b"d", 1)
        assert await store.take_lease(tenant, "orders", "a", 0, 10)
    await store.forget_tenant("t1")
    assert await store.members("t1", "orders") == {}
    assert await store.clock("t1", "orders", PARIS, b"h", b"") is None
    assert not await store.is_applied("t1", "orders", PARIS, b"d")
    assert await store.take_lease("t1", "orders", "b", 0, 10)  # its lease gone too
    assert await store.members("t2", "orders") == {PARIS: ("L", 1)}
    assert await store.is_applied("t2", "orders", PARIS, b"d")
