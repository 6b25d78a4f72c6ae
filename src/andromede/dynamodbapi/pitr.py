"""DynamoDB's point-in-time recovery calls (decision 0253): UpdateContinuousBackups
(``PointInTimeRecoverySpecification``: on or off, ``RecoveryPeriodInDays`` 1 to 35),
DescribeContinuousBackups (``EarliestRestorableDateTime``, ``LatestRestorableDateTime`` the
present less ``dynamodb_pitr_restore_lag``, as AWS's five minutes) and
RestoreTableToPointInTime (the source by name or ARN, ``RestoreDateTime`` or
``UseLatestRestorableTime``, the overrides of RestoreTableFromBackup), in AWS's shapes and
errors (``TableNotFoundException``, ``PointInTimeRecoveryUnavailableException``,
``InvalidRestoreTimeException``). IAM as AWS's: each call on the source table, a restore also
on the target table with the item calls AWS requires of it."""

from __future__ import annotations

import time
from typing import Any, Final

from andromede.dynamodb.errors import TableNotFound
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.backups import (
    answering,
    authorise_target,
    restore_overrides,
    restored,
    service_of,
)
from andromede.dynamodbapi.encryption import apply_key, key_choice
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["PITR_ACTIONS"]

_DAY_MS: Final = 86_400_000


def _now() -> int:
    return int(time.time() * 1000)


async def _source(call: DynamoCall, action: str, value: str | None = None) -> Table:
    try:
        return await call.table(action, value)
    except TableNotFound as exc:  # these calls' own error type, as AWS's model says
        raise DynamoWireError("TableNotFoundException", str(exc)) from None


def _window(call: DynamoCall, table: Table) -> tuple[int, int]:
    """(earliest, latest) restorable instants (ms) of a table whose recovery is on."""
    assert table.pitr is not None  # noqa: S101 (the callers check)
    days, since = table.pitr
    now = _now()
    latest = now - int(service_of(call).restore_lag * 1000)
    return max(since, now - days * _DAY_MS), latest


def _description(call: DynamoCall, table: Table) -> dict[str, Any]:
    if table.pitr is None:
        recovery: dict[str, Any] = {"PointInTimeRecoveryStatus": "DISABLED"}
    else:
        earliest, latest = _window(call, table)
        recovery = {
            "PointInTimeRecoveryStatus": "ENABLED",
            "RecoveryPeriodInDays": table.pitr[0],
            "EarliestRestorableDateTime": earliest / 1000,
            "LatestRestorableDateTime": latest / 1000,
        }
    # On-demand backups are on for every table, as AWS says of ContinuousBackupsStatus.
    return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": recovery}


async def describe_continuous_backups(call: DynamoCall) -> dict[str, Any]:
    table = await _source(call, "DescribeContinuousBackups")
    return {"ContinuousBackupsDescription": _description(call, table)}


async def update_continuous_backups(call: DynamoCall) -> dict[str, Any]:
    table = await _source(call, "UpdateContinuousBackups")
    spec = call.mapping("PointInTimeRecoverySpecification")
    if spec is None:
        raise invalid("PointInTimeRecoverySpecification", "Member must not be null")
    enabled = call.boolean("PointInTimeRecoveryEnabled", source=spec)
    if enabled is None:
        raise invalid(
            "PointInTimeRecoverySpecification.pointInTimeRecoveryEnabled",
            "Member must not be null",
        )
    days = call.integer("RecoveryPeriodInDays", minimum=1, maximum=35, source=spec)
    table = await service_of(call).recover(table, (days or 35) if enabled else None)
    return {"ContinuousBackupsDescription": _description(call, table)}


async def restore_table_to_point_in_time(call: DynamoCall) -> dict[str, Any]:
    call.table_name(call.string("TargetTableName", required=True, max_length=255),
                    "TargetTableName")  # fmt: skip
    named = call.string("SourceTableArn", max_length=1024)
    if named is None:
        named = call.string("SourceTableName", required=True, max_length=1024)
    source = await _source(call, "RestoreTableToPointInTime", named)
    target, _ = await authorise_target(call, "RestoreTableToPointInTime")
    if source.pitr is None:
        raise DynamoWireError(
            "PointInTimeRecoveryUnavailableException",
            f"Point in time recovery is not enabled for table '{source.name}'",
        )
    earliest, latest = _window(call, source)
    latest_wanted = call.boolean("UseLatestRestorableTime")
    given = call.params.get("RestoreDateTime")
    if given is not None and (isinstance(given, bool) or not isinstance(given, int | float)):
        raise DynamoWireError("SerializationException", "RestoreDateTime must be a timestamp")
    if latest_wanted and given is not None:
        raise DynamoWireError(
            "ValidationException",
            "Only one of RestoreDateTime or UseLatestRestorableTime can be specified",
        )
    if not latest_wanted and given is None:
        raise DynamoWireError(
            "ValidationException",
            "Either RestoreDateTime or UseLatestRestorableTime must be specified",
        )
    at = latest if latest_wanted or given is None else int(float(given) * 1000)
    if not earliest <= at <= latest:
        raise DynamoWireError(
            "InvalidRestoreTimeException",
            f"RestoreDateTime {at / 1000} is not within the restorable range "
            f"[{earliest / 1000}, {latest / 1000}]",
        )
    overrides = restore_overrides(call, source)
    key = await key_choice(call, target, field="SSESpecificationOverride")  # decision 0254
    table = await service_of(call).restore_to(source, at, target, overrides)
    return {"TableDescription": await restored(call, await apply_key(call, table, key))}


PITR_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeContinuousBackups": describe_continuous_backups,
    "RestoreTableToPointInTime": answering(restore_table_to_point_in_time),
    "UpdateContinuousBackups": update_continuous_backups,
}
