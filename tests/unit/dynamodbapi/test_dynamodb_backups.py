"""Decision 0253 through botocore's own model: deletion protection (set at creation and by
UpdateTable, shown, DeleteTable refused in AWS's words); on-demand backups made as a
consistent snapshot, described and listed (by table, time range, pages), surviving their
table, restored to a new table (its items then, its indexes, RestoreSummary; overrides),
deleted; the rows kept sealed; IAM on the table and backup ARNs, audit, tenant isolation;
point-in-time recovery turned on and off, a table restored as it was at an instant or at the
latest, its history kept only while recovery is on."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from andromede.dynamodb.memory import MemoryDynamoStore
from support.dynamodbapp import World, dynamodb_world

PK_SK = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
    {"AttributeName": "colour", "AttributeType": "S"},
]
BY_COLOUR = {
    "IndexName": "by-colour",
    "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "ALL"},
}
PROTECTED = (
    "Resource cannot be deleted as it is currently protected against deletion. "
    "Disable deletion protection first."
)


async def _orders(world: World, **more: Any) -> None:
    await world.client(
        "CreateTable",
        TableName="orders",
        KeySchema=PK_SK,
        AttributeDefinitions=ATTRIBUTES,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[BY_COLOUR],
        **more,
    )
    for n, colour in enumerate(("red", "blue", "red")):
        item = {"pk": {"S": "p"}, "sk": {"N": str(n)}, "colour": {"S": colour}}
        await world.client("PutItem", TableName="orders", Item=item)


async def test_deletion_protection_refuses_delete_until_turned_off(world: World) -> None:
    await _orders(world, DeletionProtectionEnabled=True)
    table = (await world.client("DescribeTable", TableName="orders"))["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert await world.fails("DeleteTable", "ValidationException", TableName="orders") == PROTECTED
    assert (await world.client("DescribeTable", TableName="orders"))["Table"]["ItemCount"] == 3
    changed = await world.client("UpdateTable", TableName="orders", DeletionProtectionEnabled=False)
    assert changed["TableDescription"]["DeletionProtectionEnabled"] is False
    await world.client("DeleteTable", TableName="orders")
    await world.table("plain")
    assert (await world.client("DescribeTable", TableName="plain"))["Table"][
        "DeletionProtectionEnabled"
    ] is False
    await world.client("UpdateTable", TableName="plain", DeletionProtectionEnabled=True)
    await world.fails("DeleteTable", "ValidationException", TableName="plain")


async def test_a_backup_is_a_snapshot_that_outlives_its_table(world: World) -> None:
    await _orders(world)
    spec = {"Enabled": True, "AttributeName": "exp"}
    await world.client("UpdateTimeToLive", TableName="orders", TimeToLiveSpecification=spec)
    before = time.time()
    made = (await world.client("CreateBackup", TableName="orders", BackupName="nightly"))[
        "BackupDetails"
    ]
    arn = made["BackupArn"]
    assert arn.startswith(f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/orders/backup/")
    assert made["BackupStatus"] == "AVAILABLE" and made["BackupType"] == "USER"
    assert made["BackupName"] == "nightly" and made["BackupSizeBytes"] > 0
    # Written after the backup: not in it.
    late = {"pk": {"S": "p"}, "sk": {"N": "9"}, "colour": {"S": "red"}}
    await world.client("PutItem", TableName="orders", Item=late)
    await world.client("DeleteItem", TableName="orders",
                       Key={"pk": {"S": "p"}, "sk": {"N": "0"}})  # fmt: skip
    described = (await world.client("DescribeBackup", BackupArn=arn))["BackupDescription"]
    source = described["SourceTableDetails"]
    assert source["TableName"] == "orders" and source["ItemCount"] == 3
    assert source["KeySchema"] == PK_SK and source["BillingMode"] == "PAY_PER_REQUEST"
    features = described["SourceTableFeatureDetails"]
    assert features["GlobalSecondaryIndexes"][0]["IndexName"] == "by-colour"
    assert features["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "exp",
    }
    # The copied rows stay sealed: no item value in clear in the backup's store.
    held = world.app.backups
    assert held is not None
    backup_id = arn.rsplit("/", 1)[1]
    rows = await held.store.backup_items(world.tenant_id, backup_id, None, 100)
    assert len(rows) == 3 and not any(b"blue" in r.sealed for r in rows)

    await world.client("DeleteTable", TableName="orders")
    listed = await world.client("ListBackups", TableName="orders")
    assert [b["BackupArn"] for b in listed["BackupSummaries"]] == [arn]
    assert listed["BackupSummaries"][0]["TableName"] == "orders"
    restored = await world.client("RestoreTableFromBackup", TargetTableName="copy", BackupArn=arn)
    table = restored["TableDescription"]
    assert table["TableStatus"] == "ACTIVE" and table["ItemCount"] == 3
    summary = table["RestoreSummary"]
    assert summary["SourceBackupArn"] == arn and summary["RestoreInProgress"] is False
    assert summary["SourceTableArn"].endswith(":table/orders")
    assert (await world.client("DescribeTable", TableName="copy"))["Table"]["RestoreSummary"][
        "SourceBackupArn"
    ] == arn
    items = (await world.client("Scan", TableName="copy"))["Items"]
    assert sorted(int(i["sk"]["N"]) for i in items) == [0, 1, 2]
    reds = await world.client(
        "Query",
        TableName="copy",
        IndexName="by-colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )
    assert reds["Count"] == 2  # the index rebuilt under the new table's key
    ttl = await world.client("DescribeTimeToLive", TableName="copy")
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"  # set again by hand
    await world.fails(
        "RestoreTableFromBackup",
        "TableAlreadyExistsException",
        TargetTableName="copy",
        BackupArn=arn,
    )
    window = await world.client(
        "ListBackups", TimeRangeLowerBound=before - 1, TimeRangeUpperBound=before - 0.5
    )
    assert window["BackupSummaries"] == []
    assert (await world.client("ListBackups", BackupType="SYSTEM"))["BackupSummaries"] == []


async def test_restore_overrides_billing_and_indexes(world: World) -> None:
    await _orders(world)
    arn = (await world.client("CreateBackup", TableName="orders", BackupName="bk1"))[
        "BackupDetails"
    ]["BackupArn"]
    table = (
        await world.client(
            "RestoreTableFromBackup",
            TargetTableName="lean",
            BackupArn=arn,
            BillingModeOverride="PROVISIONED",
            ProvisionedThroughputOverride={"ReadCapacityUnits": 3, "WriteCapacityUnits": 2},
            GlobalSecondaryIndexOverride=[],
            SSESpecificationOverride={"Enabled": True},
        )
    )["TableDescription"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert "GlobalSecondaryIndexes" not in table and table["ItemCount"] == 3
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert [a["AttributeName"] for a in table["AttributeDefinitions"]] == ["pk", "sk"]
    message = await world.fails(
        "RestoreTableFromBackup",
        "ValidationException",
        TargetTableName="lean2",
        BackupArn=arn,
        BillingModeOverride="PROVISIONED",
    )
    assert "ProvisionedThroughputOverride" in message
    await world.fails(
        "RestoreTableFromBackup",
        "ValidationException",
        TargetTableName="lean3",
        BackupArn=arn,
        GlobalSecondaryIndexOverride=[
            {**BY_COLOUR, "KeySchema": [{"AttributeName": "size", "KeyType": "HASH"}]}
        ],
    )


async def test_backups_are_listed_in_pages_and_deleted(world: World) -> None:
    await world.table("tab1")
    arns = []
    for n in range(3):
        made = await world.client("CreateBackup", TableName="tab1", BackupName=f"bk{n}")
        arns.append(made["BackupDetails"]["BackupArn"])
    first = await world.client("ListBackups", Limit=2)
    assert [b["BackupName"] for b in first["BackupSummaries"]] == ["bk0", "bk1"]
    rest = await world.client(
        "ListBackups", Limit=2, ExclusiveStartBackupArn=first["LastEvaluatedBackupArn"]
    )
    assert [b["BackupName"] for b in rest["BackupSummaries"]] == ["bk2"]
    assert "LastEvaluatedBackupArn" not in rest
    deleted = await world.client("DeleteBackup", BackupArn=arns[0])
    assert deleted["BackupDescription"]["BackupDetails"]["BackupStatus"] == "DELETED"
    await world.fails("DescribeBackup", "BackupNotFoundException", BackupArn=arns[0])
    await world.fails("DeleteBackup", "BackupNotFoundException", BackupArn=arns[0])
    await world.fails("CreateBackup", "TableNotFoundException", TableName="nope", BackupName="bk9")
    await world.fails("CreateBackup", "ValidationException", TableName="tab1", BackupName="a b")
    held = world.app.backups
    assert held is not None
    assert await held.store.backup_bytes() == {world.tenant_id: 0}  # empty tables
    assert await held.store.forget_tenant(world.tenant_id) == 2
    assert (await world.client("ListBackups"))["BackupSummaries"] == []


async def test_iam_audit_and_tenants(world: World) -> None:
    await world.table("tab1")
    arn = (await world.client("CreateBackup", TableName="tab1", BackupName="bk1"))["BackupDetails"][
        "BackupArn"
    ]
    other = await world.other_tenant("other")
    await other.fails("DescribeBackup", "BackupNotFoundException", BackupArn=arn)
    await other.fails("DeleteBackup", "BackupNotFoundException", BackupArn=arn)
    assert (await other.client("ListBackups"))["BackupSummaries"] == []
    user = await world.iam_user("restorer")
    message = await user.fails(
        "RestoreTableFromBackup", "AccessDeniedException", TargetTableName="copy", BackupArn=arn
    )
    assert "dynamodb:RestoreTableFromBackup" in message
    table_arn = f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/copy"
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:RestoreTableFromBackup", "dynamodb:DescribeBackup"],
                "Resource": [arn, table_arn],
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "restorer", "r", json.dumps(policy))
    assert (await user.client("DescribeBackup", BackupArn=arn))["BackupDescription"]
    message = await user.fails(
        "RestoreTableFromBackup", "AccessDeniedException", TargetTableName="copy", BackupArn=arn
    )
    assert "dynamodb:" in message and "table/copy" in message  # the item writes AWS requires
    policy["Statement"][0]["Action"].append("dynamodb:*Item")
    policy["Statement"][0]["Action"] += ["dynamodb:Query", "dynamodb:Scan"]
    await world.identity.put_user_policy(world.tenant_id, "restorer", "r", json.dumps(policy))
    await user.client("RestoreTableFromBackup", TargetTableName="copy", BackupArn=arn)
    audited = await world.audited()
    assert ("dynamodb:CreateBackup", "success") in audited
    assert ("dynamodb:RestoreTableFromBackup", "failure") in audited
    assert ("dynamodb:RestoreTableFromBackup", "success") in audited
    assert ("dynamodb:DescribeBackup", "failure") in audited


async def test_point_in_time_recovery_restores_the_items_as_they_were(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_pitr_restore_lag=0):
        await _orders(world)
        off = await world.client("DescribeContinuousBackups", TableName="orders")
        assert off["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"] == {
            "PointInTimeRecoveryStatus": "DISABLED"
        }
        await world.fails(
            "RestoreTableToPointInTime",
            "PointInTimeRecoveryUnavailableException",
            SourceTableName="orders",
            TargetTableName="then",
            UseLatestRestorableTime=True,
        )
        on = await world.client(
            "UpdateContinuousBackups",
            TableName="orders",
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": 7,
            },
        )
        recovery = on["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
        assert recovery["RecoveryPeriodInDays"] == 7
        await asyncio.sleep(0.01)
        before = time.time()
        await asyncio.sleep(0.01)
        late = {"pk": {"S": "p"}, "sk": {"N": "9"}, "colour": {"S": "red"}}
        await world.client("PutItem", TableName="orders", Item=late)
        await world.client("DeleteItem", TableName="orders",
                           Key={"pk": {"S": "p"}, "sk": {"N": "0"}})  # fmt: skip
        await world.client(
            "UpdateItem",
            TableName="orders",
            Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
            UpdateExpression="SET colour = :c",
            ExpressionAttributeValues={":c": {"S": "green"}},
        )
        then = await world.client(
            "RestoreTableToPointInTime",
            SourceTableName="orders",
            TargetTableName="then",
            RestoreDateTime=before,
        )
        summary = then["TableDescription"]["RestoreSummary"]
        assert "SourceBackupArn" not in summary and summary["SourceTableArn"].endswith("/orders")
        items = (await world.client("Scan", TableName="then"))["Items"]
        assert sorted((i["sk"]["N"], i["colour"]["S"]) for i in items) == [
            ("0", "red"), ("1", "blue"), ("2", "red")
        ]  # fmt: skip
        arn = f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/orders"
        now = await world.client(
            "RestoreTableToPointInTime",
            SourceTableArn=arn,
            TargetTableName="now",
            UseLatestRestorableTime=True,
            GlobalSecondaryIndexOverride=[],
        )
        assert "GlobalSecondaryIndexes" not in now["TableDescription"]
        items = (await world.client("Scan", TableName="now"))["Items"]
        assert sorted((i["sk"]["N"], i["colour"]["S"]) for i in items) == [
            ("1", "green"), ("2", "red"), ("9", "red")
        ]  # fmt: skip
        await world.fails(
            "RestoreTableToPointInTime",
            "InvalidRestoreTimeException",
            SourceTableName="orders",
            TargetTableName="never",
            RestoreDateTime=before - 3600,
        )
        await world.fails(
            "RestoreTableToPointInTime",
            "TableNotFoundException",
            SourceTableName="nope",
            TargetTableName="never",
            UseLatestRestorableTime=True,
        )
        await world.fails(
            "UpdateContinuousBackups",
            "ValidationException",
            TableName="orders",
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": 36,
            },
        )
        # Only the tables with recovery on keep a history; turning it off drops it.
        held = world.store
        assert isinstance(held, MemoryDynamoStore)
        histories = {(n, len(v)) for (_, n, _), v in held.versions.items()}
        assert histories == {("orders", 6)}  # the base's three items, three changes
        await world.client(
            "UpdateContinuousBackups",
            TableName="orders",
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        )
        assert held.versions == {}
        await world.client("PutItem", TableName="now", Item=late)
        assert held.versions == {}
        audited = await world.audited()
        assert ("dynamodb:UpdateContinuousBackups", "success") in audited
        assert ("dynamodb:RestoreTableToPointInTime", "success") in audited
