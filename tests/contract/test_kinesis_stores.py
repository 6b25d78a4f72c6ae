"""Decision 0228's Kinesis store over every implementation (memory, SQLite, PostgreSQL): one
name an account, the account's bounds of open shards and on-demand streams, compare-and-set
writes that leave the shards and the counter alone, records numbered by the stream's counter
under the layout they were routed by (a put that met a reshard refused, never numbered into a
closed shard), reads bounded by count and bytes, arrival lookups, a reshard's sequence
numbers, retention trimming, resource policies (decision 0248), a stream's record size and
an account's billing commitment (decision 0260) and a closed tenant forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.kinesis.accounts import BillingCommitment, CommitmentStatus, commit
from andromede.kinesis.errors import LimitExceeded, StreamInUse
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import (
    Consumer,
    Shard,
    Stream,
    StreamMode,
    StreamStatus,
    merge,
    split,
    uniform_shards,
)
from andromede.kinesis.store import AccountUsage, KinesisStore, SealedRecord
from andromede.kinesis.store_sql import SqlKinesisStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000
HOUR = 3_600_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KinesisStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryKinesisStore() if db is None else SqlKinesisStore(db)


def stream(
    name: str, tenant_id: str = "t1", shards: int = 2, mode: StreamMode = StreamMode.PROVISIONED
) -> Stream:
    return Stream(
        tenant_id=tenant_id,
        name=name,
        region="eu-fr-1",
        status=StreamStatus.ACTIVE,
        mode=mode,
        created=T0,
        retention_hours=24,
        shards=tuple(Shard(i, s, e, 0) for i, s, e in uniform_shards(shards)),
        iterator_key=b"k" * 32,
        tags=(("team", "a"),),
    )


def records(shard: int, count: int, size: int = 10) -> list[SealedRecord]:
    return [SealedRecord(shard, f"pk{i}", size, bytes([i]) * (size + 28)) for i in range(count)]


async def test_streams_made_listed_changed_and_deleted(store: KinesisStore) -> None:
    made = stream("s1")
    await store.create(made, max_shards=5, max_on_demand=1)
    assert await store.get("t1", "s1") == made
    assert await store.get("t2", "s1") is None
    with pytest.raises(StreamInUse):
        await store.create(stream("s1"), max_shards=50, max_on_demand=1)
    await store.create(stream("s0", shards=3), max_shards=5, max_on_demand=1)
    with pytest.raises(LimitExceeded):
        await store.create(stream("s2", shards=1), max_shards=5, max_on_demand=1)
    await store.create(stream("od", "t2", 4, StreamMode.ON_DEMAND), max_shards=5, max_on_demand=1)
    with pytest.raises(LimitExceeded):
        await store.create(stream("od2", "t2", 1, StreamMode.ON_DEMAND), 50, max_on_demand=1)
    assert await store.usage("t1") == AccountUsage(5, 0)
    assert await store.usage("t2") == AccountUsage(4, 1)
    assert [s.name for s in await store.streams("t1", None, 10)] == ["s0", "s1"]
    assert [s.name for s in await store.streams("t1", "s0", 10)] == ["s1"]
    assert [s.name for s in await store.streams("t1", None, 1)] == ["s0"]
    await store.append("t1", "s1", 1, records(0, 2), T0)
    changed = dataclasses.replace(made, tags=(), retention_hours=48, encryption_type="KMS",
                                  key_id="alias/aws/kinesis", revision=2,
                                  consumers=(Consumer("app", T0),),
                                  shard_level_metrics=("IncomingBytes", "OutgoingBytes"),
                                  mode=StreamMode.ON_DEMAND)  # fmt: skip
    assert await store.replace(changed)
    assert not await store.replace(changed)  # the revision moved on
    held = await store.get("t1", "s1")
    assert held is not None
    assert (held.tags, held.retention_hours, held.key_id) == ((), 48, "alias/aws/kinesis")
    assert held.consumers == (Consumer("app", T0),) and held.mode is StreamMode.ON_DEMAND
    assert held.shard_level_metrics == ("IncomingBytes", "OutgoingBytes")  # decision 0245
    assert (await store.usage("t1")).on_demand_streams == 1
    assert held.next_sequence == 2 and held.shards == made.shards  # never the caller's copy
    assert await store.delete("t1", "s1")
    assert not await store.delete("t1", "s1")
    assert await store.read("t1", "s1", 0, 0, 10, 1000) == []
    assert await store.forget_tenant("t2") == 1
    assert await store.get("t2", "od") is None


async def test_resource_policies_are_kept_with_their_stream_and_consumers(
    store: KinesisStore,
) -> None:
    """Decision 0248: the stream's policy and each consumer's are written by a replace, read
    back as put, removed with them, and a closed tenant's are forgotten."""
    made = stream("s", "t3")
    await store.create(made, max_shards=5, max_on_demand=1)
    assert (await store.get("t3", "s")).policy is None  # type: ignore[union-attr]
    shared = dataclasses.replace(
        made, policy='{"Statement": []}', revision=2,
        consumers=(Consumer("a", T0, '{"Id": "a"}'), Consumer("b", T0 + 1)),
    )  # fmt: skip
    assert await store.replace(shared)
    held = await store.get("t3", "s")
    assert held is not None and held.policy == '{"Statement": []}'
    assert held.consumers == (Consumer("a", T0, '{"Id": "a"}'), Consumer("b", T0 + 1))
    cleared = dataclasses.replace(held, policy=None, consumers=(Consumer("b", T0 + 1),),
                                  revision=3)  # fmt: skip
    assert await store.replace(cleared)
    held = await store.get("t3", "s")
    assert held is not None and held.policy is None and held.consumers == (Consumer("b", T0 + 1),)
    assert await store.replace(dataclasses.replace(held, policy="{}", revision=4))
    assert await store.forget_tenant("t3") == 1
    assert await store.get("t3", "s") is None


async def test_records_numbered_read_and_bounded(store: KinesisStore) -> None:
    await store.create(stream("s"), max_shards=10, max_on_demand=1)
    assert await store.append("t1", "s", 1, records(0, 3), T0) == [0, 1, 2]
    assert await store.append("t1", "s", 1, records(1, 2), T0 + 1000) == [3, 4]
    assert await store.append("t1", "s", 7, records(0, 1), T0) is None  # another layout
    assert await store.append("t1", "nope", 1, records(0, 1), T0) is None
    read = await store.read("t1", "s", 0, 0, 10, 1000)
    assert [r.sequence for r in read] == [0, 1, 2]
    assert read[1].partition_key == "pk1" and read[1].sealed == bytes([1]) * 38
    assert read[0].arrived == T0 and read[0].size == 10
    assert [r.sequence for r in await store.read("t1", "s", 0, 1, 10, 1000)] == [1, 2]
    assert [r.sequence for r in await store.read("t1", "s", 0, 0, 2, 1000)] == [0, 1]
    assert [r.sequence for r in await store.read("t1", "s", 0, 0, 10, 25)] == [0, 1]
    assert [r.sequence for r in await store.read("t1", "s", 0, 0, 10, 1)] == [0]  # one at least
    assert [r.sequence for r in await store.read("t1", "s", 1, 0, 10, 1000)] == [3, 4]
    assert await store.first_since("t1", "s", 1, T0 + 500) == 3
    assert await store.first_since("t1", "s", 0, T0 + 500) is None
    big = [SealedRecord(0, "k", 1, b"x") for _ in range(250)]  # more than one page of the SQL
    numbers = await store.append("t1", "s", 1, big, T0 + 2000)
    assert numbers is not None and numbers[0] == 5
    assert len(await store.read("t1", "s", 0, 3, 10_000, 10_000)) == 250
    assert len(await store.read("t1", "s", 0, 3, 120, 10_000)) == 120


async def test_a_reshard_closes_and_opens_at_the_counter(store: KinesisStore) -> None:
    made = stream("s")
    await store.create(made, max_shards=4, max_on_demand=1)
    await store.append("t1", "s", 1, records(0, 3), T0)
    change = split(made, "shardId-000000000000", str(made.shards[0].end_hash // 2))
    after = await store.reshard("t1", "s", 1, change, T0 + 5, max_shards=4)
    assert after is not None and after.layout == 2
    assert await store.reshard("t1", "s", 1, change, T0 + 5, max_shards=4) is None
    held = await store.get("t1", "s")
    assert held == after
    parent, _, left, right = held.shards
    assert parent.ending == 3 and parent.closed_at == T0 + 5
    assert (left.starting, right.starting) == (4, 4)
    assert (left.parent, right.parent) == (0, 0) and left.is_open
    assert await store.append("t1", "s", 1, records(0, 1), T0) is None  # routed before
    assert await store.append("t1", "s", 2, records(2, 1), T0) == [4]
    assert await store.usage("t1") == AccountUsage(3, 0)
    with pytest.raises(LimitExceeded):
        await store.reshard(
            "t1", "s", 2, split(held, "shardId-000000000001", str(2**127 + 5)), T0, max_shards=3
        )
    merged = await store.reshard(
        "t1", "s", 2, merge(held, "shardId-000000000002", "shardId-000000000003"), T0, 4
    )
    assert merged is not None
    child = merged.shards[-1]
    assert (child.parent, child.adjacent_parent, child.starting) == (2, 3, 6)
    assert (child.start_hash, child.end_hash) == (made.shards[0].start_hash,
                                                  made.shards[0].end_hash)  # fmt: skip


async def test_records_past_retention_are_trimmed(store: KinesisStore) -> None:
    await store.create(stream("s"), max_shards=10, max_on_demand=1)
    held = await store.get("t1", "s")
    assert held is not None
    await store.create(dataclasses.replace(stream("long"), retention_hours=48), 10, 1)
    await store.append("t1", "s", 1, records(0, 2), T0)
    await store.append("t1", "s", 1, records(0, 1), T0 + 2 * HOUR)
    await store.append("t1", "long", 1, records(0, 1), T0)
    assert await store.trim(T0 + 25 * HOUR) == 2
    assert [r.sequence for r in await store.read("t1", "s", 0, 0, 10, 100)] == [2]
    assert len(await store.read("t1", "long", 0, 0, 10, 100)) == 1
    assert await store.trim(T0 + 25 * HOUR) == 0


async def test_shards_closed_past_retention_are_no_longer_listed(store: KinesisStore) -> None:
    made = stream("s")
    await store.create(made, max_shards=10, max_on_demand=1)
    await store.create(stream("quiet"), max_shards=10, max_on_demand=1)
    change = merge(made, "shardId-000000000000", "shardId-000000000001")
    await store.reshard("t1", "s", 1, change, T0, max_shards=10)
    assert await store.expire_shards(T0 + 23 * HOUR) == 0
    assert await store.expire_shards(T0 + 25 * HOUR) == 2
    held = await store.get("t1", "s")
    assert held is not None and [s.index for s in held.shards] == [2]
    assert held.layout == 2  # routing unchanged: a put routed before still lands
    assert await store.append("t1", "s", 2, records(2, 1), T0 + 25 * HOUR) is not None
    quiet = await store.get("t1", "quiet")
    assert quiet is not None and len(quiet.shards) == 2
    assert await store.expire_shards(T0 + 26 * HOUR) == 0


async def test_every_accounts_streams_are_paged_in_order(store: KinesisStore) -> None:
    for tenant, name in (("t2", "a"), ("t1", "b"), ("t1", "a")):
        await store.create(stream(name, tenant), max_shards=10, max_on_demand=1)
    first = await store.every_stream(None, 2)
    assert [(s.tenant_id, s.name) for s in first] == [("t1", "a"), ("t1", "b")]
    rest = await store.every_stream(("t1", "b"), 2)
    assert [(s.tenant_id, s.name) for s in rest] == [("t2", "a")]
    assert rest[0].shards == stream("a", "t2").shards


async def test_stored_bytes_count_records_by_arrival(store: KinesisStore) -> None:
    await store.create(stream("s"), max_shards=10, max_on_demand=1)
    await store.create(stream("s", "t2"), max_shards=10, max_on_demand=1)
    await store.create(stream("empty"), max_shards=10, max_on_demand=1)
    await store.append("t1", "s", 1, records(0, 2, size=100), T0)
    await store.append("t1", "s", 1, records(1, 1, size=7), T0 + HOUR)
    await store.append("t2", "s", 1, records(0, 1, size=5), T0 + 2 * HOUR)
    assert await store.stored_bytes(T0) == {}
    assert await store.stored_bytes(T0 + HOUR) == {("t1", "s"): 200}
    assert await store.stored_bytes(T0 + 3 * HOUR) == {("t1", "s"): 207, ("t2", "s"): 5}


async def test_a_streams_record_size_is_kept_and_written_by_replace(store: KinesisStore) -> None:
    """Decision 0260: MaxRecordSizeInKiB made with the stream (1024 by default), changed by a
    compare-and-set write, its shards and counter left alone."""
    await store.create(stream("d"), max_shards=50, max_on_demand=1)
    made = dataclasses.replace(stream("big"), max_record_kib=4096)
    await store.create(made, max_shards=50, max_on_demand=1)
    held = await store.get("t1", "d")
    assert held is not None and held.max_record_kib == 1024
    assert await store.get("t1", "big") == made
    await store.append("t1", "big", 1, records(0, 1), T0)
    assert await store.replace(dataclasses.replace(made, max_record_kib=10240, revision=2))
    assert not await store.replace(dataclasses.replace(made, max_record_kib=2048, revision=2))
    held = await store.get("t1", "big")
    assert held is not None and held.max_record_kib == 10240 and held.next_sequence == 1


async def test_an_accounts_billing_commitment_is_kept_by_revision(store: KinesisStore) -> None:
    """Decision 0260: DISABLED at revision 0 until set; each write compare-and-set on the
    revision (the first too), per account; a closed tenant's forgotten."""
    assert await store.commitment("t1") == BillingCommitment("t1")
    enabled = commit(BillingCommitment("t1"), True, T0)
    first = dataclasses.replace(enabled, revision=1)
    assert await store.put_commitment(first)
    assert not await store.put_commitment(first)  # another came first
    assert await store.commitment("t1") == first
    assert await store.commitment("t2") == BillingCommitment("t2")
    ending = dataclasses.replace(commit(first, False, T0 + HOUR), revision=2)
    assert ending.status is CommitmentStatus.ENABLED_UNTIL_EARLIEST_ALLOWED_END
    assert not await store.put_commitment(dataclasses.replace(ending, revision=3))
    assert await store.put_commitment(ending)
    assert await store.commitment("t1") == ending
    await store.forget_tenant("t1")
    assert await store.commitment("t1") == BillingCommitment("t1")
