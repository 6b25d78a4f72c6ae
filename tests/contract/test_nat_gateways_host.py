"""NAT gateways on one host, on the real kernel (andromede.hypervisor.nat_gateways through
TenantNetworks.set_nat_routes, decision 0129): an instance without a public address reaches
what its subnet routes to a NAT gateway, seen from outside at the gateway's address; nothing
opens a connection to it through that address; the host-facing address still carries its
metadata requests; and the address leaves the host with the routes. The two-host path (the
egress host translating for the other's instances over the overlay) is in
test_overlay_networks.py. Needs root and ``ip``, ``nft``, ``dnsmasq``, ``busybox``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
    HostFlows,
    InstanceFirewall,
    NatRoute,
    NatSource,
    NetworkSpec,
    NicSpec,
)
from andromede.compute.driver_network import (
    FlowCapture as DriverCapture,
)
from andromede.compute.traffic import INTERNET_OUT, NAT_GATEWAY, NAT_GATEWAY_IN, TrafficCount
from andromede.hypervisor.errors import AddressRefused
from andromede.hypervisor.flow_capture import FlowCounters
from andromede.hypervisor.network_state import load_state
from andromede.hypervisor.qemu import QemuDriver, QemuDriverConfig
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.hypervisor.traffic_meters import METER_TABLE, TrafficMeters, render_meter_table
from support.tenant_networks import (
    Guest,
    guest,
    host_connect,
    host_routes,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

EVERYTHING_IN = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("n")


def _subnet(vpc_id: str, third: int) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr="10.9.0.0/16",
    )


def _private_nic(subnet: NetworkSpec, host: int) -> NicSpec:
    prefix = subnet.cidr.rsplit(".", 1)[0]
    return NicSpec(subnet, f"02:00:00:09:00:{host:02x}", f"{prefix}.{host}", public_address=False)


def _address() -> str:
    """A NAT gateway's address: of no range of the host's (198.18.0.0/15)."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def _route(nat_id: str, address: str, subnet: NetworkSpec, *destinations: str) -> NatRoute:
    return NatRoute(
        nat_id,
        address,
        (NatSource(subnet.network_id, subnet.cidr),),
        destinations or ("0.0.0.0/0",),
    )


async def test_a_private_instance_reaches_out_through_its_nat_gateway_and_nothing_comes_in(
    networks: TenantNetworks, layout: NetworkLayout, tmp_path: Path
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    private = _subnet(vpc, 1)
    nic = _private_nic(private, 5)
    address = _address()
    with outside_addresses(2) as (outside, elsewhere):
        async with guest(networks, "i-private", nic) as g:
            await networks.set_instance_firewall("i-private", EVERYTHING_IN)
            plugged = networks.plugged("i-private")
            assert plugged is not None
            host_ip = networks.host_transit_ip(private.network_id)
            with serving(None, outside, 8443):
                # Without a route to a NAT gateway: nothing out but the metadata service.
                assert g.connect(outside, 8443) == ""
                # Its subnet routes outside/32 to a NAT gateway: out, from the gateway's address.
                await networks.set_nat_routes(
                    vpc, [_route("nat-1", address, private, f"{outside}/32")]
                )
                assert g.reach(outside, 8443) == f"peer {address}"
                assert f"dev {layout.link_prefix}t" in host_routes(address)
            with serving(None, elsewhere, 8443):
                # A destination the route does not name stays out of reach.
                assert g.connect(elsewhere, 8443) == ""
            # The gateway opens nothing: its address reaches no port of the instance, open to all.
            with serving(g.netns, "", 22):
                assert host_connect(address, 22) == ""
            # Its metadata requests keep its host-facing address, which the service knows.
            with serving(None, host_ip, layout.imds_port):
                assert g.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
            # The whole Internet through it, and the state file keeps the routes.
            await networks.set_nat_routes(vpc, [_route("nat-1", address, private)])
            with serving(None, elsewhere, 8443):
                assert g.reach(elsewhere, 8443) == f"peer {address}"
            kept = load_state(tmp_path / "net" / "networks.json").nat[vpc]
            assert kept == (_route("nat-1", address, private),)
            # Pushing what is in force changes nothing; taking the routes away closes the way.
            await networks.set_nat_routes(vpc, [_route("nat-1", address, private)])
            await networks.set_nat_routes(vpc, [])
            assert host_routes(address) == ""
            with serving(None, elsewhere, 8443):
                assert g.connect(elsewhere, 8443) == ""
        await networks.release("i-private")
    assert vpc not in networks._state.nat


async def test_a_public_instance_in_a_nat_routed_subnet_leaves_from_the_gateway(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    """The route table decides, as on EC2: an instance with its own public address in a subnet
    whose table sends a destination to a NAT gateway reaches it from the gateway's address."""
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 2)
    nic = replace(_private_nic(subnet, 6), public_address=True)
    address = _address()
    with outside_addresses(2) as (outside, other):
        async with guest(networks, "i-public", nic) as g:
            await networks.set_nat_routes(vpc, [_route("nat-2", address, subnet, f"{outside}/32")])
            with serving(None, outside, 9000), serving(None, other, 9000):
                assert g.reach(outside, 9000) == f"peer {address}"
                plugged = networks.plugged("i-public")
                assert plugged is not None
                assert g.reach(other, 9000) == f"peer {plugged.public_ip}"


async def test_routes_told_before_the_vpc_is_here_apply_when_it_is_and_survive_a_restart(
    networks: TenantNetworks, layout: NetworkLayout, tmp_path: Path
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 3)
    address = _address()
    await networks.set_nat_routes(vpc, [_route("nat-3", address, subnet)])
    assert host_routes(address) == ""  # nothing of the VPC here yet
    with outside_addresses() as (outside,):
        async with guest(networks, "i-later", _private_nic(subnet, 7)) as g:
            assert host_routes(address) != ""
            with serving(None, outside, 9001):
                assert g.reach(outside, 9001) == f"peer {address}"
            # A reboot lost the host route and the ruleset: a new agent rebuilds both.
            subprocess.run(["ip", "route", "del", f"{address}/32"], check=False)
            again = TenantNetworks(tmp_path / "net", layout)
            await again.restore()
            assert host_routes(address) != ""
            with serving(None, outside, 9001):
                assert g.reach(outside, 9001) == f"peer {address}"


async def test_an_address_the_host_cannot_route_is_refused_and_changes_nothing(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 4)
    elastic = _address()
    async with guest(networks, "i-eip", replace(_private_nic(subnet, 8), elastic_ip=elastic)):
        public = layout.public_cidr.rsplit(".", 1)[0] + ".9"
        for refused in (elastic, public):  # another's Elastic IP here, a host range
            with pytest.raises(AddressRefused):
                await networks.set_nat_routes(vpc, [_route("nat-4", refused, subnet)])
            assert vpc not in networks._state.nat


def test_the_rendered_ruleset_with_nat_gateways_is_valid_nft() -> None:
    subnet = NetworkSpec("subnet-1", "t", "10.9.1.0/24", vpc_id="vpc-1", vpc_cidr="10.9.0.0/16")
    here = _route("nat-a", "198.18.0.7", subnet, "0.0.0.0/1", "128.0.0.0/1")
    there = replace(_route("nat-b", "198.18.0.8", subnet, "8.8.8.0/24"), via_address="192.0.2.2",
                    via_port=4789)  # fmt: skip
    ruleset = render_firewall(
        {"10.9.1.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.64.1.0/24",
        nat={"10.9.1.5": "100.64.1.5"},
        host_transit_ip="100.64.0.1",
        imds_port=20000,
        remote=["10.9.1.9"],
        unmapped=["10.9.1.5"],
        nat_routes=[here, there],
    )
    namespace = "andromede-check-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        checked = subprocess.run(
            ["ip", "netns", "exec", namespace, "nft", "-c", "-f", "-"],
            input=ruleset, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert "snat to 198.18.0.7" in ruleset and "snat to 198.18.0.8" not in ruleset
    assert 'iifname "transit" ip daddr { 198.18.0.7 } drop' in ruleset


@contextmanager
def _sink(address: str, port: int) -> Iterator[None]:
    """A TCP server on the host at ``address:port`` reading each connection to its end and
    answering the number of bytes it read."""
    code = (
        "import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(({address!r},{port})); s.listen(4); print('ready', flush=True)\n"
        "while True:\n"
        "  c,_=s.accept(); n=0\n"
        "  while (b:=c.recv(65536)): n+=len(b)\n"
        "  c.sendall(str(n).encode()); c.close()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


def _send(g: Guest, address: str, port: int, size: int) -> str:
    """``size`` bytes from the guest to ``address:port``; what the sink says it read."""
    code = (
        "import socket\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=20)\n"
        f"s.sendall(b'x'*{size}); s.shutdown(socket.SHUT_WR); print(s.recv(64).decode())\n"
    )
    return g.run(sys.executable, "-c", code, timeout=30).stdout.strip()


def _by_kind(counts: list[TrafficCount]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for count in counts:
        found[(count.kind, count.subject)] = found.get((count.kind, count.subject), 0) + count.bytes
    return found


def _headers(size: int) -> int:
    """At most what TCP/IP headers add to ``size`` bytes sent (52 bytes a segment of at least
    1,000 bytes, the handshake, the end, acknowledgements)."""
    return 52 * (size // 1000 + 1) + 2000


async def test_the_router_meters_internet_egress_and_nat_gateway_bytes_in_the_kernel(
    networks: TenantNetworks, layout: NetworkLayout, tmp_path: Path
) -> None:
    """Decision 0176: bytes a private instance sends through its NAT gateway are counted
    once, per address (internet egress) and per gateway (both directions), read back as
    differences; a second read says nothing; a rule change keeps the counts, a new agent
    reading the same file reports nothing twice, and a router's table made again starts
    from zero; the metadata service (a platform address) is not internet egress."""
    vpc = "vpc-" + secrets.token_hex(4)
    private = _subnet(vpc, 5)
    nic = _private_nic(private, 9)
    address = _address()
    meters = TrafficMeters(tmp_path / "traffic.json")
    port = 20000 + secrets.randbelow(20000)
    with outside_addresses() as (outside,):
        async with guest(networks, "i-metered", nic) as g:
            await networks.set_nat_routes(vpc, [_route("nat-m", address, private)])
            assert _by_kind(await meters.collect(*networks.metered())) == {}
            with _sink(outside, port):
                assert _send(g, outside, port, 300_000) == "300000"
                counted = _by_kind(await meters.collect(*networks.metered()))
                egress = counted[(INTERNET_OUT, nic.private_ip)]
                assert 300_000 <= egress <= 300_000 + _headers(300_000)
                # The gateway processed the data out and the acknowledgements and answer in.
                processed = counted[(NAT_GATEWAY, "nat-m")]
                assert egress < processed <= egress + _headers(300_000)
                # Decision 0181: the replies' part apart, for the gateway's metrics.
                back = counted[(NAT_GATEWAY_IN, "nat-m")]
                assert 0 < back < processed - egress + _headers(300_000)
                assert set(counted) == {
                    (INTERNET_OUT, nic.private_ip),
                    (NAT_GATEWAY, "nat-m"),
                    (NAT_GATEWAY_IN, "nat-m"),
                }
                assert await meters.collect(*networks.metered()) == []
                # A change of the router's rules keeps its counters: only the new bytes.
                await networks.set_instance_firewall("i-metered", EVERYTHING_IN)
                assert _send(g, outside, port, 100_000) == "100000"
                again = TrafficMeters(tmp_path / "traffic.json")  # an agent restarted
                counted = _by_kind(await again.collect(*networks.metered()))
                assert (
                    100_000
                    <= counted[(INTERNET_OUT, nic.private_ip)]
                    <= 100_000 + _headers(100_000)
                )
                # The router's table made again (a rebuild): its counts start from zero.
                subprocess.run(
                    ["ip", "netns", "exec", g_router(networks, private), "nft", "delete",
                     "table", "ip", METER_TABLE],
                    check=True,
                )  # fmt: skip
                await networks.set_instance_firewall("i-metered", InstanceFirewall())
                assert _send(g, outside, port, 600_000) == "600000"
                counted = _by_kind(await again.collect(*networks.metered()))
                assert (
                    600_000
                    <= counted[(INTERNET_OUT, nic.private_ip)]
                    <= 600_000 + _headers(600_000)
                )
            # The metadata service is the platform's: no internet egress.
            host_ip = networks.host_transit_ip(private.network_id)
            with serving(None, host_ip, layout.imds_port):
                assert g.reach("169.254.169.254", 80).startswith("peer ")
            assert _by_kind(await again.collect(*networks.metered())) == {}
        await networks.release("i-metered")


def g_router(networks: TenantNetworks, subnet: NetworkSpec) -> str:
    netns = networks.router_netns(subnet.network_id)
    assert netns is not None
    return netns


def test_the_meter_table_is_valid_nft_and_keeps_its_counters_when_applied_again() -> None:
    table = render_meter_table(
        transit="transit",
        platform=["100.64.0.0/24", "100.64.1.0/24", "100.64.0.0/16"],
        gateways=["198.18.0.7"],
    )
    namespace = "andromede-meter-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    nft = ["ip", "netns", "exec", namespace, "nft"]
    try:
        for _ in range(2):  # declared again: one rule a chain, the same table
            subprocess.run([*nft, "-f", "-"], input=table, text=True, check=True)
        listed = subprocess.run(
            [*nft, "-j", "list", "table", "ip", METER_TABLE],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rules = [item for item in json.loads(listed)["nftables"] if "rule" in item]
        assert len(rules) == 3
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


async def test_a_nat_gateways_interface_is_captured_on_both_sides_as_ec2_records_it(
    networks: TenantNetworks, tmp_path: Path
) -> None:
    """Decision 0176: the flow table of the router translating to a NAT gateway records its
    interface's flows as EC2 does — instance to the gateway's private address (the internet
    host as ``pkt-dstaddr``), that address to the host, the host back to it, and it to the
    instance (the host as ``pkt-srcaddr``) — with the bytes each way."""
    vpc = "vpc-" + secrets.token_hex(4)
    private = _subnet(vpc, 6)
    nic = _private_nic(private, 10)
    address = _address()
    nat_private = "10.9.7.4"  # the gateway's own subnet's address
    flows = FlowCounters(100)
    port = 20000 + secrets.randbelow(20000)
    with outside_addresses() as (outside,):
        async with guest(networks, "i-natflows", nic) as g:
            await networks.set_nat_routes(vpc, [_route("nat-f", address, private)])
            netns = networks.nat_router_netns(address)
            assert netns is not None and networks.nat_router_netns("198.51.100.255") is None
            await flows.capture(netns, {}, {address: ("eni-nat", nat_private)})
            with _sink(outside, port):
                assert _send(g, outside, port, 120_000) == "120000"
            print(
                subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        netns,
                        "nft",
                        "list",
                        "table",
                        "inet",
                        "andromede_flows",
                    ],
                    capture_output=True,
                    text=True,
                ).stdout
            )
            report = await flows.collect(netns)
            assert report.skipped == {}
            by_way = {
                (r.key.srcaddr, r.key.dstaddr, r.key.pkt_srcaddr, r.key.pkt_dstaddr): r
                for r in report.records
            }
            ip = nic.private_ip
            assert set(by_way) == {
                (ip, nat_private, "", outside),
                (nat_private, outside, "", ""),
                (outside, nat_private, "", ""),
                (nat_private, ip, outside, ""),
            }
            for way in ((ip, nat_private, "", outside), (nat_private, outside, "", "")):
                record = by_way[way]
                assert 120_000 <= record.bytes <= 120_000 + _headers(120_000)
                assert (record.key.interface_id, record.key.dstport) == ("eni-nat", port)
                assert record.key.action == "ACCEPT" and record.key.protocol == 6
            assert 0 < by_way[(outside, nat_private, "", "")].bytes < 20_000
            assert (await flows.collect(netns)).records == []
            await flows.forget(netns)
        await networks.release("i-natflows")


async def test_the_qemu_driver_reports_its_routers_meters_and_a_nat_interface(
    layout: NetworkLayout,
) -> None:
    """``collect_flows`` on a bridge-mode QEMU driver (decision 0176): every router's meters
    come back with the flow records, kept in the driver's state folder, and a NAT gateway's
    interface is captured by the router translating to its address. An address of the
    platform's (``platform_cidrs``: the object store's, say) is not the internet, though the
    gateway processes what goes there."""
    state_dir = Path(tempfile.mkdtemp(prefix="andromede-nm-", dir="/tmp"))
    with outside_addresses(2) as (outside, store):
        config = QemuDriverConfig(
            networking="bridge",
            network_layout=replace(layout, platform_cidrs=(f"{store}/32",)),
            flow_log_max_flows=64,
        )
        driver = QemuDriver(state_dir, host="test-host", config=config)
        host_networks = driver._networks
        vpc = "vpc-" + secrets.token_hex(4)
        private = _subnet(vpc, 8)
        nic = _private_nic(private, 11)
        address = _address()
        port = 20000 + secrets.randbelow(20000)
        nat_eni = DriverCapture("subnet-public", "10.9.9.4", "eni-nat", nat_address=address)
        try:
            async with guest(host_networks, "i-driver", nic) as g:
                await host_networks.set_nat_routes(vpc, [_route("nat-d", address, private)])
                assert await driver.collect_flows((nat_eni,)) == HostFlows()
                with _sink(outside, port), _sink(store, port):
                    assert _send(g, outside, port, 80_000) == "80000"
                    assert _send(g, store, port, 150_000) == "150000"
                flows = await driver.collect_flows((nat_eni,))
                counted = _by_kind(list(flows.traffic))
                egress = counted[(INTERNET_OUT, nic.private_ip)]
                assert 80_000 <= egress <= 80_000 + _headers(80_000)
                assert counted[(NAT_GATEWAY, "nat-d")] > 230_000
                assert {r.key.interface_id for r in flows.records} == {"eni-nat"}
                assert len(flows.records) == 8  # two connections, four records each
                assert (state_dir / "networks" / "traffic.json").exists()
                assert await driver.collect_flows(()) == HostFlows()
            await host_networks.release("i-driver")
        finally:
            for network_id in list(host_networks._state.networks):
                await host_networks.remove(network_id)
            await driver.close()
            shutil.rmtree(state_dir, ignore_errors=True)
