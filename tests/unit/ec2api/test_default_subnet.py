"""CreateDefaultSubnet on the EC2 wire, parsed by botocore (decision 0137, its 2026-12-05
amendment): once a tenant deleted its default subnet, a new one in the zone — the lowest free
``/20`` of the default VPC, default for the zone, giving public addresses, associated with the
default network ACL — and RunInstances without a subnet launches into it again. Each of EC2's
refusals: no default VPC, a default subnet in the zone already, a zone of another region, no
``/20`` left, the VPC's subnet quota."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from andromede.compute.network import DefaultVpcState, default_ids
from support.ec2app import REGION, ApiError, Client, World


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


def _of(vpc_id: str) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}]


def _zone(world: World) -> str:
    return world.compute.limits.availability_zone


async def _launch_unnamed(world: World) -> dict[str, Any]:
    """RunInstances without a subnet: the default subnet's."""
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1,
    )  # fmt: skip
    await world.compute.settle()
    instance: dict[str, Any] = reply["Instances"][0]
    return instance


async def _create_default_subnet(world: World) -> dict[str, Any]:
    answer = await world.root.call("CreateDefaultSubnet", AvailabilityZone=_zone(world))
    subnet: dict[str, Any] = answer["Subnet"]
    return subnet


async def test_a_deleted_default_subnet_is_made_again_and_launched_into(world: World) -> None:
    ids = default_ids(world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    await _refused(
        world.root, "RunInstances", "MissingInput", ImageId=world.image.image_id,
        InstanceType="t3.nano", MinCount=1, MaxCount=1,
    )  # fmt: skip

    subnet = await _create_default_subnet(world)
    # EC2's answer: a ``subnet`` element, as its sample response shows it.
    body = world.root.last_body.decode()
    assert "<CreateDefaultSubnetResponse" in body and "<subnet>" in body
    assert "<defaultForAz>true</defaultForAz>" in body
    assert "<mapPublicIpOnLaunch>true</mapPublicIpOnLaunch>" in body
    assert "<cidrBlock>172.31.0.0/20</cidrBlock>" in body
    assert subnet["SubnetId"].startswith("subnet-") and subnet["SubnetId"] != ids.subnet_id
    assert (subnet["VpcId"], subnet["AvailabilityZone"], subnet["State"]) == (
        ids.vpc_id,
        _zone(world),
        "available",
    )
    assert (subnet["DefaultForAz"], subnet["MapPublicIpOnLaunch"]) == (True, True)
    assert subnet["AvailableIpAddressCount"] == 4091
    assert subnet["OwnerId"] == world.tenant_id
    [described] = (await world.root.call("DescribeSubnets"))["Subnets"]
    assert described["SubnetId"] == subnet["SubnetId"] and described["DefaultForAz"]
    # Associated with the default network ACL; routed by the main table, as a default
    # subnet is (no association of its own).
    [acl] = (await world.root.call("DescribeNetworkAcls", Filters=_of(ids.vpc_id)))["NetworkAcls"]
    assert acl["IsDefault"]
    assert [a["SubnetId"] for a in acl["Associations"]] == [subnet["SubnetId"]]
    [table] = (await world.root.call("DescribeRouteTables", Filters=_of(ids.vpc_id)))["RouteTables"]
    assert [(a["Main"], a.get("SubnetId")) for a in table["Associations"]] == [(True, None)]

    # RunInstances without a subnet works again, in the new default subnet.
    instance = await _launch_unnamed(world)
    assert (instance["VpcId"], instance["SubnetId"]) == (ids.vpc_id, subnet["SubnetId"])
    assert instance["PrivateIpAddress"].startswith("172.31.")
    # One default subnet per zone.
    message = await _refused(
        world.root, "CreateDefaultSubnet", "DefaultSubnetAlreadyExistsInAvailabilityZone",
        AvailabilityZone=_zone(world),
    )  # fmt: skip
    assert subnet["SubnetId"] in message


async def test_a_default_vpc_predating_its_record_gets_its_default_subnet_again(
    world: World,
) -> None:
    """A tenant whose default VPC was made before decision 0137 has no record naming its
    default subnet: CreateDefaultSubnet writes one, else its derived subnet id would still
    stand for the default subnet, gone."""
    ids = default_ids(world.tenant_id)
    await world.root.call("DescribeVpcs")  # made on first need, with its record
    await world.compute.store.delete(DefaultVpcState, world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    subnet = await _create_default_subnet(world)
    instance = await _launch_unnamed(world)
    assert instance["SubnetId"] == subnet["SubnetId"]
    assert await world.compute.store.get(DefaultVpcState, world.tenant_id) == DefaultVpcState(
        world.tenant_id, ids.vpc_id, subnet["SubnetId"], ids.group_id
    )


async def test_the_zone_may_be_named_by_its_id(world: World) -> None:
    await world.root.call("DeleteSubnet", SubnetId=default_ids(world.tenant_id).subnet_id)
    zone_id = f"{REGION}-az1"
    subnet = (await world.root.call("CreateDefaultSubnet", AvailabilityZoneId=zone_id))["Subnet"]
    assert (subnet["AvailabilityZone"], subnet["DefaultForAz"]) == (_zone(world), True)


async def test_the_default_subnet_takes_the_lowest_free_block_of_twenty_bits(
    world: World,
) -> None:
    ids = default_ids(world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    # Subnets of the tenant's own in the default VPC overlap 172.31.0.0/20 and 172.31.16.0/20.
    for cidr in ("172.31.0.0/24", "172.31.20.0/24"):
        await world.root.call("CreateSubnet", VpcId=ids.vpc_id, CidrBlock=cidr)
    assert (await _create_default_subnet(world))["CidrBlock"] == "172.31.32.0/20"


async def test_no_default_subnet_without_a_default_vpc(world: World) -> None:
    ids = default_ids(world.tenant_id)
    root = world.root
    await root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    [gateway] = (
        await root.call(
            "DescribeInternetGateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [ids.vpc_id]}],
        )
    )["InternetGateways"]
    await root.call(
        "DetachInternetGateway", InternetGatewayId=gateway["InternetGatewayId"], VpcId=ids.vpc_id
    )
    await root.call("DeleteInternetGateway", InternetGatewayId=gateway["InternetGatewayId"])
    await root.call("DeleteVpc", VpcId=ids.vpc_id)
    message = await _refused(
        root, "CreateDefaultSubnet", "DefaultVpcDoesNotExist", AvailabilityZone=_zone(world)
    )
    assert "There is no default VPC" in message
    assert (await root.call("DescribeSubnets"))["Subnets"] == []
    # CreateDefaultVpc comes with its default subnet: none to make.
    vpc_id = (await root.call("CreateDefaultVpc"))["Vpc"]["VpcId"]
    await _refused(
        root, "CreateDefaultSubnet", "DefaultSubnetAlreadyExistsInAvailabilityZone",
        AvailabilityZone=_zone(world),
    )  # fmt: skip
    assert len((await root.call("DescribeSubnets", Filters=_of(vpc_id)))["Subnets"]) == 1


async def test_a_tenants_default_subnet_is_not_made_twice(world: World) -> None:
    """Every tenant has its default subnet, looked at or not."""
    message = await _refused(
        world.root, "CreateDefaultSubnet", "DefaultSubnetAlreadyExistsInAvailabilityZone",
        AvailabilityZone=_zone(world),
    )  # fmt: skip
    assert "only one default subnet per Availability Zone" in message
    assert len((await world.root.call("DescribeSubnets"))["Subnets"]) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        # A zone of another region, or of this one that subnets cannot go in.
        ({"AvailabilityZone": "us-east-1a"}, "InvalidParameterValue"),
        ({"AvailabilityZone": "eu-fr-1z"}, "InvalidParameterValue"),
        ({"AvailabilityZoneId": "use1-az1"}, "InvalidParameterValue"),
        ({}, "MissingParameter"),
        ({"AvailabilityZone": "eu-fr-1a", "Ipv6Native": True}, "UnsupportedOperation"),
    ],
)
async def test_a_zone_it_cannot_go_in_is_refused(
    world: World, params: dict[str, Any], code: str
) -> None:
    await world.root.call("DeleteSubnet", SubnetId=default_ids(world.tenant_id).subnet_id)
    message = await _refused(world.root, "CreateDefaultSubnet", code, **params)
    if "AvailabilityZone" in params and code == "InvalidParameterValue":
        assert f"following availability zones: {_zone(world)}" in message
    assert (await world.root.call("DescribeSubnets"))["Subnets"] == []


async def test_no_free_block_of_twenty_bits_is_refused(world: World) -> None:
    ids = default_ids(world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    own = await world.root.call("CreateSubnet", VpcId=ids.vpc_id, CidrBlock="172.31.0.0/16")
    message = await _refused(
        world.root, "CreateDefaultSubnet", "InvalidSubnet.Conflict", AvailabilityZone=_zone(world)
    )
    assert "No /20 block of 172.31.0.0/16 is free" in message
    assert [s["SubnetId"] for s in (await world.root.call("DescribeSubnets"))["Subnets"]] == [
        own["Subnet"]["SubnetId"]
    ]


async def test_the_default_subnet_counts_towards_the_vpcs_subnet_quota(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = default_ids(world.tenant_id)
    await world.root.call("DeleteSubnet", SubnetId=ids.subnet_id)
    limits = replace(world.compute.limits, max_subnets_per_vpc=1)
    monkeypatch.setattr(world.compute, "limits", limits)
    own = await world.root.call("CreateSubnet", VpcId=ids.vpc_id, CidrBlock="172.31.128.0/24")
    await _refused(
        world.root, "CreateDefaultSubnet", "SubnetLimitExceeded", AvailabilityZone=_zone(world)
    )
    await world.root.call("DeleteSubnet", SubnetId=own["Subnet"]["SubnetId"])
    assert (await _create_default_subnet(world))["CidrBlock"] == "172.31.0.0/20"
