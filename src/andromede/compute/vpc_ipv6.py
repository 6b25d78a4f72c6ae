"""IPv6 blocks and addresses after creation (decision 0217): Associate/DisassociateVpcCidrBlock
and Associate/DisassociateSubnetCidrBlock for IPv6, Assign/UnassignIpv6Addresses, and the
addresses a launch gives its instances' primary interfaces.

A VPC's block is written with the record holding it (:class:`Ipv6Block`) in one change of the
VPC, and a subnet's in one change of the VPC too (as CreateSubnet: two subnets of one VPC
never take one /64). An interface's addresses are written with their records
(:class:`Ipv6Address`) in one change of the interface, or of the subnet at launch, so the
database keeps one holder of each whichever gateway writes it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from andromede.compute.errors import (
    Duplicate,
    IncorrectState,
    InsufficientCapacity,
    InvalidParameterValue,
    NotFound,
    OperationNotPermitted,
    ParameterCombination,
    ResourceInUse,
)
from andromede.compute.ipv6 import (
    Ipv6Address,
    Ipv6Association,
    Ipv6Block,
    ipv6_address,
    new_addresses,
    subnet_ipv6_cidr,
)
from andromede.compute.model import Instance, Volume, check_id, new_id
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.network_acl import DEFAULT_IPV6_ENTRIES
from andromede.compute.network_interfaces import InterfaceRequest, NetworkInterfacesMixin
from andromede.compute.security_group_model import ALLOW_ALL_IPV6_EGRESS
from andromede.compute.spot import SpotInstanceRequest

__all__ = ["Ipv6Mixin"]

log = logging.getLogger(__name__)

_ATTEMPTS = 8


class Ipv6Mixin(NetworkInterfacesMixin):
    # -- VPC blocks ------------------------------------------------------------------------

    async def associate_vpc_ipv6(
        self, tenant_id: str, vpc_id: str, border_group: str | None
    ) -> Ipv6Association:
        """A /56 of the operator's pool for the tenant's VPC. EC2 gives a VPC at most one
        Amazon-provided block per network border group, this region being the only one."""
        for _ in range(_ATTEMPTS):
            vpc = await self.acl_made(await self.owned_vpc(tenant_id, vpc_id))
            if vpc.ipv6_blocks:
                raise InvalidParameterValue(
                    f"The VPC {vpc_id} already has an Amazon-provided IPv6 CIDR block "
                    "associated with it."
                )
            association, block = await self.pool_block(tenant_id, vpc_id, border_group)
            changed = replace(vpc, ipv6_blocks=(*vpc.ipv6_blocks, association))
            # EC2 lets the VPC's default group send IPv6 from then on.
            group = await self.default_group_of(tenant_id, vpc_id)
            opened = (
                []
                if any(r.protocol == "-1" and r.cidr == "::/0" for r in group.egress)
                else [replace(group, egress=(*group.egress, ALLOW_ALL_IPV6_EGRESS))]
            )
            # And its default network ACL lets IPv6 through as EC2's does (rule 101).
            acl = await self.default_acl_of(vpc)
            if not any(e.ipv6 for e in acl.entries):
                acl = replace(acl, entries=(*acl.entries, *DEFAULT_IPV6_ENTRIES))
                opened_acl = [acl]
            else:
                opened_acl = []
            try:
                if await self.store.change(changed, insert=[block], replace=[*opened, *opened_acl]):
                    self._push_later(tenant_id, [g.group_id for g in opened])
                    if opened_acl:
                        self._push_network_acls_later(
                            tenant_id, [a.subnet_id for a in acl.associations]
                        )
                    return association
            except Duplicate:
                continue  # the /56 was given to another VPC at once: another one
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def disassociate_vpc_cidr(
        self, tenant_id: str, association_id: str
    ) -> tuple[Vpc, Ipv6Association | None]:
        """Let go of a VPC's IPv6 block (back to the pool) by its association id; the VPC's
        primary IPv4 block is EC2's ``vpc-cidr-assoc-`` + its id's suffix, and cannot go.
        DependencyViolation while a subnet holds a /64 of it. The association's value: None
        for the primary IPv4 block (refused)."""
        check_id(association_id, "vpc-cidr-assoc")
        for _ in range(_ATTEMPTS):
            vpc, association = await self._vpc_association(tenant_id, association_id)
            if association is None:
                raise OperationNotPermitted(
                    f"The CIDR block association {association_id} is the VPC's primary CIDR "
                    "block and cannot be disassociated."
                )
            subnets = [
                s for s in await self.store.list(Subnet, tenant_id) if s.vpc_id == vpc.vpc_id
            ]
            if any(s.ipv6_blocks for s in subnets):
                raise ResourceInUse(
                    "vpc",
                    f"The IPv6 CIDR block {association.cidr} of {vpc.vpc_id} has subnets "
                    "using it and cannot be disassociated.",
                )
            changed = replace(
                vpc, ipv6_blocks=tuple(b for b in vpc.ipv6_blocks if b != association)
            )
            if await self.store.change(changed, delete=[(Ipv6Block, association.cidr)]):
                return changed, association
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    async def _vpc_association(
        self, tenant_id: str, association_id: str
    ) -> tuple[Vpc, Ipv6Association | None]:
        await self.default_network_if_any(tenant_id)
        for vpc in await self.store.list(Vpc, tenant_id):
            if association_id == "vpc-cidr-assoc-" + vpc.vpc_id[4:]:
                return vpc, None
            for association in vpc.ipv6_blocks:
                if association.association_id == association_id:
                    return vpc, association
        raise NotFound("vpc-cidr-assoc", association_id)

    # -- subnet blocks ---------------------------------------------------------------------

    async def associate_subnet_ipv6(
        self, tenant_id: str, subnet_id: str, cidr: str
    ) -> Ipv6Association:
        """A /64 of its VPC's IPv6 blocks for the tenant's subnet (EC2: one per subnet),
        serialised on the VPC's revision as CreateSubnet."""
        for _ in range(_ATTEMPTS):
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            if subnet.ipv6_blocks:
                raise InvalidParameterValue(
                    f"The subnet {subnet_id} already has an IPv6 CIDR block associated with it."
                )
            vpc = await self.owned_vpc(tenant_id, subnet.vpc_id)
            siblings = [
                s
                for s in await self.store.list(Subnet, tenant_id)
                if s.vpc_id == vpc.vpc_id and s.subnet_id != subnet_id
            ]
            block = subnet_ipv6_cidr(
                cidr, [b.cidr for b in vpc.ipv6_blocks], [c for s in siblings for c in s.ipv6_cidrs]
            )
            association = Ipv6Association(new_id("subnet-cidr-assoc"), block)
            changed = replace(subnet, ipv6_blocks=(association,))
            if await self.store.change(vpc, replace=[changed]):
                self._push_later(tenant_id, (), vpc_ids=(vpc.vpc_id,))
                # Its ACL's IPv6 entries judge its IPv6 from now on.
                self._push_network_acls_later(tenant_id, [subnet_id])
                return association
        raise IncorrectState(f"{subnet_id} changed concurrently; retry")

    async def disassociate_subnet_ipv6(
        self, tenant_id: str, association_id: str
    ) -> tuple[Subnet, Ipv6Association]:
        """Let go of a subnet's /64: DependencyViolation while an interface holds one of its
        addresses. AssignIpv6AddressOnCreation goes off with it."""
        check_id(association_id, "subnet-cidr-assoc")
        for _ in range(_ATTEMPTS):
            found = [
                (s, a)
                for s in await self.store.list(Subnet, tenant_id)
                for a in s.ipv6_blocks
                if a.association_id == association_id
            ]
            if not found:
                raise NotFound("subnet-cidr-assoc", association_id)
            subnet, association = found[0]
            interfaces = await self.store.list(NetworkInterface, tenant_id)
            if any(i.subnet_id == subnet.subnet_id and i.ipv6_addresses for i in interfaces):
                raise ResourceInUse(
                    "subnet",
                    f"The IPv6 CIDR block {association.cidr} of {subnet.subnet_id} has "
                    "addresses in use and cannot be disassociated.",
                )
            changed = replace(subnet, ipv6_blocks=(), assign_ipv6_address_on_creation=False)
            if await self.store.replace(changed):
                self._push_later(tenant_id, (), vpc_ids=(subnet.vpc_id,))
                self._push_network_acls_later(tenant_id, [subnet.subnet_id])
                return changed, association
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    # -- interface addresses ---------------------------------------------------------------

    async def assign_ipv6_addresses(
        self, tenant_id: str, interface_id: str, addresses: Sequence[str], count: int | None
    ) -> tuple[NetworkInterface, list[str]]:
        """Give the interface the addresses named, or ``count`` drawn from its subnet's /64;
        the interface and the addresses given."""
        if addresses and count is not None:
            raise ParameterCombination(
                "IPv6 addresses and IPv6 address count may not be specified on the same request"
            )
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            subnet = await self._owned(Subnet, tenant_id, interface.subnet_id, "subnet")
            wanted = self._wanted_ipv6(subnet, addresses, count or 0)
            held = set(interface.ipv6_addresses)
            named = [a for a in wanted.named if a not in held]
            self._check_ipv6_count(len(held) + len(named) + wanted.count)
            taken = await self._taken_ipv6(subnet)
            if any(a in taken for a in named):
                raise ResourceInUse("private-ip", "A requested IPv6 address is in use.")
            drawn = new_addresses(subnet.ipv6_cidrs[0], taken, wanted.count) if wanted.count else []
            given = [*named, *drawn]
            changed = replace(interface, ipv6_addresses=(*interface.ipv6_addresses, *given))
            try:
                if await self.store.change(changed, insert=_records(changed, given)):
                    changed = replace(changed, revision=changed.revision + 1)
                    await self._push_addresses(changed)
                    await self._push_members(changed)
                    return changed, given
            except Duplicate:
                if named:
                    raise ResourceInUse(
                        "private-ip", "A requested IPv6 address is in use."
                    ) from None
        raise IncorrectState(f"{interface_id} changed concurrently; retry")

    async def unassign_ipv6_addresses(
        self, tenant_id: str, interface_id: str, addresses: Sequence[str]
    ) -> tuple[NetworkInterface, list[str]]:
        """Take the addresses named from the interface (each must be its own)."""
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            gone = [_canonical(a) for a in dict.fromkeys(addresses)]
            if not set(gone) <= set(interface.ipv6_addresses):
                raise InvalidParameterValue(
                    f"Some of the specified addresses are not assigned to interface {interface_id}"
                )
            changed = replace(
                interface,
                ipv6_addresses=tuple(a for a in interface.ipv6_addresses if a not in gone),
            )
            if await self.store.change(changed, delete=[(Ipv6Address, a) for a in gone]):
                await self._push_addresses(replace(changed, revision=changed.revision + 1))
                await self._push_members(changed)
                return changed, gone
        raise IncorrectState(f"{interface_id} changed concurrently; retry")

    async def _new_ipv6(self, subnet: Subnet, request: InterfaceRequest) -> tuple[str, ...]:
        """CreateNetworkInterface's ``Ipv6Addresses`` or ``Ipv6AddressCount``, checked, and
        the counted ones drawn (the caller writes their records with the interface)."""
        if request.ipv6_addresses and request.ipv6_count:
            raise ParameterCombination(
                "IPv6 addresses and IPv6 address count may not be specified on the same request"
            )
        wanted = self._wanted_ipv6(subnet, request.ipv6_addresses, request.ipv6_count)
        if not wanted.named and not wanted.count:
            return ()
        self._check_ipv6_count(len(wanted.named) + wanted.count)
        taken = await self._taken_ipv6(subnet)
        if any(a in taken for a in wanted.named):
            raise ResourceInUse("private-ip", "A requested IPv6 address is in use.")
        drawn = new_addresses(subnet.ipv6_cidrs[0], taken, wanted.count) if wanted.count else []
        return (*wanted.named, *drawn)

    # -- launches --------------------------------------------------------------------------

    async def insert_with_addresses(
        self,
        subnet: Subnet,
        instances: list[Instance],
        volumes: list[Volume],
        further: Sequence[Volume | SpotInstanceRequest],
        ipv6_count: int | None = None,
        ipv6_named: Sequence[str] = (),
    ) -> list[Instance]:
        """Insert the reservation's records with an interface each, in one transaction that
        moves the subnet's revision on (so a DeleteSubnet counting its interfaces meanwhile
        fails, and retries: vpcs.py); when another gateway took one of the addresses (or
        MACs), or changed the subnet, first: again on fresh ones. NotFound when the subnet
        was deleted meanwhile. Each interface gets the IPv6 addresses asked (RunInstances'
        ``Ipv6AddressCount`` or ``Ipv6Addresses``), or one when the subnet's
        AssignIpv6AddressOnCreation is on and none were asked."""
        if ipv6_named and ipv6_count is not None:
            raise ParameterCombination(
                "IPv6 addresses and IPv6 address count may not be specified on the same request"
            )
        if ipv6_named and len(instances) > 1:
            raise ParameterCombination("IPv6 addresses may be specified for a single instance only")
        if ipv6_count is None and not ipv6_named:
            ipv6_count = 1 if subnet.assign_ipv6_address_on_creation else 0
        wanted = self._wanted_ipv6(subnet, ipv6_named, ipv6_count or 0)
        self._check_ipv6_count(len(wanted.named) + wanted.count)
        for _ in range(_ATTEMPTS):
            interfaces = await self._new_interfaces(subnet, [i.instance_id for i in instances])
            taken = await self._taken_ipv6(subnet) if wanted.named or wanted.count else set()
            if any(a in taken for a in wanted.named):
                raise ResourceInUse("private-ip", "A requested IPv6 address is in use.")
            addressed = []
            for nic in interfaces:
                drawn = (
                    new_addresses(subnet.ipv6_cidrs[0], taken, wanted.count) if wanted.count else []
                )
                taken |= set(drawn)
                addressed.append(replace(nic, ipv6_addresses=(*wanted.named, *drawn)))
            placed = [
                replace(
                    instance,
                    network_interface_id=nic.interface_id,
                    private_ip=nic.private_ip,
                    mac=nic.mac,
                )
                for instance, nic in zip(instances, addressed, strict=True)
            ]
            records = [r for nic in addressed for r in _records(nic, nic.ipv6_addresses)]
            try:
                if await self.store.change(
                    subnet, insert=[*volumes, *further, *addressed, *records, *placed]
                ):
                    return placed
            except Duplicate as exc:
                if exc.kind != "address" and ":" not in exc.value:  # an IPv6 address's id
                    raise
                if wanted.named:
                    raise ResourceInUse(
                        "private-ip", "A requested IPv6 address is in use."
                    ) from None
            log.info("subnet %s: an address was taken concurrently; retrying", subnet.cidr)
            current = await self.store.get(Subnet, subnet.subnet_id)
            if current is None:
                raise NotFound("subnet", subnet.subnet_id)
            subnet = current
        raise InsufficientCapacity(
            f"Could not reserve private addresses in subnet '{subnet.subnet_id}'; try again"
        )

    # -- helpers ---------------------------------------------------------------------------

    async def _push_members(self, interface: NetworkInterface) -> None:
        """The firewalls whose rules name the interface's groups (its instance's, for a
        primary): its IPv6 addresses are members of them."""
        groups = set(interface.group_ids)
        if interface.instance_id and interface.device_index == 0:
            instance = await self.store.get(Instance, interface.instance_id)
            if instance is not None:
                groups |= set(instance.security_group_ids)
        self._push_later(interface.tenant_id, groups)

    def _wanted_ipv6(self, subnet: Subnet, named: Sequence[str], count: int) -> _Wanted:
        if count < 0:
            raise InvalidParameterValue("Ipv6AddressCount must not be negative")
        if (named or count) and not subnet.ipv6_blocks:
            raise InvalidParameterValue(
                f"The subnet '{subnet.subnet_id}' has no IPv6 CIDR block: IPv6 addresses "
                "cannot be assigned in it."
            )
        canonical = [ipv6_address(a, subnet.ipv6_cidrs) for a in named]
        if len(set(canonical)) != len(canonical):
            raise InvalidParameterValue("The same IPv6 address is given twice")
        return _Wanted(tuple(canonical), count)

    def _check_ipv6_count(self, total: int) -> None:
        most = self.limits.max_ipv6_addresses_per_interface
        if total > most:
            raise InvalidParameterValue(
                f"Number of IPv6 addresses will exceed the limit of {most} for the interface"
            )

    async def _taken_ipv6(self, subnet: Subnet) -> set[str]:
        """The subnet's IPv6 addresses held (the /64 is the tenant's alone)."""
        return {
            a.address
            for a in await self.store.list(Ipv6Address, subnet.tenant_id)
            if a.subnet_id == subnet.subnet_id
        }


@dataclass(frozen=True, slots=True)
class _Wanted:
    """IPv6 addresses asked of an interface: named ones (canonical) and a count to draw."""

    named: tuple[str, ...]
    count: int


def _records(interface: NetworkInterface, addresses: Sequence[str]) -> list[Ipv6Address]:
    return [
        Ipv6Address(a, interface.tenant_id, interface.subnet_id, interface.interface_id)
        for a in addresses
    ]


def _canonical(address: str) -> str:
    """``address`` as stored (compressed lower case); a malformed one as given (not held)."""
    try:
        return str(ipaddress.IPv6Address(address))
    except ValueError:
        return address
