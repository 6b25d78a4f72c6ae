"""A Network Load Balancer's data path on the real kernel (decision 0191): a router namespace
between a client's subnet and a subnet of two target namespaces, each running a tiny TCP
server that answers its name and the address it saw. The load balancing service (the memory
store, a network of fixed facts) holds the load balancer, its listener and its target group;
the health checker probes the targets from the router's namespace and records the outcomes;
the router's table is rendered from the service's forwarding view and loaded by ``nft``.

Both targets answer the client's connections to the listener address, each seeing the
client's own address (preserved); one target stopped is probed unhealthy, and every new
connection goes to the other. Needs root, ``ip`` and ``nft``.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from andromede.hypervisor.load_balancer_rules import (
    LoadBalancerSubnet,
    listener_addresses,
    render_load_balancers,
)
from andromede.hypervisor.target_probes import HealthChecker, socket_in
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.model import HealthCheck
from andromede.loadbalancing.network import InstanceFacts, SubnetFacts
from andromede.loadbalancing.service import LbSpec, LoadBalancingService
from andromede.loadbalancing.store import MemoryLbStore
from andromede.loadbalancing.target_groups import Probe, TgSpec

TENANT = "111122223333"
VPC = "vpc-0lb"
CLIENT_SUBNET = "10.61.1.0/24"
TARGET_SUBNET = "10.61.2.0/24"
LISTENER = "10.61.1.200"
TARGETS = {"i-0aaa": "10.61.2.11", "i-0bbb": "10.61.2.12"}
PORT = 7000

_SERVER = """
import socket, sys
name = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(64)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(f"{name} {peer[0]}".encode()); c.close()
"""


@pytest.fixture(autouse=True)
def needs_root_and_tools() -> None:
    import os

    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"the load balancer path needs root and {', '.join(missing) or 'root'}")


class FixedNetwork:
    """The :class:`~andromede.loadbalancing.network.Network` of one VPC of fixed facts."""

    async def subnets(self, tenant_id: str, subnet_ids: Sequence[str]) -> list[SubnetFacts]:
        return [SubnetFacts(s, VPC, CLIENT_SUBNET, "eu-fr-1a") for s in subnet_ids]

    async def vpc_exists(self, tenant_id: str, vpc_id: str) -> bool:
        return vpc_id == VPC

    async def reserve(
        self, tenant_id: str, subnet_id: str, address: str | None, description: str
    ) -> tuple[str, str]:
        return "eni-0lb", address or LISTENER

    async def release(self, tenant_id: str, interface_id: str) -> None:
        return None

    async def instances(self, tenant_id: str, ids: Sequence[str]) -> dict[str, InstanceFacts]:
        return {i: InstanceFacts(i, VPC, TARGETS[i], "eu-fr-1a", True) for i in ids if i in TARGETS}


def _sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@dataclass
class Plan:
    router: str
    client: str
    targets: dict[str, str]  # instance id -> namespace
    bridge: str
    client_link: str


@pytest.fixture
def plan() -> Iterator[Plan]:
    tag = secrets.token_hex(3)
    made = Plan(f"lbr{tag}", f"lbc{tag}", {i: f"lbt{n}{tag}" for n, i in enumerate(TARGETS)},
                f"lbb{tag}", f"rc{tag}")  # fmt: skip
    namespaces = [made.router, made.client, *made.targets.values()]
    try:
        for ns in namespaces:
            _sh("ip", "netns", "add", ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "netns", "exec", made.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The client's subnet: a link between the client and the router.
        _sh("ip", "link", "add", f"c{tag}", "netns", made.client, "type", "veth",
            "peer", "name", f"rc{tag}", "netns", made.router)  # fmt: skip
        _sh("ip", "-n", made.client, "addr", "add", "10.61.1.10/24", "dev", f"c{tag}")
        _sh("ip", "-n", made.client, "link", "set", f"c{tag}", "up")
        _sh("ip", "-n", made.client, "route", "add", "default", "via", "10.61.1.1")
        _sh("ip", "-n", made.router, "addr", "add", "10.61.1.1/24", "dev", f"rc{tag}")
        _sh("ip", "-n", made.router, "link", "set", f"rc{tag}", "up")
        # The targets' subnet: a bridge in the router, a port per target.
        _sh("ip", "-n", made.router, "link", "add", made.bridge, "type", "bridge")
        _sh("ip", "-n", made.router, "addr", "add", "10.61.2.1/24", "dev", made.bridge)
        _sh("ip", "-n", made.router, "link", "set", made.bridge, "up")
        for n, (instance, ns) in enumerate(made.targets.items()):
            _sh("ip", "link", "add", f"t{n}{tag}", "netns", ns, "type", "veth",
                "peer", "name", f"rt{n}{tag}", "netns", made.router)  # fmt: skip
            _sh("ip", "-n", ns, "addr", "add", f"{TARGETS[instance]}/24", "dev", f"t{n}{tag}")
            _sh("ip", "-n", ns, "link", "set", f"t{n}{tag}", "up")
            _sh("ip", "-n", ns, "route", "add", "default", "via", "10.61.2.1")
            _sh("ip", "-n", made.router, "link", "set", f"rt{n}{tag}", "master", made.bridge)
            _sh("ip", "-n", made.router, "link", "set", f"rt{n}{tag}", "up")
        yield made
    finally:
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@asynccontextmanager
async def serving(namespace: str, name: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace, sys.executable, "-c", _SERVER, name, str(PORT),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 20)).strip() == b"ready"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ask(client: str) -> str:
    """One connection from the client namespace to the listener: what the target answers."""
    sock = await socket_in(client)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (LISTENER, 80)), 10)
        data = await asyncio.wait_for(loop.sock_recv(sock, 256), 10)
    finally:
        sock.close()
    return data.decode()


async def _apply(service: LoadBalancingService, plan: Plan) -> None:
    subnets = [
        LoadBalancerSubnet(CLIENT_SUBNET, plan.client_link),
        LoadBalancerSubnet(TARGET_SUBNET, plan.bridge),
    ]
    views = [v for v in await service.forwarding_views() if v.vpc_id == VPC]
    for link, addresses in listener_addresses(views, subnets).items():
        for address in addresses:
            subprocess.run(
                ["ip", "-n", plan.router, "addr", "replace", f"{address}/32", "dev", link],
                check=True,
            )
    script = render_load_balancers(views, subnets)
    subprocess.run(
        ["ip", "netns", "exec", plan.router, "nft", "-f", "-"],
        input=script.encode(),
        check=True,
    )


async def test_connections_spread_over_healthy_targets_and_leave_a_stopped_one(
    plan: Plan,
) -> None:
    service = LoadBalancingService(MemoryLbStore(), FixedNetwork(), "eu-fr-1", LbLimits())
    lb = await service.create_load_balancer(
        TENANT, LbSpec("web", "internal", "network", (("subnet-0c", None),))
    )
    group = await service.create_target_group(
        TENANT,
        TgSpec("web", "TCP", PORT, VPC, "instance",
               HealthCheck(interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)),
    )  # fmt: skip
    await service.register_targets(TENANT, service.tg_arn(group), [(i, None) for i in TARGETS])
    await service.create_listener(TENANT, service.lb_arn(lb), "TCP", 80, service.tg_arn(group))

    async def record(probe: Probe, ok: bool, timed_out: bool) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out)

    checker = HealthChecker(lambda vpc: plan.router if vpc == VPC else None, record)
    names = list(plan.targets)
    async with (
        serving(plan.targets[names[0]], "first"),
        serving(plan.targets[names[1]], "second") as second,
    ):
        for _ in range(2):
            assert await checker.run_once(await service.probes(), force=True) == 2
        health = await service.target_health(TENANT, service.tg_arn(group))
        assert {t.target_id: str(t.state) for t in health} == dict.fromkeys(TARGETS, "healthy")
        await _apply(service, plan)
        answers = [await _ask(plan.client) for _ in range(24)]
        assert {a.split()[0] for a in answers} == {"first", "second"}
        # The target sees the client's own address: the source is preserved.
        assert {a.split()[1] for a in answers} == {"10.61.1.10"}
        second.kill()
        await second.wait()
        for _ in range(2):
            await checker.run_once(await service.probes(), force=True)
        health = await service.target_health(TENANT, service.tg_arn(group))
        states = {t.target_id: (str(t.state), t.reason) for t in health}
        assert states == {
            names[0]: ("healthy", ""),
            names[1]: ("unhealthy", "Target.FailedHealthChecks"),
        }
        await _apply(service, plan)
        answers = [await _ask(plan.client) for _ in range(12)]
        assert {a.split()[0] for a in answers} == {"first"}
