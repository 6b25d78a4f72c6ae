"""Flow log capture on the real kernel (decision 0153): two namespace guests in two subnets of
one VPC router; a TCP connection the receiver's security group allows is counted as ACCEPT
records (both directions, with bytes), one to a port it refuses as a REJECT record, nothing
is counted for an interface no flow log captures, and past the flow cap the interface's
interval is reported skipped (SKIPDATA); each record carries the TCP flags the router saw
(decision 0348: SYN, SYN-ACK, FIN or RST, the refused port's SYN on its REJECT record). A
bridge-mode QEMU driver's ``collect_flows`` captures
what it is told on the routers it holds, and drops a router's flow table with its last capture.
The kernel's records of a flow log to CloudWatch Logs (decision 0153's session-48 addendum)
are delivered as the flow log's role into a group of the in-process Logs service, and read
back with botocore's FilterLogEvents: one stream per interface, one event a record. IPv6
between two subnets (decision 0368) is recorded alike: ICMPv6 (58) echoes and TCP, ACCEPT
and REJECT both ways as the groups' IPv6 chains judge them, written as EC2 writes them in
text, Parquet, Firehose records and CloudWatch Logs events, within the one flow cap IPv4
shares. A connection out of the VPC through its internet gateway (decision 0387) is written
with traffic path 2 from an instance of a type EC2 builds on Xen, 8 from one on Nitro.

As in test_icmp_rules.py, a "guest" is a network namespace of its own whose ``eth0`` is one
end of a veth pair. Needs root and the ``ip``, ``nft``, ``dnsmasq`` commands.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from andromede.compute.driver_network import (
    FirewallRule,
    HostFlows,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.compute.driver_network import (
    FlowCapture as DriverCapture,
)
from andromede.compute.flow_log import (
    DEFAULT_FORMAT,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
)
from andromede.compute.flow_log_files import (
    FlowRecord,
    InterfaceContext,
    firehose_records,
    log_events,
    log_lines,
    log_rows,
)
from andromede.compute.flow_log_parquet import parquet_body
from andromede.compute.flow_logs import traffic_paths
from andromede.compute.nitro import built_on_nitro
from andromede.compute.routing import Route, RouteTable
from andromede.flow_log_groups import FlowLogGroups
from andromede.hypervisor.flow_capture import FLOW_TABLE, FlowCounters
from andromede.hypervisor.netns_commands import _run
from andromede.hypervisor.qemu import QemuDriver, QemuDriverConfig
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.ipv6_guests import connect6, echo6, serving6, take_ipv6
from support.kmskit import REGION
from support.logsapp import harness_over, logs_world
from support.tenant_networks import (
    guest,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

ANYWHERE = "0.0.0.0/0"
OPEN, CLOSED = 8080, 9090


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("f")


def _subnets() -> tuple[NetworkSpec, NetworkSpec]:
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        NetworkSpec(
            network_id="subnet-" + secrets.token_hex(4),
            tenant_id="111111111111",
            cidr=f"10.9.{third}.0/24",
            vpc_id=vpc,
            vpc_cidr="10.9.0.0/16",
        )
        for third in (1, 2)
    )
    return first, second


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    third = int(prefix.rsplit(".", 1)[1])
    return NicSpec(network=network, mac=f"02:00:00:02:{third:02x}:{host:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


# Decision 0368: IPv6 between two subnets of one VPC, forwarded by its router and judged by
# the groups' IPv6 chains (decision 0217).
VPC_BLOCK = "fd00:9::/56"
A6, B6 = "fd00:9:0:1::a", "fd00:9:0:2::b"
IPV6_FORMAT = (
    *DEFAULT_FORMAT, "type", "pkt-srcaddr", "pkt-dstaddr", "tcp-flags", "flow-direction",
    "traffic-path",
)  # fmt: skip


def _dual_stack_nics() -> tuple[NicSpec, NicSpec]:
    first, second = _subnets()
    a_nic = replace(_nic(replace(first, ipv6_cidr="fd00:9:0:1::/64"), 13), ipv6_addresses=(A6,))
    b_nic = replace(_nic(replace(second, ipv6_cidr="fd00:9:0:2::/64"), 14), ipv6_addresses=(B6,))
    return a_nic, b_nic


def _keys(records: list[FlowRecord], interface: str, protocol: int) -> set[tuple[str, ...]]:
    """(action, source, destination) of an interface's records of a protocol."""
    return {
        (r.key.action, r.key.srcaddr, r.key.dstaddr)
        for r in records
        if r.key.interface_id == interface and r.key.protocol == protocol
    }


def _of(records: list[FlowRecord], interface: str, action: str, port: int) -> list[FlowRecord]:
    return [
        r
        for r in records
        if r.key.interface_id == interface
        and r.key.action == action
        and port in (r.key.dstport, r.key.srcport)
    ]


def _statement(principal: str | None, action: str) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": "Allow", "Action": action}
    if principal is None:
        return {**statement, "Resource": "*"}
    return {**statement, "Principal": {"Service": principal}}


async def _through_a_log_group(records: list[FlowRecord]) -> list[tuple[str, str]]:
    """The records of ``eni-b`` delivered into a CloudWatch Logs group as a flow log's role
    (decision 0153's session-48 addendum), read back with FilterLogEvents: (stream, message)
    of the REJECT events."""
    with tempfile.TemporaryDirectory(prefix="p48-flows-") as folder:
        for world in logs_world(Path(folder) / "logs"):
            world.clock.now = int(time.time() * 1000)
            logs = await harness_over(world, Path(folder))
            try:
                trust = {"Statement": [_statement("vpc-flow-logs.amazonaws.com", "sts:AssumeRole")]}
                await logs.identity.create_role(logs.tenant_id, "flows", json.dumps(trust))
                allow = {"Statement": [_statement(None, "logs:*")]}
                await logs.identity.put_role_policy(logs.tenant_id, "flows", "p", json.dumps(allow))
                role = f"arn:aws:iam::{logs.tenant_id}:role/flows"
                flow_log = FlowLog(
                    "fl-0123456789abcdef0", logs.tenant_id, ResourceType.NETWORK_INTERFACE,
                    "eni-b", TrafficType.ALL, Destination(log_group="/vpc/flows", role_arn=role),
                    DEFAULT_FORMAT, 60, datetime.now(UTC),
                )  # fmt: skip
                streams = log_events(flow_log, REGION, records, {}, {"eni-b": InterfaceContext()})
                delivered = FlowLogGroups(logs.identity, world.service)
                assert await delivered.deliver(flow_log, streams) is None
                got = await logs.ok(
                    "FilterLogEvents", {"logGroupName": "/vpc/flows", "filterPattern": "REJECT"}
                )
                return [(e["logStreamName"], e["message"]) for e in got["events"]]
            finally:
                await logs.audit.close()
                await logs.billing.close()
    raise AssertionError("no Logs world")


async def test_allowed_tcp_is_accepted_with_bytes_and_a_refused_port_rejected(
    networks: TenantNetworks,
) -> None:
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        assert await networks.set_instance_firewall("i-a", InstanceFirewall())
        allowed = InstanceFirewall(ingress=(FirewallRule("tcp", OPEN, OPEN, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", allowed)
        netns = networks.router_netns(first.network_id)
        assert netns is not None
        assert netns == networks.router_netns(second.network_id)  # one VPC router
        assert networks.router_netns("subnet-elsewhere") is None
        capture = FlowCounters(max_flows=1000)
        # Only b's interface is captured: a's flows appear only as b sees them.
        await capture.capture(netns, {b_nic.private_ip: "eni-b"})
        with serving(b.netns, "", OPEN, CLOSED):
            assert a.reach(b_nic.private_ip, OPEN) == f"peer {a_nic.private_ip}"
            assert a.connect(b_nic.private_ip, CLOSED) == ""
        report = await capture.collect(netns)
        records = report.records
        assert {r.key.interface_id for r in records} == {"eni-b"}
        inbound = [
            r for r in _of(records, "eni-b", "ACCEPT", OPEN) if r.key.dstaddr == b_nic.private_ip
        ]
        assert len(inbound) == 1
        assert inbound[0].key.srcaddr == a_nic.private_ip
        assert inbound[0].key.protocol == 6
        assert inbound[0].packets >= 3  # SYN, ACK, request at least
        assert inbound[0].bytes > 40 * inbound[0].packets - 1
        assert inbound[0].start <= inbound[0].end
        replies = [
            r for r in _of(records, "eni-b", "ACCEPT", OPEN) if r.key.srcaddr == b_nic.private_ip
        ]
        assert replies and replies[0].bytes > 0
        # Decision 0348: the TCP flags the router saw, as EC2 writes them — the opening SYN
        # (2) without SYN-ACK on a's side, b's SYN-ACK (18) on its replies, and whatever
        # closed them (FIN 1 or RST 4), nothing else.
        assert inbound[0].tcp_flags & 18 == 2 and inbound[0].tcp_flags & ~0b111 == 0
        assert replies[0].tcp_flags & 18 == 18 and replies[0].tcp_flags & ~0b10111 == 0
        assert inbound[0].tcp_flags & 0b101 or replies[0].tcp_flags & 0b101  # closed
        refused = _of(records, "eni-b", "REJECT", CLOSED)
        assert len(refused) == 1
        assert refused[0].key.dstaddr == b_nic.private_ip
        assert refused[0].packets >= 1
        assert refused[0].tcp_flags == 2  # SYNs only, each dropped
        assert not _of(records, "eni-b", "ACCEPT", CLOSED)
        assert report.skipped == {}
        # To CloudWatch Logs: the refused connection is one event of eni-b's stream.
        [(stream, message)] = await _through_a_log_group(records)
        assert stream == "eni-b"
        fields = message.split()
        assert (fields[2], fields[4], fields[6], fields[12]) == (
            "eni-b", b_nic.private_ip, str(CLOSED), "REJECT",
        )  # fmt: skip
        # The next interval reports only what is new: nothing.
        again = await capture.collect(netns)
        assert again.records == []
        await capture.forget(netns)
        listed = await _tables(netns)
        assert FLOW_TABLE not in listed


async def _tables(netns: str) -> str:
    return await _run("ip", "netns", "exec", netns, "nft", "list", "tables")


async def test_flows_past_the_cap_make_the_interval_skipped(networks: TenantNetworks) -> None:
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 7), _nic(second, 8)
    async with guest(networks, "i-c", a_nic) as a, guest(networks, "i-d", b_nic) as b:
        everything = InstanceFirewall(ingress=(FirewallRule("tcp", 1, 65535, ANYWHERE),))
        assert await networks.set_instance_firewall("i-c", everything)
        assert await networks.set_instance_firewall("i-d", everything)
        netns = networks.router_netns(first.network_id)
        assert netns is not None
        capture = FlowCounters(max_flows=1)
        await capture.capture(netns, {a_nic.private_ip: "eni-c"})
        with serving(b.netns, "", OPEN, CLOSED):
            assert a.reach(b_nic.private_ip, OPEN)
            assert a.reach(b_nic.private_ip, CLOSED)
        report = await capture.collect(netns)
        # One flow held (the cap), the rest counted only in the interface's total.
        assert len({(r.key.srcport, r.key.dstport) for r in report.records}) <= 1
        assert set(report.skipped) == {"eni-c"}
        await capture.forget(netns)


async def test_the_qemu_driver_captures_what_it_is_told(tmp_path: Path) -> None:
    """``collect_flows`` on a bridge-mode QEMU driver: the captures of subnets built here reach
    their router, the counts come back with the next call, and a capture dropped removes the
    router's flow table."""
    layout = random_layout("q")
    state_dir = Path(tempfile.mkdtemp(prefix="andromede-flows-", dir="/tmp"))
    driver = QemuDriver(
        state_dir, host="test-host",
        config=QemuDriverConfig(networking="bridge", network_layout=layout, flow_log_max_flows=64),
    )  # fmt: skip
    host_networks = driver._networks  # the driver's own routers, as its instances' are
    a_nic, b_nic = _dual_stack_nics()
    second = b_nic.network
    try:
        async with (
            guest(host_networks, "i-e", a_nic) as a,
            guest(host_networks, "i-f", b_nic) as b,
        ):
            take_ipv6(a, A6, "fd00:9:0:1::1")
            take_ipv6(b, B6, "fd00:9:0:2::1")
            everything = InstanceFirewall(
                ingress=(FirewallRule("tcp", 1, 65535, ANYWHERE), FirewallRule("-1", 0, 0, "::/0"))
            )
            all_out = InstanceFirewall(egress=(*InstanceFirewall().egress, *everything.ingress[1:]))
            assert await host_networks.set_instance_firewall("i-e", all_out)
            assert await host_networks.set_instance_firewall("i-f", everything)
            captures = (
                # Its IPv6 address too (decision 0368).
                DriverCapture(second.network_id, b_nic.private_ip, "eni-f", ipv6_addresses=(B6,)),
                DriverCapture("subnet-elsewhere", "10.9.9.9", "eni-x"),  # not built here
            )
            assert await driver.collect_flows(captures) == HostFlows()
            netns = host_networks.router_netns(second.network_id)
            assert netns is not None
            with serving(b.netns, "", OPEN):
                assert a.reach(b_nic.private_ip, OPEN)
            assert echo6(a, B6, 2, reach=True) == 2
            flows = await driver.collect_flows(captures)
            accepted = [r for r in flows.records if r.key.action == "ACCEPT"]
            assert {r.key.interface_id for r in accepted} == {"eni-f"}
            assert any(r.key.dstport == OPEN and r.bytes > 0 for r in accepted)
            assert any(r.key.srcaddr == A6 and r.key.protocol == 58 for r in accepted)
            assert flows.skipped == ()
            # No capture left: the router's flow table goes.
            assert await driver.collect_flows(()) == HostFlows()
            assert FLOW_TABLE not in await _tables(netns)
    finally:
        for network_id in list(host_networks._state.networks):
            await host_networks.remove(network_id)
        await driver.close()
        shutil.rmtree(state_dir, ignore_errors=True)


async def test_the_metadata_service_is_not_logged(networks: TenantNetworks) -> None:
    """As on EC2: an instance's connections to 169.254.169.254 are not flow log records."""
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 11), _nic(second, 12)
    async with guest(networks, "i-g", a_nic) as a, guest(networks, "i-h", b_nic) as b:
        everything = InstanceFirewall(ingress=(FirewallRule("tcp", 1, 65535, ANYWHERE),))
        assert await networks.set_instance_firewall("i-g", everything)
        assert await networks.set_instance_firewall("i-h", everything)
        netns = networks.router_netns(first.network_id)
        assert netns is not None
        capture = FlowCounters(max_flows=100)
        await capture.capture(netns, {a_nic.private_ip: "eni-g"})
        a.connect("169.254.169.254", 80)  # DNAT'ed to the host, which may not answer here
        report = await capture.collect(netns)
        assert report.records == []
        assert report.skipped == {}
        # What is logged still is.
        with serving(b.netns, "", OPEN):
            assert a.reach(b_nic.private_ip, OPEN)
        assert (await capture.collect(netns)).records
        await capture.forget(netns)


async def test_ipv6_flows_are_recorded_accepted_and_rejected_both_ways(
    networks: TenantNetworks,
) -> None:
    a_nic, b_nic = _dual_stack_nics()
    async with guest(networks, "i-i", a_nic) as a, guest(networks, "i-j", b_nic) as b:
        take_ipv6(a, A6, "fd00:9:0:1::1")
        take_ipv6(b, B6, "fd00:9:0:2::1")
        open_to_all = InstanceFirewall(
            ingress=(FirewallRule("-1", 0, 0, "::/0"),),
            egress=(FirewallRule("-1", 0, 0, ANYWHERE), FirewallRule("-1", 0, 0, "::/0")),
        )
        assert await networks.set_instance_firewall("i-i", open_to_all)
        # b lets in everything of a's /64 (ICMPv6 too) and TCP on OPEN over IPv4.
        assert await networks.set_instance_firewall(
            "i-j",
            InstanceFirewall(
                ingress=(
                    FirewallRule("-1", 0, 0, "fd00:9:0:1::/64"),
                    FirewallRule("tcp", OPEN, OPEN, ANYWHERE),
                )
            ),
        )
        netns = networks.router_netns(a_nic.network.network_id)
        assert netns is not None
        capture = FlowCounters(max_flows=1000)
        # Both interfaces, each by its IPv4 and its IPv6 address (an uncompressed spelling
        # finds the kernel's).
        await capture.capture(
            netns,
            {
                a_nic.private_ip: "eni-a", "fd00:9:0:1:0:0:0:a": "eni-a",
                b_nic.private_ip: "eni-b", B6: "eni-b",
            },
        )  # fmt: skip
        with serving6(b.netns, OPEN, CLOSED):  # on :: — IPv4 too
            assert echo6(a, B6, 3, reach=True) == 3
            assert connect6(a, B6, OPEN, reach=True) == f"peer {A6}"
            assert a.reach(b_nic.private_ip, OPEN)  # IPv4 beside it
            accepted = (await capture.collect(netns)).records
            # ICMPv6 (58), no ports, both ways, on both interfaces: ACCEPT.
            both_ways = {("ACCEPT", A6, B6), ("ACCEPT", B6, A6)}
            assert _keys(accepted, "eni-b", 58) == both_ways
            assert _keys(accepted, "eni-a", 58) == both_ways
            echoes = [r for r in accepted if r.key.protocol == 58 and r.key.srcaddr == A6]
            assert all(r.packets == 3 and r.key.srcport == r.key.dstport == 0 for r in echoes)
            opened = [r for r in accepted if r.key.dstport == OPEN and r.key.dstaddr == B6]
            assert {r.key.interface_id for r in opened} == {"eni-a", "eni-b"}
            assert all(r.tcp_flags & 18 == 2 for r in opened)  # a's SYN, no SYN-ACK
            assert ("ACCEPT", a_nic.private_ip, b_nic.private_ip) in _keys(accepted, "eni-b", 6)
            # Now b lets in TCP on OPEN only, and sends IPv6 to HTTPS only.
            assert await networks.set_instance_firewall(
                "i-j",
                InstanceFirewall(
                    ingress=(FirewallRule("tcp", OPEN, OPEN, "fd00:9:0:1::/64"),),
                    egress=(FirewallRule("tcp", 443, 443, "::/0"),),
                ),
            )
            assert echo6(a, B6, 2, reach=False) == 0  # b's ingress drops it
            assert echo6(b, A6, 2, reach=False) == 0  # b's egress drops it
            assert connect6(a, B6, CLOSED, reach=False) == ""
        report = await capture.collect(netns)
        refused = report.records
        assert report.skipped == {}
        assert _keys(refused, "eni-b", 58) == {("REJECT", A6, B6), ("REJECT", B6, A6)}
        assert _keys(refused, "eni-a", 58) == {("REJECT", A6, B6), ("REJECT", B6, A6)}
        [syn] = [r for r in refused if r.key.interface_id == "eni-b" and r.key.protocol == 6]
        assert (syn.key.action, syn.key.dstaddr, syn.key.dstport, syn.tcp_flags) == (
            "REJECT", B6, CLOSED, 2,
        )  # fmt: skip
        # As EC2 writes them, in every destination's shape.
        ipv6_paths = traffic_paths(None, "", (), (VPC_BLOCK,))
        contexts = {
            "eni-b": InterfaceContext(
                "vpc-1", b_nic.network.network_id, "i-j", b_nic.private_ip, ipv6_paths,
                ipv6_addresses=(B6,),
            )
        }  # fmt: skip
        flow_log = FlowLog(
            "fl-0123456789abcdef0", "111111111111", ResourceType.NETWORK_INTERFACE, "eni-b",
            TrafficType.ALL, Destination("logs"), IPV6_FORMAT, 60, datetime.now(UTC),
        )  # fmt: skip
        lines = log_lines(flow_log, REGION, accepted + refused, {}, contexts)[1:]
        fields = [line.split() for line in lines]
        rows = {(f[3], f[4], f[7], f[12], f[18], f[19]): f for f in fields}
        # (srcaddr, dstaddr, protocol, action, flow-direction, traffic-path)
        assert {
            (A6, B6, "58", "ACCEPT", "ingress", "-"),
            (B6, A6, "58", "ACCEPT", "egress", "1"),
            (A6, B6, "58", "REJECT", "ingress", "-"),
            (B6, A6, "58", "REJECT", "egress", "1"),
        } <= set(rows)
        echoed = rows[(B6, A6, "58", "REJECT", "egress", "1")]
        assert echoed[14:18] == ["IPv6", B6, A6, "0"]  # type, pkt-srcaddr, pkt-dstaddr, flags
        assert rows[(A6, B6, "6", "REJECT", "ingress", "-")][17] == "2"
        parquet = pq.read_table(
            io.BytesIO(parquet_body(IPV6_FORMAT, log_rows(flow_log, REGION, refused, {}, contexts)))
        )
        assert parquet.schema.field("srcaddr").type == pa.string()
        assert {A6, B6} <= set(parquet.column("srcaddr").to_pylist())
        assert set(parquet.column("type").to_pylist()) == {"IPv6"}
        assert 58 in parquet.column("protocol").to_pylist()
        streamed = firehose_records(flow_log, REGION, refused, {}, contexts)
        assert any(b" 58 " in line and B6.encode() in line for line in streamed)
        # To CloudWatch Logs: eni-b's stream holds the refused echoes, both ways.
        events = await _through_a_log_group(refused)
        echoes_refused = {
            (f[3], f[4]) for _, message in events if (f := message.split())[7] == "58"
        }
        assert echoes_refused == {(A6, B6), (B6, A6)}
        assert {stream for stream, _ in events} == {"eni-b"}
        await capture.forget(netns)


async def test_ipv6_and_ipv4_flows_share_the_cap(networks: TenantNetworks) -> None:
    """``flow_log_max_flows`` bounds a router's flows of both families together: two IPv4
    flows (a TCP connection, both ways) and two IPv6 ones (echoes and their replies) past a
    cap of two — which each family's sets would hold — are two, the interval SKIPDATA."""
    a_nic, b_nic = _dual_stack_nics()
    async with guest(networks, "i-k", a_nic) as a, guest(networks, "i-l", b_nic) as b:
        take_ipv6(a, A6, "fd00:9:0:1::1")
        take_ipv6(b, B6, "fd00:9:0:2::1")
        everything = InstanceFirewall(
            ingress=(FirewallRule("-1", 0, 0, ANYWHERE), FirewallRule("-1", 0, 0, "::/0")),
            egress=(FirewallRule("-1", 0, 0, ANYWHERE), FirewallRule("-1", 0, 0, "::/0")),
        )
        assert await networks.set_instance_firewall("i-k", everything)
        assert await networks.set_instance_firewall("i-l", everything)
        netns = networks.router_netns(a_nic.network.network_id)
        assert netns is not None
        capture = FlowCounters(max_flows=2)
        await capture.capture(netns, {a_nic.private_ip: "eni-k", A6: "eni-k"})
        with serving6(b.netns, OPEN):
            assert a.reach(b_nic.private_ip, OPEN)
            assert echo6(a, B6, 1, reach=True) == 1
        report = await capture.collect(netns)
        flows = {(r.key.srcaddr, r.key.dstaddr, r.key.protocol) for r in report.records}
        assert len(flows) == 2
        assert set(report.skipped) == {"eni-k"}
        # Alone in an interval, the IPv6 flows are within the cap: recorded, nothing skipped.
        assert echo6(a, B6, 1, reach=True) == 1
        report = await capture.collect(netns)
        assert {(r.key.srcaddr, r.key.protocol) for r in report.records} == {(A6, 58), (B6, 58)}
        assert report.skipped == {}
        await capture.forget(netns)


async def test_the_internet_gateways_path_is_2_on_xen_and_8_on_nitro(
    networks: TenantNetworks,
) -> None:
    """Decision 0387: a connection out of the VPC (to an address of the host's LAN, the
    internet as the routers see it) is recorded by the router as egress to that address, and
    written as EC2 writes it through the subnet's route to an internet gateway: traffic path 2
    from an instance of a type EC2 builds on Xen (``t2``), 8 from one on Nitro (``t3``); 1
    to another instance of the VPC; the replies ingress, ``-``."""
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 15), _nic(second, 16)
    table = RouteTable(
        "rtb-1", "111111111111", first.vpc_id,
        (Route("10.9.0.0/16", "local"), Route("0.0.0.0/0", "igw-1")),
    )  # fmt: skip
    contexts = {
        eni: InterfaceContext(
            first.vpc_id, nic.network.network_id, instance, nic.private_ip,
            traffic_paths(table, "", (), nitro=built_on_nitro(itype)),
        )
        for eni, nic, instance, itype in (
            ("eni-a", a_nic, "i-m", "t2.micro"), ("eni-b", b_nic, "i-n", "t3.micro"),
        )
    }  # fmt: skip
    with outside_addresses() as (outside,):
        async with guest(networks, "i-m", a_nic) as a, guest(networks, "i-n", b_nic) as b:
            allowed = InstanceFirewall(ingress=(FirewallRule("tcp", OPEN, OPEN, ANYWHERE),))
            assert await networks.set_instance_firewall("i-n", allowed)
            netns = networks.router_netns(first.network_id)
            assert netns is not None
            capture = FlowCounters(max_flows=1000)
            await capture.capture(netns, {a_nic.private_ip: "eni-a", b_nic.private_ip: "eni-b"})
            with serving(None, outside, OPEN):
                assert a.reach(outside, OPEN).startswith("peer ")
                assert b.reach(outside, OPEN).startswith("peer ")
            with serving(b.netns, "", OPEN):
                assert a.reach(b_nic.private_ip, OPEN) == f"peer {a_nic.private_ip}"
            records = (await capture.collect(netns)).records
            await capture.forget(netns)
    flow_log = FlowLog(
        "fl-0123456789abcdef0", "111111111111", ResourceType.VPC, first.vpc_id,
        TrafficType.ALL, Destination("logs"), IPV6_FORMAT, 60, datetime.now(UTC),
    )  # fmt: skip
    lines = log_lines(flow_log, REGION, records, {}, contexts)[1:]
    # (interface-id, srcaddr, dstaddr, action, flow-direction, traffic-path)
    rows = {(f[2], f[3], f[4], f[12], f[18], f[19]) for f in (line.split() for line in lines)}
    a_ip, b_ip = a_nic.private_ip, b_nic.private_ip
    assert {
        ("eni-a", a_ip, outside, "ACCEPT", "egress", "2"),
        ("eni-a", outside, a_ip, "ACCEPT", "ingress", "-"),
        ("eni-b", b_ip, outside, "ACCEPT", "egress", "8"),
        ("eni-b", outside, b_ip, "ACCEPT", "ingress", "-"),
        ("eni-a", a_ip, b_ip, "ACCEPT", "egress", "1"),
        ("eni-b", a_ip, b_ip, "ACCEPT", "ingress", "-"),
    } <= rows
