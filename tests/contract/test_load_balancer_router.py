"""A Network Load Balancer in a real VPC router (decision 0191): the host's tenant networks
(``TenantNetworks``) build a VPC of two subnets with namespace guests — a client in each, two
targets in the second — and :class:`RouterLoadBalancers` applies the service's listener to
the router: its node address on the first subnet's bridge, its table beside the router's
own. The targets' security groups, judged by the router after the translation, see the
client's own address: a group letting the VPC in lets both clients reach both targets — the
one in the targets' own subnet too, its replies routed back through the router —; the health
checker probes from the router's namespace; a target whose server stopped is probed unhealthy
and left; (decision 0198) an HTTP check of the group, against a real HTTP server in the first
target's namespace, makes it healthy on a 200 and unhealthy on a 404 outside the matcher
(``Target.ResponseCodeMismatch``); a group letting in only another range keeps the client
out. Session 49: the load balancer's own security group, judged by the router before the
translation, drops a client it does not admit while another still gets through; the router's
counters count each new flow and its bytes. Session 50: a TCP_UDP listener carries
datagrams and connections to targets admitting only the load balancer's group (the node's
address, and the flows it marked), which a client sending to them directly does not reach;
the UDP flows are counted and seen active in the router's connection tracking. Needs root,
``ip``, ``nft``, ``dnsmasq`` and ``busybox``, as the other tenant-network tests.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.balancer_host import HostBalancers
from andromede.hypervisor.load_balancers import RouterLoadBalancers
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.target_probes import HealthChecker, ProbeOutcome
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.model import HealthCheck
from andromede.loadbalancing.network import InstanceFacts, SubnetFacts
from andromede.loadbalancing.service import LbSpec, LoadBalancingService
from andromede.loadbalancing.store import MemoryLbStore
from andromede.loadbalancing.target_groups import Probe, TgSpec
from andromede.wiring.load_balancer_hosts import balanced_listener, drive_hosts
from support.tenant_networks import Guest, guest, needs_root_and_tools, networks, random_layout

__all__ = ["needs_root_and_tools", "networks"]

TENANT = "111111111111"
VPC = "vpc-" + secrets.token_hex(4)
NODE = "10.0.1.200"
PORT = 7000
HTTP_PORT = 7001
BOTH_PORT = 7002  # session 50: the TCP_UDP group's
TARGETS = {"i-nlb-t1": "10.0.2.11", "i-nlb-t2": "10.0.2.12"}


_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(64)
print("ready", flush=True)
while True:
    c, peer = s.accept(); c.sendall(f"{sys.argv[1]} {peer[0]}".encode()); c.close()
"""


@contextmanager
def named_server(netns: str, name: str) -> Iterator[None]:
    """A TCP server on PORT in ``netns`` answering its name and the peer it saw."""
    with subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _SERVER, name, str(PORT)],
        stdout=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


_BOTH_SERVER = """
import socket, sys, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", int(sys.argv[2]))); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", int(sys.argv[2])))
def datagrams():
    while True:
        _, peer = u.recvfrom(512); u.sendto(f"{sys.argv[1]} {peer[0]} udp".encode(), peer)
threading.Thread(target=datagrams, daemon=True).start()
print("ready", flush=True)
while True:
    c, peer = t.accept(); c.sendall(f"{sys.argv[1]} {peer[0]} tcp".encode()); c.close()
"""


@contextmanager
def both_server(netns: str, name: str) -> Iterator[None]:
    """Session 50: a TCP and a UDP server on BOTH_PORT in ``netns``, answering their name,
    the peer they saw and the transport."""
    with subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _BOTH_SERVER, name, str(BOTH_PORT)],
        stdout=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


def datagram(client: Guest, address: str, port: int, timeout: float = 2.0) -> str:
    """One UDP datagram from ``client`` to address:port, and the answer ("" when none came
    within ``timeout``)."""
    code = (
        "import socket\n"
        "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(" + repr(timeout) + ")\n"
        "try:\n"
        f"  s.sendto(b'ping', ({address!r},{port})); print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return client.run(sys.executable, "-c", code, timeout=timeout + 5).stdout


@contextmanager
def held_connection(client: Guest, address: str, port: int) -> Iterator[None]:
    """A TCP connection from ``client`` to address:port, its answer read and the socket kept
    open until the block ends."""
    code = (
        "import socket,time\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=5)\n"
        "print(s.recv(200).decode(), flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen(
        ["ip", "netns", "exec", client.netns, sys.executable, "-c", code],
        stdout=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip()
            yield
        finally:
            process.kill()


@contextmanager
def http_server(netns: str, root: Path) -> Iterator[None]:
    """Python's HTTP server on HTTP_PORT in ``netns``, serving ``root`` (GET / is a 200, an
    absent file a 404)."""
    command = [sys.executable, "-u", "-m", "http.server", str(HTTP_PORT), "--directory", root]
    with subprocess.Popen(
        ["ip", "netns", "exec", netns, *map(str, command)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("Serving HTTP")
            yield
        finally:
            process.kill()


def _answers(client: Guest, count: int) -> set[str]:
    return {client.reach(NODE, 80) for _ in range(count)}


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("b")


class VpcFacts:
    """The :class:`~andromede.loadbalancing.network.Network` of the test's VPC."""

    def __init__(self, first: NetworkSpec) -> None:
        self._first = first
        # The load balancer's group "sg-nlb": its ingress, changed by the test.
        self.ingress = [("tcp", 80, 80, "10.0.0.0/16")]

    async def subnets(self, tenant_id: str, subnet_ids: Sequence[str]) -> list[SubnetFacts]:
        return [SubnetFacts(s, VPC, self._first.cidr, "eu-fr-1a") for s in subnet_ids]

    async def vpc_exists(self, tenant_id: str, vpc_id: str) -> bool:
        return vpc_id == VPC

    async def reserve(
        self,
        tenant_id: str,
        subnet_id: str,
        address: str | None,
        description: str,
        group_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        return "eni-0nlb", address or NODE

    async def set_interface_groups(
        self, tenant_id: str, interface_id: str, group_ids: Sequence[str]
    ) -> None:
        return None

    async def release(self, tenant_id: str, interface_id: str) -> None:
        return None

    async def instances(self, tenant_id: str, ids: Sequence[str]) -> dict[str, InstanceFacts]:
        return {i: InstanceFacts(i, VPC, TARGETS[i], "eu-fr-1a", True) for i in ids}

    async def security_groups(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
        return {g: VPC for g in group_ids if g == "sg-nlb"}

    async def default_security_group(self, tenant_id: str, vpc_id: str) -> str:
        return "sg-nlb"

    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        return list(self.ingress)


async def test_a_listener_in_the_vpc_router(networks: TenantNetworks, tmp_path: Path) -> None:
    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id=TENANT,
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    facts = VpcFacts(first)
    service = LoadBalancingService(MemoryLbStore(), facts, "eu-fr-1", LbLimits())
    lb = await service.create_load_balancer(
        TENANT,
        LbSpec("web", "internal", "network", ((first.network_id, NODE),),
               security_groups=("sg-nlb",)),
    )  # fmt: skip
    group = await service.create_target_group(
        TENANT,
        TgSpec("web", "TCP", PORT, VPC, "instance",
               HealthCheck(interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)),
    )  # fmt: skip
    tg_arn = service.tg_arn(group)
    await service.register_targets(TENANT, tg_arn, [(i, None) for i in TARGETS])
    await service.create_listener(TENANT, service.lb_arn(lb), "TCP", 80, tg_arn)
    balancers = RouterLoadBalancers(networks)

    async def record(probe: Probe, outcome: ProbeOutcome) -> None:
        await service.record_probe(
            probe, outcome.ok, timed_out=outcome.timed_out, code=outcome.code
        )

    checker = HealthChecker(balancers.namespace_of, record)
    vpc_in = InstanceFirewall(ingress=(FirewallRule("tcp", PORT, HTTP_PORT, "10.0.0.0/16"),))
    async with (
        guest(networks, "i-nlb-c1", NicSpec(first, "02:00:00:00:01:1a", "10.0.1.11",
                                             public_address=False)) as client,
        guest(networks, "i-nlb-c2", NicSpec(second, "02:00:00:00:02:1c", "10.0.2.13",
                                             public_address=False)) as neighbour,
        guest(networks, "i-nlb-t1", NicSpec(second, "02:00:00:00:02:1a", TARGETS["i-nlb-t1"],
                                             public_address=False)) as t1,
        guest(networks, "i-nlb-t2", NicSpec(second, "02:00:00:00:02:1b", TARGETS["i-nlb-t2"],
                                             public_address=False)) as t2,
    ):  # fmt: skip
        for target in TARGETS:
            assert await networks.set_instance_firewall(target, vpc_in)
        assert balancers.namespace_of(VPC) == networks.netns(VPC)
        with named_server(t1.netns, "t1"):
            with named_server(t2.netns, "t2"):
                for _ in range(2):
                    assert await checker.run_once(await service.probes(), force=True) == 2
                health = await service.target_health(TENANT, tg_arn)
                assert {str(t.state) for t in health} == {"healthy"}
                await balancers.apply(await service.forwarding_views())
                # Both targets answer, each seeing the client's own address.
                assert _answers(client, 16) == {"t1 10.0.1.11", "t2 10.0.1.11"}
                # A client of the targets' own subnet too: the router routes its replies.
                assert {a.split()[1] for a in _answers(neighbour, 6)} == {"10.0.2.13"}
                # Each new flow counted once, and its bytes both ways (the answers' too).
                flows, processed = (await balancers.counters())[(VPC, NODE, 80, "tcp")]
                assert flows == 16 + 6
                assert processed > (16 + 6) * 3 * 40  # at least a handshake's packets each
                # The load balancer's group admits the targets' subnet only: the first
                # client is dropped before the translation, the neighbour still gets in.
                facts.ingress = [("tcp", 80, 80, "10.0.2.0/24")]
                await balancers.apply(await service.forwarding_views())
                assert client.connect(NODE, 80) == ""
                assert _answers(neighbour, 1) <= {"t1 10.0.2.13", "t2 10.0.2.13"}
                assert (await balancers.counters())[(VPC, NODE, 80, "tcp")][0] == flows + 1
                facts.ingress = [("-1", 0, 65535, "10.0.0.0/16")]
                await balancers.apply(await service.forwarding_views())
                await _udp_and_the_load_balancers_group(
                    networks, service, balancers, checker, client, (t1, t2)
                )
            # The second target's server is gone: probed unhealthy, left.
            for _ in range(2):
                await checker.run_once(await service.probes(), force=True)
            health = await service.target_health(TENANT, tg_arn)
            assert {t.target_id: str(t.state) for t in health} == {
                "i-nlb-t1": "healthy",
                "i-nlb-t2": "unhealthy",
            }
            await balancers.apply(await service.forwarding_views())
            assert _answers(client, 8) == {"t1 10.0.1.11"}
            # HTTP checks on another port: the first target's HTTP server answers / with a
            # 200 (healthy), /missing with a 404 outside the matcher (unhealthy, the code
            # named); the second has none (refused: failed).
            http = {"protocol": "HTTP", "port": str(HTTP_PORT), "path": "/", "matcher": "200"}
            with http_server(t1.netns, tmp_path):
                for changes in (http, {"path": "/missing"}):
                    await service.modify_target_group(TENANT, tg_arn, changes)
                    for _ in range(2):
                        await checker.run_once(await service.probes(), force=True)
                    health = {t.target_id: t for t in await service.target_health(TENANT, tg_arn)}
                    assert health["i-nlb-t2"].reason == "Target.FailedHealthChecks"
                    assert health["i-nlb-t1"].state == (
                        "healthy" if changes is http else "unhealthy"
                    )
                assert (
                    health["i-nlb-t1"].description == "Health checks failed with these codes: [404]"
                )
            await service.modify_target_group(
                TENANT, tg_arn, {"protocol": "TCP", "port": "traffic-port"}
            )
            # A group letting in another range only: the client (its own address) is kept out.
            other = InstanceFirewall(ingress=(FirewallRule("tcp", PORT, PORT, "10.9.0.0/16"),))
            assert await networks.set_instance_firewall("i-nlb-t1", other)
            assert client.connect(NODE, 80) == ""
        # No listener left: the node address and the table go.
        await service.delete_load_balancer(TENANT, service.lb_arn(lb))
        await balancers.apply(await service.forwarding_views())
        assert client.connect(NODE, 80) == ""


async def _udp_and_the_load_balancers_group(
    networks: TenantNetworks,
    service: LoadBalancingService,
    balancers: RouterLoadBalancers,
    checker: HealthChecker,
    client: Guest,
    targets: tuple[Guest, Guest],
) -> None:
    """Session 50: a TCP_UDP listener on port 53 forwarding both transports to a TCP_UDP
    group (checked over TCP on the first server's port), each target's group admitting on
    BOTH_PORT only the load balancer's group — which compute turns into the node's address:
    a datagram and a connection through the node reach both targets with the client's own
    address; the same sent to a target directly are dropped; the router counts the UDP flows
    and their bytes, and its connection tracking holds the UDP flows still open."""
    lb = (await service.load_balancers(TENANT))[0]
    group = await service.create_target_group(
        TENANT,
        TgSpec("both", "TCP_UDP", BOTH_PORT, VPC, "instance",
               HealthCheck(port=str(PORT), interval=5, timeout=2, healthy_threshold=2)),
    )  # fmt: skip
    arn = service.tg_arn(group)
    await service.register_targets(TENANT, arn, [(i, None) for i in TARGETS])
    await service.create_listener(TENANT, service.lb_arn(lb), "TCP_UDP", 53, arn)
    through_group = tuple(
        FirewallRule(transport, BOTH_PORT, BOTH_PORT, f"{NODE}/32") for transport in ("tcp", "udp")
    )
    firewall = InstanceFirewall(
        ingress=(FirewallRule("tcp", PORT, HTTP_PORT, "10.0.0.0/16"), *through_group)
    )
    for target in TARGETS:
        assert await networks.set_instance_firewall(target, firewall)
    for _ in range(2):
        await checker.run_once(await service.probes(), force=True)
    assert {str(t.state) for t in await service.target_health(TENANT, arn)} == {"healthy"}
    await balancers.apply(await service.forwarding_views())
    with both_server(targets[0].netns, "t1"), both_server(targets[1].netns, "t2"):
        answers = {datagram(client, NODE, 53) for _ in range(14)}
        assert answers == {"t1 10.0.1.11 udp", "t2 10.0.1.11 udp"}
        assert {client.reach(NODE, 53) for _ in range(14)} == {
            "t1 10.0.1.11 tcp",
            "t2 10.0.1.11 tcp",
        }
        # Straight to a target, not through the load balancer: its group keeps it out.
        assert datagram(client, TARGETS["i-nlb-t1"], BOTH_PORT, timeout=1.0) == ""
        assert client.connect(TARGETS["i-nlb-t1"], BOTH_PORT) == ""
        counted = await balancers.counters()
        flows, processed = counted[(VPC, NODE, 53, "udp")]
        assert flows == 14  # each datagram from its own socket: a flow each
        assert processed >= 14 * 2 * (20 + 8 + 4)  # the datagram and its answer, headers in
        assert counted[(VPC, NODE, 53, "tcp")][0] == 14
        active = await balancers.active_flows()
        assert active[(VPC, NODE, 53, "udp")] == 14  # UDP flows live on for 30 s
        assert active[(VPC, NODE, 53, "tcp")] == 0  # closed: TIME_WAIT is no active flow
        with held_connection(client, NODE, 53):  # one connection the client keeps open
            assert (await balancers.active_flows())[(VPC, NODE, 53, "tcp")] == 1
    (both,) = [x for x in await service.listeners(TENANT, lb_id=lb.lb_id) if x.port == 53]
    await service.delete_listener(TENANT, service.listener_arn(lb, both))


class RouterHost(MemoryDriver):
    """Session 51: a host whose load balancer calls are a bridged QEMU host's over the test's
    tenant networks (what :class:`~andromede.hypervisor.qemu.QemuDriver` answers them with),
    the rest the memory twin's, served by a real agent. Its clock moves a minute at each
    read: every probe asked is due."""

    def __init__(self, networks: TenantNetworks) -> None:
        super().__init__("host-nlb")
        self.minutes = 0.0

        def clock() -> float:
            self.minutes += 60.0
            return self.minutes

        self._side = HostBalancers(RouterLoadBalancers(networks), clock=clock)

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        return await self._side.apply(listeners)

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        return await self._side.probe(probes)


async def test_a_tcp_udp_listener_through_the_agent(
    networks: TenantNetworks, tmp_path: Path
) -> None:
    """Session 51: the upkeep's round (``drive_hosts``) drives a host through its agent's
    socket: a TCP_UDP listener behind the load balancer's security group, to targets
    admitting on BOTH_PORT only that group (the node's address), probed healthy from the
    router; a datagram and a connection through the node reach both targets with the
    client's own address, straight to a target they are dropped; the host's counters come
    back over the wire, each count once; the load balancer gone, the node answers nothing."""
    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id=TENANT,
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    facts = VpcFacts(first)
    facts.ingress = [("-1", 0, 65535, "10.0.0.0/16")]
    service = LoadBalancingService(MemoryLbStore(), facts, "eu-fr-1", LbLimits())
    lb = await service.create_load_balancer(
        TENANT,
        LbSpec("dns", "internal", "network", ((first.network_id, NODE),),
               security_groups=("sg-nlb",)),
    )  # fmt: skip
    group = await service.create_target_group(
        TENANT,
        TgSpec("both", "TCP_UDP", BOTH_PORT, VPC, "instance",
               HealthCheck(port=str(PORT), interval=5, timeout=2, healthy_threshold=2)),
    )  # fmt: skip
    arn = service.tg_arn(group)
    await service.register_targets(TENANT, arn, [(i, None) for i in TARGETS])
    await service.create_listener(TENANT, service.lb_arn(lb), "TCP_UDP", 53, arn)
    through_group = tuple(
        FirewallRule(transport, BOTH_PORT, BOTH_PORT, f"{NODE}/32") for transport in ("tcp", "udp")
    )
    firewall = InstanceFirewall(ingress=(FirewallRule("tcp", PORT, PORT, "10.0.0.0/16"),
                                         *through_group))  # fmt: skip

    async def record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out, code=code)

    async def round_() -> None:
        await drive_hosts(
            [remote], await service.forwarding_views(), await service.probes(), record
        )

    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_agent(RouterHost(networks), socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-nlb")
    try:
        async with (
            guest(networks, "i-nlb-c1", NicSpec(first, "02:00:00:00:01:1a", "10.0.1.11",
                                                 public_address=False)) as client,
            guest(networks, "i-nlb-t1", NicSpec(second, "02:00:00:00:02:1a",
                                                 TARGETS["i-nlb-t1"], public_address=False)) as t1,
            guest(networks, "i-nlb-t2", NicSpec(second, "02:00:00:00:02:1b",
                                                 TARGETS["i-nlb-t2"], public_address=False)) as t2,
        ):  # fmt: skip
            for target in TARGETS:
                assert await networks.set_instance_firewall(target, firewall)
            with named_server(t1.netns, "t1"), named_server(t2.netns, "t2"):
                for _ in range(2):
                    await round_()
                health = await service.target_health(TENANT, arn)
                assert {str(t.state) for t in health} == {"healthy"}
                with both_server(t1.netns, "t1"), both_server(t2.netns, "t2"):
                    # Each new flow goes to a random target: flows until both answered (at
                    # least 10, at most 40), so chance alone cannot fail the test.
                    udp = flows_until_both(lambda: datagram(client, NODE, 53))
                    assert set(udp) == {"t1 10.0.1.11 udp", "t2 10.0.1.11 udp"}
                    tcp = flows_until_both(lambda: client.reach(NODE, 53))
                    assert set(tcp) == {"t1 10.0.1.11 tcp", "t2 10.0.1.11 tcp"}
                    assert datagram(client, TARGETS["i-nlb-t1"], BOTH_PORT, timeout=1.0) == ""
                    assert client.connect(TARGETS["i-nlb-t1"], BOTH_PORT) == ""
            views = tuple(balanced_listener(v) for v in await service.forwarding_views())
            report = await remote.set_load_balancers(views)
            assert report.routers == (VPC,)
            counted = {(c.address, c.port, c.transport): c.flows for c in report.counters}
            assert counted == {(NODE, 53, "udp"): len(udp), (NODE, 53, "tcp"): len(tcp)}
            # Each count reported once (another gateway asking next gets none of them).
            again = await remote.set_load_balancers(views)
            assert {c.flows for c in again.counters} == {0}
            active = {(a.address, a.transport): a.count for a in report.active}
            assert active == {(NODE, "udp"): len(udp), (NODE, "tcp"): 0}
            await service.delete_load_balancer(TENANT, service.lb_arn(lb))
            await round_()
            assert client.connect(NODE, 53) == ""
    finally:
        await remote.close()
        stop.set()
        await serving


def flows_until_both(flow: Callable[[], str]) -> list[str]:
    """Answers of new flows, 10 at least, then until two targets answered, 40 at most."""
    answers = [flow() for _ in range(10)]
    while len(set(answers)) < 2 and len(answers) < 40:
        answers.append(flow())
    return answers
