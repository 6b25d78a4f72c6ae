"""Decision 0228's stream calls through botocore's own model: a provisioned stream made ACTIVE
at once (its waiter returns), described (shards evenly dividing the hash key space), summed
up, listed page by page with its summaries, tagged both ways, its retention raised and
lowered within 24 to 8760 hours, deleted; on-demand streams; the account's bounds of shards and
on-demand streams (``LimitExceededException``); errors in AWS's words; IAM deciding; audit as
the neighbours; the calls not served answered ``UnknownOperationException``."""

from __future__ import annotations

import itertools
import json

from andromede.kinesis.model import HASH_MAX
from support.kinesisapp import World


async def test_a_stream_is_made_active_described_and_listed(world: World) -> None:
    await world.client("CreateStream", StreamName="clicks", ShardCount=3,
                       Tags={"team": "web"})  # fmt: skip
    described = (await world.client("DescribeStream", StreamName="clicks"))["StreamDescription"]
    assert described["StreamStatus"] == "ACTIVE"  # the stream_exists waiter returns at once
    assert described["StreamARN"] == f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/clicks"
    assert described["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert described["RetentionPeriodHours"] == 24
    assert described["EncryptionType"] == "NONE"
    assert described["HasMoreShards"] is False
    shards = described["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[-1]["HashKeyRange"]["EndingHashKey"] == str(HASH_MAX)
    for low, high in itertools.pairwise(shards):
        assert int(low["HashKeyRange"]["EndingHashKey"]) + 1 == int(
            high["HashKeyRange"]["StartingHashKey"]
        )
    assert "EndingSequenceNumber" not in shards[0]["SequenceNumberRange"]
    assert len(shards[0]["SequenceNumberRange"]["StartingSequenceNumber"]) == 56
    page = (await world.client("DescribeStream", StreamName="clicks", Limit=2))["StreamDescription"]
    assert len(page["Shards"]) == 2 and page["HasMoreShards"] is True
    rest = await world.client(
        "DescribeStream", StreamName="clicks", ExclusiveStartShardId="shardId-000000000001"
    )
    assert [s["ShardId"] for s in rest["StreamDescription"]["Shards"]] == ["shardId-000000000002"]
    summary = (await world.client("DescribeStreamSummary", StreamARN=described["StreamARN"]))[
        "StreamDescriptionSummary"
    ]
    assert summary["OpenShardCount"] == 3 and summary["StreamName"] == "clicks"
    await world.fails("CreateStream", "ResourceInUseException", StreamName="clicks", ShardCount=1)
    await world.fails("DescribeStream", "ResourceNotFoundException", StreamName="nope")
    other = await world.other_tenant("other")
    await other.fails("DescribeStream", "ResourceNotFoundException", StreamName="clicks")
    assert (await other.client("ListStreams"))["StreamNames"] == []
    # Another account's ARN is refused: no resource policy shares it (decision 0248).
    await other.fails("DescribeStreamSummary", "AccessDeniedException",
                      StreamARN=described["StreamARN"])  # fmt: skip


async def test_streams_are_listed_page_by_page(world: World) -> None:
    for name in ("c", "a", "b"):
        await world.client("CreateStream", StreamName=name, ShardCount=1)
    first = await world.client("ListStreams", Limit=2)
    assert first["StreamNames"] == ["a", "b"] and first["HasMoreStreams"] is True
    assert [s["StreamStatus"] for s in first["StreamSummaries"]] == ["ACTIVE", "ACTIVE"]
    second = await world.client("ListStreams", NextToken=first["NextToken"])
    assert second["StreamNames"] == ["c"] and second["HasMoreStreams"] is False
    assert "NextToken" not in second
    after = await world.client("ListStreams", ExclusiveStartStreamName="a")
    assert after["StreamNames"] == ["b", "c"]


async def test_tags_both_ways_retention_and_deletion(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/s"
    await world.client("AddTagsToStream", StreamName="s", Tags={"b": "2", "a": "1"})
    await world.client("TagResource", ResourceARN=arn, Tags={"c": "3"})
    listed = await world.client("ListTagsForStream", StreamName="s", Limit=2)
    assert listed == {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                      "HasMoreTags": True}  # fmt: skip
    await world.client("RemoveTagsFromStream", StreamName="s", TagKeys=["a"])
    await world.client("UntagResource", ResourceARN=arn, TagKeys=["b"])
    assert (await world.client("ListTagsForResource", ResourceARN=arn))["Tags"] == [
        {"Key": "c", "Value": "3"}
    ]
    await world.fails("AddTagsToStream", "InvalidArgumentException", StreamName="s",
                      Tags={"aws:x": "1"})  # fmt: skip
    await world.client("IncreaseStreamRetentionPeriod", StreamName="s", RetentionPeriodHours=48)
    message = await world.fails("DecreaseStreamRetentionPeriod", "InvalidArgumentException",
                                StreamName="s", RetentionPeriodHours=72)  # fmt: skip
    assert "IncreaseRetentionPeriod" in message
    await world.fails("IncreaseStreamRetentionPeriod", "InvalidArgumentException",
                      StreamName="s", RetentionPeriodHours=8761)  # fmt: skip
    await world.client("DecreaseStreamRetentionPeriod", StreamName="s", RetentionPeriodHours=24)
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    assert summary["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24
    await world.client("DeleteStream", StreamName="s", EnforceConsumerDeletion=True)
    await world.fails("DescribeStream", "ResourceNotFoundException", StreamName="s")
    await world.fails("DeleteStream", "ResourceNotFoundException", StreamName="s")


async def test_on_demand_streams_and_the_accounts_bounds(world: World) -> None:
    # The world's bounds: 12 open shards, one on-demand stream.
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    summary = (await world.client("DescribeStreamSummary", StreamName="od"))[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4
    await world.fails("CreateStream", "LimitExceededException", StreamName="od2",
                      StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.client("CreateStream", StreamName="p", ShardCount=8)
    await world.fails("CreateStream", "LimitExceededException", StreamName="q", ShardCount=1)
    limits = await world.client("DescribeLimits")
    assert limits == {"ShardLimit": 12, "OpenShardCount": 12, "OnDemandStreamCount": 1,
                      "OnDemandStreamCountLimit": 1}  # fmt: skip
    await world.fails("CreateStream", "InvalidArgumentException", StreamName="x")  # no count
    await world.client("DeleteStream", StreamName="p")
    await world.client("CreateStream", StreamName="q", ShardCount=8)


async def test_errors_are_awss_and_unserved_calls_are_unknown(world: World) -> None:
    reply = await world.raw("DescribeStream", {"StreamName": "bad name!"})
    assert reply.status == 400 and reply.headers["x-amzn-requestid"]
    assert reply.error_fields()["__type"] == "ValidationException"
    reply = await world.raw("DescribeStream", {})
    assert reply.error_fields()["__type"] == "InvalidArgumentException"
    reply = await world.raw("UpdateStreamWarmThroughput", {})
    assert reply.error_fields()["__type"] == "UnknownOperationException"
    assert "UpdateStreamWarmThroughput" in reply.error_fields()["message"]
    reply = await world.raw("CreateStream", b"{not json")
    assert reply.error_fields()["__type"] == "SerializationException"
    reply = await world.anonymous().raw("ListStreams", {})
    assert reply.error_fields()["__type"] == "MissingAuthenticationTokenException"


async def test_iam_decides_and_management_calls_are_audited(world: World) -> None:
    user = await world.iam_user("reader")
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    await user.fails("DescribeStream", "AccessDeniedException", StreamName="s")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kinesis:Describe*",
                       "Resource": f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/s"}],
    }  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "reader", "p", json.dumps(policy))
    await user.client("DescribeStream", StreamName="s")
    await user.fails("DeleteStream", "AccessDeniedException", StreamName="s")
    events = await world.audited()
    assert ("kinesis:CreateStream", "success") in events
    assert ("kinesis:DeleteStream", "failure") in events
    await world.client("PutRecord", StreamName="s", Data=b"x", PartitionKey="k")
    assert not any(a == "kinesis:PutRecord" for a, _ in await world.audited())
    await user.fails("PutRecord", "AccessDeniedException", StreamName="s", Data=b"x",
                     PartitionKey="k")  # fmt: skip
    assert ("kinesis:PutRecord", "failure") in await world.audited()


async def test_a_streams_mode_is_updated(world: World) -> None:
    await world.client("CreateStream", StreamName="od",
                       StreamModeDetails={"StreamMode": "ON_DEMAND"})  # fmt: skip
    await world.client("CreateStream", StreamName="p", ShardCount=2)
    arn = f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/p"
    on_demand = {"StreamMode": "ON_DEMAND"}
    await world.fails("UpdateStreamMode", "LimitExceededException", StreamARN=arn,
                      StreamModeDetails=on_demand)  # fmt: skip
    await world.client("DeleteStream", StreamName="od")
    await world.client("UpdateStreamMode", StreamARN=arn, StreamModeDetails=on_demand)
    summary = (await world.client("DescribeStreamSummary", StreamARN=arn))[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamModeDetails"] == on_demand and summary["OpenShardCount"] == 2
    await world.fails("UpdateShardCount", "InvalidArgumentException", StreamName="p",
                      TargetShardCount=3, ScalingType="UNIFORM_SCALING")  # fmt: skip
    await world.client("UpdateStreamMode", StreamARN=arn,
                       StreamModeDetails={"StreamMode": "PROVISIONED"})  # fmt: skip
    await world.client("UpdateShardCount", StreamName="p", TargetShardCount=3,
                       ScalingType="UNIFORM_SCALING")  # fmt: skip
