"""Network bytes metering and NAT gateway interfaces in flow logs (decision 0176): the routers'
meter table and its reading (pure: the nft text, the JSON read back, differences by generation),
the counts given to their owners, the agent wire carrying them, the setting of the platform's
ranges, the billing path in process — a flow logs' pass over the memory host counting
``ec2.transfer.out`` for the instance's tenant and ``ec2.nat-gateway.bytes`` for the gateway's,
once, and (decision 0181) the gateway's ``AWS/NATGateway`` bytes both ways — and a NAT gateway's
interface: its connections as EC2's four records, its capture told to the hosts by a flow log on
it or its VPC, its records written."""

from __future__ import annotations

import dataclasses
import gzip
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.app import storage_limits
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.compute.driver_network import (
    WIRE_OMITTED_AT_DEFAULT,
    FlowCapture,
    HostFlows,
)
from andromede.compute.flow_log_files import _WIRE_OMITTED, FlowKey, FlowRecord
from andromede.compute.traffic import (
    INTERNET_OUT,
    NAT_GATEWAY,
    NAT_GATEWAY_IN,
    GatewayBytes,
    TrafficCount,
    attribute,
    per_gateway,
)
from andromede.compute_adapters import hypervisor_host_driver
from andromede.errors import AndromedeError
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.hypervisor.flow_capture import _Last, _nat_records, render_flow_table
from andromede.hypervisor.traffic_meters import _differences, _read, render_meter_table
from andromede.hypervisor.wire import CALLS, decode, encode
from andromede.platform_metrics import nat_gateway_metrics
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wiring.billing import traffic_meter
from support.ec2app import REGION, Client, World, ec2_world
from support.keys import cipher_in
from support.metric_sinks import RecordingSink

GIB = 2**30


def test_the_meter_table_counts_after_the_firewall_outside_the_platform() -> None:
    table = render_meter_table(
        transit="transit", platform=["100.65.0.0/16", "100.64.0.0/16"], gateways=["198.18.0.7"]
    )
    # Counted once the firewall let it (after its priority), out through the transit link,
    # to what is not the platform's.
    assert "hook forward priority filter + 20" in table
    assert 'oifname "transit" ip daddr != @platform update @egress { ip saddr }' in table
    assert "add element ip andromede_meters platform { 100.64.0.0/16, 100.65.0.0/16 }" in table
    # A gateway's bytes: out after the source NAT, in before it is undone, replies only.
    assert "hook postrouting priority srcnat + 10" in table
    assert "hook prerouting priority mangle" in table
    assert "ip daddr @gateways ct state established,related update @nat_in" in table
    # Applied again, it keeps its sets (declared, never deleted), refilling only its ranges.
    assert "delete table" not in table
    assert "flush set ip andromede_meters egress" not in table
    assert "flush set ip andromede_meters gateways" in table
    none = render_meter_table(transit="transit", platform=["100.64.0.0/16"], gateways=[])
    assert "add element ip andromede_meters gateways" not in none


def _listing(handle: int, egress: dict[str, int], nat_out: dict[str, int]) -> str:
    def elements(counts: dict[str, int]) -> list[dict[str, Any]]:
        return [
            {"elem": {"val": address, "counter": {"packets": 1, "bytes": size}}}
            for address, size in counts.items()
        ]

    return json.dumps(
        {
            "nftables": [
                {"metainfo": {"version": "1.0.6"}},
                {"table": {"family": "ip", "name": "andromede_meters", "handle": handle}},
                {"set": {"name": "platform", "elem": [{"prefix": {"addr": "100.64.0.0"}}]}},
                {"set": {"name": "egress", "elem": elements(egress)}},
                {"set": {"name": "nat_out", "elem": elements(nat_out)}},
                {"set": {"name": "nat_in", "elem": elements({"198.18.0.7": 40})}},
            ]
        }
    )


def test_reading_and_differences_by_generation() -> None:
    handle, first = _read(_listing(7, {"10.0.1.5": 1000}, {"198.18.0.7": 500}))
    assert handle == 7
    assert first == {"egress 10.0.1.5": 1000, "nat_out 198.18.0.7": 500, "nat_in 198.18.0.7": 40}
    gateways = {"198.18.0.7": "nat-1"}
    assert list(_differences("vpc-1", first, {}, gateways)) == [
        TrafficCount(INTERNET_OUT, "vpc-1", "10.0.1.5", 1000),
        TrafficCount(NAT_GATEWAY, "vpc-1", "nat-1", 540),  # both directions
        TrafficCount(NAT_GATEWAY_IN, "vpc-1", "nat-1", 40),  # the replies' part (0181)
    ]
    _, later = _read(_listing(7, {"10.0.1.5": 1600, "10.0.1.6": 10}, {"198.18.0.7": 500}))
    assert list(_differences("vpc-1", later, first, gateways)) == [
        TrafficCount(INTERNET_OUT, "vpc-1", "10.0.1.5", 600),
        TrafficCount(INTERNET_OUT, "vpc-1", "10.0.1.6", 10),
    ]
    # A gateway no longer translated here: its bytes are nobody's to report.
    assert list(_differences("vpc-1", first, {}, {})) == [
        TrafficCount(INTERNET_OUT, "vpc-1", "10.0.1.5", 1000)
    ]


def test_counts_go_to_the_interface_and_gateway_owners() -> None:
    counts = [
        TrafficCount(INTERNET_OUT, "vpc-a", "10.0.1.5", 100),
        TrafficCount(INTERNET_OUT, "vpc-a", "10.0.1.5", 50),
        TrafficCount(INTERNET_OUT, "vpc-b", "10.0.1.5", 7),  # the same address, another VPC
        TrafficCount(INTERNET_OUT, "vpc-a", "10.0.1.99", 9),  # nobody's now
        TrafficCount(NAT_GATEWAY, "vpc-a", "nat-1", 30),
        TrafficCount(NAT_GATEWAY, "vpc-a", "nat-gone", 30),
        TrafficCount(NAT_GATEWAY_IN, "vpc-a", "nat-1", 10),  # already in the 30: not billed
        TrafficCount("unknown", "vpc-a", "x", 1),
    ]
    addresses = {("vpc-a", "10.0.1.5"): "alice", ("vpc-b", "10.0.1.5"): "bob"}
    assert attribute(counts, addresses, {"nat-1": "alice"}) == {
        ("alice", INTERNET_OUT): 150,
        ("bob", INTERNET_OUT): 7,
        ("alice", NAT_GATEWAY): 30,
    }


def test_a_gateways_bytes_both_ways_for_its_metrics() -> None:
    """Decision 0181: the inbound part of a gateway's count is what came back; an older
    host's count without one is all sent out; a gateway nobody holds is dropped."""
    counts = [
        TrafficCount(NAT_GATEWAY, "vpc-a", "nat-1", 300),
        TrafficCount(NAT_GATEWAY_IN, "vpc-a", "nat-1", 100),
        TrafficCount(NAT_GATEWAY, "vpc-b", "nat-1", 50),  # another host's part
        TrafficCount(NAT_GATEWAY, "vpc-a", "nat-old", 70),  # an older agent: no inbound
        TrafficCount(NAT_GATEWAY, "vpc-a", "nat-gone", 9),
        TrafficCount(INTERNET_OUT, "vpc-a", "10.0.1.5", 1000),
    ]
    assert per_gateway(counts, {"nat-1": "alice", "nat-old": "bob"}) == {
        ("alice", "nat-1"): GatewayBytes(out=250, back=100),
        ("bob", "nat-old"): GatewayBytes(out=70, back=0),
    }


def test_the_wire_carries_the_counts_and_reads_an_older_agent() -> None:
    result = CALLS["collect_flows"].result
    flows = HostFlows(traffic=(TrafficCount(NAT_GATEWAY, "vpc-1", "nat-1", 5 * GIB),))
    assert decode(result, encode(flows)) == flows
    assert "traffic" not in encode(HostFlows())
    assert decode(result, {"records": [], "skipped": []}) == HostFlows()


def test_the_platform_ranges_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, network_meter_platform_cidrs=["192.0.2.9/24"])
    assert settings.network_meter_platform_cidrs == ("192.0.2.0/24",)
    for bad in (["nonsense"], ["2001:db8::/32"]):
        with pytest.raises(ValueError, match="network_meter_platform_cidrs"):
            Settings(data_dir=tmp_path, network_meter_platform_cidrs=bad)
    # A short state folder: QMP's socket paths under it must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="andromede-nm-", dir="/tmp") as short:
        settings = Settings(
            data_dir=tmp_path / "host",
            hypervisor_state_dir=Path(short),
            elastic_ip_cidr="100.66.0.0/24",
            vpc_endpoint_s3_addresses=["203.0.113.10/32"],
            network_meter_platform_cidrs=["192.0.2.0/24"],
        )
        layout = hypervisor_host_driver(settings)._config.network_layout
        assert layout.platform_cidrs == ("100.66.0.0/24", "203.0.113.10/32", "192.0.2.0/24")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[World, ObjectService]]:
    async with ec2_world(tmp_path) as created:
        settings = Settings(data_dir=tmp_path / "data", region=REGION)
        objects = ObjectService(
            MemoryMetadataStore(),
            MemoryBlobStore(),
            dataclasses.replace(storage_limits(settings), deletion_grace=0),
            cipher_in(tmp_path / "keys"),
        )
        yield created, objects


async def _instance(c: Client, image_id: str, cidr: str) -> tuple[str, str, str]:
    """A VPC with an internet gateway, a subnet and an instance: (vpc, subnet, address)."""
    vpc = (await c.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock=cidr.replace("/16", "/24")))[
        "Subnet"
    ]["SubnetId"]
    gateway = (await c.call("CreateInternetGateway"))["InternetGateway"]["InternetGatewayId"]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=vpc)
    launched = await c.call(
        "RunInstances", ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
        SubnetId=subnet,
    )  # fmt: skip
    return vpc, subnet, launched["Instances"][0]["PrivateIpAddress"]


async def test_a_pass_bills_internet_egress_and_nat_bytes_to_their_owners(
    world: tuple[World, ObjectService],
) -> None:
    ec2, objects = world
    c = ec2.root
    vpc, subnet, address = await _instance(c, ec2.image.image_id, "10.70.0.0/16")
    allocation = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    nat_id = (await c.call("CreateNatGateway", SubnetId=subnet, AllocationId=allocation))[
        "NatGateway"
    ]["NatGatewayId"]
    other_id, other = await ec2.tenant("globex")
    other_vpc, _, other_address = await _instance(other, ec2.image.image_id, "10.70.0.0/16")
    await ec2.compute.settle()
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    sink = RecordingSink()
    delivery = FlowLogDelivery(
        ec2.compute,
        objects,
        REGION,
        meter=traffic_meter(billing, REGION),
        gateway_metrics=nat_gateway_metrics(sink),
    )
    ec2.driver.counted_traffic += [
        TrafficCount(INTERNET_OUT, vpc, address, 3 * GIB),
        TrafficCount(NAT_GATEWAY, vpc, nat_id, 5000),
        TrafficCount(NAT_GATEWAY_IN, vpc, nat_id, 1200),
        TrafficCount(INTERNET_OUT, vpc, "10.70.0.250", 999),  # no interface holds it
        # The same private address in the other tenant's VPC is the other tenant's.
        TrafficCount(INTERNET_OUT, other_vpc, other_address, 700),
    ]
    assert address == other_address
    await delivery.deliver_once()
    await delivery.deliver_once()  # the host reported its counts once
    await billing.flush()
    # Decision 0181: the gateway's AWS/NATGateway metrics, in its owner's account, once.
    assert sorted(sink.points) == sorted(
        (ec2.tenant_id, "AWS/NATGateway", metric, (("NatGatewayId", nat_id),), value, "Bytes")
        for metric, value in (
            ("BytesOutToDestination", 3800.0),
            ("BytesInFromSource", 3800.0),
            ("BytesInFromDestination", 1200.0),
            ("BytesOutToSource", 1200.0),
        )
    )
    now = datetime.now(UTC)

    async def used(tenant_id: str) -> dict[str, int]:
        totals = await billing._store.usage(
            tenant_id, now - timedelta(hours=2), now + timedelta(hours=2)
        )
        return {t.meter: t.quantity for t in totals if t.region == REGION}

    assert await used(ec2.tenant_id) == {
        "ec2.transfer.out": 3 * GIB,
        "ec2.nat-gateway.bytes": 5000,
    }
    assert await used(other_id) == {"ec2.transfer.out": 700}

    # A pass whose meters cannot be counted goes on (the flow records are delivered).
    def broken(_: object) -> None:
        raise AndromedeError("the database is away")

    ec2.driver.counted_traffic.append(TrafficCount(INTERNET_OUT, vpc, address, 1))
    failing = FlowLogDelivery(ec2.compute, objects, REGION, meter=broken)
    assert await failing.deliver_once() == []
    # Priced per GiB, as AWS prices both.
    for meter in ("ec2.transfer.out", "ec2.nat-gateway.bytes"):
        assert (billing.meters[meter].price_unit, billing.meters[meter].divisor) == ("GiB", GIB)


def test_a_nat_gateways_connections_become_ec2s_four_records() -> None:
    table = render_flow_table([], 50, 1200, ["198.18.0.8", "198.18.0.7"])
    # One pair of sets per gateway, in address order (nftables keys hold five fields).
    assert "ip saddr 198.18.0.7 update @nat_out_0 {" in table
    assert "ip daddr 198.18.0.8 ct direction reply update @nat_in_1 {" in table
    assert "hook postrouting priority srcnat + 10" in table
    assert "nat_leaving" not in render_flow_table(["10.0.0.5"], 50, 1200)
    connection = ("198.18.0.7", "10.0.1.5", "203.0.113.5", 6, 40000, 443)
    last = _Last(100, nat_out={connection: (2, 100)})
    read = {"nat_out": {connection: (12, 15100)}, "nat_in": {connection: (5, 300)}}
    records = _nat_records({"198.18.0.7": ("eni-nat", "10.0.0.220")}, last, read, 160)
    shown = [
        (r.key.srcaddr, r.key.dstaddr, r.key.pkt_srcaddr or r.key.srcaddr,
         r.key.pkt_dstaddr or r.key.dstaddr, r.key.srcport, r.key.dstport, r.packets, r.bytes)
        for r in records
    ]  # fmt: skip
    # AWS's example of a NAT gateway's interface (instance 10.0.1.5, gateway 10.0.0.220,
    # host 203.0.113.5): srcaddr dstaddr pkt-srcaddr pkt-dstaddr.
    assert shown == [
        ("10.0.1.5", "10.0.0.220", "10.0.1.5", "203.0.113.5", 40000, 443, 10, 15000),
        ("10.0.0.220", "203.0.113.5", "10.0.0.220", "203.0.113.5", 40000, 443, 10, 15000),
        ("203.0.113.5", "10.0.0.220", "203.0.113.5", "10.0.0.220", 443, 40000, 5, 300),
        ("10.0.0.220", "10.0.1.5", "203.0.113.5", "10.0.1.5", 443, 40000, 5, 300),
    ]
    assert {(r.key.interface_id, r.key.action, r.start, r.end) for r in records} == {
        ("eni-nat", "ACCEPT", 100, 160)
    }
    # A gateway no longer captured there reports nothing.
    assert _nat_records({}, last, read, 160) == []


def test_the_wire_carries_a_nat_capture_and_the_packets_addresses() -> None:
    capture = FlowCapture("subnet-1", "10.0.0.220", "eni-nat", nat_address="198.18.0.7")
    ((_, kind),) = CALLS["collect_flows"].parameters
    assert decode(kind, encode((capture,))) == (capture,)
    key = FlowKey("eni-nat", "10.0.1.5", "10.0.0.220", 1, 2, 6, "ACCEPT", pkt_dstaddr="8.8.8.8")
    flows = HostFlows((FlowRecord(key, 1, 60, 5, 9),))
    assert decode(CALLS["collect_flows"].result, encode(flows)) == flows
    # Left out while empty: an agent or a gateway of the release before reads them.
    assert "nat_address" not in encode(FlowCapture("s", "10.0.0.5", "eni-a"))
    assert "pkt_srcaddr" not in encode(FlowKey("eni-a", "a", "b", 1, 2, 6, "ACCEPT"))
    assert _WIRE_OMITTED == WIRE_OMITTED_AT_DEFAULT


async def test_flow_logs_capture_a_nat_gateways_interface_and_write_its_records(
    world: tuple[World, ObjectService],
) -> None:
    ec2, objects = world
    c = ec2.root
    await objects.create_bucket(
        "natlogs", tenant_id=ec2.tenant_id, owner_id=ec2.tenant_id, region=REGION
    )
    vpc, subnet, address = await _instance(c, ec2.image.image_id, "10.80.0.0/16")
    allocation = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    gateway = (await c.call("CreateNatGateway", SubnetId=subnet, AllocationId=allocation))[
        "NatGateway"
    ]
    nat_id = gateway["NatGatewayId"]
    (held,) = (await c.call("DescribeNatGateways", NatGatewayIds=[nat_id]))["NatGateways"][0][
        "NatGatewayAddresses"
    ]
    eni, public, private = held["NetworkInterfaceId"], held["PublicIp"], held["PrivateIp"]
    await ec2.compute.settle()
    # A flow log on the gateway's interface itself, and the VPC's, which includes it.
    fields = "${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${bytes}"
    on_eni = await c.call(
        "CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[eni], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::natlogs/eni", LogFormat=fields,
    )  # fmt: skip
    assert on_eni.get("Unsuccessful", []) == []
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::natlogs/vpc", LogFormat=fields,
    )  # fmt: skip
    delivery = FlowLogDelivery(ec2.compute, objects, REGION)
    assert await delivery.deliver_once() == []  # the hosts learn of the interfaces
    nat_capture = [cap for cap in ec2.driver.flow_captures if cap.nat_address]
    assert nat_capture == [FlowCapture(subnet, private, eni, nat_address=public)]
    out = FlowKey(eni, address, private, 40000, 443, 6, "ACCEPT", pkt_dstaddr="203.0.113.5")
    back = FlowKey(eni, private, address, 443, 40000, 6, "ACCEPT", pkt_srcaddr="203.0.113.5")
    ec2.driver.counted_flows += [FlowRecord(out, 3, 900, 1, 2), FlowRecord(back, 2, 120, 1, 2)]
    written = sorted(await delivery.deliver_once())
    assert len(written) == 2
    for key in written:
        lines = gzip.decompress(await _object(objects, "natlogs", key)).decode().splitlines()
        assert lines[1:] == [
            f"{eni} {address} {private} {address} 203.0.113.5 900",
            f"{eni} {private} {address} 203.0.113.5 {address} 120",
        ]
    # Deleted, the gateway's interface is no longer captured.
    await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    await delivery.deliver_once()
    assert [cap for cap in ec2.driver.flow_captures if cap.nat_address] == []


async def _object(objects: ObjectService, bucket: str, key: str) -> bytes:
    record = await objects.head_object(bucket, key)
    return b"".join([chunk async for chunk in objects.read_object(record, 0, record.size - 1)])
