"""Where Route 53's hosted zones are kept (decision 0280): the ``ZoneStore`` interface (its
in-memory twin in ``memory``, SQL in ``store_sql``). A zone is written whole, its record sets
with it, by compare-and-set on its ``version``: a change batch lands all or nothing, and of
two batches at once one wins and the other is read again. Changes (GetChange) are kept by
id with their submission time."""

from __future__ import annotations

from typing import Protocol

from andromede.route53.model import HostedZone

__all__ = ["ZoneStore"]


class ZoneStore(Protocol):
    async def create(self, zone: HostedZone) -> None:
        """Add a new zone (its id new)."""

    async def get(self, tenant_id: str, zone_id: str) -> HostedZone | None: ...

    async def by_id(self, zone_id: str) -> HostedZone | None:
        """Any account's zone (decision 0346: the owner of a VPC authorised to be associated
        with another account's zone names that zone)."""

    async def by_reference(self, tenant_id: str, caller_reference: str) -> HostedZone | None: ...

    async def zones(self, tenant_id: str) -> list[HostedZone]:
        """The account's zones, in no particular order."""

    async def with_vpc(self, vpc_id: str) -> list[HostedZone]:
        """The private zones associated with a VPC, any account's."""

    async def public_zones(self) -> list[HostedZone]:
        """Every account's public zones (decision 0289: the public name servers answer them),
        in no particular order."""

    async def replace(self, zone: HostedZone) -> None:
        """Write ``zone`` over the stored one whose version is ``zone.version - 1``;
        ``ZoneChanged`` if another write came first."""

    async def delete(self, tenant_id: str, zone_id: str, version: int) -> None:
        """Remove the zone if still at ``version``; ``ZoneChanged`` otherwise."""

    async def add_change(self, tenant_id: str, change_id: str, submitted: int) -> None: ...

    async def change(self, tenant_id: str, change_id: str) -> int | None:
        """When the change was submitted (ms), None if unknown."""

    async def claim_billing(self, month: int) -> list[tuple[str, str]]:
        """(tenant, zone id) of the zones not yet billed for ``month`` (YYYYMM), now marked
        billed for it: of two gateways claiming at once, each zone goes to one."""

    async def forget_tenant(self, tenant_id: str) -> int: ...
