"""Decision 0225's subscription filter store over every implementation (memory, SQLite,
PostgreSQL): a group's filters bounded (a replacement keeps its creation time), listed by
name after a position and by prefix, deleted one by one or with their group; the outbox
bounded per account (all of a batch or none), its due records claimed once under a lease
another gateway takes over when it runs out, removed and rescheduled only by their lease's
owner; a closed tenant's filters and records deleted."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.logs.errors import LimitExceeded
from andromede.logs.subscriptions import (
    MemorySubscriptionStore,
    OutboxEntry,
    SubscriptionFilter,
    SubscriptionStore,
)
from andromede.logs.subscriptions_sql import SqlSubscriptionStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000
ARN = "arn:aws:firehose:eu-fr-1:t1:deliverystream/s"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SubscriptionStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemorySubscriptionStore() if db is None else SqlSubscriptionStore(db)


def made(
    name: str, group: str = "/g", tenant_id: str = "t1", pattern: str = ""
) -> SubscriptionFilter:
    return SubscriptionFilter(
        tenant_id, group, name, pattern, ARN, "arn:aws:iam::t1:role/r", "ByLogStream", T0
    )


def entry(
    entry_id: str, size: int = 10, tenant_id: str = "t1", group: str = "/g", due: int = T0
) -> OutboxEntry:
    return OutboxEntry(
        entry_id, tenant_id, group, "f", ARN, "arn:aws:iam::t1:role/r", T0, size,
        b"sealed-" + entry_id.encode(), next_attempt=due,
    )  # fmt: skip


async def test_filters_bounded_listed_and_deleted(store: SubscriptionStore) -> None:
    await store.put_filter(made("b"), 2)
    await store.put_filter(made("a"), 2)
    with pytest.raises(LimitExceeded):
        await store.put_filter(made("c"), 2)
    replaced = dataclasses.replace(made("a", pattern="ERROR"), created=T0 + 5)
    await store.put_filter(replaced, 2)
    await store.put_filter(made("a", group="/other"), 2)  # another group's own bound
    await store.put_filter(made("a", tenant_id="t2"), 2)
    listed = await store.list_filters("t1", "/g", "", "", 10)
    assert [(f.name, f.pattern, f.created) for f in listed] == [("a", "ERROR", T0), ("b", "", T0)]
    assert listed[1] == made("b")
    assert [f.name for f in await store.list_filters("t1", "/g", "", "a", 10)] == ["b"]
    assert [f.name for f in await store.list_filters("t1", "/g", "b", "", 10)] == ["b"]
    assert [f.name for f in await store.list_filters("t1", "/g", "", "", 1)] == ["a"]
    assert await store.list_filters("t1", "/g", "%", "", 10) == []  # a prefix, not a pattern
    assert await store.delete_filter("t1", "/g", "b")
    assert not await store.delete_filter("t1", "/g", "b")
    assert await store.delete_group("t1", "/g") == 1
    assert await store.list_filters("t1", "/g", "", "", 10) == []
    assert [f.group for f in await store.list_filters("t1", "/other", "", "", 10)] == ["/other"]
    assert await store.forget_tenant("t1") == 1
    assert await store.list_filters("t1", "/other", "", "", 10) == []
    assert len(await store.list_filters("t2", "/g", "", "", 10)) == 1


async def test_the_outbox_is_bounded_per_account(store: SubscriptionStore) -> None:
    assert await store.enqueue([entry("e1", 60), entry("e2", 30)], 100)
    assert not await store.enqueue([entry("e3", 5), entry("e4", 6)], 100)  # none of them
    assert await store.enqueue([entry("x1", 90, tenant_id="t2")], 100)
    assert await store.enqueue([entry("e3", 10)], 100)
    claimed = await store.claim("gw", T0, T0 + 10, 10)
    assert sorted(e.entry_id for e in claimed) == ["e1", "e2", "e3", "x1"]


async def test_due_records_claimed_once_under_a_lease(store: SubscriptionStore) -> None:
    await store.enqueue([entry("e1"), entry("e2"), entry("later", due=T0 + 1000)], 10_000)
    first = await store.claim("gw-a", T0, T0 + 100, 1)
    assert [(e.entry_id, e.lease_owner, e.lease_until) for e in first] == [("e1", "gw-a", T0 + 100)]
    assert first[0].sealed == b"sealed-e1" and first[0].size == 10
    second = await store.claim("gw-b", T0 + 1, T0 + 101, 10)
    assert [e.entry_id for e in second] == ["e2"]  # e1 held, "later" not due
    assert await store.claim("gw-b", T0 + 50, T0 + 150, 10) == []
    # gw-a stalls: after its lease, and not before, gw-b takes e1 over; gw-a's writes fail.
    taken = await store.claim("gw-b", T0 + 102, T0 + 300, 10)
    assert sorted(e.entry_id for e in taken) == ["e1", "e2"]
    assert not await store.remove("e1", "gw-a")
    assert not await store.retry("e1", "gw-a", T0 + 500)
    assert await store.retry("e1", "gw-b", T0 + 500)
    assert await store.remove("e2", "gw-b")
    assert not await store.remove("e2", "gw-b")
    assert await store.claim("gw-c", T0 + 499, T0 + 600, 10) == []
    again = await store.claim("gw-c", T0 + 1000, T0 + 1100, 10)
    assert sorted((e.entry_id, e.attempts) for e in again) == [("e1", 1), ("later", 0)]


async def test_a_group_and_a_tenant_take_their_records(store: SubscriptionStore) -> None:
    await store.enqueue([entry("e1"), entry("o1", group="/other")], 1000)
    await store.enqueue([entry("x1", tenant_id="t2")], 1000)
    await store.delete_group("t1", "/g")
    assert [e.entry_id for e in await store.claim("gw", T0, T0 + 1, 10)] == ["o1", "x1"]
    await store.forget_tenant("t1")
    assert [e.entry_id for e in await store.claim("gw", T0 + 2, T0 + 3, 10)] == ["x1"]


async def test_a_kinesis_records_partition_key_is_kept(store: SubscriptionStore) -> None:
    """Decision 0235: the partition key chosen when the record was made comes back with it."""
    keyed = dataclasses.replace(entry("k"), partition_key="my-log-stream")
    assert await store.enqueue([keyed, entry("f")], 1000)
    claimed = {e.entry_id: e for e in await store.claim("gw", T0, T0 + 10, 10)}
    assert (claimed["k"].partition_key, claimed["f"].partition_key) == ("my-log-stream", "")
