"""A Network Load Balancer's TLS listener in a real VPC router (decision 0210): the host's
tenant networks (``TenantNetworks``) build a VPC of two subnets with namespace guests — a
client in the first, two targets in the second —; the upkeep's round (``drive_hosts``) hands
the listeners, their certificates opened on the gateway's side, to the host through a real
agent's socket, and the bridged QEMU host's side of the port (:class:`HostBalancers`: the
router's node address and table, its :class:`TlsTerminators` in the router's namespace)
serves them, within the bounds the gateway's settings gave; no log holds the key.
A real TLS client (Python's ``ssl``, verifying against the test CA and the name it asks for)
reaches both targets' plaintext servers through the listener, the targets seeing the node's
address; SNI picks the second certificate for its name, the default otherwise; a TLS target
group's target gets a TLS session of its own; the listener's connection limit closes a
connection beyond it; deleting the listener stops its server. The terminators' counts reach
``AWS/NetworkELB``'s ``NewFlowCount_TLS``, ``ProcessedBytes_TLS`` and
``ClientTLSNegotiationErrorCount`` (the client refusing the default certificate), and the
router's ``ActiveFlowCount_TCP`` leaves the TLS listener's connections out. The same round
serves an Application Load Balancer's HTTP listener by a proxy in the router's namespace
(decision 0216, the second test). Needs root, ``ip``, ``nft``, ``dnsmasq`` and ``busybox``, as
the other tenant-network tests.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.alb_access_logs import AccessLogBatches
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import FirewallRule, InstanceFirewall, NetworkSpec, NicSpec
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.balancer_host import HostBalancers
from andromede.hypervisor.load_balancers import RouterLoadBalancers
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.load_balancer_metrics import FlowCounts
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.errors import NotFound
from andromede.loadbalancing.http_rules import Condition, FixedResponse, Forward
from andromede.loadbalancing.listener_tls import TlsRequest
from andromede.loadbalancing.model import HealthCheck
from andromede.loadbalancing.network import InstanceFacts, SubnetFacts
from andromede.loadbalancing.service import LbSpec, LoadBalancingService
from andromede.loadbalancing.store import MemoryLbStore
from andromede.loadbalancing.target_groups import Probe, TgSpec
from andromede.wiring.load_balancer_hosts import HostFlowTotals, ListenerCertificates, drive_hosts
from support.log_buckets import HeldLogs
from support.tenant_networks import Guest, guest, needs_root_and_tools, networks, random_layout
from support.tls_certificates import Issued, TestCa

__all__ = ["needs_root_and_tools", "networks"]

TENANT = "222222222222"
VPC = "vpc-" + secrets.token_hex(4)
NODE = "10.0.1.200"
PORT = 7100
TLS_PORT = 7101
TARGETS = {"i-tls-t1": "10.0.2.11", "i-tls-t2": "10.0.2.12"}

_SERVER = """
import socket, ssl, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(64)
context = None
if len(sys.argv) > 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(sys.argv[3])
print("ready", flush=True)
while True:
    c, peer = s.accept()
    try:
        if context is not None:
            c = context.wrap_socket(c, server_side=True)
        asked = c.recv(100).decode()
        c.sendall(f"{sys.argv[1]} {peer[0]} {asked}".encode()); c.close()
    except OSError:
        pass
"""

_CLIENT = """
import socket, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname=sys.argv[4]) as s:
        name = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
        s.sendall(b"hello"); print(name, s.recv(200).decode(), end="")
"""


@contextmanager
def server(netns: str, name: str, port: int, pem: Path | None = None) -> Iterator[None]:
    """A server on ``port`` in ``netns`` answering its name, the peer it saw and what it
    was sent; over TLS with ``pem``."""
    command = [sys.executable, "-c", _SERVER, name, str(port), *([str(pem)] if pem else [])]
    with subprocess.Popen(
        ["ip", "netns", "exec", netns, *command], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


async def tls_client(client: Guest, ca: Path, port: int, name: str) -> str:
    """What a verifying TLS client in ``client`` asking for ``name`` gets through the
    listener: the certificate's common name, then the target's answer ("" when refused)."""
    done = await asyncio.to_thread(
        client.run, sys.executable, "-c", _CLIENT, str(ca), NODE, str(port), name, timeout=20
    )
    return done.stdout


async def until_both(
    client: Guest, ca: Path, port: int, name: str, wanted: set[str], at_most: int = 40
) -> tuple[set[str], int]:
    """The answers of connections made until every ``wanted`` one was seen (or ``at_most``
    were made), and how many were made: the terminator picks a target at random, so a
    fixed count of connections (8 in one CI run) could all land on one target."""
    answers: set[str] = set()
    made = 0
    while made < at_most and not wanted <= answers:
        answers.add(await tls_client(client, ca, port, name))
        made += 1
    return answers, made


async def flushed(
    logs: AccessLogBatches, later: list[datetime], written: HeldLogs
) -> tuple[list[str], dict[str, list[str]]]:
    """Every held line written, by kind ("access" or "conn"): the batches' clock moved five
    minutes past now, so every line's interval has ended, whenever the test started (a
    clock moved from the test's start missed the lines of a connection made after a
    five-minute boundary it crossed, as in one CI run): the keys written and their lines,
    in order (a boundary crossed between connections splits them over two objects)."""
    later[0] = datetime.now(UTC) + timedelta(minutes=5)
    keys = await logs.flush()
    lines: dict[str, list[str]] = {}
    for key in keys:
        kind = "conn" if "/conn_log." in key else "access"
        body = gzip.decompress(written.bodies[key]).decode()
        lines.setdefault(kind, []).extend(body.splitlines())
    return keys, lines


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("s")


class Sink:
    """The platform's metrics sink: what was given, summed by metric name."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}

    def record(self, tenant_id: str, namespace: str, name: str, dimensions: Any, value: float,
               unit: str) -> None:  # fmt: skip
        if dimensions == (("LoadBalancer", dimensions[0][1]),):
            self.sums[name] = self.sums.get(name, 0.0) + value


class HeldCertificates:
    """The :class:`~andromede.loadbalancing.certificates.Certificates` of the test."""

    def __init__(self) -> None:
        self.held: dict[str, Issued] = {}

    async def exists(self, tenant_id: str, arn: str) -> bool:
        return arn in self.held

    async def material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        if arn not in self.held:
            raise NotFound("CertificateNotFound", "gone")
        issued = self.held[arn]
        return CertificateMaterial(arn, issued.body, "", issued.key.encode())


class VpcFacts:
    def __init__(self, first: NetworkSpec) -> None:
        self._first = first

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
        return "eni-0tls", address or NODE

    async def set_interface_groups(
        self, tenant_id: str, interface_id: str, group_ids: Sequence[str]
    ) -> None:
        return None

    async def release(self, tenant_id: str, interface_id: str) -> None:
        return None

    async def instances(self, tenant_id: str, ids: Sequence[str]) -> dict[str, InstanceFacts]:
        return {i: InstanceFacts(i, VPC, TARGETS[i], "eu-fr-1a", True) for i in ids}

    async def security_groups(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
        return {}

    async def default_security_group(self, tenant_id: str, vpc_id: str) -> str:
        return "sg-nlb"

    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        return []


class RouterHost(MemoryDriver):
    """A host whose load balancer calls are a bridged QEMU host's over the test's tenant
    networks (what :class:`~andromede.hypervisor.qemu.QemuDriver` answers them with), the
    rest the memory twin's, served by a real agent. Its clock moves a minute at each read:
    every probe asked is due."""

    def __init__(self, networks: TenantNetworks) -> None:
        super().__init__("host-tls")
        self.minutes = 0.0

        def clock() -> float:
            self.minutes += 60.0
            return self.minutes

        self.side = HostBalancers(RouterLoadBalancers(networks), clock=clock)

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        return await self.side.apply(listeners)

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        return await self.side.probe(probes)


async def test_a_tls_listener_in_the_vpc_router_through_the_agent(
    networks: TenantNetworks, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id=TENANT,
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    ca = TestCa()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.pem)
    certificates = HeldCertificates()
    www = f"arn:aws:iam::{TENANT}:server-certificate/www"
    api = f"arn:aws:iam::{TENANT}:server-certificate/api"
    certificates.held[www] = ca.issue("www.example.test")
    certificates.held[api] = ca.issue("api.example.test", "*.api.example.test")
    service = LoadBalancingService(MemoryLbStore(), VpcFacts(first), "eu-fr-1", LbLimits())
    service.certificates = certificates
    lb = await service.create_load_balancer(
        TENANT, LbSpec("web", "internal", "network", ((first.network_id, NODE),))
    )
    check = HealthCheck(interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)
    plain = await service.create_target_group(
        TENANT, TgSpec("plain", "TCP", PORT, VPC, "instance", check)
    )
    secure = await service.create_target_group(
        TENANT, TgSpec("secure", "TLS", TLS_PORT, VPC, "instance", check)
    )
    for group in (plain, secure):
        await service.register_targets(TENANT, service.tg_arn(group), [(i, None) for i in TARGETS])
    _, listener = await service.create_listener(
        TENANT, service.lb_arn(lb), "TLS", 443, service.tg_arn(plain),
        tls=TlsRequest(certificates=(www,), ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06"),
    )  # fmt: skip
    await service.add_listener_certificates(TENANT, service.listener_arn(lb, listener), [api])
    await service.create_listener(
        TENANT, service.lb_arn(lb), "TLS", 8443, service.tg_arn(secure),
        tls=TlsRequest(certificates=(www,)),
    )  # fmt: skip
    # The gateway's bounds (elb_tls_max_connections 1 here) travel with the listeners.
    opened = ListenerCertificates(service.certificate_material, 1, 65536)

    async def record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out, code=code)

    sink = Sink()
    flows = HostFlowTotals(FlowCounts(sink))  # type: ignore[arg-type]
    # Decision 0269: the NLB's access logs on — its TLS connections' lines, at 5 minutes.
    written = HeldLogs()
    service.log_buckets = written
    await service.modify_load_balancer_attributes(
        TENANT, service.lb_arn(lb),
        {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs"},
    )  # fmt: skip
    later = [datetime.now(UTC)]
    logs = AccessLogBatches(service, written, "eu-fr-1", clock=lambda: later[0])

    async def round_() -> None:
        views, probes = await service.forwarding_views(), await service.probes()
        await drive_hosts([remote], views, probes, record, flows, certificates=opened, logs=logs)

    host = RouterHost(networks)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_agent(host, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-tls")
    vpc_in = InstanceFirewall(ingress=(FirewallRule("tcp", PORT, TLS_PORT, "10.0.0.0/16"),))
    target_pem = tmp_path / "target.pem"
    issued = ca.issue("target.internal")
    target_pem.write_text(issued.body + issued.key)
    async with (
        guest(networks, "i-tls-c1", NicSpec(first, "02:00:00:00:11:1a", "10.0.1.11",
                                             public_address=False)) as client,
        guest(networks, "i-tls-t1", NicSpec(second, "02:00:00:00:12:1a", TARGETS["i-tls-t1"],
                                             public_address=False)) as t1,
        guest(networks, "i-tls-t2", NicSpec(second, "02:00:00:00:12:1b", TARGETS["i-tls-t2"],
                                             public_address=False)) as t2,
    ):  # fmt: skip
        for target in TARGETS:
            assert await networks.set_instance_firewall(target, vpc_in)
        try:
            with (
                server(t1.netns, "t1", PORT), server(t2.netns, "t2", PORT),
                server(t1.netns, "s1", TLS_PORT, target_pem),
                server(t2.netns, "s2", TLS_PORT, target_pem),
            ):  # fmt: skip
                for _ in range(3):  # applied, then probed twice: healthy
                    await round_()
                assert len(host.side.terminating) == 2
                # The default certificate, verified by the client; both targets reached,
                # each seeing the node's address and the client's bytes.
                both = {f"www.example.test t1 {NODE} hello", f"www.example.test t2 {NODE} hello"}
                answers, made = await until_both(client, ca_file, 443, "www.example.test", both)
                assert answers == both
                # SNI: the second certificate for its names (its wildcard too).
                assert (await tls_client(client, ca_file, 443, "api.example.test")).startswith(
                    "api.example.test "
                )
                assert (await tls_client(client, ca_file, 443, "v2.api.example.test")).startswith(
                    "api.example.test "
                )
                # A name no certificate has: the default one, which the client refuses.
                assert await tls_client(client, ca_file, 443, "other.example.test") == ""
                # What the terminator counted, at the next round: a flow a connection, "hello" and
                # each answer's bytes, the refused default certificate a failed handshake;
                # no TCP flow of the router (its connections were the terminator's).
                await round_()
                assert sink.sums["NewFlowCount_TLS"] == made + 3
                assert sink.sums["ProcessedBytes_TLS"] >= (made + 2) * len(b"hello")
                assert sink.sums["ClientTLSNegotiationErrorCount"] == 1
                assert "NewFlowCount_TCP" not in sink.sums
                assert "ActiveFlowCount_TCP" not in sink.sums and "ActiveFlowCount_TLS" in sink.sums
                # Their access log lines, reported through the agent: one a connection, in
                # AWS's NLB format, the refused one without a cipher.
                keys, kinds = await flushed(logs, later, written)
                assert all(f"_net.web.{lb.lb_id}_" in key for key in keys)
                lines = kinds["access"]
                assert len(lines) == made + 3
                fields = [line.split(" ") for line in lines]
                assert {f[0] for f in fields} == {"tls"} and {f[1] for f in fields} == {"2.0"}
                assert {f[6] for f in fields} == {f"{NODE}:443"}
                assert {f[17] for f in fields} >= {"www.example.test", "api.example.test"}
                assert sum(f[14] == "-" for f in fields) == 1  # the refused handshake
                assert {f[12] for f in fields if f[14] != "-"} == {www, api}
                # A TLS group: re-encrypted to the target's own TLS server.
                both = {f"www.example.test s1 {NODE} hello", f"www.example.test s2 {NODE} hello"}
                answers, _ = await until_both(client, ca_file, 8443, "www.example.test", both)
                assert answers == both
                # The connection limit (1 here): a second connection while one is held is
                # closed.
                holder = await asyncio.create_subprocess_exec(
                    "ip", "netns", "exec", client.netns, sys.executable, "-c",
                    "import socket,ssl,sys,time\n"
                    f"c=ssl.create_default_context(cafile={str(ca_file)!r})\n"
                    f"s=c.wrap_socket(socket.create_connection(({NODE!r},443)),"
                    "server_hostname='www.example.test')\n"
                    "print('held', flush=True); time.sleep(30)\n",
                    stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                try:
                    assert holder.stdout is not None
                    assert (await holder.stdout.readline()).strip() == b"held"
                    await asyncio.sleep(0.3)
                    assert await tls_client(client, ca_file, 443, "www.example.test") == ""
                finally:
                    holder.kill()
                    await holder.wait()
                await asyncio.sleep(0.3)
                assert (await tls_client(client, ca_file, 443, "www.example.test")).startswith(
                    "www.example.test "
                )
                # The listener deleted: its server stops, the other goes on.
                await service.delete_listener(TENANT, service.listener_arn(lb, listener))
                await round_()
                assert len(host.side.terminating) == 1
                assert await tls_client(client, ca_file, 443, "www.example.test") == ""
            await service.delete_load_balancer(TENANT, service.lb_arn(lb))
            await round_()
            assert host.side.terminating == set()
        finally:
            await host.side.close()
            await remote.close()
            stop.set()
            await serving
    # The keys went over the agent's socket (base64 in its JSON) and were logged nowhere.
    for issued in certificates.held.values():
        secret = issued.key.splitlines()[1]
        assert secret not in caplog.text
        assert base64.b64encode(issued.key.encode()).decode()[:40] not in caplog.text


_HTTP_TARGET = """
import http.server, sys
class Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = f"{sys.argv[1]} {self.path} {self.headers.get('X-Forwarded-For')}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), Answer)
print("ready", flush=True); server.serve_forever()
"""

_HTTP_CLIENT = """
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}{sys.argv[2]}", timeout=10) as answer:
        print(answer.status, answer.read().decode(), end="")
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode(), end="")
"""
# Decision 0231: four requests through one cookie jar (the load balancer's AWSALB kept).
_STICKY_CLIENT = """
import http.cookiejar, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
for _ in range(4):
    with opener.open(f"http://{sys.argv[1]}{sys.argv[2]}", timeout=10) as answer:
        print(answer.read().decode().split()[0])
"""
HTTP_PORT = 7200


class AlbFacts(VpcFacts):
    """The VPC with a security group admitting the VPC on the listener's port."""

    async def security_groups(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
        return dict.fromkeys(group_ids, VPC)

    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        return [("tcp", 80, 80, "10.0.0.0/16")]


@contextmanager
def http_target(netns: str, name: str) -> Iterator[None]:
    command = [sys.executable, "-c", _HTTP_TARGET, name, str(HTTP_PORT)]
    with subprocess.Popen(
        ["ip", "netns", "exec", netns, *command], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


async def test_an_alb_http_listener_in_the_vpc_router_through_the_agent(
    networks: TenantNetworks, tmp_path: Path
) -> None:
    """Decision 0216 on the real kernel: an internal ALB's HTTP listener handed through a
    real agent's socket to the bridged host's side, its proxy in the router's namespace on
    the node address; the HTTP health checks make both targets healthy, a rule forwards
    /api/* round robin to both (each seeing the client's address in X-Forwarded-For), the
    default rule answers its fixed response, AWS/ApplicationELB counts the requests, the
    group's lb_cookie stickiness keeps a client with a cookie jar on one target (decision
    0231), the access logs (decision 0264) reach the gateway through the agent's reports as
    one object of the interval's lines, the connection logs (decision 0307) as another of a
    line per connection, and the listener deleted stops its proxy."""
    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id=TENANT,
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    service = LoadBalancingService(MemoryLbStore(), AlbFacts(first), "eu-fr-1", LbLimits())
    lb = await service.create_load_balancer(
        TENANT,
        LbSpec("shop", "internal", "application", ((first.network_id, None),),
               security_groups=("sg-0alb",)),
    )  # fmt: skip
    check = HealthCheck(
        protocol="HTTP", interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2,
        path="/health", matcher="200",
    )  # fmt: skip
    group = await service.create_target_group(
        TENANT, TgSpec("api", "HTTP", HTTP_PORT, VPC, "instance", check)
    )
    await service.register_targets(TENANT, service.tg_arn(group), [(i, None) for i in TARGETS])
    _, listener = await service.create_http_listener(
        TENANT, service.lb_arn(lb), "HTTP", 80, FixedResponse("404", "text/plain", "none")
    )
    await service.create_rule(
        TENANT, service.listener_arn(lb, listener), 1,
        [Condition("path-pattern", ("/api/*",))], Forward(((service.tg_arn(group), 1),)),
    )  # fmt: skip

    async def record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out, code=code)

    sink = Sink()
    flows = HostFlowTotals(FlowCounts(sink))  # type: ignore[arg-type]
    # Decision 0264: the access logs on, into a bucket that takes them, written at 5 minutes.
    written = HeldLogs()
    service.log_buckets = written
    await service.modify_load_balancer_attributes(
        TENANT, service.lb_arn(lb),
        {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs",
         "connection_logs.s3.enabled": "true", "connection_logs.s3.bucket": "logs"},  # 0307
    )  # fmt: skip
    later = [datetime.now(UTC)]
    logs = AccessLogBatches(service, written, "eu-fr-1", clock=lambda: later[0])

    async def round_() -> None:
        views, probes = await service.forwarding_views(), await service.probes()
        await drive_hosts([remote], views, probes, record, flows, logs=logs)

    async def get(client: Guest, path: str) -> str:
        done = await asyncio.to_thread(
            client.run, sys.executable, "-c", _HTTP_CLIENT, NODE, path, timeout=20
        )
        return done.stdout

    host = RouterHost(networks)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_agent(host, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-tls")
    vpc_in = InstanceFirewall(ingress=(FirewallRule("tcp", HTTP_PORT, HTTP_PORT, "10.0.0.0/16"),))
    async with (
        guest(networks, "i-tls-c1", NicSpec(first, "02:00:00:00:11:1a", "10.0.1.11",
                                             public_address=False)) as client,
        guest(networks, "i-tls-t1", NicSpec(second, "02:00:00:00:12:1a", TARGETS["i-tls-t1"],
                                             public_address=False)) as t1,
        guest(networks, "i-tls-t2", NicSpec(second, "02:00:00:00:12:1b", TARGETS["i-tls-t2"],
                                             public_address=False)) as t2,
    ):  # fmt: skip
        for target in TARGETS:
            assert await networks.set_instance_firewall(target, vpc_in)
        try:
            with http_target(t1.netns, "t1"), http_target(t2.netns, "t2"):
                for _ in range(3):  # applied, then probed twice: healthy
                    await round_()
                health = await service.target_health(TENANT, service.tg_arn(group), [])
                assert {t.state.value for t in health} == {"healthy"}
                assert len(host.side.proxying) == 1
                answers = {await get(client, "/api/items") for _ in range(6)}
                assert answers == {
                    "200 t1 /api/items 10.0.1.11",
                    "200 t2 /api/items 10.0.1.11",
                }
                assert await get(client, "/other") == "404 none"
                await round_()
                assert sink.sums["RequestCount"] == 7
                assert sink.sums["HTTPCode_Target_2XX_Count"] == 6
                assert sink.sums["HTTPCode_ELB_4XX_Count"] == 1
                keys, kinds = await flushed(logs, later, written)
                assert all(f"_elasticloadbalancing_eu-fr-1_app.shop.{lb.lb_id}_" in key
                           and f"_{NODE}_" in key for key in keys)  # fmt: skip
                lines = kinds["access"]
                assert len(lines) == 7
                assert sum(" 10.0.1.11:" in line for line in lines) == 7
                assert sum('"GET http://' in line and " 200 200 " in line for line in lines) == 6
                assert sum(" 404 - " in line and '"fixed-response"' in line for line in lines) == 1
                # Decision 0307: a line per connection, "-" for TLS, its requests' trace id.
                fields = [line.split(" ") for line in kinds["conn"]]
                assert len(fields) == 7
                dashes = ["-", "-", "-", '"-"', "-", "-", "Success"]
                assert all(f[1] == "10.0.1.11" and f[3:11] == ["80", *dashes] for f in fields)
                assert {f[11] for f in fields} == {line.split(" ")[-1] for line in lines}
                assert len({f[11] for f in fields}) == 7  # one a connection
                # Decision 0231: lb_cookie stickiness keeps a client's requests on one target.
                await service.modify_target_group_attributes(
                    TENANT, service.tg_arn(group), {"stickiness.enabled": "true"}
                )
                await round_()
                stuck = await asyncio.to_thread(
                    client.run, sys.executable, "-c", _STICKY_CLIENT, NODE, "/api/s", timeout=20
                )
                assert len(set(stuck.stdout.split())) == 1 and len(stuck.stdout.split()) == 4
                await service.delete_listener(TENANT, service.listener_arn(lb, listener))
                await round_()
                assert host.side.proxying == set()
                assert await get(client, "/api/items") == ""
            await service.delete_load_balancer(TENANT, service.lb_arn(lb))
            await round_()
        finally:
            await host.side.close()
            await remote.close()
            stop.set()
            await serving


# Decision 0256: an HTTPS listener's mutual TLS. The target answers the client certificate's
# subject and serial number as the load balancer told them; the client (Python's ``ssl``,
# verifying the listener's certificate) presents its certificate file, or none with "-".
_MTLS_TARGET = """
import http.server, sys
class Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        h = self.headers
        body = (f"{h.get('X-Amzn-Mtls-Clientcert-Subject')} "
                f"{h.get('X-Amzn-Mtls-Clientcert-Serial-Number')}").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Answer)
print("ready", flush=True); server.serve_forever()
"""
_MTLS_CLIENT = """
import socket, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[1])
if sys.argv[4] != "-":
    context.load_cert_chain(sys.argv[4])
try:
    with socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="www.example.test") as s:
            s.sendall(b"GET /who HTTP/1.1\\r\\nHost: www\\r\\nConnection: close\\r\\n"
                      b"X-Amzn-Mtls-Clientcert-Subject: CN=forged\\r\\n\\r\\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
    print(answer.split(b"\\r\\n")[0].decode(), answer.split(b"\\r\\n\\r\\n", 1)[1].decode(), end="")
except (OSError, IndexError):
    print("refused", end="")
"""
MTLS_PORT = 7300


class MtlsFacts(AlbFacts):
    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        return [("tcp", 443, 443, "10.0.0.0/16")]


class HeldObjects:
    """The trust stores' ``BucketObjects``: the test's bundle and CRL by key."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def read(
        self, caller: object, bucket: str, key: str, version: str | None, limit: int
    ) -> bytes | None:
        return self.objects.get(key)


async def test_an_alb_https_listener_verifies_client_certificates_through_the_agent(
    networks: TenantNetworks, tmp_path: Path
) -> None:
    """Decision 0256 on the real kernel: an HTTPS listener in ``verify`` mode with a trust
    store (its CA bundle and a CRL) handed through a real agent's socket with its
    certificate; a client in the VPC with a certificate of the store's CA reaches the
    target, which is told its subject and serial number (the client's forged header
    dropped); a client without a certificate, with one of another CA, a revoked or an
    expired one is refused."""
    from andromede.loadbalancing.trust_store_service import ObjectPlace
    from andromede.loadbalancing.trust_stores import MutualAuthentication
    from support.client_pki import ClientCa

    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id=TENANT,
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    server_ca, clients = TestCa(), ClientCa()
    (tmp_path / "ca.pem").write_text(server_ca.pem)
    good, revoked = clients.issue("alice"), clients.issue("mallory")
    expired, stranger = clients.issue("old", expired=True), ClientCa("Other").issue("eve")
    files = {}
    for name, made in (("good", good), ("revoked", revoked), ("expired", expired),
                       ("stranger", stranger)):  # fmt: skip
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text(made.pem + made.key_pem)
    certificates = HeldCertificates()
    www = f"arn:aws:iam::{TENANT}:server-certificate/www"
    certificates.held[www] = server_ca.issue("www.example.test")
    objects = HeldObjects()
    objects.objects = {"bundle.pem": clients.pem.encode(), "ca.crl": clients.crl(revoked.serial)}
    service = LoadBalancingService(MemoryLbStore(), MtlsFacts(first), "eu-fr-1", LbLimits())
    service.certificates, service.objects = certificates, objects
    store = await service.create_trust_store(
        TENANT, "caller", "clients", ObjectPlace("certs", "bundle.pem")
    )
    await service.add_revocations(
        TENANT, "caller", store.arn, [(ObjectPlace("c", "ca.crl"), "CRL")]
    )
    lb = await service.create_load_balancer(
        TENANT,
        LbSpec("shop", "internal", "application", ((first.network_id, None),),
               security_groups=("sg-0alb",)),
    )  # fmt: skip
    check = HealthCheck(
        protocol="HTTP", interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2,
        path="/health", matcher="200",
    )  # fmt: skip
    group = await service.create_target_group(
        TENANT, TgSpec("api", "HTTP", MTLS_PORT, VPC, "instance", check)
    )
    await service.register_targets(TENANT, service.tg_arn(group), [("i-tls-t1", None)])
    await service.create_http_listener(
        TENANT, service.lb_arn(lb), "HTTPS", 443, Forward(((service.tg_arn(group), 1),)),
        tls=TlsRequest(certificates=(www,)),
        mutual=MutualAuthentication("verify", store.store_id),
    )  # fmt: skip
    opened = ListenerCertificates(service.certificate_material, 100, 65536)
    # Decision 0287: its connection logs on, each handshake's outcome written at 5 minutes.
    written = HeldLogs()
    service.log_buckets = written
    await service.modify_load_balancer_attributes(
        TENANT, service.lb_arn(lb),
        {"connection_logs.s3.enabled": "true", "connection_logs.s3.bucket": "logs"},
    )  # fmt: skip
    later = [datetime.now(UTC)]
    logs = AccessLogBatches(service, written, "eu-fr-1", clock=lambda: later[0])

    async def record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
        await service.record_probe(probe, ok, timed_out=timed_out, code=code)

    async def get(client: Guest, certificate: str) -> str:
        done = await asyncio.to_thread(
            client.run, sys.executable, "-c", _MTLS_CLIENT, str(tmp_path / "ca.pem"), NODE,
            "443", certificate, timeout=20,
        )  # fmt: skip
        return done.stdout

    host = RouterHost(networks)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_agent(host, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-tls")
    vpc_in = InstanceFirewall(ingress=(FirewallRule("tcp", MTLS_PORT, MTLS_PORT, "10.0.0.0/16"),))
    async with (
        guest(networks, "i-tls-c1", NicSpec(first, "02:00:00:00:11:1a", "10.0.1.11",
                                             public_address=False)) as client,
        guest(networks, "i-tls-t1", NicSpec(second, "02:00:00:00:12:1a", TARGETS["i-tls-t1"],
                                             public_address=False)) as t1,
    ):  # fmt: skip
        assert await networks.set_instance_firewall("i-tls-t1", vpc_in)
        command = [sys.executable, "-c", _MTLS_TARGET, str(MTLS_PORT)]
        try:
            with subprocess.Popen(
                ["ip", "netns", "exec", t1.netns, *command], stdout=subprocess.PIPE, text=True
            ) as target:
                try:
                    assert target.stdout is not None
                    assert target.stdout.readline().strip() == "ready"
                    for _ in range(2):
                        views, probes = await service.forwarding_views(), await service.probes()
                        await drive_hosts([remote], views, probes, record, certificates=opened)
                    assert len(host.side.proxying) == 1
                    status, subject, serial = (await get(client, str(files["good"]))).rsplit(" ", 2)
                    assert (status, subject, int(serial, 16)) == (
                        "HTTP/1.1 200 OK",
                        "CN=alice",
                        good.serial,
                    )
                    for refused in ("-", str(files["stranger"]), str(files["revoked"]),
                                    str(files["expired"])):  # fmt: skip
                        assert await get(client, refused) == "refused", refused
                    views, probes = await service.forwarding_views(), await service.probes()
                    await drive_hosts(
                        [remote], views, probes, record, certificates=opened, logs=logs
                    )
                    keys, kinds = await flushed(logs, later, written)
                    assert all("/conn_log." in key and f"_app.shop.{lb.lb_id}_" in key
                               for key in keys)  # fmt: skip
                    lines = kinds["conn"]
                    assert [line.split(" ")[-2] for line in lines] == [
                        "Success", "Failed:ClientCertUntrusted", "Failed:ClientCertUntrusted",
                        "Failed:ClientCertCrlHit", "Failed:ClientCertExpired",
                    ]  # fmt: skip
                    assert all(line.split(" ")[1] == "10.0.1.11" for line in lines)
                finally:
                    target.kill()
        finally:
            await host.side.close()
            await remote.close()
            stop.set()
            await serving
