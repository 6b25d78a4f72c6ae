"""VPCs and subnets of a tenant's own on the EC2 wire, parsed by botocore (decision 0100):
CreateVpc / DeleteVpc / CreateSubnet / DeleteSubnet, their refusals with EC2's codes, their
quotas, the VPC's own default security group, RunInstances into a subnet (its address, its
VPC's groups only) and another tenant's VPCs and subnets out of reach."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.credentials import Credentials
from pydantic import ValidationError

from andromede.compute.network import default_ids
from andromede.compute_adapters import compute_limits
from andromede.settings import Settings
from support.ec2app import ApiError, Client, World


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    assert raised.value.status == 400 or code == "UnauthorizedOperation"
    return str(raised.value)


async def _vpc(world: World, cidr: str = "10.9.0.0/16", **params: Any) -> dict[str, Any]:
    vpc: dict[str, Any] = (await world.root.call("CreateVpc", CidrBlock=cidr, **params))["Vpc"]
    return vpc


async def _subnet(world: World, vpc_id: str, cidr: str, **params: Any) -> dict[str, Any]:
    answer = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr, **params)
    subnet: dict[str, Any] = answer["Subnet"]
    return subnet


async def _run(world: World, **params: Any) -> dict[str, Any]:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    instance_id = reply["Instances"][0]["InstanceId"]
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


async def _groups_of(world: World, vpc_id: str) -> list[dict[str, Any]]:
    answer = await world.root.call(
        "DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    groups: list[dict[str, Any]] = answer["SecurityGroups"]
    return groups


# -- CreateVpc / DescribeVpcs ----------------------------------------------------------------


async def test_a_vpc_is_made_with_its_default_group_and_described(world: World) -> None:
    tags = [{"Key": "Name", "Value": "lab"}]
    vpc = await _vpc(
        world,
        "10.9.3.7/16",  # EC2 answers the canonical block
        InstanceTenancy="default",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
    )
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    assert (vpc["CidrBlock"], vpc["IsDefault"], vpc["State"]) == ("10.9.0.0/16", False, "available")
    assert vpc["OwnerId"] == world.tenant_id
    assert vpc["Tags"] == tags
    described = (await world.root.call("DescribeVpcs"))["Vpcs"]
    assert {v["VpcId"]: v["IsDefault"] for v in described} == {
        default_ids(world.tenant_id).vpc_id: True,
        vpc["VpcId"]: False,
    }
    [mine] = (await world.root.call("DescribeVpcs", VpcIds=[vpc["VpcId"]]))["Vpcs"]
    assert mine == vpc
    filtered = await world.root.call(
        "DescribeVpcs", Filters=[{"Name": "tag:Name", "Values": ["lab"]}]
    )
    assert [v["VpcId"] for v in filtered["Vpcs"]] == [vpc["VpcId"]]
    # Its own default group: every member reaches every other one, all egress.
    [group] = await _groups_of(world, vpc["VpcId"])
    assert (group["GroupName"], group["Description"]) == ("default", "default VPC security group")
    [rule] = group["IpPermissions"]
    assert rule["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    # The default VPC's group is another one.
    assert group["GroupId"] != default_ids(world.tenant_id).group_id


@pytest.mark.parametrize(
    ("cidr", "code"),
    [
        ("10.0.0.0/15", "InvalidVpc.Range"),
        ("10.0.0.0/29", "InvalidVpc.Range"),
        ("169.254.0.0/16", "InvalidVpc.Range"),  # link-local: the metadata address
        ("127.0.0.0/16", "InvalidVpc.Range"),
        ("100.64.0.0/16", "InvalidVpc.Range"),  # the hosts' transit range (a setting)
        ("100.65.128.0/20", "InvalidVpc.Range"),  # the hosts' public range (a setting)
        ("10.0.0.0/33", "InvalidParameterValue"),
        ("not-a-cidr", "InvalidParameterValue"),
        ("fd00::/48", "InvalidParameterValue"),
    ],
)
async def test_a_vpc_block_ec2_refuses_is_refused(world: World, cidr: str, code: str) -> None:
    message = await _refused(world.root, "CreateVpc", code, CidrBlock=cidr)
    assert cidr in message
    assert len((await world.root.call("DescribeVpcs"))["Vpcs"]) == 1


async def test_what_a_vpc_could_ask_and_is_not_done_is_refused(world: World) -> None:
    await _refused(world.root, "CreateVpc", "MissingParameter")
    for extra in (
        # An Amazon-provided IPv6 block is given since decision 0217; a BYOIP pool's is not.
        {"Ipv6Pool": "ipv6pool-ec2-0123456789abcdef0"},
        {"InstanceTenancy": "dedicated"},
        {"Ipv4IpamPoolId": "ipam-pool-0123456789abcdef0"},
    ):
        await _refused(
            world.root, "CreateVpc", "UnsupportedOperation", CidrBlock="10.1.0.0/16", **extra
        )
    await _refused(
        world.root,
        "CreateVpc",
        "InvalidParameterValue",
        CidrBlock="10.1.0.0/16",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
    )
    await _refused(
        world.root,
        "CreateVpc",
        "InvalidParameterValue",
        CidrBlock="10.1.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "aws:x", "Value": "b"}]}],
    )
    assert len((await world.root.call("DescribeVpcs"))["Vpcs"]) == 1


async def test_the_vpc_quota_counts_the_default_vpc(world: World) -> None:
    assert world.compute.limits.max_vpcs == 5  # EC2's default quota, the setting's default
    for n in range(4):
        await _vpc(world, f"10.{n}.0.0/16")
    await _refused(world.root, "CreateVpc", "VpcLimitExceeded", CidrBlock="10.8.0.0/16")
    assert len((await world.root.call("DescribeVpcs"))["Vpcs"]) == 5
    # Another tenant has its own quota.
    _, other = await world.tenant("other")
    await other.call("CreateVpc", CidrBlock="10.8.0.0/16")


async def test_the_vpc_quota_is_the_setting(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.compute, "limits", replace(world.compute.limits, max_vpcs=2))
    vpc = await _vpc(world)
    await _refused(world.root, "CreateVpc", "VpcLimitExceeded", CidrBlock="10.8.0.0/16")
    await world.root.call("DeleteVpc", VpcId=vpc["VpcId"])
    await _vpc(world, "10.8.0.0/16")


def test_the_quotas_come_from_their_settings_within_bounds() -> None:
    limits = compute_limits(Settings(max_vpcs_per_tenant=2, max_subnets_per_vpc=3))
    assert (limits.max_vpcs, limits.max_subnets_per_vpc) == (2, 3)
    # The hosts' ranges are what no VPC may take.
    assert limits.reserved_cidrs == ("100.64.0.0/16", "100.65.0.0/16", "100.66.0.0/24")
    for name in ("max_vpcs_per_tenant", "max_subnets_per_vpc"):
        for value in (0, 10001):
            with pytest.raises(ValidationError):
                Settings(**{name: value})  # type: ignore[arg-type]


# -- DeleteVpc -------------------------------------------------------------------------------


async def test_a_vpc_is_deleted_only_once_it_holds_nothing_but_its_default_group(
    world: World,
) -> None:
    vpc = await _vpc(world)
    vpc_id = vpc["VpcId"]
    [default] = await _groups_of(world, vpc_id)
    subnet = await _subnet(world, vpc_id, "10.9.0.0/24")
    group = await world.root.call(
        "CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc_id
    )
    message = await _refused(world.root, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)
    assert vpc_id in message
    await world.root.call("DeleteSubnet", SubnetId=subnet["SubnetId"])
    await _refused(world.root, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)
    # Its default group cannot go alone.
    await _refused(world.root, "DeleteSecurityGroup", "CannotDelete", GroupId=default["GroupId"])
    await world.root.call("DeleteSecurityGroup", GroupId=group["GroupId"])
    await world.root.call("DeleteVpc", VpcId=vpc_id)
    await _refused(world.root, "DescribeVpcs", "InvalidVpcID.NotFound", VpcIds=[vpc_id])
    # Its default group went with it.
    await _refused(
        world.root, "DescribeSecurityGroups", "InvalidGroup.NotFound", GroupIds=[default["GroupId"]]
    )
    await _refused(world.root, "DeleteVpc", "InvalidVpcID.NotFound", VpcId=vpc_id)
    await _refused(world.root, "DeleteVpc", "InvalidVpcID.Malformed", VpcId="vpc-xyz")


async def test_a_vpc_with_an_instance_is_not_deleted(world: World) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    subnet_id = (await _subnet(world, vpc_id, "10.9.1.0/24"))["SubnetId"]
    instance = await _run(world, SubnetId=subnet_id)
    await _refused(world.root, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)
    await _refused(world.root, "DeleteSubnet", "DependencyViolation", SubnetId=subnet_id)
    await world.root.call("TerminateInstances", InstanceIds=[instance["InstanceId"]])
    await world.compute.settle()
    # Terminated, its interface gone: the subnet, then the VPC, may go.
    await world.root.call("DeleteSubnet", SubnetId=subnet_id)
    await world.root.call("DeleteVpc", VpcId=vpc_id)


# -- CreateSubnet / DescribeSubnets / DeleteSubnet -------------------------------------------


async def test_a_subnet_is_made_inside_its_vpc_and_counts_its_free_addresses(
    world: World,
) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    tags = [{"Key": "tier", "Value": "app"}]
    subnet = await _subnet(
        world,
        vpc_id,
        "10.9.1.9/24",
        AvailabilityZone="eu-fr-1a",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
    )
    assert (subnet["CidrBlock"], subnet["VpcId"], subnet["DefaultForAz"]) == (
        "10.9.1.0/24",
        vpc_id,
        False,
    )
    # AWS keeps five addresses of every subnet: 256 - 5.
    assert subnet["AvailableIpAddressCount"] == 251
    assert subnet["AvailabilityZone"] == "eu-fr-1a"
    assert (
        subnet["SubnetArn"] == f"arn:aws:ec2:eu-fr-1:{world.tenant_id}:subnet/{subnet['SubnetId']}"
    )
    assert subnet["Tags"] == tags
    small = await _subnet(world, vpc_id, "10.9.2.0/28", AvailabilityZoneId="eu-fr-1-az1")
    assert small["AvailableIpAddressCount"] == 11
    await _run(world, SubnetId=small["SubnetId"])
    found = await world.root.call(
        "DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    counts = {s["SubnetId"]: s["AvailableIpAddressCount"] for s in found["Subnets"]}
    assert counts == {subnet["SubnetId"]: 251, small["SubnetId"]: 10}
    tagged = await world.root.call(
        "DescribeSubnets", Filters=[{"Name": "tag:tier", "Values": ["app"]}]
    )
    assert [s["SubnetId"] for s in tagged["Subnets"]] == [subnet["SubnetId"]]


async def test_a_subnet_ec2_refuses_is_refused(world: World) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    await _subnet(world, vpc_id, "10.9.1.0/24")
    root = world.root
    for cidr in ("10.10.0.0/24", "10.9.0.0/15", "10.9.0.0/29", "10.0.0.0/8"):
        await _refused(root, "CreateSubnet", "InvalidSubnet.Range", VpcId=vpc_id, CidrBlock=cidr)
    for cidr in ("10.9.1.0/24", "10.9.1.128/25", "10.9.0.0/16"):
        await _refused(root, "CreateSubnet", "InvalidSubnet.Conflict", VpcId=vpc_id, CidrBlock=cidr)
    await _refused(root, "CreateSubnet", "InvalidParameterValue", VpcId=vpc_id, CidrBlock="x")
    await _refused(
        root,
        "CreateSubnet",
        "InvalidParameterValue",
        VpcId=vpc_id,
        CidrBlock="10.9.2.0/24",
        AvailabilityZone="us-east-1a",
    )
    await _refused(
        root,
        "CreateSubnet",
        "InvalidParameterValue",
        VpcId=vpc_id,
        CidrBlock="10.9.2.0/24",
        AvailabilityZoneId="use1-az1",
    )
    await _refused(
        root,
        "CreateSubnet",
        "UnsupportedOperation",
        VpcId=vpc_id,
        CidrBlock="10.9.2.0/24",
        Ipv6IpamPoolId="ipam-pool-0123456789abcdef0",
    )
    await _refused(root, "CreateSubnet", "MissingParameter", VpcId=vpc_id)
    await _refused(
        root, "CreateSubnet", "InvalidVpcID.NotFound", VpcId="vpc-0123456789abcdef0",
        CidrBlock="10.9.2.0/24",
    )  # fmt: skip
    found = await root.call("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert [s["CidrBlock"] for s in found["Subnets"]] == ["10.9.1.0/24"]


async def test_subnets_of_the_default_vpc_avoid_its_default_subnet(world: World) -> None:
    vpc_id = default_ids(world.tenant_id).vpc_id
    await _refused(
        world.root,
        "CreateSubnet",
        "InvalidSubnet.Conflict",
        VpcId=vpc_id,
        CidrBlock="172.31.0.0/24",
    )
    subnet = await _subnet(world, vpc_id, "172.31.16.0/20")
    instance = await _run(world, SubnetId=subnet["SubnetId"])
    assert instance["PrivateIpAddress"] == "172.31.16.4"
    # The default VPC's groups, by name too, go with a subnet of the default VPC.
    assert instance["SecurityGroups"][0]["GroupId"] == default_ids(world.tenant_id).group_id


async def test_the_subnet_quota_is_the_setting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.compute.limits.max_subnets_per_vpc == 200  # EC2's quota
    monkeypatch.setattr(
        world.compute, "limits", replace(world.compute.limits, max_subnets_per_vpc=2)
    )
    vpc_id = (await _vpc(world))["VpcId"]
    await _subnet(world, vpc_id, "10.9.0.0/24")
    last = await _subnet(world, vpc_id, "10.9.1.0/24")
    await _refused(
        world.root, "CreateSubnet", "SubnetLimitExceeded", VpcId=vpc_id, CidrBlock="10.9.2.0/24"
    )
    await world.root.call("DeleteSubnet", SubnetId=last["SubnetId"])
    await _subnet(world, vpc_id, "10.9.2.0/24")


# -- RunInstances into a subnet --------------------------------------------------------------


async def test_an_instance_launched_into_a_subnet_takes_its_address_and_its_vpcs_group(
    world: World,
) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    subnet = await _subnet(world, vpc_id, "10.9.4.0/24")
    [default] = await _groups_of(world, vpc_id)
    instance = await _run(world, SubnetId=subnet["SubnetId"])
    assert instance["PrivateIpAddress"] == "10.9.4.4"  # the first four are AWS's
    assert (instance["SubnetId"], instance["VpcId"]) == (subnet["SubnetId"], vpc_id)
    assert instance["SecurityGroups"] == [{"GroupId": default["GroupId"], "GroupName": "default"}]
    [eni] = instance["NetworkInterfaces"]
    assert (eni["SubnetId"], eni["VpcId"], eni["PrivateIpAddress"]) == (
        subnet["SubnetId"],
        vpc_id,
        "10.9.4.4",
    )
    # The host is asked for that subnet's network, with its block.
    nic = world.driver.instances[instance["InstanceId"]].spec.nic
    assert nic is not None
    assert (nic.network.network_id, nic.network.cidr, nic.private_ip) == (
        subnet["SubnetId"],
        "10.9.4.0/24",
        "10.9.4.4",
    )
    assert nic.network.vni not in (0, None)
    second = await _run(world, SubnetId=subnet["SubnetId"])
    assert second["PrivateIpAddress"] == "10.9.4.5"
    by_subnet = await world.root.call(
        "DescribeInstances", Filters=[{"Name": "subnet-id", "Values": [subnet["SubnetId"]]}]
    )
    assert len(by_subnet["Reservations"]) == 2


async def test_security_groups_must_be_of_the_subnets_vpc(world: World) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    subnet_id = (await _subnet(world, vpc_id, "10.9.4.0/24"))["SubnetId"]
    elsewhere = await world.root.call("CreateSecurityGroup", GroupName="web", Description="web")
    message = await _refused(
        world.root,
        "RunInstances",
        "InvalidParameter",
        ImageId=world.image.image_id,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        SecurityGroupIds=[elsewhere["GroupId"]],
    )
    assert "belong to different networks" in message
    await _refused(
        world.root,
        "RunInstances",
        "InvalidParameterCombination",
        ImageId=world.image.image_id,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        SecurityGroups=["web"],
    )
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []
    # The same name in the VPC is another group, taken by id.
    web = await world.root.call(
        "CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc_id
    )
    await _refused(
        world.root,
        "CreateSecurityGroup",
        "InvalidGroup.Duplicate",
        GroupName="web",
        Description="web",
        VpcId=vpc_id,
    )
    instance = await _run(world, SubnetId=subnet_id, SecurityGroupIds=[web["GroupId"]])
    assert instance["SecurityGroups"] == [{"GroupId": web["GroupId"], "GroupName": "web"}]
    # A name designates the default VPC's group, as on EC2.
    [named] = (await world.root.call("DescribeSecurityGroups", GroupNames=["web"]))[
        "SecurityGroups"
    ]
    assert named["GroupId"] == elsewhere["GroupId"]
    # The instance cannot be moved into a group of another VPC either.
    await _refused(
        world.root,
        "ModifyInstanceAttribute",
        "InvalidParameter",
        InstanceId=instance["InstanceId"],
        Groups=[elsewhere["GroupId"]],
    )
    # A rule may name a group of its own VPC only (EC2: no peering here).
    message = await _refused(
        world.root,
        "AuthorizeSecurityGroupIngress",
        "InvalidGroup.NotFound",
        GroupId=web["GroupId"],
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": elsewhere["GroupId"]}]}
        ],
    )
    assert "belong to different networks" in message
    [default] = [g for g in await _groups_of(world, vpc_id) if g["GroupName"] == "default"]
    await world.root.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=web["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": default["GroupId"]}]}],
    )
    await _refused(
        world.root,
        "CreateSecurityGroup",
        "InvalidVpcID.NotFound",
        GroupName="db",
        Description="db",
        VpcId="vpc-0123456789abcdef0",
    )


# -- another tenant, and IAM -----------------------------------------------------------------


async def test_another_tenant_cannot_launch_into_or_group_in_my_vpc(world: World) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    subnet_id = (await _subnet(world, vpc_id, "10.9.4.0/24"))["SubnetId"]
    _, other = await world.tenant("other")
    await _refused(
        other,
        "RunInstances",
        "InvalidSubnetID.NotFound",
        ImageId=world.image.image_id,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
    )
    await _refused(
        other,
        "CreateSecurityGroup",
        "InvalidVpcID.NotFound",
        GroupName="x",
        Description="x",
        VpcId=vpc_id,
    )
    await _refused(other, "DescribeVpcs", "InvalidVpcID.NotFound", VpcIds=[vpc_id])
    assert vpc_id not in json.dumps(await other.call("DescribeVpcs"))
    assert subnet_id not in json.dumps(await other.call("DescribeSubnets"))
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []


async def test_vpc_actions_are_authorised_on_their_arns(world: World) -> None:
    vpc_id = (await _vpc(world))["VpcId"]
    kept = (await _vpc(world, "10.10.0.0/16"))["VpcId"]
    await world.identity.create_user(world.tenant_id, "net")
    created = await world.identity.create_access_key(world.tenant_id, "net")
    net = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    kept_arn = f"arn:aws:ec2:eu-fr-1:{world.tenant_id}:vpc/{kept}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["ec2:DeleteVpc", "ec2:CreateSubnet"],
                "Resource": kept_arn,
            },
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "net", "p", json.dumps(policy))
    await _refused(net, "DeleteVpc", "UnauthorizedOperation", VpcId=kept)
    await _refused(
        net, "CreateSubnet", "UnauthorizedOperation", VpcId=kept, CidrBlock="10.10.0.0/24"
    )
    await net.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.0.0/24")
    assert len((await world.root.call("DescribeVpcs"))["Vpcs"]) == 3
