"""VPC flow logs (decision 0153), through the EC2 app in process with botocore's own
serialisation: CreateFlowLogs for VPCs, subnets and interfaces (EC2's unsuccessful items for
what it cannot serve), DescribeFlowLogs (ids, filters, pages), DeleteFlowLogs, EC2's
refusals, the tenant quota, the client token, tenant isolation, and which interfaces the
hosts are told to capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.ec2app import REGION, ApiError, Client, World, ec2_world

BUCKET = "arn:aws:s3:::flow-bucket"


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


async def _vpc(client: Client) -> tuple[str, str]:
    vpc = (await client.call("CreateVpc", CidrBlock="10.40.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await client.call("CreateSubnet", VpcId=vpc, CidrBlock="10.40.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    return str(vpc), str(subnet)


async def _create(client: Client, resource_ids: list[str], **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ResourceType": "VPC",
        "ResourceIds": resource_ids,
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": BUCKET,
        **extra,
    }
    return await client.call("CreateFlowLogs", **params)


async def test_create_for_a_vpc_and_describe_it(world: World) -> None:
    c = world.root
    vpc, _ = await _vpc(c)
    made = await _create(
        c,
        [vpc],
        LogDestination=BUCKET + "/team/net/",
        MaxAggregationInterval=60,
        TagSpecifications=[
            {"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}
        ],
        DestinationOptions={"FileFormat": "plain-text", "PerHourPartition": True},
    )
    assert made.get("Unsuccessful", []) == []
    (flow_log_id,) = made["FlowLogIds"]
    assert flow_log_id.startswith("fl-")
    (described,) = (await c.call("DescribeFlowLogs", FlowLogIds=[flow_log_id]))["FlowLogs"]
    assert described["ResourceId"] == vpc
    assert described["TrafficType"] == "ALL"
    assert described["LogDestinationType"] == "s3"
    assert described["LogDestination"] == "arn:aws:s3:::flow-bucket/team/net"
    assert described["FlowLogStatus"] == "ACTIVE"
    assert described["DeliverLogsStatus"] == "SUCCESS"
    assert described["MaxAggregationInterval"] == 60
    assert described["LogFormat"] == (
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport}"
        " ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
    )
    assert described["DestinationOptions"] == {
        "FileFormat": "plain-text",
        "HiveCompatiblePartitions": False,
        "PerHourPartition": True,
    }
    assert described["Tags"] == [{"Key": "team", "Value": "net"}]
    assert described["CreationTime"].year >= 2026
    # Stored, and seen by the service as such.
    (stored,) = await world.compute.describe_flow_logs(world.tenant_id, [flow_log_id])
    assert stored.destination.prefix == "team/net/"
    # Parquet files (decision 0170), Hive-style folders.
    parquet = await _create(
        c,
        [vpc],
        TrafficType="REJECT",
        DestinationOptions={"FileFormat": "parquet", "HiveCompatiblePartitions": True},
    )
    (described,) = (await c.call("DescribeFlowLogs", FlowLogIds=parquet["FlowLogIds"]))["FlowLogs"]
    assert described["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": True,
        "PerHourPartition": False,
    }


async def test_subnets_interfaces_and_unsuccessful_items(world: World) -> None:
    c = world.root
    _, subnet = await _vpc(c)
    made = await _create(
        c,
        [subnet, "subnet-0123456789abcdef0", "vpc-0123456789abcdef0"],
        ResourceType="Subnet",
        TrafficType="REJECT",
        LogFormat="${version} ${interface-id} ${srcaddr} ${action} ${vpc-id} ${subnet-id}",
    )
    assert len(made["FlowLogIds"]) == 1
    refused = {u["ResourceId"]: u["Error"]["Code"] for u in made["Unsuccessful"]}
    assert refused == {
        "subnet-0123456789abcdef0": "InvalidSubnetID.NotFound",
        "vpc-0123456789abcdef0": "InvalidSubnetID.Malformed",
    }
    # The same traffic to the same destination again: EC2's FlowLogAlreadyExists item.
    again = await _create(c, [subnet], ResourceType="Subnet", TrafficType="REJECT")
    assert again["FlowLogIds"] == []
    assert again["Unsuccessful"][0]["Error"]["Code"] == "FlowLogAlreadyExists"
    # Another traffic type is another flow log.
    other = await _create(c, [subnet], ResourceType="Subnet", TrafficType="ACCEPT")
    assert len(other["FlowLogIds"]) == 1
    eni = await _create(c, ["eni-0123456789abcdef0"], ResourceType="NetworkInterface")
    assert eni["Unsuccessful"][0]["Error"]["Code"] == "InvalidNetworkInterfaceID.NotFound"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"TrafficType": "SOME"}, "InvalidParameterValue"),
        ({"ResourceType": "Instance"}, "InvalidParameterValue"),
        ({"LogDestinationType": "cloud-watch-logs"}, "InvalidParameterValue"),
        ({"LogDestination": "arn:aws:s3:::"}, "InvalidParameterValue"),
        ({"LogDestination": "flow-bucket"}, "InvalidParameterValue"),
        ({"LogDestination": BUCKET + "/AWSLogs"}, "InvalidParameterValue"),
        ({"MaxAggregationInterval": 300}, "InvalidParameterValue"),
        ({"DestinationOptions": {"FileFormat": "orc"}}, "InvalidParameterValue"),
        ({"LogFormat": "${version} ${nope}"}, "InvalidParameterValue"),
        ({"LogFormat": "${version}  ${srcaddr}"}, "InvalidParameterValue"),
        ({"LogFormat": "${version} ${version}"}, "InvalidParameterValue"),
        ({"LogFormat": "$" + "{srcaddr} " * 2000}, "InvalidParameterValue"),
        ({"LogGroupName": "my-group"}, "InvalidParameterValue"),
        ({"ResourceIds": []}, "MissingParameter"),
        (
            {"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "a"}]}]},
            "InvalidParameterValue",
        ),
    ],
)
async def test_refusals(world: World, extra: dict[str, Any], code: str) -> None:
    vpc, _ = await _vpc(world.root)
    assert await _code(_create(world.root, [vpc], **extra)) == code
    assert (await world.root.call("DescribeFlowLogs"))["FlowLogs"] == []


async def test_missing_destination(world: World) -> None:
    vpc, _ = await _vpc(world.root)
    call = world.root.call(
        "CreateFlowLogs", ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL"
    )
    assert await _code(call) == "MissingParameter"


async def test_filters_pages_and_delete(world: World) -> None:
    c = world.root
    vpc, subnet = await _vpc(c)
    accept = (await _create(c, [vpc], TrafficType="ACCEPT"))["FlowLogIds"][0]
    reject = (await _create(c, [subnet], ResourceType="Subnet", TrafficType="REJECT"))[
        "FlowLogIds"
    ][0]

    async def ids(**params: Any) -> list[str]:
        return [f["FlowLogId"] for f in (await c.call("DescribeFlowLogs", **params))["FlowLogs"]]

    assert await ids(Filter=[{"Name": "resource-id", "Values": [subnet]}]) == [reject]
    assert await ids(Filter=[{"Name": "traffic-type", "Values": ["ACCEPT"]}]) == [accept]
    assert sorted(await ids(Filter=[{"Name": "deliver-log-status", "Values": ["SUCCESS"]}])) == (
        sorted([accept, reject])
    )
    assert await ids(FlowLogIds=["fl-0123456789abcdef0"]) == []
    assert await ids(Filter=[{"Name": "log-group-name", "Values": ["*"]}]) == []
    first = await c.call("DescribeFlowLogs", MaxResults=1)
    assert len(first["FlowLogs"]) == 1
    rest = await c.call("DescribeFlowLogs", MaxResults=1, NextToken=first["NextToken"])
    assert {first["FlowLogs"][0]["FlowLogId"], rest["FlowLogs"][0]["FlowLogId"]} == {
        accept,
        reject,
    }
    deleted = await c.call("DeleteFlowLogs", FlowLogIds=[accept, "fl-0123456789abcdef0", "x"])
    refused = {u["ResourceId"]: u["Error"]["Code"] for u in deleted["Unsuccessful"]}
    assert refused == {
        "fl-0123456789abcdef0": "InvalidFlowLogId.NotFound",
        "x": "InvalidFlowLogId.NotFound",
    }
    assert await ids() == [reject]
    assert await _code(c.call("DeleteFlowLogs", FlowLogIds=[])) == "MissingParameter"


async def test_client_token_is_idempotent(world: World) -> None:
    vpc, _ = await _vpc(world.root)
    first = await _create(world.root, [vpc], ClientToken="tok-1")
    second = await _create(world.root, [vpc], ClientToken="tok-1")
    assert first["FlowLogIds"] == second["FlowLogIds"]
    assert second["ClientToken"] == "tok-1"
    assert len((await world.root.call("DescribeFlowLogs"))["FlowLogs"]) == 1
    other = _create(world.root, [vpc], ClientToken="tok-1", TrafficType="REJECT")
    assert await _code(other) == "IdempotentParameterMismatch"


async def test_tenants_are_isolated(world: World) -> None:
    vpc, _ = await _vpc(world.root)
    mine = (await _create(world.root, [vpc]))["FlowLogIds"][0]
    _, other = await world.tenant("globex")
    refused = await _create(other, [vpc])
    assert refused["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert (await other.call("DescribeFlowLogs"))["FlowLogs"] == []
    assert (await other.call("DescribeFlowLogs", FlowLogIds=[mine]))["FlowLogs"] == []
    deleted = await other.call("DeleteFlowLogs", FlowLogIds=[mine])
    assert deleted["Unsuccessful"][0]["Error"]["Code"] == "InvalidFlowLogId.NotFound"
    assert len((await world.root.call("DescribeFlowLogs"))["FlowLogs"]) == 1
    # Tagging another tenant's flow log is refused as not found too.
    tag = other.call("CreateTags", Resources=[mine], Tags=[{"Key": "k", "Value": "v"}])
    assert await _code(tag) == "InvalidFlowLogId.NotFound"


async def test_tags_on_flow_logs(world: World) -> None:
    vpc, _ = await _vpc(world.root)
    mine = (await _create(world.root, [vpc]))["FlowLogIds"][0]
    await world.root.call("CreateTags", Resources=[mine], Tags=[{"Key": "env", "Value": "prod"}])
    found = await world.root.call(
        "DescribeFlowLogs", Filter=[{"Name": "tag:env", "Values": ["prod"]}]
    )
    assert [f["FlowLogId"] for f in found["FlowLogs"]] == [mine]


async def test_quota(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_flow_logs_per_tenant=1) as world:
        vpc, subnet = await _vpc(world.root)
        await _create(world.root, [vpc])
        call = _create(world.root, [subnet], ResourceType="Subnet")
        assert await _code(call) == "FlowLogsLimitExceeded"


async def test_the_hosts_capture_only_covered_interfaces(world: World) -> None:
    c = world.root
    vpc, subnet = await _vpc(c)
    launched = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet,
    )  # fmt: skip
    instance = launched["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert await world.compute.captured_interfaces(await world.compute.active_flow_logs()) == []
    made = (await _create(c, [eni], ResourceType="NetworkInterface"))["FlowLogIds"][0]
    (captured,) = await world.compute.captured_interfaces(await world.compute.active_flow_logs())
    assert captured.interface_id == eni
    assert captured.flow_log_ids == (made,)
    assert captured.context.vpc_id == vpc
    assert captured.context.instance_id == instance["InstanceId"]
    assert captured.private_ip == instance["PrivateIpAddress"]
    await c.call("DeleteFlowLogs", FlowLogIds=[made])
    assert await world.compute.captured_interfaces(await world.compute.active_flow_logs()) == []
    assert REGION
