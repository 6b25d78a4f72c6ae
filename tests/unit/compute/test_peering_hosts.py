"""What the compute service tells each host of the active VPC peering connections across
hosts (decision 0139's addendum): the pure rule (compute/peering_hosts.py), then the service
over two in-memory hosts with an overlay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    NetworkPeer,
    PeeringLink,
)
from andromede.compute.images import ImageFiles
from andromede.compute.peering_hosts import links_by_host, peering_vni
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection
from support.computekit import TENANT, MemoryDiskKeys, limits

ENDPOINTS = {"h1": ("192.0.2.1", 4789), "h2": ("192.0.2.2", 4789), "h3": ("192.0.2.3", 4789)}
A, B = "10.1.0.0/16", "10.2.0.0/16"


def _active(peering_id: str = "pcx-1") -> VpcPeeringConnection:
    return VpcPeeringConnection(
        peering_id, TENANT, "vpc-a", A, TENANT, "vpc-b", B, "eu-west-1",
        datetime(2026, 12, 5, tzinfo=UTC), state=PeeringState.ACTIVE,
    )  # fmt: skip


def _link(**fields: object) -> PeeringLink:
    return PeeringLink("pcx-1", "vpc-a", A, "vpc-b", B, **fields)  # type: ignore[arg-type]


def _peer(address: str, *private_ips: str) -> NetworkPeer:
    return NetworkPeer(address, 4789, private_ips)


def test_each_side_on_a_host_of_its_own_is_told_the_other_hosts_instances() -> None:
    placed = [("h1", "vpc-a", "10.1.1.5"), ("h2", "vpc-b", "10.2.1.6"), ("h2", "vpc-b", "10.2.1.4")]
    told = links_by_host([_active()], placed, ["h1", "h2", "h3"], ENDPOINTS)
    vni = peering_vni("pcx-1")
    assert told == {
        "h1": (_link(vni=vni, accepter_peers=(_peer("192.0.2.2", "10.2.1.4", "10.2.1.6"),)),),
        "h2": (_link(vni=vni, requester_peers=(_peer("192.0.2.1", "10.1.1.5"),)),),
        "h3": (),  # holds neither side: nothing, and nothing stale kept
    }  # fmt: skip


def test_both_sides_on_one_host_only_are_told_as_before() -> None:
    """Nothing elsewhere: the link carries no peers and no VXLAN id, the very message an
    agent older than the addendum reads."""
    placed = [("h1", "vpc-a", "10.1.1.5"), ("h1", "vpc-b", "10.2.1.6")]
    assert links_by_host([_active()], placed, ["h1", "h2"], ENDPOINTS) == {
        "h1": (_link(),),
        "h2": (),
    }


def test_a_host_with_both_sides_is_told_the_other_hosts_of_either() -> None:
    placed = [("h1", "vpc-a", "10.1.1.5"), ("h1", "vpc-b", "10.2.1.6"), ("h2", "vpc-a", "10.1.1.9")]
    told = links_by_host([_active()], placed, ["h1", "h2"], ENDPOINTS)
    vni = peering_vni("pcx-1")
    assert told["h1"] == (_link(vni=vni, requester_peers=(_peer("192.0.2.2", "10.1.1.9"),)),)
    assert told["h2"] == (
        _link(
            vni=vni,
            requester_peers=(NetworkPeer("192.0.2.1", 4789, ("10.1.1.5",)),),
            accepter_peers=(NetworkPeer("192.0.2.1", 4789, ("10.2.1.6",)),),
        ),
    )


def test_one_side_alone_or_unreachable_is_told_nothing() -> None:
    # The peer VPC has no instance anywhere: nothing to join on a host holding one side.
    placed = [("h1", "vpc-a", "10.1.1.5"), ("h2", "vpc-a", "10.1.1.6")]
    assert links_by_host([_active()], placed, ["h1", "h2"], ENDPOINTS) == {"h1": (), "h2": ()}
    # A host without an overlay endpoint cannot reach another: told only what it holds both
    # sides of, and not counted as a peer by the others.
    placed = [("h1", "vpc-a", "10.1.1.5"), ("lonely", "vpc-b", "10.2.1.6")]
    assert links_by_host([_active()], placed, ["h1", "lonely"], {"h1": ENDPOINTS["h1"]}) == {
        "h1": (),
        "lonely": (),
    }
    # Not active: nothing at all.
    placed = [("h1", "vpc-a", "10.1.1.5"), ("h2", "vpc-b", "10.2.1.6")]
    assert links_by_host([], placed, ["h1", "h2"], ENDPOINTS) == {"h1": (), "h2": ()}


def test_the_segments_id_is_the_connections_alone() -> None:
    assert peering_vni("pcx-1") == peering_vni("pcx-1")
    assert peering_vni("pcx-1") != peering_vni("pcx-2")
    assert all(1 <= peering_vni(f"pcx-{n}") < 2**24 for n in range(200))
    with pytest.raises(ValueError, match="VXLAN id"):
        _link(vni=2**24)


async def test_the_service_tells_each_host_the_other_hosts_side_and_parts_it_on_delete(
    tmp_path: Path,
) -> None:
    one = MemoryDriver("h1", vcpus=8, memory_mib=4096, underlay_address="192.0.2.1")
    two = MemoryDriver("h2", vcpus=8, memory_mib=4096, underlay_address="192.0.2.2")
    compute = ComputeService(
        MemoryComputeStore(), [one, two], MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    try:
        image = await compute.import_image_file(source, name="debian", owner_id=None)
        vpc_a = await compute.create_vpc(TENANT, A)
        vpc_b = await compute.create_vpc(TENANT, B)
        subnet_a = await compute.create_subnet(TENANT, vpc_a.vpc_id, "10.1.1.0/24")
        subnet_b = await compute.create_subnet(TENANT, vpc_b.vpc_id, "10.2.1.0/24")
        placed = {}
        for subnet in (subnet_a, subnet_b):
            request = RunRequest(image.image_id, "t3.nano", subnet_id=subnet.subnet_id)
            [instance] = await compute.run_instances(TENANT, request)
            await compute.settle()
            placed[subnet.subnet_id] = instance
        a, b = placed[subnet_a.subnet_id], placed[subnet_b.subnet_id]
        assert {a.host, b.host} == {"h1", "h2"}  # spread: one side on each host
        a_host, b_host = (one, two) if a.host == "h1" else (two, one)
        peering = await compute.create_vpc_peering_connection(TENANT, vpc_a.vpc_id, vpc_b.vpc_id)
        await compute.settle()
        assert one.peering_links == () and two.peering_links == ()  # pending: nothing
        await compute.accept_vpc_peering_connection(TENANT, peering.peering_id)
        await compute.settle()
        a_end, b_end = await a_host.capacity(), await b_host.capacity()
        [to_b] = a_host.peering_links
        [to_a] = b_host.peering_links
        assert (to_b.peering_id, to_b.vni) == (peering.peering_id, peering_vni(peering.peering_id))
        assert to_b.requester_peers == ()
        assert to_b.accepter_peers == (
            NetworkPeer(b_end.underlay_address, b_end.vxlan_port, (b.private_ip,)),
        )
        assert to_a.vni == to_b.vni and to_a.accepter_peers == ()
        assert to_a.requester_peers == (
            NetworkPeer(a_end.underlay_address, a_end.vxlan_port, (a.private_ip,)),
        )
        # A lost push is made good by the resync.
        a_host.peering_links = ()
        await compute.resync_hosts()
        assert [link.peering_id for link in a_host.peering_links] == [peering.peering_id]
        # b terminated: a's host has nothing of the connection to reach any more.
        await compute.terminate_instances(TENANT, [b.instance_id])
        await compute.settle()
        assert one.peering_links == () and two.peering_links == ()
        [b2] = await compute.run_instances(
            TENANT, RunRequest(image.image_id, "t3.nano", subnet_id=subnet_b.subnet_id)
        )
        await compute.settle()
        assert any(host.peering_links for host in (one, two))
        # Deleted: every host parts it.
        await compute.delete_vpc_peering_connection(TENANT, peering.peering_id)
        await compute.settle()
        assert one.peering_links == () and two.peering_links == ()
        assert b2.private_ip is not None
    finally:
        await compute.close()
