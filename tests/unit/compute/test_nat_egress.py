"""Where NAT gateways translate and what each host is told (decision 0129): the pure choice
and cuts of compute/nat_egress.py, then the service over two in-memory hosts — a public
subnet with an internet gateway and a NAT gateway, a private subnet routed to it with an
instance on each host: one host translates, the other sends to it, a host of the VPC with no
routed instance is told none, and a deleted gateway or route takes it all back."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    NatRoute,
    NatSource,
)
from andromede.compute.images import ImageFiles
from andromede.compute.nat_egress import egress_host
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import Vpc
from andromede.compute.routing import (
    InternetGateway,
    Route,
    RouteTable,
    RouteTableAssociation,
    RoutingView,
)
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import TENANT, MemoryDiskKeys, limits


def test_the_egress_host_is_stable_spread_and_moves_only_when_it_goes() -> None:
    hosts = {f"h{n}" for n in range(8)}
    chosen = {egress_host(f"nat-{n:017x}", hosts) for n in range(64)}
    assert len(chosen) > 3  # gateways spread over the hosts
    home = egress_host("nat-0123456789abcdef0", hosts)
    assert home is not None
    assert egress_host("nat-0123456789abcdef0", sorted(hosts, reverse=True)) == home
    # Another host going changes nothing; its own going moves it.
    other = next(h for h in sorted(hosts) if h != home)
    assert egress_host("nat-0123456789abcdef0", hosts - {other}) == home
    assert egress_host("nat-0123456789abcdef0", hosts - {home}) != home
    assert egress_host("nat-0123456789abcdef0", ()) is None


def _view(private_routes: tuple[Route, ...], public_routes: tuple[Route, ...]) -> RoutingView:
    vpc = Vpc("vpc-1", TENANT, "10.9.0.0/16", is_default=False, routing_made=True)
    local = Route("10.9.0.0/16", "local")
    private = RouteTable(
        "rtb-private", TENANT, "vpc-1", (local, *private_routes),
        (RouteTableAssociation("rtbassoc-1", "subnet-private"),),
    )  # fmt: skip
    public = RouteTable(
        "rtb-public", TENANT, "vpc-1", (local, *public_routes),
        (RouteTableAssociation("rtbassoc-2", None),),
    )  # fmt: skip
    nat = NatGateway(
        nat_gateway_id="nat-1", tenant_id=TENANT, vpc_id="vpc-1", subnet_id="subnet-public",
        allocation_id="eipalloc-1", public_ip="198.18.0.9", private_ip="10.9.0.4",
        network_interface_id="eni-1", association_id="eipassoc-1",
        create_time=datetime(2026, 12, 4, tzinfo=UTC),
    )  # fmt: skip
    return RoutingView(
        {"vpc-1": vpc},
        [private, public],
        {"igw-1": InternetGateway("igw-1", TENANT, "vpc-1")},
        {"nat-1": nat},
    )


def _nat(destination: str) -> Route:
    return Route(destination, "", nat_gateway_id="nat-1")


def test_what_a_table_sends_to_a_nat_gateway_less_its_more_specific_routes() -> None:
    view = _view(
        (_nat("0.0.0.0/0"), Route("8.8.8.0/24", "igw-1")),
        (Route("0.0.0.0/0", "igw-1"),),
    )
    [private] = [t for t in view.tables if t.route_table_id == "rtb-private"]
    blocks = view.nat_targets("vpc-1", private)["nat-1"]
    # Everything but the VPC (local) and 8.8.8.0/24 (its own route, longest prefix wins).
    covered = [ipaddress.IPv4Address(a) for a in ("1.1.1.1", "8.8.4.4", "200.1.2.3")]
    cut = [ipaddress.IPv4Address(a) for a in ("8.8.8.8", "10.9.3.4")]
    assert all(any(a in b for b in blocks) for a in covered)
    assert not any(a in b for a in cut for b in blocks)


def test_a_nat_gateway_carries_only_what_its_own_subnet_reaches_through_an_internet_gateway() -> (
    None
):
    # Its subnet routes nothing to an internet gateway: it carries nothing out, as on EC2.
    view = _view((_nat("0.0.0.0/0"),), ())
    [private] = [t for t in view.tables if t.route_table_id == "rtb-private"]
    assert view.nat_targets("vpc-1", private) == {}
    # Only 100.0.0.0/8 there: that much, of the private subnet's 0.0.0.0/0.
    view = _view((_nat("0.0.0.0/0"),), (Route("100.0.0.0/8", "igw-1"),))
    [private] = [t for t in view.tables if t.route_table_id == "rtb-private"]
    assert view.nat_targets("vpc-1", private) == {"nat-1": (ipaddress.IPv4Network("100.0.0.0/8"),)}


@pytest.fixture
async def two_hosts(tmp_path: Path) -> tuple[ComputeService, MemoryDriver, MemoryDriver]:
    one = MemoryDriver("h1", vcpus=8, memory_mib=4096, underlay_address="192.0.2.1")
    two = MemoryDriver("h2", vcpus=8, memory_mib=4096, underlay_address="192.0.2.2")
    compute = ComputeService(
        MemoryComputeStore(), [one, two], MemoryDiskKeys(), limits(elastic_ip_cidr="198.18.0.0/24"),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    return compute, one, two


async def test_one_host_translates_and_the_other_sends_to_it(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, one, two = two_hosts
    try:
        source = tmp_path / "disk.raw"
        source.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(source, name="debian", owner_id=None)
        vpc = await compute.create_vpc(TENANT, "10.9.0.0/16")
        public = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.0.0/24")
        private = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.1.0/24")
        gateway = await compute.create_internet_gateway(TENANT)
        await compute.attach_internet_gateway(TENANT, gateway.gateway_id, vpc.vpc_id)
        [main] = [t for t in await compute.describe_route_tables(TENANT, []) if t.vpc_id ==
                  vpc.vpc_id]  # fmt: skip
        await compute.create_route(TENANT, main.route_table_id, "0.0.0.0/0", gateway.gateway_id)
        address = await compute.allocate_address(TENANT)
        nat = await compute.create_nat_gateway(TENANT, public.subnet_id, address.allocation_id)
        table = await compute.create_route_table(TENANT, vpc.vpc_id)
        await compute.associate_route_table(TENANT, table.route_table_id, private.subnet_id)
        request = RunRequest(image.image_id, "t3.nano", min_count=2, max_count=2,
                             subnet_id=private.subnet_id)  # fmt: skip
        await compute.run_instances(TENANT, request)
        await compute.run_instances(
            TENANT, RunRequest(image.image_id, "t3.nano", subnet_id=public.subnet_id)
        )
        await compute.settle()
        # No route to the NAT gateway yet: every host of the VPC is told none.
        assert one.nat_routes == {} and two.nat_routes == {}
        await compute.create_route(
            TENANT, table.route_table_id, "0.0.0.0/0", None, nat_gateway_id=nat.nat_gateway_id
        )
        await compute.settle()
        [home] = [h for h in (one, two) if h.nat_routes[vpc.vpc_id][0].translated_here]
        [away] = [h for h in (one, two) if h is not home]
        [translated] = home.nat_routes[vpc.vpc_id]
        assert translated.address == address.public_ip
        assert translated.sources == (NatSource(private.subnet_id, "10.9.1.0/24"),)
        # 0.0.0.0/0 less the VPC's block, which stays local.
        assert "10.9.0.0/16" not in translated.destinations
        assert ipaddress.IPv4Address("1.1.1.1") in ipaddress.IPv4Network(
            next(d for d in translated.destinations if d.startswith("0."))
        )
        capacity = await home.capacity()
        assert away.nat_routes[vpc.vpc_id] == (
            NatRoute(
                translated.nat_gateway_id, translated.address, translated.sources,
                translated.destinations, capacity.underlay_address, capacity.vxlan_port,
            ),
        )  # fmt: skip
        # A lost push is made good at start-up.
        away.nat_routes.clear()
        await compute.reconcile()
        assert away.nat_routes[vpc.vpc_id][0].via_address == capacity.underlay_address
        # The route gone: every host is told none again.
        await compute.delete_route(TENANT, table.route_table_id, "0.0.0.0/0")
        await compute.settle()
        assert one.nat_routes == {} and two.nat_routes == {}
        # Back, then the gateway deleted: its route is a blackhole, nothing is told.
        await compute.create_route(
            TENANT, table.route_table_id, "0.0.0.0/0", None, nat_gateway_id=nat.nat_gateway_id
        )
        await compute.settle()
        assert vpc.vpc_id in home.nat_routes
        await compute.delete_nat_gateway(TENANT, nat.nat_gateway_id)
        await compute.settle()
        assert one.nat_routes == {} and two.nat_routes == {}
    finally:
        await compute.close()
