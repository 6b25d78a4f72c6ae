"""Decision 0254's table keys through botocore's own model: ``SSESpecification`` on CreateTable
and UpdateTable (the AWS-owned key, the AWS-managed ``alias/aws/dynamodb``, a customer key by
id, ARN or alias), ``SSEDescription``; the caller's KMS rights and the key's state checked
before the table is made or changed, in AWS's words; a disabled or pending-deletion key makes
the table's reads and writes ``AccessDeniedException`` and its status
``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` until it is enabled again; a change of key re-wraps
the table key (the stored items are not rewritten) and is audited and metered as KMS
requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.dynamodbapp import World, dynamodb_world

PK = [{"AttributeName": "pk", "KeyType": "HASH"}]
PK_S = [{"AttributeName": "pk", "AttributeType": "S"}]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    # Every use asks KMS whether the key is usable: a disabled key refuses at once.
    async for made in dynamodb_world(tmp_path, dynamodb_table_key_check=0):
        yield made


async def create(world: World, name: str = "tab", **sse: Any) -> dict[str, Any]:
    extra = {"SSESpecification": sse} if sse else {}
    made = await world.client("CreateTable", TableName=name, KeySchema=PK,
                              AttributeDefinitions=PK_S, BillingMode="PAY_PER_REQUEST",
                              **extra)  # fmt: skip
    return dict(made["TableDescription"])


async def describe(world: World, name: str = "tab") -> dict[str, Any]:
    return dict((await world.client("DescribeTable", TableName=name))["Table"])


async def get(world: World, pk: str, name: str = "tab") -> dict[str, Any] | None:
    got = await world.client("GetItem", TableName=name, Key={"pk": {"S": pk}})
    item = got.get("Item")
    return None if item is None else dict(item)


def stored(world: World, name: str = "tab") -> list[bytes]:
    rows = world.store._items[(world.tenant_id, name)]  # type: ignore[attr-defined]
    return sorted(r.sealed for r in rows.values())


async def test_the_aws_owned_and_the_aws_managed_key(world: World) -> None:
    owned = await create(world, "owned")
    assert "SSEDescription" not in owned
    managed = await create(world, "managed", Enabled=True)
    arn = managed["SSEDescription"]["KMSMasterKeyArn"]
    assert managed["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS",
                                         "KMSMasterKeyArn": arn}  # fmt: skip
    key = await world.customer_keys.describe_key(world.root(), "alias/aws/dynamodb")
    assert key.arn == arn and arn.startswith(f"arn:aws:kms:eu-fr-1:{world.tenant_id}:key/")
    await world.client(
        "PutItem", TableName="managed", Item={"pk": {"S": "a"}, "v": {"S": "clear-text"}}
    )
    assert await get(world, "a", "managed") == {"pk": {"S": "a"}, "v": {"S": "clear-text"}}
    assert b"clear-text" not in b"".join(stored(world, "managed"))
    same = await create(world, "named", Enabled=True, SSEType="KMS",
                        KMSMasterKeyId="alias/aws/dynamodb")  # fmt: skip
    assert same["SSEDescription"]["KMSMasterKeyArn"] == arn
    assert ("kms:GenerateDataKey", "success") in await world.audited()
    assert await world.usage("kms.requests") >= 2


async def test_a_customer_key_seals_the_table_and_its_state_decides(world: World) -> None:
    key = await world.customer_keys.create_key(world.root())
    made = await create(world, Enabled=True, SSEType="KMS", KMSMasterKeyId=key.key_id)
    assert made["SSEDescription"]["KMSMasterKeyArn"] == key.arn
    await world.client("PutItem", TableName="tab", Item={"pk": {"S": "a"}})
    assert await get(world, "a") == {"pk": {"S": "a"}}
    await world.customer_keys.disable_key(world.root(), key.arn)
    message = await world.fails("GetItem", "AccessDeniedException", TableName="tab",
                                Key={"pk": {"S": "a"}})  # fmt: skip
    assert message.startswith("KMS key access denied error") and "DisabledException" in message
    await world.fails("PutItem", "AccessDeniedException", TableName="tab",
                      Item={"pk": {"S": "b"}})  # fmt: skip
    await world.fails("Scan", "AccessDeniedException", TableName="tab")
    assert (await describe(world))["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    await world.customer_keys.enable_key(world.root(), key.arn)
    assert (await describe(world))["TableStatus"] == "ACTIVE"
    assert await get(world, "a") == {"pk": {"S": "a"}}
    await world.customer_keys.schedule_key_deletion(world.root(), key.arn, 7)
    message = await world.fails("GetItem", "AccessDeniedException", TableName="tab",
                                Key={"pk": {"S": "a"}})  # fmt: skip
    assert "KMSInvalidStateException" in message and "pending deletion" in message
    await world.customer_keys.cancel_key_deletion(world.root(), key.arn)
    await world.customer_keys.enable_key(world.root(), key.arn)
    assert await get(world, "a") == {"pk": {"S": "a"}}
    audited = await world.audited()
    assert ("kms:GenerateDataKey", "success") in audited
    assert ("kms:Decrypt", "failure") in audited


async def test_a_change_of_key_rewraps_and_keeps_the_items(world: World) -> None:
    await create(world)
    for n in range(3):
        await world.client("PutItem", TableName="tab", Item={"pk": {"S": f"k{n}"}})
    before = stored(world)
    first = await world.customer_keys.create_key(world.root())
    second = await world.customer_keys.create_key(world.root())
    await world.customer_keys.create_alias(world.root(), "alias/tables", second.key_id)
    changed = await world.client("UpdateTable", TableName="tab",
                                 SSESpecification={"Enabled": True, "SSEType": "KMS",
                                                   "KMSMasterKeyId": first.arn})  # fmt: skip
    assert changed["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"] == first.arn
    assert stored(world) == before  # re-wrapped, not re-encrypted
    assert await get(world, "k1") == {"pk": {"S": "k1"}}
    await world.client(
        "UpdateTable",
        TableName="tab",
        SSESpecification={"Enabled": True, "KMSMasterKeyId": "alias/tables"},
    )
    assert (await describe(world))["SSEDescription"]["KMSMasterKeyArn"] == second.arn
    await world.customer_keys.disable_key(world.root(), first.arn)  # no longer the table's
    assert await get(world, "k2") == {"pk": {"S": "k2"}}
    assert "already encrypted" in await world.fails(
        "UpdateTable", "ValidationException", TableName="tab",
        SSESpecification={"Enabled": True, "KMSMasterKeyId": second.key_id},
    )  # fmt: skip
    await world.client("UpdateTable", TableName="tab", SSESpecification={"Enabled": False})
    assert "SSEDescription" not in await describe(world)
    await world.customer_keys.disable_key(world.root(), second.arn)  # no longer the table's
    assert await get(world, "k0") == {"pk": {"S": "k0"}}
    assert stored(world) == before
    table = await world.dynamodb.table(world.tenant_id, "tab")
    assert table.kms_key_arn is None and table.table_key  # T sealed under a ring data key


async def test_unusable_keys_are_refused_in_aws_words(world: World) -> None:
    key = await world.customer_keys.create_key(world.root())
    await world.customer_keys.disable_key(world.root(), key.arn)

    async def refused(code: str, ref: str) -> str:
        message = await world.fails("CreateTable", code, TableName="tab", KeySchema=PK,
                                    AttributeDefinitions=PK_S, BillingMode="PAY_PER_REQUEST",
                                    SSESpecification={"Enabled": True, "SSEType": "KMS",
                                                      "KMSMasterKeyId": ref})  # fmt: skip
        await world.fails("DescribeTable", "ResourceNotFoundException", TableName="tab")
        return message

    assert (await refused("ValidationException", key.arn)).startswith(
        "KMS key disabled error: com.amazonaws.services.kms.model.DisabledException: "
    )
    pending = await world.customer_keys.create_key(world.root())
    await world.customer_keys.schedule_key_deletion(world.root(), pending.arn, 7)
    assert "KMSInvalidStateException" in await refused("ValidationException", pending.key_id)
    assert "NotFoundException" in await refused(
        "ValidationException", "00000000-0000-0000-0000-000000000000"
    )
    await create(world)
    await world.fails("UpdateTable", "ValidationException", TableName="tab",
                      SSESpecification={"Enabled": True, "KMSMasterKeyId": key.arn})  # fmt: skip
    assert "SSEDescription" not in await describe(world)
    await world.fails("UpdateTable", "ValidationException", TableName="tab",
                      SSESpecification={"Enabled": True, "SSEType": "AES256"})  # fmt: skip


async def test_the_callers_kms_rights_decide(world: World) -> None:
    key = await world.customer_keys.create_key(world.root())
    user = await world.iam_user("builder")
    dynamodb_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
    }
    await world.identity.put_user_policy(world.tenant_id, "builder", "p",
                                         json.dumps(dynamodb_only))  # fmt: skip
    message = await user.fails(
        "CreateTable",
        "AccessDeniedException",
        TableName="tab",
        KeySchema=PK,
        AttributeDefinitions=PK_S,
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "KMSMasterKeyId": key.arn},
    )
    assert message.startswith("KMS key access denied error") and "kms:DescribeKey" in message
    with_key = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:CreateGrant"],
             "Resource": key.arn},
        ],
    }  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "builder", "p", json.dumps(with_key))
    made = await user.client(
        "CreateTable",
        TableName="tab",
        KeySchema=PK,
        AttributeDefinitions=PK_S,
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "KMSMasterKeyId": key.arn},
    )
    assert made["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"] == key.arn
    # Reads and writes use DynamoDB's grant: the caller needs no kms:Decrypt of its own.
    await user.client("PutItem", TableName="tab", Item={"pk": {"S": "a"}})
    assert (await user.client("GetItem", TableName="tab", Key={"pk": {"S": "a"}}))["Item"]


async def test_the_tables_stream_follows_its_key(world: World) -> None:
    key = await world.customer_keys.create_key(world.root())
    await create(world)
    await world.client("UpdateTable", TableName="tab",
                       StreamSpecification={"StreamEnabled": True,
                                            "StreamViewType": "NEW_IMAGE"})  # fmt: skip
    await world.client("PutItem", TableName="tab", Item={"pk": {"S": "before"}})
    await world.client(
        "UpdateTable",
        TableName="tab",
        SSESpecification={"Enabled": True, "KMSMasterKeyId": key.arn},
    )
    await world.client("PutItem", TableName="tab", Item={"pk": {"S": "after"}})
    arn = (await describe(world))["LatestStreamArn"]
    shard = (await world.streams("DescribeStream", StreamArn=arn))["StreamDescription"]["Shards"][
        0
    ]["ShardId"]
    iterator = (await world.streams("GetShardIterator", StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    records = (await world.streams("GetRecords", ShardIterator=iterator))["Records"]
    assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in records] == ["before", "after"]
    await world.customer_keys.disable_key(world.root(), key.arn)
    await world.streams_fails("GetRecords", "AccessDeniedException", ShardIterator=iterator)


async def test_the_key_check_period_bounds_how_long_a_disabled_key_serves(
    tmp_path: Path,
) -> None:
    now = [1000.0]

    def clock() -> float:
        return now[0]

    async for world in dynamodb_world(tmp_path, dynamodb_table_key_check=60):
        world.sealer._clock = clock
        key = await world.customer_keys.create_key(world.root())
        await create(world, Enabled=True, KMSMasterKeyId=key.arn)
        await world.client("PutItem", TableName="tab", Item={"pk": {"S": "a"}})
        await world.customer_keys.disable_key(world.root(), key.arn)
        assert await get(world, "a") == {"pk": {"S": "a"}}  # trusted for the period
        assert (await describe(world))["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        now[0] += 61
        await world.fails("GetItem", "AccessDeniedException", TableName="tab",
                          Key={"pk": {"S": "a"}})  # fmt: skip


async def test_a_restore_opens_a_keyed_backup_and_takes_the_key_it_is_given(
    tmp_path: Path,
) -> None:
    """Decisions 0253 and 0254 together: a backup of a table under a customer key is restored
    under the AWS-owned key unless ``SSESpecificationOverride`` names one, as AWS restores, its
    items readable either way; a point-in-time restore likewise."""
    async for world in dynamodb_world(
        tmp_path, dynamodb_table_key_check=0, dynamodb_pitr_restore_lag=0
    ):
        key = await world.customer_keys.create_key(world.root())
        await create(world, Enabled=True, SSEType="KMS", KMSMasterKeyId=key.key_id)
        item = {"pk": {"S": "a"}, "v": {"S": "clear-text"}}
        await world.client("PutItem", TableName="tab", Item=item)
        made = await world.client("CreateBackup", TableName="tab", BackupName="before")
        arn = made["BackupDetails"]["BackupArn"]
        plain = await world.client("RestoreTableFromBackup", TargetTableName="plain",
                                   BackupArn=arn)  # fmt: skip
        assert "SSEDescription" not in plain["TableDescription"]
        assert await get(world, "a", "plain") == item
        keyed = await world.client(
            "RestoreTableFromBackup", TargetTableName="keyed", BackupArn=arn,
            SSESpecificationOverride={"Enabled": True, "SSEType": "KMS",
                                      "KMSMasterKeyId": key.arn},
        )  # fmt: skip
        assert keyed["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"] == key.arn
        assert await get(world, "a", "keyed") == item
        assert b"clear-text" not in b"".join(stored(world, "keyed"))
        recovery = {"PointInTimeRecoveryEnabled": True}
        await world.client("UpdateContinuousBackups", TableName="tab",
                           PointInTimeRecoverySpecification=recovery)  # fmt: skip
        await world.client("PutItem", TableName="tab", Item={"pk": {"S": "b"}})
        await world.client(
            "RestoreTableToPointInTime", SourceTableName="tab", TargetTableName="recovered",
            UseLatestRestorableTime=True,
            SSESpecificationOverride={"Enabled": True, "KMSMasterKeyId": key.key_id},
        )  # fmt: skip
        assert (await describe(world, "recovered"))["SSEDescription"]["KMSMasterKeyArn"] == key.arn
        scanned = (await world.client("Scan", TableName="recovered"))["Items"]
        assert sorted(i["pk"]["S"] for i in scanned) == ["a", "b"]
