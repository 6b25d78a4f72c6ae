"""Decision 0266's DynamoDB resource policies through botocore's own model:
PutResourcePolicy (revisions, ``ExpectedRevisionId``, ``NO_POLICY``, idempotence),
GetResourcePolicy, DeleteResourcePolicy, CreateTable's ``ResourcePolicy``; the checks a policy
passes (grammar, ``dynamodb:`` actions, the table's own resources, size, the writer's own
lock-out); and their use across two accounts: another account's principal, allowed by the
table's policy AND its own identity policies, calls the item, query and description calls on
the table by its ARN (the items the owner's, sealed under its keys), in both accounts'
trails; an explicit Deny applies to the owner's own principals; DeleteTable removes the
policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.dynamodbapp import World, dynamodb_world

ITEM = {"pk": {"S": "a"}, "v": {"N": "1"}}


def arn_of(world: World, name: str = "things") -> str:
    return f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/{name}"


def policy(principal: str, resource: str | list[str], *actions: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"AWS": principal},
                    "Action": [f"dynamodb:{a}" for a in actions],
                    "Resource": resource,
                }
            ],
        }
    )


async def trail(world: World, tenant_id: str) -> list[tuple[str, str, dict[str, str]]]:
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=1000)
    return [
        (e.action, e.outcome.value, dict(e.details)) for _, e in listed if e.tenant_id == tenant_id
    ]


async def test_put_get_delete_with_revisions(world: World) -> None:
    await world.table()
    arn = arn_of(world)
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)
    assert await world.client("DeleteResourcePolicy", ResourceArn=arn) == {}  # idempotent
    text = policy("111122223333", arn, "GetItem")
    first = (await world.client("PutResourcePolicy", ResourceArn=arn, Policy=text))["RevisionId"]
    assert first.isdigit()
    assert await world.client("GetResourcePolicy", ResourceArn=arn) == {
        "Policy": text,
        "RevisionId": first,
    }
    # The same document keeps its revision (AWS: PutResourcePolicy is idempotent).
    again = await world.client("PutResourcePolicy", ResourceArn=arn, Policy=text)
    assert again["RevisionId"] == first
    other = policy("111122223333", [arn, f"{arn}/index/*"], "GetItem", "Query")
    for expected in ("NO_POLICY", "12345"):
        message = await world.fails("PutResourcePolicy", "PolicyNotFoundException",
                                    ResourceArn=arn, Policy=other,
                                    ExpectedRevisionId=expected)  # fmt: skip
        assert arn in message
    second = await world.client(
        "PutResourcePolicy", ResourceArn=arn, Policy=other, ExpectedRevisionId=first
    )
    assert int(second["RevisionId"]) > int(first)
    await world.fails("DeleteResourcePolicy", "PolicyNotFoundException", ResourceArn=arn,
                      ExpectedRevisionId=first)  # fmt: skip
    deleted = await world.client(
        "DeleteResourcePolicy", ResourceArn=arn, ExpectedRevisionId=second["RevisionId"]
    )
    assert deleted == {"RevisionId": second["RevisionId"]}
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)
    await world.fails("DeleteResourcePolicy", "PolicyNotFoundException", ResourceArn=arn,
                      ExpectedRevisionId=first)  # fmt: skip
    fresh = await world.client(
        "PutResourcePolicy", ResourceArn=arn, Policy=text, ExpectedRevisionId="NO_POLICY"
    )
    assert fresh["RevisionId"].isdigit()
    # No such table; an index's ARN (its permissions are in its table's policy).
    missing = arn_of(world, "nope")
    await world.fails("GetResourcePolicy", "ResourceNotFoundException", ResourceArn=missing)
    await world.fails("PutResourcePolicy", "ResourceNotFoundException", ResourceArn=missing,
                      Policy=policy("111122223333", missing, "GetItem"))  # fmt: skip
    await world.fails("GetResourcePolicy", "ValidationException", ResourceArn=f"{arn}/index/i")


async def test_a_policy_is_checked_before_it_is_kept(world: World) -> None:
    await world.table()
    await world.table("others")
    arn = arn_of(world)
    refused = [
        "{not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "dynamodb:GetItem", "Resource": arn}]}),  # no Principal
        policy("111122223333", arn, "GetItem").replace("dynamodb:GetItem", "s3:GetObject"),
        policy("111122223333", arn, "GetItem").replace("dynamodb:GetItem", "*"),
        policy("111122223333", arn_of(world, "others"), "GetItem"),
        policy("111122223333", "*", "GetItem"),
        policy("111122223333", f"{arn}/stream/2026", "GetItem"),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": "111122223333"}, "Action": "dynamodb:GetItem",
                    "NotResource": arn}]}),
        policy("111122223333", arn, "GetItem") + " " * 20_480,  # whitespace counts
    ]  # fmt: skip
    for text in refused:
        await world.fails("PutResourcePolicy", "ValidationException", ResourceArn=arn, Policy=text)
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)


async def test_a_policy_locking_its_writer_out_needs_confirmation(world: World) -> None:
    await world.table()
    arn = arn_of(world)
    root = f"arn:aws:iam::{world.tenant_id}:root"
    lock = policy(root, arn, "PutResourcePolicy", effect="Deny")
    message = await world.fails("PutResourcePolicy", "ValidationException", ResourceArn=arn,
                                Policy=lock)  # fmt: skip
    assert "ConfirmRemoveSelfResourceAccess" in message
    await world.client(
        "PutResourcePolicy", ResourceArn=arn, Policy=lock, ConfirmRemoveSelfResourceAccess=True
    )
    # Locked out of changing it, as it said; the root user may still delete it (AWS's rule).
    denied = await world.fails("PutResourcePolicy", "AccessDeniedException", ResourceArn=arn,
                               Policy=policy(root, arn, "GetItem"))  # fmt: skip
    assert "explicit deny in a resource-based policy" in denied
    await world.client("DeleteResourcePolicy", ResourceArn=arn)
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=policy(root, arn, "GetItem"))


async def test_another_account_uses_a_shared_table_by_its_arn(world: World) -> None:
    await world.table()
    arn = arn_of(world)
    other = await world.other_tenant("other")
    get: dict[str, Any] = {"TableName": arn, "Key": {"pk": {"S": "a"}}}
    message = await other.fails("GetItem", "AccessDeniedException", **get)
    assert "resource-based policy" in message
    owner_events = await trail(world, world.tenant_id)
    assert ("dynamodb:GetItem", "failure", other.tenant_id) in [
        (a, o, d.get("caller_account")) for a, o, d in owner_events
    ]
    root = f"arn:aws:iam::{other.tenant_id}:root"
    shared = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem",
              "Query", "Scan", "DescribeTable", "ConditionCheckItem")  # fmt: skip
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=policy(root, arn, *shared))
    world.sink.points.clear()
    await other.client("PutItem", TableName=arn, Item=ITEM)
    # The table's AWS/DynamoDB metrics are its owner's, whoever called.
    assert world.sink.points and {p[0] for p in world.sink.points} == {world.tenant_id}
    assert (await other.client("GetItem", **get))["Item"] == ITEM
    await other.client("UpdateItem", TableName=arn, Key={"pk": {"S": "a"}},
                       UpdateExpression="SET v = :v",
                       ExpressionAttributeValues={":v": {"N": "2"}})  # fmt: skip
    assert (await other.client("Query", TableName=arn, KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}}))["Count"] == 1  # fmt: skip
    assert (await other.client("Scan", TableName=arn))["Count"] == 1
    await other.client("BatchWriteItem", RequestItems={arn: [{"PutRequest": {"Item": {
        "pk": {"S": "b"}}}}]})  # fmt: skip
    batch = await other.client("BatchGetItem", RequestItems={arn: {"Keys": [{"pk": {"S": "b"}}]}})
    assert batch["Responses"]["things"] == [{"pk": {"S": "b"}}]
    await other.client("TransactWriteItems", TransactItems=[{"ConditionCheck": {
        "TableName": arn, "Key": {"pk": {"S": "a"}},
        "ConditionExpression": "attribute_exists(pk)"}}])  # fmt: skip
    described = await other.client("DescribeTable", TableName=arn)
    assert described["Table"]["TableArn"] == arn
    # The items are the owner's, sealed under its keys: the owner reads them by name.
    mine = await world.client("GetItem", TableName="things", Key={"pk": {"S": "a"}})
    assert mine["Item"]["v"] == {"N": "2"}
    assert await world.store.get_table(other.tenant_id, "things") is None
    # A name is always the caller's own; calls no policy may share stay the owner's.
    await other.fails("GetItem", "ResourceNotFoundException", TableName="things",
                      Key={"pk": {"S": "a"}})  # fmt: skip
    for operation, params in (
        ("DeleteTable", {"TableName": arn}),
        ("UpdateTable", {"TableName": arn, "BillingMode": "PAY_PER_REQUEST"}),
        ("GetResourcePolicy", {"ResourceArn": arn}),
        ("PutResourcePolicy", {"ResourceArn": arn, "Policy": "{}"}),
    ):
        await other.fails(operation, "AccessDeniedException", **params)
    await other.client("DeleteItem", TableName=arn, Key={"pk": {"S": "b"}})
    # A management call the policy shares is in both trails, the owner's naming the caller.
    owner_events = await trail(world, world.tenant_id)
    assert ("dynamodb:DescribeTable", "success", other.tenant_id) in [
        (a, o, d.get("caller_account")) for a, o, d in owner_events
    ]
    assert ("dynamodb:DescribeTable", "success") in [
        (a, o) for a, o, _ in await trail(world, other.tenant_id)
    ]
    # Another account's missing table is refused, not reported missing: no probing.
    await other.fails("GetItem", "AccessDeniedException", TableName=arn_of(world, "nope"),
                      Key={"pk": {"S": "a"}})  # fmt: skip
    await world.client("DeleteResourcePolicy", ResourceArn=arn)
    await other.fails("GetItem", "AccessDeniedException", **get)


async def test_across_accounts_the_callers_own_policies_must_allow_too(world: World) -> None:
    await world.table()
    arn = arn_of(world)
    other = await world.other_tenant("other")
    reader = await other.iam_user("reader")
    root = f"arn:aws:iam::{other.tenant_id}:root"
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=policy(root, arn, "GetItem"))
    get: dict[str, Any] = {"TableName": arn, "Key": {"pk": {"S": "a"}}}
    await reader.fails("GetItem", "AccessDeniedException", **get)
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}  # fmt: skip
    await other.identity.put_user_policy(other.tenant_id, "reader", "r", json.dumps(grant))
    assert await reader.client("GetItem", **get) == {}
    # Its own identity policy alone is not enough without the table's.
    await world.client("DeleteResourcePolicy", ResourceArn=arn)
    await reader.fails("GetItem", "AccessDeniedException", **get)


async def test_an_explicit_deny_binds_the_owners_own_principals(world: World) -> None:
    await world.table()
    arn = arn_of(world)
    await world.client("PutItem", TableName="things", Item=ITEM)
    user = await world.iam_user("writer")
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "writer", "w", json.dumps(grant))
    assert (await user.client("GetItem", TableName="things", Key={"pk": {"S": "a"}}))["Item"]
    deny = policy(f"arn:aws:iam::{world.tenant_id}:user/writer", arn, "GetItem", effect="Deny")
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=deny)
    message = await user.fails("GetItem", "AccessDeniedException", TableName="things",
                               Key={"pk": {"S": "a"}})  # fmt: skip
    assert "explicit deny in a resource-based policy" in message
    # Within the account, the table's policy alone may allow (no identity policy needed).
    plain = await world.iam_user("plain")
    await plain.fails("Scan", "AccessDeniedException", TableName="things")
    allow = policy(f"arn:aws:iam::{world.tenant_id}:user/plain", arn, "Scan")
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=allow)
    assert (await plain.client("Scan", TableName="things"))["Count"] == 1


async def test_create_table_with_a_policy_and_delete_table_removes_it(world: World) -> None:
    arn = arn_of(world)
    text = policy("111122223333", arn, "GetItem")
    schema = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    await world.fails("CreateTable", "ValidationException", TableName="things",
                      ResourcePolicy=policy("111122223333", arn, "Nope"), **schema)  # fmt: skip
    await world.fails("DescribeTable", "ResourceNotFoundException", TableName="things")
    await world.client("CreateTable", TableName="things", ResourcePolicy=text, **schema)
    assert (await world.client("GetResourcePolicy", ResourceArn=arn))["Policy"] == text
    await world.client("DeleteTable", TableName="things")
    await world.client("CreateTable", TableName="things", **schema)
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)


async def test_a_streams_policy(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream = (await world.client("DescribeTable", TableName="things"))["Table"]["LatestStreamArn"]
    arn = arn_of(world)
    await world.fails("PutResourcePolicy", "ValidationException", ResourceArn=stream,
                      Policy=policy("111122223333", arn, "GetRecords"))  # fmt: skip
    text = policy("111122223333", stream, "DescribeStream", "GetShardIterator", "GetRecords")
    await world.client("PutResourcePolicy", ResourceArn=stream, Policy=text)
    assert (await world.client("GetResourcePolicy", ResourceArn=stream))["Policy"] == text
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)
    await world.fails("GetResourcePolicy", "ResourceNotFoundException",
                      ResourceArn=f"{arn}/stream/2020-01-01T00:00:00.000")  # fmt: skip


async def test_another_account_reads_a_shared_stream(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    await world.client("PutItem", TableName="things", Item=ITEM)
    stream = (await world.client("DescribeTable", TableName="things"))["Table"]["LatestStreamArn"]
    other = await world.other_tenant("other")
    message = await other.streams_fails("DescribeStream", "AccessDeniedException",
                                        StreamArn=stream)  # fmt: skip
    assert "resource-based policy" in message
    root = f"arn:aws:iam::{other.tenant_id}:root"
    text = policy(root, stream, "DescribeStream", "GetShardIterator", "GetRecords")
    await world.client("PutResourcePolicy", ResourceArn=stream, Policy=text)
    described = await other.streams("DescribeStream", StreamArn=stream)
    shard = described["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = (await other.streams("GetShardIterator", StreamArn=stream, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    read = await other.streams("GetRecords", ShardIterator=iterator)
    assert [r["dynamodb"]["NewImage"] for r in read["Records"]] == [ITEM]
    # The table's policy does not reach its stream, nor the stream's its table.
    await other.fails("GetItem", "AccessDeniedException", TableName=arn_of(world),
                      Key={"pk": {"S": "a"}})  # fmt: skip
    # The iterator names the owner's stream: a forged owner does not verify.
    await world.client("DeleteResourcePolicy", ResourceArn=stream)
    await other.streams_fails("GetRecords", "AccessDeniedException", ShardIterator=iterator)
    await other.streams_fails("GetShardIterator", "AccessDeniedException", StreamArn=stream,
                              ShardId=shard, ShardIteratorType="TRIM_HORIZON")  # fmt: skip
    owner_events = await trail(world, world.tenant_id)
    assert ("dynamodb:DescribeStream", "success", other.tenant_id) in [
        (a, o, d.get("caller_account")) for a, o, d in owner_events
    ]


async def test_the_size_limit_is_the_setting(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_max_resource_policy_size=300):
        await world.table()
        arn = arn_of(world)
        text = policy("111122223333", arn, "GetItem")
        assert 150 < len(text) <= 300
        await world.client("PutResourcePolicy", ResourceArn=arn, Policy=text)
        message = await world.fails("PutResourcePolicy", "ValidationException", ResourceArn=arn,
                                    Policy=text + " " * (301 - len(text)))  # fmt: skip
        assert "301 bytes exceeds the maximum allowed size of 300 bytes" in message
