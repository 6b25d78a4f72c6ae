"""Network bytes metering (decision 0176): the routers' meter table and its reading (pure: the
nft text, the JSON read back, differences by generation), the counts given to their owners,
the agent wire carrying them, the setting of the platform's ranges, and the billing path in
process — a flow logs' pass over the memory host counting ``ec2.transfer.out`` for the
instance's tenant and ``ec2.nat-gateway.bytes`` for the gateway's, once."""

from __future__ import annotations

import dataclasses
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
from andromede.compute.driver import HostFlows
from andromede.compute.traffic import INTERNET_OUT, NAT_GATEWAY, TrafficCount, attribute
from andromede.compute_adapters import hypervisor_host_driver
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.hypervisor.traffic_meters import _differences, _read, render_meter_table
from andromede.hypervisor.wire import CALLS, decode, encode
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wiring.billing import traffic_meter
from support.ec2app import REGION, Client, World, ec2_world
from support.keys import cipher_in

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
        TrafficCount("unknown", "vpc-a", "x", 1),
    ]
    addresses = {("vpc-a", "10.0.1.5"): "alice", ("vpc-b", "10.0.1.5"): "bob"}
    assert attribute(counts, addresses, {"nat-1": "alice"}) == {
        ("alice", INTERNET_OUT): 150,
        ("bob", INTERNET_OUT): 7,
        ("alice", NAT_GATEWAY): 30,
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
    delivery = FlowLogDelivery(ec2.compute, objects, REGION, meter=traffic_meter(billing, REGION))
    ec2.driver.counted_traffic += [
        TrafficCount(INTERNET_OUT, vpc, address, 3 * GIB),
        TrafficCount(NAT_GATEWAY, vpc, nat_id, 5000),
        TrafficCount(INTERNET_OUT, vpc, "10.70.0.250", 999),  # no interface holds it
        # The same private address in the other tenant's VPC is the other tenant's.
        TrafficCount(INTERNET_OUT, other_vpc, other_address, 700),
    ]
    assert address == other_address
    await delivery.deliver_once()
    await delivery.deliver_once()  # the host reported its counts once
    await billing.flush()
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
    # Priced per GiB, as AWS prices both.
    for meter in ("ec2.transfer.out", "ec2.nat-gateway.bytes"):
        assert (billing.meters[meter].price_unit, billing.meters[meter].divisor) == ("GiB", GIB)
