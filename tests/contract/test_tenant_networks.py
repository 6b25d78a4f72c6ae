"""Tenant networks on the real kernel: namespaces, isolated bridge ports, DHCP, NAT, metadata
DNAT and security groups (andromede.hypervisor.tenant_network).

A "guest" here is a network namespace of its own whose ``eth0`` is one end of a veth pair, the
other end an isolated port of the tenant's bridge with the instance's MAC and address — exactly
what a QEMU tap gives a VM, minus the VM (the QEMU tests boot real guests). Needs root and the
``ip``, ``nft``, ``dnsmasq`` and ``busybox`` commands.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from andromede.compute.driver import FirewallRule, InstanceFirewall, NetworkSpec, NicSpec
from andromede.hypervisor.tenant_network import (
    NetworkCommandError,
    NetworkLayout,
    TenantNetworks,
    render_firewall,
    render_metadata_guard,
)
from support.netns_guest import namespace_guest

_TOOLS = ("ip", "nft", "dnsmasq", "busybox")


@pytest.fixture(autouse=True)
def _needs_root_and_tools() -> None:
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")


@pytest.fixture
def layout() -> NetworkLayout:
    # Each test (and each xdist worker) gets its own address plan and link names: random /24s
    # inside 100.64.0.0/10, so two tests never share a host route or a link.
    block = secrets.randbelow(64 * 256 // 2) * 2
    transit = f"100.{64 + block // 256}.{block % 256}.0/24"
    public = f"100.{64 + (block + 1) // 256}.{(block + 1) % 256}.0/24"
    return NetworkLayout(
        transit_cidr=transit,
        public_cidr=public,
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix="t" + secrets.token_hex(2),
    )


@pytest.fixture
async def networks(tmp_path: Path, layout: NetworkLayout) -> AsyncIterator[TenantNetworks]:
    manager = TenantNetworks(tmp_path / "net", layout)
    yield manager
    for network_id in list(manager._state.networks):
        await manager.remove(network_id)


# A probe expected to fail waits DROPPED_AFTER seconds for an answer that never comes; one
# expected to succeed waits up to ANSWERED_WITHIN, which costs nothing when the answer is
# prompt. With 2 s for both, an answer slowed by a loaded machine (three workers, QEMU guests)
# once read as a drop in CI.
DROPPED_AFTER = 2.0
ANSWERED_WITHIN = 20.0


@dataclass
class Guest:
    netns: str
    nic: NicSpec

    def run(self, *command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def connect(self, address: str, port: int, timeout: float = DROPPED_AFTER) -> str:
        """Connect to address:port and return what the peer says ("" when it cannot)."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
            "  s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(200).decode(), end='')\n"
            "except OSError as e: print('', end='')\n"
        )
        return self.run(sys.executable, "-c", code, timeout=timeout + 5).stdout

    def reach(self, address: str, port: int) -> str:
        """``connect`` where an answer is expected: it may be slow to come."""
        return self.connect(address, port, timeout=ANSWERED_WITHIN)


@contextmanager
def serving(netns: str | None, address: str, port: int) -> Iterator[None]:
    """A TCP server answering every connection with the peer's address, in a namespace
    (``address`` "" = every address of that namespace)."""
    code = (
        "import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(({address!r},{port})); s.listen(16); print('ready', flush=True)\n"
        "while True:\n"
        "  c,a=s.accept(); c.sendall(('peer '+a[0]).encode()); c.close()\n"
    )
    prefix = ["ip", "netns", "exec", netns] if netns else []
    with subprocess.Popen(
        [*prefix, sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


@asynccontextmanager
async def guest(networks: TenantNetworks, instance_id: str, nic: NicSpec) -> AsyncIterator[Guest]:
    async with namespace_guest(networks, instance_id, nic) as netns:
        yield Guest(netns, nic)


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    return NicSpec(network=network, mac=f"02:00:00:00:{host // 256:02x}:{host % 256:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


def _network(tenant: str) -> NetworkSpec:
    # Every tenant uses the same private range: isolation must not depend on distinct addresses.
    return NetworkSpec(
        network_id="vpc-" + secrets.token_hex(4), tenant_id=tenant, cidr="10.0.0.0/24"
    )


SSH_FROM_ANYWHERE = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))


async def test_the_same_tenants_instances_reach_each_other_as_their_groups_allow(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        with serving(b.netns, "", 8080):
            # Default: no ingress rule, nothing reaches b.
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_firewall(
                network.network_id,
                {
                    b_nic.private_ip: InstanceFirewall(
                        ingress=(FirewallRule("tcp", 8000, 8100, "10.0.0.0/24"),)
                    )
                },
            )
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # a's egress rules bind too: only port 443 allowed out → 8080 refused.
            await networks.set_firewall(
                network.network_id,
                {
                    b_nic.private_ip: InstanceFirewall(
                        ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),)
                    ),
                    a_nic.private_ip: InstanceFirewall(
                        egress=(FirewallRule("tcp", 443, 443, "0.0.0.0/0"),)
                    ),
                },
            )
            assert a.connect(b_nic.private_ip, 8080) == ""


async def test_two_tenants_instances_cannot_reach_each_other(networks: TenantNetworks) -> None:
    first, second = _network("111111111111"), _network("222222222222")
    a_nic, c_nic = _nic(first, 5), _nic(second, 7)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-c", c_nic) as c:
        everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
        await networks.set_firewall(first.network_id, {a_nic.private_ip: everything})
        await networks.set_firewall(second.network_id, {c_nic.private_ip: everything})
        with serving(a.netns, "", 22):
            plugged_a = networks.plugged("i-a")
            assert plugged_a is not None
            # Not by its private address (c's 10.0.0.5 is nobody in c's own network)…
            assert c.connect(a_nic.private_ip, 22) == ""
            # …nor by its public one, even though a lets everyone in.
            assert c.connect(plugged_a.public_ip, 22) == ""
            # While the host does reach it there: the rules are not what stops c.
            assert "peer" in _host_reach(plugged_a.public_ip, 22)


def _host_routes(address: str) -> str:
    """The host's routes to exactly ``address``/32 ("" when none)."""
    return subprocess.run(
        ["ip", "route", "show", f"{address}/32"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _host_connect(address: str, port: int, timeout: float = DROPPED_AFTER) -> str:
    code = (
        "import socket\n"
        "try:\n"
        f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
        "  print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 8
    ).stdout


def _host_reach(address: str, port: int) -> str:
    """``_host_connect`` where an answer is expected."""
    return _host_connect(address, port, timeout=ANSWERED_WITHIN)


async def test_the_host_reaches_an_instances_ssh_port_at_its_public_address(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 9)
    async with guest(networks, "i-ssh", nic) as g:
        with serving(g.netns, "", 22):
            plugged = networks.plugged("i-ssh")
            assert plugged is not None
            assert _host_connect(plugged.public_ip, 22) == ""  # no rule yet
            await networks.set_firewall(network.network_id, {nic.private_ip: SSH_FROM_ANYWHERE})
            answer = _host_reach(plugged.public_ip, 22)
            assert answer == f"peer {networks.host_transit_ip(network.network_id)}"


async def test_the_metadata_address_reaches_the_host_server_which_sees_the_instance(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 11)
    async with guest(networks, "i-md", nic) as g:
        # Even an instance whose groups allow no egress at all reaches its metadata.
        await networks.set_firewall(
            network.network_id, {nic.private_ip: InstanceFirewall(egress=())}
        )
        with serving(None, networks.host_transit_ip(network.network_id), layout.imds_port):
            plugged = networks.plugged("i-md")
            assert plugged is not None
            assert g.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
            # Any other port of the host stays closed to it.
            with serving(None, networks.host_transit_ip(network.network_id), layout.imds_port + 1):
                assert (
                    g.connect(networks.host_transit_ip(network.network_id), layout.imds_port + 1)
                    == ""
                )


async def test_another_prefixs_guard_on_the_transit_range_drops_metadata_and_is_named(
    networks: TenantNetworks, layout: NetworkLayout, caplog: pytest.LogCaptureFixture
) -> None:
    # What an agent removed without its networks leaves (its serve stopped, its host cleared).
    gone = replace(layout, link_prefix="g" + secrets.token_hex(2))
    stale = f"andromede_imds_{gone.link_prefix}"
    subprocess.run(["nft", "-f", "-"], input=render_metadata_guard(gone), text=True, check=True)
    try:
        network = _network("111111111111")
        nic = _nic(network, 11)
        with caplog.at_level(logging.WARNING, logger="andromede.hypervisor.tenant_network"):
            async with guest(networks, "i-md", nic) as g:
                host_ip = networks.host_transit_ip(network.network_id)
                with serving(None, host_ip, layout.imds_port):
                    assert g.connect("169.254.169.254", 80) == ""
                    subprocess.run(["nft", "delete", "table", "inet", stale], check=True)
                    assert g.reach("169.254.169.254", 80).startswith("peer ")
        [warning] = [r.getMessage() for r in caplog.records if stale in r.getMessage()]
        assert f"also guards {layout.transit_cidr} port {layout.imds_port}" in warning
        assert f"nft delete table inet {stale}" in warning
    finally:
        subprocess.run(["nft", "delete", "table", "inet", stale], capture_output=True)


async def test_dhcp_hands_each_instance_its_own_address(networks: TenantNetworks) -> None:
    network = _network("111111111111")
    nic = _nic(network, 42)
    async with guest(networks, "i-dhcp", nic) as g:
        g.run("ip", "addr", "flush", "dev", "eth0")
        result = g.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-s", "/bin/true")
        assert f"lease of {nic.private_ip} obtained" in result.stdout + result.stderr


async def test_unplug_and_remove_leave_nothing_behind(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    plugged = await networks.plug("i-gone", _nic(network, 5))
    assert network.network_id in networks._state.networks
    await networks.unplug("i-gone")
    await networks.unplug("i-gone")  # idempotent
    links = subprocess.run(
        ["ip", "-n", plugged.netns, "link"], capture_output=True, text=True
    ).stdout
    assert plugged.tap not in links
    assert (
        plugged.public_ip
        not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    )
    await networks.remove(network.network_id)
    await networks.remove(network.network_id)  # idempotent
    assert (
        plugged.netns not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
    )
    assert (
        f"{layout.link_prefix}t0"
        not in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    )


async def test_a_new_manager_on_the_same_state_rebuilds_lost_networks(
    networks: TenantNetworks, tmp_path: Path, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 5)
    await networks.plug("i-back", nic)
    await networks.set_firewall(network.network_id, {nic.private_ip: SSH_FROM_ANYWHERE})
    # A host reboot loses namespaces and links; the agent restarts with its state file.
    subprocess.run(["ip", "netns", "del", networks.netns(network.network_id)], check=True)
    again = TenantNetworks(tmp_path / "net", layout)
    await again.restore()
    async with guest(again, "i-back", nic) as g:
        with serving(g.netns, "", 22):
            plugged = again.plugged("i-back")
            assert plugged is not None
            assert "peer" in _host_reach(plugged.public_ip, 22)


def test_the_rendered_ruleset_is_valid_nft(tmp_path: Path) -> None:
    ruleset = render_firewall(
        {
            "10.0.0.5": InstanceFirewall(
                ingress=(
                    FirewallRule("tcp", 22, 22, "0.0.0.0/0"),
                    FirewallRule("udp", 1000, 2000, "10.0.0.0/24"),
                    FirewallRule("icmp", -1, -1, "192.168.0.0/16"),
                ),
                egress=(),
            ),
            "10.0.0.6": InstanceFirewall(),
        },
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.0.5": "100.65.0.1", "10.0.0.6": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
    )
    name = "chk" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        result = subprocess.run(
            ["ip", "netns", "exec", name, "nft", "-c", "-f", "-"],
            input=ruleset, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_bad_rules_and_layouts_are_refused() -> None:
    with pytest.raises(ValueError):
        FirewallRule("tcp", 22, 22, "10.0.0.0/33")
    with pytest.raises(ValueError):
        FirewallRule("sctp", 1, 1, "0.0.0.0/0")
    with pytest.raises(ValueError):
        FirewallRule("tcp", 30, 20, "0.0.0.0/0")
    with pytest.raises(ValueError):
        NetworkLayout(transit_cidr="100.64.0.0/16", public_cidr="100.64.1.0/24")
    with pytest.raises(ValueError):
        NetworkLayout(link_prefix="much-too-long")


@dataclass
class RecordingWatcher:
    events: list[str]

    async def network_up(self, host_ip: str) -> None:
        self.events.append(f"up {host_ip}")

    async def network_down(self, host_ip: str) -> None:
        self.events.append(f"down {host_ip}")


async def test_one_instances_rules_change_alone_and_the_last_release_removes_the_network(
    networks: TenantNetworks,
) -> None:
    watcher = RecordingWatcher([])
    networks.watch(watcher)
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        host_ip = networks.host_transit_ip(network.network_id)
        assert networks.host_transit_ips() == [host_ip]
        assert watcher.events and set(watcher.events) == {f"up {host_ip}"}
        open_to_all = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
        assert await networks.set_instance_firewall("i-b", open_to_all)
        assert await networks.set_instance_firewall("i-a", open_to_all)
        with serving(b.netns, "", 8080), serving(a.netns, "", 8080):
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # Closing a does not touch b's rules.
            assert await networks.set_instance_firewall("i-a", InstanceFirewall())
            assert b.connect(a_nic.private_ip, 8080) == ""
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
        assert not await networks.set_instance_firewall("i-nobody", open_to_all)
        plugged = networks.plugged("i-a")
        assert plugged is not None
        await networks.release("i-a")
        assert (
            plugged.netns in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
        )
        await networks.release("i-b")
        await networks.release("i-b")  # idempotent
        assert watcher.events[-1] == f"down {host_ip}"
        assert networks.host_transit_ips() == []
        assert (
            plugged.netns
            not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
        )


def _dhcp_servers(networks: TenantNetworks, network_id: str) -> list[int]:
    """The dnsmasq processes serving a network (its pid file is in their command line)."""
    pidfile = os.fsencode(networks._dhcp_pidfile(network_id))
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if pidfile in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _namespace_of_this_thread() -> str:
    return os.readlink("/proc/thread-self/ns/net")


async def test_a_plug_opens_the_tap_and_sets_the_sysctls_inside_the_namespace_only(
    networks: TenantNetworks,
) -> None:
    host_forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    ours = _namespace_of_this_thread()
    network = _network("111111111111")
    plugged = await networks.plug("i-tap", _nic(network, 5))
    inside = subprocess.run(
        ["ip", "netns", "exec", plugged.netns, "sysctl", "-n", "net.ipv4.ip_forward",
         "net.ipv4.conf.br0.proxy_arp", "net.ipv4.conf.br0.proxy_arp_pvlan"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert inside == ["1", "1", "1"]
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forwarding
    tap = await networks.open_tap(plugged)
    try:
        # The descriptor is attached to the instance's tap, which lives in the namespace.
        assert f"iff:\t{plugged.tap}" in Path(f"/proc/self/fdinfo/{tap}").read_text()
    finally:
        os.close(tap)
    assert _namespace_of_this_thread() == ours
    ghost = replace(plugged, tap="tapnothere0")
    with pytest.raises(NetworkCommandError, match="tapnothere0"):
        await networks.open_tap(ghost)


async def test_one_dhcp_server_per_network_and_none_after_its_last_release(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    await networks.plug("i-one", _nic(network, 5))
    first = _dhcp_servers(networks, network.network_id)
    assert len(first) == 1
    await networks.plug("i-two", _nic(network, 6))  # restarted with the new lease
    second = _dhcp_servers(networks, network.network_id)
    assert len(second) == 1 and second != first
    await networks.release("i-one")
    assert len(_dhcp_servers(networks, network.network_id)) == 1
    await networks.release("i-two")
    assert _dhcp_servers(networks, network.network_id) == []


# -- VPC routing (decision 0106) -------------------------------------------------------------


def _subnet(vpc_id: str, tenant: str, third: int, vpc_cidr: str = "10.9.0.0/16") -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id=tenant,
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr=vpc_cidr,
    )


def _links_of(netns: str) -> str:
    return subprocess.run(
        ["ip", "-n", netns, "-o", "link"], capture_output=True, text=True, check=False
    ).stdout


async def test_subnets_of_one_vpc_reach_each_other_and_nobody_else(
    networks: TenantNetworks,
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = _subnet(vpc, "111111111111", 1), _subnet(vpc, "111111111111", 2)
    # The same tenant's other VPC, on the very same block, and another tenant's, likewise.
    other_vpc = _subnet("vpc-" + secrets.token_hex(4), "111111111111", 2)
    theirs = _subnet("vpc-" + secrets.token_hex(4), "222222222222", 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    c_nic, d_nic = _nic(other_vpc, 7), _nic(theirs, 8)
    everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
    async with (
        guest(networks, "i-a", a_nic) as a,
        guest(networks, "i-b", b_nic) as b,
        guest(networks, "i-c", c_nic) as c,
        guest(networks, "i-d", d_nic) as d,
    ):
        # One namespace for the VPC, a bridge per subnet; the other VPCs have their own.
        plugged = {i: networks.plugged(i) for i in ("i-a", "i-b", "i-c", "i-d")}
        assert plugged["i-a"] is not None and plugged["i-b"] is not None
        assert plugged["i-a"].netns == plugged["i-b"].netns == networks.netns(vpc)
        assert len({p.netns for p in plugged.values() if p is not None}) == 3
        links = _links_of(networks.netns(vpc))
        assert " br0:" in links and " br1:" in links
        with serving(b.netns, "", 8080), serving(a.netns, "", 8080):
            # b's groups let nothing in yet: the VPC routes, the security groups decide.
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_instance_firewall(
                "i-b",
                InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8100, "10.9.1.0/24"),)),
            )
            # Routed, not NATed: b sees a's own address.
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # Stateful: the reply came back, but b cannot open a connection to a.
            assert b.connect(a_nic.private_ip, 8080) == ""
            # a's egress binds across subnets too.
            await networks.set_instance_firewall(
                "i-a", InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, "0.0.0.0/0"),))
            )
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_instance_firewall("i-a", InstanceFirewall())
            # Everyone else is open to all, and still never hears from a, nor a from them.
            for other, nic in ((c, c_nic), (d, d_nic)):
                owner = "i-c" if other is c else "i-d"
                assert await networks.set_instance_firewall(owner, everything)
                with serving(other.netns, "", 9000):
                    assert a.connect(nic.private_ip, 9000) == ""
                    assert other.connect(a_nic.private_ip, 8080) == ""
                    # b's address in their own VPC's block is nobody there.
                    assert other.connect(b_nic.private_ip, 8080) == ""
        # An address of the VPC's block that no subnet routes never leaves for the host.
        routes = subprocess.run(
            ["ip", "-n", networks.netns(vpc), "route"], capture_output=True, text=True, check=True
        ).stdout
        assert "unreachable 10.9.0.0/16" in routes
        # The last instance of a subnet takes its bridge and DHCP away, not the VPC's.
        await networks.release("i-b")
        assert " br1:" not in _links_of(networks.netns(vpc))
        assert _dhcp_servers(networks, second.network_id) == []
        assert _dhcp_servers(networks, first.network_id) != []
        # Nor does the host keep a route to its public address into the VPC that stays.
        assert _host_routes(plugged["i-b"].public_ip) == ""
        assert _host_routes(plugged["i-a"].public_ip) != ""
        with serving(a.netns, "", 8080):
            await networks.set_instance_firewall("i-a", everything)
            assert _host_reach(plugged["i-a"].public_ip, 8080).startswith("peer ")
        await networks.release("i-a")
        assert (
            networks.netns(vpc)
            not in subprocess.run(
                ["ip", "netns"], capture_output=True, text=True, check=True
            ).stdout
        )


async def test_an_instance_without_a_public_address_reaches_only_its_metadata_through_the_host(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, "111111111111", 1)
    mapped_nic = _nic(subnet, 5)
    unmapped_nic = replace(_nic(subnet, 6), public_address=False)
    everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
    # An address of the host's own that is neither transit nor public: the LAN, the Internet.
    outside = f"198.51.100.{1 + secrets.randbelow(250)}"
    subprocess.run(["ip", "addr", "add", f"{outside}/32", "dev", "lo"], check=True)
    try:
        async with (
            guest(networks, "i-pub", mapped_nic) as pub,
            guest(networks, "i-priv", unmapped_nic) as priv,
        ):
            mapped, unmapped = networks.plugged("i-pub"), networks.plugged("i-priv")
            assert mapped is not None and unmapped is not None
            assert mapped.mapped and not unmapped.mapped
            await networks.set_firewall(
                subnet.network_id,
                {mapped_nic.private_ip: everything, unmapped_nic.private_ip: everything},
            )
            with serving(pub.netns, "", 22), serving(priv.netns, "", 22):
                # The host reaches the one with a public address, never the other.
                assert _host_reach(mapped.public_ip, 22).startswith("peer ")
                assert _host_connect(unmapped.public_ip, 22) == ""
                # Its subnet's neighbours still reach it.
                assert pub.reach(unmapped_nic.private_ip, 22) == f"peer {mapped_nic.private_ip}"
            with serving(None, outside, 8443):
                assert pub.reach(outside, 8443) == f"peer {mapped.public_ip}"
                assert priv.connect(outside, 8443) == ""
            # The metadata service still hears it, by its host-facing address.
            with serving(None, networks.host_transit_ip(subnet.network_id), layout.imds_port):
                assert priv.reach("169.254.169.254", 80) == f"peer {unmapped.public_ip}"
            # Started again with a public address (a NIC asking for one): the host reaches it.
            await networks.plug("i-priv", replace(unmapped_nic, public_address=True))
            with serving(priv.netns, "", 22):
                assert _host_reach(unmapped.public_ip, 22).startswith("peer ")
    finally:
        subprocess.run(["ip", "addr", "del", f"{outside}/32", "dev", "lo"], check=False)
