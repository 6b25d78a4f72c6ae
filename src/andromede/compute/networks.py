"""Tenant networks in the compute service: the default VPC, subnet and security group (made on
first need; none once the tenant deleted its default VPC, until CreateDefaultVpc), the
network interfaces (private address and MAC) of instances, and the security groups pushed to
the hosts as each instance's firewall.

When a security group's rules change, every running member gets its new firewall; when an
instance joins or leaves (launched, terminated), every running instance whose groups name one
of its groups in a rule gets its firewall recomputed, since such a rule stands for the members'
private addresses.

A subnet whose instances run on several hypervisors spans them over VXLAN (decision 0024):
whenever an instance of it starts, stops or is terminated, and at start-up, every host with an
overlay is told which other hosts hold the subnet's instances, and their addresses
(:func:`~andromede.compute.network.network_peers`). The subnets of one VPC are routed to each
other (decision 0106), so the hosts holding instances of any subnet of the VPC are told of
every subnet of it that has instances, with the subnet itself (:meth:`_network_spec`). With
the peers, and whenever a VPC's routing changes, every host of the VPC is told its NAT
gateways: which host translates for which subnets, the others sending that traffic to it
(:mod:`~andromede.compute.nat_egress`, decision 0129).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from andromede.compute.dhcp_options import (
    ACCOUNT_DEFAULT,
    NO_OPTIONS,
    DhcpOptions,
    default_dhcp_options,
    default_dhcp_options_id,
)
from andromede.compute.driver import (
    InstanceNetwork,
)
from andromede.compute.driver_network import (
    EndpointRoute,
    InstanceFirewall,
    NetworkSpec,
    VpcDns,
)
from andromede.compute.errors import (
    Duplicate,
    InsufficientCapacity,
    NoDefaultSubnet,
    NoDefaultVpc,
    NotFound,
)
from andromede.compute.model import Instance, InstanceState, SecurityGroup, check_id, new_id
from andromede.compute.nat_egress import nat_routes_by_host
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import (
    DEFAULT_SUBNET_CIDR,
    DEFAULT_VPC_CIDR,
    DefaultVpcState,
    NetworkInterface,
    PrivateAddress,
    Subnet,
    Vpc,
    default_group,
    default_ids,
    free_addresses,
    merge_firewall,
    network_peers,
    new_mac,
    region_domain,
    subnet_vni,
)
from andromede.compute.network_acl import (
    NetworkAcl,
    acl_of_subnet,
    default_network_acl,
    subnet_acl,
)
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import (
    InternetGateway,
    RouteTable,
    RoutingView,
    default_internet_gateway_id,
    interface_routes,
    main_route_table,
)
from andromede.compute.service_core import ServiceCore
from andromede.compute.store import Record
from andromede.compute.vpc_endpoint import endpoint_routes, managed_prefix_list_id
from andromede.compute.vpc_peering import VpcPeeringConnection

__all__ = ["DefaultNetwork", "NetworksMixin", "with_wiring"]

log = logging.getLogger(__name__)
_N = TypeVar("_N", Vpc, Subnet, NetworkInterface)

# States whose instance holds its private address (a member of its groups for the rules).
_HOLDS_ADDRESS = frozenset(
    {
        InstanceState.PENDING,
        InstanceState.RUNNING,
        InstanceState.STOPPING,
        InstanceState.STOPPED,
        InstanceState.SHUTTING_DOWN,
    }
)


# States whose instance is wired on its host (its tap up, or about to be): other hosts route
# its address there.
_WIRED_ON_HOST = frozenset({InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STOPPING})


class DefaultNetwork:
    """A tenant's default VPC, its default subnet (None once deleted: DeleteSubnet) and its
    default security group."""

    __slots__ = ("group", "subnet", "vpc")

    def __init__(self, vpc: Vpc, subnet: Subnet | None, group: SecurityGroup) -> None:
        self.vpc = vpc
        self.subnet = subnet
        self.group = group


class NetworksMixin(ServiceCore):
    # -- the default VPC ---------------------------------------------------------------------

    async def default_network(self, tenant_id: str) -> DefaultNetwork:
        """The tenant's default VPC, subnet and security group, created on first need;
        NoDefaultVpc once the tenant deleted its default VPC (decision 0137)."""
        network = await self.default_network_if_any(tenant_id)
        if network is None:
            raise NoDefaultVpc()
        return network

    async def default_network_if_any(self, tenant_id: str) -> DefaultNetwork | None:
        """The tenant's default VPC, subnet and security group, None once it deleted its
        default VPC (its :class:`DefaultVpcState` names none). A tenant without that record
        has the default VPC whose ids are derived from its own, created on first need with
        the record: concurrent creations write the same rows and all but one insert fail
        harmlessly, and a creation racing DeleteVpc of it (which writes the record) fails."""
        derived = default_ids(tenant_id)
        for _ in range(8):
            state = await self.store.get(DefaultVpcState, tenant_id)
            if state is None:
                ids: tuple[str | None, str | None, str | None] = (
                    derived.vpc_id,
                    derived.subnet_id,
                    derived.group_id,
                )
            else:
                ids = (state.vpc_id, state.subnet_id, state.group_id)
            vpc_id, subnet_id, group_id = ids
            if vpc_id is None or group_id is None:
                return None
            vpc = await self.store.get(Vpc, vpc_id)
            group = await self.store.get(SecurityGroup, group_id)
            if vpc is not None and group is not None:
                subnet = None if subnet_id is None else await self.store.get(Subnet, subnet_id)
                return DefaultNetwork(await self.routed(vpc), subnet, group)
            if state is not None:
                continue  # deleted since the record was read: read it again
            records = await self._default_vpc_records(
                tenant_id,
                derived.vpc_id,
                derived.subnet_id,
                derived.group_id,
                default_internet_gateway_id(tenant_id),
            )
            state = DefaultVpcState(tenant_id, derived.vpc_id, derived.subnet_id, derived.group_id)
            try:
                await self.store.insert(*records, state)
            except Duplicate:
                continue  # created by a concurrent call, or deleted: read it
        raise NotFound("vpc", derived.vpc_id)

    async def _default_vpc_records(
        self, tenant_id: str, vpc_id: str, subnet_id: str, group_id: str, gateway_id: str
    ) -> list[Record]:
        """What a default VPC is made of, as on EC2: the VPC (``172.31.0.0/16``), its internet
        gateway attached, its main route table routing ``0.0.0.0/0`` to it, its default subnet
        (``/20``, public addresses on launch) in the zone, its default security group and
        network ACL."""
        vpc = Vpc(
            vpc_id,
            tenant_id,
            DEFAULT_VPC_CIDR,
            is_default=True,
            routing_made=True,
            network_acl_made=True,
        )
        subnet = await self._default_subnet(tenant_id, vpc_id, subnet_id, DEFAULT_SUBNET_CIDR)
        return [
            vpc,
            InternetGateway(gateway_id, tenant_id, vpc_id),
            main_route_table(vpc, gateway_id),
            subnet,
            default_group(tenant_id, vpc_id, group_id),
            default_network_acl(vpc, [subnet]),
        ]

    async def _default_subnet(
        self, tenant_id: str, vpc_id: str, subnet_id: str, cidr: str
    ) -> Subnet:
        """A default subnet as EC2 makes one, in a new default VPC or by CreateDefaultSubnet:
        in the region's zone, default for it, giving public addresses on launch (a default
        subnet's ``map_public_ip_on_launch`` follows ``default_for_az``)."""
        # Another subnet created at once may take the same VXLAN id: then the insert fails
        # whole and the caller's next round picks another.
        taken = {s.vni for s in await self.store.list(Subnet, None)}
        return Subnet(
            subnet_id,
            tenant_id,
            vpc_id,
            cidr,
            self.limits.availability_zone,
            default_for_az=True,
            vni=subnet_vni(subnet_id, taken),
        )

    async def routed(self, vpc: Vpc) -> Vpc:
        """``vpc`` with its routing stored (decision 0121). A VPC made before route tables
        were had, in effect, a way to the internet for its instances with a public address:
        it gets an internet gateway attached and a main table routing ``0.0.0.0/0`` to it, so
        it keeps what it did. Serialised on the VPC's revision: one caller makes them."""
        for _ in range(8):
            if vpc.routing_made:
                return vpc
            tables = await self.store.list(RouteTable, vpc.tenant_id)
            insert: list[InternetGateway | RouteTable] = []
            if not any(t.main for t in tables if t.vpc_id == vpc.vpc_id):
                gateway_id = (
                    default_internet_gateway_id(vpc.tenant_id) if vpc.is_default else new_id("igw")
                )
                if await self.store.get(InternetGateway, gateway_id) is None:
                    insert.append(InternetGateway(gateway_id, vpc.tenant_id, vpc.vpc_id))
                insert.append(main_route_table(vpc, gateway_id))
            made = replace(vpc, routing_made=True)
            try:
                if await self.store.change(made, insert=insert):
                    return replace(made, revision=vpc.revision + 1)
            except Duplicate:
                pass  # made at once by another call: read it
            fresh = await self.store.get(Vpc, vpc.vpc_id)
            if fresh is None:
                raise NotFound("vpc", vpc.vpc_id)
            vpc = fresh
        raise NotFound("vpc", vpc.vpc_id)

    async def describe_vpcs(self, tenant_id: str, ids: Sequence[str]) -> list[Vpc]:
        await self.default_network_if_any(tenant_id)
        return await self._described(Vpc, tenant_id, ids, "vpc")

    async def describe_subnets(self, tenant_id: str, ids: Sequence[str]) -> list[Subnet]:
        await self.default_network_if_any(tenant_id)
        return await self._described(Subnet, tenant_id, ids, "subnet")

    async def describe_network_interfaces(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[NetworkInterface]:
        return await self._described(NetworkInterface, tenant_id, ids, "eni")

    async def _described(
        self, kind: type[_N], tenant_id: str, ids: Sequence[str], prefix: str
    ) -> list[_N]:
        if ids:
            return [await self._owned(kind, tenant_id, i, prefix) for i in dict.fromkeys(ids)]
        return await self.store.list(kind, tenant_id)

    async def subnet_for_launch(self, tenant_id: str, subnet_id: str | None) -> Subnet:
        """The subnet RunInstances names (the tenant's), or its default subnet: NoDefaultVpc
        or NoDefaultSubnet when it has none."""
        if subnet_id is None:
            network = await self.default_network(tenant_id)
            if network.subnet is None:
                raise NoDefaultSubnet(network.vpc.vpc_id)
            return network.subnet
        await self.default_network_if_any(tenant_id)
        check_id(subnet_id, "subnet")
        return await self._owned(Subnet, tenant_id, subnet_id, "subnet")

    # -- addresses ---------------------------------------------------------------------------

    async def _new_interfaces(
        self, subnet: Subnet, instance_ids: Sequence[str]
    ) -> list[NetworkInterface]:
        """One interface per instance, on the lowest free addresses of ``subnet`` (as this
        gateway sees them: the store's uniqueness decides between gateways)."""
        held = await self.store.list(NetworkInterface, subnet.tenant_id)
        taken = {i.private_ip for i in held if i.subnet_id == subnet.subnet_id}
        # An interface's secondary addresses too (decision 0161).
        secondary = await self.store.list(PrivateAddress, subnet.tenant_id)
        taken |= {a.private_ip for a in secondary if a.subnet_id == subnet.subnet_id}
        addresses = free_addresses(subnet.cidr, taken, len(instance_ids))
        if len(addresses) < len(instance_ids):
            raise InsufficientCapacity(
                f"There are not enough free addresses in subnet '{subnet.subnet_id}' to "
                f"satisfy the requested number of instances."
            )
        now = self.clock()
        return [
            NetworkInterface(
                interface_id=new_id("eni"),
                tenant_id=subnet.tenant_id,
                vpc_id=subnet.vpc_id,
                subnet_id=subnet.subnet_id,
                availability_zone=subnet.availability_zone,
                private_ip=address,
                mac=new_mac(),
                instance_id=instance_id,
                created_at=now,
            )
            for instance_id, address in zip(instance_ids, addresses, strict=True)
        ]

    # -- security groups → firewalls ---------------------------------------------------------

    async def routing_view(self, tenant_id: str) -> RoutingView:
        """The tenant's VPCs, route tables, internet gateways, NAT gateways, the VPC peering
        connections it is a side of and its prefix lists' blocks (routes may name a list),
        read once."""
        return RoutingView(
            {v.vpc_id: v for v in await self.store.list(Vpc, tenant_id)},
            await self.store.list(RouteTable, tenant_id),
            {g.gateway_id: g for g in await self.store.list(InternetGateway, tenant_id)},
            {n.nat_gateway_id: n for n in await self.store.list(NatGateway, tenant_id)},
            {
                p.peering_id: p
                for p in await self.store.list(VpcPeeringConnection, None)
                if p.involves(tenant_id)
            },
            await self._own_prefix_lists(tenant_id),
            {i.interface_id: i for i in await self.store.list(NetworkInterface, tenant_id)},
            endpoint_blocks=self.limits.vpc_endpoint_s3_addresses,
        )

    async def firewall_of(self, instance: Instance) -> InstanceFirewall:
        """The instance's security groups merged, rules naming a group turned into the
        private addresses of its current members, confined to what its routes reach."""
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, instance.tenant_id)}
        members = _members(
            await self.store.list(Instance, instance.tenant_id),
            await self.store.list(NetworkInterface, instance.tenant_id),
        )
        mine = [groups[g] for g in instance.security_group_ids if g in groups]
        view = await self.routing_view(instance.tenant_id)
        lists = await self.prefix_list_cidrs(instance.tenant_id)
        return view.firewall(instance, merge_firewall(mine, members, lists))

    async def prefix_list_cidrs(self, tenant_id: str) -> dict[str, tuple[str, ...]]:
        """The CIDRs a security group rule naming a prefix list stands for, by list id: the
        tenant's managed lists' current ones (decision 0149), and the object store's addresses
        for the region's AWS-managed list (decision 0160's session-47 addendum)."""
        own = await self._own_prefix_lists(tenant_id)
        managed = managed_prefix_list_id(self.limits.region)
        return own | {managed: self.limits.vpc_endpoint_s3_addresses}

    async def _own_prefix_lists(self, tenant_id: str) -> dict[str, tuple[str, ...]]:
        """The tenant's managed prefix lists' current CIDRs, by list id — what routes may
        name (the AWS-managed list's route is its endpoint's, not a route to its blocks)."""
        return {
            p.prefix_list_id: p.cidrs for p in await self.store.list(ManagedPrefixList, tenant_id)
        }

    async def _push_firewalls(
        self, tenant_id: str, touched: Collection[str], *, vpc_ids: Collection[str] = ()
    ) -> None:
        """Recompute and push the firewall of every running instance of the tenant that is a
        member of a ``touched`` group or whose groups have a rule naming one, or that is in
        one of ``vpc_ids`` (whose routing changed). A managed prefix list's change touches
        the groups whose rules reference it."""
        if not touched and not vpc_ids:
            return
        if vpc_ids:
            await self._push_nat_routes(tenant_id, vpc_ids)
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, tenant_id)}
        instances = await self.store.list(Instance, tenant_id)
        members = _members(instances, await self.store.list(NetworkInterface, tenant_id))
        view = await self.routing_view(tenant_id)
        lists = await self.prefix_list_cidrs(tenant_id)
        for instance in instances:
            if instance.state is not InstanceState.RUNNING:
                continue
            mine = [groups[g] for g in instance.security_group_ids if g in groups]
            referenced = {
                rule.group_id
                for group in mine
                for rule in (*group.ingress, *group.egress)
                if rule.group_id is not None
            }
            if (
                not (set(instance.security_group_ids) | referenced) & set(touched)
                and instance.vpc_id not in vpc_ids
            ):
                continue
            await self._set_firewall(
                instance, view.firewall(instance, merge_firewall(mine, members, lists))
            )

    async def _set_firewall(self, instance: Instance, firewall: InstanceFirewall) -> None:
        """Push ``firewall`` to the instance's host, then record how the host wires it now: in
        user mode the forwards open and close with the ingress rules. A failure is logged: the
        rules are recorded, and the next change or start pushes them again."""
        driver = self.drivers.get(instance.host)
        if driver is None:
            return
        try:
            await driver.set_firewall(instance.instance_id, firewall)
            wired = await driver.network(instance.instance_id)
        except Exception:
            log.exception("instance %s: the firewall could not be set", instance.instance_id)
            return
        if wired is not None:
            await self._record_wired(instance.instance_id, wired)

    async def _record_wired(self, instance_id: str, wired: InstanceNetwork) -> None:
        for _ in range(10):
            current = await self.store.get(Instance, instance_id)
            if current is None or current.state is not InstanceState.RUNNING:
                return
            changed = with_wiring(current, wired)
            if changed == current or await self.store.replace(changed):
                return

    def _push_later(
        self, tenant_id: str, touched: Collection[str], *, vpc_ids: Collection[str] = ()
    ) -> None:
        self._spawn(self._push_firewalls(tenant_id, tuple(touched), vpc_ids=tuple(vpc_ids)))

    # -- subnets across hosts ----------------------------------------------------------------

    async def _current_endpoints(self) -> dict[str, tuple[str, int]]:
        """host → its VXLAN endpoint, for the hosts that have one. A host that does not answer
        now counts with what it said last (else its instances would vanish from the others'
        peers over one failed call)."""
        known = self._overlay_endpoints
        for host, driver in self.drivers.items():
            try:
                capacity = await driver.capacity()
            except Exception:
                log.warning("host %s: no capacity; its last overlay endpoint stands", host)
                continue
            if capacity.underlay_address:
                known[host] = (capacity.underlay_address, capacity.vxlan_port)
            else:
                known.pop(host, None)
        return dict(known)

    async def _network_spec(self, subnet: Subnet) -> NetworkSpec:
        """What a host is told of a subnet: its block and VXLAN id, its VPC's, whose subnets it
        routes to each other, and its network ACL (decision 0128)."""
        vpc = await self.store.get(Vpc, subnet.vpc_id)
        acls = await self.store.list(NetworkAcl, subnet.tenant_id)
        return NetworkSpec(
            subnet.subnet_id,
            subnet.tenant_id,
            subnet.cidr,
            subnet.vni,
            vpc_id=subnet.vpc_id,
            vpc_cidr=vpc.cidr if vpc is not None else "",
            acl=subnet_acl(acl_of_subnet(subnet.subnet_id, acls), ipv6=bool(subnet.ipv6_blocks)),
            dns=await self.vpc_dns(vpc) if vpc is not None else VpcDns(),
            ipv6_cidr=subnet.ipv6_cidrs[0] if subnet.ipv6_cidrs else "",
        )

    async def dhcp_options_of(self, vpc: Vpc) -> DhcpOptions | None:
        """The DHCP options set the VPC is associated with (decision 0143), None for none;
        the account's default set as EC2 has it when not stored yet (nothing is written)."""
        if vpc.dhcp_options_id == NO_OPTIONS:
            return None
        if vpc.dhcp_options_id == ACCOUNT_DEFAULT:
            stored = await self.store.get(DhcpOptions, default_dhcp_options_id(vpc.tenant_id))
            domain = region_domain(self.limits.region)
            return stored or default_dhcp_options(vpc.tenant_id, domain)
        return await self.store.get(DhcpOptions, vpc.dhcp_options_id)

    async def vpc_dns(self, vpc: Vpc) -> VpcDns:
        """What a VPC's router serves of DNS and hands out by DHCP (decision 0143): its DNS
        attributes, the Region's domain, and its DHCP options set's options (none without
        one)."""
        options = await self.dhcp_options_of(vpc)
        if options is None:
            return VpcDns(
                support=vpc.enable_dns_support,
                hostnames=vpc.dns_hostnames,
                domain=region_domain(self.limits.region),
                name_servers=(),
            )
        node_type = options.values("netbios-node-type")
        return VpcDns(
            support=vpc.enable_dns_support,
            hostnames=vpc.dns_hostnames,
            domain=region_domain(self.limits.region),
            domain_name=" ".join(options.values("domain-name")),
            name_servers=options.values("domain-name-servers"),
            ntp_servers=options.values("ntp-servers"),
            netbios_name_servers=options.values("netbios-name-servers"),
            netbios_node_type=int(node_type[0]) if node_type else 0,
        )

    async def _push_vpc_dns(self, vpc: Vpc) -> None:
        """Tell every host holding instances of the VPC what its router serves of DNS, as
        recorded now. A push that fails is logged: ``resync_hosts`` carries it again."""
        dns = await self.vpc_dns(vpc)
        instances = await self.store.list(Instance, vpc.tenant_id)
        hosts = {i.host for i in instances if i.vpc_id == vpc.vpc_id and i.state in _WIRED_ON_HOST}
        for host in sorted(hosts):
            driver = self.drivers.get(host)
            if driver is None:
                continue
            try:
                await driver.set_vpc_dns(vpc.vpc_id, dns)
            except Exception:
                log.exception("host %s: the DNS of %s could not be set", host, vpc.vpc_id)

    async def _push_vpc_dns_of(self, vpc_id: str) -> None:
        """:meth:`_push_vpc_dns` by the VPC's id (of any tenant); nothing for a VPC gone."""
        vpc = await self.store.get(Vpc, vpc_id)
        if vpc is not None:
            await self._push_vpc_dns(vpc)

    def _push_public_names_later(self, *instances: Instance) -> None:
        """The instances' public addresses came or went (a start, a stop, a termination, an
        Elastic IP): their VPCs' resolvers answer their public names (decision 0151)."""
        if not self.limits.public_dns_domain:
            return
        for vpc_id in sorted({i.vpc_id for i in instances if i.vpc_id}):
            self._spawn(self._push_vpc_dns_of(vpc_id))

    async def _push_all_vpc_dns(self, instances: Sequence[Instance]) -> None:
        """The DNS of every VPC with instances on a host, to its hosts."""
        wired = {(i.tenant_id, i.vpc_id) for i in instances if i.state in _WIRED_ON_HOST}
        for tenant_id in sorted({t for t, _ in wired}):
            for vpc in await self.store.list(Vpc, tenant_id):
                if (tenant_id, vpc.vpc_id) in wired:
                    await self._push_vpc_dns(vpc)

    async def _push_network_acls(self, tenant_id: str, subnet_ids: Collection[str]) -> None:
        """Tell every host holding instances of each subnet's VPC the subnet's network ACL, as
        it is recorded now (decision 0128): the hosts of a VPC hold all its subnets' networks,
        as :meth:`_push_peers` tells them. A push that fails is logged, as every push is:
        ``resync_hosts`` carries the whole set again."""
        if not subnet_ids:
            return
        subnets = {s.subnet_id: s for s in await self.store.list(Subnet, tenant_id)}
        acls = await self.store.list(NetworkAcl, tenant_id)
        instances = await self.store.list(Instance, tenant_id)
        for subnet_id in sorted(set(subnet_ids)):
            subnet = subnets.get(subnet_id)
            if subnet is None:
                continue  # deleted since: no host holds it
            acl = subnet_acl(acl_of_subnet(subnet_id, acls), ipv6=bool(subnet.ipv6_blocks))
            hosts = {
                i.host for i in instances if i.vpc_id == subnet.vpc_id and i.state in _WIRED_ON_HOST
            }
            for host in sorted(hosts):
                driver = self.drivers.get(host)
                if driver is None:
                    continue
                try:
                    await driver.set_network_acl(subnet_id, acl)
                except Exception:
                    log.exception(
                        "host %s: the network ACL of %s could not be set", host, subnet_id
                    )

    def _push_network_acls_later(self, tenant_id: str, subnet_ids: Collection[str]) -> None:
        self._spawn(self._push_network_acls(tenant_id, tuple(subnet_ids)))

    async def _push_nat_routes(
        self,
        tenant_id: str,
        vpc_ids: Collection[str],
        endpoints: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        """Tell every host holding instances of each VPC the NAT gateways its router applies
        there (:func:`~andromede.compute.nat_egress.nat_routes_by_host`): which one translates
        for which subnets and destinations, the others sending that traffic to it. A host
        whose instances no route sends to a NAT gateway is told none, which takes back what it
        held. A push that fails is logged: ``resync_hosts`` carries the whole set again."""
        if endpoints is None:
            endpoints = await self._current_endpoints()
        view = await self.routing_view(tenant_id)
        subnets = await self.store.list(Subnet, tenant_id)
        instances = await self.store.list(Instance, tenant_id)
        for vpc_id in sorted(set(vpc_ids)):
            wired = [
                i
                for i in instances
                if i.vpc_id == vpc_id and i.private_ip is not None and i.state in _WIRED_ON_HOST
            ]
            mine = [s for s in subnets if s.vpc_id == vpc_id]
            told = nat_routes_by_host(view, vpc_id, mine, wired, endpoints)
            for host, routes in sorted(told.items()):
                driver = self.drivers.get(host)
                if driver is None:
                    continue
                try:
                    await driver.set_nat_routes(vpc_id, routes)
                except Exception:
                    log.exception("host %s: the NAT gateways of %s could not be set", host, vpc_id)
            # Its gateway endpoints (decision 0160), to every host holding its instances.
            redirected = endpoint_routes(
                vpc_id, view.tables, mine, self.limits.vpc_endpoint_s3_addresses
            ) + await self._interface_endpoint_routes(tenant_id, vpc_id)
            # Its routes to network interfaces (decision 0161's addendum), likewise.
            forwarded = interface_routes(view, vpc_id, mine)
            for host in sorted({i.host for i in wired if i.host in self.drivers}):
                try:
                    await self.drivers[host].set_endpoint_routes(vpc_id, redirected)
                    await self.drivers[host].set_interface_routes(vpc_id, forwarded)
                except Exception:
                    log.exception("host %s: the routes of %s could not be set", host, vpc_id)

    async def _interface_endpoint_routes(
        self, tenant_id: str, vpc_id: str
    ) -> tuple[EndpointRoute, ...]:
        """The VPC's Interface endpoints as its routers redirect them: none here (decision
        0166's mixin, ``interface_endpoints.py``, has them)."""
        del tenant_id, vpc_id
        return ()

    async def _push_peers(self, *subnet_ids: str | None) -> None:
        """Tell every host with an overlay which other hosts hold instances of each subnet
        (their addresses included), and of the other subnets of its VPC that have instances:
        a host holding instances of the VPC reaches them all. Then every host of those VPCs
        its NAT gateways, whose egress host may have changed with the instances. A push that
        fails is logged: the next change or start-up carries the whole set again."""
        wanted = {s for s in subnet_ids if s is not None}
        if not wanted:
            return
        endpoints = await self._current_endpoints()
        vpcs: dict[tuple[str, str], set[str]] = {}
        for subnet_id in sorted(wanted):
            subnet = await self.store.get(Subnet, subnet_id)
            if subnet is not None:
                vpcs.setdefault((subnet.tenant_id, subnet.vpc_id), set()).add(subnet_id)
        if endpoints:
            await self._push_overlay_peers(vpcs, endpoints)
        for tenant_id in sorted({tenant for tenant, _ in vpcs}):
            vpc_ids = [vpc for tenant, vpc in vpcs if tenant == tenant_id]
            await self._push_nat_routes(tenant_id, vpc_ids, endpoints)

    async def _push_overlay_peers(
        self, vpcs: Mapping[tuple[str, str], set[str]], endpoints: Mapping[str, tuple[str, int]]
    ) -> None:
        for (tenant_id, vpc_id), asked in sorted(vpcs.items()):
            wired = [
                i
                for i in await self.store.list(Instance, tenant_id)
                if i.vpc_id == vpc_id and i.private_ip is not None and i.state in _WIRED_ON_HOST
            ]
            vpc_hosts = {i.host for i in wired}
            # Each interface's addresses where its instance is wired (decision 0161): a
            # further interface's and the secondary addresses, in their own subnets.
            hosts = {i.instance_id: i.host for i in wired}
            extra = [
                (interface.subnet_id, hosts[interface.instance_id], address)
                for interface in await self.store.list(NetworkInterface, tenant_id)
                if interface.instance_id in hosts
                for address in (
                    interface.addresses if interface.device_index > 0 else interface.secondary_ips
                )
            ]
            holding = {i.subnet_id for i in wired} | {subnet_id for subnet_id, _, _ in extra}
            for subnet in await self.store.list(Subnet, tenant_id):
                # The subnets asked for (a subnet's last instance gone is told as none), and
                # the VPC's others that have instances somewhere.
                if subnet.vpc_id != vpc_id or not (
                    subnet.subnet_id in asked or subnet.subnet_id in holding
                ):
                    continue
                spec = await self._network_spec(subnet)
                placed = [
                    (i.host, i.private_ip)
                    for i in wired
                    if i.subnet_id == subnet.subnet_id and i.private_ip is not None
                ] + [(host, address) for held, host, address in extra if held == subnet.subnet_id]
                for host, peers in network_peers(placed, endpoints, vpc_hosts).items():
                    try:
                        await self.drivers[host].set_network_peers(
                            subnet.subnet_id, peers, network=spec
                        )
                    except Exception:
                        log.exception(
                            "host %s: the peers of %s could not be set", host, subnet.subnet_id
                        )

    async def resync_hosts(self) -> None:
        """Push every running instance's firewall, every subnet's peers and the network ACL
        of every subnet of a VPC with instances on a host again, from the records. Pushes made
        by different gateways (or worker processes) can reach a host out of order, and a
        gateway can die between recording a change and pushing it; this pass, run every
        ``compute_resync_interval``, makes every host converge on the records within one
        interval (as Neutron's agents resync). A host that does not answer is logged and
        skipped, as in every push."""
        instances = await self.store.list(Instance, None)
        tenants = sorted({i.tenant_id for i in instances if i.state is InstanceState.RUNNING})
        for tenant_id in tenants:
            groups = {g.group_id: g for g in await self.store.list(SecurityGroup, tenant_id)}
            mine = [i for i in instances if i.tenant_id == tenant_id]
            members = _members(mine, await self.store.list(NetworkInterface, tenant_id))
            view = await self.routing_view(tenant_id)
            lists = await self.prefix_list_cidrs(tenant_id)
            for instance in mine:
                if instance.state is InstanceState.RUNNING:
                    held = [groups[g] for g in instance.security_group_ids if g in groups]
                    merged = merge_firewall(held, members, lists)
                    await self._set_firewall(instance, view.firewall(instance, merged))
        await self._push_peers(*{i.subnet_id for i in instances if i.state in _WIRED_ON_HOST})
        await self._push_all_network_acls(instances)
        await self._push_all_vpc_dns(instances)

    async def _push_all_network_acls(self, instances: Sequence[Instance]) -> None:
        """The network ACL of every subnet of every VPC with instances on a host, to its
        hosts."""
        wired = {(i.tenant_id, i.vpc_id) for i in instances if i.state in _WIRED_ON_HOST}
        for tenant_id in sorted({t for t, _ in wired}):
            subnets = await self.store.list(Subnet, tenant_id)
            await self._push_network_acls(
                tenant_id, [s.subnet_id for s in subnets if (tenant_id, s.vpc_id) in wired]
            )

    async def _push_all_peers(self) -> None:
        """At start-up: every subnet that has instances is pushed again, its peers and the
        network ACLs of its VPC's subnets, and its VPC's DNS."""
        instances = await self.store.list(Instance, None)
        await self._push_peers(*{i.subnet_id for i in instances if i.state in _WIRED_ON_HOST})
        await self._push_all_network_acls(instances)
        await self._push_all_vpc_dns(instances)


def with_wiring(instance: Instance, network: InstanceNetwork) -> Instance:
    """``instance`` recording how its host wired it."""
    return replace(
        instance,
        network_mode=network.mode.value,
        public_ip=network.public_ip,
        host_facing_ip=network.host_facing_ip or network.public_ip,
        forwards=tuple((f.host_address, f.host_port, f.guest_port) for f in network.forwards),
    )


def _members(
    instances: Sequence[Instance], interfaces: Sequence[NetworkInterface] = ()
) -> dict[str, list[str]]:
    """Group id → its members' addresses: the instances' primary addresses, (decision 0161)
    the addresses of the interfaces attached beyond a primary, in their own groups, and
    (session 50) the node addresses of Network Load Balancers in theirs."""
    members: dict[str, list[str]] = {}
    holding = set()
    for instance in instances:
        if instance.private_ip is None or instance.state not in _HOLDS_ADDRESS:
            continue
        holding.add(instance.instance_id)
        for group_id in instance.security_group_ids:
            members.setdefault(group_id, []).append(instance.private_ip)
    for interface in interfaces:
        # Session 50 (decision 0191): a Network Load Balancer's node is a member of the load
        # balancer's groups — a rule naming one admits its address, and the hosts' routers
        # also admit the flows that node translated (the client's address preserved).
        node = not interface.instance_id and interface.description.startswith("ELB net/")
        if not node and (interface.device_index == 0 or interface.instance_id not in holding):
            continue
        for group_id in interface.group_ids:
            members.setdefault(group_id, []).append(interface.private_ip)
    # Their IPv6 addresses too (decision 0217): a primary's in its instance's groups.
    groups_of = {i.instance_id: i.security_group_ids for i in instances}
    for interface in interfaces:
        if not interface.ipv6_addresses or interface.instance_id not in holding:
            continue
        held = groups_of.get(interface.instance_id, ()) if interface.device_index == 0 else ()
        for group_id in held or interface.group_ids:
            members.setdefault(group_id, []).extend(interface.ipv6_addresses)
    return members
