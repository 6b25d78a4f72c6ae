"""Public addresses at launch (decision 0106), on the EC2 wire through botocore: a subnet's
MapPublicIpOnLaunch decides whether the host maps an instance a public address, RunInstances'
``NetworkInterface.1.AssociatePublicIpAddress`` overrides it either way, and an instance without
one shows no PublicIpAddress yet keeps its metadata service; the interface's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.network import default_ids
from andromede.imds.directory import ComputeInstanceDirectory
from support.ec2app import REGION, ApiError, World


async def _vpc_subnet(world: World, cidr: str = "10.9.1.0/24") -> tuple[str, str]:
    vpc_id = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    answer = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr)
    return vpc_id, answer["Subnet"]["SubnetId"]


async def _run(world: World, **params: Any) -> dict[str, Any]:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    return await _described(world, reply["Instances"][0]["InstanceId"])


async def _described(world: World, instance_id: str) -> dict[str, Any]:
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


def _interface(**fields: Any) -> list[dict[str, Any]]:
    return [{"DeviceIndex": 0, **fields}]


async def test_a_subnet_that_maps_no_public_address_gives_none(world: World) -> None:
    vpc_id, subnet_id = await _vpc_subnet(world)
    instance = await _run(world, SubnetId=subnet_id)
    assert instance["State"]["Name"] == "running"
    assert "PublicIpAddress" not in instance
    [eni] = instance["NetworkInterfaces"]
    assert "Association" not in eni
    # The host was asked for no public address, and for the subnet as part of its VPC.
    wired = world.driver.instances[instance["InstanceId"]]
    nic = wired.spec.nic
    assert nic is not None and nic.public_address is False
    assert (nic.network.vpc_id, nic.network.vpc_cidr) == (vpc_id, "10.9.0.0/16")
    assert wired.network.public_ip is None and wired.network.host_facing_ip is not None
    # No SSH forward is asked of a host in user mode either.
    assert wired.spec.forwards == ()
    filtered = await world.root.call(
        "DescribeInstances",
        Filters=[{"Name": "ip-address", "Values": [wired.network.host_facing_ip]}],
    )
    assert filtered["Reservations"] == []
    # The metadata service still knows it by its host-facing address, and says it has no
    # public one.
    directory = ComputeInstanceDirectory(world.compute.store, world.driver, REGION)
    found = await directory.by_address(wired.network.host_facing_ip)
    assert found is not None and found.instance_id == instance["InstanceId"]
    assert found.public_ip is None
    # Stopped and started: still none.
    await world.root.call("StopInstances", InstanceIds=[instance["InstanceId"]])
    await world.compute.settle()
    await world.root.call("StartInstances", InstanceIds=[instance["InstanceId"]])
    await world.compute.settle()
    again = await _described(world, instance["InstanceId"])
    assert again["State"]["Name"] == "running" and "PublicIpAddress" not in again


async def test_the_default_subnet_and_a_mapping_subnet_give_one(world: World) -> None:
    by_default = await _run(world)
    assert by_default["SubnetId"] == default_ids(world.tenant_id).subnet_id
    assert by_default["PublicIpAddress"].startswith("100.65.")
    _, subnet_id = await _vpc_subnet(world)
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
    )
    mapped = await _run(world, SubnetId=subnet_id)
    assert mapped["PublicIpAddress"].startswith("100.65.")
    assert mapped["NetworkInterfaces"][0]["Association"]["PublicIp"] == mapped["PublicIpAddress"]
    directory = ComputeInstanceDirectory(world.compute.store, world.driver, REGION)
    found = await directory.by_address(mapped["PublicIpAddress"])
    assert found is not None and found.public_ip == mapped["PublicIpAddress"]


async def test_associate_public_ip_address_overrides_the_subnet_either_way(world: World) -> None:
    vpc_id, subnet_id = await _vpc_subnet(world)
    [default_group] = (
        await world.root.call(
            "DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
    )["SecurityGroups"]
    web = await world.root.call(
        "CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc_id
    )
    # True on a subnet that maps none: one, and the interface's subnet and groups are taken.
    given = await _run(
        world,
        NetworkInterfaces=_interface(
            SubnetId=subnet_id, AssociatePublicIpAddress=True, Groups=[web["GroupId"]],
            DeleteOnTermination=True,
        ),
    )  # fmt: skip
    assert given["PublicIpAddress"].startswith("100.65.")
    assert given["SubnetId"] == subnet_id and given["PrivateIpAddress"] == "10.9.1.4"
    assert [g["GroupId"] for g in given["SecurityGroups"]] == [web["GroupId"]]
    # Without groups, the VPC's default one, as with SubnetId.
    plain = await _run(world, NetworkInterfaces=_interface(SubnetId=subnet_id))
    assert "PublicIpAddress" not in plain  # not asked: the subnet decides
    assert [g["GroupId"] for g in plain["SecurityGroups"]] == [default_group["GroupId"]]
    # False on subnets that map one: none.
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
    )
    refused = await _run(
        world, NetworkInterfaces=_interface(SubnetId=subnet_id, AssociatePublicIpAddress=False)
    )
    assert "PublicIpAddress" not in refused
    no_subnet = await _run(world, NetworkInterfaces=_interface(AssociatePublicIpAddress=False))
    assert no_subnet["SubnetId"] == default_ids(world.tenant_id).subnet_id
    assert "PublicIpAddress" not in no_subnet


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"SubnetId": "SUBNET", "NetworkInterfaces": _interface()}, "InvalidParameterCombination"),
        (
            {"SecurityGroupIds": ["sg-0123456789abcdef0"], "NetworkInterfaces": _interface()},
            "InvalidParameterCombination",
        ),
        # A further interface (decision 0161) gets no public address.
        (
            {
                "NetworkInterfaces": [
                    *_interface(),
                    {"DeviceIndex": 1, "AssociatePublicIpAddress": True},
                ]
            },
            "UnsupportedOperation",
        ),
        (
            {"NetworkInterfaces": [*_interface(), {"DeviceIndex": 1}, {"DeviceIndex": 1}]},
            "InvalidParameterValue",
        ),
        ({"NetworkInterfaces": [{"DeviceIndex": 1}]}, "InvalidParameterValue"),
        ({"NetworkInterfaces": [{"AssociatePublicIpAddress": True}]}, "MissingParameter"),
        # An existing interface as the primary (decision 0161's addendum): one of the caller's.
        (
            {"NetworkInterfaces": _interface(NetworkInterfaceId="eni-0123456789abcdef0")},
            "InvalidNetworkInterfaceID.NotFound",
        ),
        (
            {"NetworkInterfaces": _interface(DeleteOnTermination=False)},
            "UnsupportedOperation",
        ),
        ({"NetworkInterfaces": _interface(Description="x")}, "UnsupportedOperation"),
    ],
)
async def test_network_interface_refusals(world: World, params: dict[str, Any], code: str) -> None:
    _, subnet_id = await _vpc_subnet(world)
    if params.get("SubnetId") == "SUBNET":
        params = {**params, "SubnetId": subnet_id}
    with pytest.raises(ApiError) as raised:
        await world.root.call(
            "RunInstances", ImageId=world.image.image_id, MinCount=1, MaxCount=1, **params
        )
    assert raised.value.code == code, raised.value
    assert not (await world.root.call("DescribeInstances"))["Reservations"]


async def test_another_tenants_subnet_in_an_interface_is_not_found(world: World) -> None:
    _, subnet_id = await _vpc_subnet(world)
    _, other = await world.tenant("other")
    with pytest.raises(ApiError) as raised:
        await other.call(
            "RunInstances", ImageId=world.image.image_id, MinCount=1, MaxCount=1,
            NetworkInterfaces=_interface(SubnetId=subnet_id, AssociatePublicIpAddress=True),
        )  # fmt: skip
    assert raised.value.code == "InvalidSubnetID.NotFound"
