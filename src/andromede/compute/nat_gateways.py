"""NAT gateways in the compute service (decision 0129): CreateNatGateway, DescribeNatGateways,
DeleteNatGateway, and what each change pushes to the hosts.

A gateway is made in one transaction serialised on its subnet's revision
(:meth:`ComputeStore.change`): the gateway, the requester-managed interface holding its private
address (the store keeps a subnet's addresses unique, so neither an instance launched at once
nor another gateway gets it) and its Elastic IP's association (at the revision it was read
free: two gateways, or a gateway and an instance, never take one address). Deleting it writes
the gateway ``deleted``, lets go of the address and deletes the interface in one transaction
too.

A route's effect is the instances' firewalls and, on the hosts, where their traffic leaves
(``routing.py``): every create and delete pushes the firewalls of the VPC's running instances,
whose routes to the gateway turn active or blackhole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import (
    AlreadyAssociated,
    Duplicate,
    GatewayNotAttached,
    IncorrectState,
    InsufficientCapacity,
    MissingParameter,
    NetworkLimitExceeded,
    NotFound,
    Unsupported,
)
from andromede.compute.gateways import RoutingMixin
from andromede.compute.model import (
    Tags,
    check_client_token,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.nat_gateway import (
    CONNECTIVITY_PUBLIC,
    INTERFACE_TYPE,
    NatGateway,
    NatGatewayState,
)
from andromede.compute.network import NetworkInterface, Subnet, free_addresses, new_mac
from andromede.compute.routing import InternetGateway

__all__ = ["NatGatewaysMixin"]

_ATTEMPTS = 8


class NatGatewaysMixin(RoutingMixin):
    async def create_nat_gateway(
        self,
        tenant_id: str,
        subnet_id: str,
        allocation_id: str | None,
        *,
        connectivity_type: str = CONNECTIVITY_PUBLIC,
        tags: Tags = (),
        client_token: str | None = None,
    ) -> NatGateway:
        """A public NAT gateway in the subnet, holding the Elastic IP ``allocation_id`` (the
        tenant's, associated with nothing) and the lowest free address of the subnet. With a
        client token (Terraform sends one), at most once per account and token."""
        if connectivity_type != CONNECTIVITY_PUBLIC:
            raise Unsupported(
                f"ConnectivityType '{connectivity_type[:32]}' is not supported here: only "
                f"'{CONNECTIVITY_PUBLIC}' NAT gateways are offered"
            )
        check_tags(tags)
        check_id(subnet_id, "subnet")
        if allocation_id is None:
            raise MissingParameter("The request must contain the parameter AllocationId")
        check_id(allocation_id, "eipalloc")
        nat_id, digest = new_id("nat"), ""
        if client_token is not None:
            check_client_token(client_token)
            nat_id = token_id("nat", tenant_id, client_token)
            digest = request_digest(
                {"subnet": subnet_id, "allocation": allocation_id, "tags": tags}
            )
        for _ in range(_ATTEMPTS):
            if digest:
                earlier = await self._made_with_token(NatGateway, tenant_id, nat_id, digest)
                if earlier is not None:
                    return earlier
            subnet = await self._owned(Subnet, tenant_id, subnet_id, "subnet")
            vpc = await self.routed(await self.owned_vpc(tenant_id, subnet.vpc_id))
            address = await self._owned(ElasticAddress, tenant_id, allocation_id, "eipalloc")
            if address.association_id is not None:
                raise AlreadyAssociated(f"Elastic IP address {allocation_id} is already associated")
            gateways = await self.store.list(InternetGateway, tenant_id)
            if not any(g.vpc_id == vpc.vpc_id for g in gateways):
                raise GatewayNotAttached(f"Network {vpc.vpc_id} has no Internet gateway attached")
            held = [n for n in await self.store.list(NatGateway, tenant_id) if n.live]
            if len(held) >= self.limits.max_nat_gateways_per_az:
                raise NetworkLimitExceeded(
                    "nat", "The maximum number of NAT gateways has been reached."
                )
            interfaces = await self.store.list(NetworkInterface, tenant_id)
            taken = {i.private_ip for i in interfaces if i.subnet_id == subnet_id}
            free = free_addresses(subnet.cidr, taken, 1)
            if not free:
                raise InsufficientCapacity(
                    "Subnet has insufficient free addresses to create this NAT gateway"
                )
            now = self.clock()
            interface = NetworkInterface(
                interface_id=new_id("eni"),
                tenant_id=tenant_id,
                vpc_id=vpc.vpc_id,
                subnet_id=subnet_id,
                availability_zone=subnet.availability_zone,
                private_ip=free[0],
                mac=new_mac(),
                instance_id="",
                created_at=now,
                interface_type=INTERFACE_TYPE,
            )
            gateway = NatGateway(
                nat_id,
                tenant_id,
                vpc.vpc_id,
                subnet_id,
                allocation_id=allocation_id,
                association_id=new_id("eipassoc"),
                public_ip=address.public_ip,
                network_interface_id=interface.interface_id,
                private_ip=interface.private_ip,
                create_time=now,
                tags=tags,
                client_token=client_token,
                request_digest=digest,
            )
            associated = replace(
                address,
                association_id=gateway.association_id,
                network_interface_id=interface.interface_id,
                private_ip=interface.private_ip,
                nat_gateway_id=nat_id,
            )
            try:
                if await self.store.change(
                    subnet, insert=[gateway, interface], replace=[associated]
                ):
                    self._push_later(tenant_id, (), vpc_ids=(vpc.vpc_id,))
                    return gateway
            except Duplicate:
                # The address was taken at once by an instance or another gateway, or the
                # same tokened request on another gateway wrote the gateway first: read again.
                continue
        raise IncorrectState(f"{subnet_id} changed concurrently; retry")

    def _visible_window(self) -> timedelta:
        return timedelta(seconds=self.limits.nat_gateway_deleted_visible_seconds)

    async def describe_nat_gateways(self, tenant_id: str, ids: Sequence[str]) -> list[NatGateway]:
        """The tenant's NAT gateways in id order (deleted ones while they stay visible), or
        those named: each must be the tenant's and visible (EC2's NatGatewayNotFound)."""
        now, window = self.clock(), self._visible_window()
        found = {
            n.nat_gateway_id: n
            for n in await self.store.list(NatGateway, tenant_id)
            if n.visible(now, window)
        }
        if not ids:
            return [found[key] for key in sorted(found)]
        chosen = []
        for wanted in dict.fromkeys(ids):
            check_id(wanted, "nat")
            if wanted not in found:
                raise NotFound("nat", wanted)
            chosen.append(found[wanted])
        return chosen

    async def nat_gateways_by_id(self, tenant_id: str) -> dict[str, NatGateway]:
        """Every NAT gateway record of the tenant by id (a route's state needs them)."""
        return {n.nat_gateway_id: n for n in await self.store.list(NatGateway, tenant_id)}

    async def delete_nat_gateway(self, tenant_id: str, nat_gateway_id: str) -> NatGateway:
        """The gateway ``deleted``, its Elastic IP let go of and its interface deleted, in one
        write. Deleting one deleted already answers it again, as EC2 does while it is shown."""
        for _ in range(_ATTEMPTS):
            gateway = await self._owned(NatGateway, tenant_id, nat_gateway_id, "nat")
            if not gateway.visible(self.clock(), self._visible_window()):
                raise NotFound("nat", nat_gateway_id)
            if not gateway.live:
                return gateway
            others: list[ElasticAddress] = []
            address = await self.store.get(ElasticAddress, gateway.allocation_id)
            if address is not None and address.nat_gateway_id == nat_gateway_id:
                others.append(
                    replace(
                        address,
                        association_id=None,
                        network_interface_id=None,
                        private_ip=None,
                        nat_gateway_id=None,
                    )
                )
            deleted = replace(gateway, state=NatGatewayState.DELETED, delete_time=self.clock())
            if await self.store.change(
                deleted,
                replace=others,
                delete=[(NetworkInterface, gateway.network_interface_id)],
            ):
                self._push_later(tenant_id, (), vpc_ids=(gateway.vpc_id,))
                return replace(deleted, revision=deleted.revision + 1)
        raise IncorrectState(f"{nat_gateway_id} changed concurrently; retry")

    async def live_nat_gateways(self, tenant_id: str) -> list[NatGateway]:
        """The tenant's NAT gateways that hold an address (neither deleted nor failed)."""
        return [n for n in await self.store.list(NatGateway, tenant_id) if n.live]
