"""A route table's routes to prefix lists expanded into routes to their blocks, pure
(compute/routing.py, decision 0149's addendum): EC2's precedence between a route to a block
and a list's entry, between two lists, and the local route; the weight of a route to a list
against the routes quota; and what a NAT gateway and a peering connection are sent through a
list, longest prefix first."""

from __future__ import annotations

from datetime import UTC, datetime

from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import Vpc
from andromede.compute.routing import (
    InternetGateway,
    Route,
    RouteTable,
    RouteTableAssociation,
    RoutingView,
    expanded,
    routes_weight,
)
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection
from support.computekit import TENANT

LOCAL = Route("10.9.0.0/16", "local", "CreateRouteTable")


def _table(*routes: Route) -> RouteTable:
    return RouteTable(
        "rtb-1", TENANT, "vpc-1", (LOCAL, *routes), (RouteTableAssociation("rtbassoc-1", None),)
    )


def _to_list(list_id: str, gateway_id: str = "igw-1", nat: str | None = None) -> Route:
    return Route(
        "", "" if nat else gateway_id, nat_gateway_id=nat, destination_prefix_list_id=list_id
    )


def _targets(table: RouteTable) -> dict[str, str]:
    return {r.destination: r.target for r in table.routes}


def test_a_table_without_lists_is_left_as_it_is() -> None:
    table = _table(Route("0.0.0.0/0", "igw-1"))
    assert expanded(table, {"pl-a": ("192.0.2.0/24",)}) is table


def test_a_list_stands_for_its_blocks_in_ec2s_precedence() -> None:
    lists = {
        "pl-a": ("192.0.2.0/24", "198.51.100.0/24", "10.9.8.0/24", "2001:db8::/32"),
        "pl-b": ("198.51.100.0/24", "203.0.113.0/24"),
        "pl-gone": (),
    }
    table = _table(
        _to_list("pl-b", nat="nat-1"),
        Route("192.0.2.0/24", "", nat_gateway_id="nat-1"),
        _to_list("pl-a"),
        _to_list("pl-gone"),
    )
    got = expanded(table, lists)
    assert all(r.destination_prefix_list_id is None for r in got.routes)
    assert _targets(got) == {
        "10.9.0.0/16": "local",
        # A route to the block wins over the list's entry of the same prefix (a static route).
        "192.0.2.0/24": "nat-1",
        # Two lists holding one block: the list whose id sorts first (EC2: one chosen, kept).
        "198.51.100.0/24": "igw-1",
        "203.0.113.0/24": "nat-1",
        # The entry inside the VPC's block stays the local route's; the IPv6 one routes
        # nothing on the IPv4 networks; an empty list nothing.
    }
    assert len(got.routes) == 4


def test_a_route_to_a_list_weighs_its_max_entries() -> None:
    table = _table(Route("0.0.0.0/0", "igw-1"), _to_list("pl-a"), _to_list("pl-b"))
    assert routes_weight(table.routes, {"pl-a": 10, "pl-b": 3}) == 14
    assert routes_weight((LOCAL,), {}) == 0


def test_a_nat_gateway_is_sent_a_lists_blocks_less_more_specific_routes() -> None:
    """Longest prefix first, whatever the kind of route: a more specific route to a block
    carves its part out of a list's entry sent to a NAT gateway."""
    vpc = Vpc("vpc-1", TENANT, "10.9.0.0/16", is_default=False, routing_made=True)
    private = RouteTable(
        "rtb-private", TENANT, "vpc-1",
        (LOCAL, _to_list("pl-a", nat="nat-1"), Route("192.0.2.128/25", "igw-1")),
        (RouteTableAssociation("rtbassoc-1", "subnet-private"),),
    )  # fmt: skip
    public = RouteTable(
        "rtb-public", TENANT, "vpc-1", (LOCAL, Route("0.0.0.0/0", "igw-1")),
        (RouteTableAssociation("rtbassoc-2", None),),
    )  # fmt: skip
    nat = NatGateway(
        nat_gateway_id="nat-1", tenant_id=TENANT, vpc_id="vpc-1", subnet_id="subnet-public",
        allocation_id="eipalloc-1", public_ip="198.18.0.9", private_ip="10.9.0.4",
        network_interface_id="eni-1", association_id="eipassoc-1",
        create_time=datetime(2026, 12, 5, tzinfo=UTC),
    )  # fmt: skip
    view = RoutingView(
        {"vpc-1": vpc},
        [private, public],
        {"igw-1": InternetGateway("igw-1", TENANT, "vpc-1")},
        {"nat-1": nat},
        prefix_lists={"pl-a": ("192.0.2.0/24", "198.51.100.0/24")},
    )
    [(nat_id, blocks)] = view.nat_targets("vpc-1", private).items()
    assert nat_id == "nat-1"
    assert [str(b) for b in blocks] == ["192.0.2.0/25", "198.51.100.0/24"]
    # Without the list's blocks, nothing is sent there.
    bare = RoutingView(view.vpcs, view.tables, view.gateways, view.nat_gateways)
    assert bare.nat_targets("vpc-1", private) == {}


def test_a_peering_connection_carries_a_lists_blocks_within_the_peer_vpc() -> None:
    peering = VpcPeeringConnection(
        "pcx-0123456789abcdef0", TENANT, requester_vpc_id="vpc-1", requester_cidr="10.9.0.0/16",
        accepter_tenant_id=TENANT, accepter_vpc_id="vpc-2", accepter_cidr="10.2.0.0/16",
        region="eu-fr-1", create_time=datetime(2026, 12, 5, tzinfo=UTC),
        state=PeeringState.ACTIVE,
    )  # fmt: skip
    table = _table(Route("", "", vpc_peering_connection_id=peering.peering_id,
                         destination_prefix_list_id="pl-a"))  # fmt: skip
    view = RoutingView(
        {}, [table], {}, {}, {peering.peering_id: peering},
        prefix_lists={"pl-a": ("10.2.1.0/24", "10.2.2.0/24", "192.0.2.0/24")},
    )  # fmt: skip
    # The block beyond the peer VPC is carried nowhere (no transitive routing).
    assert {str(b) for bs in view.peer_targets("vpc-1", table).values() for b in bs} == {
        "10.2.1.0/24",
        "10.2.2.0/24",
    }
