"""The in-memory parameter store: the SQL store's twin for tests and the contract suite."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from andromede.ssm.errors import (
    Conflict,
    ParameterAlreadyExists,
    ResourceNotFound,
    ResourcePolicyConflict,
    ResourcePolicyNotFound,
)
from andromede.ssm.model import Parameter, ParameterVersion, Tier
from andromede.ssm.sharing import ResourcePolicy

__all__ = ["MemoryParameterStore"]

_Key = tuple[str, str, str]


class MemoryParameterStore:
    def __init__(self) -> None:
        self._parameters: dict[_Key, Parameter] = {}
        self._versions: dict[_Key, dict[int, ParameterVersion]] = {}
        self._policies: dict[_Key, dict[str, ResourcePolicy]] = {}

    async def get(self, tenant_id: str, region: str, name: str) -> Parameter | None:
        return self._fresh(self._parameters.get((tenant_id, region, name)))

    def _fresh(self, parameter: Parameter | None) -> Parameter | None:
        """The parameter with its newest version's labels as they stand."""
        if parameter is None:
            return None
        key = (parameter.tenant_id, parameter.region, parameter.name)
        latest = self._versions[key][parameter.latest.version]
        return dataclasses.replace(parameter, latest=latest)

    async def versions(self, tenant_id: str, region: str, name: str) -> list[ParameterVersion]:
        held = self._versions.get((tenant_id, region, name), {})
        return [held[v] for v in sorted(held)]

    async def list_all(self, tenant_id: str, region: str, prefix: str = "") -> list[Parameter]:
        found = [
            self._fresh(p)
            for (t, r, n), p in self._parameters.items()
            if t == tenant_id and r == region and n.startswith(prefix)
        ]
        return sorted((p for p in found if p is not None), key=lambda p: p.name.encode())

    async def count(self, tenant_id: str, region: str, tier: Tier) -> int:
        return sum(
            1
            for (t, r, _), p in self._parameters.items()
            if t == tenant_id and r == region and p.latest.tier == tier
        )

    async def write(
        self,
        parameter: Parameter,
        expected_revision: int | None,
        *,
        add_latest: bool = True,
        labels: Mapping[int, tuple[str, ...]] | None = None,
        drop: Sequence[int] = (),
    ) -> Parameter:
        key = (parameter.tenant_id, parameter.region, parameter.name)
        held = self._parameters.get(key)
        if expected_revision is None:
            if held is not None:
                raise ParameterAlreadyExists(parameter.name)
            revision = 1
        else:
            if held is None or held.revision != expected_revision:
                raise Conflict(f"{parameter.arn} changed meanwhile")
            revision = expected_revision + 1
        versions = dict(self._versions.get(key, {}))
        if add_latest:
            if parameter.latest.version in versions:
                raise Conflict(f"{parameter.arn} changed meanwhile")
            versions[parameter.latest.version] = parameter.latest
        for number, held_labels in (labels or {}).items():
            if number in versions:
                versions[number] = dataclasses.replace(versions[number], labels=held_labels)
        for number in drop:
            versions.pop(number, None)
        written = dataclasses.replace(
            parameter, latest=versions[parameter.latest.version], revision=revision
        )
        self._versions[key] = versions
        self._parameters[key] = written
        return written

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str, str]]:
        due = sorted(
            (p.next_action, key)
            for key, p in self._parameters.items()
            if p.next_action is not None and p.next_action <= now
        )
        return [key for _, key in due[:limit]]

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        key = (tenant_id, region, name)
        self._versions.pop(key, None)
        self._policies.pop(key, None)
        return self._parameters.pop(key, None) is not None

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._parameters if k[0] == tenant_id]
        for key in gone:
            self._parameters.pop(key)
            self._versions.pop(key, None)
        for key in [k for k in self._policies if k[0] == tenant_id]:
            self._policies.pop(key)
        return len(gone)

    async def held(self, tier: Tier) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for (t, r, _), p in self._parameters.items():
            if p.latest.tier == tier:
                counts[(t, r)] = counts.get((t, r), 0) + 1
        return counts

    async def policies(self, tenant_id: str, region: str, name: str) -> list[ResourcePolicy]:
        held = self._policies.get((tenant_id, region, name), {})
        return sorted(held.values(), key=lambda p: (p.created, p.policy_id))

    async def put_policy(self, policy: ResourcePolicy, expected_hash: str | None) -> None:
        key = (policy.tenant_id, policy.region, policy.name)
        if key not in self._parameters:
            raise ResourceNotFound(policy.name)
        held = self._policies.setdefault(key, {})
        if expected_hash is not None:
            self._check(held, policy.policy_id, expected_hash)
        elif policy.policy_id in held:
            raise ResourcePolicyConflict(policy.policy_id)
        held[policy.policy_id] = policy

    async def delete_policy(
        self, tenant_id: str, region: str, name: str, policy_id: str, expected_hash: str
    ) -> None:
        held = self._policies.get((tenant_id, region, name), {})
        self._check(held, policy_id, expected_hash)
        del held[policy_id]

    @staticmethod
    def _check(held: dict[str, ResourcePolicy], policy_id: str, expected_hash: str) -> None:
        found = held.get(policy_id)
        if found is None:
            raise ResourcePolicyNotFound(policy_id)
        if found.policy_hash != expected_hash:
            raise ResourcePolicyConflict(policy_id)

    async def shared_with(self, account: str, region: str) -> list[Parameter]:
        keys = sorted(
            key
            for key, held in self._policies.items()
            if key[0] != account
            and key[1] == region
            and any(account in p.accounts for p in held.values())
        )
        found = [self._fresh(self._parameters.get(key)) for key in keys]
        return [p for p in found if p is not None]
