"""Kinesis Data Streams for DynamoDB (decision 0262): the four calls through botocore's model,
and the forwarder putting each item change into an in-process Kinesis service of the same
account (the real service over its memory store, its records sealed by the real sealer)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.dynamodb.kinesis_destination_service import (
    ForwarderPolicy,
    KinesisDestinations,
    KinesisForwarder,
)
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import StreamMode
from andromede.kinesis.scaling import ShardCapacity, WriteTraffic
from andromede.kinesis.service import KinesisService
from andromede.settings import Settings
from andromede.wiring.dynamodb_kinesis import OwnerKinesisStreams, kinesis_destinations
from andromede.wiring.kinesis import KinesisMetrics
from andromede.wiring.kinesis_keys import KinesisRecordSealer
from support.dynamodbapp import REGION, World, dynamodb_world


@dataclass
class Both:
    dynamodb: World
    kinesis: KinesisService
    streams: OwnerKinesisStreams

    def arn(self, name: str = "changes") -> str:
        return f"arn:aws:kinesis:{REGION}:{self.dynamodb.tenant_id}:stream/{name}"

    def forwarder(self, owner: str = "gw-1", lease_ms: int = 30_000) -> KinesisForwarder:
        return KinesisForwarder(
            self.dynamodb.dynamodb,
            self.dynamodb.store,
            self.streams,
            owner,
            ForwarderPolicy(lease_ms=lease_ms),
        )

    async def read(self, name: str = "changes") -> list[tuple[str, dict[str, Any]]]:
        tenant = self.dynamodb.tenant_id
        found: list[tuple[str, dict[str, Any]]] = []
        stream = await self.kinesis.get(tenant, name)
        for shard in stream.shards:
            token = await self.kinesis.iterator(tenant, name, shard.id, "TRIM_HORIZON")
            read = await self.kinesis.records(tenant, token, 1000)
            found += [(r.partition_key, json.loads(r.data)) for r in read.records]
        return found


def _same(kinesis: KinesisService) -> KinesisService:
    return kinesis


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[Both]:
    async for world in dynamodb_world(tmp_path):
        sealer = KinesisRecordSealer(
            world.keys, world.customer_keys, world.audit, world.billing, cache_size=8
        )
        traffic = WriteTraffic(ShardCapacity(1000, 1024 * 1024))
        metrics = KinesisMetrics(world.sink, world.billing, REGION, traffic)
        kinesis = KinesisService(MemoryKinesisStore(), sealer, REGION, observer=metrics)
        await kinesis.create(world.tenant_id, "changes", 1, StreamMode.PROVISIONED)
        streams = OwnerKinesisStreams(functools.partial(_same, kinesis))
        world.app.kinesis_destinations = KinesisDestinations(world.dynamodb, streams)
        await world.table("things")
        yield Both(world, kinesis, streams)


async def _enable(both: Both, **extra: Any) -> dict[str, Any]:
    return await both.dynamodb.client(
        "EnableKinesisStreamingDestination", TableName="things", StreamArn=both.arn(), **extra
    )


async def _destinations(both: Both) -> list[dict[str, Any]]:
    described = await both.dynamodb.client(
        "DescribeKinesisStreamingDestination", TableName="things"
    )
    assert described["TableName"] == "things"
    return list(described["KinesisDataStreamDestinations"])


async def test_enable_describe_update_disable_walk_aws_statuses(both: Both) -> None:
    assert await _destinations(both) == []
    enabled = await _enable(
        both,
        EnableKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
    )
    assert enabled == {
        "TableName": "things",
        "StreamArn": both.arn(),
        "DestinationStatus": "ENABLING",
        "EnableKinesisStreamingConfiguration": {
            "ApproximateCreationDateTimePrecision": "MICROSECOND"
        },
    }
    assert await _destinations(both) == [
        {
            "StreamArn": both.arn(),
            "DestinationStatus": "ACTIVE",
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
        }
    ]
    updated = await both.dynamodb.client(
        "UpdateKinesisStreamingDestination",
        TableName="things",
        StreamArn=both.arn(),
        UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MILLISECOND"},
    )
    assert updated["DestinationStatus"] == "UPDATING"
    [described] = await _destinations(both)
    assert described["DestinationStatus"] == "ACTIVE"
    assert described["ApproximateCreationDateTimePrecision"] == "MILLISECOND"
    disabled = await both.dynamodb.client(
        "DisableKinesisStreamingDestination", TableName="things", StreamArn=both.arn()
    )
    assert disabled["DestinationStatus"] == "DISABLING"
    [described] = await _destinations(both)
    assert described["DestinationStatus"] == "DISABLED"
    again = await _enable(both)  # a disabled destination may be enabled again
    assert again["DestinationStatus"] == "ENABLING"


async def test_a_settle_that_loses_the_race_answers_the_settled_table(both: Both) -> None:
    """A Describe that read the table ENABLING while the forwarder settled it first (CI saw
    its stale copy answered): the lost write is read back, never answered as it was."""
    await _enable(both)
    destinations = KinesisDestinations(both.dynamodb.dynamodb, both.streams)
    stale = await both.dynamodb.dynamodb.table(both.dynamodb.tenant_id, "things")
    first = await destinations.settle(stale)  # the forwarder's pass, first to write
    assert [d.status.value for d in first.kinesis] == ["ACTIVE"]
    late = await destinations.settle(stale)  # the Describe, holding what it read before
    assert [d.status.value for d in late.kinesis] == ["ACTIVE"]
    assert late.revision == first.revision  # nothing left to write once read back


async def test_refusals_in_aws_words(both: Both) -> None:
    db = both.dynamodb
    await db.fails(
        "EnableKinesisStreamingDestination",
        "ResourceNotFoundException",
        TableName="nothing",
        StreamArn=both.arn(),
    )
    message = await db.fails(
        "EnableKinesisStreamingDestination",
        "ResourceNotFoundException",
        TableName="things",
        StreamArn=both.arn("gone"),
    )
    assert "gone" in message
    other = f"arn:aws:kinesis:{REGION}:999999999999:stream/changes"
    await db.fails(
        "EnableKinesisStreamingDestination",
        "ValidationException",
        TableName="things",
        StreamArn=other,
    )
    await db.fails(
        "EnableKinesisStreamingDestination",
        "ValidationException",
        TableName="things",
        StreamArn=f"arn:aws:sqs:{REGION}:{db.tenant_id}:queue-name-that-is-long",
    )
    await db.fails(
        "DisableKinesisStreamingDestination",
        "ValidationException",
        TableName="things",
        StreamArn=both.arn(),
    )
    await _enable(both)
    await db.fails(
        "EnableKinesisStreamingDestination",
        "ValidationException",
        TableName="things",
        StreamArn=both.arn(),
    )
    await db.fails(  # UPDATING needs ACTIVE first
        "UpdateKinesisStreamingDestination",
        "ResourceInUseException",
        TableName="things",
        StreamArn=both.arn(),
        UpdateKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
    )
    for name in ("second", "third"):
        await both.kinesis.create(db.tenant_id, name, 1, StreamMode.PROVISIONED)
    await _destinations(both)
    await db.client(
        "EnableKinesisStreamingDestination", TableName="things", StreamArn=both.arn("second")
    )
    await db.fails(  # AWS: two destinations at most
        "EnableKinesisStreamingDestination",
        "LimitExceededException",
        TableName="things",
        StreamArn=both.arn("third"),
    )


async def test_enabling_needs_the_callers_kinesis_rights(both: Both) -> None:
    db = both.dynamodb
    dev = await db.iam_user("dev")
    tables = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
    rights = {
        "Effect": "Allow",
        "Action": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream"],
        "Resource": both.arn(),
    }
    policy = {"Version": "2012-10-17", "Statement": [tables]}
    await db.identity.put_user_policy(db.tenant_id, "dev", "p", json.dumps(policy))
    message = await dev.fails(
        "EnableKinesisStreamingDestination",
        "AccessDeniedException",
        TableName="things",
        StreamArn=both.arn(),
    )
    assert "kinesis:PutRecord" in message
    policy = {"Version": "2012-10-17", "Statement": [tables, rights]}
    await db.identity.put_user_policy(db.tenant_id, "dev", "p", json.dumps(policy))
    await dev.client("EnableKinesisStreamingDestination", TableName="things", StreamArn=both.arn())
    audited = await db.audited()
    assert ("dynamodb:EnableKinesisStreamingDestination", "denied") in audited or any(
        "EnableKinesisStreamingDestination" in action for action, _ in audited
    )


async def test_each_change_forwarded_once_in_order_in_aws_format(both: Both) -> None:
    db = both.dynamodb
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "before"}})
    await _enable(both)
    forwarder = both.forwarder()
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    await db.client(
        "UpdateItem",
        TableName="things",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    await db.client(
        "PutItem", TableName="things", Item={"pk": {"S": "a"}, "n": {"N": "2"}}
    )  # no change
    await db.client("DeleteItem", TableName="things", Key={"pk": {"S": "a"}})
    assert await forwarder.run_once() == 3
    assert await forwarder.run_once() == 0  # delivered ones are not sent again
    read = await both.read()
    assert [r["eventName"] for _, r in read] == ["INSERT", "MODIFY", "REMOVE"]
    key, first = read[0]
    assert {k for k, _ in read} == {key}  # one item, one partition key: one shard, in order
    assert len(key) == 32 and key == key.upper()
    assert list(first) == [
        "awsRegion", "eventID", "eventName", "userIdentity", "recordFormat", "tableName",
        "dynamodb", "eventSource",
    ]  # fmt: skip
    assert first["awsRegion"] == REGION
    assert first["recordFormat"] == "application/json"
    assert first["tableName"] == "things"
    assert first["eventSource"] == "aws:dynamodb"
    assert first["userIdentity"] is None
    assert first["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert first["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert "OldImage" not in first["dynamodb"]
    assert first["dynamodb"]["ApproximateCreationDateTime"] > 1_700_000_000_000
    modify = read[1][1]["dynamodb"]
    assert modify["OldImage"]["n"] == {"N": "1"}
    assert modify["NewImage"]["n"] == {"N": "2"}
    remove = read[2][1]["dynamodb"]
    assert "NewImage" not in remove
    assert remove["OldImage"]["n"] == {"N": "2"}
    assert len({r["eventID"] for _, r in read}) == 3
    assert await db.usage("kinesis.put-units") == 3  # the owner's puts, as any put


async def test_microsecond_precision_and_no_stream_needed(both: Both) -> None:
    db = both.dynamodb
    await _enable(
        both,
        EnableKinesisStreamingConfiguration={"ApproximateCreationDateTimePrecision": "MICROSECOND"},
    )
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    described = await db.client("DescribeTable", TableName="things")
    assert "StreamSpecification" not in described["Table"]  # no DynamoDB stream made
    await both.forwarder().run_once()
    [(_, record)] = await both.read()
    assert record["dynamodb"]["ApproximateCreationDateTime"] > 1_700_000_000_000_000


async def test_a_gone_stream_fails_the_destination_and_a_disabled_one_stops(both: Both) -> None:
    db = both.dynamodb
    await _enable(both)
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await both.kinesis.delete(db.tenant_id, "changes")
    forwarder = both.forwarder()
    assert await forwarder.run_once() == 0
    [described] = await _destinations(both)
    assert described["DestinationStatus"] == "ENABLE_FAILED"
    assert "changes" in described["DestinationStatusDescription"]
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})
    queued = await db.store.queued(db.tenant_id, "things", 10)
    assert len(queued) == 1  # b is not queued: the table is no longer forwarding
    assert await forwarder.run_once() == 0
    assert await db.store.queued(db.tenant_id, "things", 10) == []  # a's dropped


async def test_one_forwarder_per_table_and_the_queue_survives_a_restart(both: Both) -> None:
    db = both.dynamodb
    await _enable(both)
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await db.store.take_lease(db.tenant_id, "things", "gw-1", 0, 2**62)
    other = both.forwarder("gw-2")
    assert await other.run_once() == 0  # gw-1 holds the table
    assert await both.read() == []
    restarted = both.forwarder("gw-1")  # the same gateway's forwarder, made again
    assert await restarted.run_once() == 1
    assert len(await both.read()) == 1


async def test_a_throttled_put_is_retried_later_in_order(both: Both) -> None:
    db = both.dynamodb
    await _enable(both)
    for n in range(3):
        await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "n": {"N": str(n)}})

    class Once(OwnerKinesisStreams):
        calls = 0

        async def put(self, tenant_id: str, stream_name: str, records: Any) -> int:
            Once.calls += 1
            if Once.calls == 1:  # the stream takes the first record only
                return await super().put(tenant_id, stream_name, records[:1])
            return await super().put(tenant_id, stream_name, records)

    forwarder = KinesisForwarder(db.dynamodb, db.store, Once(lambda: both.kinesis), "gw-1")
    assert await forwarder.run_once() == 1
    assert await forwarder.run_once() == 2
    numbers = [r["dynamodb"]["NewImage"]["n"]["N"] for _, r in await both.read()]
    assert numbers == ["0", "1", "2"]


async def test_time_to_live_deletions_are_forwarded_as_the_service(both: Both) -> None:
    db = both.dynamodb
    await db.client(
        "UpdateTimeToLive",
        TableName="things",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
    await _enable(both)
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "ttl": {"N": "1"}})
    await db.dynamodb.expire()
    await both.forwarder().run_once()
    records = [r for _, r in await both.read()]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert records[1]["userIdentity"] == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }


async def test_the_wiring_takes_its_settings_and_finds_kinesis_when_needed(
    tmp_path: Path,
) -> None:
    async for world in dynamodb_world(tmp_path):
        settings = Settings(
            data_dir=tmp_path, dynamodb_kinesis_interval=0.25, dynamodb_kinesis_lease=7.5
        )
        apis: dict[str, object] = {}
        forwarder = kinesis_destinations(world.app, apis, settings)
        assert forwarder.policy.interval_s == 0.25
        assert forwarder.policy.lease_ms == 7500
        await world.table("things")
        arn = f"arn:aws:kinesis:{REGION}:{world.tenant_id}:stream/changes"
        message = await world.fails(
            "EnableKinesisStreamingDestination",
            "ValidationException",
            TableName="things",
            StreamArn=arn,
        )
        assert "not offered" in message  # no Kinesis app among the apis


def test_the_settings_refuse_a_non_positive_interval_or_lease(tmp_path: Path) -> None:
    for name in ("dynamodb_kinesis_interval", "dynamodb_kinesis_lease"):
        with pytest.raises(ValueError, match=name):
            Settings(data_dir=tmp_path, **{name: 0})


async def test_a_disabled_destination_gets_its_backlog_then_nothing(both: Both) -> None:
    db = both.dynamodb
    await _enable(both)
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await db.client("DisableKinesisStreamingDestination", TableName="things", StreamArn=both.arn())
    await db.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})  # not queued
    assert await both.forwarder().run_once() == 1
    [described] = await _destinations(both)
    assert described["DestinationStatus"] == "DISABLED"
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for _, r in await both.read()]
    assert keys == ["a"]
