"""The default VPC's lifecycle on the EC2 wire, parsed by botocore (decision 0137): DeleteVpc of
it once it holds nothing (DependencyViolation before, as any VPC), then no default VPC —
RunInstances without a subnet and CreateSecurityGroup without a VPC answer VPCIdNotSpecified,
DescribeAccountAttributes says ``none``, nothing makes one again — until CreateDefaultVpc makes
a new one with EC2's shape (DefaultVpcAlreadyExists while there is one). The default subnet is
deleted like any subnet, and RunInstances without a subnet then answers MissingInput."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, Client, World


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


async def _run(world: World, client: Client | None = None, **params: Any) -> dict[str, Any]:
    reply = await (client or world.root).call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    instance: dict[str, Any] = reply["Instances"][0]
    return instance


async def _default_vpcs(client: Client) -> list[str]:
    answer = await client.call("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])
    return [v["VpcId"] for v in answer["Vpcs"]]


async def _default_vpc_attribute(client: Client) -> str:
    answer = await client.call("DescribeAccountAttributes", AttributeNames=["default-vpc"])
    [attribute] = answer["AccountAttributes"]
    value: str = attribute["AttributeValues"][0]["AttributeValue"]
    return value


def _of(vpc_id: str) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}]


async def _gateway_of(client: Client, vpc_id: str) -> str:
    answer = await client.call(
        "DescribeInternetGateways", Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )
    [gateway] = answer["InternetGateways"]
    gateway_id: str = gateway["InternetGatewayId"]
    return gateway_id


async def _delete_default_vpc(client: Client, vpc_id: str) -> None:
    """What ``aws_default_vpc`` with ``force_destroy`` and its default subnets' resources do:
    the subnets, the internet gateway detached and deleted, then the VPC."""
    for subnet in (await client.call("DescribeSubnets", Filters=_of(vpc_id)))["Subnets"]:
        await client.call("DeleteSubnet", SubnetId=subnet["SubnetId"])
    gateway_id = await _gateway_of(client, vpc_id)
    await client.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    await client.call("DeleteInternetGateway", InternetGatewayId=gateway_id)
    await client.call("DeleteVpc", VpcId=vpc_id)


async def test_the_default_vpc_is_deleted_once_it_holds_nothing_and_stays_deleted(
    world: World,
) -> None:
    ids = default_ids(world.tenant_id)
    root = world.root
    group_id = (
        await root.call("CreateSecurityGroup", GroupName="web", Description="w", VpcId=ids.vpc_id)
    )["GroupId"]
    # As any VPC: refused while it holds a subnet, an internet gateway, a group of its own.
    await _refused(root, "DeleteVpc", "DependencyViolation", VpcId=ids.vpc_id)
    await root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    await _refused(root, "DeleteVpc", "DependencyViolation", VpcId=ids.vpc_id)
    gateway_id = await _gateway_of(root, ids.vpc_id)
    await root.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=ids.vpc_id)
    await root.call("DeleteInternetGateway", InternetGatewayId=gateway_id)
    await _refused(root, "DeleteVpc", "DependencyViolation", VpcId=ids.vpc_id)
    await root.call("DeleteSecurityGroup", GroupId=group_id)
    await root.call("DeleteVpc", VpcId=ids.vpc_id)

    # No default VPC, and nothing makes one again: every read below is a first need.
    assert await _default_vpcs(root) == []
    assert (await root.call("DescribeVpcs"))["Vpcs"] == []
    assert (await root.call("DescribeSubnets"))["Subnets"] == []
    assert (await root.call("DescribeSecurityGroups"))["SecurityGroups"] == []
    await _refused(root, "DescribeVpcs", "InvalidVpcID.NotFound", VpcIds=[ids.vpc_id])
    assert await _default_vpc_attribute(root) == "none"
    message = await _refused(
        root,
        "RunInstances",
        "VPCIdNotSpecified",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
    )
    assert "No default VPC for this user" in message
    await _refused(
        root,
        "RunInstances",
        "VPCIdNotSpecified",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        SecurityGroups=["default"],
    )
    await _refused(root, "CreateSecurityGroup", "VPCIdNotSpecified", GroupName="a", Description="a")
    # A name designates a default VPC's group: there is none.
    await _refused(root, "DescribeSecurityGroups", "InvalidGroup.NotFound", GroupNames=["default"])
    await _refused(root, "DeleteVpc", "InvalidVpcID.NotFound", VpcId=ids.vpc_id)
    assert (await root.call("DescribeInstances"))["Reservations"] == []

    # A VPC of its own works as before, and is no default one.
    vpc_id = (await root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet_id = (await root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    await root.call("CreateSecurityGroup", GroupName="a", Description="a", VpcId=vpc_id)
    instance = await _run(world, SubnetId=subnet_id)
    assert (instance["VpcId"], instance["SubnetId"]) == (vpc_id, subnet_id)
    assert await _default_vpcs(root) == []
    assert await _default_vpc_attribute(root) == "none"


async def test_without_its_default_subnet_the_default_vpc_launches_nothing_unnamed(
    world: World,
) -> None:
    ids = default_ids(world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    # Not made again on first need.
    assert (await world.root.call("DescribeSubnets"))["Subnets"] == []
    message = await _refused(
        world.root,
        "RunInstances",
        "MissingInput",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
    )
    assert f"No subnets found for the default VPC '{ids.vpc_id}'" in message
    # The default VPC itself stays, and its groups are named as before.
    assert await _default_vpcs(world.root) == [ids.vpc_id]
    assert await _default_vpc_attribute(world.root) == ids.vpc_id
    await world.root.call("CreateSecurityGroup", GroupName="a", Description="a")


async def test_create_default_vpc_makes_one_as_ec2_does_once_the_old_one_is_gone(
    world: World,
) -> None:
    root = world.root
    ids = default_ids(world.tenant_id)
    # Every tenant has one, looked at or not.
    await _refused(root, "CreateDefaultVpc", "DefaultVpcAlreadyExists")
    _, newcomer = await world.tenant("newcomer")
    message = await _refused(newcomer, "CreateDefaultVpc", "DefaultVpcAlreadyExists")
    assert "A Default VPC already exists for this account in this region." in message

    await _delete_default_vpc(root, ids.vpc_id)
    vpc = (await root.call("CreateDefaultVpc"))["Vpc"]
    vpc_id = vpc["VpcId"]
    assert vpc_id.startswith("vpc-") and vpc_id != ids.vpc_id  # a new VPC, as EC2's
    assert (vpc["CidrBlock"], vpc["IsDefault"], vpc["State"]) == (
        "172.31.0.0/16",
        True,
        "available",
    )
    assert vpc["OwnerId"] == world.tenant_id
    assert await _default_vpcs(root) == [vpc_id]
    assert await _default_vpc_attribute(root) == vpc_id
    # A default subnet in the zone, giving public addresses.
    [subnet] = (await root.call("DescribeSubnets", Filters=_of(vpc_id)))["Subnets"]
    assert (subnet["CidrBlock"], subnet["DefaultForAz"], subnet["MapPublicIpOnLaunch"]) == (
        "172.31.0.0/20",
        True,
        True,
    )
    assert subnet["AvailabilityZone"] == world.compute.limits.availability_zone
    assert subnet["SubnetId"] != ids.subnet_id
    # An internet gateway attached, the main table routing to it.
    gateway_id = await _gateway_of(root, vpc_id)
    [table] = (await root.call("DescribeRouteTables", Filters=_of(vpc_id)))["RouteTables"]
    assert [a["Main"] for a in table["Associations"]] == [True]
    assert {(r["DestinationCidrBlock"], r["GatewayId"]) for r in table["Routes"]} == {
        ("172.31.0.0/16", "local"),
        ("0.0.0.0/0", gateway_id),
    }
    # Its default group and its default network ACL over the subnet.
    [group] = (await root.call("DescribeSecurityGroups", Filters=_of(vpc_id)))["SecurityGroups"]
    assert group["GroupName"] == "default" and group["GroupId"] != ids.group_id
    [acl] = (await root.call("DescribeNetworkAcls", Filters=_of(vpc_id)))["NetworkAcls"]
    assert acl["IsDefault"]
    assert [a["SubnetId"] for a in acl["Associations"]] == [subnet["SubnetId"]]
    # What falls back on the default VPC finds the new one.
    instance = await _run(world)
    assert (instance["VpcId"], instance["SubnetId"]) == (vpc_id, subnet["SubnetId"])
    assert instance["SecurityGroups"] == [{"GroupId": group["GroupId"], "GroupName": "default"}]
    made = await root.call("CreateSecurityGroup", GroupName="web", Description="w")
    [web] = (await root.call("DescribeSecurityGroups", GroupIds=[made["GroupId"]]))[
        "SecurityGroups"
    ]
    assert web["VpcId"] == vpc_id
    await _refused(root, "CreateDefaultVpc", "DefaultVpcAlreadyExists")
    assert await _default_vpcs(root) == [vpc_id]


async def test_a_default_vpc_made_again_is_deleted_and_made_again_likewise(world: World) -> None:
    await _delete_default_vpc(world.root, default_ids(world.tenant_id).vpc_id)
    first = (await world.root.call("CreateDefaultVpc"))["Vpc"]["VpcId"]
    await _delete_default_vpc(world.root, first)
    assert await _default_vpcs(world.root) == []
    assert await _default_vpc_attribute(world.root) == "none"
    second = (await world.root.call("CreateDefaultVpc"))["Vpc"]["VpcId"]
    assert second != first
    assert await _default_vpcs(world.root) == [second]


async def test_create_default_vpc_counts_towards_the_vpc_quota(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _delete_default_vpc(world.root, default_ids(world.tenant_id).vpc_id)
    monkeypatch.setattr(world.compute, "limits", replace(world.compute.limits, max_vpcs=1))
    own = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    await _refused(world.root, "CreateDefaultVpc", "VpcLimitExceeded")
    assert await _default_vpcs(world.root) == []
    await world.root.call("DeleteVpc", VpcId=own)
    await world.root.call("CreateDefaultVpc")
    assert len(await _default_vpcs(world.root)) == 1


async def test_a_tenant_deleting_its_default_vpc_leaves_anothers_alone(world: World) -> None:
    other_id, other = await world.tenant("other")
    theirs = default_ids(other_id)
    assert await _default_vpcs(other) == [theirs.vpc_id]
    await _delete_default_vpc(world.root, default_ids(world.tenant_id).vpc_id)
    assert await _default_vpcs(world.root) == []
    # The other tenant keeps its default VPC and launches into it.
    assert await _default_vpcs(other) == [theirs.vpc_id]
    assert await _default_vpc_attribute(other) == theirs.vpc_id
    instance = await _run(world, other)
    assert instance["SubnetId"] == theirs.subnet_id
    await _refused(other, "CreateDefaultVpc", "DefaultVpcAlreadyExists")
    # Its CreateDefaultVpc refused, the first tenant's stays without one.
    assert await _default_vpcs(world.root) == []
    # The first tenant's new default VPC is its own; the other's is untouched.
    mine = (await world.root.call("CreateDefaultVpc"))["Vpc"]["VpcId"]
    assert await _default_vpcs(other) == [theirs.vpc_id]
    await _refused(other, "DeleteVpc", "InvalidVpcID.NotFound", VpcId=mine)
    assert await _default_vpcs(world.root) == [mine]
