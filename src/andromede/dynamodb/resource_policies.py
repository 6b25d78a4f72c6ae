"""DynamoDB resource policies (decision 0266): the policy a table or its stream carries, its
revision, and the conditional writes PutResourcePolicy and DeleteResourcePolicy make.

A policy is kept per resource ARN (the table's, or one of its streams'), with the creation time
of the table it was written for: a table deleted and made again under its name never inherits
its predecessor's policy, whatever became of the old row (DeleteTable removes them besides).
A stream's ARN carries its own label, so a new table's stream is another resource anyway.

The policy text is the IAM grammar, checked by the API layer (the DynamoDB context may not
import IAM); this module only stores it and keeps its revisions. A revision id is a string of
digits, the milliseconds of its write (above the previous one's), as AWS's look; writing the
same text again keeps the revision, as AWS's PutResourcePolicy is idempotent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.dynamodb.errors import DynamoError, TableInUse

__all__ = [
    "NO_POLICY",
    "DynamoResourcePolicies",
    "PolicyNotFound",
    "ResourcePolicy",
    "ResourcePolicyStore",
]

NO_POLICY: Final = "NO_POLICY"  # ExpectedRevisionId: write only where there is none
_ATTEMPTS: Final = 3


class PolicyNotFound(DynamoError):
    """No policy on the resource, or not the revision the caller expected."""


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    tenant_id: str
    resource_arn: str
    table_name: str
    table_created: int  # ms: the incarnation of the table the policy was written for
    text: str
    revision_id: str


class ResourcePolicyStore(Protocol):
    async def get_policy(self, tenant_id: str, resource_arn: str) -> ResourcePolicy | None: ...

    async def replace_policy(self, policy: ResourcePolicy, expected: str | None) -> bool:
        """Write ``policy`` if the resource's stored revision is ``expected`` (None: it has
        none); False otherwise."""
        ...

    async def delete_policy(self, tenant_id: str, resource_arn: str, expected: str) -> bool: ...

    async def drop_table_policies(self, tenant_id: str, table_arn: str) -> int:
        """The policies of the table ``table_arn`` and of its streams removed: by ARN, so a
        global table's replica of the same name in another region keeps its own (0265)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DynamoResourcePolicies:
    """The policies of an account's tables and streams, each write conditional on the
    revision read, retried a few times when another write came first."""

    def __init__(self, store: ResourcePolicyStore, max_size: int = 20_480) -> None:
        self.store = store
        self.max_size = max_size  # bytes of a policy's text, checked by the API layer

    async def policy(
        self, tenant_id: str, resource_arn: str, table_created: int
    ) -> ResourcePolicy | None:
        """The resource's policy, if it was written for this incarnation of its table."""
        held = await self.store.get_policy(tenant_id, resource_arn)
        if held is None or held.table_created != table_created:
            return None
        return held

    async def put(
        self,
        tenant_id: str,
        resource_arn: str,
        table_name: str,
        table_created: int,
        text: str,
        expected: str | None = None,
    ) -> str:
        """The revision of ``text`` as the resource's policy. ``expected`` (a revision, or
        :data:`NO_POLICY`) that does not hold is :class:`PolicyNotFound`."""
        for _ in range(_ATTEMPTS):
            stored = await self.store.get_policy(tenant_id, resource_arn)
            current = (
                stored if stored is not None and stored.table_created == table_created else None
            )
            _check_expected(current, expected, resource_arn)
            if current is not None and current.text == text:
                return current.revision_id
            previous = 0 if stored is None else int(stored.revision_id)
            revision = str(max(_now_ms(), previous + 1))
            written = ResourcePolicy(
                tenant_id, resource_arn, table_name, table_created, text, revision
            )
            if await self.store.replace_policy(
                written, None if stored is None else stored.revision_id
            ):
                return revision
        raise TableInUse(f"Attempt to change a resource which is still in use: {resource_arn}")

    async def delete(
        self, tenant_id: str, resource_arn: str, table_created: int, expected: str | None = None
    ) -> str | None:
        """The revision removed; None when the resource had no policy (and none was expected)."""
        for _ in range(_ATTEMPTS):
            stored = await self.store.get_policy(tenant_id, resource_arn)
            current = (
                stored if stored is not None and stored.table_created == table_created else None
            )
            if expected is not None:
                _check_expected(current, expected, resource_arn)
            if stored is None:
                return None
            if await self.store.delete_policy(tenant_id, resource_arn, stored.revision_id):
                return None if current is None else current.revision_id
        raise TableInUse(f"Attempt to change a resource which is still in use: {resource_arn}")

    async def drop_table(self, tenant_id: str, table_arn: str) -> int:
        """A deleted table's policies and its streams' removed."""
        return await self.store.drop_table_policies(tenant_id, table_arn)


def _check_expected(current: ResourcePolicy | None, expected: str | None, arn: str) -> None:
    if expected is None:
        return
    if expected == NO_POLICY:
        if current is not None:
            raise PolicyNotFound(
                f"Resource-based policy already exists for the provided ResourceArn: {arn}; "
                "ExpectedRevisionId NO_POLICY does not match"
            )
        return
    if current is None:
        raise PolicyNotFound(f"Resource-based policy not found for the provided ResourceArn: {arn}")
    if current.revision_id != expected:
        raise PolicyNotFound(
            f"Resource-based policy not found for the provided ResourceArn: Requested update "
            f"for policy with revision id {expected[:255]}, but the policy associated to "
            f"target table {arn} has revision id {current.revision_id}."
        )
