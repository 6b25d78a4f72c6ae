"""Decision 0258's stream sources: a Kinesis stream and a DynamoDB stream read as the pipe's
role from their StartingPosition, each record in AWS's shape (a Kinesis record's ``data``
matched as JSON by the filter), their checkpoints kept so that another gateway's runner
resumes where the first stopped; a batch the target refuses past MaximumRetryAttempts sent to
the DeadLetterConfig queue, and passed; a DynamoDB stream's shards read parents first
(decision 0275)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from andromede.dynamodb import service as dynamodb_service
from andromede.dynamodb import stream_service
from support.dynamodbapp import dynamodb_world
from support.kinesisapp import kinesis_world
from support.pipes_streams import Rig
from support.pipesapp import allow


async def test_a_kinesis_source_is_read_from_its_checkpoints(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        await world.client("CreateStream", StreamName="clicks", ShardCount=1)
        stream = (await world.client("DescribeStreamSummary", StreamName="clicks"))[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        for n in (1, 2, 3):
            await world.client(
                "PutRecord",
                StreamName="clicks",
                PartitionKey="k",
                Data=json.dumps({"n": n}).encode(),
            )
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        role = await rig.role(allow("kinesis:*", "sqs:SendMessage"))
        await rig.pipes.create(
            world.tenant_id,
            "k",
            {
                "Source": stream,
                "Target": await rig.queue("out"),
                "RoleArn": role,
                "SourceParameters": {
                    "KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 2},
                    "FilterCriteria": {
                        "Filters": [{"Pattern": '{"data": {"n": [{"numeric": [">", 1]}]}}'}]
                    },
                },
            },
        )
        first = rig.runner("gw-a")
        assert await first.run_pass() == 1  # records 1 and 2; 1 filtered out
        (event,) = await rig.bodies("out")
        assert json.loads(base64.b64decode(str(event["data"]))) == {"n": 2}
        assert event["eventSource"] == "aws:kinesis" and event["partitionKey"] == "k"
        assert event["eventSourceARN"] == stream
        points = await rig.pipes.store.checkpoints(world.tenant_id, "k")
        assert list(points.values()) == [event["sequenceNumber"]]
        # Another gateway, once the lease ran out, resumes after the checkpoint.
        second = rig.runner("gw-b")
        later = int(time.time() * 1000) + 61_000
        assert await second.run_pass(now=later) == 1
        assert [
            json.loads(base64.b64decode(str(e["data"])))["n"] for e in await rig.bodies("out")
        ] == [3]
        assert await second.run_pass(now=later + 1) == 0
        rig.keys.close()


async def test_a_refused_batch_goes_to_the_dead_letter_queue(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        await world.client("CreateStream", StreamName="clicks", ShardCount=1)
        stream = (await world.client("DescribeStreamSummary", StreamName="clicks"))[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        await world.client("PutRecord", StreamName="clicks", PartitionKey="k", Data=b"x")
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        dead = await rig.queue("dead")
        role = await rig.role(
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
                        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead},
                    ],
                }
            )
        )
        await rig.pipes.create(
            world.tenant_id,
            "k",
            {
                "Source": stream,
                "Target": await rig.queue("out"),
                "RoleArn": role,
                "SourceParameters": {
                    "KinesisStreamParameters": {
                        "StartingPosition": "TRIM_HORIZON",
                        "MaximumRetryAttempts": 1,
                        "DeadLetterConfig": {"Arn": dead},
                    }
                },
            },
        )
        runner = rig.runner("gw-a")
        await runner.run_pass()  # settles it, and the first try is refused
        assert await rig.bodies("dead") == []
        await runner.run_pass()  # the retry, refused: to the dead-letter queue
        (letter,) = await rig.bodies("dead")
        info = letter["KinesisBatchInfo"]
        assert isinstance(info, dict) and info["batchSize"] == 1 and info["streamArn"] == stream
        assert await runner.run_pass() == 0 and await rig.bodies("dead") == []  # passed
        rig.keys.close()


async def test_a_dynamodb_stream_source(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path):
        table = await world.client(
            "CreateTable",
            TableName="things",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        stream = table["TableDescription"]["LatestStreamArn"]
        await world.client("PutItem", TableName="things", Item={"id": {"S": "a"}})
        rig = Rig(tmp_path, world.identity, world.tenant_id, dynamodb=world.app.streams)
        role = await rig.role(
            allow(
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "sqs:SendMessage",
            )
        )
        await rig.pipes.create(
            world.tenant_id,
            "d",
            {
                "Source": stream,
                "Target": await rig.queue("out"),
                "RoleArn": role,
                "SourceParameters": {
                    "DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}
                },
            },
        )
        assert await rig.runner("gw-a").run_pass() == 1
        (event,) = await rig.bodies("out")
        assert event["eventName"] == "INSERT" and event["eventSource"] == "aws:dynamodb"
        assert event["eventSourceARN"] == stream
        assert event["dynamodb"]["NewImage"] == {"id": {"S": "a"}}
        rig.keys.close()


async def test_a_kinesis_source_reads_parents_first(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        await world.client("CreateStream", StreamName="clicks", ShardCount=1)
        summary = await world.client("DescribeStreamSummary", StreamName="clicks")
        stream = summary["StreamDescriptionSummary"]["StreamARN"]
        await world.client("PutRecord", StreamName="clicks", PartitionKey="k", Data=b"old")
        (shard,) = (await world.client("ListShards", StreamName="clicks"))["Shards"]
        middle = str(int(shard["HashKeyRange"]["EndingHashKey"]) // 2)
        await world.client(
            "SplitShard",
            StreamName="clicks",
            ShardToSplit=shard["ShardId"],
            NewStartingHashKey=middle,
        )
        for _ in range(50):
            described = await world.client("DescribeStreamSummary", StreamName="clicks")
            if described["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
        await world.client("PutRecord", StreamName="clicks", PartitionKey="k", Data=b"new")
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        role = await rig.role(allow("kinesis:*", "sqs:SendMessage"))
        await rig.pipes.create(world.tenant_id, "k", {
            "Source": stream, "Target": await rig.queue("out"), "RoleArn": role,
            "SourceParameters": {"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON"}},
        })  # fmt: skip
        runner = rig.runner("gw-a")
        assert await runner.run_pass() == 1  # the parent's record; its children wait
        assert await runner.run_pass() == 1  # the parent read to its end: a child's record
        datas = [base64.b64decode(str(e["data"])) for e in await rig.bodies("out")]
        assert datas == [b"old", b"new"]
        rig.keys.close()


async def test_a_dynamodb_stream_source_reads_parents_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0275: an item's change in a rolled shard waits for its parent's."""
    clock = [1_796_572_800_000]
    monkeypatch.setattr(dynamodb_service, "_now", lambda: clock[0])
    monkeypatch.setattr(stream_service, "_now", lambda: clock[0])
    lifetime = 3_600_000
    async for world in dynamodb_world(
        tmp_path, dynamodb_stream_shards=2, dynamodb_stream_shard_lifetime=lifetime / 1000
    ):
        table = await world.client(
            "CreateTable",
            TableName="things",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        stream = table["TableDescription"]["LatestStreamArn"]
        item = {"id": {"S": "a"}, "v": {"N": "1"}}
        await world.client("PutItem", TableName="things", Item=item)
        clock[0] += lifetime + 1  # the next generation: the item's child shard
        await world.client("PutItem", TableName="things", Item=item | {"v": {"N": "2"}})
        rig = Rig(tmp_path, world.identity, world.tenant_id, dynamodb=world.app.streams)
        role = await rig.role(allow("dynamodb:*", "sqs:SendMessage"))
        await rig.pipes.create(world.tenant_id, "d", {
            "Source": stream, "Target": await rig.queue("out"), "RoleArn": role,
            "SourceParameters": {"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}},
        })  # fmt: skip
        runner = rig.runner("gw-a")
        assert await runner.run_pass() == 1  # the parent's record; its child waits
        assert await runner.run_pass() == 1  # the parent read to its end: the child's
        events = await rig.bodies("out")
        assert [e["dynamodb"]["NewImage"]["v"]["N"] for e in events] == ["1", "2"]
        rig.keys.close()
