"""Subnets across hypervisors in the compute service: VXLAN ids, and the peer sets pushed to
the hosts (pure rule, then the service over two in-memory hosts)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from andromede.compute.driver import (
    HostCapacity,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    InstanceFirewall,
    NetworkPeer,
)
from andromede.compute.errors import Duplicate, HypervisorFailed
from andromede.compute.images import ImageFiles
from andromede.compute.model import Instance, InstanceState
from andromede.compute.network import VNI_MAX, Subnet, network_peers, subnet_vni
from andromede.compute.network_interfaces import InterfaceRequest
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits

ENDPOINTS = {"h1": ("192.0.2.1", 4789), "h2": ("192.0.2.2", 4789), "h3": ("192.0.2.3", 4790)}


def test_each_host_is_told_the_other_hosts_and_their_addresses() -> None:
    placed = [("h1", "172.31.0.10"), ("h2", "172.31.0.5"), ("h1", "172.31.0.9")]
    told = network_peers(placed, ENDPOINTS)
    assert told == {
        "h1": (NetworkPeer("192.0.2.2", 4789, ("172.31.0.5",)),),
        "h2": (NetworkPeer("192.0.2.1", 4789, ("172.31.0.9", "172.31.0.10")),),
        "h3": (),  # holds none: nothing to send, nothing stale kept
    }


def test_hosts_without_an_overlay_are_left_out() -> None:
    placed = [("h1", "172.31.0.4"), ("lonely", "172.31.0.5")]
    told = network_peers(placed, {"h1": ENDPOINTS["h1"]})
    assert told == {"h1": ()}  # the instance on a host without overlay is not reachable


def test_one_host_alone_has_no_peers() -> None:
    assert network_peers([("h1", "172.31.0.4")], ENDPOINTS)["h1"] == ()


def test_a_subnets_vxlan_id_is_derived_and_skips_the_taken_ones() -> None:
    first = subnet_vni("subnet-0123456789abcdef0", ())
    assert 1 <= first <= VNI_MAX
    assert subnet_vni("subnet-0123456789abcdef0", ()) == first  # two gateways agree
    second = subnet_vni("subnet-0123456789abcdef0", {first})
    assert second != first and 1 <= second <= VNI_MAX
    # With all but one taken, the search walks on to the free one, two past the derived id
    # (counted round: VNI_MAX is followed by 1).
    derived = subnet_vni("x", ())
    two_on = (derived + 1) % VNI_MAX + 1
    assert subnet_vni("x", AllTakenBut(two_on)) == two_on
    with pytest.raises(ValueError, match="every VXLAN id"):
        subnet_vni("x", range(1, VNI_MAX + 1))


class AllTakenBut(Collection[int]):
    """Every VXLAN id but one, as a region with all of them in use would pass them: a set of
    sixteen million ints would cost the test seconds and a gigabyte."""

    def __init__(self, free: int) -> None:
        self.free = free

    def __contains__(self, vni: object) -> bool:
        return vni != self.free

    def __len__(self) -> int:
        return VNI_MAX - 1

    def __iter__(self) -> Iterator[int]:
        return (vni for vni in range(1, VNI_MAX + 1) if vni != self.free)


async def test_two_subnets_cannot_share_a_vxlan_id_in_the_store() -> None:
    store = MemoryComputeStore()
    subnet = Subnet("subnet-1", TENANT, "vpc-1", "172.31.0.0/20", "az", True, vni=7)
    await store.insert(subnet)
    with pytest.raises(Duplicate):
        await store.insert(Subnet("subnet-2", OTHER, "vpc-2", "172.31.0.0/20", "az", True, vni=7))


def service_on(tmp_path: Path, *hosts: MemoryDriver) -> ComputeService:
    return ComputeService(
        MemoryComputeStore(), list(hosts), MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip


async def launch(compute: ComputeService, tmp_path: Path, count: int) -> list[Instance]:
    """Import a small image and run ``count`` instances of it, their starts settled."""
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    request = RunRequest(image.image_id, "t3.nano", min_count=count, max_count=count)
    launched = await compute.run_instances(TENANT, request)
    await compute.settle()
    return launched


@pytest.fixture
async def two_hosts(tmp_path: Path) -> tuple[ComputeService, MemoryDriver, MemoryDriver]:
    one = MemoryDriver("h1", vcpus=8, memory_mib=4096, underlay_address="192.0.2.1")
    two = MemoryDriver("h2", vcpus=8, memory_mib=4096, underlay_address="192.0.2.2")
    compute = service_on(tmp_path, one, two)
    return compute, one, two


async def test_the_service_pushes_peers_as_instances_come_and_go(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, one, two = two_hosts
    try:
        launched = await launch(compute, tmp_path, 2)
        instances = await compute.describe_instances(TENANT, [i.instance_id for i in launched])
        by_host = {i.host: i for i in instances}
        assert set(by_host) == {"h1", "h2"}  # spread over both hosts
        assert all(i.state is InstanceState.RUNNING for i in instances)
        subnet = (await compute.default_network(TENANT)).subnet
        assert subnet.vni != 0
        # The host got the subnet's VXLAN id with the NIC.
        nic = one.instances[by_host["h1"].instance_id].spec.nic
        assert nic is not None and nic.network.vni == subnet.vni
        a, b = by_host["h1"], by_host["h2"]
        assert a.private_ip is not None and b.private_ip is not None
        assert one.peers[subnet.subnet_id] == (NetworkPeer("192.0.2.2", 4789, (b.private_ip,)),)
        assert two.peers[subnet.subnet_id] == (NetworkPeer("192.0.2.1", 4789, (a.private_ip,)),)

        # Another tenant's subnet has another VXLAN id.
        other = (await compute.default_network(OTHER)).subnet
        assert other.vni not in (0, subnet.vni)

        # b stops: h1 no longer sends to h2, and h2 holds nothing running of the subnet.
        await compute.stop_instances(TENANT, [b.instance_id])
        await compute.settle()
        assert one.peers[subnet.subnet_id] == ()
        assert two.peers[subnet.subnet_id] == ()

        # Started again: both hosts told again.
        await compute.start_instances(TENANT, [b.instance_id])
        await compute.settle()
        assert one.peers[subnet.subnet_id] == (NetworkPeer("192.0.2.2", 4789, (b.private_ip,)),)

        # A lost push is made good at start-up (reconcile).
        one.peers.clear()
        await compute.reconcile()
        assert one.peers[subnet.subnet_id] == (NetworkPeer("192.0.2.2", 4789, (b.private_ip,)),)

        # a terminated: h2 is told it has no peer left.
        await compute.terminate_instances(TENANT, [a.instance_id])
        await compute.settle()
        assert two.peers[subnet.subnet_id] == ()
    finally:
        await compute.close()


async def test_hosts_without_an_overlay_are_never_told(tmp_path: Path) -> None:
    host = MemoryDriver("h1", vcpus=8, memory_mib=4096)
    compute = service_on(tmp_path, host)
    try:
        await launch(compute, tmp_path, 1)
        await host.set_network_peers("subnet-x", (NetworkPeer("192.0.2.9", 1, ()),))
        assert host.peers == {}
        assert (await host.capacity()).underlay_address == ""
    finally:
        await compute.close()


class FlakyHost(MemoryDriver):
    """A host whose agent fails to answer capacity while ``down``."""

    down = False

    async def capacity(self) -> HostCapacity:
        if self.down:
            raise HypervisorFailed("agent unreachable")
        return await super().capacity()


async def test_a_host_that_does_not_answer_once_keeps_its_place_among_the_peers(
    tmp_path: Path,
) -> None:
    one = MemoryDriver("h1", vcpus=8, memory_mib=4096, underlay_address="192.0.2.1")
    two = FlakyHost("h2", vcpus=8, memory_mib=4096, underlay_address="192.0.2.2")
    compute = service_on(tmp_path, one, two)
    try:
        await launch(compute, tmp_path, 2)
        subnet = (await compute.default_network(TENANT)).subnet
        told = one.peers[subnet.subnet_id]
        assert [peer.address for peer in told] == ["192.0.2.2"]
        two.down = True
        one.peers.clear()
        await compute.reconcile()
        assert one.peers[subnet.subnet_id] == told
    finally:
        await compute.close()


async def test_the_periodic_resync_undoes_stale_pushes(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    """Pushes from two gateways can arrive out of order: a host left with an older peer set or
    firewall is brought back to the records by the next resync pass."""
    compute, one, _ = two_hosts
    try:
        launched = await launch(compute, tmp_path, 2)
        subnet = (await compute.default_network(TENANT)).subnet
        by_host = {i.host: i for i in await compute.describe_instances(TENANT, [])}
        a, b = by_host["h1"], by_host["h2"]
        assert b.private_ip is not None
        wanted_peers = (NetworkPeer("192.0.2.2", 4789, (b.private_ip,)),)
        wanted_firewall = one.instances[a.instance_id].firewall
        assert one.peers[subnet.subnet_id] == wanted_peers
        assert wanted_firewall != InstanceFirewall()  # the default group's rules

        # A late push of an older state lands after the newer one.
        await one.set_network_peers(subnet.subnet_id, ())
        await one.set_firewall(a.instance_id, InstanceFirewall())
        await compute.resync_hosts()
        assert one.peers[subnet.subnet_id] == wanted_peers
        assert one.instances[a.instance_id].firewall == wanted_firewall
        assert len(launched) == 2
    finally:
        await compute.close()


def test_hosts_holding_the_vpc_are_told_of_a_subnet_they_hold_none_of() -> None:
    placed = [("h2", "10.9.2.6")]
    told = network_peers(placed, ENDPOINTS, vpc_hosts={"h1", "h2"})
    assert told == {
        "h1": (NetworkPeer("192.0.2.2", 4789, ("10.9.2.6",)),),  # routes to it from subnet 1
        "h2": (),  # its only holder
        "h3": (),  # holds nothing of the VPC
    }


async def test_each_host_of_a_vpc_is_told_of_every_subnet_of_it_with_the_subnet(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, one, two = two_hosts
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    vpc = await compute.create_vpc(TENANT, "10.9.0.0/16")
    first = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.1.0/24")
    second = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.2.0/24")
    # Another VPC of the same tenant, with an instance too: never told to the first's hosts
    # as part of it.
    elsewhere = await compute.create_vpc(TENANT, "10.9.0.0/16")
    lonely = await compute.create_subnet(TENANT, elsewhere.vpc_id, "10.9.2.0/24")
    try:
        placed = {}
        for subnet in (first, second):
            request = RunRequest(image.image_id, "t3.nano", subnet_id=subnet.subnet_id)
            [instance] = await compute.run_instances(TENANT, request)
            await compute.settle()
            placed[subnet.subnet_id] = instance
        a, b = placed[first.subnet_id], placed[second.subnet_id]
        assert {a.host, b.host} == {"h1", "h2"}
        a_host, b_host = (one, two) if a.host == "h1" else (two, one)
        # The NIC names the VPC and its block.
        nic = a_host.instances[a.instance_id].spec.nic
        assert nic is not None
        assert (nic.network.vpc_id, nic.network.vpc_cidr) == (vpc.vpc_id, "10.9.0.0/16")
        # a's host holds nothing of b's subnet, and is told of it, with the subnet itself.
        told = a_host.peers[second.subnet_id]
        assert [p.private_ips for p in told] == [(b.private_ip,)]
        spec = a_host.peer_networks[second.subnet_id]
        assert spec is not None
        assert (spec.network_id, spec.cidr, spec.vni, spec.vpc_id) == (
            second.subnet_id, "10.9.2.0/24", second.vni, vpc.vpc_id,
        )  # fmt: skip
        assert [p.private_ips for p in b_host.peers[first.subnet_id]] == [(a.private_ip,)]
        # An instance of the other VPC on a's host: nothing of it reaches b's host's peers.
        request = RunRequest(image.image_id, "t3.nano", subnet_id=lonely.subnet_id)
        [c] = await compute.run_instances(TENANT, request)
        await compute.settle()
        assert all(not host.peers.get(lonely.subnet_id) for host in (one, two))
        # Its address is b's very address, in a VPC of its own: the VPC's sets are unchanged.
        assert c.private_ip == b.private_ip
        assert [p.private_ips for p in a_host.peers[second.subnet_id]] == [(b.private_ip,)]
        assert [p.private_ips for p in b_host.peers[first.subnet_id]] == [(a.private_ip,)]
        # b terminated: a's host no longer routes to b's subnet.
        await compute.terminate_instances(TENANT, [b.instance_id])
        await compute.settle()
        assert a_host.peers[second.subnet_id] == ()
    finally:
        await compute.close()


async def test_an_interfaces_addresses_are_peers_where_its_instance_runs(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    """Decision 0161: a further interface's address and a primary's secondary address are
    told to the subnet's other hosts as held by the instance's host; detached, no longer."""
    compute, one, two = two_hosts
    try:
        launched = await launch(compute, tmp_path, 2)
        instances = await compute.describe_instances(TENANT, [i.instance_id for i in launched])
        by_host = {i.host: i for i in instances}
        a, b = by_host["h1"], by_host["h2"]
        subnet = (await compute.default_network(TENANT)).subnet
        assert subnet is not None and b.network_interface_id is not None
        made = await compute.create_network_interface(
            TENANT, InterfaceRequest(subnet_id=subnet.subnet_id)
        )
        attached = await compute.attach_network_interface(
            TENANT, made.interface_id, b.instance_id, 1
        )
        [secondary] = await compute.assign_private_ips(TENANT, b.network_interface_id, [], 1)
        await compute.settle()
        [peer] = one.peers[subnet.subnet_id]
        assert (peer.address, set(peer.private_ips)) == (
            "192.0.2.2",
            {b.private_ip, made.private_ip, secondary},
        )
        assert a.private_ip in two.peers[subnet.subnet_id][0].private_ips
        await compute.detach_network_interface(TENANT, attached.attachment)
        await compute.settle()
        [peer] = one.peers[subnet.subnet_id]
        assert set(peer.private_ips) == {b.private_ip, secondary}
    finally:
        await compute.close()
