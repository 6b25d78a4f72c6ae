"""The Secrets Manager calls (decision 0190) the console's Secrets pages make, in process as
the signed-in principal through Secrets Manager's JSON protocol (``secretsapi.app``): its
authorisation (``secretsmanager:<Action>`` by IAM and the secret's resource policy, the KMS
key's own), checks, audit and errors answer them. Each answer is read into the small rows the
pages show; nothing here decides what Secrets Manager allows.

A value read (GetSecretValue) is handed to the page that asked for it and kept nowhere else:
no row, no log line, no exception message carries it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["Rotation", "SecretPage", "SecretRow", "SecretsWire", "VersionRow"]


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class VersionRow:
    version_id: str
    stages: tuple[str, ...]
    created: str = ""


@dataclass(frozen=True, slots=True)
class Rotation:
    """A secret's rotation as DescribeSecret tells it (decision 0303): on or off, its
    function, its rules (days or a schedule expression, the window's duration) and dates."""

    enabled: bool = False
    function_arn: str = ""
    days: int | None = None
    schedule: str = ""
    duration: str = ""
    last_rotated: str = ""
    next_rotation: str = ""


def _rotation(item: Mapping[str, Any]) -> Rotation:
    rules = item.get("RotationRules")
    rules = rules if isinstance(rules, dict) else {}
    days = rules.get("AutomaticallyAfterDays")
    return Rotation(
        enabled=item.get("RotationEnabled") is True,
        function_arn=str(item.get("RotationLambdaARN") or ""),
        days=days if isinstance(days, int) and not isinstance(days, bool) else None,
        schedule=str(rules.get("ScheduleExpression") or ""),
        duration=str(rules.get("Duration") or ""),
        last_rotated=_when(item.get("LastRotatedDate")),
        next_rotation=_when(item.get("NextRotationDate")),
    )


@dataclass(frozen=True, slots=True)
class SecretRow:
    """One secret as ListSecrets or DescribeSecret describes it (never its value)."""

    name: str
    arn: str
    description: str
    kms_key_id: str  # "" when the account's default key (aws/secretsmanager) seals it
    last_changed: str
    created: str
    deleted: str  # the date the secret was marked for deletion, "" when it is not
    last_accessed: str  # the day its value was last read (AWS keeps the date), "" never
    tags: tuple[tuple[str, str], ...]
    versions: tuple[VersionRow, ...]
    rotation: Rotation = Rotation()


@dataclass(frozen=True, slots=True)
class SecretPage:
    secrets: list[SecretRow]
    next_token: str | None


def _row(item: Mapping[str, Any], stages_key: str) -> SecretRow:
    stages = item.get(stages_key)
    tags = item.get("Tags")
    return SecretRow(
        name=str(item.get("Name", "")),
        arn=str(item.get("ARN", "")),
        description=str(item.get("Description") or ""),
        kms_key_id=str(item.get("KmsKeyId") or ""),
        last_changed=_when(item.get("LastChangedDate")),
        created=_when(item.get("CreatedDate")),
        deleted=_when(item.get("DeletedDate")),
        last_accessed=_when(item.get("LastAccessedDate"))[:10],
        tags=tuple(
            (str(t.get("Key", "")), str(t.get("Value", "")))
            for t in (tags if isinstance(tags, list) else [])
            if isinstance(t, dict)
        ),
        versions=tuple(
            VersionRow(str(version), tuple(str(s) for s in listed))
            for version, listed in (stages.items() if isinstance(stages, dict) else [])
            if isinstance(listed, list)
        ),
        rotation=_rotation(item),
    )


class SecretsWire(JsonWire):
    """The secret calls the console makes (``secretsmanager`` JSON 1.1), as ``principal``."""

    target_prefix = "secretsmanager."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalServiceError"

    async def list_secrets(
        self,
        origin: Scope,
        principal: Principal,
        *,
        name: str,
        page_size: int,
        next_token: str | None,
    ) -> SecretPage:
        """One page of ListSecrets, the secrets marked for deletion included, filtered by a
        name prefix (AWS's ``name`` filter) when given."""
        payload: dict[str, Any] = {"MaxResults": page_size, "IncludePlannedDeletion": True}
        if name:
            payload["Filters"] = [{"Key": "name", "Values": [name]}]
        if next_token:
            payload["NextToken"] = next_token
        answer = await self._json(origin, principal, "ListSecrets", payload)
        rows = [
            _row(item, "SecretVersionsToStages")
            for item in answer.get("SecretList", [])
            if isinstance(item, dict)
        ]
        token = answer.get("NextToken")
        return SecretPage(rows, str(token) if token else None)

    async def describe(self, origin: Scope, principal: Principal, secret_id: str) -> SecretRow:
        """DescribeSecret, its versions' creation dates read from ListSecretVersionIds."""
        described = await self._json(origin, principal, "DescribeSecret", {"SecretId": secret_id})
        row = _row(described, "VersionIdsToStages")
        listed = await self._json(
            origin, principal, "ListSecretVersionIds", {"SecretId": row.arn or secret_id}
        )
        versions = tuple(
            VersionRow(
                str(v.get("VersionId", "")),
                tuple(str(s) for s in v.get("VersionStages", []) or []),
                _when(v.get("CreatedDate")),
            )
            for v in listed.get("Versions", [])
            if isinstance(v, dict)
        )
        return replace(row, versions=versions or row.versions)

    async def policy(self, origin: Scope, principal: Principal, secret_id: str) -> str:
        """The secret's resource policy, pretty-printed ("" when it has none)."""
        answer = await self._json(origin, principal, "GetResourcePolicy", {"SecretId": secret_id})
        text = str(answer.get("ResourcePolicy") or "")
        try:
            return json.dumps(json.loads(text), indent=2) if text else ""
        except ValueError:
            return text

    async def value(self, origin: Scope, principal: Principal, secret_id: str) -> tuple[str, bool]:
        """The AWSCURRENT value (GetSecretValue) and whether it is binary (then base64)."""
        answer = await self._json(origin, principal, "GetSecretValue", {"SecretId": secret_id})
        if "SecretBinary" in answer:
            return str(answer["SecretBinary"]), True
        return str(answer.get("SecretString", "")), False

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        value: str,
        description: str,
        kms_key_id: str,
        tags: Sequence[tuple[str, str]],
    ) -> str:
        """CreateSecret; the secret's ARN. An empty description or key is not sent (the key
        then is the account's ``aws/secretsmanager``)."""
        payload: dict[str, Any] = {"Name": name, "SecretString": value}
        if description:
            payload["Description"] = description
        if kms_key_id:
            payload["KmsKeyId"] = kms_key_id
        if tags:
            payload["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
        answer = await self._json(origin, principal, "CreateSecret", payload)
        return str(answer.get("ARN", ""))

    async def put_value(
        self, origin: Scope, principal: Principal, secret_id: str, value: str
    ) -> str:
        """PutSecretValue: a new AWSCURRENT version; its id."""
        payload = {"SecretId": secret_id, "SecretString": value}
        answer = await self._json(origin, principal, "PutSecretValue", payload)
        return str(answer.get("VersionId", ""))

    async def update(
        self,
        origin: Scope,
        principal: Principal,
        secret_id: str,
        *,
        description: str,
        kms_key_id: str,
    ) -> None:
        """UpdateSecret of the description and, when one is chosen, the key (the next
        versions are sealed under it, as AWS does)."""
        payload: dict[str, Any] = {"SecretId": secret_id, "Description": description}
        if kms_key_id:
            payload["KmsKeyId"] = kms_key_id
        await self._json(origin, principal, "UpdateSecret", payload)

    async def delete(self, origin: Scope, principal: Principal, secret_id: str, days: int) -> str:
        """DeleteSecret with a recovery window of ``days``; the deletion date."""
        payload = {"SecretId": secret_id, "RecoveryWindowInDays": days}
        answer = await self._json(origin, principal, "DeleteSecret", payload)
        return _when(answer.get("DeletionDate"))

    async def restore(self, origin: Scope, principal: Principal, secret_id: str) -> None:
        await self._json(origin, principal, "RestoreSecret", {"SecretId": secret_id})

    async def rotate(
        self,
        origin: Scope,
        principal: Principal,
        secret_id: str,
        *,
        function_arn: str,
        rules: Mapping[str, Any],
        immediately: bool,
    ) -> None:
        """RotateSecret (decision 0303): the function and rules given (none sent when empty:
        the secret's own kept, as a "Rotate now" asks), started now or at the next window."""
        payload: dict[str, Any] = {"SecretId": secret_id, "RotateImmediately": immediately}
        if function_arn:
            payload["RotationLambdaARN"] = function_arn
        if rules:
            payload["RotationRules"] = dict(rules)
        await self._json(origin, principal, "RotateSecret", payload)

    async def cancel_rotation(self, origin: Scope, principal: Principal, secret_id: str) -> None:
        """CancelRotateSecret: automatic rotation off, the function and rules kept (AWS's)."""
        await self._json(origin, principal, "CancelRotateSecret", {"SecretId": secret_id})
