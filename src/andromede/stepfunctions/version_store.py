"""Where state machine versions and aliases are kept (decision 0283): the
:class:`VersionStore` interface and its in-memory twin; over the metadata database in
``stepfunctions.version_store_sql`` (a version's definition sealed under its account's key
ring), one contract suite for both.

A version an alias routes to is not deleted (``ConflictException``, AWS's rule), checked in
the deletion's own transaction; the bounds (versions and aliases a machine) are counted
before the insert, a quota not a guarantee (as the machines' own bound)."""

from __future__ import annotations

from typing import Protocol

from andromede.stepfunctions.errors import ConflictException, ServiceQuotaExceededException
from andromede.stepfunctions.versions import MachineAlias, MachineVersion

__all__ = [
    "MemoryVersionStore",
    "VersionStore",
    "aliases_quota",
    "routed_conflict",
    "versions_quota",
]

_Machine = tuple[str, str, str]


def routed_conflict(version_arn: str, alias_arn: str) -> ConflictException:
    return ConflictException(
        f"Version {version_arn} can't be deleted because it's referenced by the alias "
        f"{alias_arn}. Remove the version from the alias's routing configuration first."
    )


def versions_quota(max_versions: int) -> ServiceQuotaExceededException:
    return ServiceQuotaExceededException(
        f"Service quota exceeded: a state machine may have at most {max_versions} versions. "
        "Delete unused versions with DeleteStateMachineVersion."
    )


def aliases_quota(max_aliases: int) -> ServiceQuotaExceededException:
    return ServiceQuotaExceededException(
        f"Service quota exceeded: a state machine may have at most {max_aliases} aliases."
    )


class VersionStore(Protocol):
    async def add_version(self, version: MachineVersion, max_versions: int) -> None:
        """Insert ``version``; ServiceQuotaExceededException at ``max_versions`` a machine,
        ConflictException when its number is taken."""
        ...

    async def version(
        self, tenant_id: str, region: str, machine: str, number: int
    ) -> MachineVersion | None: ...

    async def count_versions(self, tenant_id: str, region: str, machine: str) -> int: ...

    async def versions(
        self, tenant_id: str, region: str, machine: str, below: int | None, limit: int
    ) -> list[MachineVersion]:
        """Up to ``limit`` of the machine's versions, the newest first, numbered below
        ``below``."""
        ...

    async def delete_version(self, tenant_id: str, region: str, machine: str, number: int) -> bool:
        """False when there was none; ConflictException while an alias routes to it."""
        ...

    async def add_alias(self, alias: MachineAlias, max_aliases: int) -> MachineAlias | None:
        """Insert ``alias``; the machine's alias of that name when there is one (nothing
        written); ServiceQuotaExceededException at ``max_aliases`` a machine."""
        ...

    async def alias(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> MachineAlias | None: ...

    async def aliases(
        self, tenant_id: str, region: str, machine: str, after: str | None, limit: int
    ) -> list[MachineAlias]:
        """Up to ``limit`` of the machine's aliases by name, after ``after``."""
        ...

    async def replace_alias(self, alias: MachineAlias) -> bool:
        """Write ``alias`` if its row's revision is ``alias.revision - 1``."""
        ...

    async def delete_alias(self, tenant_id: str, region: str, machine: str, name: str) -> bool: ...

    async def forget_machine(self, tenant_id: str, region: str, machine: str) -> None:
        """The machine's versions and aliases deleted (the machine was)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's versions and aliases deleted, in every Region; how many versions."""
        ...


class MemoryVersionStore:
    """The in-memory twin (tests, and the contract suite's reference)."""

    def __init__(self) -> None:
        self._versions: dict[_Machine, dict[int, MachineVersion]] = {}
        self._aliases: dict[_Machine, dict[str, MachineAlias]] = {}

    async def add_version(self, version: MachineVersion, max_versions: int) -> None:
        held = self._versions.setdefault(
            (version.tenant_id, version.region, version.machine_name), {}
        )
        if len(held) >= max_versions:
            raise versions_quota(max_versions)
        if version.number in held:
            raise ConflictException(f"Version {version.arn} exists already: try again.")
        held[version.number] = version

    async def version(
        self, tenant_id: str, region: str, machine: str, number: int
    ) -> MachineVersion | None:
        return self._versions.get((tenant_id, region, machine), {}).get(number)

    async def count_versions(self, tenant_id: str, region: str, machine: str) -> int:
        return len(self._versions.get((tenant_id, region, machine), {}))

    async def versions(
        self, tenant_id: str, region: str, machine: str, below: int | None, limit: int
    ) -> list[MachineVersion]:
        held = self._versions.get((tenant_id, region, machine), {})
        numbers = sorted((n for n in held if below is None or n < below), reverse=True)
        return [held[n] for n in numbers[:limit]]

    async def delete_version(self, tenant_id: str, region: str, machine: str, number: int) -> bool:
        key = (tenant_id, region, machine)
        held = self._versions.get(key, {})
        if number not in held:
            return False
        for alias in self._aliases.get(key, {}).values():
            if any(n == number for n, _ in alias.routing):
                raise routed_conflict(held[number].arn, alias.arn)
        del held[number]
        return True

    async def add_alias(self, alias: MachineAlias, max_aliases: int) -> MachineAlias | None:
        held = self._aliases.setdefault((alias.tenant_id, alias.region, alias.machine_name), {})
        if alias.name in held:
            return held[alias.name]
        if len(held) >= max_aliases:
            raise aliases_quota(max_aliases)
        held[alias.name] = alias
        return None

    async def alias(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> MachineAlias | None:
        return self._aliases.get((tenant_id, region, machine), {}).get(name)

    async def aliases(
        self, tenant_id: str, region: str, machine: str, after: str | None, limit: int
    ) -> list[MachineAlias]:
        held = self._aliases.get((tenant_id, region, machine), {})
        names = sorted(n for n in held if after is None or n > after)
        return [held[n] for n in names[:limit]]

    async def replace_alias(self, alias: MachineAlias) -> bool:
        held = self._aliases.get((alias.tenant_id, alias.region, alias.machine_name), {})
        found = held.get(alias.name)
        if found is None or found.revision != alias.revision - 1:
            return False
        held[alias.name] = alias
        return True

    async def delete_alias(self, tenant_id: str, region: str, machine: str, name: str) -> bool:
        return self._aliases.get((tenant_id, region, machine), {}).pop(name, None) is not None

    async def forget_machine(self, tenant_id: str, region: str, machine: str) -> None:
        self._versions.pop((tenant_id, region, machine), None)
        self._aliases.pop((tenant_id, region, machine), None)

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = 0
        for key in [k for k in self._versions if k[0] == tenant_id]:
            gone += len(self._versions.pop(key))
        for key in [k for k in self._aliases if k[0] == tenant_id]:
            del self._aliases[key]
        return gone
