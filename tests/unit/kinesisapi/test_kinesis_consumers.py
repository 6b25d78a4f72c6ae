"""Decision 0228's stream consumer registry through botocore's own model: consumers registered
(ACTIVE at once, their ARN the stream's with ``/consumer/<name>:<seconds>``), described by ARN
or by stream and name, listed page by page, counted in the stream's summary, deregistered;
a name taken, the stream's bound (``kinesis_max_consumers``), a stale consumer ARN; a stream
with consumers deleted only with ``EnforceConsumerDeletion``; IAM on the consumer's ARN;
a deleted stream's consumer no longer subscribes (decision 0242)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.kinesisapp import World, kinesis_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in kinesis_world(tmp_path, kinesis_max_consumers=3):
        yield made


def stream_arn(world: World) -> str:
    return f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/s"


async def test_consumers_registered_described_listed_and_deregistered(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = stream_arn(world)
    made = (await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app"))[
        "Consumer"
    ]
    assert made["ConsumerStatus"] == "ACTIVE" and made["ConsumerName"] == "app"
    assert made["ConsumerARN"].startswith(f"{arn}/consumer/app:")
    by_arn = await world.client("DescribeStreamConsumer", ConsumerARN=made["ConsumerARN"])
    by_name = await world.client("DescribeStreamConsumer", StreamARN=arn, ConsumerName="app")
    assert by_arn == by_name
    assert by_arn["ConsumerDescription"]["StreamARN"] == arn
    await world.fails("RegisterStreamConsumer", "ResourceInUseException", StreamARN=arn,
                      ConsumerName="app")  # fmt: skip
    for name in ("b", "c"):
        await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName=name)
    await world.fails("RegisterStreamConsumer", "LimitExceededException", StreamARN=arn,
                      ConsumerName="d")  # fmt: skip
    page = await world.client("ListStreamConsumers", StreamARN=arn, MaxResults=2)
    assert [c["ConsumerName"] for c in page["Consumers"]] == ["app", "b"]
    rest = await world.client("ListStreamConsumers", StreamARN=arn, NextToken=page["NextToken"])
    assert [c["ConsumerName"] for c in rest["Consumers"]] == ["c"] and "NextToken" not in rest
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    assert summary["StreamDescriptionSummary"]["ConsumerCount"] == 3
    await world.client("DeregisterStreamConsumer", ConsumerARN=made["ConsumerARN"])
    await world.fails("DescribeStreamConsumer", "ResourceNotFoundException", StreamARN=arn,
                      ConsumerName="app")  # fmt: skip
    stale = made["ConsumerARN"].rsplit(":", 1)[0] + ":1"
    await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    await world.fails("DescribeStreamConsumer", "ResourceNotFoundException", ConsumerARN=stale)
    await world.fails("DeleteStream", "ResourceInUseException", StreamName="s")
    await world.client("DeleteStream", StreamName="s", EnforceConsumerDeletion=True)
    subscription = {"ConsumerARN": made["ConsumerARN"], "ShardId": "shardId-000000000000",
                    "StartingPosition": {"Type": "LATEST"}}  # fmt: skip
    reply = await world.raw("SubscribeToShard", subscription)
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"  # decision 0242


async def test_iam_judges_the_consumers_arn(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = stream_arn(world)
    await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    user = await world.iam_user("reader")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:DescribeStreamConsumer",
         "Resource": f"{arn}/consumer/app:*"}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "reader", "p", json.dumps(policy))
    await user.client("DescribeStreamConsumer", StreamARN=arn, ConsumerName="app")
    await user.fails("DeregisterStreamConsumer", "AccessDeniedException", StreamARN=arn,
                     ConsumerName="app")  # fmt: skip
    await user.fails("RegisterStreamConsumer", "AccessDeniedException", StreamARN=arn,
                     ConsumerName="other")  # fmt: skip
