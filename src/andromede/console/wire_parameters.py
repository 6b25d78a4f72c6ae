"""The Systems Manager Parameter Store calls (decision 0229) the console's parameter pages
make, in process as the signed-in principal through Parameter Store's JSON protocol
(``ssmapi.app``): its authorisation (``ssm:<Action>`` on the parameter's ARN; a SecureString's
KMS key's own, ``kms:Decrypt`` as the caller, when its value is asked decrypted), checks,
audit, metering and errors answer them. Each answer is read into the small rows the pages
show; nothing here decides what Parameter Store allows.

A SecureString's value is read decrypted only by :meth:`ParametersWire.value`, for the page
that asked for it, and kept nowhere else: no row (the history's rows carry no value of a
SecureString), no log line, no exception message carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "SECURE",
    "NewParameter",
    "ParameterPage",
    "ParameterRow",
    "ParametersWire",
    "ResourcePolicy",
]

SECURE: Final = "SecureString"
_RESOURCE: Final = "Parameter"  # the tag calls' ResourceType
_VERSIONS_KEPT: Final = 100  # AWS keeps a parameter's last 100 versions
_POLICIES_READ: Final = 100  # GetResourcePolicies' pages read for one page (beyond any limit)


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """A parameter's version as DescribeParameters or GetParameterHistory tells it; ``value``
    is a String's or StringList's value in the history, never a SecureString's ("")."""

    name: str
    type: str
    version: int
    tier: str
    key_id: str
    description: str
    modified: str
    modified_user: str
    data_type: str
    labels: tuple[str, ...] = ()
    value: str = ""
    arn: str = ""  # DescribeParameters' ARN (a shared parameter is read by it)

    @property
    def secure(self) -> bool:
        return self.type == SECURE


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """A parameter's resource policy as GetResourcePolicies gives it: its id, the hash of the
    version read (an update or deletion names both), its text."""

    policy_id: str
    policy_hash: str
    policy: str


@dataclass(frozen=True, slots=True)
class ParameterPage:
    parameters: list[ParameterRow]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class NewParameter:
    """What the console's form writes (PutParameter); empty choices are not sent."""

    name: str
    value: str
    type: str
    description: str
    tier: str
    kms_key_id: str
    overwrite: bool


def _row(item: dict[str, Any], *, with_value: bool = False) -> ParameterRow:
    version = item.get("Version")
    labels = item.get("Labels")
    kind = str(item.get("Type", ""))
    return ParameterRow(
        name=str(item.get("Name", "")),
        type=kind,
        version=version if isinstance(version, int) else 0,
        tier=str(item.get("Tier", "")),
        key_id=str(item.get("KeyId") or ""),
        description=str(item.get("Description") or ""),
        modified=_when(item.get("LastModifiedDate")),
        modified_user=str(item.get("LastModifiedUser") or ""),
        data_type=str(item.get("DataType") or ""),
        labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
        value=str(item.get("Value", "")) if with_value and kind != SECURE else "",
        arn=str(item.get("ARN") or ""),
    )


class ParametersWire(JsonWire):
    """The parameter calls the console makes (``AmazonSSM`` JSON 1.1), as ``principal``."""

    target_prefix = "AmazonSSM."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalServerError"

    async def describe(
        self,
        origin: Scope,
        principal: Principal,
        *,
        path: str,
        recursive: bool,
        page_size: int,
        next_token: str | None,
        shared: bool = False,
    ) -> ParameterPage:
        """One page of DescribeParameters, under ``path`` (its Path filter, recursive or one
        level) when one is given; other accounts' parameters shared with the caller when
        ``shared``."""
        payload: dict[str, Any] = {"MaxResults": page_size}
        if shared:
            payload["Shared"] = True
        if path:
            option = "Recursive" if recursive else "OneLevel"
            payload["ParameterFilters"] = [{"Key": "Path", "Option": option, "Values": [path]}]
        if next_token:
            payload["NextToken"] = next_token
        answer = await self._json(origin, principal, "DescribeParameters", payload)
        listed = answer.get("Parameters")
        rows = [
            _row(p) for p in (listed if isinstance(listed, list) else []) if isinstance(p, dict)
        ]
        token = answer.get("NextToken")
        return ParameterPage(rows, str(token) if token else None)

    async def history(self, origin: Scope, principal: Principal, name: str) -> list[ParameterRow]:
        """GetParameterHistory's versions, oldest first, in pages of 50 (AWS's bound) up to
        the 100 a parameter keeps; a SecureString's values never asked decrypted nor kept."""
        rows: list[ParameterRow] = []
        token: str | None = None
        while len(rows) < _VERSIONS_KEPT:
            payload: dict[str, Any] = {"Name": name, "MaxResults": 50, "WithDecryption": False}
            if token:
                payload["NextToken"] = token
            answer = await self._json(origin, principal, "GetParameterHistory", payload)
            listed = answer.get("Parameters")
            rows += [
                _row(p, with_value=True)
                for p in (listed if isinstance(listed, list) else [])
                if isinstance(p, dict)
            ]
            token = str(answer.get("NextToken") or "") or None
            if token is None:
                break
        return rows

    async def latest(self, origin: Scope, principal: Principal, name: str) -> ParameterRow:
        """GetParameter without decryption: the newest version (a String's value with it,
        never a SecureString's) — what a parameter shared without its history shows."""
        payload = {"Name": name, "WithDecryption": False}
        answer = await self._json(origin, principal, "GetParameter", payload)
        found = answer.get("Parameter")
        return _row(found if isinstance(found, dict) else {}, with_value=True)

    async def value(self, origin: Scope, principal: Principal, name: str) -> str:
        """GetParameter WithDecryption: the value, a SecureString's decrypted as the caller
        (so KMS decides whether the caller may)."""
        payload = {"Name": name, "WithDecryption": True}
        answer = await self._json(origin, principal, "GetParameter", payload)
        found = answer.get("Parameter")
        return str(found.get("Value", "")) if isinstance(found, dict) else ""

    async def put(
        self,
        origin: Scope,
        principal: Principal,
        parameter: NewParameter,
        tags: Sequence[tuple[str, str]] = (),
    ) -> int:
        """PutParameter; the version written. Tags go only with a new parameter (AWS refuses
        them with Overwrite)."""
        payload: dict[str, Any] = {
            "Name": parameter.name,
            "Value": parameter.value,
            "Type": parameter.type,
            "Overwrite": parameter.overwrite,
        }
        if parameter.description:
            payload["Description"] = parameter.description
        if parameter.tier:
            payload["Tier"] = parameter.tier
        if parameter.kms_key_id and parameter.type == SECURE:
            payload["KeyId"] = parameter.kms_key_id
        if tags:
            payload["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
        answer = await self._json(origin, principal, "PutParameter", payload)
        version = answer.get("Version")
        return version if isinstance(version, int) else 0

    async def label(
        self, origin: Scope, principal: Principal, name: str, version: int, labels: list[str]
    ) -> list[str]:
        """LabelParameterVersion; the labels Parameter Store refused (InvalidLabels)."""
        payload = {"Name": name, "ParameterVersion": version, "Labels": labels}
        answer = await self._json(origin, principal, "LabelParameterVersion", payload)
        refused = answer.get("InvalidLabels")
        return [str(x) for x in refused] if isinstance(refused, list) else []

    async def unlabel(
        self, origin: Scope, principal: Principal, name: str, version: int, label: str
    ) -> None:
        payload = {"Name": name, "ParameterVersion": version, "Labels": [label]}
        await self._json(origin, principal, "UnlabelParameterVersion", payload)

    async def tags(self, origin: Scope, principal: Principal, name: str) -> list[tuple[str, str]]:
        payload = {"ResourceType": _RESOURCE, "ResourceId": name}
        answer = await self._json(origin, principal, "ListTagsForResource", payload)
        listed = answer.get("TagList")
        return [
            (str(t.get("Key", "")), str(t.get("Value", "")))
            for t in (listed if isinstance(listed, list) else [])
            if isinstance(t, dict)
        ]

    async def tag(
        self, origin: Scope, principal: Principal, name: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {
            "ResourceType": _RESOURCE,
            "ResourceId": name,
            "Tags": [{"Key": k, "Value": v} for k, v in tags],
        }
        await self._json(origin, principal, "AddTagsToResource", payload)

    async def untag(self, origin: Scope, principal: Principal, name: str, key: str) -> None:
        payload = {"ResourceType": _RESOURCE, "ResourceId": name, "TagKeys": [key]}
        await self._json(origin, principal, "RemoveTagsFromResource", payload)

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteParameter", {"Name": name})

    async def resource_policies(
        self, origin: Scope, principal: Principal, arn: str
    ) -> list[ResourcePolicy]:
        """GetResourcePolicies of the parameter's ARN, every page (a parameter holds few)."""
        policies: list[ResourcePolicy] = []
        token: str | None = None
        while len(policies) < _POLICIES_READ:
            payload: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 50}
            if token:
                payload["NextToken"] = token
            answer = await self._json(origin, principal, "GetResourcePolicies", payload)
            listed = answer.get("Policies")
            policies += [
                ResourcePolicy(
                    str(p.get("PolicyId", "")), str(p.get("PolicyHash", "")),
                    str(p.get("Policy", "")),
                )
                for p in (listed if isinstance(listed, list) else [])
                if isinstance(p, dict)
            ]  # fmt: skip
            token = str(answer.get("NextToken") or "") or None
            if token is None:
                break
        return policies

    async def put_resource_policy(
        self, origin: Scope, principal: Principal, arn: str, policy: str, *,
        policy_id: str = "", policy_hash: str = "",
    ) -> None:  # fmt: skip
        """PutResourcePolicy: a new policy, or the update of ``policy_id`` at the hash the
        page read (a change made meanwhile is Parameter Store's
        ResourcePolicyConflictException, not an overwrite)."""
        payload = {"ResourceArn": arn, "Policy": policy}
        if policy_id:
            payload |= {"PolicyId": policy_id, "PolicyHash": policy_hash}
        await self._json(origin, principal, "PutResourcePolicy", payload)

    async def delete_resource_policy(
        self, origin: Scope, principal: Principal, arn: str, policy_id: str, policy_hash: str
    ) -> None:
        payload = {"ResourceArn": arn, "PolicyId": policy_id, "PolicyHash": policy_hash}
        await self._json(origin, principal, "DeleteResourcePolicy", payload)
