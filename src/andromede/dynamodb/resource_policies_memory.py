"""The in-memory twin of :class:`~andromede.dynamodb.resource_policies.ResourcePolicyStore`
(decision 0266), for the tests and the in-process apps."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from andromede.dynamodb.resource_policies import ResourcePolicy

__all__ = ["MemoryResourcePolicyStore"]


class MemoryResourcePolicyStore:
    def __init__(self) -> None:
        self._policies: dict[tuple[str, str], ResourcePolicy] = {}

    async def get_policy(self, tenant_id: str, resource_arn: str) -> ResourcePolicy | None:
        return self._policies.get((tenant_id, resource_arn))

    async def replace_policy(self, policy: ResourcePolicy, expected: str | None) -> bool:
        key = (policy.tenant_id, policy.resource_arn)
        held = self._policies.get(key)
        if (None if held is None else held.revision_id) != expected:
            return False
        self._policies[key] = dataclasses.replace(policy)
        return True

    async def delete_policy(self, tenant_id: str, resource_arn: str, expected: str) -> bool:
        held = self._policies.get((tenant_id, resource_arn))
        if held is None or held.revision_id != expected:
            return False
        del self._policies[(tenant_id, resource_arn)]
        return True

    async def drop_table_policies(self, tenant_id: str, table_arn: str) -> int:
        return self._drop(
            lambda p: (
                p.tenant_id == tenant_id
                and (p.resource_arn == table_arn or p.resource_arn.startswith(f"{table_arn}/"))
            )
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        return self._drop(lambda p: p.tenant_id == tenant_id)

    def _drop(self, chosen: Callable[[ResourcePolicy], bool]) -> int:
        keys = [k for k, p in self._policies.items() if chosen(p)]
        for key in keys:
            del self._policies[key]
        return len(keys)
