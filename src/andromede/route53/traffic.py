"""Route 53's traffic policies and their instances as kept (decision 0330): a policy's
versions (one row each, the policy's name and type the first version's), an instance (its
zone, name, TTL, the policy version it was made from and its state), the
:class:`TrafficStore` interface and its in-memory twin (SQL in ``traffic_store_sql``).

An instance's record sets are the zone's own (``RecordSet.traffic_policy_instance_id``),
written with the zone: the instance row says which policy made them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from andromede.route53.errors import Route53Error

__all__ = [
    "MemoryTrafficStore",
    "TrafficPolicy",
    "TrafficPolicyInstance",
    "TrafficStore",
    "VersionTaken",
]


class VersionTaken(Route53Error):
    """Another gateway wrote the same policy version first: read the versions again."""


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    tenant_id: str
    policy_id: str
    version: int
    name: str
    type: str  # the document's RecordType
    document: str  # as the caller gave it
    comment: str
    created: int  # ms


@dataclass(frozen=True, slots=True)
class TrafficPolicyInstance:
    tenant_id: str
    instance_id: str
    zone_id: str
    name: str  # normalised: lower case, final dot
    ttl: int
    policy_id: str
    policy_version: int
    policy_type: str
    state: str  # Applied (made at once here), or Failed with ``message``
    message: str
    created: int  # ms


class TrafficStore(Protocol):
    async def add_version(self, policy: TrafficPolicy) -> None:
        """Add a version; ``VersionTaken`` if that version of the policy exists."""

    async def versions(self, tenant_id: str, policy_id: str) -> list[TrafficPolicy]:
        """The policy's versions, oldest first (none: no such policy)."""

    async def policies(self, tenant_id: str) -> list[TrafficPolicy]:
        """Every version of the account's policies, by id then version."""

    async def set_comment(
        self, tenant_id: str, policy_id: str, version: int, comment: str
    ) -> bool: ...

    async def delete_version(self, tenant_id: str, policy_id: str, version: int) -> bool: ...

    async def put_instance(self, instance: TrafficPolicyInstance) -> None:
        """Add or replace the instance (by id)."""

    async def instance(self, tenant_id: str, instance_id: str) -> TrafficPolicyInstance | None: ...

    async def instances(self, tenant_id: str) -> list[TrafficPolicyInstance]:
        """The account's instances, in no particular order."""

    async def delete_instance(self, tenant_id: str, instance_id: str) -> bool: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryTrafficStore:
    def __init__(self) -> None:
        self._policies: dict[tuple[str, str, int], TrafficPolicy] = {}
        self._instances: dict[str, TrafficPolicyInstance] = {}

    async def add_version(self, policy: TrafficPolicy) -> None:
        key = (policy.tenant_id, policy.policy_id, policy.version)
        if key in self._policies:
            raise VersionTaken(policy.policy_id)
        self._policies[key] = policy

    async def versions(self, tenant_id: str, policy_id: str) -> list[TrafficPolicy]:
        return sorted(
            (p for p in self._policies.values()
             if p.tenant_id == tenant_id and p.policy_id == policy_id),
            key=lambda p: p.version,
        )  # fmt: skip

    async def policies(self, tenant_id: str) -> list[TrafficPolicy]:
        return sorted(
            (p for p in self._policies.values() if p.tenant_id == tenant_id),
            key=lambda p: (p.policy_id, p.version),
        )

    async def set_comment(self, tenant_id: str, policy_id: str, version: int, comment: str) -> bool:
        found = self._policies.get((tenant_id, policy_id, version))
        if found is None:
            return False
        self._policies[(tenant_id, policy_id, version)] = TrafficPolicy(
            found.tenant_id, found.policy_id, found.version, found.name, found.type,
            found.document, comment, found.created,
        )  # fmt: skip
        return True

    async def delete_version(self, tenant_id: str, policy_id: str, version: int) -> bool:
        return self._policies.pop((tenant_id, policy_id, version), None) is not None

    async def put_instance(self, instance: TrafficPolicyInstance) -> None:
        self._instances[instance.instance_id] = instance

    async def instance(self, tenant_id: str, instance_id: str) -> TrafficPolicyInstance | None:
        found = self._instances.get(instance_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def instances(self, tenant_id: str) -> list[TrafficPolicyInstance]:
        return [i for i in self._instances.values() if i.tenant_id == tenant_id]

    async def delete_instance(self, tenant_id: str, instance_id: str) -> bool:
        if await self.instance(tenant_id, instance_id) is None:
            return False
        del self._instances[instance_id]
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        policies = [k for k in self._policies if k[0] == tenant_id]
        instances = [k for k, i in self._instances.items() if i.tenant_id == tenant_id]
        for key in policies:
            del self._policies[key]
        for instance_id in instances:
            del self._instances[instance_id]
        return len(policies) + len(instances)
