"""Interface VPC endpoints in the compute service (decision 0166): made, changed and deleted
with their requester-managed network interfaces; what the VPC's routers send to them; the
names the VPC's resolver answers with their addresses.

An Interface endpoint and its interfaces (one per subnet, type ``vpc_endpoint``, under the
endpoint's security groups) are written in one ``ComputeStore.change``: no interface of an
endpoint that does not exist, no endpoint naming an interface that is not there. The tenant
cannot detach, change or delete those interfaces (``NetworkInterfacesMixin._interface``
refuses every interface that is not its own, as EC2 answers for requester-managed ones).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
    VpcDns,
)
from andromede.compute.errors import (
    DifferentNetworks,
    Duplicate,
    DuplicateSubnetsInSameZone,
    IncorrectState,
    InvalidParameterValue,
    MissingParameter,
    NetworkLimitExceeded,
)
from andromede.compute.model import Instance, SecurityGroup
from andromede.compute.network import (
    NetworkInterface,
    Subnet,
    Vpc,
    free_addresses,
    merge_firewall,
    new_mac,
)
from andromede.compute.network_interfaces import NetworkInterfacesMixin
from andromede.compute.networks import _members
from andromede.compute.resource_ids import (
    check_client_token,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.store import Record
from andromede.compute.vpc_endpoint import (
    DEFAULT_POLICY,
    ENI_TYPE,
    EndpointType,
    InterfaceEndpointChange,
    InterfaceEndpointRequest,
    VpcEndpoint,
    interface_endpoint_routes,
)
from andromede.compute.vpc_endpoints import VpcEndpointsMixin

__all__ = ["InterfaceEndpointsMixin"]

_ATTEMPTS = 8


class InterfaceEndpointsMixin(NetworkInterfacesMixin, VpcEndpointsMixin):
    # -- making --------------------------------------------------------------------------------

    async def create_interface_endpoint(
        self, tenant_id: str, request: InterfaceEndpointRequest
    ) -> VpcEndpoint:
        service = self._service(request.service_name, interface=True)
        check_tags(request.tags)
        subnet_ids = tuple(dict.fromkeys(request.subnet_ids))
        if not subnet_ids:
            raise MissingParameter("The request must contain the parameter SubnetId")
        text = request.policy if request.policy is not None else DEFAULT_POLICY
        endpoint_id, digest = new_id("vpce"), ""
        if request.client_token is not None:
            check_client_token(request.client_token)
            endpoint_id = token_id("vpce", tenant_id, request.client_token)
            digest = request_digest(
                {
                    "vpc": request.vpc_id, "service": service, "subnets": subnet_ids,
                    "groups": request.group_ids, "dns": request.private_dns_enabled,
                    "policy": text, "tags": request.tags,
                }
            )  # fmt: skip
        for _ in range(_ATTEMPTS):
            if digest:
                earlier = await self._made_with_token(VpcEndpoint, tenant_id, endpoint_id, digest)
                if earlier is not None:
                    return earlier
            vpc = await self._owned(Vpc, tenant_id, request.vpc_id, "vpc")
            held = await self.store.list(VpcEndpoint, tenant_id)
            if len(held) >= self.limits.max_vpc_endpoints:
                raise NetworkLimitExceeded(
                    "vpce", "The maximum number of VPC endpoints has been reached."
                )
            in_vpc = [e for e in held if e.vpc_id == vpc.vpc_id and e.interface]
            if len(in_vpc) >= self.limits.max_interface_endpoints_per_vpc:
                raise NetworkLimitExceeded(
                    "vpce",
                    f"The maximum number of Interface endpoints in {vpc.vpc_id} has been reached.",
                )
            if request.private_dns_enabled:
                self._check_dns_free(vpc.vpc_id, in_vpc, endpoint_id)
            subnets = await self._endpoint_subnets(tenant_id, vpc.vpc_id, subnet_ids, ())
            groups = await self._interface_groups(tenant_id, subnets[0], request.group_ids)
            endpoint = VpcEndpoint(
                endpoint_id,
                tenant_id,
                vpc.vpc_id,
                service,
                "",
                (),
                text,
                self.clock(),
                tags=request.tags,
                client_token=request.client_token,
                request_digest=digest,
                endpoint_type=EndpointType.INTERFACE.value,
                group_ids=groups,
                private_dns_enabled=request.private_dns_enabled,
            )
            interfaces = await self._endpoint_interfaces(endpoint, subnets)
            endpoint = replace(
                endpoint,
                subnet_ids=subnet_ids,
                network_interface_ids=tuple(i.interface_id for i in interfaces),
            )
            try:
                if await self.store.change(vpc, insert=[endpoint, *interfaces]):
                    self._push_routes_later(tenant_id, vpc.vpc_id)
                    if endpoint.private_dns_enabled:
                        self._spawn(self._push_vpc_dns_of(vpc.vpc_id))
                    return endpoint
            except Duplicate:
                if request.client_token is None and not interfaces:
                    raise
                continue  # an address was taken meanwhile, or the same token's call won
        raise IncorrectState(f"{request.vpc_id} changed concurrently; retry")

    def _check_dns_free(
        self, vpc_id: str, endpoints: Sequence[VpcEndpoint], endpoint_id: str
    ) -> None:
        """One endpoint of a VPC answers the service's names (EC2: a conflicting DNS domain)."""
        if any(e.private_dns_enabled and e.vpc_endpoint_id != endpoint_id for e in endpoints):
            name = self.limits.endpoint_private_dns_names[:1] or ("the service",)
            raise DifferentNetworks(
                f"private-dns-enabled cannot be set because there is already a conflicting"
                f" DNS domain for {name[0]} in the VPC {vpc_id}"
            )

    async def _endpoint_subnets(
        self, tenant_id: str, vpc_id: str, subnet_ids: Sequence[str], kept: Sequence[str]
    ) -> list[Subnet]:
        """The subnets ``subnet_ids`` (the VPC's, each in a zone of its own and none of the
        zones of the subnets ``kept``)."""
        zones: dict[str, str] = {}
        for subnet_id in kept:
            found = await self.store.get(Subnet, subnet_id)
            if found is not None:
                zones[found.availability_zone] = subnet_id
        subnets = []
        for subnet_id in subnet_ids:
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            if subnet.vpc_id != vpc_id:
                raise DifferentNetworks(
                    f"The subnet ID '{subnet_id}' does not belong to the VPC '{vpc_id}'"
                )
            other = zones.get(subnet.availability_zone)
            if other is not None:
                raise DuplicateSubnetsInSameZone(
                    f"Found another VPC endpoint subnet in the availability zone of {other}."
                    " VPC endpoint subnets should be in different availability zones"
                    " supported by the VPC endpoint service."
                )
            zones[subnet.availability_zone] = subnet_id
            subnets.append(subnet)
        return subnets

    async def _endpoint_interfaces(
        self, endpoint: VpcEndpoint, subnets: Sequence[Subnet]
    ) -> list[NetworkInterface]:
        """A requester-managed interface of the endpoint in each of ``subnets``, on its
        lowest free address (the store's uniqueness decides between gateways)."""
        made = []
        for subnet in subnets:
            free = free_addresses(subnet.cidr, await self._taken_addresses(subnet), 1)
            if not free:
                raise NetworkLimitExceeded(
                    "private-ip-capacity",
                    f"There are not enough free addresses in subnet '{subnet.subnet_id}'",
                )
            made.append(
                NetworkInterface(
                    interface_id=new_id("eni"),
                    tenant_id=endpoint.tenant_id,
                    vpc_id=endpoint.vpc_id,
                    subnet_id=subnet.subnet_id,
                    availability_zone=subnet.availability_zone,
                    private_ip=free[0],
                    mac=new_mac(),
                    instance_id="",
                    created_at=self.clock(),
                    interface_type=ENI_TYPE,
                    description=f"VPC Endpoint Interface {endpoint.vpc_endpoint_id}",
                    group_ids=endpoint.group_ids,
                )
            )
        return made

    # -- changing ------------------------------------------------------------------------------

    async def modify_vpc_endpoint(
        self,
        tenant_id: str,
        vpc_endpoint_id: str,
        *,
        add_route_table_ids: Sequence[str] = (),
        remove_route_table_ids: Sequence[str] = (),
        policy: str | None = None,
        reset_policy: bool = False,
        interface: InterfaceEndpointChange | None = None,
    ) -> None:
        """A gateway endpoint's tables, or an Interface endpoint's subnets, groups and
        private DNS; either's policy. Each type's parameters only for it, as EC2 checks."""
        interface = interface or InterfaceEndpointChange()
        endpoint = await self._owned(VpcEndpoint, tenant_id, vpc_endpoint_id, "vpce")
        if not endpoint.interface:
            if interface:
                raise InvalidParameterValue(
                    "Subnets, security groups and private DNS are an Interface endpoint's"
                )
            await super().modify_vpc_endpoint(
                tenant_id,
                vpc_endpoint_id,
                add_route_table_ids=add_route_table_ids,
                remove_route_table_ids=remove_route_table_ids,
                policy=policy,
                reset_policy=reset_policy,
            )
            return
        if add_route_table_ids or remove_route_table_ids:
            raise InvalidParameterValue("Route tables are a Gateway endpoint's")
        if reset_policy and policy is not None:
            raise InvalidParameterValue("PolicyDocument and ResetPolicy cannot be used together")
        for _ in range(_ATTEMPTS):
            text = DEFAULT_POLICY if reset_policy else (policy or endpoint.policy_document)
            if await self._modify_interface_endpoint(tenant_id, endpoint, interface, text):
                return
            endpoint = await self._owned(VpcEndpoint, tenant_id, vpc_endpoint_id, "vpce")
        raise IncorrectState(f"{vpc_endpoint_id} changed concurrently; retry")

    async def _modify_interface_endpoint(
        self,
        tenant_id: str,
        endpoint: VpcEndpoint,
        change: InterfaceEndpointChange,
        policy: str,
    ) -> bool:
        """``endpoint`` (read at its revision) with ``change`` and ``policy`` written, with
        its interfaces made, regrouped and deleted in the same change; False when the
        endpoint or an interface moved on meanwhile (the caller reads again)."""
        adding = tuple(s for s in dict.fromkeys(change.add_subnet_ids))
        removing = set(change.remove_subnet_ids)
        if set(adding) & removing:
            raise InvalidParameterValue(
                "A subnet cannot be both added to and removed from an endpoint"
            )
        for subnet_id in removing:
            check_id(subnet_id, "subnet")
        fresh = [s for s in adding if s not in endpoint.subnet_ids]
        kept_subnets = [s for s in endpoint.subnet_ids if s not in removing]
        subnets = await self._endpoint_subnets(tenant_id, endpoint.vpc_id, fresh, kept_subnets)
        groups = tuple(
            g for g in dict.fromkeys((*endpoint.group_ids, *change.add_group_ids))
            if g not in change.remove_group_ids
        )  # fmt: skip
        if change.add_group_ids:
            await self.check_groups_in(
                tenant_id, endpoint.vpc_id, change.add_group_ids, f"VPC {endpoint.vpc_id}"
            )
        if not groups:
            raise InvalidParameterValue("An Interface endpoint keeps at least one security group")
        dns = endpoint.private_dns_enabled
        if change.private_dns_enabled is not None:
            dns = change.private_dns_enabled
        if dns and not endpoint.private_dns_enabled:
            held = await self.store.list(VpcEndpoint, tenant_id)
            self._check_dns_free(
                endpoint.vpc_id,
                [e for e in held if e.vpc_id == endpoint.vpc_id and e.interface],
                endpoint.vpc_endpoint_id,
            )
        changed = replace(
            endpoint, group_ids=groups, private_dns_enabled=dns, policy_document=policy
        )
        made = await self._endpoint_interfaces(changed, subnets)
        current = [
            i
            for i in await self.store.list(NetworkInterface, tenant_id)
            if i.interface_id in endpoint.network_interface_ids
        ]
        gone = [i for i in current if i.subnet_id in removing]
        regrouped = [
            replace(i, group_ids=groups) for i in current if i not in gone and i.group_ids != groups
        ]
        remaining = [i.interface_id for i in current if i not in gone]
        changed = replace(
            changed,
            subnet_ids=(*kept_subnets, *fresh),
            network_interface_ids=(*remaining, *(i.interface_id for i in made)),
        )
        deleted: list[tuple[type[Record], str]] = [(NetworkInterface, i.interface_id) for i in gone]
        try:
            done = await self.store.change(changed, insert=made, replace=regrouped, delete=deleted)
        except Duplicate:
            return False  # an address was taken meanwhile: read again
        if done:
            self._push_routes_later(tenant_id, endpoint.vpc_id)
            if dns or endpoint.private_dns_enabled:
                self._spawn(self._push_vpc_dns_of(endpoint.vpc_id))
        return done

    # -- what the hosts are told ---------------------------------------------------------------

    async def _interface_endpoint_routes(
        self, tenant_id: str, vpc_id: str
    ) -> tuple[EndpointRoute, ...]:
        """The VPC's Interface endpoints as its routers redirect them (the hook of
        ``NetworksMixin``'s routing push), each under its groups' ingress rules."""
        endpoints = [
            e for e in await self.store.list(VpcEndpoint, tenant_id)
            if e.vpc_id == vpc_id and e.interface
        ]  # fmt: skip
        if not endpoints:
            return ()
        vpc = await self.store.get(Vpc, vpc_id)
        if vpc is None:
            return ()
        interfaces = await self.store.list(NetworkInterface, tenant_id)
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, tenant_id)}
        members = _members(await self.store.list(Instance, tenant_id), interfaces)
        lists = await self.prefix_list_cidrs(tenant_id)
        ingress: dict[str, tuple[FirewallRule, ...]] = {
            e.vpc_endpoint_id: merge_firewall(
                [groups[g] for g in e.group_ids if g in groups], members, lists
            ).ingress
            for e in endpoints
        }
        return interface_endpoint_routes((vpc_id, vpc.cidr), endpoints, interfaces, ingress)

    async def _push_firewalls(
        self, tenant_id: str, touched: Collection[str], *, vpc_ids: Collection[str] = ()
    ) -> None:
        """Besides the instances' and interfaces' firewalls: the routing of the VPCs whose
        Interface endpoints are under a touched group (or one whose rules name it), so a
        group's change reaches the endpoints' rules on the hosts at once."""
        await super()._push_firewalls(tenant_id, touched, vpc_ids=vpc_ids)
        if not touched:
            return
        groups = {g.group_id: g for g in await self.store.list(SecurityGroup, tenant_id)}
        stale = set()
        for endpoint in await self.store.list(VpcEndpoint, tenant_id):
            if not endpoint.interface or endpoint.vpc_id in vpc_ids:
                continue
            referenced = {
                rule.group_id
                for group_id in endpoint.group_ids
                if group_id in groups
                for rule in groups[group_id].ingress
                if rule.group_id is not None
            }
            if (set(endpoint.group_ids) | referenced) & set(touched):
                stale.add(endpoint.vpc_id)
        if stale:
            await self._push_nat_routes(tenant_id, sorted(stale))

    async def vpc_dns(self, vpc: Vpc) -> VpcDns:
        """The VPC's DNS, with the object store's names standing for the addresses of its
        Interface endpoint with private DNS on (decision 0166), as EC2's resolver answers a
        service's regional name inside the VPC."""
        dns = await super().vpc_dns(vpc)
        names = self.limits.endpoint_private_dns_names
        if not names:
            return dns
        endpoint = next(
            (
                e
                for e in await self.store.list(VpcEndpoint, vpc.tenant_id)
                if e.vpc_id == vpc.vpc_id and e.interface and e.private_dns_enabled
            ),
            None,
        )
        if endpoint is None:
            return dns
        addresses = [
            i.private_ip
            for i in await self.store.list(NetworkInterface, vpc.tenant_id)
            if i.interface_id in endpoint.network_interface_ids
        ]
        pairs = {(name, address) for name in names for address in addresses}
        return replace(dns, public_names=tuple(sorted({*dns.public_names, *pairs})))
