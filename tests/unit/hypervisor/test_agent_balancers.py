"""Network Load Balancers on hosts behind an agent (session 51's addendum to decision 0191),
over the agent's real HTTP API in process: the listeners a gateway hands a host arrive whole —
a TCP_UDP listener's transports, the load balancer's security groups' ingress — and the host
answers which VPC routers it holds and what they counted; the probes it is asked run once per
interval however often it is asked, only from a router it holds; a malformed listener is
refused before the driver. The upkeep's round (``drive_hosts``) hands every host the
listeners, asks each VPC's probes of its primary only (the lowest host name holding its
router, the next one when that host is unreachable) and records their outcomes; a host's
counters reach the ``AWS/NetworkELB`` flow metrics; a host slow to answer is given up on
after the query timeout."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.compute.driver import AttachedVolume, InstanceSpec, SeedSpec, VolumeSpec
from andromede.compute.driver_balancing import (
    ActiveFlows,
    BalancedListener,
    BalancedTls,
    BalancerReport,
    ListenerCounter,
    ProbeResult,
    ServedCertificate,
    TargetProbe,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import NetworkSpec, NicSpec
from andromede.compute.errors import HostUnreachable
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.balancer_host import forwarding_view, probe_of
from andromede.hypervisor.remote import AgentCallFailed, RemoteDriver
from andromede.hypervisor.wire import CALLS, decode, encode
from andromede.load_balancer_metrics import FlowCounts
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.target_groups import Probe
from andromede.loadbalancing.tls import TlsSettings
from andromede.wiring.load_balancer_hosts import (
    HostFlowTotals,
    balanced_listener,
    drive_hosts,
    primaries,
    target_probe,
)

KEY = b"k" * 32
TENANT = "111111111111"
# A TCP_UDP listener behind a security group admitting the VPC, and a TCP one of another VPC.
BOTH = BalancedListener(
    "listener-both",
    "vpc-a",
    ("10.0.1.200",),
    53,
    (("10.0.1.11", 53), ("10.0.1.12", 53)),
    (("-1", 0, 65535, "10.0.0.0/16"), ("udp", 53, 53, "192.0.2.0/24")),
    ("tcp", "udp"),
)
OTHER = BalancedListener("listener-other", "vpc-b", ("10.9.1.200",), 80, (("10.9.1.5", 80),))
PROBE = TargetProbe(TENANT, "tg-1", "vpc-a", "10.0.1.11", 53, "10.0.1.11", 53, 2, 10)


async def run_in(driver: MemoryDriver, instance_id: str, vpc_id: str, address: str) -> None:
    """An instance running on ``driver`` with a NIC in a subnet of ``vpc_id``."""
    root = AttachedVolume(f"vol-{instance_id}", "/dev/xvda", KEY)
    await driver.create_volume(VolumeSpec(root.volume_id, 8, KEY))
    network = NetworkSpec(f"subnet-{vpc_id}", TENANT, "10.0.1.0/24", vpc_id=vpc_id,
                          vpc_cidr="10.0.0.0/16")  # fmt: skip
    seed = SeedSpec("instance-id: x\n", b"", "")
    nic = NicSpec(network, "02:00:00:00:00:05", address)
    await driver.start(InstanceSpec(instance_id, 1, 128, root, seed, nic=nic))


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[RemoteDriver, MemoryDriver]]:
    driver = MemoryDriver("host-a")
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-a")
    yield remote, driver
    await remote.close()
    stop.set()
    await task


async def test_listeners_go_whole_and_the_routers_answer(
    agent: tuple[RemoteDriver, MemoryDriver],
) -> None:
    remote, driver = agent
    # No router here yet: the listeners are kept, none applied, nothing counted.
    assert await remote.set_load_balancers((BOTH, OTHER)) == BalancerReport()
    assert driver.balanced == (BOTH, OTHER)
    await run_in(driver, "i-a", "vpc-a", "10.0.1.11")
    report = await remote.set_load_balancers((BOTH, OTHER))
    assert report.routers == ("vpc-a",)
    keys = [("vpc-a", "10.0.1.200", 53, "tcp"), ("vpc-a", "10.0.1.200", 53, "udp")]
    assert report.counters == tuple(ListenerCounter(*k, 0, 0) for k in keys)
    assert report.active == tuple(ActiveFlows(*k, 0) for k in keys)
    # None left: none applied.
    assert await remote.set_load_balancers(()) == BalancerReport()
    assert driver.balanced == ()


async def test_probes_run_once_per_interval_from_a_router_held(
    agent: tuple[RemoteDriver, MemoryDriver],
) -> None:
    remote, driver = agent
    driver.probe_answers[("10.0.1.11", 53)] = True
    elsewhere = TargetProbe(TENANT, "tg-2", "vpc-b", "10.9.1.5", 80, "10.9.1.5", 80, 2, 10)
    assert await remote.probe_targets((PROBE, elsewhere)) == ()  # no router of either here
    await run_in(driver, "i-a", "vpc-a", "10.0.1.11")
    assert await remote.probe_targets((PROBE, elsewhere)) == (ProbeResult(PROBE, True),)
    # Asked again within the interval (another gateway's round): not run again.
    assert await remote.probe_targets((PROBE,)) == ()
    assert driver.probes_run == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"addresses": ["10.0.1.300"]},
        {"targets": [["10.0.1.11", 0]]},
        {"targets": [["10.0.1.11"]]},
        {"protocols": ["sctp"]},
        {"allowed": [["tcp", 80, 80, "10.0.0.0/33"]]},
        {"allowed": [["tcp", 80, 80]]},
        {"port": "80"},
    ],
)
async def test_a_malformed_listener_is_refused_before_the_driver(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    driver = MemoryDriver("host-a")
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
            listener = {**encode(BOTH), **changes}
            answer = await client.post("/v1/set_load_balancers", json={"listeners": [listener]})
            assert answer.status_code == 400
            assert answer.json()["error"] == "BadRequest"
    finally:
        stop.set()
        await task
    assert driver.balanced == ()


async def test_a_failure_on_the_host_comes_back(agent: tuple[RemoteDriver, MemoryDriver]) -> None:
    remote, driver = agent

    async def broken(listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        raise RuntimeError("nft said no")

    driver.set_load_balancers = broken  # type: ignore[method-assign]
    with pytest.raises(AgentCallFailed, match="nft said no"):
        await remote.set_load_balancers((BOTH,))


async def test_a_host_slow_to_apply_is_given_up_on_as_a_query_is(
    agent: tuple[RemoteDriver, MemoryDriver], tmp_path: Path
) -> None:
    """The round waits for every host before probing: a host gone silent holds it for the
    query timeout only, not for the long timeout of calls such as a stop."""
    _, driver = agent

    async def slow(listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        await asyncio.sleep(1.0)
        return BalancerReport()

    driver.set_load_balancers = slow  # type: ignore[method-assign]
    socket_path = tmp_path / "agent" / "agent.sock"
    impatient = RemoteDriver(socket_path, host="host-a", query_timeout=0.2)
    try:
        with pytest.raises(HostUnreachable):
            await impatient.set_load_balancers((BOTH,))
    finally:
        await impatient.close()


def test_the_port_carries_every_field_a_router_and_a_probe_use() -> None:
    """The port's types are the load balancing views' copies (the contexts stay apart): a
    field added to a view must be carried to the hosts too, or left out here on purpose."""
    gateway_only = {"zones", "tenant_id", "lb_dimension", "tg_dimension"}  # the metrics'
    view_fields = {f.name for f in dataclasses.fields(ForwardingView)} - gateway_only
    assert view_fields == {f.name for f in dataclasses.fields(BalancedListener)}
    probe_fields = {f.name for f in dataclasses.fields(Probe)}
    assert probe_fields == {f.name for f in dataclasses.fields(TargetProbe)}
    assert forwarding_view(balanced_listener(VIEW)) == dataclasses.replace(
        VIEW, zones=(), tenant_id="", lb_dimension="", tg_dimension=""
    )
    # Decision 0210: a TLS listener's settings, its certificates by ARN with their material.
    arns = ("arn:aws:iam::1:server-certificate/a", "arn:aws:iam::1:server-certificate/b")
    settings = TlsSettings(arns, "ELBSecurityPolicy-TLS13-1-2-2021-06", "HTTP2Preferred", True)
    assert {f.name for f in dataclasses.fields(TlsSettings)} - {"certificates"} < {
        f.name for f in dataclasses.fields(BalancedTls)
    }
    served = tuple(ServedCertificate(arn, "BODY", "", b"KEY") for arn in settings.certificates)
    tls = BalancedTls(served, settings.ssl_policy, settings.alpn_policy, settings.target_tls)
    secure = dataclasses.replace(VIEW, tls=settings)
    assert forwarding_view(balanced_listener(secure, tls)) == dataclasses.replace(
        secure, zones=(), tenant_id="", lb_dimension="", tg_dimension=""
    )
    with pytest.raises(ValueError):
        balanced_listener(secure)  # a TLS listener never goes without its certificates
    assert probe_of(target_probe(SERVICE_PROBE)) == SERVICE_PROBE


def test_the_wire_keeps_every_field() -> None:
    call = CALLS["set_load_balancers"]
    ((_, kind),) = call.parameters
    assert decode(kind, encode((BOTH, OTHER))) == (BOTH, OTHER)
    report = BalancerReport(
        ("vpc-a",),
        (ListenerCounter("vpc-a", "10.0.1.200", 53, "udp", 3, 900),),
        (ActiveFlows("vpc-a", "10.0.1.200", 53, "udp", 2),),
    )
    assert decode(call.result, encode(report)) == report
    probes = CALLS["probe_targets"]
    http = TargetProbe(TENANT, "tg-1", "vpc-a", "i-1", 80, "10.0.1.11", 8080, 5, 30, "HTTPS",
                       "/healthz", "200,204")  # fmt: skip
    assert decode(probes.parameters[0][1], encode((http,))) == (http,)
    results = (ProbeResult(http, False, code=503), ProbeResult(PROBE, False, timed_out=True))
    assert decode(probes.result, encode(results)) == results


# The upkeep's round over several hosts.

VIEW = ForwardingView(
    listener_id="listener-both",
    vpc_id="vpc-a",
    addresses=("10.0.1.200",),
    port=53,
    targets=(("10.0.1.11", 53),),
    allowed=(("-1", 0, 65535, "10.0.0.0/16"),),
    zones=(("10.0.1.200", "eu-fr-1a"),),
    tenant_id=TENANT,
    lb_dimension="net/dns/0123456789abcdef",
    tg_dimension="targetgroup/dns/0123456789abcdef",
    protocols=("tcp", "udp"),
)
SERVICE_PROBE = Probe(TENANT, "tg-1", "vpc-a", "10.0.1.11", 53, "10.0.1.11", 53, 2, 10)


class Unreachable(MemoryDriver):
    """A host whose agent does not answer."""

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        raise HostUnreachable(f"agent of {self.host}: connection refused")


class Recorded:
    def __init__(self) -> None:
        self.outcomes: list[tuple[Probe, bool, bool, int | None]] = []

    async def __call__(self, probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        self.outcomes.append((probe, ok, timed_out, code))


async def test_every_host_forwards_and_the_primary_alone_probes() -> None:
    # Listed out of order: the primary is the lowest name, not the first driver.
    c, b, a = MemoryDriver("host-c"), MemoryDriver("host-b"), MemoryDriver("host-a")
    for host in (a, b):
        await run_in(host, f"i-{host.host}", "vpc-a", "10.0.1.11")
        host.probe_answers[("10.0.1.11", 53)] = True
    record = Recorded()
    await drive_hosts([c, b, a], [VIEW], [SERVICE_PROBE], record)
    assert [host.balanced for host in (a, b, c)] == [(BOTH_VIEW,)] * 3
    assert (a.probes_run, b.probes_run, c.probes_run) == (1, 0, 0)
    assert record.outcomes == [(SERVICE_PROBE, True, False, None)]
    # The primary's agent gone: the next host holding the router probes (when due).
    down = Unreachable("host-a")
    await run_in(down, "i-down", "vpc-a", "10.0.1.11")
    await drive_hosts([c, b, down], [VIEW], [SERVICE_PROBE], record)
    assert (b.probes_run, c.probes_run) == (1, 0)
    assert len(record.outcomes) == 2


async def test_a_listener_the_port_refuses_is_left_out_not_the_round() -> None:
    host = MemoryDriver("host-a")
    bad = dataclasses.replace(VIEW, listener_id="listener-bad", targets=(("fe80::1", 53),))
    await drive_hosts([host], [bad, VIEW], [], Recorded())
    assert host.balanced == (BOTH_VIEW,)


def test_the_primary_is_the_lowest_name_holding_the_router() -> None:
    reports = {
        "host-b": BalancerReport(("vpc-a", "vpc-b")),
        "host-a": BalancerReport(("vpc-a",)),
        "host-c": BalancerReport(("vpc-c",)),
    }
    assert primaries(reports) == {"vpc-a": "host-a", "vpc-b": "host-b", "vpc-c": "host-c"}


class Counting(MemoryDriver):
    """A host whose routers counted flows since its previous report (a memory host's count
    nothing)."""

    counted = (0, 0)

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        report = await super().set_load_balancers(listeners)
        counter = ListenerCounter("vpc-a", "10.0.1.200", 53, "udp", *self.counted)
        active = ActiveFlows("vpc-a", "10.0.1.200", 53, "udp", 4)
        return BalancerReport(report.routers, (counter,), (active,))


class Sink:
    def __init__(self) -> None:
        self.values: dict[str, set[float]] = {}

    def record(self, tenant_id: str, namespace: str, name: str, dimensions: Any, value: float,
               unit: str) -> None:  # fmt: skip
        assert tenant_id == TENANT and namespace == "AWS/NetworkELB"
        self.values.setdefault(name, set()).add(value)


async def test_a_hosts_counters_reach_the_flow_metrics() -> None:
    host = Counting("host-a")
    await run_in(host, "i-a", "vpc-a", "10.0.1.11")
    sink = Sink()
    flows = HostFlowTotals(FlowCounts(sink))  # type: ignore[arg-type]
    host.counted = (5, 1000)  # what the host counted before: the start, not a minute's
    await drive_hosts([host], [VIEW], [], Recorded(), flows)
    host.counted = (3, 600)  # since its previous report
    await drive_hosts([host], [VIEW], [], Recorded(), flows)
    assert sink.values["NewFlowCount_UDP"] == {3}
    assert sink.values["ProcessedBytes_UDP"] == {600}
    assert sink.values["ActiveFlowCount_UDP"] == {4}


# What the hosts are handed of VIEW: everything but its metric dimensions.
BOTH_VIEW = BalancedListener(
    "listener-both",
    "vpc-a",
    ("10.0.1.200",),
    53,
    (("10.0.1.11", 53),),
    (("-1", 0, 65535, "10.0.0.0/16"),),
    ("tcp", "udp"),
)
