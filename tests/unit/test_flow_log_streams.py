"""VPC flow logs to Amazon Data Firehose, and the TCP flags, direction and traffic path fields
(decision 0348): CreateFlowLogs' ``kinesis-data-firehose`` destination (a stream's ARN of the
account and region) and its refusals through botocore's model, DescribeFlowLogs' fields and
filter, ``firehose:TagDeliveryStream`` asked of the caller; the records as Firehose records
(one a flow record, its line and a newline) with ``tcp-flags``, ``flow-direction`` and
``traffic-path`` (and ``pkt-*-aws-service``); the subnet's routes as traffic paths; and the
delivery through the in-memory Firehose service's own put path — buffered, delivered into the
stream's bucket, metered as its ingestion — or the flow log FAILED (``Access error``, ``Rate
limited``, ``Unknown error``), the refusal audited. Decision 0387: CreateFlowLogs tags the
stream ``LogDeliveryEnabled=true`` and the delivery puts only into a stream so tagged; an
instance of a type EC2 builds on Xen says traffic path 2 for both gateways."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.compute.flow_log import (
    DEFAULT_FORMAT,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
    parse_destination,
)
from andromede.compute.flow_log_files import (
    FlowKey,
    FlowRecord,
    InterfaceContext,
    firehose_records,
    log_rows,
)
from andromede.compute.flow_logs import CapturedInterface, traffic_paths
from andromede.compute.nitro import built_on_nitro
from andromede.compute.routing import Route, RouteTable
from andromede.compute.vpc_endpoint import managed_prefix_list_id
from andromede.firehoseapi.app import FirehoseApp
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.flow_log_streams import FlowLogStreams
from andromede.settings import Settings
from andromede.wiring.logs import flow_log_destinations
from support.batch_world import read
from support.ec2app import REGION, ApiError, Client, World, ec2_world
from support.firehoseapp import World as FirehoseWorld
from support.firehoseapp import firehose_world
from support.logsapp import logs_world

START = 1764930000
WHEN = datetime(2025, 12, 5, 10, 25, tzinfo=UTC)
ADDRESS = "10.70.1.5"
FORMAT = (
    "interface-id", "srcaddr", "dstaddr", "tcp-flags", "flow-direction", "traffic-path",
    "log-status",
)  # fmt: skip
# A subnet routing its VPC locally, the object store's block through a gateway endpoint, a
# peer VPC, and the rest to an internet gateway.
PATHS = (("10.70.0.0/16", 1), ("192.0.2.0/24", 7), ("172.16.0.0/16", 4), ("0.0.0.0/0", 8))


def _flow_log(tenant_id: str = "123456789012", stream: str = "flows") -> FlowLog:
    arn = f"arn:aws:firehose:{REGION}:{tenant_id}:deliverystream/{stream}"
    return FlowLog(
        "fl-0123456789abcdef0",
        tenant_id,
        ResourceType.VPC,
        "vpc-0123456789abcdef0",
        TrafficType.ALL,
        Destination(stream_arn=arn),
        FORMAT,
        60,
        WHEN,
    )


def _record(
    src: str, dst: str, flags: int, start: int = START, protocol: int = 6, action: str = "ACCEPT"
) -> FlowRecord:
    key = FlowKey("eni-a", src, dst, 40000, 443, protocol, action)
    return FlowRecord(key, 3, 300, start, start + 60, flags)


def test_records_carry_flags_direction_and_path_as_firehose_records() -> None:
    flow_log = _flow_log()
    records = [
        _record(ADDRESS, "10.70.2.9", 19, START + 5),  # SYN-ACK and FIN, within the VPC
        _record(ADDRESS, "203.0.113.7", 2),  # a SYN to the internet
        _record(ADDRESS, "192.0.2.10", 0),  # the object store, by the endpoint
        _record(ADDRESS, "172.16.3.4", 4),  # a peer
        _record("203.0.113.7", ADDRESS, 18),  # ingress: no path
        _record(ADDRESS, "10.70.2.9", 0, protocol=17),  # UDP: no flags
    ]
    contexts = {"eni-a": InterfaceContext("vpc-1", "subnet-1", "i-1", ADDRESS, PATHS)}
    lines = firehose_records(flow_log, REGION, records, {"eni-a": (START, START + 60)}, contexts)
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    decoded = [line.decode().rstrip("\n") for line in lines]
    # In time order, no header line; the interval's SKIPDATA record with no flags.
    assert decoded == [
        f"eni-a {ADDRESS} 203.0.113.7 2 egress 8 OK",
        f"eni-a {ADDRESS} 192.0.2.10 0 egress 7 OK",
        f"eni-a {ADDRESS} 172.16.3.4 4 egress 4 OK",
        f"eni-a 203.0.113.7 {ADDRESS} 18 ingress - OK",
        f"eni-a {ADDRESS} 10.70.2.9 0 egress 1 OK",
        "eni-a - - - - - SKIPDATA",
        f"eni-a {ADDRESS} 10.70.2.9 19 egress 1 OK",
    ]
    # A context without the interface's address (an older gateway's) says "-".
    bare = log_rows(flow_log, REGION, records[:1], {}, {"eni-a": InterfaceContext()})
    assert bare == [["eni-a", ADDRESS, "10.70.2.9", "19", "-", "-", "OK"]]
    # The object store's blocks are S3's (pkt-src-aws-service, pkt-dst-aws-service).
    services = (("192.0.2.0/24", "S3"),)
    named = InterfaceContext(address=ADDRESS, paths=PATHS, services=services)
    with_services = dataclasses.replace(
        flow_log, log_format=("srcaddr", "pkt-src-aws-service", "pkt-dst-aws-service")
    )
    rows = log_rows(with_services, REGION, records[1:3], {}, {"eni-a": named})
    assert rows == [[ADDRESS, "-", "-"], [ADDRESS, "-", "S3"]]
    # Flags merge by OR when an aggregator adds two intervals of one flow.
    assert records[1].merged(_record(ADDRESS, "203.0.113.7", 1)).tcp_flags == 3


def test_a_subnets_routes_as_traffic_paths() -> None:
    managed = managed_prefix_list_id(REGION)
    table = RouteTable(
        "rtb-1",
        "123456789012",
        "vpc-1",
        (
            Route("10.70.0.0/16", "local"),
            Route("0.0.0.0/0", "igw-1"),
            Route("", "vpce-1", destination_prefix_list_id=managed),
            Route("", "", destination_prefix_list_id="pl-0customer"),
            Route("", "igw-1", destination_prefix_list_id="pl-0partners"),
            Route("172.16.0.0/16", "", vpc_peering_connection_id="pcx-1"),
            Route("10.9.0.0/16", "", nat_gateway_id="nat-1"),
            Route("10.8.0.0/16", "", network_interface_id="eni-fw"),
        ),
    )
    partners = {"pl-0partners": ("203.0.113.0/24", "203.0.114.0/24")}
    paths = traffic_paths(table, managed, ("192.0.2.0/24", "198.51.100.0/24"))
    # Decision 0387: a customer list's route is its blocks with its target's code.
    listed = traffic_paths(table, managed, (), prefix_lists=partners)
    assert set(listed) - set(paths) == {("203.0.113.0/24", 8), ("203.0.114.0/24", 8)}
    assert sorted(paths) == sorted(
        [
            ("10.70.0.0/16", 1),
            ("0.0.0.0/0", 8),
            ("192.0.2.0/24", 7),
            ("198.51.100.0/24", 7),
            ("172.16.0.0/16", 4),
            ("10.9.0.0/16", 1),
            ("10.8.0.0/16", 1),
        ]
    )
    assert traffic_paths(None, managed, ()) == ()
    # Decision 0387: an instance EC2 builds on Xen says 2 for both gateways, the rest as is.
    xen = traffic_paths(table, managed, ("192.0.2.0/24",), nitro=False)
    assert {("0.0.0.0/0", 2), ("192.0.2.0/24", 2), ("172.16.0.0/16", 4)} <= set(xen)
    assert ("10.70.0.0/16", 1) in xen and not {7, 8} & {code for _, code in xen}
    assert [built_on_nitro(t) for t in ("t2.micro", "m4.large", "i3.large", "i3.metal")] == [
        False, False, False, True,
    ]  # fmt: skip
    assert all(built_on_nitro(t) for t in ("t3.nano", "m5.large", "i3en.large", "custom.big"))
    # The longest route wins: a NAT gateway's /16 inside the internet's default route.
    context = InterfaceContext(address=ADDRESS, paths=paths)
    assert context.traffic_path(_record(ADDRESS, "10.9.1.1", 0)) == "1"
    assert context.traffic_path(_record(ADDRESS, "10.10.1.1", 0)) == "8"
    # IPv6 (decision 0368): the VPC's blocks are local routes every table has unstored, the
    # table's IPv6 routes (an internet gateway's ::/0) beside them; an IPv6 address of the
    # interface makes its records egress.
    six = dataclasses.replace(table, ipv6_routes=(Route("::/0", "igw-1"),))
    paths6 = traffic_paths(six, managed, (), ("fd00:5::/56",))
    assert {("fd00:5::/56", 1), ("::/0", 8)} <= set(paths6)
    context = InterfaceContext(address=ADDRESS, paths=paths6, ipv6_addresses=("fd00:5::a",))
    assert context.traffic_path(_record("fd00:5::a", "fd00:5:0:1::b", 0)) == "1"
    assert context.traffic_path(_record("fd00:5::a", "2001:db8::1", 0)) == "8"
    assert context.traffic_path(_record("fd00:5:0:1::b", "fd00:5::a", 0)) == "-"  # ingress


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


@pytest.fixture
async def ec2(tmp_path: Path) -> AsyncIterator[World]:
    async with ec2_world(tmp_path) as world:
        yield world


async def test_create_and_describe_to_a_stream(ec2: World) -> None:
    c = ec2.root
    vpc = (await c.call("CreateVpc", CidrBlock="10.70.0.0/16"))["Vpc"]["VpcId"]
    arn = f"arn:aws:firehose:{REGION}:{ec2.tenant_id}:deliverystream/flows"
    made = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="kinesis-data-firehose", LogDestination=arn,
        LogFormat="${srcaddr} ${tcp-flags} ${flow-direction} ${traffic-path}",
    )  # fmt: skip
    (described,) = (await c.call("DescribeFlowLogs", FlowLogIds=made["FlowLogIds"]))["FlowLogs"]
    assert described["LogDestinationType"] == "kinesis-data-firehose"
    assert described["LogDestination"] == arn
    assert described["LogFormat"] == "${srcaddr} ${tcp-flags} ${flow-direction} ${traffic-path}"
    for absent in ("DestinationOptions", "LogGroupName", "DeliverLogsPermissionArn"):
        assert absent not in described
    again = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="kinesis-data-firehose", LogDestination=arn,
    )  # fmt: skip
    assert again["Unsuccessful"][0]["Error"]["Code"] == "FlowLogAlreadyExists"
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::flows",
    )  # fmt: skip
    found = await c.call(
        "DescribeFlowLogs",
        Filter=[{"Name": "log-destination-type", "Values": ["kinesis-data-firehose"]}],
    )
    assert [f["FlowLogId"] for f in found["FlowLogs"]] == made["FlowLogIds"]


async def test_the_caller_must_be_allowed_to_tag_the_stream(ec2: World) -> None:
    """As AWS's: a flow log to Firehose tags the stream for its log delivery, so its maker
    needs ``firehose:TagDeliveryStream`` on it beside ``ec2:CreateFlowLogs``."""
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.71.0.0/16"))["Vpc"]["VpcId"]
    arn = f"arn:aws:firehose:{REGION}:{ec2.tenant_id}:deliverystream/flows"
    params = {
        "ResourceType": "VPC", "ResourceIds": [vpc], "TrafficType": "ALL",
        "LogDestinationType": "kinesis-data-firehose", "LogDestination": arn,
    }  # fmt: skip

    async def user(name: str, *actions: str) -> Client:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
        await ec2.identity.create_user(ec2.tenant_id, name)
        await ec2.identity.put_user_policy(ec2.tenant_id, name, "p", json.dumps(policy))
        made = await ec2.identity.create_access_key(ec2.tenant_id, name)
        return Client(ec2.app, Credentials(made.key.access_key_id, made.secret_access_key))

    ec2_only = await user("net", "ec2:*")
    assert await _code(ec2_only.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    allowed = await user("ops", "ec2:*", "firehose:TagDeliveryStream")
    assert len((await allowed.call("CreateFlowLogs", **params))["FlowLogIds"]) == 1


_BAD = "InvalidParameterValue"
_ROLE = "arn:aws:iam::ACCOUNT:role/r"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({}, "MissingParameter"),  # no LogDestination
        ({"LogDestination": "arn:aws:s3:::flows"}, _BAD),
        ({"LogDestination": "arn:aws:firehose:REGION:ACCOUNT:deliverystream/"}, _BAD),
        ({"LogDestination": "arn:aws:firehose:REGION:999999999999:deliverystream/f"}, _BAD),
        ({"LogDestination": "arn:aws:firehose:other-1:ACCOUNT:deliverystream/f"}, _BAD),
        ({"LogDestination": "STREAM", "LogGroupName": "g"}, _BAD),
        ({"LogDestination": "STREAM", "DeliverLogsPermissionArn": _ROLE}, _BAD),
        ({"LogDestination": "STREAM", "DeliverCrossAccountRole": _ROLE}, _BAD),
        ({"LogDestination": "STREAM", "DestinationOptions": {"FileFormat": "plain-text"}}, _BAD),
        ({"LogDestination": "STREAM", "LogFormat": "${tcp-flags} ${az-id}"}, _BAD),
    ],
)
async def test_refusals(ec2: World, extra: dict[str, Any], code: str) -> None:
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.72.0.0/16"))["Vpc"]["VpcId"]
    params: dict[str, Any] = {
        "ResourceType": "VPC",
        "ResourceIds": [vpc],
        "TrafficType": "ALL",
        "LogDestinationType": "kinesis-data-firehose",
    }
    stream = f"arn:aws:firehose:{REGION}:{ec2.tenant_id}:deliverystream/flows"
    for name, value in extra.items():
        if isinstance(value, str):
            value = value.replace("STREAM", stream).replace("REGION", REGION)
            value = value.replace("ACCOUNT", ec2.tenant_id)
        params[name] = value
    assert await _code(ec2.root.call("CreateFlowLogs", **params)) == code
    assert (await ec2.root.call("DescribeFlowLogs"))["FlowLogs"] == []


def _later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def _stream(fire: FirehoseWorld, role: str, bucket: str) -> str:
    made = await fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName="flows",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": bucket,
            "Prefix": "flows/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    await fire.deliverer.run_pass()  # ACTIVE
    return str(made["DeliveryStreamARN"])


@pytest.fixture
async def fire(tmp_path: Path) -> AsyncIterator[FirehoseWorld]:
    async for made in firehose_world(tmp_path / "fire", firehose_max_buffered_bytes=4096):
        yield made


async def test_delivery_through_the_firehose_put_path(ec2: World, fire: FirehoseWorld) -> None:
    role, bucket = await fire.role(), await fire.bucket()
    arn = await _stream(fire, role, bucket)
    flow_log = _flow_log(fire.tenant_id)
    await ec2.compute.store.insert(flow_log)
    captured = [
        CapturedInterface(
            "eni-a", fire.tenant_id, ADDRESS,
            InterfaceContext("vpc-1", "subnet-1", "i-1", ADDRESS, PATHS),
            (flow_log.flow_log_id,),
        )
    ]  # fmt: skip
    records = [
        _record(ADDRESS, "203.0.113.7", 3),
        _record("203.0.113.7", ADDRESS, 18, START + 1),
        _record(ADDRESS, "10.70.2.9", 0, START + 2, action="REJECT"),
    ]
    streams = FlowLogStreams(lambda: fire.firehose, audit=fire.audit)
    delivery = FlowLogDelivery(ec2.compute, fire.objects, REGION, streams=streams)

    async def status() -> tuple[str, str]:
        (found,) = await ec2.compute.describe_flow_logs(fire.tenant_id, [flow_log.flow_log_id])
        return found.deliver_status.value, found.deliver_error

    # Decision 0387: the log delivery puts only into a stream tagged LogDeliveryEnabled=true,
    # which CreateFlowLogs gives it (this flow log was stored without it).
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("FAILED", "Access error")
    assert fire.sink.total("IncomingRecords") == 0
    await streams.enable_log_delivery(fire.tenant_id, arn)
    assert await delivery.deliver(captured, records, {}, WHEN) == []  # no S3 object of its own
    assert await status() == ("SUCCESS", "")
    # Buffered by the stream, then delivered by its own deliverer into its bucket.
    assert fire.sink.total("IncomingRecords") == 3
    assert await fire.deliverer.run_pass(_later(61)) == 1
    listing = await fire.objects.list_objects("landing", prefix="flows/", max_keys=10)
    (key,) = [o.key for o in listing.objects]
    body = await read(fire.objects, "landing", key)
    assert body.decode().splitlines() == [
        f"eni-a {ADDRESS} 203.0.113.7 3 egress 8 OK",
        f"eni-a 203.0.113.7 {ADDRESS} 18 ingress - OK",
        f"eni-a {ADDRESS} 10.70.2.9 0 egress 1 OK",
    ]
    assert await fire.usage("firehose.ingested") == 3 * 5 * 1024  # as Direct PUT is billed

    # The stream's buffer full: the records refused are Firehose's "Slow down".
    many = [_record(ADDRESS, "203.0.113.7", 2, START + n) for n in range(200)]
    assert await delivery.deliver(captured, many, {}, WHEN) == []
    assert await status() == ("FAILED", "Rate limited")
    await fire.deliverer.run_pass(_later(200))
    # The stream gone: Access error, and the refusal audited.
    await fire.client("DeleteDeliveryStream", DeliveryStreamName="flows")
    await fire.deliverer.run_pass(_later(300))
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("FAILED", "Access error")
    await fire.audit.flush()
    events = [e for _, e in await fire.audit_store.list_events(None, after_id=0, limit=500)]
    refused = [e for e in events if e.principal == "delivery.logs.amazonaws.com"]
    assert refused and refused[-1].action == "firehose:PutRecordBatch"
    assert refused[-1].resource == arn and refused[-1].outcome.value == "failure"
    # Made again, without the tag: still refused; tagged, SUCCESS again.
    await _stream(fire, role, bucket)
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("FAILED", "Access error")
    await fire.client(
        "TagDeliveryStream",
        DeliveryStreamName="flows",
        Tags=[{"Key": "LogDeliveryEnabled", "Value": "true"}],
    )
    assert await delivery.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("SUCCESS", "")
    incoming = fire.sink.total("IncomingRecords")
    # Another account's stream is never put into, whatever the flow log says.
    foreign = dataclasses.replace(flow_log, tenant_id="999999999999")
    assert await streams.deliver(foreign, [b"x\n"]) == "Access error"
    assert fire.sink.total("IncomingRecords") == incoming
    # A deployment without Firehose.
    bare = FlowLogDelivery(ec2.compute, fire.objects, REGION)
    assert await bare.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("FAILED", "Unknown error")
    assert await FlowLogStreams(lambda: None).deliver(flow_log, [b"x\n"]) == "Unknown error"


async def test_serves_wiring_finds_firehose_when_delivering(
    fire: FirehoseWorld, tmp_path: Path
) -> None:
    """``serve`` makes Firehose after the flow logs' wiring: the stream destination finds it
    in ``apis`` when it delivers, not when it is made."""
    apis: dict[str, Any] = {}
    for logs in logs_world(tmp_path / "logs"):
        settings = Settings(data_dir=tmp_path / "data", region=REGION)
        made = flow_log_destinations(settings, fire.identity, logs.service, None, None, apis)
        flow_log = _flow_log(fire.tenant_id)
        assert await made.streams.deliver(flow_log, [b"x\n"]) == "Unknown error"
        apis[FirehoseApp.name] = fire.app
        assert await made.streams.deliver(flow_log, [b"x\n"]) == "Access error"  # no stream yet
        arn = await _stream(fire, await fire.role(), await fire.bucket())
        assert await made.streams.deliver(flow_log, [b"x\n"]) == "Access error"  # untagged
        await made.streams.enable_log_delivery(fire.tenant_id, arn)
        assert await made.streams.deliver(flow_log, [b"x\n"]) is None
        assert fire.sink.total("IncomingRecords") == 1


async def _tags(fire: FirehoseWorld) -> dict[str, str]:
    listed = await fire.client("ListTagsForDeliveryStream", DeliveryStreamName="flows")
    return {t["Key"]: t["Value"] for t in listed["Tags"]}


async def test_creating_the_flow_log_enables_log_delivery_on_the_stream(
    ec2: World, fire: FirehoseWorld
) -> None:
    """Decision 0387, as AWS: CreateFlowLogs tags a stream of its account
    ``LogDeliveryEnabled=true`` (what its maker's ``firehose:TagDeliveryStream`` is asked
    for), the tag the log delivery puts by; the tag withdrawn, nothing more is put."""
    role, bucket = await fire.role(), await fire.bucket()
    arn = await _stream(fire, role, bucket)
    await fire.client(
        "TagDeliveryStream", DeliveryStreamName="flows", Tags=[{"Key": "team", "Value": "sec"}]
    )
    streams = FlowLogStreams(lambda: fire.firehose, audit=fire.audit)
    ec2.compute.log_delivery_streams = streams
    vpc = await ec2.compute.create_vpc(fire.tenant_id, "10.73.0.0/16")
    destination = parse_destination(
        "kinesis-data-firehose", arn, region=REGION, account=fire.tenant_id
    )
    made, refused = await ec2.compute.create_flow_logs(
        fire.tenant_id, "VPC", [vpc.vpc_id], TrafficType.ALL, destination, DEFAULT_FORMAT, 60
    )
    assert refused == [] and len(made) == 1
    assert await _tags(fire) == {"team": "sec", "LogDeliveryEnabled": "true"}
    flow_log = made[0]
    assert await streams.deliver(flow_log, [b"x\n"]) is None
    assert fire.sink.total("IncomingRecords") == 1
    # Its owner takes the tag away: the log delivery may no longer put into the stream.
    await fire.client(
        "UntagDeliveryStream", DeliveryStreamName="flows", TagKeys=["LogDeliveryEnabled"]
    )
    assert await streams.deliver(flow_log, [b"x\n"]) == "Access error"
    assert fire.sink.total("IncomingRecords") == 1
    # A flow log to a stream not made yet is made all the same, the stream untagged.
    later = parse_destination(
        "kinesis-data-firehose", arn.replace("/flows", "/later"), region=REGION,
        account=fire.tenant_id,
    )  # fmt: skip
    made, refused = await ec2.compute.create_flow_logs(
        fire.tenant_id, "VPC", [vpc.vpc_id], TrafficType.ALL, later, DEFAULT_FORMAT, 60
    )
    assert refused == [] and len(made) == 1
