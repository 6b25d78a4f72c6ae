"""Route 53's zone store in memory (decision 0280): the twin of ``store_sql`` for tests and
the memory hypervisor's runs."""

from __future__ import annotations

from andromede.route53.errors import ZoneChanged
from andromede.route53.model import HostedZone

__all__ = ["MemoryZoneStore"]


class MemoryZoneStore:
    def __init__(self) -> None:
        self._zones: dict[tuple[str, str], HostedZone] = {}
        self._changes: dict[tuple[str, str], int] = {}
        self._billed: dict[tuple[str, str], int] = {}

    async def create(self, zone: HostedZone) -> None:
        key = (zone.tenant_id, zone.zone_id)
        if key in self._zones or any(
            z.tenant_id == zone.tenant_id and z.caller_reference == zone.caller_reference
            for z in self._zones.values()
        ):
            raise ZoneChanged(zone.zone_id)
        self._zones[key] = zone

    async def get(self, tenant_id: str, zone_id: str) -> HostedZone | None:
        return self._zones.get((tenant_id, zone_id))

    async def by_id(self, zone_id: str) -> HostedZone | None:
        return next((z for z in self._zones.values() if z.zone_id == zone_id), None)

    async def by_reference(self, tenant_id: str, caller_reference: str) -> HostedZone | None:
        return next(
            (
                z
                for z in self._zones.values()
                if z.tenant_id == tenant_id and z.caller_reference == caller_reference
            ),
            None,
        )

    async def zones(self, tenant_id: str) -> list[HostedZone]:
        return [z for z in self._zones.values() if z.tenant_id == tenant_id]

    async def with_vpc(self, vpc_id: str) -> list[HostedZone]:
        return [z for z in self._zones.values() if any(v == vpc_id for _, v in z.vpcs)]

    async def public_zones(self) -> list[HostedZone]:
        return [z for z in self._zones.values() if not z.private]

    async def replace(self, zone: HostedZone) -> None:
        key = (zone.tenant_id, zone.zone_id)
        stored = self._zones.get(key)
        if stored is None or stored.version != zone.version - 1:
            raise ZoneChanged(zone.zone_id)
        self._zones[key] = zone

    async def delete(self, tenant_id: str, zone_id: str, version: int) -> None:
        stored = self._zones.get((tenant_id, zone_id))
        if stored is None or stored.version != version:
            raise ZoneChanged(zone_id)
        del self._zones[(tenant_id, zone_id)]

    async def add_change(self, tenant_id: str, change_id: str, submitted: int) -> None:
        self._changes[(tenant_id, change_id)] = submitted

    async def change(self, tenant_id: str, change_id: str) -> int | None:
        return self._changes.get((tenant_id, change_id))

    async def claim_billing(self, month: int) -> list[tuple[str, str]]:
        claimed = sorted(k for k in self._zones if self._billed.get(k, 0) < month)
        for key in claimed:
            self._billed[key] = month
        return claimed

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._zones if k[0] == tenant_id]
        for key in gone:
            del self._zones[key]
        for key in [k for k in self._changes if k[0] == tenant_id]:
            del self._changes[key]
        return len(gone)
