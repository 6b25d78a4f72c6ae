"""DHCP options sets in the compute service (decision 0143): CreateDhcpOptions,
DescribeDhcpOptions, DeleteDhcpOptions, AssociateDhcpOptions, each account's default set, and
the push of a VPC's new options to the hosts of its instances.

An association and a deletion must not cross: associating changes the VPC with the set
(:meth:`ComputeStore.change` ``replace=``, which moves the set's revision on), and a deletion
deletes the set at the revision it counted the VPCs at, so a VPC associated at once either
lands first (the deletion retries and sees it: DependencyViolation) or finds the set gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.dhcp_options import (
    ACCOUNT_DEFAULT,
    NO_OPTIONS,
    DhcpOptions,
    check_configurations,
    default_dhcp_options,
    default_dhcp_options_id,
    shown_options_id,
)
from andromede.compute.errors import (
    Duplicate,
    IncorrectState,
    NetworkLimitExceeded,
    ResourceInUse,
)
from andromede.compute.model import Tags, check_id, check_tags, new_id
from andromede.compute.network import Vpc, region_domain
from andromede.compute.vpcs import VpcsMixin, chosen

__all__ = ["NONE", "DhcpOptionsMixin"]

# What AssociateDhcpOptions takes, and DescribeVpcs answers, for "no DHCP options".
NONE = "default"
_ATTEMPTS = 8


class DhcpOptionsMixin(VpcsMixin):
    async def default_dhcp_options(self, tenant_id: str) -> DhcpOptions:
        """The account's default set, stored on first need (two gateways storing it at
        once store one: its id is derived from the tenant's)."""
        options_id = default_dhcp_options_id(tenant_id)
        stored = await self.store.get(DhcpOptions, options_id)
        if stored is not None:
            return stored
        made = default_dhcp_options(tenant_id, region_domain(self.limits.region))
        try:
            await self.store.insert(made)
        except Duplicate:
            again = await self.store.get(DhcpOptions, options_id)
            if again is None:  # pragma: no cover - deleted between the two reads
                raise IncorrectState(f"{options_id} changed concurrently; retry") from None
            return again
        return made

    async def create_dhcp_options(
        self, tenant_id: str, configurations: Sequence[tuple[str, Sequence[str]]], tags: Tags = ()
    ) -> DhcpOptions:
        checked = check_configurations(configurations)
        check_tags(tags)
        await self.default_dhcp_options(tenant_id)
        async with self._placement:
            held = await self.store.list(DhcpOptions, tenant_id)
            if len(held) >= self.limits.max_dhcp_options:
                raise NetworkLimitExceeded(
                    "dopt", "The maximum number of DHCP options sets has been reached."
                )
            options = DhcpOptions(new_id("dopt"), tenant_id, checked, tags=tags)
            await self.store.insert(options)
        return options

    async def describe_dhcp_options(self, tenant_id: str, ids: Sequence[str]) -> list[DhcpOptions]:
        await self.default_dhcp_options(tenant_id)
        found = await self.store.list(DhcpOptions, tenant_id)
        return chosen(found, ids, lambda o: o.dhcp_options_id, "dopt")

    async def delete_dhcp_options(self, tenant_id: str, options_id: str) -> None:
        for _ in range(_ATTEMPTS):
            options = await self._owned(DhcpOptions, tenant_id, options_id, "dopt")
            vpcs = await self.store.list(Vpc, tenant_id)
            if any(shown_options_id(v.dhcp_options_id, tenant_id) == options_id for v in vpcs):
                raise ResourceInUse(
                    "dopt",
                    f"The dhcpOptions '{options_id}' has dependencies and cannot be deleted.",
                )
            if await self.store.change(options, delete=[(DhcpOptions, options_id)]):
                return
        raise IncorrectState(f"{options_id} changed concurrently; retry")

    async def associate_dhcp_options(self, tenant_id: str, options_id: str, vpc_id: str) -> None:
        """Associate the VPC with the set, or with none (``default``); its hosts are told the
        new options, which their guests see at their next lease renewal."""
        for _ in range(_ATTEMPTS):
            vpc = await self.owned_vpc(tenant_id, vpc_id)
            if options_id == NONE:
                changed = replace(vpc, dhcp_options_id=NO_OPTIONS)
                done = await self.store.replace(changed)
            else:
                check_id(options_id, "dopt")
                if options_id == default_dhcp_options_id(tenant_id):
                    options = await self.default_dhcp_options(tenant_id)
                    kept = ACCOUNT_DEFAULT
                else:
                    options = await self._owned(DhcpOptions, tenant_id, options_id, "dopt")
                    kept = options_id
                changed = replace(vpc, dhcp_options_id=kept)
                done = await self.store.change(changed, replace=[options])
            if done:
                if await self.vpc_dns(changed) != await self.vpc_dns(vpc):
                    await self._push_vpc_dns(changed)
                return
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")
