"""Route 53's reusable delegation sets (decision 0346): a named, stable choice of the
platform's name servers that several public zones of one account are delegated to, so that a
customer points a registrar (or white-label names) at one set for all its domains.

The name servers are the operator's (``route53_name_servers``); a set is four of them (all of
them when fewer are configured), chosen from the set's id so that sets spread over the
servers, and kept with the set: a set's servers never change, as on AWS, whatever the settings
become later. CreateReusableDelegationSet with a ``HostedZoneId`` makes the zone's own name
servers a set, the zone then using it. A set is deleted only when no zone uses it
(``DelegationSetInUse``); ``route53_max_delegation_sets`` an account
(``LimitsExceeded``), ``route53_max_zones_by_delegation_set`` zones a set
(``TooManyHostedZones`` at CreateHostedZone). The sets are kept by a
:class:`DelegationSetStore` (memory here, SQL in ``delegation_set_store_sql``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.route53.errors import (
    ConflictingDomainExists,
    DelegationSetAlreadyCreated,
    DelegationSetAlreadyReusable,
    DelegationSetInUse,
    DelegationSetNotAvailable,
    HostedZoneNotFound,
    InvalidArgument,
    LimitsExceeded,
    NoSuchDelegationSet,
    TooManyHostedZones,
)
from andromede.route53.model import HostedZone, within
from andromede.route53.service import Route53Service, new_id

__all__ = [
    "SET_SIZE",
    "DelegationSet",
    "DelegationSetLimits",
    "DelegationSetService",
    "DelegationSetStore",
    "MemoryDelegationSetStore",
    "already_created",
    "choose_servers",
]

SET_SIZE: Final = 4  # AWS's sets are four name servers


@dataclass(frozen=True, slots=True)
class DelegationSet:
    set_id: str
    tenant_id: str
    caller_reference: str
    name_servers: tuple[str, ...]  # without the final dot, as the API gives them
    created: int  # ms


@dataclass(frozen=True, slots=True)
class DelegationSetLimits:
    max_sets: int = 100  # AWS: 100 an account
    max_zones: int = 100  # AWS: 100 zones a set


def choose_servers(configured: Sequence[str], set_id: str) -> tuple[str, ...]:
    """Four of the configured name servers (all of them when there are no more than four),
    consecutive in the configured order from a place the set's id gives: stable for one id,
    spread over the servers across sets."""
    servers = tuple(s.rstrip(".") for s in configured)
    if len(servers) <= SET_SIZE:
        return servers
    start = int.from_bytes(hashlib.sha256(set_id.encode()).digest()[:8], "big") % len(servers)
    return tuple(servers[(start + i) % len(servers)] for i in range(SET_SIZE))


class DelegationSetStore(Protocol):
    async def create(self, delegation_set: DelegationSet) -> None:
        """Add it; ``DelegationSetAlreadyCreated`` when the account used its caller
        reference already."""

    async def get(self, tenant_id: str, set_id: str) -> DelegationSet | None: ...

    async def sets(self, tenant_id: str) -> list[DelegationSet]:
        """The account's, by id."""

    async def delete(self, tenant_id: str, set_id: str) -> bool: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


def already_created() -> DelegationSetAlreadyCreated:
    return DelegationSetAlreadyCreated(
        "A delegation set with the same owner and caller reference combination has already "
        "been created."
    )


class MemoryDelegationSetStore:
    def __init__(self) -> None:
        self._sets: dict[str, DelegationSet] = {}

    async def create(self, delegation_set: DelegationSet) -> None:
        if any(
            s.tenant_id == delegation_set.tenant_id
            and s.caller_reference == delegation_set.caller_reference
            for s in self._sets.values()
        ):
            raise already_created()
        self._sets[delegation_set.set_id] = delegation_set

    async def get(self, tenant_id: str, set_id: str) -> DelegationSet | None:
        found = self._sets.get(set_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def sets(self, tenant_id: str) -> list[DelegationSet]:
        return sorted(
            (s for s in self._sets.values() if s.tenant_id == tenant_id), key=lambda s: s.set_id
        )

    async def delete(self, tenant_id: str, set_id: str) -> bool:
        if await self.get(tenant_id, set_id) is None:
            return False
        del self._sets[set_id]
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, s in self._sets.items() if s.tenant_id == tenant_id]
        for key in gone:
            del self._sets[key]
        return len(gone)


class DelegationSetService:
    def __init__(
        self,
        zones: Route53Service,
        store: DelegationSetStore,
        name_servers: Sequence[str],
        limits: DelegationSetLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zones = zones
        self.store = store
        self.limits = limits
        self._name_servers = tuple(name_servers)
        self._clock = clock
        # CreateHostedZone's DelegationSetId is resolved here (the zones know no sets).
        zones.delegation_servers = self.servers_for_zone

    async def create(
        self, tenant_id: str, caller_reference: str, zone_id: str | None
    ) -> DelegationSet:
        """A new set of the platform's servers, or of the zone's own name servers (the zone
        then using it)."""
        if not caller_reference or len(caller_reference) > 128:
            raise InvalidArgument("Parameter name is not valid: CallerReference")
        if any(s.caller_reference == caller_reference for s in await self.store.sets(tenant_id)):
            raise already_created()
        if len(await self.store.sets(tenant_id)) >= self.limits.max_sets:
            raise LimitsExceeded(
                "Limits Exceeded: MAX_REUSABLE_DELEGATION_SETS_BY_OWNER - Cannot create more "
                f"than {self.limits.max_sets} reusable delegation sets."
            )
        set_id = new_id("N")
        zone = None
        if zone_id is not None:
            zone = await self.zones.store.get(tenant_id, zone_id)
            if zone is None:
                raise HostedZoneNotFound(
                    f"The specified hosted zone {zone_id[:64]} can't be found."
                )
            if zone.private:
                raise InvalidArgument(
                    "Parameter name is not valid: HostedZoneId (a private hosted zone has no "
                    "delegation set)"
                )
            if zone.delegation_set_id is not None:
                raise DelegationSetAlreadyReusable(
                    f"The delegation set of hosted zone {zone_id[:64]} is already reusable: "
                    f"{zone.delegation_set_id}."
                )
            servers = self._servers_of(zone)
        else:
            servers = choose_servers(self._name_servers, set_id)
        if not servers:
            raise DelegationSetNotAvailable("No name servers are available for a delegation set.")
        made = DelegationSet(set_id, tenant_id, caller_reference, servers, self._now())
        await self.store.create(made)
        if zone is not None:
            try:
                await self.zones.use_delegation_set(tenant_id, zone.zone_id, set_id)
            except Exception:
                await self.store.delete(tenant_id, set_id)  # all or nothing
                raise
        return made

    def _servers_of(self, zone: HostedZone) -> tuple[str, ...]:
        """The zone's name servers that are the platform's, as its delegation shows them
        (the configured ones when its NS set was rewritten to name none of them)."""
        configured = {s.rstrip(".") for s in self._name_servers}
        apex = next((r.values for r in zone.records if r.name == zone.name and r.type == "NS"), ())
        mine = tuple(s.rstrip(".") for s in apex if s.rstrip(".") in configured)
        return mine or tuple(s.rstrip(".") for s in self._name_servers)

    async def get(self, tenant_id: str, set_id: str) -> DelegationSet:
        found = await self.store.get(tenant_id, set_id)
        if found is None:
            raise NoSuchDelegationSet(f"A reusable delegation set with ID {set_id[:64]} "
                                      "does not exist.")  # fmt: skip
        return found

    async def servers_for_zone(
        self, tenant_id: str, set_id: str, zone_name: str | None
    ) -> tuple[str, ...]:
        """The set's name servers for a new zone ``zone_name`` on it: the set of the account
        (``NoSuchDelegationSet``), holding fewer than ``max_zones`` zones
        (``TooManyHostedZones``), none of them of that name or its parent or child
        (``ConflictingDomainExists``: on one set's servers the parent could not delegate to
        the child, as AWS refuses zones sharing name servers so)."""
        found = await self.get(tenant_id, set_id)
        if zone_name is None:
            return found.name_servers
        zones = await self.zones.store.zones(tenant_id)
        using = [z for z in zones if z.delegation_set_id == set_id]
        if len(using) >= self.limits.max_zones:
            raise TooManyHostedZones(
                "Limits Exceeded: MAX_ZONES_BY_REUSABLE_DELEGATION_SET - Cannot create more "
                f"than {self.limits.max_zones} hosted zones on the reusable delegation set."
            )
        for zone in using:
            if within(zone.name, zone_name) or within(zone_name, zone.name):
                raise ConflictingDomainExists(
                    f"Cannot create hosted zone with DelegationSetId {set_id} as the DNSName "
                    f"{zone_name} conflicts with existing hosted zone {zone.zone_id} "
                    f"({zone.name}) on the same delegation set."
                )
        return found.name_servers

    async def zone_count(self, tenant_id: str, set_id: str) -> int:
        await self.get(tenant_id, set_id)
        return sum(1 for z in await self.zones.store.zones(tenant_id)
                   if z.delegation_set_id == set_id)  # fmt: skip

    async def delete(self, tenant_id: str, set_id: str) -> None:
        if await self.zone_count(tenant_id, set_id):
            raise DelegationSetInUse(
                "The specified delegation contains associated hosted zones which must be "
                "deleted before the reusable delegation set can be deleted."
            )
        if not await self.store.delete(tenant_id, set_id):
            raise NoSuchDelegationSet(f"A reusable delegation set with ID {set_id[:64]} "
                                      "does not exist.")  # fmt: skip

    async def list(
        self, tenant_id: str, marker: str | None, max_items: int
    ) -> tuple[list[DelegationSet], str | None]:
        sets = [s for s in await self.store.sets(tenant_id) if not marker or s.set_id >= marker]
        more = sets[max_items] if len(sets) > max_items else None
        return sets[:max_items], None if more is None else more.set_id

    def _now(self) -> int:
        return int(self._clock() * 1000)
