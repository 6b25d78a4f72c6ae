"""Decision 0245's enhanced monitoring through botocore's own model: EnableEnhancedMonitoring
and DisableEnhancedMonitoring by name or ARN answering the metrics before and after (``ALL``
expanded), DescribeStream(Summary)'s ``EnhancedMonitoring``, AWS's validation errors and IAM;
the enabled metrics written per shard into ``AWS/Kinesis`` (``StreamName``, ``ShardId``) by
puts, throttled puts and reads, and none once disabled."""

from __future__ import annotations

from pathlib import Path

from andromede.kinesis.model import SHARD_LEVEL_METRICS
from support.kinesisapp import World, kinesis_world

S0, S1 = "shardId-000000000000", "shardId-000000000001"


def shard_points(world: World, name: str) -> dict[str, float]:
    """Each shard's total of ``name`` among the shard-level points recorded."""
    totals: dict[str, float] = {}
    for tenant, namespace, metric, dims, value in world.sink.points:
        shard = dict(dims).get("ShardId")
        if metric == name and shard is not None:
            assert (tenant, namespace, dict(dims)["StreamName"]) == (world.tenant_id,
                                                                    "AWS/Kinesis", "s")  # fmt: skip
            totals[shard] = totals.get(shard, 0.0) + value
    return totals


async def test_enable_and_disable_answer_before_and_after(world: World) -> None:
    made = await world.client("CreateStream", StreamName="s", ShardCount=2)
    assert made == {}
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    assert summary["StreamDescriptionSummary"]["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    on = await world.client("EnableEnhancedMonitoring", StreamName="s",
                            ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])  # fmt: skip
    arn = f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/s"
    assert on == {"StreamName": "s", "StreamARN": arn, "CurrentShardLevelMetrics": [],
                  "DesiredShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"]}  # fmt: skip
    described = await world.client("DescribeStream", StreamARN=arn)
    assert described["StreamDescription"]["EnhancedMonitoring"] == [
        {"ShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"]}
    ]
    every = await world.client("EnableEnhancedMonitoring", StreamARN=arn, ShardLevelMetrics=["ALL"])
    assert every["CurrentShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    assert every["DesiredShardLevelMetrics"] == list(SHARD_LEVEL_METRICS)
    dropped = ["IncomingBytes", "IteratorAgeMilliseconds"]
    off = await world.client("DisableEnhancedMonitoring", StreamName="s", ShardLevelMetrics=dropped)
    assert off["CurrentShardLevelMetrics"] == list(SHARD_LEVEL_METRICS)
    assert "IncomingBytes" not in off["DesiredShardLevelMetrics"]
    assert len(off["DesiredShardLevelMetrics"]) == 5
    none = await world.client(
        "DisableEnhancedMonitoring", StreamName="s", ShardLevelMetrics=["ALL"]
    )
    assert none["DesiredShardLevelMetrics"] == []
    again = await world.client("DisableEnhancedMonitoring", StreamName="s",
                               ShardLevelMetrics=["ALL"])  # fmt: skip
    assert again["CurrentShardLevelMetrics"] == again["DesiredShardLevelMetrics"] == []
    assert ("kinesis:EnableEnhancedMonitoring", "success") in await world.audited()


async def test_bad_requests_are_refused_as_aws_refuses_them(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    bad = await world.raw("EnableEnhancedMonitoring",
                          {"StreamName": "s", "ShardLevelMetrics": ["IncomingBits"]})  # fmt: skip
    assert bad.status == 400 and bad.json()["__type"] == "ValidationException"
    assert "enum value set" in bad.json()["message"]
    empty = await world.raw(
        "EnableEnhancedMonitoring", {"StreamName": "s", "ShardLevelMetrics": []}
    )
    assert empty.json()["__type"] == "ValidationException"
    missing = await world.raw("DisableEnhancedMonitoring", {"StreamName": "s"})
    assert missing.json()["__type"] == "ValidationException"
    await world.fails("EnableEnhancedMonitoring", "ResourceNotFoundException",
                      StreamName="gone", ShardLevelMetrics=["ALL"])  # fmt: skip


async def test_enabled_metrics_are_written_per_shard(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=2)
    await world.client("PutRecord", StreamName="s", Data=b"before", PartitionKey="k",
                       ExplicitHashKey="0")  # fmt: skip
    assert shard_points(world, "IncomingBytes") == {}  # nothing per shard until enabled
    await world.client("EnableEnhancedMonitoring", StreamName="s",
                       ShardLevelMetrics=["IncomingBytes", "IncomingRecords", "OutgoingRecords",
                                          "IteratorAgeMilliseconds"])  # fmt: skip
    await world.client("PutRecords", StreamName="s", Records=[
        {"Data": b"abc", "PartitionKey": "a", "ExplicitHashKey": "0"},
        {"Data": b"defgh", "PartitionKey": "b", "ExplicitHashKey": "0"},
        {"Data": b"ij", "PartitionKey": "c", "ExplicitHashKey": str(2**128 - 1)},
    ])  # fmt: skip
    assert shard_points(world, "IncomingBytes") == {S0: 8.0, S1: 2.0}
    assert shard_points(world, "IncomingRecords") == {S0: 2.0, S1: 1.0}
    stream_level = [p[4] for p in world.sink.points if p[2] == "IncomingRecords" and len(p[3]) == 1]
    assert sum(stream_level) == 4  # the stream-level metric still written
    got = await world.client("GetShardIterator", StreamName="s", ShardId=S1,
                             ShardIteratorType="TRIM_HORIZON")  # fmt: skip
    read = await world.client("GetRecords", ShardIterator=got["ShardIterator"])
    assert [r["Data"] for r in read["Records"]] == [b"ij"]
    assert shard_points(world, "OutgoingRecords") == {S1: 1.0}
    assert S1 in shard_points(world, "IteratorAgeMilliseconds")
    assert shard_points(world, "OutgoingBytes") == {}  # not enabled
    await world.client("DisableEnhancedMonitoring", StreamName="s", ShardLevelMetrics=["ALL"])
    await world.client("PutRecord", StreamName="s", Data=b"after", PartitionKey="k",
                       ExplicitHashKey="0")  # fmt: skip
    assert shard_points(world, "IncomingBytes") == {S0: 8.0, S1: 2.0}


async def test_throttled_records_count_per_shard(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path, kinesis_shard_write_records=2):
        await world.client("CreateStream", StreamName="s", ShardCount=1)
        await world.client("EnableEnhancedMonitoring", StreamName="s",
                           ShardLevelMetrics=["WriteProvisionedThroughputExceeded"])  # fmt: skip
        put = await world.client("PutRecords", StreamName="s", Records=[
            {"Data": b"x", "PartitionKey": f"k{i}"} for i in range(5)
        ])  # fmt: skip
        assert put["FailedRecordCount"] == 3
        assert shard_points(world, "WriteProvisionedThroughputExceeded") == {S0: 3.0}


async def test_a_caller_not_allowed_is_refused(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    user = await world.iam_user("watcher")
    await user.fails("EnableEnhancedMonitoring", "AccessDeniedException",
                     StreamName="s", ShardLevelMetrics=["ALL"])  # fmt: skip
    await user.fails("DisableEnhancedMonitoring", "AccessDeniedException",
                     StreamName="s", ShardLevelMetrics=["ALL"])  # fmt: skip
