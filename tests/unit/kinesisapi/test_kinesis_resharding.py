"""Decision 0228's resharding through botocore's own model: SplitShard, MergeShards and
UpdateShardCount (UNIFORM_SCALING) close their parents (``EndingSequenceNumber``) and open
children naming them (``ParentShardId``/``AdjacentParentShardId``); records put after go to
the children, numbered above the parents'; reading a closed shard to its end gives
``NextShardIterator`` null and ``ChildShards``; the stream's bounds; the same calls over the
SQL store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.kinesis.model import HASH_MAX
from andromede.kinesis.store_sql import SqlKinesisStore
from support.kinesisapp import World, kinesis_world
from support.store_backends import SQL_BACKENDS, sql_database


async def shards(world: World) -> list[dict[str, Any]]:
    return list((await world.client("ListShards", StreamName="s"))["Shards"])


async def read_all(world: World, shard: str) -> dict[str, Any]:
    token = (await world.client("GetShardIterator", StreamName="s", ShardId=shard,
                                ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    return await world.client("GetRecords", ShardIterator=token)


async def split_then_read(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    before = await world.client("PutRecord", StreamName="s", Data=b"before", PartitionKey="a")
    half = str((HASH_MAX + 1) // 2)
    await world.client("SplitShard", StreamName="s", ShardToSplit="shardId-000000000000",
                       NewStartingHashKey=half)  # fmt: skip
    parent, left, right = await shards(world)
    ending = parent["SequenceNumberRange"]["EndingSequenceNumber"]
    assert int(ending) >= int(before["SequenceNumber"])
    assert left["ParentShardId"] == right["ParentShardId"] == "shardId-000000000000"
    assert "AdjacentParentShardId" not in left
    assert right["HashKeyRange"]["StartingHashKey"] == half
    assert int(left["SequenceNumberRange"]["StartingSequenceNumber"]) > int(ending)
    after = await world.client("PutRecord", StreamName="s", Data=b"after", PartitionKey="a")
    assert after["ShardId"] in (left["ShardId"], right["ShardId"])
    assert int(after["SequenceNumber"]) > int(ending)
    closed = await read_all(world, "shardId-000000000000")
    assert [r["Data"] for r in closed["Records"]] == [b"before"]
    if "NextShardIterator" in closed:  # the end may be told by the next read
        closed = await world.client("GetRecords", ShardIterator=closed["NextShardIterator"])
    assert closed.get("NextShardIterator") is None
    assert [c["ShardId"] for c in closed["ChildShards"]] == [left["ShardId"], right["ShardId"]]
    assert closed["ChildShards"][0]["ParentShards"] == ["shardId-000000000000"]
    child = await read_all(world, after["ShardId"])
    assert [r["Data"] for r in child["Records"]] == [b"after"]


async def test_a_split_closes_the_parent_and_opens_its_children(world: World) -> None:
    await split_then_read(world)
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 2
    await world.fails("SplitShard", "InvalidArgumentException", StreamName="s",
                      ShardToSplit="shardId-000000000000", NewStartingHashKey="5")  # fmt: skip


@pytest.fixture(params=SQL_BACKENDS)
async def sql_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with sql_database(request, tmp_path) as db:
        async for world in kinesis_world(tmp_path, SqlKinesisStore(db)):
            yield world


async def test_the_same_over_the_sql_store(sql_world: World) -> None:
    await split_then_read(sql_world)


async def test_merge_names_both_parents(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=2)
    await world.client("MergeShards", StreamName="s", ShardToMerge="shardId-000000000000",
                       AdjacentShardToMerge="shardId-000000000001")  # fmt: skip
    *parents, child = await shards(world)
    assert all("EndingSequenceNumber" in p["SequenceNumberRange"] for p in parents)
    assert child["ParentShardId"] == "shardId-000000000000"
    assert child["AdjacentParentShardId"] == "shardId-000000000001"
    assert child["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(HASH_MAX)}
    await world.fails("MergeShards", "InvalidArgumentException", StreamName="s",
                      ShardToMerge="shardId-000000000000",
                      AdjacentShardToMerge="shardId-000000000002")  # fmt: skip


async def test_update_shard_count_scales_uniformly(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=2)
    answer = await world.client("UpdateShardCount", StreamName="s", TargetShardCount=4,
                                ScalingType="UNIFORM_SCALING")  # fmt: skip
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 4)
    listed = await world.client("ListShards", StreamName="s", ShardFilter={"Type": "AT_LATEST"})
    opened = listed["Shards"]
    assert len(opened) == 4
    assert [s["ParentShardId"] for s in opened] == ["shardId-000000000000"] * 2 + [
        "shardId-000000000001"
    ] * 2
    await world.fails("UpdateShardCount", "InvalidArgumentException", StreamName="s",
                      TargetShardCount=9, ScalingType="UNIFORM_SCALING")  # fmt: skip
    # The world's bound: 12 open shards.
    await world.client("UpdateShardCount", StreamName="s", TargetShardCount=8,
                       ScalingType="UNIFORM_SCALING")  # fmt: skip
    await world.fails("UpdateShardCount", "InvalidArgumentException", StreamName="s",
                      TargetShardCount=16, ScalingType="UNIFORM_SCALING")  # fmt: skip
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.fails("SplitShard", "InvalidArgumentException", StreamName="od",
                      ShardToSplit="shardId-000000000000", NewStartingHashKey="5")  # fmt: skip
