"""Decision 0265: DynamoDB global tables (version 2019.11.21) across two regions in
process (Paris, the home region, and Berlin), each call signed for its region and made
through botocore's own serializer and parser: a replica made by UpdateTable's
``ReplicaUpdates`` with the table's items, writes carried both ways by the replicator (no
loop, last writer wins, deletions too, metered as replicated writes), the replica deleted
by ReplicaUpdates or by DeleteTable in its region, AWS's refusals, the legacy calls, a
restarted replicator resuming at its stored positions and its lease."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.dynamodb import service as service_module
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.global_tables_store import MemoryReplicationStore
from andromede.settings import Settings
from andromede.wiring.dynamodb import DynamoMeter, dynamodb_limits
from andromede.wiring.dynamodb_global import REPLICATED_WRITE_UNITS, global_tables
from support.dynamodbapp import MODEL, REGION, World, dynamodb_world
from support.firehoseapp import CallFailed
from support.json_client import signed_json_post

BERLIN: Final = "eu-de-1"
REGIONS: Final = [{"name": REGION}, {"name": BERLIN}]


@dataclass
class Two:
    world: World
    replicas: GlobalTables
    replication: MemoryReplicationStore
    settings: Settings

    async def call(self, region: str, operation: str, **params: Any) -> dict[str, Any]:
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        body = create_serializer("json").serialize_to_request(params, model)["body"]
        reply = await signed_json_post(
            self.world.app,
            f"DynamoDB_20120810.{operation}",
            body,
            content_type="application/x-amz-json-1.0",
            credentials=self.world.credentials,
            service="dynamodb",
            region=region,
        )
        assert int(reply.headers["x-amz-crc32"]) == zlib.crc32(reply.body)
        parsed = create_parser("json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(reply.status, parsed["Error"]["Code"], parsed["Error"]["Message"])
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, region: str, operation: str, code: str, **params: Any) -> str:
        try:
            await self.call(region, operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc.message
        raise AssertionError(f"{operation} succeeded")

    async def item(self, region: str, pk: str) -> dict[str, Any] | None:
        found = await self.call(region, "GetItem", TableName="things", Key={"pk": {"S": pk}})
        return found.get("Item")

    async def put(self, region: str, pk: str, colour: str) -> None:
        item = {"pk": {"S": pk}, "colour": {"S": colour}}
        await self.call(region, "PutItem", TableName="things", Item=item)

    async def replicate(self, passes: int = 2) -> None:
        for _ in range(passes):
            await self.replicas.replicate(self.world.tenant_id, "things")

    async def add_berlin(self) -> dict[str, Any]:
        answer = await self.call(
            REGION,
            "UpdateTable",
            TableName="things",
            ReplicaUpdates=[{"Create": {"RegionName": BERLIN}}],
        )
        await self.replicas.settled()  # its initial copy, in the background (decision 0291)
        return dict(answer["TableDescription"])


def wire(world: World, settings: Settings, store: MemoryReplicationStore) -> GlobalTables:
    made = global_tables(
        world.app,
        settings,
        store,
        world.sealer,
        dynamodb_limits(settings),
        world.billing,
        lambda region: DynamoMeter(world.billing, region),
        lambda region: DynamoMeter(world.billing, region).stream_read,
    )
    assert made is not None
    return made


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[Two]:
    async for world in dynamodb_world(tmp_path, regions=REGIONS):
        settings = Settings(data_dir=tmp_path, region=REGION, regions=REGIONS)
        store = MemoryReplicationStore()
        yield Two(world, wire(world, settings, store), store, settings)


async def test_one_region_wires_nothing(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path):
        settings = Settings(data_dir=tmp_path, region=REGION)
        made = global_tables(
            world.app, settings, MemoryReplicationStore(), world.sealer,
            dynamodb_limits(settings), None, lambda r: DynamoMeter(None, r),
            lambda r: DynamoMeter(None, r).stream_read,
        )  # fmt: skip
        assert made is None and world.app.regions == {}
        await world.table()
        message = await world.fails(
            "UpdateTable",
            "ValidationException",
            TableName="things",
            ReplicaUpdates=[{"Create": {"RegionName": BERLIN}}],
        )
        assert message == "1 validation error detected: Invalid AWS region: eu-de-1"


async def test_regions_hold_their_own_tables(two: Two) -> None:
    await two.world.table()
    assert (await two.call(REGION, "ListTables"))["TableNames"] == ["things"]
    assert (await two.call(BERLIN, "ListTables"))["TableNames"] == []
    await two.fails(BERLIN, "DescribeTable", "ResourceNotFoundException", TableName="things")
    await two.put(REGION, "a", "red")
    await two.fails(
        BERLIN, "GetItem", "ResourceNotFoundException", TableName="things", Key={"pk": {"S": "a"}}
    )
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    made = await two.call(
        BERLIN, "CreateTable", TableName="local", KeySchema=schema,
        AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    assert made["TableDescription"]["TableArn"].startswith(f"arn:aws:dynamodb:{BERLIN}:")
    assert (await two.call(BERLIN, "ListTables"))["TableNames"] == ["local"]
    assert (await two.call(REGION, "ListTables"))["TableNames"] == ["things"]


async def test_replica_made_with_the_items_and_described(two: Two) -> None:
    await two.world.table()
    for pk, colour in (("a", "red"), ("b", "blue"), ("c", "green")):
        await two.put(REGION, pk, colour)
    answered = await two.add_berlin()
    # UpdateTable answers the replica CREATING and its table UPDATING (decision 0291).
    assert answered["TableStatus"] == "UPDATING"
    assert answered["Replicas"][0]["ReplicaStatus"] == "CREATING"
    described = (await two.call(REGION, "DescribeTable", TableName="things"))["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert described["GlobalTableVersion"] == "2019.11.21"
    assert described["Replicas"] == [
        {
            "RegionName": BERLIN,
            "ReplicaStatus": "ACTIVE",
            "ReplicaTableClassSummary": {"TableClass": "STANDARD"},
        }
    ]
    # AWS turns the stream on: NEW_AND_OLD_IMAGES.
    assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    berlin = (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]
    assert berlin["TableArn"] == f"arn:aws:dynamodb:{BERLIN}:{two.world.tenant_id}:table/things"
    assert berlin["Replicas"][0]["RegionName"] == REGION
    assert berlin["ItemCount"] == 3 and berlin["KeySchema"] == described["KeySchema"]
    assert berlin["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert await two.item(BERLIN, "b") == {"pk": {"S": "b"}, "colour": {"S": "blue"}}
    # Sealed under Berlin's own table key: not Paris' bytes.
    paris_table = await two.replicas.service(REGION).table(two.world.tenant_id, "things")
    berlin_table = await two.replicas.service(BERLIN).table(two.world.tenant_id, "things")
    assert paris_table.wrapped_key != berlin_table.wrapped_key
    assert await two.world.usage(REPLICATED_WRITE_UNITS) == 3


async def test_writes_carried_both_ways_without_loops(two: Two) -> None:
    await two.world.table()
    await two.add_berlin()
    await two.put(REGION, "a", "red")
    await two.replicate()
    assert await two.item(BERLIN, "a") == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    await two.call(
        BERLIN, "UpdateItem", TableName="things", Key={"pk": {"S": "a"}},
        UpdateExpression="SET size = :s", ExpressionAttributeValues={":s": {"N": "3"}},
    )  # fmt: skip
    await two.replicate()
    assert await two.item(REGION, "a") == {
        "pk": {"S": "a"},
        "colour": {"S": "red"},
        "size": {"N": "3"},
    }
    await two.call(REGION, "DeleteItem", TableName="things", Key={"pk": {"S": "a"}})
    await two.replicate()
    assert await two.item(BERLIN, "a") is None
    units = await two.world.usage(REPLICATED_WRITE_UNITS)
    assert units == 3  # one put into Berlin, one update into Paris, one delete in Berlin
    members = await two.replication.members(two.world.tenant_id, "things")
    await two.replicate(passes=4)  # nothing more: the replicated writes are not sent back
    assert await two.world.usage(REPLICATED_WRITE_UNITS) == units
    assert await two.replication.members(two.world.tenant_id, "things") == members


async def test_last_writer_wins(two: Two) -> None:
    await two.world.table()
    await two.add_berlin()
    await two.put(REGION, "a", "red")
    await asyncio.sleep(0.005)
    await two.put(BERLIN, "a", "blue")  # later: it wins in both regions
    await two.replicate(passes=3)
    assert (await two.item(REGION, "a")) == {"pk": {"S": "a"}, "colour": {"S": "blue"}}
    assert (await two.item(BERLIN, "a")) == {"pk": {"S": "a"}, "colour": {"S": "blue"}}
    await two.put(REGION, "b", "green")
    await two.replicate()
    await two.put(BERLIN, "b", "yellow")
    await asyncio.sleep(0.005)
    await two.call(REGION, "DeleteItem", TableName="things", Key={"pk": {"S": "b"}})
    await two.replicate(passes=3)  # Paris' later deletion wins over Berlin's put
    assert await two.item(BERLIN, "b") is None and await two.item(REGION, "b") is None


async def test_replica_deleted_by_replica_updates_or_delete_table(two: Two) -> None:
    await two.world.table()
    await two.add_berlin()
    answer = await two.call(
        REGION, "UpdateTable", TableName="things",
        ReplicaUpdates=[{"Delete": {"RegionName": BERLIN}}],
    )  # fmt: skip
    assert "Replicas" not in answer["TableDescription"]
    await two.fails(BERLIN, "DescribeTable", "ResourceNotFoundException", TableName="things")
    assert await two.replication.global_tables(10) == []
    await two.add_berlin()
    await two.call(BERLIN, "DeleteTable", TableName="things")
    paris = (await two.call(REGION, "DescribeTable", TableName="things"))["Table"]
    assert "Replicas" not in paris and "GlobalTableVersion" not in paris
    assert await two.replication.global_tables(10) == []


async def test_refusals_in_aws_words(two: Two) -> None:
    await two.world.table()

    async def refused(update: dict[str, Any], code: str = "ValidationException") -> str:
        return await two.fails(
            REGION, "UpdateTable", code, TableName="things", ReplicaUpdates=[update]
        )

    assert "Cannot add, delete, or update the local region" in await refused(
        {"Create": {"RegionName": REGION}}
    )
    assert "Invalid AWS region" in await refused({"Create": {"RegionName": "us-east-1"}})
    assert "was not found" in await refused({"Delete": {"RegionName": BERLIN}})
    assert "STANDARD" in await refused(
        {"Create": {"RegionName": BERLIN, "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}
    )
    assert "customer managed key" in await refused(
        {"Create": {"RegionName": BERLIN, "KMSMasterKeyId": "alias/berlin"}}
    )
    assert "Index: nope not found" in await refused(
        {
            "Create": {
                "RegionName": BERLIN,
                "GlobalSecondaryIndexes": [
                    {"IndexName": "nope", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 5}}
                ],
            }
        }
    )
    await two.call(
        REGION, "UpdateTable", TableName="things",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )  # fmt: skip
    assert "NEW_AND_OLD_IMAGES" in await refused({"Create": {"RegionName": BERLIN}})
    await two.fails(BERLIN, "DescribeTable", "ResourceNotFoundException", TableName="things")
    await two.call(
        REGION, "UpdateTable", TableName="things", StreamSpecification={"StreamEnabled": False}
    )
    await two.add_berlin()
    assert "already existed" in await refused({"Create": {"RegionName": BERLIN}})
    message = await two.fails(
        REGION, "UpdateTable", "ValidationException", TableName="things",
        StreamSpecification={"StreamEnabled": False},
    )  # fmt: skip
    assert "Stream cannot be disabled" in message


async def test_a_table_of_that_name_in_the_region_refused(two: Two) -> None:
    await two.world.table()
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    await two.call(
        BERLIN, "CreateTable", TableName="things", KeySchema=schema,
        AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    message = await two.fails(
        REGION, "UpdateTable", "ValidationException", TableName="things",
        ReplicaUpdates=[{"Create": {"RegionName": BERLIN}}],
    )  # fmt: skip
    assert "already existed as tables" in message


async def test_legacy_global_tables(two: Two) -> None:
    await two.world.table()
    message = await two.fails(
        REGION, "DescribeGlobalTable", "GlobalTableNotFoundException", GlobalTableName="things"
    )
    assert message == "Global table not found: Global table with name: things does not exist."
    assert (await two.call(REGION, "ListGlobalTables"))["GlobalTables"] == []
    message = await two.fails(
        REGION, "CreateGlobalTable", "ValidationException", GlobalTableName="things",
        ReplicationGroup=[{"RegionName": REGION}, {"RegionName": BERLIN}],
    )  # fmt: skip
    assert "2019.11.21" in message


async def test_restarted_replicator_resumes_under_its_lease(two: Two) -> None:
    await two.world.table()
    await two.add_berlin()
    services = {REGION: two.replicas.service(REGION), BERLIN: two.replicas.service(BERLIN)}

    written: list[tuple[str, float]] = []

    def gateway(owner: str) -> GlobalTables:
        return GlobalTables(
            services, two.replicas.declared, two.replication, owner, 60_000,
            lambda _, region, units: written.append((region, units)),
        )  # fmt: skip

    first, second = gateway("first"), gateway("second")
    await two.put(REGION, "a", "red")
    await first.replicate(two.world.tenant_id, "things")  # holds the lease for a minute
    await two.put(REGION, "b", "blue")
    await second.replicate(two.world.tenant_id, "things")  # leased to the first: nothing
    assert await two.item(BERLIN, "b") is None
    # The first gateway stopped and its minute went by: its lease ran out (at time 0).
    assert await two.replication.take_lease(two.world.tenant_id, "things", "first", 0, 0)
    await second.replicate(two.world.tenant_id, "things")
    assert await two.item(BERLIN, "b") == {"pk": {"S": "b"}, "colour": {"S": "blue"}}
    assert await two.item(BERLIN, "a") == {"pk": {"S": "a"}, "colour": {"S": "red"}}
    assert written == [(BERLIN, 1.0), (BERLIN, 1.0)]  # "a" not written twice


async def test_replica_calls_authorised_as_aws(two: Two) -> None:
    await two.world.table()
    user = await two.world.iam_user("admin")
    table = f"arn:aws:dynamodb:{REGION}:{two.world.tenant_id}:table/things"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:CreateTableReplica", "Resource": table},
        ],
    }
    await two.world.identity.put_user_policy(two.world.tenant_id, "admin", "p", json.dumps(policy))
    as_user = Two(user, two.replicas, two.replication, two.settings)
    message = await as_user.fails(
        REGION, "UpdateTable", "AccessDeniedException", TableName="things",
        ReplicaUpdates=[{"Create": {"RegionName": BERLIN}}],
    )  # fmt: skip
    assert "dynamodb:CreateTableReplica" in message
    await two.fails(BERLIN, "DescribeTable", "ResourceNotFoundException", TableName="things")
    policy["Statement"][1]["Action"] = "dynamodb:DeleteTable"  # type: ignore[index]
    policy["Statement"][1]["Resource"] = table.replace(REGION, BERLIN)  # type: ignore[index]
    await two.world.identity.put_user_policy(two.world.tenant_id, "admin", "p", json.dumps(policy))
    await as_user.add_berlin()
    message = await as_user.fails(
        REGION, "UpdateTable", "AccessDeniedException", TableName="things",
        ReplicaUpdates=[{"Delete": {"RegionName": BERLIN}}],
    )  # fmt: skip
    assert "dynamodb:DeleteTable" in message
    assert (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]["Replicas"]
    audited = await two.world.audited()
    assert ("dynamodb:UpdateTable", "failure") in audited


async def test_writes_of_one_millisecond_converge(
    two: Two, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every write in the same millisecond: a local write still supersedes what its region
    held (its clock one past), so nothing waits forever and both regions agree."""
    await two.world.table()
    await two.add_berlin()
    monkeypatch.setattr(service_module, "_now", lambda: 1_800_000_000_000)
    await two.put(REGION, "b", "green")
    await two.replicate()
    await two.put(BERLIN, "b", "yellow")
    await two.replicate()
    assert await two.item(REGION, "b") == {"pk": {"S": "b"}, "colour": {"S": "yellow"}}
    await two.call(REGION, "DeleteItem", TableName="things", Key={"pk": {"S": "b"}})
    await two.put(BERLIN, "b", "red")  # the same millisecond again: Paris' name wins the tie
    await two.replicate(passes=3)
    assert await two.item(REGION, "b") == await two.item(BERLIN, "b")
    members = await two.replication.members(two.world.tenant_id, "things")
    await two.replicate()
    assert await two.replication.members(two.world.tenant_id, "things") == members


async def test_replica_keeps_the_indexes(two: Two) -> None:
    await two.call(
        REGION, "CreateTable", TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "colour", "AttributeType": "S"},
        ],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexes=[{
            "IndexName": "by-colour",
            "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }],
    )  # fmt: skip
    await two.put(REGION, "a", "red")
    await two.call(
        REGION, "UpdateTable", TableName="things",
        ReplicaUpdates=[{"Create": {
            "RegionName": BERLIN,
            "ProvisionedThroughputOverride": {"ReadCapacityUnits": 9},
            "GlobalSecondaryIndexes": [{
                "IndexName": "by-colour", "ProvisionedThroughputOverride": {"ReadCapacityUnits": 7}
            }],
        }}],
    )  # fmt: skip
    await two.replicas.settled()
    await two.put(REGION, "b", "red")
    await two.replicate()
    found = await two.call(
        BERLIN, "Query", TableName="things", IndexName="by-colour",
        KeyConditionExpression="colour = :c", ExpressionAttributeValues={":c": {"S": "red"}},
    )  # fmt: skip
    assert sorted(i["pk"]["S"] for i in found["Items"]) == ["a", "b"]  # copied and replicated
    berlin = (await two.call(BERLIN, "DescribeTable", TableName="things"))["Table"]
    assert berlin["ProvisionedThroughput"]["ReadCapacityUnits"] == 9
    index = berlin["GlobalSecondaryIndexes"][0]
    assert (
        index["IndexStatus"] == "ACTIVE"
        and index["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    )
