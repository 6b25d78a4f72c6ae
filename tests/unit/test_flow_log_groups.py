"""VPC flow logs to CloudWatch Logs (decision 0153's session-48 addendum): CreateFlowLogs'
``cloud-watch-logs`` destination (``LogGroupName`` or a group's ARN, and
``DeliverLogsPermissionArn``; EC2's default type) and its refusals, DescribeFlowLogs' fields
and filters, the records as events (one stream per interface, one event a record stamped with
its start), and their delivery through the Logs service as the flow log's role — which must
be the account's, trust ``vpc-flow-logs.amazonaws.com`` and be allowed by its policies, or
the flow log says FAILED ``Access error`` — the group made when missing if the role may, and
the bytes metered as ingested."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.app import storage_limits
from andromede.compute.flow_log import (
    DEFAULT_FORMAT,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
)
from andromede.compute.flow_log_files import FlowKey, FlowRecord, InterfaceContext, log_events
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.flow_log_groups import ACCESS_ERROR, FlowLogGroups
from andromede.logs.service import LogsService
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.ec2app import REGION, ApiError, Client, World, ec2_world
from support.keys import cipher_in
from support.logsapp import LogsWorld, logs_world

START = 1764930000  # the records' first second
WHEN = datetime(2025, 12, 5, 10, 25, tzinfo=UTC)
GROUP = "/vpc/flows"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _allow(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def test_records_as_events_one_stream_per_interface() -> None:
    flow_log = FlowLog(
        "fl-0123456789abcdef0",
        "123456789012",
        ResourceType.VPC,
        "vpc-0123456789abcdef0",
        TrafficType.ACCEPT,
        Destination(log_group=GROUP, role_arn="arn:aws:iam::123456789012:role/flows"),
        DEFAULT_FORMAT,
        60,
        WHEN,
    )
    late = _record("eni-a", 4000, 22, "ACCEPT", (1, 60), START + 30, START + 40)
    early = _record("eni-a", 4001, 443, "ACCEPT", (2, 120), START, START + 9)
    other = _record("eni-b", 5000, 80, "ACCEPT", (3, 180), START + 5, START + 6)
    rejected = _record("eni-b", 5001, 53, "REJECT", (1, 70), START, START)
    contexts = {"eni-a": InterfaceContext(), "eni-b": InterfaceContext()}
    streams = log_events(
        flow_log,
        REGION,
        [late, early, other, rejected],
        {"eni-b": (START + 1, START + 2)},
        contexts,
    )
    assert list(streams) == ["eni-a", "eni-b"]
    # Time order within a stream, each timestamped with its record's start, no header line.
    assert [t for t, _ in streams["eni-a"]] == [START * 1000, (START + 30) * 1000]
    assert streams["eni-a"][0][1] == (
        f"2 123456789012 eni-a 10.0.1.5 10.0.1.6 4001 443 6 2 120 {START} {START + 9} ACCEPT OK"
    )
    # The traffic type's records only; the skipped flows' SKIPDATA record in its stream.
    assert [m.split()[-1] for _, m in streams["eni-b"]] == ["SKIPDATA", "OK"]


def _record(
    eni: str, sport: int, dport: int, action: str, counts: tuple[int, int], start: int, end: int
) -> FlowRecord:
    key = FlowKey(eni, "10.0.1.5", "10.0.1.6", sport, dport, 6, action)
    return FlowRecord(key, counts[0], counts[1], start, end)


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[World, LogsWorld]]:
    async with ec2_world(tmp_path) as ec2:
        for logs in logs_world(tmp_path / "logs"):
            logs.clock.now = (START + 120) * 1000
            yield ec2, logs


async def test_create_and_describe_to_a_log_group(world: tuple[World, LogsWorld]) -> None:
    ec2, _ = world
    c = ec2.root
    vpc = (await c.call("CreateVpc", CidrBlock="10.60.0.0/16"))["Vpc"]["VpcId"]
    role = f"arn:aws:iam::{ec2.tenant_id}:role/flow-logs"
    # EC2's default destination type is CloudWatch Logs.
    made = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogGroupName=GROUP, DeliverLogsPermissionArn=role,
    )  # fmt: skip
    (described,) = (await c.call("DescribeFlowLogs", FlowLogIds=made["FlowLogIds"]))["FlowLogs"]
    assert described["LogDestinationType"] == "cloud-watch-logs"
    assert described["LogGroupName"] == GROUP
    assert described["DeliverLogsPermissionArn"] == role
    group_arn = f"arn:aws:logs:{REGION}:{ec2.tenant_id}:log-group:{GROUP}"
    assert described["LogDestination"] == group_arn
    assert "DestinationOptions" not in described
    # The group by its ARN (Terraform's, ending ``:*``), another traffic type.
    by_arn = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="REJECT",
        LogDestinationType="cloud-watch-logs", LogDestination=group_arn + ":*",
        DeliverLogsPermissionArn=role,
    )  # fmt: skip
    assert len(by_arn["FlowLogIds"]) == 1
    again = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="REJECT",
        LogGroupName=GROUP, DeliverLogsPermissionArn=role,
    )  # fmt: skip
    assert again["Unsuccessful"][0]["Error"]["Code"] == "FlowLogAlreadyExists"
    await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="s3", LogDestination="arn:aws:s3:::flows",
    )  # fmt: skip
    for name, value, count in (
        ("log-group-name", GROUP, 2),
        ("log-destination-type", "cloud-watch-logs", 2),
        ("log-destination-type", "s3", 1),
    ):
        found = await c.call("DescribeFlowLogs", Filter=[{"Name": name, "Values": [value]}])
        assert len(found["FlowLogs"]) == count, (name, value)


async def test_the_caller_must_be_allowed_to_pass_the_role(
    world: tuple[World, LogsWorld],
) -> None:
    """AWS's rule: CreateFlowLogs with a role needs ``iam:PassRole`` on it, to the flow logs
    service, beside ``ec2:CreateFlowLogs``."""
    ec2, _ = world
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.64.0.0/16"))["Vpc"]["VpcId"]
    role = f"arn:aws:iam::{ec2.tenant_id}:role/flow-logs"
    params = {
        "ResourceType": "VPC", "ResourceIds": [vpc], "TrafficType": "ALL",
        "LogGroupName": GROUP, "DeliverLogsPermissionArn": role,
    }  # fmt: skip

    async def user(name: str, policy: str) -> Client:
        await ec2.identity.create_user(ec2.tenant_id, name)
        await ec2.identity.put_user_policy(ec2.tenant_id, name, "p", policy)
        made = await ec2.identity.create_access_key(ec2.tenant_id, name)
        return Client(ec2.app, Credentials(made.key.access_key_id, made.secret_access_key))

    ec2_only = await user("net", _allow("ec2:*"))
    assert await _code(ec2_only.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    to_ec2 = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role,
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    passes = json.loads(_allow("ec2:*"))
    passes["Statement"].append(to_ec2)
    elsewhere = await user("elsewhere", json.dumps(passes))
    assert await _code(elsewhere.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    to_ec2["Condition"]["StringEquals"]["iam:PassedToService"] = "vpc-flow-logs.amazonaws.com"
    allowed = await user("ops", json.dumps(passes))
    assert len((await allowed.call("CreateFlowLogs", **params))["FlowLogIds"]) == 1


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({}, "MissingParameter"),  # neither a group nor a destination
        ({"LogGroupName": GROUP, "LogDestination": "arn:aws:logs:x"}, "InvalidParameterValue"),
        ({"LogGroupName": GROUP, "DeliverLogsPermissionArn": None}, "MissingParameter"),
        ({"LogGroupName": "bad name!"}, "InvalidParameterValue"),
        ({"LogGroupName": GROUP, "DeliverLogsPermissionArn": "flows"}, "InvalidParameterValue"),
        ({"LogDestination": "arn:aws:s3:::flows"}, "InvalidParameterValue"),
        (
            {"LogDestination": f"arn:aws:logs:{REGION}:999999999999:log-group:g"},
            "InvalidParameterValue",
        ),
        (
            {"LogDestination": "arn:aws:logs:other-1:ACCOUNT:log-group:g"},
            "InvalidParameterValue",
        ),
        ({"LogGroupName": GROUP, "DeliverCrossAccountRole": "ROLE"}, "InvalidParameterValue"),
        (
            {"LogGroupName": GROUP, "DestinationOptions": {"FileFormat": "plain-text"}},
            "InvalidParameterValue",
        ),
        # A role with a Firehose stream of the account (decision 0348: cross-account only).
        ({"LogDestinationType": "kinesis-data-firehose"}, "InvalidParameterValue"),
        (
            {"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::flows"},
            "InvalidParameterValue",  # a role is not S3's
        ),
    ],
)
async def test_refusals(world: tuple[World, LogsWorld], extra: dict[str, Any], code: str) -> None:
    ec2, _ = world
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.61.0.0/16"))["Vpc"]["VpcId"]
    params: dict[str, Any] = {
        "ResourceType": "VPC",
        "ResourceIds": [vpc],
        "TrafficType": "ALL",
        "DeliverLogsPermissionArn": f"arn:aws:iam::{ec2.tenant_id}:role/flow-logs",
    }
    for name, value in extra.items():
        if isinstance(value, str):
            value = value.replace("ACCOUNT", ec2.tenant_id).replace(
                "ROLE", params["DeliverLogsPermissionArn"]
            )
        params[name] = value
    params = {k: v for k, v in params.items() if v is not None}
    assert await _code(ec2.root.call("CreateFlowLogs", **params)) == code


async def test_delivery_as_the_flow_logs_role(
    world: tuple[World, LogsWorld], tmp_path: Path
) -> None:
    ec2, logs_world_ = world
    logs: LogsService = logs_world_.service
    c = ec2.root
    vpc = (await c.call("CreateVpc", CidrBlock="10.62.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.62.1.0/24"))["Subnet"]
    launched = await c.call(
        "RunInstances", ImageId=ec2.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet["SubnetId"],
    )  # fmt: skip
    instance = launched["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    role = f"arn:aws:iam::{ec2.tenant_id}:role/flow-logs"
    made = await c.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogGroupName=GROUP, DeliverLogsPermissionArn=role,
        LogFormat="${interface-id} ${srcaddr} ${dstport} ${bytes} ${start} ${action}",
    )  # fmt: skip
    flow_log_id = made["FlowLogIds"][0]
    metered: list[tuple[str, int, str]] = []
    groups = FlowLogGroups(
        ec2.identity, logs, ingested=lambda t, n, meter: metered.append((t, n, meter))
    )
    settings = Settings(data_dir=tmp_path / "data", region=REGION)
    objects = ObjectService(
        MemoryMetadataStore(),
        MemoryBlobStore(),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(tmp_path / "keys"),
    )
    delivery = FlowLogDelivery(ec2.compute, objects, REGION, groups=groups)
    captured = await ec2.compute.captured_interfaces(await ec2.compute.active_flow_logs())
    key = FlowKey(eni, instance["PrivateIpAddress"], "10.62.1.9", 40000, 443, 6, "ACCEPT")
    records = [FlowRecord(key, 4, 400, START, START + 60)]

    async def status() -> tuple[str, str | None]:
        (found,) = (await c.call("DescribeFlowLogs", FlowLogIds=[flow_log_id]))["FlowLogs"]
        return found["DeliverLogsStatus"], found.get("DeliverLogsErrorMessage")

    async def deliver() -> tuple[str, str | None]:
        assert await delivery.deliver(captured, records, {}, WHEN) == []
        return await status()

    # No such role; then one that does not trust the flow logs service.
    assert await deliver() == ("FAILED", ACCESS_ERROR)
    untrusting = TRUST.replace("vpc-flow-logs", "ec2")
    await ec2.identity.create_role(ec2.tenant_id, "flow-logs", untrusting)
    await ec2.identity.put_role_policy(ec2.tenant_id, "flow-logs", "p", _allow("logs:*"))
    assert await deliver() == ("FAILED", ACCESS_ERROR)
    # Trusting, but allowed to write only: the missing group is not made.
    await ec2.identity.delete_role_policy(ec2.tenant_id, "flow-logs", "p")
    await ec2.identity.delete_role(ec2.tenant_id, "flow-logs")
    await ec2.identity.create_role(ec2.tenant_id, "flow-logs", TRUST)
    writes = _allow("logs:CreateLogStream", "logs:PutLogEvents")
    await ec2.identity.put_role_policy(ec2.tenant_id, "flow-logs", "p", writes)
    assert await deliver() == ("FAILED", ACCESS_ERROR)
    assert (await logs.describe_groups(ec2.tenant_id, "", "", None, None))[0] == []
    # The group made by its owner (of the Infrequent Access class, metered apart: decision
    # 0222): the stream per interface and one event a record.
    await logs.create_group(ec2.tenant_id, GROUP, None, {}, "INFREQUENT_ACCESS")
    assert await deliver() == ("SUCCESS", None)
    events, _, _ = await logs.get_events(
        ec2.tenant_id, GROUP, eni, start=None, end=None, start_from_head=True, limit=None,
        token=None,
    )  # fmt: skip
    message = f"{eni} {instance['PrivateIpAddress']} 443 400 {START} ACCEPT"
    assert [(e.timestamp, e.message) for e in events] == [(START * 1000, message)]
    assert metered == [(ec2.tenant_id, len(message) + 26, "logs.ingested.infrequent-access")]
    # A role that may not PutLogEvents: FAILED again, nothing more written.
    await ec2.identity.put_role_policy(ec2.tenant_id, "flow-logs", "p", _allow("logs:Create*"))
    assert await deliver() == ("FAILED", ACCESS_ERROR)
    assert len(metered) == 1
    # One that may do all: a missing group is made, as AWS makes it.
    await logs.delete_group(ec2.tenant_id, GROUP)
    await ec2.identity.put_role_policy(ec2.tenant_id, "flow-logs", "p", _allow("logs:*"))
    assert await deliver() == ("SUCCESS", None)
    found = await logs.filter_events(
        ec2.tenant_id, GROUP, streams=None, stream_prefix="", start=None, end=None,
        pattern="ACCEPT", limit=None, token=None,
    )  # fmt: skip
    assert [(e.stream, e.message) for e in found[0]] == [(eni, message)]
    assert metered[-1] == (ec2.tenant_id, len(message) + 26, "logs.ingested")  # made STANDARD

    # Decision 0321: the trust policy sees the flow log as aws:SourceArn, its account as
    # aws:SourceAccount (AWS's confused-deputy trust for flow logs).
    def fenced_to(flow_log: str) -> str:
        condition = {
            "StringEquals": {"aws:SourceAccount": ec2.tenant_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:*:{ec2.tenant_id}:vpc-flow-log/{flow_log}"},
        }
        document = json.loads(TRUST)
        document["Statement"][0]["Condition"] = condition
        return json.dumps(document)

    await ec2.identity.update_assume_role_policy(ec2.tenant_id, "flow-logs", fenced_to("fl-0"))
    assert await deliver() == ("FAILED", ACCESS_ERROR)
    await ec2.identity.update_assume_role_policy(ec2.tenant_id, "flow-logs", fenced_to("fl-*"))
    assert await deliver() == ("SUCCESS", None)
    await ec2.identity.update_assume_role_policy(ec2.tenant_id, "flow-logs", TRUST)
    # Another account's role of that name is never assumed.
    other_id, other = await ec2.tenant("globex")
    await ec2.identity.create_role(other_id, "flow-logs", TRUST)
    await ec2.identity.put_role_policy(other_id, "flow-logs", "p", _allow("logs:*"))
    vpc2 = (await other.call("CreateVpc", CidrBlock="10.63.0.0/16"))["Vpc"]["VpcId"]
    stolen = await other.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc2], TrafficType="ALL",
        LogGroupName=GROUP, DeliverLogsPermissionArn=role,
    )  # fmt: skip
    (stolen_log,) = await ec2.compute.describe_flow_logs(other_id, stolen["FlowLogIds"])
    assert await groups.deliver(stolen_log, {"eni-x": [(START * 1000, "x")]}) == ACCESS_ERROR
    # A deployment without CloudWatch Logs: the flow log says so.
    bare = FlowLogDelivery(ec2.compute, objects, REGION)
    assert await bare.deliver(captured, records, {}, WHEN) == []
    assert await status() == ("FAILED", "Unknown error")
