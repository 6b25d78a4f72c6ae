"""The DynamoDB calls of a table page's recovery sections (decision 0263): point-in-time
recovery (DescribeContinuousBackups, UpdateContinuousBackups, RestoreTableToPointInTime),
on-demand backups (ListBackups, CreateBackup, DeleteBackup, RestoreTableFromBackup, decision
0253) and the table's KMS key (UpdateTable's ``SSESpecification``, decision 0254), in process
as the signed-in principal through DynamoDB's JSON protocol, as ``wire_dynamodb``'s calls.
Nothing here decides what DynamoDB allows: a restore's key and time go as the form chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["AWS_MANAGED", "AWS_OWNED", "BackupRow", "DynamoRecoveryWire", "Recovery", "sse_of"]

AWS_OWNED: Final = "aws-owned"  # the form's choice of the AWS-owned key (no KMS key)
AWS_MANAGED: Final = "aws-managed"  # alias/aws/dynamodb, the account's AWS-managed key


def _when(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Recovery:
    """DescribeContinuousBackups' point-in-time recovery: its status, period and window
    (UTC, "" when off)."""

    status: str  # ENABLED or DISABLED
    period_days: int
    earliest: str
    latest: str

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"


@dataclass(frozen=True, slots=True)
class BackupRow:
    """One of ListBackups' summaries."""

    arn: str
    name: str
    status: str
    size_bytes: int
    created: str


def sse_of(key: str) -> dict[str, Any]:
    """The ``SSESpecification`` (or a restore's override) of the form's key choice: the
    AWS-owned key, the AWS-managed one, or a customer key by its reference."""
    if key in ("", AWS_OWNED):
        return {"Enabled": False}
    if key == AWS_MANAGED:
        return {"Enabled": True, "SSEType": "KMS"}
    return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}


class DynamoRecoveryWire(JsonWire):
    """Backups, point-in-time recovery and the table's key (``DynamoDB_20120810`` JSON 1.0)."""

    target_prefix = "DynamoDB_20120810."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServerError"

    async def recovery(self, origin: Scope, principal: Principal, name: str) -> Recovery:
        answer = await self._json(origin, principal, "DescribeContinuousBackups",
                                  {"TableName": name})  # fmt: skip
        described = answer.get("ContinuousBackupsDescription")
        recovery = described.get("PointInTimeRecoveryDescription") if isinstance(
            described, dict) else None  # fmt: skip
        if not isinstance(recovery, dict):
            recovery = {}
        days = recovery.get("RecoveryPeriodInDays")
        return Recovery(
            status=str(recovery.get("PointInTimeRecoveryStatus", "")),
            period_days=days if isinstance(days, int) and not isinstance(days, bool) else 0,
            earliest=_when(recovery.get("EarliestRestorableDateTime")),
            latest=_when(recovery.get("LatestRestorableDateTime")),
        )

    async def set_recovery(
        self, origin: Scope, principal: Principal, name: str, *, enabled: bool, days: str
    ) -> None:
        """UpdateContinuousBackups: on with the period as typed (sent as typed when it is no
        number: DynamoDB refuses it), or off."""
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": enabled}
        if enabled and days.strip():
            typed = days.strip()
            spec["RecoveryPeriodInDays"] = int(typed) if typed.isdigit() else typed
        payload = {"TableName": name, "PointInTimeRecoverySpecification": spec}
        await self._json(origin, principal, "UpdateContinuousBackups", payload)

    async def backups(
        self, origin: Scope, principal: Principal, name: str, *, limit: int
    ) -> list[BackupRow]:
        """ListBackups' first page of the table's backups."""
        payload = {"TableName": name, "Limit": min(max(limit, 1), 100)}
        answer = await self._json(origin, principal, "ListBackups", payload)
        listed = answer.get("BackupSummaries")
        return [
            BackupRow(
                arn=str(b.get("BackupArn", "")),
                name=str(b.get("BackupName", "")),
                status=str(b.get("BackupStatus", "")),
                size_bytes=int(b.get("BackupSizeBytes") or 0),
                created=_when(b.get("BackupCreationDateTime")),
            )
            for b in (listed if isinstance(listed, list) else [])
            if isinstance(b, dict)
        ]

    async def create_backup(
        self, origin: Scope, principal: Principal, name: str, backup_name: str
    ) -> None:
        payload = {"TableName": name, "BackupName": backup_name}
        await self._json(origin, principal, "CreateBackup", payload)

    async def delete_backup(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self._json(origin, principal, "DeleteBackup", {"BackupArn": arn})

    async def restore_backup(
        self, origin: Scope, principal: Principal, arn: str, target: str, *, key: str
    ) -> None:
        """RestoreTableFromBackup into ``target``, under the key chosen."""
        payload = {
            "BackupArn": arn,
            "TargetTableName": target,
            "SSESpecificationOverride": sse_of(key),
        }
        await self._json(origin, principal, "RestoreTableFromBackup", payload)

    async def restore_to_time(
        self, origin: Scope, principal: Principal, name: str, target: str, *,
        at: datetime | None, key: str,
    ) -> None:  # fmt: skip
        """RestoreTableToPointInTime into ``target``: at ``at`` (UTC), or the latest
        restorable time when it is None."""
        payload: dict[str, Any] = {
            "SourceTableName": name,
            "TargetTableName": target,
            "SSESpecificationOverride": sse_of(key),
        }
        if at is None:
            payload["UseLatestRestorableTime"] = True
        else:
            payload["RestoreDateTime"] = at.timestamp()
        await self._json(origin, principal, "RestoreTableToPointInTime", payload)

    async def set_key(self, origin: Scope, principal: Principal, name: str, key: str) -> None:
        """UpdateTable's ``SSESpecification``: the key the form chose."""
        payload = {"TableName": name, "SSESpecification": sse_of(key)}
        await self._json(origin, principal, "UpdateTable", payload)
