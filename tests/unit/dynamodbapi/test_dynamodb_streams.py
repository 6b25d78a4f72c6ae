"""Decision 0246's DynamoDB Streams through the in-process app, as boto3's ``dynamodb`` and
``dynamodbstreams`` clients send them: StreamSpecification on CreateTable and UpdateTable with
AWS's refusals, DescribeTable's stream fields, a record per change (none for a no-op) with the
images the view type says, read back by shard iterators of every type, a disabled stream and a
deleted table's readable and closed, iterators tamper-proof and expiring, records past the
retention trimmed, another account's stream not found, IAM and the audit; the images sealed
at rest as items are. Over the memory twin and the SQL stores (migration 0119's tables)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.wiring.dynamodb import STREAM_READ_UNITS
from support.dynamodbapp import World, dynamodb_world
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with backend_database(request, tmp_path) as db:
        store = None if db is None else SqlDynamoStore(db)
        async for made in dynamodb_world(tmp_path, store, dynamodb_max_tables=3):
            yield made


ARN = re.compile(
    r"arn:aws:dynamodb:eu-fr-1:\d{12}:table/things/stream/"
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"
)


async def _table(world: World, view: str | None = "NEW_AND_OLD_IMAGES", **more: Any) -> str:
    spec = {"StreamEnabled": True, "StreamViewType": view} if view else {"StreamEnabled": False}
    created = await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=spec,
        **more,
    )
    return str(created["TableDescription"].get("LatestStreamArn", ""))


async def _read_all(world: World, arn: str, kind: str = "TRIM_HORIZON", **more: Any) -> Any:
    described = await world.streams("DescribeStream", StreamArn=arn)
    shard = described["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = (
        await world.streams(
            "GetShardIterator", StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **more
        )
    )["ShardIterator"]
    return await world.streams("GetRecords", ShardIterator=iterator)


async def _changes(world: World) -> None:
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    await world.client(
        "UpdateItem",
        TableName="things",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    # A put of the very item held and a delete of an absent one change nothing: no record.
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "n": {"N": "2.0"}})
    await world.client("DeleteItem", TableName="things", Key={"pk": {"S": "zz"}})
    await world.client("DeleteItem", TableName="things", Key={"pk": {"S": "a"}})


async def test_a_stream_records_each_change_with_both_images(world: World) -> None:
    arn = await _table(world)
    assert ARN.fullmatch(arn)
    table = (await world.client("DescribeTable", TableName="things"))["Table"]
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["LatestStreamArn"] == arn and arn.endswith(table["LatestStreamLabel"])
    await _changes(world)
    got = await _read_all(world, arn)
    records = got["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert all(len(n) >= 21 and n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len({r["eventID"] for r in records}) == 3
    first, second, third = (r["dynamodb"] for r in records)
    assert first["Keys"] == {"pk": {"S": "a"}} and "OldImage" not in first
    assert first["NewImage"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert second["OldImage"]["n"] == {"N": "1"} and second["NewImage"]["n"] == {"N": "2"}
    assert third["OldImage"]["n"] == {"N": "2"} and "NewImage" not in third
    assert first["StreamViewType"] == "NEW_AND_OLD_IMAGES" and first["SizeBytes"] > 0
    assert abs(first["ApproximateCreationDateTime"].timestamp() - time.time()) < 60
    for record in records:
        assert record["eventVersion"] == "1.1" and record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "eu-fr-1" and "userIdentity" not in record
    image = {k: TypeDeserializer().deserialize(v) for k, v in second["NewImage"].items()}
    assert image == {"pk": "a", "n": Decimal(2)}
    assert "NextShardIterator" in got  # an enabled stream's shard stays open
    again = await world.streams("GetRecords", ShardIterator=got["NextShardIterator"])
    assert again["Records"] == [] and again["NextShardIterator"]
    assert await world.usage(STREAM_READ_UNITS) == 2  # a unit per GetRecords, as AWS bills


async def test_each_view_type_shows_its_images(world: World) -> None:
    expected = {
        "KEYS_ONLY": (False, False),
        "NEW_IMAGE": (True, False),
        "OLD_IMAGE": (False, True),
    }
    for view, (new, old) in expected.items():
        arn = await _table(world, view)
        await _changes(world)
        records = (await _read_all(world, arn))["Records"]
        assert len(records) == 3
        for record in records:
            body = record["dynamodb"]
            assert body["Keys"] == {"pk": {"S": "a"}}
            assert body["StreamViewType"] == view
        assert ("NewImage" in records[1]["dynamodb"]) is new
        assert ("OldImage" in records[1]["dynamodb"]) is old
        # At rest, the images the view shows, or one for the keys: never an image unshown
        # beside one shown.
        label = arn.rsplit("/", 1)[1]
        held = await world.store.read_changes(world.tenant_id, "things", label, 0, 9, 1 << 20)
        for stored in held:
            images = (stored.change.old_sealed, stored.change.new_sealed)
            assert sum(i is not None for i in images) == 1
        modified = held[1].change
        assert (modified.new_sealed is not None, modified.old_sealed is not None) == (
            (new, old) if new or old else (True, False)
        )
        await world.client("DeleteTable", TableName="things")


async def test_update_table_enables_and_disables_with_aws_refusals(world: World) -> None:
    assert await _table(world, None) == ""
    described = (await world.client("DescribeTable", TableName="things"))["Table"]
    assert "StreamSpecification" not in described and "LatestStreamArn" not in described
    message = await world.fails(
        "UpdateTable",
        "ValidationException",
        TableName="things",
        StreamSpecification={"StreamEnabled": False},
    )
    assert message == "Table has no stream to disable: TableName: things"
    await world.fails(
        "UpdateTable",
        "ValidationException",
        TableName="things",
        StreamSpecification={"StreamEnabled": True},
    )
    enabled = await world.client(
        "UpdateTable",
        TableName="things",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    first = enabled["TableDescription"]["LatestStreamArn"]
    for view in ("KEYS_ONLY", "NEW_IMAGE"):  # changing the view type needs disabling first
        message = await world.fails(
            "UpdateTable",
            "ValidationException",
            TableName="things",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        assert message == "Table already has an enabled stream: TableName: things"
    await world.fails(
        "UpdateTable",
        "ValidationException",
        TableName="things",
        StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
    )
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    disabled = await world.client(
        "UpdateTable", TableName="things", StreamSpecification={"StreamEnabled": False}
    )
    table = disabled["TableDescription"]
    assert "StreamSpecification" not in table and table["LatestStreamArn"] == first
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})  # no stream
    stream = (await world.streams("DescribeStream", StreamArn=first))["StreamDescription"]
    assert stream["StreamStatus"] == "DISABLED"
    numbers = stream["Shards"][0]["SequenceNumberRange"]
    assert numbers["EndingSequenceNumber"] >= numbers["StartingSequenceNumber"]
    got = await _read_all(world, first)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in got["Records"]] == ["a"]
    assert "NextShardIterator" not in got  # a closed shard read to its end
    again = await world.client(
        "UpdateTable",
        TableName="things",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    second = again["TableDescription"]["LatestStreamArn"]
    assert second != first
    listed = await world.streams("ListStreams", TableName="things")
    assert [s["StreamArn"] for s in listed["Streams"]] == [first, second]
    assert listed["Streams"][0]["TableName"] == "things"
    page = await world.streams("ListStreams", Limit=1)
    assert page["LastEvaluatedStreamArn"] == first
    rest = await world.streams("ListStreams", ExclusiveStartStreamArn=first)
    assert [s["StreamArn"] for s in rest["Streams"]] == [second]


async def test_a_deleted_tables_stream_stays_readable(world: World) -> None:
    arn = await _table(world, "NEW_IMAGE")
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await world.client("DeleteTable", TableName="things")
    stream = (await world.streams("DescribeStream", StreamArn=arn))["StreamDescription"]
    assert stream["StreamStatus"] == "DISABLED" and stream["TableName"] == "things"
    assert stream["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    records = (await _read_all(world, arn))["Records"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}}


async def test_batches_transactions_and_ttl_deletions_are_recorded(world: World) -> None:
    arn = await _table(world, "OLD_IMAGE")
    await world.client(
        "BatchWriteItem",
        RequestItems={
            "things": [
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "exp": {"N": "1"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "b"}}}},
            ]
        },
    )
    await world.client(
        "TransactWriteItems",
        TransactItems=[
            {"Delete": {"TableName": "things", "Key": {"pk": {"S": "b"}}}},
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "c"}}}},
        ],
    )
    await world.client(
        "UpdateTimeToLive",
        TableName="things",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    assert sum((await world.dynamodb.expire()).values()) == 1
    records = (await _read_all(world, arn))["Records"]
    names = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    assert names == [
        ("INSERT", "a"),
        ("INSERT", "b"),
        ("REMOVE", "b"),
        ("INSERT", "c"),
        ("REMOVE", "a"),
    ]
    assert records[-1]["userIdentity"] == {
        "Type": "Service",
        "PrincipalId": "dynamodb.amazonaws.com",
    }
    assert records[-1]["dynamodb"]["OldImage"]["exp"] == {"N": "1"}


async def test_iterators_of_every_type(world: World) -> None:
    arn = await _table(world)
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})
    first, second = (await _read_all(world, arn))["Records"]
    number = first["dynamodb"]["SequenceNumber"]
    at = await _read_all(world, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=number)
    assert [r["eventID"] for r in at["Records"]] == [first["eventID"], second["eventID"]]
    after = await _read_all(world, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=number)
    assert [r["eventID"] for r in after["Records"]] == [second["eventID"]]
    latest = await _read_all(world, arn, "LATEST")
    assert latest["Records"] == []
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "c"}})
    later = await world.streams("GetRecords", ShardIterator=latest["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later["Records"]] == ["c"]
    limited = await world.streams(
        "GetRecords", ShardIterator=at["NextShardIterator"], Limit=1
    )  # nothing after the two: the iterator waits at the tip
    assert limited["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "c"
    shard = (await world.streams("DescribeStream", StreamArn=arn))["StreamDescription"]["Shards"]
    await world.streams_fails(
        "GetShardIterator",
        "ValidationException",
        StreamArn=arn,
        ShardId=shard[0]["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber="9" * 21,  # not a number of this shard
    )
    await world.streams_fails(
        "GetShardIterator",
        "ResourceNotFoundException",
        StreamArn=arn,
        ShardId="shardId-00000000000000000001-deadbeef",
        ShardIteratorType="LATEST",
    )
    assert len(shard) == 1 and shard[0]["ShardId"].startswith("shardId-")


async def test_a_tampered_iterator_is_refused(world: World) -> None:
    arn = await _table(world)
    token = (await _read_all(world, arn))["NextShardIterator"]
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    await world.streams_fails("GetRecords", "ValidationException", ShardIterator=tampered)
    await world.streams_fails("GetRecords", "ValidationException", ShardIterator="not!base64")
    other = await world.other_tenant("other")
    # The iterator names its owner's stream (decision 0266): another account holding it is
    # judged as by the stream's ARN, refused without the stream's policy.
    await other.streams_fails("GetRecords", "AccessDeniedException", ShardIterator=token)


async def test_an_iterator_expires_after_the_setting(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_stream_iterator_lifetime=0.05):
        arn = await _table(world)
        token = (await _read_all(world, arn))["NextShardIterator"]
        await asyncio.sleep(0.1)
        message = await world.streams_fails(
            "GetRecords", "ExpiredIteratorException", ShardIterator=token
        )
        assert "50 milliseconds" in message


async def test_records_past_the_retention_are_trimmed(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_stream_retention=0.05):
        arn = await _table(world)
        await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
        old = (await _read_all(world, arn))["Records"][0]["dynamodb"]["SequenceNumber"]
        await asyncio.sleep(0.1)
        await world.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})
        streams: DynamoStreams = world.app.streams
        assert await streams.prune() == 1
        await world.streams_fails(
            "GetShardIterator",
            "TrimmedDataAccessException",
            StreamArn=arn,
            ShardId=(await world.streams("DescribeStream", StreamArn=arn))["StreamDescription"][
                "Shards"
            ][0]["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=old,
        )
        records = (await _read_all(world, arn))["Records"]
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["b"]
        await world.client(
            "UpdateTable", TableName="things", StreamSpecification={"StreamEnabled": False}
        )
        await asyncio.sleep(0.1)
        await streams.prune()  # a stream disabled longer ago than the retention is gone
        await world.streams_fails("DescribeStream", "ResourceNotFoundException", StreamArn=arn)


async def test_a_page_holds_the_setting_s_bytes(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_stream_page_bytes=100):
        arn = await _table(world)
        for key in "abc":
            item = {"pk": {"S": key}, "v": {"S": "x" * 60}}
            await world.client("PutItem", TableName="things", Item=item)
        got = await _read_all(world, arn)
        assert len(got["Records"]) == 1  # the first always, then no more than 100 bytes
        rest = await world.streams("GetRecords", ShardIterator=got["NextShardIterator"])
        assert rest["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "b"


async def test_another_accounts_stream_is_refused_without_its_policy(world: World) -> None:
    arn = await _table(world)
    other = await world.other_tenant("other")
    # Decision 0266: reached through its resource policy only, so refused without one.
    await other.streams_fails("DescribeStream", "AccessDeniedException", StreamArn=arn)
    assert (await other.streams("ListStreams"))["Streams"] == []
    await world.streams_fails(
        "DescribeStream", "ResourceNotFoundException", StreamArn=arn.replace("things", "nope")
    )


async def test_stream_calls_are_authorised_and_audited(world: World) -> None:
    arn = await _table(world)
    token = (await _read_all(world, arn))["NextShardIterator"]
    reader = await world.iam_user("reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:DescribeStream", "Resource": arn},
            {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(policy))
    await reader.streams("DescribeStream", StreamArn=arn)
    await reader.streams("ListStreams")
    await reader.streams_fails("GetRecords", "AccessDeniedException", ShardIterator=token)
    await reader.streams_fails(
        "GetShardIterator",
        "AccessDeniedException",
        StreamArn=arn,
        ShardId="shardId-00000000000000000001-deadbeef",
        ShardIteratorType="LATEST",
    )
    audited = await world.audited()
    assert ("dynamodb:DescribeStream", "success") in audited
    assert ("dynamodb:ListStreams", "success") in audited
    assert ("dynamodb:GetRecords", "failure") in audited
    assert ("dynamodb:GetRecords", "success") not in audited  # data events: refusals only
    assert ("dynamodb:GetShardIterator", "failure") in audited


async def test_a_refused_specification_changes_nothing(world: World) -> None:
    await world.fails(
        "CreateTable",
        "ValidationException",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True},
    )
    assert (await world.client("ListTables"))["TableNames"] == []
    await _table(world, "KEYS_ONLY")
    await world.fails(
        "UpdateTable",
        "ValidationException",
        TableName="things",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table = (await world.client("DescribeTable", TableName="things"))["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"


async def test_an_at_timestamp_iterator_reads_from_that_time(world: World) -> None:
    arn = await _table(world, "KEYS_ONLY")
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await asyncio.sleep(0.02)
    between = time.time()
    await asyncio.sleep(0.02)
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "b"}})
    got = await _read_all(world, arn, "AT_TIMESTAMP", Timestamp=between)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in got["Records"]] == ["b"]
    tip = await _read_all(world, arn, "AT_TIMESTAMP", Timestamp=time.time() + 60)
    assert tip["Records"] == []
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "c"}})
    later = await world.streams("GetRecords", ShardIterator=tip["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later["Records"]] == ["c"]
    shard = (await world.streams("DescribeStream", StreamArn=arn))["StreamDescription"]
    await world.streams_fails(
        "GetShardIterator",
        "ValidationException",
        StreamArn=arn,
        ShardId=shard["Shards"][0]["ShardId"],
        ShardIteratorType="AT_TIMESTAMP",
    )


async def test_the_images_are_sealed_as_the_items_are(world: World) -> None:
    arn = await _table(world, "NEW_AND_OLD_IMAGES")
    item = {"pk": {"S": "secret-partition"}, "v": {"S": "secret-value"}}
    await world.client("PutItem", TableName="things", Item=item)
    label = arn.rsplit("/", 1)[1]
    (held,) = await world.store.read_changes(world.tenant_id, "things", label, 0, 9, 1 << 20)
    assert held.change.new_sealed is not None and held.change.old_sealed is None
    for secret in (b"secret-partition", b"secret-value"):
        assert secret not in held.change.new_sealed and secret not in held.change.hash_token
    world.keys.destroy_tenant_key(world.tenant_id)  # crypto-shredding reaches the stream
    await world.streams_fails(
        "GetRecords", "AccessDeniedException", ShardIterator=(await _iterator(world, arn))
    )


async def _iterator(world: World, arn: str) -> str:
    described = await world.streams("DescribeStream", StreamArn=arn)
    shard = described["StreamDescription"]["Shards"][0]["ShardId"]
    got = await world.streams(
        "GetShardIterator", StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    return str(got["ShardIterator"])
