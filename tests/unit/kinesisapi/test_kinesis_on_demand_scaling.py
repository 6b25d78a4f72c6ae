"""Decision 0255's on-demand scaling through the service and botocore's model: a new
on-demand stream's 4 shards; the writes its shards take noted by the service's observer; a
round of the scaler splitting the shard near its capacity through the resharding path (the
parent closed, children naming it, ``ChildShards`` at its end), a key's records read in
order across it; a quiet or provisioned stream left alone; the stream's and the account's
shard bounds; and decision 0260's scaling in of cold shards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import shard_id
from andromede.kinesis.scaling import OnDemandScaler
from andromede.kinesis.scaling_in import ColdShards
from andromede.kinesis.store import SealedRecord
from support.kinesisapp import World, kinesis_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    # A shard takes 10 records a second here: a few records make it hot.
    async for made in kinesis_world(tmp_path, kinesis_shard_write_records=10,
                                    kinesis_max_shards=7):  # fmt: skip
        yield made


def scaler(world: World, max_stream_shards: int = 200, max_account: int = 7) -> OnDemandScaler:
    return OnDemandScaler(
        world.kinesis.store, world.traffic, max_stream_shards=max_stream_shards,
        max_account_shards=max_account,
    )  # fmt: skip


async def put(world: World, name: str, count: int, tag: str) -> list[dict[str, Any]]:
    got = await world.client("PutRecords", StreamName=name, Records=[
        {"Data": f"{tag}{i}".encode(), "PartitionKey": "hot"} for i in range(count)
    ])  # fmt: skip
    assert got["FailedRecordCount"] == 0
    return list(got["Records"])


async def read_shard(world: World, name: str, shard: str) -> dict[str, Any]:
    token = (await world.client("GetShardIterator", StreamName=name, ShardId=shard,
                                ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    got = await world.client("GetRecords", ShardIterator=token)
    while got.get("NextShardIterator") and not got["Records"] and "ChildShards" not in got:
        got = await world.client("GetRecords", ShardIterator=got["NextShardIterator"])
    return got


async def test_a_hot_shard_is_split_and_its_keys_records_stay_in_order(world: World) -> None:
    await world.client("CreateStream", StreamName="s",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    before = await put(world, "s", 8, "b")  # 8 of 10 records a second: doubled, past capacity
    hot = before[0]["ShardId"]
    scaled = await scaler(world).scale()
    assert [len(s.open_shards) for s in scaled] == [5]
    listed = (await world.client("ListShards", StreamName="s"))["Shards"]
    children = [s for s in listed if s.get("ParentShardId") == hot]
    assert len(children) == 2 and len(listed) == 6
    parent = next(s for s in listed if s["ShardId"] == hot)
    ending = int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
    after = await put(world, "s", 3, "a")
    assert {r["ShardId"] for r in after} <= {c["ShardId"] for c in children}
    assert min(int(r["SequenceNumber"]) for r in after) > ending
    closed = await read_shard(world, "s", hot)
    assert [r["Data"] for r in closed["Records"]] == [f"b{i}".encode() for i in range(8)]
    if closed.get("NextShardIterator"):
        closed = await world.client("GetRecords", ShardIterator=closed["NextShardIterator"])
    assert [c["ShardId"] for c in closed["ChildShards"]] == [c["ShardId"] for c in children]
    child = await read_shard(world, "s", after[0]["ShardId"])
    assert [r["Data"] for r in child["Records"]] == [b"a0", b"a1", b"a2"]
    assert await scaler(world).scale() == []  # nothing written since: nothing to do
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 5


async def test_quiet_and_provisioned_streams_are_left_alone(world: World) -> None:
    await world.client("CreateStream", StreamName="s",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.client("CreateStream", StreamName="p", ShardCount=1)
    await put(world, "s", 4, "q")  # 0.4 of a shard: doubled, still within it
    await put(world, "p", 9, "p")
    assert await scaler(world).scale() == []
    assert len((await world.client("ListShards", StreamName="p"))["Shards"]) == 1


async def test_the_stream_and_account_bounds_hold(world: World) -> None:
    await world.client("CreateStream", StreamName="s",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    hot = (await put(world, "s", 8, "b"))[0]["ShardId"]
    assert await scaler(world, max_stream_shards=4).scale() == []
    stream = await world.kinesis.get(world.tenant_id, "s")
    index = int(hot.removeprefix("shardId-"))
    world.traffic.note(stream, [], [index])  # a write refused: the shard is full
    assert await scaler(world, max_account=4).scale() == []  # the account's 4 shards
    world.traffic.note(stream, [], [index])
    assert [len(s.open_shards) for s in await scaler(world).scale()] == [5]


async def _every_record(world: World, name: str) -> list[tuple[int, bytes, str]]:
    """(sequence number, data, shard) of every record of the stream, each shard read whole."""
    found = []
    for shard in (await world.client("ListShards", StreamName=name))["Shards"]:
        token = (await world.client("GetShardIterator", StreamName=name,
                                    ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
        while token:
            got = await world.client("GetRecords", ShardIterator=token)
            found += [(int(r["SequenceNumber"]), r["Data"], shard["ShardId"])
                      for r in got["Records"]]  # fmt: skip
            token = got.get("NextShardIterator") if got["Records"] else None
    return sorted(found)


async def test_cold_shards_are_merged_back_never_below_four(world: World) -> None:
    """Decision 0260: once scaled out, the stream's adjacent shards cold for the window (by
    this gateway's peaks and the stream's counter) are merged through MergeShards' change,
    one pair a round, down to 4; a key's records all read, in the order they were put."""
    now = [0.0]
    cold = ColdShards(load=0.25, window=100.0, records_per_second=10)
    rounds = OnDemandScaler(world.kinesis.store, world.traffic, max_stream_shards=200,
                            max_account_shards=7, clock=lambda: now[0], cold=cold)  # fmt: skip
    await world.client("CreateStream", StreamName="s",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.client("CreateStream", StreamName="p", ShardCount=2)
    await put(world, "s", 8, "b")
    assert [len(s.open_shards) for s in await rounds.scale()] == [5]
    assert await rounds.scale_in() == []  # first seen: the window starts
    warm = (await put(world, "s", 3, "a"))[0]["ShardId"]  # 0.3 of its capacity: warm
    now[0] = 50.0
    assert await rounds.scale() == []
    now[0] = 99.0
    assert await rounds.scale_in() == []  # not a window yet
    now[0] = 100.0
    (merged,) = await rounds.scale_in()
    assert merged.name == "s" and len(merged.open_shards) == 4
    assert warm in {s.id for s in merged.open_shards}  # warm at 50: not merged
    await put(world, "s", 2, "z")
    listed = (await world.client("ListShards", StreamName="s"))["Shards"]
    child = listed[-1]
    assert child["ParentShardId"] and child["AdjacentParentShardId"]
    records = await _every_record(world, "s")
    assert [data for _, data, _ in records] == [
        *(f"b{i}".encode() for i in range(8)),
        b"a0",
        b"a1",
        b"a2",
        b"z0",
        b"z1",
    ]
    now[0] = 10_000.0
    assert await rounds.scale_in() == []  # 4 open shards: never fewer
    assert len((await world.client("ListShards", StreamName="p"))["Shards"]) == 2


class _MergeDuringPut(MemoryKinesisStore):
    """A store that runs ``before_append`` (once) between a put's routing and its append."""

    def __init__(self) -> None:
        super().__init__()
        self.before_append: Callable[[], Awaitable[object]] | None = None

    async def append(
        self, tenant_id: str, name: str, layout: int, records: Sequence[SealedRecord], now: int
    ) -> list[int] | None:
        hook, self.before_append = self.before_append, None
        if hook is not None:
            await hook()
        return await super().append(tenant_id, name, layout, records, now)


async def test_a_put_that_meets_a_merge_routes_again_in_key_order(tmp_path: Path) -> None:
    store = _MergeDuringPut()
    async for world in kinesis_world(tmp_path, store, kinesis_shard_write_records=10):
        await _put_during_merge(world, store)


async def _put_during_merge(world: World, store: _MergeDuringPut) -> None:
    now = [0.0]
    rounds = OnDemandScaler(store, world.traffic, max_stream_shards=200,
                            max_account_shards=50, clock=lambda: now[0],
                            cold=ColdShards(load=0.25, window=100.0,
                                            records_per_second=10))  # fmt: skip
    await world.client("CreateStream", StreamName="s",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await put(world, "s", 8, "b")
    await rounds.scale()
    assert await rounds.scale_in() == []
    low = [{"Data": f"y{i}".encode(), "PartitionKey": "k", "ExplicitHashKey": "0"}
           for i in range(2)]  # fmt: skip
    before = (await world.client("PutRecords", StreamName="s", Records=low))["Records"]
    now[0] = 100.0
    merged: list[Any] = []

    async def merge_now() -> None:
        merged.extend(await rounds.scale_in())

    store.before_append = merge_now
    late = [{"Data": f"x{i}".encode(), "PartitionKey": "k", "ExplicitHashKey": "0"}
            for i in range(3)]  # fmt: skip
    after = (await world.client("PutRecords", StreamName="s", Records=late))["Records"]
    (stream,) = merged
    child = max(stream.open_shards, key=lambda s: s.index)
    assert {r["ShardId"] for r in before} == {shard_id(child.parent or 0)}
    assert {r["ShardId"] for r in after} == {child.id}  # routed again, past the merge
    keyed = [(seq, data) for seq, data, shard in await _every_record(world, "s")
             if shard in (child.id, shard_id(child.parent or 0))]  # fmt: skip
    assert [data for _, data in keyed] == [b"y0", b"y1", b"x0", b"x1", b"x2"]
