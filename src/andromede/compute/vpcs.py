"""A tenant's own VPCs and subnets: CreateVpc (with the VPC's ``default`` security group, as
EC2 makes it), DeleteVpc, CreateSubnet, DeleteSubnet, and which VPC a security group belongs
to.

Writes that must not cross are serialised on the parent record's revision, across gateways:
a subnet is inserted, and a security group of a VPC made, by :meth:`ComputeStore.change` of
the VPC (its revision moves on), and a VPC is deleted by the same call conditional on the
revision its dependencies were counted at. So a subnet made while its VPC is deleted either
lands first (the deletion sees it: DependencyViolation) or finds the VPC gone; two subnets
made at once in one VPC never overlap. A launch inserts its interfaces by a change of its
subnet (``service._insert_with_addresses``), and DeleteSubnet deletes by one, likewise.

The default VPC and subnet are made on first need (``networks.default_network``). As on
EC2, the default subnet is deleted like any other, and the default VPC too once it holds
nothing (decision 0137): the tenant then has no default VPC — the tenant's
:class:`~andromede.compute.network.DefaultVpcState`, written by the same change as the
deletion, says so, and nothing makes one again — until CreateDefaultVpc makes a new one.
A default VPC that lost its default subnet gets a new one by CreateDefaultSubnet, which the
record then names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from andromede.compute.errors import (
    DefaultSubnetExists,
    DefaultVpcExists,
    DefaultVpcMissing,
    DifferentNetworks,
    Duplicate,
    IncorrectState,
    InsufficientCidrBlocks,
    InvalidParameterValue,
    NetworkLimitExceeded,
    NoFreeDefaultBlock,
    NotFound,
    ResourceInUse,
    Unsupported,
)
from andromede.compute.ipv6 import (
    Ipv6Association,
    Ipv6Block,
    free_pool_block,
    subnet_ipv6_cidr,
)
from andromede.compute.model import (
    Instance,
    InstanceState,
    SecurityGroup,
    Tags,
    check_id,
    check_tags,
    new_id,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import (
    DEFAULT_GROUP_NAME,
    DefaultVpcState,
    NetworkInterface,
    Subnet,
    Vpc,
    default_group,
    default_ids,
    free_default_block,
    subnet_cidr,
    subnet_vni,
    vpc_cidr,
)
from andromede.compute.network_acl import (
    NetworkAcl,
    NetworkAclAssociation,
    default_association_id,
    default_network_acl,
    default_network_acl_id,
)
from andromede.compute.networks import NetworksMixin
from andromede.compute.routing import InternetGateway, RouteTable, main_route_table
from andromede.compute.vpc_endpoint import VpcEndpoint
from andromede.compute.vpc_peering import VpcPeeringConnection, ended_with_vpc

__all__ = ["VpcsMixin", "chosen"]

_ATTEMPTS = 8


class VpcsMixin(NetworksMixin):
    async def create_vpc(
        self,
        tenant_id: str,
        cidr: str,
        tags: Tags = (),
        *,
        ipv6: bool = False,
        border_group: str | None = None,
    ) -> Vpc:
        """A new VPC and its ``default`` security group; with ``ipv6``, a /56 of the
        operator's pool too (decision 0217). The tenant's default VPC counts towards
        ``max_vpcs``, as on EC2."""
        check_tags(tags)
        block = vpc_cidr(cidr, self.limits.reserved_cidrs)
        await self.default_network_if_any(tenant_id)
        for _ in range(_ATTEMPTS):
            async with self._placement:
                held = await self.store.list(Vpc, tenant_id)
                if len(held) >= self.limits.max_vpcs:
                    raise NetworkLimitExceeded(
                        "vpc", "The maximum number of VPCs has been reached."
                    )
                vpc_id = new_id("vpc")
                pooled = [await self.pool_block(tenant_id, vpc_id, border_group)] if ipv6 else []
                vpc = Vpc(
                    vpc_id,
                    tenant_id,
                    block,
                    is_default=False,
                    tags=tags,
                    routing_made=True,
                    network_acl_made=True,
                    ipv6_blocks=tuple(association for association, _ in pooled),
                )
                # As on EC2: a main route table with the local route alone — no internet
                # gateway until one is attached and routed to (decision 0121) — and a default
                # network ACL letting everything through (decision 0128).
                try:
                    await self.store.insert(
                        vpc,
                        default_group(tenant_id, vpc.vpc_id, new_id("sg"), ipv6=ipv6),
                        main_route_table(vpc),
                        default_network_acl(vpc, ()),
                        *(taken for _, taken in pooled),
                    )
                except Duplicate:
                    if not pooled:
                        raise
                    continue  # its /56 was given to another VPC at once: another one
            return vpc
        raise IncorrectState("the IPv6 pool changed concurrently; retry")

    async def pool_block(
        self, tenant_id: str, vpc_id: str, border_group: str | None
    ) -> tuple[Ipv6Association, Ipv6Block]:
        """A free /56 of the operator's pool for ``vpc_id`` and the record holding it (the
        caller writes both); EC2's network border group is this region."""
        region = self.limits.region
        if border_group not in (None, region):
            raise InvalidParameterValue(
                f"Value ({border_group[:64]}) for parameter Ipv6CidrBlockNetworkBorderGroup is "
                f"invalid. The network border group must be {region}."
            )
        if not self.limits.ipv6_pool:
            raise Unsupported("This region has no IPv6 pool: AmazonProvidedIpv6CidrBlock")
        taken = {b.cidr for b in await self.store.list(Ipv6Block, None)}
        cidr = free_pool_block(self.limits.ipv6_pool, taken)
        if cidr is None:
            raise InsufficientCidrBlocks()
        return (
            Ipv6Association(new_id("vpc-cidr-assoc"), cidr, region),
            Ipv6Block(cidr, tenant_id, vpc_id),
        )

    async def create_default_vpc(self, tenant_id: str) -> Vpc:
        """A new default VPC for a tenant that deleted its own, with fresh ids and what EC2
        makes one with (``networks._default_vpc_records``); DefaultVpcAlreadyExists while it
        has one. It counts towards ``max_vpcs``. Serialised on the tenant's
        :class:`DefaultVpcState`: of two calls at once, one makes it."""
        for _ in range(_ATTEMPTS):
            network = await self.default_network_if_any(tenant_id)
            state = await self.store.get(DefaultVpcState, tenant_id)
            # Without a record the tenant has the derived default VPC (made just above); one
            # naming a VPC now was written by a call made at once.
            if network is not None or state is None or state.vpc_id is not None:
                raise DefaultVpcExists()
            vpc_id, subnet_id, group_id = new_id("vpc"), new_id("subnet"), new_id("sg")
            records = await self._default_vpc_records(
                tenant_id, vpc_id, subnet_id, group_id, new_id("igw")
            )
            made = replace(state, vpc_id=vpc_id, subnet_id=subnet_id, group_id=group_id)
            async with self._placement:
                if len(await self.store.list(Vpc, tenant_id)) >= self.limits.max_vpcs:
                    raise NetworkLimitExceeded(
                        "vpc", "The maximum number of VPCs has been reached."
                    )
                try:
                    if await self.store.change(made, insert=records):
                        return next(r for r in records if isinstance(r, Vpc))
                except Duplicate:
                    continue  # its VXLAN id was taken at once by another subnet: another one
        raise IncorrectState("the default VPC changed concurrently; retry")

    async def vpc_of_group(self, group: SecurityGroup) -> str:
        """The VPC a security group belongs to (records made before custom VPCs name none:
        theirs is the tenant's first default VPC, whose ids are derived from its own)."""
        if group.vpc_id is not None:
            return group.vpc_id
        return default_ids(group.tenant_id).vpc_id

    async def default_group_of(self, tenant_id: str, vpc_id: str) -> SecurityGroup:
        """The ``default`` security group of the tenant's VPC ``vpc_id``."""
        network = await self.default_network_if_any(tenant_id)
        if network is not None and vpc_id == network.vpc.vpc_id:
            return network.group
        for group in await self.store.list(SecurityGroup, tenant_id):
            if group.vpc_id == vpc_id and group.name == DEFAULT_GROUP_NAME:
                return group
        raise NotFound("groupname", DEFAULT_GROUP_NAME)

    async def owned_vpc(self, tenant_id: str, vpc_id: str) -> Vpc:
        await self.default_network_if_any(tenant_id)
        return await self._owned(Vpc, tenant_id, vpc_id, "vpc")

    async def acl_made(self, vpc: Vpc) -> Vpc:
        """``vpc`` with its default network ACL stored (decision 0128). A VPC made before had
        a derived one over all its subnets, letting everything through: it is stored now with
        the same ids, in one change serialised on the VPC's revision (a subnet made at once
        either lands first and is associated, or comes after and finds the ACL)."""
        for _ in range(_ATTEMPTS):
            if vpc.network_acl_made:
                return vpc
            insert: list[NetworkAcl] = []
            if await self.store.get(NetworkAcl, default_network_acl_id(vpc.vpc_id)) is None:
                subnets = await self.store.list(Subnet, vpc.tenant_id)
                insert.append(default_network_acl(vpc, subnets))
            made = replace(vpc, network_acl_made=True)
            try:
                if await self.store.change(made, insert=insert):
                    return replace(made, revision=vpc.revision + 1)
            except Duplicate:
                pass  # made at once by another call: read it
            fresh = await self.store.get(Vpc, vpc.vpc_id)
            if fresh is None:
                raise NotFound("vpc", vpc.vpc_id)
            vpc = fresh
        raise IncorrectState(f"{vpc.vpc_id} changed concurrently; retry")

    async def default_acl_of(self, vpc: Vpc) -> NetworkAcl:
        """The VPC's default network ACL (``vpc`` with its ACL made)."""
        acl = await self.store.get(NetworkAcl, default_network_acl_id(vpc.vpc_id))
        if acl is None:
            raise NotFound("acl", default_network_acl_id(vpc.vpc_id))
        return acl

    async def delete_vpc(self, tenant_id: str, vpc_id: str) -> None:
        """DependencyViolation while the VPC holds subnets, interfaces, instances, security
        groups other than its default one, route tables other than its main one or an
        internet gateway or network ACLs other than its default one; the default group, the
        main table and the default ACL go with it. The default VPC goes by the same rules
        (decision 0137), and the tenant's :class:`DefaultVpcState`, changed in the same
        write, says it has none since."""
        # Groups and instances recorded before custom VPCs name no VPC: theirs is the derived
        # default one.
        legacy_vpc_id = default_ids(tenant_id).vpc_id
        for _ in range(_ATTEMPTS):
            vpc = await self.acl_made(await self.routed(await self.owned_vpc(tenant_id, vpc_id)))
            groups = [
                g
                for g in await self.store.list(SecurityGroup, tenant_id)
                if (g.vpc_id or legacy_vpc_id) == vpc_id
            ]
            tables = [t for t in await self.store.list(RouteTable, tenant_id) if t.vpc_id == vpc_id]
            gateways = await self.store.list(InternetGateway, tenant_id)
            acls = [a for a in await self.store.list(NetworkAcl, tenant_id) if a.vpc_id == vpc_id]
            held = [
                *(s for s in await self.store.list(Subnet, tenant_id) if s.vpc_id == vpc_id),
                *(
                    i
                    for i in await self.store.list(NetworkInterface, tenant_id)
                    if i.vpc_id == vpc_id
                ),
                *(
                    i
                    for i in await self.store.list(Instance, tenant_id)
                    if (i.vpc_id or legacy_vpc_id) == vpc_id
                    and i.state is not InstanceState.TERMINATED
                ),
                *(g for g in groups if g.name != DEFAULT_GROUP_NAME),
                *(t for t in tables if not t.main),
                *(g for g in gateways if g.vpc_id == vpc_id),
                *(a for a in acls if not a.is_default),
                *(
                    n
                    for n in await self.store.list(NatGateway, tenant_id)
                    if n.vpc_id == vpc_id and n.live
                ),
                *(e for e in await self.store.list(VpcEndpoint, tenant_id) if e.vpc_id == vpc_id),
            ]
            # Its peering connections go with it, but a pending request to it from another
            # tenant, which its tenant must reject first (EC2; decision 0139).
            pending, ended = ended_with_vpc(
                await self.store.list(VpcPeeringConnection, None), vpc_id, self.clock()
            )
            if held or pending:
                raise ResourceInUse(
                    "vpc", f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
                )
            gone = [
                (Vpc, vpc_id),
                *((SecurityGroup, g.group_id) for g in groups),
                *((RouteTable, t.route_table_id) for t in tables),
                *((NetworkAcl, a.network_acl_id) for a in acls),
                # Its IPv6 blocks go back to the pool (decision 0217).
                *((Ipv6Block, b.cidr) for b in vpc.ipv6_blocks),
            ]
            insert: list[DefaultVpcState] = []
            replaced: list[DefaultVpcState] = []
            if vpc.is_default:
                state = await self.store.get(DefaultVpcState, tenant_id)
                if state is None:
                    insert.append(DefaultVpcState(tenant_id, None))
                else:
                    replaced.append(replace(state, vpc_id=None, subnet_id=None, group_id=None))
            try:
                if await self.store.change(
                    vpc, delete=gone, insert=insert, replace=[*replaced, *ended]
                ):
                    for peering in ended:  # their routes on the other side are blackholes
                        if peering.requester_vpc_id == vpc_id:
                            other = (peering.accepter_tenant_id, peering.accepter_vpc_id)
                        else:
                            other = (peering.tenant_id, peering.requester_vpc_id)
                        self._push_later(other[0], (), vpc_ids=(other[1],))
                        # and its resolver no longer answers this VPC's names (0139 addendum)
                        self._spawn(self._push_vpc_dns_of(other[1]))
                    return
            except Duplicate:
                continue  # the tenant's record written at once (its default VPC made): again
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def create_subnet(
        self,
        tenant_id: str,
        vpc_id: str,
        cidr: str,
        availability_zone: str | None = None,
        tags: Tags = (),
        ipv6_cidr: str | None = None,
    ) -> Subnet:
        """A subnet of the tenant's VPC, its block inside the VPC's and overlapping none of
        its siblings', in this region's zone; it gets a VXLAN id like the default one, and is
        associated with its VPC's default network ACL in the same write. ``ipv6_cidr``: a
        /64 of the VPC's IPv6 blocks too (decision 0217)."""
        check_tags(tags)
        zone = self._subnet_zone(availability_zone)
        for _ in range(_ATTEMPTS):
            vpc = await self.acl_made(await self.owned_vpc(tenant_id, vpc_id))
            siblings = [s for s in await self.store.list(Subnet, tenant_id) if s.vpc_id == vpc_id]
            block = subnet_cidr(cidr, vpc.cidr, [s.cidr for s in siblings])
            ipv6_blocks = (
                (
                    Ipv6Association(
                        new_id("subnet-cidr-assoc"),
                        subnet_ipv6_cidr(
                            ipv6_cidr,
                            [b.cidr for b in vpc.ipv6_blocks],
                            [c for s in siblings for c in s.ipv6_cidrs],
                        ),
                    ),
                )
                if ipv6_cidr is not None
                else ()
            )
            if len(siblings) >= self.limits.max_subnets_per_vpc:
                raise NetworkLimitExceeded(
                    "subnet", "The maximum number of subnets has been reached for this VPC."
                )
            subnet_id = new_id("subnet")
            taken = {s.vni for s in await self.store.list(Subnet, None)}
            subnet = Subnet(
                subnet_id,
                tenant_id,
                vpc_id,
                block,
                zone,
                default_for_az=False,
                vni=subnet_vni(subnet_id, taken),
                tags=tags,
                ipv6_blocks=ipv6_blocks,
            )
            associated = await self._default_acl_with(vpc, subnet_id)
            try:
                if await self.store.change(vpc, insert=[subnet], replace=[associated]):
                    return subnet
            except Duplicate:
                continue  # its VXLAN id was taken at once by another subnet: another one
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def create_default_subnet(self, tenant_id: str, availability_zone: str | None) -> Subnet:
        """A default subnet in the zone of the tenant's default VPC, once it lost its own
        (DeleteSubnet), as EC2's CreateDefaultSubnet: the lowest free ``/20`` of the VPC, made
        like the default VPC's first (``networks._default_subnet``), associated with its
        default network ACL, routed by its main table (no association of its own). The
        tenant's :class:`DefaultVpcState` names it in the same write, so RunInstances without
        a subnet launches into it. DefaultVpcMissing without a default VPC,
        DefaultSubnetExists while the zone has one. Serialised on the VPC's revision, as
        CreateSubnet: of two calls at once, one makes it and the other finds it."""
        zone = self._subnet_zone(availability_zone)
        for _ in range(_ATTEMPTS):
            network = await self.default_network_if_any(tenant_id)
            if network is None:
                raise DefaultVpcMissing()
            vpc = await self.acl_made(network.vpc)
            siblings = [
                s for s in await self.store.list(Subnet, tenant_id) if s.vpc_id == vpc.vpc_id
            ]
            for sibling in siblings:
                if sibling.default_for_az and sibling.availability_zone == zone:
                    raise DefaultSubnetExists(zone, sibling.subnet_id)
            block = free_default_block(vpc.cidr, [s.cidr for s in siblings])
            if block is None:
                raise NoFreeDefaultBlock(vpc.vpc_id, vpc.cidr)
            if len(siblings) >= self.limits.max_subnets_per_vpc:
                raise NetworkLimitExceeded(
                    "subnet", "The maximum number of subnets has been reached for this VPC."
                )
            subnet = await self._default_subnet(tenant_id, vpc.vpc_id, new_id("subnet"), block)
            associated = await self._default_acl_with(vpc, subnet.subnet_id)
            # Tenants whose default VPC predates the record (decision 0137) get one now: the
            # derived subnet id it would otherwise stand for is gone.
            state = await self.store.get(DefaultVpcState, tenant_id)
            insert: list[Subnet | DefaultVpcState] = [subnet]
            replaced: list[NetworkAcl | DefaultVpcState] = [associated]
            if state is None:
                insert.append(
                    DefaultVpcState(tenant_id, vpc.vpc_id, subnet.subnet_id, network.group.group_id)
                )
            else:
                replaced.append(replace(state, subnet_id=subnet.subnet_id))
            try:
                if await self.store.change(vpc, insert=insert, replace=replaced):
                    return subnet
            except Duplicate:
                continue  # a VXLAN id taken at once, or the record written at once: again
        raise IncorrectState("the default VPC changed concurrently; retry")

    def _subnet_zone(self, availability_zone: str | None) -> str:
        """The zone a subnet goes in: this region's (one zone per region, decision 0021)."""
        zone = self.limits.availability_zone
        if availability_zone not in (None, zone):
            raise InvalidParameterValue(
                f"Value ({availability_zone[:64]}) for parameter availabilityZone is invalid. "
                f"Subnets can currently only be created in the following availability zones: "
                f"{zone}."
            )
        return zone

    async def _default_acl_with(self, vpc: Vpc, subnet_id: str) -> NetworkAcl:
        """The VPC's default network ACL with a new subnet associated, as EC2 associates
        every new subnet (``vpc`` with its ACL made)."""
        acl = await self.default_acl_of(vpc)
        return replace(
            acl,
            associations=(
                *acl.associations,
                NetworkAclAssociation(default_association_id(subnet_id), subnet_id),
            ),
        )

    async def delete_subnet(self, tenant_id: str, subnet_id: str) -> None:
        """DependencyViolation while an interface (an instance not terminated) is in it."""
        await self.default_network_if_any(tenant_id)  # the default subnet exists before
        for _ in range(_ATTEMPTS):
            # The default subnet too, as on EC2: its VPC's first need does not make it again,
            # and RunInstances without a subnet then answers MissingInput (decision 0137) until
            # CreateDefaultSubnet makes another.
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            interfaces = await self.store.list(NetworkInterface, tenant_id)
            # A NAT gateway not deleted holds an interface there too (decision 0129).
            nats = await self.store.list(NatGateway, tenant_id)
            if any(i.subnet_id == subnet_id for i in interfaces) or any(
                n.subnet_id == subnet_id and n.live for n in nats
            ):
                raise ResourceInUse(
                    "subnet", f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
                )
            # Its explicit route table association and its network ACL association go with
            # it, as on EC2.
            associated: list[RouteTable | NetworkAcl] = [
                replace(
                    t,
                    associations=tuple(a for a in t.associations if a.subnet_id != subnet_id),
                )
                for t in await self.store.list(RouteTable, tenant_id)
                if any(a.subnet_id == subnet_id for a in t.associations)
            ]
            associated += [
                replace(
                    acl,
                    associations=tuple(a for a in acl.associations if a.subnet_id != subnet_id),
                )
                for acl in await self.store.list(NetworkAcl, tenant_id)
                if acl.associated_with(subnet_id) is not None
            ]
            if await self.store.change(subnet, delete=[(Subnet, subnet_id)], replace=associated):
                return
        raise IncorrectState(f"{subnet_id} changed concurrently; retry")

    async def modify_vpc_attribute(
        self,
        tenant_id: str,
        vpc_id: str,
        *,
        dns_support: bool | None = None,
        dns_hostnames: bool | None = None,
        address_usage_metrics: bool | None = None,
    ) -> Vpc:
        """Set the attributes given (None: left alone), stored with the VPC; the DNS ones
        are pushed to the hosts of the VPC's instances, whose router serves them (decision
        0143)."""
        for _ in range(_ATTEMPTS):
            vpc = await self.owned_vpc(tenant_id, vpc_id)
            changed = replace(
                vpc,
                enable_dns_support=vpc.enable_dns_support if dns_support is None else dns_support,
                enable_dns_hostnames=(
                    vpc.enable_dns_hostnames if dns_hostnames is None else dns_hostnames
                ),
                enable_network_address_usage_metrics=(
                    vpc.enable_network_address_usage_metrics
                    if address_usage_metrics is None
                    else address_usage_metrics
                ),
            )
            if await self.store.replace(changed):
                if await self.vpc_dns(changed) != await self.vpc_dns(vpc):
                    await self._push_vpc_dns(changed)
                return changed
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def modify_subnet_attribute(
        self,
        tenant_id: str,
        subnet_id: str,
        *,
        map_public_ip_on_launch: bool | None = None,
        assign_ipv6_address_on_creation: bool | None = None,
    ) -> Subnet:
        """Set the attributes given (None: left alone). AssignIpv6AddressOnCreation needs
        the subnet to hold an IPv6 block (EC2's InvalidParameterValue, in its words)."""
        for _ in range(_ATTEMPTS):
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            if assign_ipv6_address_on_creation and not subnet.ipv6_blocks:
                raise InvalidParameterValue(
                    "Invalid value 'true' for assign-ipv6-address-on-creation. Cannot set "
                    "assign-ipv6-address-on-creation to true unless the subnet "
                    f"({subnet_id}) has an IPv6 CIDR block associated with it."
                )
            changed = replace(
                subnet,
                map_public_ip_on_launch=(
                    subnet.map_public_ip_on_launch
                    if map_public_ip_on_launch is None
                    else map_public_ip_on_launch
                ),
                assign_ipv6_address_on_creation=(
                    subnet.assign_ipv6_address_on_creation
                    if assign_ipv6_address_on_creation is None
                    else assign_ipv6_address_on_creation
                ),
            )
            if await self.store.replace(changed):
                return changed
        raise IncorrectState(f"{subnet_id} changed concurrently; retry")

    async def check_groups_in(
        self, tenant_id: str, vpc_id: str, group_ids: Sequence[str], holder: str
    ) -> None:
        """Every group is the tenant's and of ``vpc_id``, the VPC of ``holder`` (the subnet
        launched into, or the instance): EC2's InvalidParameter otherwise."""
        for group_id in group_ids:
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            if await self.vpc_of_group(group) != vpc_id:
                raise DifferentNetworks(
                    f"Security group {group_id} and {holder} belong to different networks."
                )


_T = TypeVar("_T")


def chosen(
    found: list[_T], ids: Sequence[str], id_of: Callable[[_T], str], prefix: str
) -> list[_T]:
    """``found`` in id order, or those named by ``ids`` (each must be there: NotFound, also
    for another tenant's)."""
    by_id = {id_of(item): item for item in found}
    if not ids:
        return [by_id[key] for key in sorted(by_id)]
    chosen = []
    for wanted in dict.fromkeys(ids):
        check_id(wanted, prefix)
        if wanted not in by_id:
            raise NotFound(prefix, wanted)
        chosen.append(by_id[wanted])
    return chosen
