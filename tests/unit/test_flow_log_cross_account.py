"""VPC flow logs delivered into another account's Firehose stream (decision 0370):
CreateFlowLogs' ``DeliverCrossAccountRole`` with ``DeliverLogsPermissionArn`` through botocore's
model — the parameter rules and their refusals, ``iam:PassRole`` to
``delivery.logs.amazonaws.com`` per monitored resource, DescribeFlowLogs' fields — and the
delivery through the chain of roles into the in-memory Firehose service: put as the stream's
account's records (metered there), the destination role's use audited in its account, or the
flow log FAILED (``Access error``) when any link refuses, the other account never written
without its role's consent. Decision 0387: the stream tagged ``LogDeliveryEnabled=true``
through the destination role when the chain consents, audited in the stream's account."""

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

from andromede.compute.flow_log import Destination, FlowLog, ResourceType, TrafficType
from andromede.compute.flow_log_files import FlowKey, FlowRecord, InterfaceContext
from andromede.compute.flow_logs import CapturedInterface
from andromede.firehoseapi.app import FirehoseApp
from andromede.flow_log_delivery import FlowLogDelivery
from andromede.flow_log_roles import CrossAccountChain
from andromede.flow_log_streams import FlowLogStreams
from andromede.settings import Settings
from andromede.wiring.logs import flow_log_destinations
from support.ec2app import REGION, ApiError, Client, World, ec2_world
from support.firehoseapp import World as FirehoseWorld
from support.firehoseapp import firehose_world
from support.logsapp import logs_world

START = 1764930000
WHEN = datetime(2025, 12, 5, 10, 25, tzinfo=UTC)
ADDRESS = "10.80.1.5"
OTHER = "444455556666"  # the stream's account in the API tests
DESTINATION_ROLE = "AWSLogDeliveryFirehoseCrossAccountRole"  # the name AWS's guide gives it
FLOW_LOG_ID = "fl-0123456789abcdef0"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: str, resource: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


@pytest.fixture
async def ec2(tmp_path: Path) -> AsyncIterator[World]:
    async with ec2_world(tmp_path) as world:
        yield world


def _params(ec2: World, vpc: str, **extra: Any) -> dict[str, Any]:
    return {
        "ResourceType": "VPC",
        "ResourceIds": [vpc],
        "TrafficType": "ALL",
        "LogDestinationType": "kinesis-data-firehose",
        "LogDestination": f"arn:aws:firehose:{REGION}:{OTHER}:deliverystream/central",
        "DeliverLogsPermissionArn": f"arn:aws:iam::{ec2.tenant_id}:role/mySourceRole",
        "DeliverCrossAccountRole": f"arn:aws:iam::{OTHER}:role/{DESTINATION_ROLE}",
        **extra,
    }


async def test_create_and_describe_across_accounts(ec2: World) -> None:
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.80.0.0/16"))["Vpc"]["VpcId"]
    params = _params(ec2, vpc)
    made = await ec2.root.call("CreateFlowLogs", **params)
    assert made["Unsuccessful"] == []
    (described,) = (await ec2.root.call("DescribeFlowLogs", FlowLogIds=made["FlowLogIds"]))[
        "FlowLogs"
    ]
    assert described["LogDestinationType"] == "kinesis-data-firehose"
    assert described["LogDestination"] == params["LogDestination"]
    assert described["DeliverLogsPermissionArn"] == params["DeliverLogsPermissionArn"]
    assert described["DeliverCrossAccountRole"] == params["DeliverCrossAccountRole"]
    assert "LogGroupName" not in described and "DestinationOptions" not in described
    # The same stream through the same roles twice is a duplicate.
    again = await ec2.root.call("CreateFlowLogs", **params)
    assert again["Unsuccessful"][0]["Error"]["Code"] == "FlowLogAlreadyExists"
    # A same-account flow log says no cross-account role.
    own = f"arn:aws:firehose:{REGION}:{ec2.tenant_id}:deliverystream/flows"
    await ec2.root.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
        LogDestinationType="kinesis-data-firehose", LogDestination=own,
    )  # fmt: skip
    found = await ec2.root.call(
        "DescribeFlowLogs",
        Filter=[{"Name": "log-destination-type", "Values": ["kinesis-data-firehose"]}],
    )
    crossing = [f for f in found["FlowLogs"] if "DeliverCrossAccountRole" in f]
    assert [f["FlowLogId"] for f in crossing] == made["FlowLogIds"]


async def test_the_caller_passes_the_source_role_to_log_delivery(ec2: World) -> None:
    """AWS's guide: ``iam:PassRole`` on the source role, ``iam:PassedToService``
    ``delivery.logs.amazonaws.com``, ``iam:AssociatedResourceARN`` the monitored resource; no
    ``firehose:TagDeliveryStream`` (the caller has no rights in the stream's account)."""
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.81.0.0/16"))["Vpc"]["VpcId"]
    vpc_arn = f"arn:aws:ec2:{REGION}:{ec2.tenant_id}:vpc/{vpc}"

    async def user(name: str, *statements: dict[str, Any]) -> Client:
        await ec2.identity.create_user(ec2.tenant_id, name)
        await ec2.identity.put_user_policy(ec2.tenant_id, name, "p", _policy(*statements))
        made = await ec2.identity.create_access_key(ec2.tenant_id, name)
        return Client(ec2.app, Credentials(made.key.access_key_id, made.secret_access_key))

    def pass_role(service: str, resource: str) -> dict[str, Any]:
        return _allow(
            "iam:PassRole",
            "*",
            {
                "StringEquals": {"iam:PassedToService": service},
                "StringLike": {"iam:AssociatedResourceARN": [resource]},
            },
        )

    ec2_only = await user("net", _allow("ec2:*", "*"))
    params = _params(ec2, vpc)
    assert await _code(ec2_only.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    wrong_service = await user(
        "flows", _allow("ec2:*", "*"), pass_role("vpc-flow-logs.amazonaws.com", vpc_arn)
    )
    assert await _code(wrong_service.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    other_vpc = await user(
        "other",
        _allow("ec2:*", "*"),
        pass_role("delivery.logs.amazonaws.com", f"arn:aws:ec2:{REGION}:*:vpc/vpc-0000"),
    )
    assert await _code(other_vpc.call("CreateFlowLogs", **params)) == "UnauthorizedOperation"
    assert (await ec2.root.call("DescribeFlowLogs"))["FlowLogs"] == []
    allowed = await user(
        "ops", _allow("ec2:*", "*"), pass_role("delivery.logs.amazonaws.com", vpc_arn)
    )
    assert len((await allowed.call("CreateFlowLogs", **params))["FlowLogIds"]) == 1


_BAD = "InvalidParameterValue"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        # Cross-account delivery is Firehose's only.
        ({"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::central"}, _BAD),
        (
            {
                "LogDestinationType": "cloud-watch-logs",
                "LogDestination": None,
                "LogGroupName": "flows",
            },
            _BAD,
        ),
        # Another account's stream without the destination role; without the source role.
        ({"DeliverCrossAccountRole": None}, _BAD),
        ({"DeliverLogsPermissionArn": None}, "MissingParameter"),
        # The source role of another account; the destination role not the stream's account's.
        ({"DeliverLogsPermissionArn": f"arn:aws:iam::{OTHER}:role/src"}, _BAD),
        ({"DeliverCrossAccountRole": "arn:aws:iam::ACCOUNT:role/dst"}, _BAD),
        ({"DeliverCrossAccountRole": "arn:aws:iam::999999999999:role/dst"}, _BAD),
        ({"DeliverCrossAccountRole": f"arn:aws:sts::{OTHER}:assumed-role/dst/s"}, _BAD),
        # A stream of the caller's own account names no roles; another region is refused.
        ({"LogDestination": "arn:aws:firehose:REGION:ACCOUNT:deliverystream/own"}, _BAD),
        ({"LogDestination": f"arn:aws:firehose:other-1:{OTHER}:deliverystream/central"}, _BAD),
        ({"LogGroupName": "flows"}, _BAD),
        ({"DestinationOptions": {"FileFormat": "plain-text"}}, _BAD),
    ],
)
async def test_refusals(ec2: World, extra: dict[str, Any], code: str) -> None:
    vpc = (await ec2.root.call("CreateVpc", CidrBlock="10.82.0.0/16"))["Vpc"]["VpcId"]
    params = _params(ec2, vpc)
    for name, value in extra.items():
        if isinstance(value, str):
            value = value.replace("REGION", REGION).replace("ACCOUNT", ec2.tenant_id)
        params[name] = value
    params = {k: v for k, v in params.items() if v is not None}
    assert await _code(ec2.root.call("CreateFlowLogs", **params)) == code
    assert (await ec2.root.call("DescribeFlowLogs"))["FlowLogs"] == []


# The delivery: the Firehose world's tenant owns the stream (the destination account); a tenant
# made beside it owns the flow log and the source role.


def _later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def _stream(fire: FirehoseWorld) -> str:
    made = await fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName="central",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await fire.role(),
            "BucketARN": await fire.bucket(),
            "Prefix": "flows/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    await fire.deliverer.run_pass()  # ACTIVE
    return str(made["DeliveryStreamARN"])


def _trust_service(account: str, flow_log_arn: str) -> str:
    """AWS's source role trust, with the confused-deputy keys it recommends."""
    return _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": flow_log_arn},
            },
        }
    )


def _trust_role(role_arn: str) -> str:
    return _policy({"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "sts:AssumeRole"})


@dataclasses.dataclass
class Accounts:
    source: str
    source_role: str
    destination_role: str
    stream: str


@pytest.fixture
async def fire(tmp_path: Path) -> AsyncIterator[FirehoseWorld]:
    async for made in firehose_world(tmp_path / "fire"):
        yield made


async def _accounts(fire: FirehoseWorld) -> Accounts:
    source = (await fire.identity.create_tenant("source")).tenant.id
    stream = await _stream(fire)
    destination_role = f"arn:aws:iam::{fire.tenant_id}:role/AWSLogDeliveryFirehoseCrossAccountRole"
    flow_log_arn = f"arn:aws:ec2:{REGION}:{source}:vpc-flow-log/*"
    made = await fire.identity.create_role(
        source, "mySourceRole", _trust_service(source, flow_log_arn)
    )
    await fire.identity.put_role_policy(
        source, "mySourceRole", "chain", _policy(_allow("sts:AssumeRole", destination_role))
    )
    await fire.identity.create_role(
        fire.tenant_id, "AWSLogDeliveryFirehoseCrossAccountRole", _trust_role(made.arn)
    )
    await fire.identity.put_role_policy(
        fire.tenant_id,
        "AWSLogDeliveryFirehoseCrossAccountRole",
        "tag",
        _policy(
            _allow("iam:CreateServiceLinkedRole", "*"),
            _allow("firehose:TagDeliveryStream", "*"),
        ),
    )
    return Accounts(source, made.arn, destination_role, stream)


def _flow_log(accounts: Accounts) -> FlowLog:
    return FlowLog(
        FLOW_LOG_ID,
        accounts.source,
        ResourceType.VPC,
        "vpc-0123456789abcdef0",
        TrafficType.ALL,
        Destination(
            role_arn=accounts.source_role,
            stream_arn=accounts.stream,
            cross_account_role=accounts.destination_role,
        ),
        ("interface-id", "srcaddr", "dstaddr", "action"),
        60,
        WHEN,
    )


def _records() -> list[FlowRecord]:
    return [
        FlowRecord(FlowKey("eni-a", ADDRESS, "203.0.113.7", 40000, 443, 6, "ACCEPT"), 3, 300,
                   START + n, START + 60)
        for n in range(3)
    ]  # fmt: skip


async def _audited(fire: FirehoseWorld) -> list[tuple[str | None, str, str, str]]:
    await fire.audit.flush()
    events = [e for _, e in await fire.audit_store.list_events(None, after_id=0, limit=500)]
    return [(e.tenant_id, e.action, e.outcome.value, e.principal or "") for e in events]


async def test_delivery_through_the_chain_of_roles(ec2: World, fire: FirehoseWorld) -> None:
    accounts = await _accounts(fire)
    flow_log = _flow_log(accounts)
    await ec2.compute.store.insert(flow_log)
    captured = [
        CapturedInterface(
            "eni-a", accounts.source, ADDRESS, InterfaceContext(address=ADDRESS),
            (FLOW_LOG_ID,),
        )
    ]  # fmt: skip
    chain = CrossAccountChain(fire.identity, REGION, audit=fire.audit)
    streams = FlowLogStreams(lambda: fire.firehose, audit=fire.audit, cross_account=chain)
    delivery = FlowLogDelivery(ec2.compute, fire.objects, REGION, streams=streams)

    async def status() -> tuple[str, str]:
        (found,) = await ec2.compute.describe_flow_logs(accounts.source, [FLOW_LOG_ID])
        return found.deliver_status.value, found.deliver_error

    assert await delivery.deliver(captured, _records(), {}, WHEN) == []
    assert await status() == ("SUCCESS", "")
    # The stream's account's records: buffered, delivered into its bucket, metered there.
    assert fire.sink.total("IncomingRecords") == 3
    assert await fire.deliverer.run_pass(_later(61)) == 1
    listing = await fire.objects.list_objects("landing", prefix="flows/", max_keys=10)
    assert len(listing.objects) == 1
    assert await fire.usage("firehose.ingested") == 3 * 5 * 1024
    # The destination account sees its role assumed by the source role's session.
    assumed = [a for a in await _audited(fire) if a[1] == "sts:AssumeRole"]
    assert assumed == [
        (
            fire.tenant_id,
            "sts:AssumeRole",
            "success",
            f"arn:aws:sts::{accounts.source}:assumed-role/mySourceRole/vpc-flow-logs",
        )
    ]
    # Decision 0387: the stream was tagged LogDeliveryEnabled=true through the destination
    # role, as AWS enables its log delivery with it; the tagging audited in its account.
    assert await _tags(fire) == {"LogDeliveryEnabled": "true"}
    tagged = [a for a in await _audited(fire) if a[1] == "firehose:TagDeliveryStream"]
    assert tagged == [
        (
            fire.tenant_id,
            "firehose:TagDeliveryStream",
            "success",
            f"arn:aws:sts::{fire.tenant_id}:assumed-role/{DESTINATION_ROLE}/vpc-flow-logs",
        )
    ]
    # Tagged once: a later delivery finds the tag.
    assert await delivery.deliver(captured, _records(), {}, WHEN) == []
    assert len([a for a in await _audited(fire) if a[1] == "firehose:TagDeliveryStream"]) == 1

    # Without a chain in the wiring, another account's stream is never put into.
    bare = FlowLogStreams(lambda: fire.firehose, audit=fire.audit)
    assert await bare.deliver(flow_log, [b"x\n"]) == "Access error"
    assert fire.sink.total("IncomingRecords") == 6


async def _tags(fire: FirehoseWorld) -> dict[str, str]:
    listed = await fire.client("ListTagsForDeliveryStream", DeliveryStreamName="central")
    return {t["Key"]: t["Value"] for t in listed["Tags"]}


async def _refused(fire: FirehoseWorld, chain: CrossAccountChain, flow_log: FlowLog) -> None:
    """The flow log's delivery is refused: Access error, nothing put, the refusal audited in
    the flow log's account."""
    streams = FlowLogStreams(lambda: fire.firehose, audit=fire.audit, cross_account=chain)
    before = fire.sink.total("IncomingRecords")
    assert await streams.deliver(flow_log, [b"x\n"]) == "Access error"
    assert fire.sink.total("IncomingRecords") == before
    refused = [a for a in await _audited(fire) if a[1] == "firehose:PutRecordBatch"]
    assert refused[-1][0] == flow_log.tenant_id and refused[-1][2] == "failure"


async def test_each_link_of_the_chain_may_refuse(fire: FirehoseWorld) -> None:
    accounts = await _accounts(fire)
    flow_log = _flow_log(accounts)
    chain = CrossAccountChain(fire.identity, REGION, audit=fire.audit)
    streams = FlowLogStreams(lambda: fire.firehose, audit=fire.audit, cross_account=chain)
    assert await streams.deliver(flow_log, [b"x\n"]) is None
    source, destination = "mySourceRole", "AWSLogDeliveryFirehoseCrossAccountRole"

    # The destination role no longer allowed to enable log delivery on the stream.
    await fire.identity.put_role_policy(
        fire.tenant_id, destination, "tag", _policy(_allow("iam:CreateServiceLinkedRole", "*"))
    )
    await _refused(fire, chain, flow_log)
    assert (fire.tenant_id, "sts:AssumeRole", "failure") in [a[:3] for a in await _audited(fire)]
    await fire.identity.put_role_policy(
        fire.tenant_id, destination, "tag", _policy(_allow("firehose:TagDeliveryStream", "*"))
    )
    assert await streams.deliver(flow_log, [b"x\n"]) is None

    # The destination role trusting someone else: its account's consent withdrawn.
    elsewhere = f"arn:aws:iam::{accounts.source}:role/another"
    await fire.identity.update_assume_role_policy(
        fire.tenant_id, destination, _trust_role(elsewhere)
    )
    await _refused(fire, chain, flow_log)
    await fire.identity.update_assume_role_policy(
        fire.tenant_id, destination, _trust_role(accounts.source_role)
    )

    # The source role not allowed to assume the destination role.
    await fire.identity.put_role_policy(
        accounts.source, source, "chain", _policy(_allow("sts:AssumeRole", elsewhere))
    )
    await _refused(fire, chain, flow_log)
    await fire.identity.put_role_policy(
        accounts.source, source, "chain",
        _policy(_allow("sts:AssumeRole", accounts.destination_role)),
    )  # fmt: skip
    assert await streams.deliver(flow_log, [b"x\n"]) is None

    # The confused deputy: the source role trusts the service for another flow log only.
    narrow = f"arn:aws:ec2:{REGION}:{accounts.source}:vpc-flow-log/fl-0000000000000000f"
    await fire.identity.update_assume_role_policy(
        accounts.source, source, _trust_service(accounts.source, narrow)
    )
    await _refused(fire, chain, flow_log)

    # Roles that are gone, or not of the right accounts.
    gone = dataclasses.replace(
        flow_log,
        destination=dataclasses.replace(
            flow_log.destination,
            cross_account_role=f"arn:aws:iam::{fire.tenant_id}:role/gone",
        ),
    )
    await _refused(fire, chain, gone)
    misplaced = dataclasses.replace(
        flow_log,
        destination=dataclasses.replace(
            flow_log.destination, cross_account_role=accounts.source_role
        ),
    )
    await _refused(fire, chain, misplaced)


async def test_another_tenant_is_never_written_without_its_roles_consent(
    fire: FirehoseWorld,
) -> None:
    """A third account naming the stream and the destination role — which trusts only the
    source account's role — is refused, however its own role is made."""
    accounts = await _accounts(fire)
    intruder = (await fire.identity.create_tenant("intruder")).tenant.id
    made = await fire.identity.create_role(
        intruder,
        "mySourceRole",
        _trust_service(intruder, f"arn:aws:ec2:{REGION}:{intruder}:vpc-flow-log/*"),
    )
    await fire.identity.put_role_policy(
        intruder, "mySourceRole", "chain", _policy(_allow("sts:AssumeRole", "*"))
    )
    foreign = dataclasses.replace(
        _flow_log(accounts),
        tenant_id=intruder,
        destination=dataclasses.replace(_flow_log(accounts).destination, role_arn=made.arn),
    )
    chain = CrossAccountChain(fire.identity, REGION, audit=fire.audit)
    await _refused(fire, chain, foreign)
    # Nor through the source account's role, which is not the intruder's to name.
    borrowed = dataclasses.replace(_flow_log(accounts), tenant_id=intruder)
    await _refused(fire, chain, borrowed)
    # A refused chain never tags the stream either (decision 0387).
    assert "LogDeliveryEnabled" not in await _tags(fire)


async def test_serves_wiring_gives_the_chain(fire: FirehoseWorld, tmp_path: Path) -> None:
    """``serve``'s flow log destinations cross accounts through the chain, and only there."""
    accounts = await _accounts(fire)
    apis: dict[str, Any] = {FirehoseApp.name: fire.app}
    for logs in logs_world(tmp_path / "logs"):
        settings = Settings(data_dir=tmp_path / "data", region=REGION)
        made = flow_log_destinations(settings, fire.identity, logs.service, None, None, apis)
        assert await made.streams.deliver(_flow_log(accounts), [b"x\n"]) is None
        assert fire.sink.total("IncomingRecords") == 1
        await fire.identity.delete_role_policy(fire.tenant_id, DESTINATION_ROLE, "tag")
        assert await made.streams.deliver(_flow_log(accounts), [b"x\n"]) == "Access error"
        assert fire.sink.total("IncomingRecords") == 1
