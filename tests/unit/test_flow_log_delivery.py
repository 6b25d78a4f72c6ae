"""VPC flow log files and their delivery into a bucket (decision 0153): the aggregation and its
cap, EC2's line format (the default fields, a custom format, SKIPDATA, the traffic type), the
objects' names (date folders, Hive-style, per hour), Parquet files (decision 0170: EC2's
column names and types, read back by pyarrow), IPv6 interfaces' capture and records
(decision 0368), and the delivery of a gzip object into
the tenant's bucket through the storage service — sealed like any object, never into another
account's bucket or a missing one (then DeliverLogsStatus says FAILED until one succeeds)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import io
import ipaddress
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from andromede.app import storage_limits
from andromede.compute.driver_network import FlowCapture
from andromede.compute.flow_log import (
    DEFAULT_FORMAT,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
    parse_format,
)
from andromede.compute.flow_log_files import (
    FlowAggregator,
    FlowKey,
    FlowRecord,
    InterfaceContext,
    log_body,
    log_key,
    log_lines,
    log_rows,
)
from andromede.compute.flow_log_parquet import parquet_body
from andromede.compute.flow_logs import CapturedInterface
from andromede.compute_adapters import hypervisor_host_driver
from andromede.flow_log_delivery import ACCESS_ERROR, FlowLogDelivery
from andromede.hypervisor.wire import CALLS, decode, encode
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.ec2app import REGION, World, ec2_world
from support.keys import cipher_in

WHEN = datetime(2026, 12, 5, 10, 25, tzinfo=UTC)
ACCOUNT = "123456789012"


def _flow_log(**changes: Any) -> FlowLog:
    made = FlowLog(
        "fl-0123456789abcdef0",
        ACCOUNT,
        ResourceType.VPC,
        "vpc-0123456789abcdef0",
        TrafficType.ALL,
        Destination("logs", "team/"),
        DEFAULT_FORMAT,
        600,
        WHEN,
    )
    return dataclasses.replace(made, **changes)


def _record(
    action: str = "ACCEPT", port: int = 443, packets: int = 3, size: int = 180
) -> FlowRecord:
    key = FlowKey("eni-a", "10.0.1.5", "10.0.2.6", 40000, port, 6, action)
    return FlowRecord(key, packets, size, 1764930000, 1764930060)


def test_the_aggregator_merges_a_flow_and_caps_new_ones() -> None:
    aggregator = FlowAggregator(max_flows=2)
    aggregator.add(_record(port=443))
    aggregator.add(dataclasses.replace(_record(port=443), start=1764929990, end=1764930100))
    aggregator.add(_record(port=22))
    aggregator.add(_record(port=80))  # a third flow: past the cap
    aggregator.add(_record(port=443))  # a held flow still merges
    assert len(aggregator) == 2
    records, skipped = aggregator.drain()
    merged = next(r for r in records if r.key.dstport == 443)
    assert (merged.packets, merged.bytes) == (9, 540)
    assert (merged.start, merged.end) == (1764929990, 1764930100)
    assert skipped == {"eni-a": (1764930000, 1764930060)}
    assert aggregator.drain() == ([], {})


def test_lines_in_the_default_and_a_custom_format() -> None:
    contexts = {"eni-a": InterfaceContext("vpc-1", "subnet-1", "i-1")}
    lines = log_lines(_flow_log(), REGION, [_record(), _record("REJECT", 22, 1, 60)], {}, contexts)
    assert lines[0] == (
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets"
        " bytes start end action log-status"
    )
    assert lines[1] == (
        f"2 {ACCOUNT} eni-a 10.0.1.5 10.0.2.6 40000 443 6 3 180 1764930000 1764930060 ACCEPT OK"
    )
    assert lines[2].endswith(" 22 6 1 60 1764930000 1764930060 REJECT OK")
    custom = _flow_log(
        log_format=parse_format("${instance-id} ${vpc-id} ${action} ${region} ${type}"),
        traffic_type=TrafficType.REJECT,
    )
    only_rejects = log_lines(custom, REGION, [_record(), _record("REJECT", 22)], {}, contexts)
    assert only_rejects[1:] == [f"i-1 vpc-1 REJECT {REGION} IPv4"]
    # An interface the flow log does not cover is left out; a skipped one says SKIPDATA.
    other = log_lines(
        _flow_log(), REGION, [_record()], {"eni-a": (1, 2)}, {"eni-b": contexts["eni-a"]}
    )
    assert other == [lines[0]]
    skipped = log_lines(_flow_log(), REGION, [], {"eni-a": (1, 2)}, contexts)
    assert skipped[1] == f"2 {ACCOUNT} eni-a - - - - - - - 1 2 - SKIPDATA"


def test_object_names() -> None:
    body = log_body(["a b", "1 2"])
    assert gzip.decompress(body) == b"a b\n1 2\n"
    assert log_body(["a b", "1 2"]) == body  # no time in the gzip header
    key = log_key(_flow_log(), REGION, WHEN, body)
    folder = f"team/AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/2026/12/05/"
    assert key.startswith(folder)
    name = key[len(folder) :]
    assert name.startswith(f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0123456789abcdef0_20261205T1025Z_")
    assert name.endswith(".log.gz")
    hourly = log_key(_flow_log(per_hour_partition=True), REGION, WHEN, body)
    assert f"/2026/12/05/10/{ACCOUNT}_vpcflowlogs_" in hourly
    hive = log_key(
        _flow_log(hive_compatible_partitions=True, per_hour_partition=True), REGION, WHEN, body
    )
    assert hive.startswith(
        f"team/AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region={REGION}/"
        "year=2026/month=12/day=05/hour=10/"
    )


def test_parquet_files_have_ec2s_columns_and_types() -> None:
    contexts = {"eni-a": InterfaceContext("vpc-1", "subnet-1", "i-1")}
    flow_log = _flow_log(
        file_format="parquet",
        log_format=(*DEFAULT_FORMAT, "vpc-id", "region", "type"),
    )
    rows = log_rows(flow_log, REGION, [_record()], {"eni-a": (1, 2)}, contexts)
    body = parquet_body(flow_log.log_format, rows)
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    table = parquet.read()
    assert table.schema == pa.schema(
        [
            ("version", pa.int32()),
            ("account_id", pa.string()),
            ("interface_id", pa.string()),
            ("srcaddr", pa.string()),
            ("dstaddr", pa.string()),
            ("srcport", pa.int32()),
            ("dstport", pa.int32()),
            ("protocol", pa.int32()),
            ("packets", pa.int64()),
            ("bytes", pa.int64()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("action", pa.string()),
            ("log_status", pa.string()),
            ("vpc_id", pa.string()),
            ("region", pa.string()),
            ("type", pa.string()),
        ]
    )
    flow, skipdata = table.to_pylist()
    assert flow["srcport"] == 40000 and flow["bytes"] == 180 and flow["start"] == 1764930000
    assert flow["action"] == "ACCEPT" and flow["vpc_id"] == "vpc-1" and flow["type"] == "IPv4"
    # SKIPDATA: what plain text writes as "-" is null.
    assert skipdata["log_status"] == "SKIPDATA" and skipdata["srcaddr"] is None
    assert skipdata["packets"] is None and (skipdata["start"], skipdata["end"]) == (1, 2)
    key = log_key(flow_log, REGION, WHEN, body)
    assert key.endswith(".log.parquet")


def test_a_flow_log_stored_before_parquet_reads_as_plain_text() -> None:
    from andromede.compute.store_sql import _CODECS

    codec = _CODECS[FlowLog]
    document = json.loads(codec.dump_json(_flow_log(file_format="parquet")))
    assert document.pop("file_format") == "parquet"
    assert codec.validate_json(json.dumps(document)).file_format == "plain-text"


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


async def _read(objects: ObjectService, bucket: str, key: str) -> bytes:
    record = await objects.head_object(bucket, key)
    return b"".join([chunk async for chunk in objects.read_object(record, 0, record.size - 1)])


async def test_delivery_into_the_tenants_bucket(world: tuple[World, ObjectService]) -> None:
    ec2, objects = world
    c = ec2.root
    vpc = (await c.call("CreateVpc", CidrBlock="10.50.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.50.1.0/24"))["Subnet"]
    launched = await c.call(
        "RunInstances", ImageId=ec2.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet["SubnetId"],
    )  # fmt: skip
    instance = launched["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    made = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::flows/net",
    )  # fmt: skip
    flow_log_id = made["FlowLogIds"][0]
    delivery = FlowLogDelivery(ec2.compute, objects, REGION)
    captured = await ec2.compute.captured_interfaces(await ec2.compute.active_flow_logs())
    key = FlowKey(eni, instance["PrivateIpAddress"], "10.50.1.9", 40000, 443, 6, "ACCEPT")
    records = [FlowRecord(key, 4, 400, 1764930000, 1764930060)]

    async def status() -> dict[str, Any]:
        found = await c.call("DescribeFlowLogs", FlowLogIds=[flow_log_id])
        return dict(found["FlowLogs"][0])

    # No bucket yet: nothing written, the flow log says so.
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert (await status())["DeliverLogsStatus"] == "FAILED"
    assert (await status())["DeliverLogsErrorMessage"] == ACCESS_ERROR
    # Another account's bucket of that name: never written to.
    other_id, _ = await ec2.tenant("globex")
    await objects.create_bucket("flows", tenant_id=other_id, owner_id=other_id, region=REGION)
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert (await objects.list_objects("flows")).objects == ()
    # The tenant's own bucket: one gzip object, EC2's name and lines, sealed like any object.
    await objects.create_bucket(
        "flows-own", tenant_id=ec2.tenant_id, owner_id=ec2.tenant_id, region=REGION
    )
    own = await c.call(
        "CreateFlowLogs", ResourceType="Subnet", ResourceIds=[subnet["SubnetId"]],
        TrafficType="ACCEPT", LogDestinationType="s3", LogDestination="arn:aws:s3:::flows-own",
        LogFormat="${interface-id} ${srcaddr} ${bytes} ${action} ${subnet-id} ${instance-id}",
    )  # fmt: skip
    own_id = own["FlowLogIds"][0]
    captured = await ec2.compute.captured_interfaces(await ec2.compute.active_flow_logs())
    (written,) = await delivery.deliver(captured, records, {}, WHEN)
    assert written.startswith(f"AWSLogs/{ec2.tenant_id}/vpcflowlogs/{REGION}/2026/12/05/")
    assert f"_{own_id}_20261205T1025Z_" in written
    text = gzip.decompress(await _read(objects, "flows-own", written)).decode()
    assert text.splitlines() == [
        "interface-id srcaddr bytes action subnet-id instance-id",
        f"{eni} {instance['PrivateIpAddress']} 400 ACCEPT {subnet['SubnetId']}"
        f" {instance['InstanceId']}",
    ]
    record = await objects.head_object("flows-own", written)
    assert record.owner_id == ec2.tenant_id
    assert record.encryption is not None
    found = await c.call("DescribeFlowLogs", FlowLogIds=[own_id])
    assert found["FlowLogs"][0]["DeliverLogsStatus"] == "SUCCESS"
    # Nothing on its interfaces for an interval: no object.
    assert await delivery.deliver(captured, [], {}, WHEN) == []


async def test_an_instance_ec2_builds_on_xen_says_path_2_through_the_internet_gateway(
    world: tuple[World, ObjectService],
) -> None:
    """Decision 0387: EC2 writes 8 (internet gateway) for an instance built on Nitro and 2 for
    one on Xen (``t2``); both say 1 within the VPC and to a customer prefix list routed to an
    interface, and nothing for ingress."""
    ec2, _ = world
    c = ec2.root
    vpc = (await c.call("CreateVpc", CidrBlock="10.51.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.51.1.0/24"))["Subnet"]
    gateway = (await c.call("CreateInternetGateway"))["InternetGateway"]["InternetGatewayId"]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=vpc)
    tables = await c.call("DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    table = tables["RouteTables"][0]["RouteTableId"]
    await c.call(
        "CreateRoute", RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway
    )
    addresses: dict[str, str] = {}
    for itype in ("t2.nano", "t3.nano"):
        launched = await c.call(
            "RunInstances", ImageId=ec2.image.image_id, InstanceType=itype, MinCount=1,
            MaxCount=1, SubnetId=subnet["SubnetId"],
        )  # fmt: skip
        nic = launched["Instances"][0]["NetworkInterfaces"][0]
        addresses[nic["NetworkInterfaceId"]] = nic["PrivateIpAddress"]
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::flows",
    )  # fmt: skip
    # A customer prefix list routed to an interface of the VPC: its blocks say 1, the longest
    # route winning over the internet gateway's.
    listed = await c.call(
        "CreateManagedPrefixList", PrefixListName="appliances", AddressFamily="IPv4",
        MaxEntries=2, Entries=[{"Cidr": "198.51.100.0/24"}],
    )  # fmt: skip
    t2_eni = next(iter(addresses))
    await c.call(
        "CreateRoute", RouteTableId=table, NetworkInterfaceId=t2_eni,
        DestinationPrefixListId=listed["PrefixList"]["PrefixListId"],
    )  # fmt: skip
    captured = await ec2.compute.captured_interfaces(await ec2.compute.active_flow_logs())

    def path(interface: CapturedInterface, source: str, destination: str) -> str:
        key = FlowKey(interface.interface_id, source, destination, 40000, 443, 6, "ACCEPT")
        return interface.context.traffic_path(FlowRecord(key, 1, 60, 1, 2))

    paths: dict[str, tuple[str, ...]] = {}
    for interface in captured:
        address = addresses[interface.interface_id]
        paths[interface.interface_id] = (
            path(interface, address, "203.0.113.7"),
            path(interface, address, "10.51.1.200"),
            path(interface, "203.0.113.7", address),
            path(interface, address, "198.51.100.9"),
        )
    t2, t3 = addresses
    assert paths == {t2: ("2", "1", "-", "1"), t3: ("8", "1", "-", "1")}


async def test_a_pass_tells_the_hosts_and_delivers_what_they_counted(
    world: tuple[World, ObjectService],
) -> None:
    ec2, objects = world
    c = ec2.root
    await objects.create_bucket(
        "pass", tenant_id=ec2.tenant_id, owner_id=ec2.tenant_id, region=REGION
    )
    vpc = (await c.call("CreateVpc", CidrBlock="10.60.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.60.1.0/24"))["Subnet"]
    launched = await c.call(
        "RunInstances", ImageId=ec2.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet["SubnetId"],
    )  # fmt: skip
    await ec2.compute.settle()
    instance = launched["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    delivery = FlowLogDelivery(ec2.compute, objects, REGION, clock=lambda: WHEN)
    # No flow log: the host is told to capture nothing.
    assert await delivery.deliver_once() == []
    assert ec2.driver.flow_captures == ()
    made = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="REJECT",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::pass",
    )  # fmt: skip
    columnar = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::pass/lake",
        LogFormat="${srcaddr} ${dstport} ${bytes} ${action} ${subnet-id}",
        DestinationOptions={"FileFormat": "parquet", "HiveCompatiblePartitions": True},
    )  # fmt: skip
    assert await delivery.deliver_once() == []  # the host learns of its interface
    (capture,) = ec2.driver.flow_captures
    assert (capture.interface_id, capture.private_ip, capture.network_id) == (
        eni,
        instance["PrivateIpAddress"],
        subnet["SubnetId"],
    )
    ip = instance["PrivateIpAddress"]
    ec2.driver.counted_flows += [
        FlowRecord(FlowKey(eni, "10.60.1.9", ip, 50000, 22, 6, "REJECT"), 1, 60, 100, 160),
        FlowRecord(FlowKey(eni, ip, "10.60.1.9", 443, 50001, 6, "ACCEPT"), 5, 900, 100, 160),
    ]
    key, parquet_key = sorted(await delivery.deliver_once())
    assert made["FlowLogIds"][0] in key
    lines = gzip.decompress(await _read(objects, "pass", key)).decode().splitlines()
    assert lines[1:] == [
        f"2 {ec2.tenant_id} {eni} 10.60.1.9 {ip} 50000 22 6 1 60 100 160 REJECT OK"
    ]
    # The Parquet flow log's file: Hive-style folders, its columns typed (decision 0170).
    assert parquet_key.startswith(f"lake/AWSLogs/aws-account-id={ec2.tenant_id}/")
    assert columnar["FlowLogIds"][0] in parquet_key and parquet_key.endswith(".log.parquet")
    table = pq.read_table(io.BytesIO(await _read(objects, "pass", parquet_key)))
    assert sorted(table.to_pylist(), key=lambda r: r["dstport"]) == [
        {"srcaddr": "10.60.1.9", "dstport": 22, "bytes": 60, "action": "REJECT",
         "subnet_id": subnet["SubnetId"]},
        {"srcaddr": ip, "dstport": 50001, "bytes": 900, "action": "ACCEPT",
         "subnet_id": subnet["SubnetId"]},
    ]  # fmt: skip
    # Deleted: the host stops capturing at the next pass.
    await c.call("DeleteFlowLogs", FlowLogIds=made["FlowLogIds"] + columnar["FlowLogIds"])
    assert await delivery.deliver_once() == []
    assert ec2.driver.flow_captures == ()


async def test_the_settings_reach_the_hosts_and_the_passes(
    world: tuple[World, ObjectService], tmp_path: Path
) -> None:
    """``flow_log_max_flows`` is each QEMU host's cap; ``flow_log_delivery_interval`` the
    passes' period; both refuse what makes no sense."""
    with pytest.raises(ValueError, match="flow_log_max_flows"):
        Settings(data_dir=tmp_path, flow_log_max_flows=0)
    with pytest.raises(ValueError, match="flow_log_delivery_interval"):
        Settings(data_dir=tmp_path, flow_log_delivery_interval=0.5)
    # A short state folder: QMP's socket paths under it must fit in 107 bytes, which a
    # pytest folder under a CI run's base folder does not (the first CI run's failure).
    with tempfile.TemporaryDirectory(prefix="andromede-fl-", dir="/tmp") as short:
        settings = Settings(
            data_dir=tmp_path / "host", flow_log_max_flows=7, hypervisor_state_dir=Path(short)
        )
        assert hypervisor_host_driver(settings)._config.flow_log_max_flows == 7
    ec2, objects = world
    delivery = FlowLogDelivery(ec2.compute, objects, REGION)
    passes = 0
    real = delivery.deliver_once

    async def counted() -> list[str]:
        nonlocal passes
        passes += 1
        return await real()

    delivery.deliver_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(delivery.run_forever(0.01))
    try:
        async with asyncio.timeout(10):
            while passes < 3:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_ipv6_interface_is_captured_and_its_records_delivered(
    world: tuple[World, ObjectService],
) -> None:
    """Decision 0368: the host is told an interface's IPv6 addresses beside its IPv4 one, and
    its IPv6 records are written as EC2 writes them — ``type`` IPv6, the direction by its
    IPv6 address, traffic path 1 to the VPC's IPv6 block (its ``local`` route) — in text and
    in Parquet, whose address columns hold them."""
    ec2, objects = world
    c = ec2.root
    await objects.create_bucket(
        "six", tenant_id=ec2.tenant_id, owner_id=ec2.tenant_id, region=REGION
    )
    made_vpc = await c.call("CreateVpc", CidrBlock="10.70.0.0/16", AmazonProvidedIpv6CidrBlock=True)
    vpc = made_vpc["Vpc"]["VpcId"]
    [association] = made_vpc["Vpc"]["Ipv6CidrBlockAssociationSet"]
    block = ipaddress.IPv6Network(association["Ipv6CidrBlock"])
    slash64 = str(next(block.subnets(new_prefix=64)))
    subnet = (
        await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.70.1.0/24", Ipv6CidrBlock=slash64)
    )["Subnet"]["SubnetId"]
    launched = await c.call(
        "RunInstances", ImageId=ec2.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet, Ipv6AddressCount=1,
    )  # fmt: skip
    await ec2.compute.settle()
    instance = launched["Instances"][0]
    nic = instance["NetworkInterfaces"][0]
    eni, [mine] = nic["NetworkInterfaceId"], [a["Ipv6Address"] for a in nic["Ipv6Addresses"]]
    fields = "srcaddr dstaddr protocol action type pkt-dstaddr flow-direction traffic-path"
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::six",
        LogFormat=" ".join(f"${{{name}}}" for name in fields.split()),
    )  # fmt: skip
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="REJECT",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::six/lake",
        LogFormat="${srcaddr} ${dstaddr} ${protocol} ${type}",
        DestinationOptions={"FileFormat": "parquet"},
    )  # fmt: skip
    delivery = FlowLogDelivery(ec2.compute, objects, REGION, clock=lambda: WHEN)
    assert await delivery.deliver_once() == []  # the host learns of its interface
    (capture,) = ec2.driver.flow_captures
    assert (capture.private_ip, capture.ipv6_addresses) == (instance["PrivateIpAddress"], (mine,))
    peer = str(block[0x1_0000_0000_0000_0000 + 0x99])  # in the VPC's block, another /64
    ec2.driver.counted_flows += [
        FlowRecord(FlowKey(eni, mine, peer, 0, 0, 58, "ACCEPT"), 3, 312, 100, 160),
        FlowRecord(FlowKey(eni, peer, mine, 40000, 22, 6, "REJECT"), 1, 80, 100, 160, 2),
    ]
    text_key, parquet_key = sorted(await delivery.deliver_once())
    lines = gzip.decompress(await _read(objects, "six", text_key)).decode().splitlines()
    assert sorted(lines[1:]) == sorted([
        f"{mine} {peer} 58 ACCEPT IPv6 {peer} egress 1",
        f"{peer} {mine} 6 REJECT IPv6 {mine} ingress -",
    ])  # fmt: skip
    table = pq.read_table(io.BytesIO(await _read(objects, "six", parquet_key)))
    assert table.schema.field("srcaddr").type == pa.string()
    assert table.to_pylist() == [{"srcaddr": peer, "dstaddr": mine, "protocol": 6, "type": "IPv6"}]


def test_the_wire_carries_a_captures_ipv6_addresses() -> None:
    """Left out while none, so an agent of the release before reads an IPv4 capture."""
    capture = FlowCapture("subnet-1", "10.0.0.5", "eni-a", ipv6_addresses=("fd00::5",))
    ((_, kind),) = CALLS["collect_flows"].parameters
    assert decode(kind, encode((capture,))) == (capture,)
    assert "ipv6_addresses" not in encode(FlowCapture("subnet-1", "10.0.0.5", "eni-a"))
