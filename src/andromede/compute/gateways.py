"""Internet gateways and route tables in the compute service (decision 0121): CreateInternetGateway,
Attach/Detach/Delete, CreateRouteTable, DeleteRouteTable, Create/Replace/DeleteRoute,
Associate/Disassociate and ReplaceRouteTableAssociation, and what each change pushes to the
hosts.

Writes that must not cross are serialised on a parent's revision, as VPCs and subnets are
(decision 0100): attaching or detaching a gateway changes the VPC with the gateway
(:meth:`ComputeStore.change` ``replace=``), so a VPC never gets two gateways nor a gateway
two VPCs; an association made, moved or removed changes the subnet with its table(s) — or,
for the main association, the VPC — so a subnet is never associated twice, and a subnet
deleted at once either goes first (the association finds it gone) or takes its association
with it. A table's routes change with the table's own revision; DeleteRouteTable deletes at
the revision it checked.

A route's effect is the instances' firewalls (``routing.py`` says why): every change that can
turn a route active or blackhole pushes the firewalls of the VPC's running instances.

A route's destination may be a prefix list of the tenant's (decision 0149's addendum): the
table is written together with every list its routes name, at the revisions read, so a
deletion of a list (which refuses while a route names it) or a growth of its ``MaxEntries``
(checked against the tables naming it) cannot cross the write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from andromede.compute.errors import (
    AlreadyAssociated,
    AmbiguousInstance,
    GatewayNotAttached,
    IncorrectState,
    InvalidParameterValue,
    ManagedResource,
    NetworkLimitExceeded,
    NotFound,
    ResourceInUse,
    RouteExists,
    RouteNotFound,
)
from andromede.compute.model import (
    Instance,
    InstanceState,
    Tags,
    check_id,
    check_tags,
    new_id,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import (
    LOCAL,
    InternetGateway,
    Route,
    RouteTable,
    RouteTableAssociation,
    destination_cidr,
    routes_weight,
)
from andromede.compute.vpc_members import VpcMembersMixin
from andromede.compute.vpc_peering import VpcPeeringConnection, peering_route_target
from andromede.compute.vpcs import chosen

__all__ = ["RoutingMixin"]


class _Target(NamedTuple):
    """What a route leads to: exactly one of them."""

    gateway_id: str | None
    nat_gateway_id: str | None
    vpc_peering_connection_id: str | None
    network_interface_id: str | None = None
    # Resolved to its interface (the only one it has), as EC2 does.
    instance_id: str | None = None
    # ReplaceRoute's ``LocalTarget``: the local route given back its ``local`` target.
    local: bool = False


_ATTEMPTS = 8
# Instances holding a public address that EC2 calls "mapped" through the VPC's gateway.
_MAPPED = frozenset({InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STOPPING})


def _destination(cidr: str | None, prefix_list_id: str | None) -> tuple[str | None, str | None]:
    """A route's destination: a block in canonical form, or a prefix list's id (checked for
    form): exactly one of them."""
    if (cidr is None) == (prefix_list_id is None):
        raise InvalidParameterValue(
            "The request must contain exactly one of: destinationCidrBlock, destinationPrefixListId"
        )
    if prefix_list_id is not None:
        check_id(prefix_list_id, "pl")
        return None, prefix_list_id
    return destination_cidr(cidr or ""), None


class RoutingMixin(VpcMembersMixin):
    # -- internet gateways -------------------------------------------------------------------

    async def create_internet_gateway(self, tenant_id: str, tags: Tags = ()) -> InternetGateway:
        """A detached gateway. EC2's quota of gateways per Region follows its VPC quota."""
        check_tags(tags)
        await self._routed_vpcs(tenant_id)
        async with self._placement:
            held = await self.store.list(InternetGateway, tenant_id)
            if len(held) >= self.limits.max_vpcs:
                raise NetworkLimitExceeded(
                    "igw", "The maximum number of internet gateways has been reached."
                )
            gateway = InternetGateway(new_id("igw"), tenant_id, tags=tags)
            await self.store.insert(gateway)
        return gateway

    async def describe_internet_gateways(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[InternetGateway]:
        await self._routed_vpcs(tenant_id)
        found = await self.store.list(InternetGateway, tenant_id)
        return chosen(found, ids, lambda g: g.gateway_id, "igw")

    async def attach_internet_gateway(self, tenant_id: str, gateway_id: str, vpc_id: str) -> None:
        for _ in range(_ATTEMPTS):
            gateway = await self._gateway(tenant_id, gateway_id)
            vpc = await self.routed(await self.owned_vpc(tenant_id, vpc_id))
            if gateway.vpc_id is not None:
                raise AlreadyAssociated(
                    f"resource {gateway_id} is already attached to network {gateway.vpc_id}"
                )
            held = await self.store.list(InternetGateway, tenant_id)
            if any(g.vpc_id == vpc_id for g in held):
                raise InvalidParameterValue(
                    f"Network {vpc_id} already has an internet gateway attached"
                )
            if await self.store.change(vpc, replace=[replace(gateway, vpc_id=vpc_id)]):
                self._push_later(tenant_id, (), vpc_ids=(vpc_id,))
                return
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def detach_internet_gateway(self, tenant_id: str, gateway_id: str, vpc_id: str) -> None:
        """EC2's DependencyViolation while an instance of the VPC holds a public address."""
        for _ in range(_ATTEMPTS):
            gateway = await self._gateway(tenant_id, gateway_id)
            vpc = await self.owned_vpc(tenant_id, vpc_id)
            if gateway.vpc_id != vpc_id:
                raise GatewayNotAttached(
                    f"resource {gateway_id} is not attached to network {vpc_id}"
                )
            instances = await self.store.list(Instance, tenant_id)
            if any(
                i.vpc_id == vpc_id
                and (
                    (i.associate_public_ip and i.state in _MAPPED)
                    # An Elastic IP stays mapped while its instance is stopped (EC2).
                    or (i.elastic_ip is not None and i.state is not InstanceState.TERMINATED)
                )
                for i in instances
            ) or any(
                # A NAT gateway's Elastic IP is mapped through the gateway too (decision 0129).
                n.vpc_id == vpc_id and n.live
                for n in await self.store.list(NatGateway, tenant_id)
            ):
                raise ResourceInUse(
                    "igw",
                    f"Network {vpc_id} has some mapped public address(es). Please unmap those "
                    "public address(es) before detaching the gateway.",
                )
            if await self.store.change(vpc, replace=[replace(gateway, vpc_id=None)]):
                self._push_later(tenant_id, (), vpc_ids=(vpc_id,))
                return
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def delete_internet_gateway(self, tenant_id: str, gateway_id: str) -> None:
        """DependencyViolation while attached. Routes to it stay, as blackholes (EC2)."""
        for _ in range(_ATTEMPTS):
            gateway = await self._gateway(tenant_id, gateway_id)
            if gateway.vpc_id is not None:
                raise ResourceInUse(
                    "igw",
                    f"The internetGateway '{gateway_id}' has dependencies and cannot be deleted.",
                )
            if await self.store.change(gateway, delete=[(InternetGateway, gateway_id)]):
                return
        raise IncorrectState(f"{gateway_id} changed concurrently; retry")

    async def _gateway(self, tenant_id: str, gateway_id: str) -> InternetGateway:
        await self._routed_vpcs(tenant_id)
        return await self._owned(InternetGateway, tenant_id, gateway_id, "igw")

    async def _routed_vpcs(self, tenant_id: str) -> list[Vpc]:
        """The tenant's VPCs, each with its routing stored (the default VPC made on first
        need, as everywhere): a VPC older than route tables gets its gateway and main table
        before anyone lists gateways or tables."""
        return [await self.routed(v) for v in await self.describe_vpcs(tenant_id, [])]

    # -- route tables ------------------------------------------------------------------------

    async def describe_route_tables(self, tenant_id: str, ids: Sequence[str]) -> list[RouteTable]:
        await self._routed_vpcs(tenant_id)
        tables = await self.store.list(RouteTable, tenant_id)
        return chosen(tables, ids, lambda t: t.route_table_id, "rtb")

    async def route_table_view(
        self, tenant_id: str
    ) -> tuple[list[RouteTable], dict[str, InternetGateway]]:
        """The tenant's route tables and gateways by id (a route's state needs both)."""
        tables = await self.describe_route_tables(tenant_id, [])
        gateways = await self.store.list(InternetGateway, tenant_id)
        return tables, {g.gateway_id: g for g in gateways}

    async def create_route_table(
        self, tenant_id: str, vpc_id: str, tags: Tags = (), client_token: str | None = None
    ) -> RouteTable:
        """A table with the VPC's local route. With a client token (Terraform sends one), at
        most once per account and token: its id is derived from them, so the same request
        on two gateways writes one row and both answer it."""
        return await self._add_to_vpc(
            RouteTable,
            "rtb",
            tenant_id,
            vpc_id,
            tags,
            client_token,
            ready=self.routed,
            quota=(
                self.limits.max_route_tables_per_vpc,
                "The maximum number of route tables has been reached for this VPC.",
            ),
            made=lambda table_id, vpc, digest: RouteTable(
                table_id,
                tenant_id,
                vpc_id,
                (Route(vpc.cidr, LOCAL, "CreateRouteTable"),),
                tags=tags,
                client_token=client_token,
                request_digest=digest,
            ),
        )

    async def delete_route_table(self, tenant_id: str, route_table_id: str) -> None:
        """DependencyViolation for the main table and for one with associations, as EC2."""
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            if table.associations:
                raise ResourceInUse(
                    "rtb",
                    f"The routeTable '{route_table_id}' has dependencies and cannot be deleted.",
                )
            if await self.store.change(table, delete=[(RouteTable, route_table_id)]):
                return
        raise IncorrectState(f"{route_table_id} changed concurrently; retry")

    async def _table(self, tenant_id: str, route_table_id: str) -> RouteTable:
        await self._routed_vpcs(tenant_id)
        return await self._owned(RouteTable, tenant_id, route_table_id, "rtb")

    # -- routes ------------------------------------------------------------------------------

    async def create_route(
        self,
        tenant_id: str,
        route_table_id: str,
        destination: str | None,
        gateway_id: str | None,
        *,
        nat_gateway_id: str | None = None,
        vpc_peering_connection_id: str | None = None,
        destination_prefix_list_id: str | None = None,
        network_interface_id: str | None = None,
        instance_id: str | None = None,
    ) -> None:
        """A route to an internet gateway (``gateway_id``), a NAT gateway (``nat_gateway_id``,
        decision 0129), a VPC peering connection (decision 0139), a network interface or an
        instance's only interface (decision 0161's addendum): exactly one of them; for a block
        (``destination``) or a prefix list of the tenant's: exactly one of them."""
        await self._change_route(
            tenant_id,
            route_table_id,
            (destination, destination_prefix_list_id),
            _Target(
                gateway_id,
                nat_gateway_id,
                vpc_peering_connection_id,
                network_interface_id,
                instance_id,
            ),
            create=True,
        )

    async def replace_route(
        self,
        tenant_id: str,
        route_table_id: str,
        destination: str | None,
        gateway_id: str | None,
        *,
        nat_gateway_id: str | None = None,
        vpc_peering_connection_id: str | None = None,
        destination_prefix_list_id: str | None = None,
        network_interface_id: str | None = None,
        instance_id: str | None = None,
        local_target: bool = False,
    ) -> None:
        """As :meth:`create_route`, of an existing route; the local route may be given an
        interface as its target, and ``local_target`` gives it back its own (decision 0179)."""
        await self._change_route(
            tenant_id,
            route_table_id,
            (destination, destination_prefix_list_id),
            _Target(
                gateway_id,
                nat_gateway_id,
                vpc_peering_connection_id,
                network_interface_id,
                instance_id,
                local_target,
            ),
            create=False,
        )

    async def _change_route(
        self,
        tenant_id: str,
        route_table_id: str,
        destination: tuple[str | None, str | None],
        target: _Target,
        *,
        create: bool,
    ) -> None:
        given = [t for t in target if t is not None and t is not False]
        if len(given) != 1:
            raise InvalidParameterValue(
                "The request must contain exactly one of GatewayId, NatGatewayId, "
                "VpcPeeringConnectionId, NetworkInterfaceId, InstanceId and LocalTarget"
            )
        gateway_id, nat_gateway_id, peering_id, interface_id, instance_id, local = target
        block, prefix_list_id = _destination(*destination)
        key = block or prefix_list_id or ""
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            vpc = await self.owned_vpc(tenant_id, table.vpc_id)
            if local:
                if await self._restore_local(table, key):
                    self._push_later(tenant_id, (), vpc_ids=(table.vpc_id,))
                    return
                continue
            if interface_id is not None or instance_id is not None:
                interface_id = await self._interface_route_target(
                    tenant_id, table, interface_id, instance_id
                )
            elif nat_gateway_id is not None:
                await self._nat_route_target(tenant_id, table, nat_gateway_id)
            elif peering_id is not None:
                check_id(peering_id, "pcx")
                peering_route_target(
                    await self.store.get(VpcPeeringConnection, peering_id),
                    tenant_id,
                    (table.route_table_id, table.vpc_id),
                    peering_id,
                )
            else:
                await self._route_target(tenant_id, table, gateway_id or "")
            if prefix_list_id is not None:
                await self._route_prefix_list(tenant_id, prefix_list_id)
            elif ipaddress.IPv4Network(block).subnet_of(ipaddress.IPv4Network(vpc.cidr)):
                await self._inside_vpc(tenant_id, vpc, block or "", interface_id)
            existing = table.route_to(key)
            if create and existing is not None:
                raise RouteExists(f"The route identified by {key} already exists.")
            if not create and existing is None:
                raise InvalidParameterValue(
                    f"There is no route defined for '{key}' in the route table. Use "
                    "CreateRoute instead."
                )
            if existing is not None and existing.gateway_id == LOCAL and interface_id is None:
                raise InvalidParameterValue(
                    f"cannot replace local route {key} in route table {route_table_id}"
                )
            kept = tuple(r for r in table.routes if r.key != key)
            if existing is not None and existing.gateway_id == LOCAL:
                # The local route keeps what makes it local (never deleted, not counted);
                # its target is the interface until LocalTarget gives it back (0179).
                route = replace(existing, network_interface_id=interface_id)
            else:
                route = Route(
                    block or "",
                    gateway_id or "",
                    nat_gateway_id=nat_gateway_id,
                    vpc_peering_connection_id=peering_id,
                    destination_prefix_list_id=prefix_list_id,
                    network_interface_id=interface_id,
                )
            changed = replace(table, routes=(*kept, route))
            lists = await self._lists_named(changed)
            if create and (
                routes_weight(changed.routes, {p.prefix_list_id: p.max_entries for p in lists})
                + len(changed.ipv6_routes)  # decision 0217
                > self.limits.max_routes_per_route_table
            ):
                raise NetworkLimitExceeded(
                    "route", "The maximum number of routes has been reached for this route table."
                )
            written = (
                await self.store.change(changed, replace=lists)
                if lists
                else await self.store.replace(changed)
            )
            if written:
                self._push_later(tenant_id, (), vpc_ids=(table.vpc_id,))
                return
        raise IncorrectState(f"{route_table_id} changed concurrently; retry")

    async def _inside_vpc(
        self, tenant_id: str, vpc: Vpc, block: str, interface_id: str | None
    ) -> None:
        """A destination equal to or inside the VPC's block (decision 0179): the VPC's block
        itself is the local route's (ReplaceRoute may give it an interface); a block more
        specific than it must be a whole subnet's CIDR of the VPC, routed to a network
        interface — and not to one inside that subnet (its router could not tell the packets
        routed to the appliance from those it forwards into its own subnet)."""
        if interface_id is None:
            raise InvalidParameterValue(
                f"The destination CIDR block {block} is equal to or more specific than one "
                f"of this VPC's CIDR blocks. This route can target only an interface or an "
                f"instance."
            )
        if block == str(ipaddress.IPv4Network(vpc.cidr)):
            return
        subnets = [s for s in await self.store.list(Subnet, tenant_id) if s.vpc_id == vpc.vpc_id]
        if not any(str(ipaddress.IPv4Network(s.cidr)) == block for s in subnets):
            raise InvalidParameterValue(
                f"The destination CIDR block {block} is more specific than the local route "
                f"of {vpc.vpc_id} and matches no subnet's CIDR block. A route more specific "
                "than the local route must match the entire CIDR block of a subnet of the VPC."
            )
        interface = await self.store.get(NetworkInterface, interface_id)
        if interface is not None and interface.subnet_id in {
            s.subnet_id for s in subnets if str(ipaddress.IPv4Network(s.cidr)) == block
        }:
            raise InvalidParameterValue(
                f"The network interface {interface_id} is in the subnet of the destination "
                f"CIDR block {block}: an appliance must sit outside the subnet it inspects."
            )

    async def _restore_local(self, table: RouteTable, key: str) -> bool:
        """ReplaceRoute's ``LocalTarget``: the local route (of ``key``) back to ``local``, at
        the table's revision (False: it changed meanwhile). Any other destination is EC2's
        InvalidParameterValue."""
        existing = table.route_to(key)
        if existing is None or existing.gateway_id != LOCAL:
            raise InvalidParameterValue(
                f"The route {key} in route table {table.route_table_id} is not a local "
                "route: only a local route's target can be restored with LocalTarget."
            )
        if existing.network_interface_id is None:
            return True  # local already
        routes = tuple(
            replace(r, network_interface_id=None) if r.key == key else r for r in table.routes
        )
        return await self.store.replace(replace(table, routes=routes))

    async def _route_prefix_list(self, tenant_id: str, prefix_list_id: str) -> ManagedPrefixList:
        """A route may name one of the tenant's IPv4 prefix lists (there is no sharing of
        lists between accounts): another's, or none, is InvalidPrefixListID.NotFound; an IPv6
        list InvalidParameterValue, as an IPv6 block is (the tenant networks carry IPv4)."""
        plist = await self.store.get(ManagedPrefixList, prefix_list_id)
        if plist is None or plist.tenant_id != tenant_id:
            raise NotFound("pl", prefix_list_id)
        if plist.address_family != "IPv4":
            raise InvalidParameterValue(
                f"The prefix list {prefix_list_id} is of the {plist.address_family} family; "
                "routes here carry IPv4 only."
            )
        return plist

    async def _lists_named(self, table: RouteTable) -> list[ManagedPrefixList]:
        """The prefix lists the table's routes name, as read now (written with the table); one
        gone since it was checked (deleted at once) is not found, so no route names it."""
        found = []
        # A VPC endpoint's route names the region's AWS-managed list, which is no record.
        named = {
            r.key
            for r in table.routes
            if r.destination_prefix_list_id and not r.gateway_id.startswith("vpce-")
        }
        for list_id in sorted(named):
            plist = await self.store.get(ManagedPrefixList, list_id)
            if plist is None:
                raise NotFound("pl", list_id)
            found.append(plist)
        return found

    async def _route_target(self, tenant_id: str, table: RouteTable, gateway_id: str) -> None:
        """A route may lead to one of the tenant's internet gateways attached to the table's
        VPC; ``local`` and anything else are EC2's InvalidGatewayID.NotFound."""
        if not gateway_id.startswith("igw-"):
            raise NotFound("gateway", gateway_id)
        try:
            gateway = await self._owned(InternetGateway, tenant_id, gateway_id, "igw")
        except NotFound:
            raise NotFound("gateway", gateway_id) from None
        if gateway.vpc_id != table.vpc_id:
            raise InvalidParameterValue(
                f"route table {table.route_table_id} and network gateway {gateway_id} belong "
                f"to different networks"
            )

    async def _interface_route_target(
        self,
        tenant_id: str,
        table: RouteTable,
        interface_id: str | None,
        instance_id: str | None,
    ) -> str:
        """The interface a route leads to (decision 0161's addendum): one of the tenant's of
        the table's VPC, attached or not (a detached one's route is a blackhole), never a NAT
        gateway's; or the only interface of one of the tenant's instances — one with several
        is EC2's InvalidInstanceID, as the interface must then be named."""
        if instance_id is not None:
            check_id(instance_id, "i")
            instance = await self.store.get(Instance, instance_id)
            if instance is None or instance.tenant_id != tenant_id:
                raise NotFound("i", instance_id)
            held = [
                i
                for i in await self.store.list(NetworkInterface, tenant_id)
                if i.instance_id == instance_id
            ]
            if len(held) > 1:
                raise AmbiguousInstance(
                    f"There are multiple interfaces attached to instance '{instance_id}'. "
                    "Please specify an interface ID for the operation instead."
                )
            if not held:
                raise InvalidParameterValue(
                    f"The instance '{instance_id}' has no network interface to route to."
                )
            interface = held[0]
        else:
            check_id(interface_id or "", "eni")
            found = await self.store.get(NetworkInterface, interface_id or "")
            if found is None or found.tenant_id != tenant_id:
                raise NotFound("eni", interface_id or "")
            interface = found
        if interface.interface_type != "interface":
            raise ManagedResource()
        if interface.vpc_id != table.vpc_id:
            raise InvalidParameterValue(
                f"route table {table.route_table_id} and interface {interface.interface_id} "
                "belong to different networks"
            )
        return interface.interface_id

    async def _nat_route_target(
        self, tenant_id: str, table: RouteTable, nat_gateway_id: str
    ) -> None:
        """A route may lead to one of the tenant's NAT gateways of the table's VPC, not
        deleted; anything else is EC2's InvalidNatGatewayID.NotFound."""
        check_id(nat_gateway_id, "nat")
        gateway = await self.store.get(NatGateway, nat_gateway_id)
        if gateway is None or gateway.tenant_id != tenant_id or not gateway.live:
            raise NotFound("nat-route", nat_gateway_id)
        if gateway.vpc_id != table.vpc_id:
            raise InvalidParameterValue(
                f"route table {table.route_table_id} and network gateway {nat_gateway_id} "
                "belong to different networks"
            )

    async def delete_route(
        self,
        tenant_id: str,
        route_table_id: str,
        destination: str | None,
        *,
        destination_prefix_list_id: str | None = None,
    ) -> None:
        block, prefix_list_id = _destination(destination, destination_prefix_list_id)
        key = block or prefix_list_id or ""
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            existing = table.route_to(key)
            if existing is None:
                raise RouteNotFound(
                    key,
                    route_table_id,
                    "destination-cidr-block" if block else "destination-prefix-list-id",
                )
            if existing.gateway_id == LOCAL:
                raise InvalidParameterValue(
                    f"cannot remove local route {key} in route table {route_table_id}"
                )
            if existing.gateway_id.startswith("vpce-"):
                # The endpoint's to manage (ModifyVpcEndpoint), as on EC2 (decision 0160).
                raise InvalidParameterValue(
                    f"cannot remove route {key} in route table {route_table_id}: it is VPC"
                    f" endpoint {existing.gateway_id}'s; use ModifyVpcEndpoint"
                )
            routes = tuple(r for r in table.routes if r.key != key)
            if await self.store.replace(replace(table, routes=routes)):
                self._push_later(tenant_id, (), vpc_ids=(table.vpc_id,))
                return
        raise IncorrectState(f"{route_table_id} changed concurrently; retry")

    # -- associations ------------------------------------------------------------------------

    async def associate_route_table(
        self, tenant_id: str, route_table_id: str, subnet_id: str
    ) -> RouteTableAssociation:
        check_id(subnet_id, "subnet")
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            if subnet.vpc_id != table.vpc_id:
                raise InvalidParameterValue(
                    f"route table {route_table_id} and subnet {subnet_id} belong to different "
                    "networks"
                )
            tables = await self.store.list(RouteTable, tenant_id)
            if any(a.subnet_id == subnet_id for t in tables for a in t.associations):
                raise AlreadyAssociated(
                    f"the specified association for route table {route_table_id} conflicts "
                    "with an existing association"
                )
            association = RouteTableAssociation(new_id("rtbassoc"), subnet_id)
            changed = replace(table, associations=(*table.associations, association))
            if await self.store.change(subnet, replace=[changed]):
                self._push_later(tenant_id, (), vpc_ids=(table.vpc_id,))
                return association
        raise IncorrectState(f"{subnet_id} changed concurrently; retry")

    async def disassociate_route_table(self, tenant_id: str, association_id: str) -> None:
        for _ in range(_ATTEMPTS):
            table, association = await self._association(tenant_id, association_id)
            if association.main:
                raise InvalidParameterValue(
                    f"cannot disassociate the main route table association {association_id}"
                )
            changed = replace(
                table,
                associations=tuple(
                    a for a in table.associations if a.association_id != association_id
                ),
            )
            if await self._change_association(tenant_id, association, [changed]):
                self._push_later(tenant_id, (), vpc_ids=(table.vpc_id,))
                return
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    async def replace_route_table_association(
        self, tenant_id: str, association_id: str, route_table_id: str
    ) -> RouteTableAssociation:
        """The association (a subnet's, or the VPC's main one) moved to ``route_table_id`` of
        the same VPC, under a new id, as EC2 gives one."""
        for _ in range(_ATTEMPTS):
            current, association = await self._association(tenant_id, association_id)
            target = await self._table(tenant_id, route_table_id)
            if target.vpc_id != current.vpc_id:
                raise InvalidParameterValue(
                    f"route table {route_table_id} and association {association_id} belong to "
                    "different networks"
                )
            moved = RouteTableAssociation(new_id("rtbassoc"), association.subnet_id)
            left = tuple(a for a in current.associations if a.association_id != association_id)
            if target.route_table_id == current.route_table_id:
                changed = [replace(current, associations=(*left, moved))]
            else:
                changed = [
                    replace(current, associations=left),
                    replace(target, associations=(*target.associations, moved)),
                ]
            if await self._change_association(tenant_id, association, changed):
                self._push_later(tenant_id, (), vpc_ids=(current.vpc_id,))
                return moved
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    async def _association(
        self, tenant_id: str, association_id: str
    ) -> tuple[RouteTable, RouteTableAssociation]:
        check_id(association_id, "rtbassoc")
        for table in await self.describe_route_tables(tenant_id, []):
            for association in table.associations:
                if association.association_id == association_id:
                    return table, association
        raise NotFound("rtbassoc", association_id)

    async def _change_association(
        self, tenant_id: str, association: RouteTableAssociation, tables: Sequence[RouteTable]
    ) -> bool:
        """Replace ``tables`` serialised on the association's subnet, or on the VPC for the
        main association (see the module docstring)."""
        if association.subnet_id is None:
            parent: Vpc | Subnet = await self.owned_vpc(tenant_id, tables[0].vpc_id)
        else:
            parent = await self._owned(Subnet, tenant_id, association.subnet_id, "subnet")
        return await self.store.change(parent, replace=tables)
