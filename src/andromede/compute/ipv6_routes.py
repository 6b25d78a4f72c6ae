"""Routes to IPv6 blocks (decision 0217): CreateRoute, ReplaceRoute and DeleteRoute with
``DestinationIpv6CidrBlock``, to an internet gateway of the table's VPC — Terraform's
``aws_route`` with ``destination_ipv6_cidr_block = "::/0"`` and an ``aws_route_table``'s
``ipv6_cidr_block`` routes. They are stored in the table (:attr:`RouteTable.ipv6_routes`) and
shown by DescribeRouteTables with EC2's states; the hosts route no IPv6 beyond the VPC yet
(no IPv6 way out), which the decision says. Each VPC's own IPv6 blocks are its tables' local
routes, derived, never stored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from andromede.compute.errors import (
    IncorrectState,
    InvalidParameterValue,
    NetworkLimitExceeded,
    RouteExists,
    RouteNotFound,
)
from andromede.compute.gateways import RoutingMixin
from andromede.compute.routing import Route, routes_weight

__all__ = ["Ipv6RoutesMixin"]

_ATTEMPTS = 8


def ipv6_destination(cidr: str) -> str:
    """A route's IPv6 destination in canonical form; EC2's InvalidParameterValue otherwise."""
    try:
        return str(ipaddress.IPv6Network(cidr, strict=False))
    except ValueError:
        raise InvalidParameterValue(
            f"Value ({cidr[:64]}) for parameter destinationIpv6CidrBlock is invalid. "
            "This is not a valid IPv6 CIDR block."
        ) from None


class Ipv6RoutesMixin(RoutingMixin):
    async def create_ipv6_route(
        self, tenant_id: str, route_table_id: str, destination: str, gateway_id: str
    ) -> None:
        await self._change_ipv6_route(
            tenant_id, route_table_id, destination, gateway_id, create=True
        )

    async def replace_ipv6_route(
        self, tenant_id: str, route_table_id: str, destination: str, gateway_id: str
    ) -> None:
        await self._change_ipv6_route(
            tenant_id, route_table_id, destination, gateway_id, create=False
        )

    async def _change_ipv6_route(
        self,
        tenant_id: str,
        route_table_id: str,
        destination: str,
        gateway_id: str,
        *,
        create: bool,
    ) -> None:
        block = ipv6_destination(destination)
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            vpc = await self.owned_vpc(tenant_id, table.vpc_id)
            await self._route_target(tenant_id, table, gateway_id)
            network = ipaddress.IPv6Network(block)
            for own in vpc.ipv6_blocks:
                if network.subnet_of(ipaddress.IPv6Network(own.cidr)):
                    # Within the VPC's block is its local route's (no more specific IPv6
                    # route to an interface here yet).
                    raise InvalidParameterValue(
                        f"The destination CIDR block {block} is equal to or more specific "
                        f"than one of this VPC's CIDR blocks. This route can target only "
                        f"an interface or an instance."
                    )
            existing = next((r for r in table.ipv6_routes if r.destination == block), None)
            if create and existing is not None:
                raise RouteExists(f"The route identified by {block} already exists.")
            if not create and existing is None:
                raise InvalidParameterValue(
                    f"There is no route defined for '{block}' in the route table. Use "
                    "CreateRoute instead."
                )
            kept = tuple(r for r in table.ipv6_routes if r.destination != block)
            changed = replace(table, ipv6_routes=(*kept, Route(block, gateway_id)))
            lists = {p.prefix_list_id: p.max_entries for p in await self._lists_named(changed)}
            weight = routes_weight(changed.routes, lists) + len(changed.ipv6_routes)
            if create and weight > self.limits.max_routes_per_route_table:
                raise NetworkLimitExceeded(
                    "route", "The maximum number of routes has been reached for this route table."
                )
            if await self.store.replace(changed):
                return
        raise IncorrectState(f"{route_table_id} changed concurrently; retry")

    async def delete_ipv6_route(
        self, tenant_id: str, route_table_id: str, destination: str
    ) -> None:
        block = ipv6_destination(destination)
        for _ in range(_ATTEMPTS):
            table = await self._table(tenant_id, route_table_id)
            if not any(r.destination == block for r in table.ipv6_routes):
                raise RouteNotFound(block, route_table_id, "destination-ipv6-cidr-block")
            kept = tuple(r for r in table.ipv6_routes if r.destination != block)
            if await self.store.replace(replace(table, ipv6_routes=kept)):
                return
        raise IncorrectState(f"{route_table_id} changed concurrently; retry")
