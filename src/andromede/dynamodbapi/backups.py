"""DynamoDB's on-demand backup calls (decision 0253): CreateBackup, DescribeBackup,
ListBackups, DeleteBackup and RestoreTableFromBackup, in AWS's shapes and errors
(``BackupNotFoundException``, ``TableAlreadyExistsException``, CreateBackup's
``TableNotFoundException``). IAM as AWS's service authorization reference says:
``dynamodb:CreateBackup`` on the table, ``DescribeBackup``/``DeleteBackup`` on the backup's ARN,
``ListBackups`` on ``*``, ``RestoreTableFromBackup`` on the backup and on the target table,
plus the item writes and reads AWS requires of a restore on the target table."""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from andromede.dynamodb.backups import (
    Backup,
    BackupInUse,
    BackupNotFound,
    DynamoBackups,
    RestoreOverrides,
    TableAlreadyExists,
)
from andromede.dynamodb.errors import TableNotFound, ValidationError
from andromede.dynamodb.model import BillingMode, SecondaryIndex, Table
from andromede.dynamodbapi.encryption import apply_key, key_choice
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.indexes import check_indexes, read_index
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid
from andromede.dynamodbapi.throughput import UNBOUNDED, check_capacity

__all__ = [
    "BACKUP_ACTIONS",
    "answering",
    "authorise_target",
    "described_backup",
    "restore_overrides",
    "restored",
    "service_of",
]

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
# What AWS requires of a restore's caller on the target table, besides the restore itself.
RESTORE_DATA_ACTIONS: Final = (
    "BatchWriteItem", "DeleteItem", "GetItem", "PutItem", "Query", "Scan", "UpdateItem",
)  # fmt: skip
_ERRORS: Final[tuple[tuple[type[Exception], str], ...]] = (
    (BackupNotFound, "BackupNotFoundException"),
    (BackupInUse, "BackupInUseException"),
    (TableAlreadyExists, "TableAlreadyExistsException"),
)


def answering(handler: Handler) -> Handler:
    """The backup errors in their wire types (the domain's own are mapped by the app)."""

    @functools.wraps(handler)
    async def answered(call: DynamoCall) -> dict[str, Any]:
        try:
            return await handler(call)
        except (BackupNotFound, BackupInUse, TableAlreadyExists) as exc:
            wire = next(t for kind, t in _ERRORS if isinstance(exc, kind))
            raise DynamoWireError(wire, str(exc)) from None

    return answered


def service_of(call: DynamoCall) -> DynamoBackups:
    if call.backups is None:  # an app made without them (some unit tests' worlds)
        raise DynamoWireError("UnknownOperationException", "Backups are not offered here")
    return call.backups


def _details(backup: Backup) -> dict[str, Any]:
    return {
        "BackupArn": backup.arn,
        "BackupName": backup.name,
        "BackupSizeBytes": backup.size,
        "BackupStatus": "AVAILABLE",
        "BackupType": "USER",
        "BackupCreationDateTime": backup.created / 1000,
    }


def described_backup(backup: Backup, status: str = "AVAILABLE") -> dict[str, Any]:
    """DescribeBackup's ``BackupDescription``: the backup, its source table as it was."""
    table = backup.table
    whole = table.describe(backup.item_count, backup.size)
    throughput = whole["ProvisionedThroughput"]
    features: dict[str, Any] = {}
    for field in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        if field in whole:
            features[field] = [
                {
                    k: v
                    for k, v in index.items()
                    if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
                }
                for index in whole[field]
            ]
    if "StreamSpecification" in whole:
        features["StreamDescription"] = whole["StreamSpecification"]
    features["TimeToLiveDescription"] = (
        {"TimeToLiveStatus": "DISABLED"}
        if table.ttl_attribute is None
        else {"TimeToLiveStatus": "ENABLED", "AttributeName": table.ttl_attribute}
    )
    if "SSEDescription" in whole:
        features["SSEDescription"] = whole["SSEDescription"]
    details = _details(backup)
    details["BackupStatus"] = status
    return {
        "BackupDetails": details,
        "SourceTableDetails": {
            "TableName": table.name,
            "TableId": whole["TableId"],
            "TableArn": table.arn,
            "TableSizeBytes": backup.size,
            "KeySchema": whole["KeySchema"],
            "TableCreationDateTime": table.created / 1000,
            "ProvisionedThroughput": {
                "ReadCapacityUnits": throughput["ReadCapacityUnits"],
                "WriteCapacityUnits": throughput["WriteCapacityUnits"],
            },
            "ItemCount": backup.item_count,
            "BillingMode": table.billing_mode.value,
        },
        "SourceTableFeatureDetails": features,
    }


@answering
async def create_backup(call: DynamoCall) -> dict[str, Any]:
    try:
        table = await call.table("CreateBackup")
    except TableNotFound as exc:  # this call's own error type, as AWS's model says
        raise DynamoWireError("TableNotFoundException", str(exc)) from None
    name = call.string("BackupName", required=True, min_length=3, max_length=255)
    assert name is not None  # noqa: S101 (required)
    if not _NAME.fullmatch(name):
        raise invalid("BackupName", "Member must satisfy regular expression pattern: "
                      "[a-zA-Z0-9_.-]+", name)  # fmt: skip
    backup = await service_of(call).create(table, name)
    call.resources.append(backup.arn)
    return {"BackupDetails": _details(backup)}


async def _named_backup(call: DynamoCall, action: str) -> Backup:
    arn = call.string("BackupArn", required=True, min_length=37, max_length=1024)
    assert arn is not None  # noqa: S101 (required)
    call.resources.append(arn)
    await call.authorise(f"dynamodb:{action}", arn)
    return await service_of(call).backup(call.tenant_id, call.region, arn)


@answering
async def describe_backup(call: DynamoCall) -> dict[str, Any]:
    backup = await _named_backup(call, "DescribeBackup")
    return {"BackupDescription": described_backup(backup)}


@answering
async def delete_backup(call: DynamoCall) -> dict[str, Any]:
    backup = await _named_backup(call, "DeleteBackup")
    await service_of(call).delete(backup)
    return {"BackupDescription": described_backup(backup, "DELETED")}


def _instant(call: DynamoCall, name: str) -> int | None:
    value = call.params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DynamoWireError("SerializationException", f"{name} must be a timestamp")
    return int(value * 1000)


@answering
async def list_backups(call: DynamoCall) -> dict[str, Any]:
    await call.authorise("dynamodb:ListBackups", "*")
    limit = call.integer("Limit", minimum=1, maximum=100) or 100
    table_name = None
    if call.params.get("TableName") is not None:
        table_name, _ = call.table_name()
    kind = call.choice("BackupType", ("USER", "SYSTEM", "AWS_BACKUP", "ALL"), "USER")
    after = None
    start = call.string("ExclusiveStartBackupArn", min_length=37, max_length=1024)
    if start is not None:
        after = start.rsplit("/backup/", 1)[-1]
    if kind in ("SYSTEM", "AWS_BACKUP"):
        return {"BackupSummaries": []}  # only on-demand (USER) backups are made here
    low, high = _instant(call, "TimeRangeLowerBound"), _instant(call, "TimeRangeUpperBound")
    listed = await service_of(call).store.list_backups(
        call.tenant_id, table_name, low, high, after, limit + 1
    )
    summaries = []
    for backup in listed[:limit]:
        table = backup.table
        summaries.append(
            {
                "TableName": table.name,
                "TableId": table.describe(0, 0)["TableId"],
                "TableArn": table.arn,
                **_details(backup),
            }
        )
    answer: dict[str, Any] = {"BackupSummaries": summaries}
    if len(listed) > limit:
        answer["LastEvaluatedBackupArn"] = listed[limit - 1].arn
    return answer


def restore_overrides(call: DynamoCall, source: Table) -> RestoreOverrides:
    """A restore's overrides of ``source``'s definition, checked as the new table's."""
    if call.params.get("OnDemandThroughputOverride"):
        raise ValidationError(
            "OnDemandThroughputOverride is not served by this platform (decision 0237)"
        )
    given_mode = call.choice("BillingModeOverride", ("PROVISIONED", "PAY_PER_REQUEST"))
    mode = source.billing_mode if given_mode is None else BillingMode(given_mode)
    throughput = call.mapping("ProvisionedThroughputOverride")
    read = write = 0
    if mode is BillingMode.PROVISIONED:
        if throughput is None and mode is not source.billing_mode:
            raise ValidationError(
                "One or more parameter values were invalid: ProvisionedThroughputOverride "
                "must be specified when BillingModeOverride is PROVISIONED"
            )
        if throughput is not None:
            read = call.integer("ReadCapacityUnits", minimum=1, maximum=UNBOUNDED,
                                source=throughput) or 0  # fmt: skip
            write = call.integer("WriteCapacityUnits", minimum=1, maximum=UNBOUNDED,
                                 source=throughput) or 0  # fmt: skip
            if not (read and write):
                raise invalid("ProvisionedThroughputOverride", "Member must not be null")
            check_capacity(call, read, write)  # the settings' maximums (decision 0267)
    elif throughput is not None:
        raise ValidationError(
            "One or more parameter values were invalid: ProvisionedThroughputOverride "
            "cannot be specified when BillingMode is PAY_PER_REQUEST"
        )
    definitions = {a.name: a.type for a in source.attributes}
    chosen: dict[bool, tuple[SecondaryIndex, ...] | None] = {}
    for local, field in ((False, "GlobalSecondaryIndexOverride"),
                         (True, "LocalSecondaryIndexOverride")):  # fmt: skip
        specs = call.listing(field)
        chosen[local] = (
            None
            if specs is None
            else tuple(read_index(call, s, definitions, mode, local=local) for s in specs)
        )
    global_override, local_override = chosen[False], chosen[True]
    indexes = [
        *(
            global_override
            if global_override is not None
            else [i for i in source.indexes if not i.local]
        ),
        *(local_override if local_override is not None else [i for i in source.indexes if i.local]),
    ]
    check_indexes(call.dynamodb.limits, source.hash_key, source.sort_key, indexes)
    return RestoreOverrides(
        billing_mode=None if given_mode is None else mode,
        read_capacity=read,
        write_capacity=write,
        throughput=throughput is not None,
        global_indexes=chosen[False],
        local_indexes=chosen[True],
    )


@answering
async def restore_table_from_backup(call: DynamoCall) -> dict[str, Any]:
    call.table_name(call.string("TargetTableName", required=True, max_length=255),
                    "TargetTableName")  # fmt: skip
    backup = await _named_backup(call, "RestoreTableFromBackup")
    target, _ = await authorise_target(call, "RestoreTableFromBackup")
    key = await key_choice(call, target, field="SSESpecificationOverride")  # decision 0254
    table = await service_of(call).restore(backup, target, restore_overrides(call, backup.table))
    return {"TableDescription": await restored(call, await apply_key(call, table, key))}


async def authorise_target(call: DynamoCall, action: str) -> tuple[str, str]:
    """The target table a restore names, once the caller may ``action`` on it and the item
    calls AWS requires of a restore."""
    given = call.string("TargetTableName", required=True, max_length=255)
    target, target_arn = call.table_name(given, "TargetTableName")
    call.resources.append(target_arn)
    await call.authorise(f"dynamodb:{action}", target_arn)
    for data_action in RESTORE_DATA_ACTIONS:
        await call.authorise(f"dynamodb:{data_action}", target_arn)
    return target, target_arn


async def restored(call: DynamoCall, table: Table) -> dict[str, Any]:
    count, size = await call.dynamodb.usage(table)
    return table.describe(count, size, await call.dynamodb.index_usage(table))


BACKUP_ACTIONS: Final[dict[str, Handler]] = {
    "CreateBackup": create_backup,
    "DeleteBackup": delete_backup,
    "DescribeBackup": describe_backup,
    "ListBackups": list_backups,
    "RestoreTableFromBackup": restore_table_from_backup,
}
