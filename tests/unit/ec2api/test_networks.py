"""Networks on the EC2 wire, parsed by botocore: the instance's addresses and interface in
DescribeInstances and its filters, the default VPC and subnet, network interfaces, security
group rules naming groups, and RunInstances with an instance profile (iam:PassRole)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.compute.driver import (
    InstanceNetwork,
    InstanceSpec,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.images import ImageFiles
from andromede.compute.network import default_ids
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from andromede.ec2api.networks import FORWARD_TAG_PREFIX, public_ip_of, system_tags
from support.computekit import TENANT, MemoryDiskKeys, limits
from support.ec2app import REGION, ApiError, Client, World

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


async def run(world: World, client: Client | None = None, **params: object) -> list[str]:
    reply = await (client or world.root).call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    return [i["InstanceId"] for i in reply["Instances"]]


async def test_describe_instances_reports_the_network(world: World) -> None:
    [instance_id] = await run(world)
    ids = default_ids(world.tenant_id)
    [reservation] = (await world.root.call("DescribeInstances"))["Reservations"]
    [described] = reservation["Instances"]
    assert described["PrivateIpAddress"] == "172.31.0.4"
    assert described["PrivateDnsName"] == f"ip-172-31-0-4.{REGION}.compute.internal"
    public_ip = described["PublicIpAddress"]
    assert public_ip.startswith("100.65.")
    assert (described["VpcId"], described["SubnetId"]) == (ids.vpc_id, ids.subnet_id)
    assert described["SecurityGroups"] == [{"GroupId": ids.group_id, "GroupName": "default"}]
    [eni] = described["NetworkInterfaces"]
    record = world.driver.instances[instance_id].spec.nic
    assert record is not None
    assert eni["MacAddress"] == record.mac
    assert eni["PrivateIpAddress"] == "172.31.0.4"
    assert eni["NetworkInterfaceId"].startswith("eni-")
    assert eni["Association"]["PublicIp"] == public_ip
    assert eni["PrivateIpAddresses"][0]["Primary"] is True
    assert eni["PrivateIpAddresses"][0]["Association"]["PublicIp"] == public_ip
    assert eni["Groups"] == [{"GroupId": ids.group_id, "GroupName": "default"}]
    assert eni["Attachment"]["DeviceIndex"] == 0
    assert described.get("Tags", []) == []  # no platform tag in bridge mode
    [second] = await run(world)
    for name, value, expected in (
        ("private-ip-address", "172.31.0.4", [instance_id]),
        ("private-ip-address", "172.31.0.5", [second]),
        ("ip-address", public_ip, [instance_id]),
        ("vpc-id", ids.vpc_id, [instance_id, second]),
        ("subnet-id", "subnet-0000000000000000f", []),
        ("network-interface.mac-address", record.mac, [instance_id]),
    ):
        found = await world.root.call(
            "DescribeInstances", Filters=[{"Name": name, "Values": [value]}]
        )
        got = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
        assert sorted(got) == sorted(expected), name
    await world.root.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    stopped = found["Reservations"][0]["Instances"][0]
    assert stopped["PrivateIpAddress"] == "172.31.0.4" and "PublicIpAddress" not in stopped
    interfaces = await world.root.call("DescribeNetworkInterfaces")
    assert sorted(i["PrivateIpAddress"] for i in interfaces["NetworkInterfaces"]) == [
        "172.31.0.4",
        "172.31.0.5",
    ]
    [mine] = (
        await world.root.call(
            "DescribeNetworkInterfaces", Filters=[{"Name": "private-ip-address", "Values": ["*.5"]}]
        )
    )["NetworkInterfaces"]
    assert mine["Attachment"]["InstanceId"] == second
    assert mine["AvailabilityZone"] == world.compute.limits.availability_zone


async def test_default_vpc_and_subnet(world: World) -> None:
    ids = default_ids(world.tenant_id)
    [vpc] = (
        await world.root.call("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])
    )["Vpcs"]
    assert (vpc["VpcId"], vpc["CidrBlock"], vpc["IsDefault"]) == (ids.vpc_id, "172.31.0.0/16", True)
    assert vpc["State"] == "available" and vpc["OwnerId"] == world.tenant_id
    assert (await world.root.call("DescribeVpcs", VpcIds=[ids.vpc_id]))["Vpcs"] == [vpc]
    none = await world.root.call(
        "DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["false"]}]
    )
    assert none["Vpcs"] == []
    [subnet] = (
        await world.root.call(
            "DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        )
    )["Subnets"]
    assert subnet["SubnetId"] == ids.subnet_id
    assert subnet["CidrBlock"] == "172.31.0.0/20" and subnet["DefaultForAz"] is True
    assert subnet["AvailabilityZone"] == world.compute.limits.availability_zone
    assert subnet["AvailableIpAddressCount"] == 4091
    await run(world, SubnetId=ids.subnet_id)
    [subnet] = (await world.root.call("DescribeSubnets", SubnetIds=[ids.subnet_id]))["Subnets"]
    assert subnet["AvailableIpAddressCount"] == 4090
    # Another tenant sees its own default VPC, never this one.
    _, other = await world.tenant("other")
    with pytest.raises(ApiError) as raised:
        await other.call("DescribeVpcs", VpcIds=[ids.vpc_id])
    assert raised.value.code == "InvalidVpcID.NotFound"
    with pytest.raises(ApiError) as raised:
        await run(world, other, SubnetId=ids.subnet_id)
    assert raised.value.code == "InvalidSubnetID.NotFound"
    with pytest.raises(ApiError) as raised:
        await world.root.call("DescribeSubnets", SubnetIds=["subnet-nothex"])
    assert raised.value.code == "InvalidSubnetID.Malformed"


async def test_security_group_rules_naming_groups(world: World) -> None:
    c = world.root
    groups = (await c.call("DescribeSecurityGroups"))["SecurityGroups"]
    [default] = groups
    assert (
        default["GroupName"] == "default"
        and default["VpcId"] == default_ids(world.tenant_id).vpc_id
    )
    [self_rule] = default["IpPermissions"]
    assert self_rule["UserIdGroupPairs"] == [
        {"GroupId": default["GroupId"], "UserId": world.tenant_id}
    ]
    with pytest.raises(ApiError) as raised:
        await c.call("CreateSecurityGroup", GroupName="default", Description="d")
    assert raised.value.code == "InvalidGroup.Reserved"
    with pytest.raises(ApiError) as raised:
        await c.call("DeleteSecurityGroup", GroupId=default["GroupId"])
    assert raised.value.code == "CannotDelete"
    db = (await c.call("CreateSecurityGroup", GroupName="db", Description="d"))["GroupId"]
    app = (await c.call("CreateSecurityGroup", GroupName="app", Description="d"))["GroupId"]
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=db,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": app, "Description": "from app"}]},
        ],
    )  # fmt: skip
    [described] = (await c.call("DescribeSecurityGroups", GroupIds=[db]))["SecurityGroups"]
    [rule] = described["IpPermissions"]
    assert rule["UserIdGroupPairs"] == [
        {"GroupId": app, "UserId": world.tenant_id, "Description": "from app"}
    ]
    assert rule["IpRanges"] == []
    [database] = await run(world, SecurityGroupIds=[db])
    [server] = await run(world, SecurityGroupIds=[app])
    await world.compute.settle()
    server_ip = world.driver.instances[server].network.private_ip
    assert [r.cidr for r in world.driver.instances[database].firewall.ingress] == [
        f"{server_ip}/32"
    ]
    with pytest.raises(ApiError) as raised:
        await c.call("DeleteSecurityGroup", GroupId=app)
    assert raised.value.code == "DependencyViolation"
    await c.call(
        "RevokeSecurityGroupIngress",
        GroupId=db,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": app}]},
        ],
    )  # fmt: skip
    assert world.driver.instances[database].firewall.ingress == ()
    with pytest.raises(ApiError) as raised:
        await c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=db,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
                 "UserIdGroupPairs": [{"GroupId": app, "UserId": "999999999999"}]},
            ],
        )  # fmt: skip
    assert raised.value.code == "InvalidParameterValue"
    with pytest.raises(ApiError) as raised:
        await c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=db,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
                            "IpRanges": [{"CidrIp": "10.0.0.300/8"}]}],
        )  # fmt: skip
    assert raised.value.code == "InvalidParameterValue"
    found = await c.call(
        "DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": ["vpc-*"]}]
    )
    assert len(found["SecurityGroups"]) == 3


async def test_icmp_rules_carry_their_type_and_code_to_the_host(world: World) -> None:
    # Decision 0130: FromPort is the ICMP type, ToPort the code, -1 for all, checked as EC2
    # checks them, and the host is told them.
    c = world.root
    group = (await c.call("CreateSecurityGroup", GroupName="ping", Description="d"))["GroupId"]
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "1", "FromPort": 3, "ToPort": 4,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )  # fmt: skip
    [described] = (await c.call("DescribeSecurityGroups", GroupIds=[group]))["SecurityGroups"]
    assert sorted(
        (r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in described["IpPermissions"]
    ) == [("icmp", 3, 4), ("icmp", 8, -1)]
    [instance] = await run(world, SecurityGroupIds=[group])
    await world.compute.settle()
    assert world.driver.instances[instance].firewall.ingress == (
        FirewallRule("icmp", 8, -1, "10.0.0.0/8"),
        FirewallRule("icmp", 3, 4, "0.0.0.0/0"),
    )
    for ports, message in [
        ({}, "Must specify both from and to ports with ICMP"),
        ({"FromPort": 256, "ToPort": -1}, "ICMP type (256) out of range"),
        ({"FromPort": 0, "ToPort": 65535}, "ICMP code (65535) out of range"),
        ({"FromPort": -1, "ToPort": 0}, "ICMP code (0) out of range"),
    ]:
        with pytest.raises(ApiError) as raised:
            await c.call(
                "AuthorizeSecurityGroupIngress",
                GroupId=group,
                IpPermissions=[
                    {"IpProtocol": "icmp", **ports, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            )
        assert (raised.value.code, message in str(raised.value)) == (
            "InvalidParameterValue",
            True,
        )
    await c.call(
        "RevokeSecurityGroupIngress",
        GroupId=group,
        IpPermissions=[{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )  # fmt: skip
    await world.compute.settle()
    assert world.driver.instances[instance].firewall.ingress == (
        FirewallRule("icmp", 3, 4, "0.0.0.0/0"),
    )


async def test_instance_profile_needs_pass_role(world: World) -> None:
    tenant = world.tenant_id
    identity = world.identity
    await identity.create_role(tenant, "web-role", TRUST_EC2)
    profile = await identity.create_instance_profile(tenant, "web")
    await identity.add_role_to_instance_profile(tenant, "web", "web-role")
    [by_name] = await run(world, IamInstanceProfile={"Name": "web"})
    [by_arn] = await run(world, IamInstanceProfile={"Arn": profile.arn})
    described = await world.root.call("DescribeInstances", InstanceIds=[by_name, by_arn])
    for instance in described["Reservations"][0]["Instances"] + (
        described["Reservations"][1]["Instances"] if len(described["Reservations"]) > 1 else []
    ):
        assert instance["IamInstanceProfile"] == {"Arn": profile.arn, "Id": profile.id}
    with pytest.raises(ApiError) as raised:
        await run(world, IamInstanceProfile={"Name": "missing"})
    assert raised.value.code == "InvalidParameterValue"
    _, other = await world.tenant("other")
    with pytest.raises(ApiError) as raised:  # another account's profile is not found
        await run(world, other, IamInstanceProfile={"Arn": profile.arn})
    assert raised.value.code == "InvalidParameterValue"
    # An IAM user allowed to run instances but not to pass the role is refused.
    await identity.create_user(tenant, "bob")
    created = await identity.create_access_key(tenant, "bob")
    bob = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    allow_ec2 = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [allow_ec2]}
    await identity.put_user_policy(tenant, "bob", "ec2", json.dumps(policy))
    with pytest.raises(ApiError) as raised:
        await run(world, bob, IamInstanceProfile={"Name": "web"})
    assert (raised.value.status, raised.value.code) == (403, "UnauthorizedOperation")
    assert "iam:PassRole" in str(raised.value)
    before = len((await world.root.call("DescribeInstances"))["Reservations"])
    pass_role = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": profile.roles[0].arn
                 if profile.roles else f"arn:aws:iam::{tenant}:role/web-role"}  # fmt: skip
    policy["Statement"] = [allow_ec2, pass_role]
    await identity.put_user_policy(tenant, "bob", "ec2", json.dumps(policy))
    [launched] = await run(world, bob, IamInstanceProfile={"Name": "web"})
    after = (await world.root.call("DescribeInstances"))["Reservations"]
    assert len(after) == before + 1 and launched
    # Without a profile, bob needs no PassRole.
    policy["Statement"] = [allow_ec2]
    await identity.put_user_policy(tenant, "bob", "ec2", json.dumps(policy))
    assert await run(world, bob)


async def test_pass_role_sees_the_roles_tags_and_the_service(world: World) -> None:
    # AWS's pattern for delegated launches: pass only roles of one label, and only to EC2. A
    # Deny keyed on a role tag must hold, not find the key missing and fail open (0069).
    tenant, identity = world.tenant_id, world.identity
    for name, tier in (("app-role", "app"), ("admin-role", "admin")):
        await identity.create_role(tenant, name, TRUST_EC2, tags=(("tier", tier),))
        await identity.create_instance_profile(tenant, name)
        await identity.add_role_to_instance_profile(tenant, name, name)
    await identity.create_user(tenant, "carol")
    created = await identity.create_access_key(tenant, "carol")
    carol = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Effect": "Deny",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/tier": "admin"}},
            },
        ],
    }
    await identity.put_user_policy(tenant, "carol", "launch", json.dumps(policy))
    assert await run(world, carol, IamInstanceProfile={"Name": "app-role"})
    with pytest.raises(ApiError) as raised:
        await run(world, carol, IamInstanceProfile={"Name": "admin-role"})
    assert (raised.value.status, raised.value.code) == (403, "UnauthorizedOperation")
    assert "iam:PassRole" in str(raised.value)


class UserModeHost(MemoryDriver):
    """A host that cannot create bridges: it falls back to user-mode networking."""

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        return await super().start(replace(spec, nic=None))


async def test_user_mode_reports_the_ssh_forward(tmp_path: Path) -> None:
    compute = ComputeService(
        MemoryComputeStore(),
        [UserModeHost()],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    try:
        [launched] = await compute.run_instances(TENANT, RunRequest(image.image_id, "t3.nano"))
        await compute.settle()
        [instance] = await compute.describe_instances(TENANT, [launched.instance_id])
    finally:
        await compute.close()
    assert instance.network_mode == "user" and instance.public_ip is None
    [(host, port, guest)] = instance.forwards
    assert (host, guest) == ("127.0.0.1", 22) and port > 0
    assert public_ip_of(instance) == "127.0.0.1"
    assert system_tags(instance) == ((f"{FORWARD_TAG_PREFIX}22", f"127.0.0.1:{port}"),)
    assert instance.private_ip == "172.31.0.4"  # still its place on the tenant network


async def test_network_resources_take_tags(world: World) -> None:
    [instance_id] = await run(world)
    ids = default_ids(world.tenant_id)
    [eni] = (await world.root.call("DescribeNetworkInterfaces"))["NetworkInterfaces"]
    resources = [ids.vpc_id, ids.subnet_id, eni["NetworkInterfaceId"]]
    await world.root.call("CreateTags", Resources=resources, Tags=[{"Key": "env", "Value": "prod"}])
    tagged = (await world.root.call("DescribeTags"))["Tags"]
    assert {(t["ResourceId"], t["ResourceType"]) for t in tagged} == {
        (ids.vpc_id, "vpc"),
        (ids.subnet_id, "subnet"),
        (eni["NetworkInterfaceId"], "network-interface"),
    }
    [vpc] = (
        await world.root.call("DescribeVpcs", Filters=[{"Name": "tag:env", "Values": ["prod"]}])
    )["Vpcs"]
    assert vpc["Tags"] == [{"Key": "env", "Value": "prod"}]
    [eni] = (await world.root.call("DescribeNetworkInterfaces"))["NetworkInterfaces"]
    assert eni["TagSet"] == [{"Key": "env", "Value": "prod"}] and instance_id


async def test_profile_associations_and_group_changes(world: World) -> None:
    tenant, identity, c = world.tenant_id, world.identity, world.root
    await identity.create_role(tenant, "web-role", TRUST_EC2)
    profile = await identity.create_instance_profile(tenant, "web")
    await identity.add_role_to_instance_profile(tenant, "web", "web-role")
    [launched] = await run(world, IamInstanceProfile={"Name": "web"})
    [plain] = await run(world)
    [first] = (await c.call("DescribeIamInstanceProfileAssociations"))[
        "IamInstanceProfileAssociations"
    ]
    assert first["InstanceId"] == launched and first["State"] == "associated"
    assert first["AssociationId"].startswith("iip-assoc-")
    assert first["IamInstanceProfile"] == {"Arn": profile.arn, "Id": profile.id}
    with pytest.raises(ApiError) as raised:  # one profile per instance
        await c.call(
            "AssociateIamInstanceProfile", InstanceId=launched, IamInstanceProfile={"Name": "web"}
        )
    assert raised.value.code == "IncorrectState"
    added = (
        await c.call(
            "AssociateIamInstanceProfile",
            InstanceId=plain,
            IamInstanceProfile={"Arn": profile.arn},
        )
    )["IamInstanceProfileAssociation"]
    assert added["InstanceId"] == plain
    found = await c.call(
        "DescribeIamInstanceProfileAssociations",
        Filters=[{"Name": "instance-id", "Values": [plain]}],
    )
    assert [a["AssociationId"] for a in found["IamInstanceProfileAssociations"]] == [
        added["AssociationId"]
    ]
    removed = (
        await c.call("DisassociateIamInstanceProfile", AssociationId=first["AssociationId"])
    )["IamInstanceProfileAssociation"]
    assert (removed["InstanceId"], removed["State"]) == (launched, "disassociating")
    [described] = (await c.call("DescribeInstances", InstanceIds=[launched]))["Reservations"][0][
        "Instances"
    ]
    assert "IamInstanceProfile" not in described
    with pytest.raises(ApiError) as raised:
        await c.call("DisassociateIamInstanceProfile", AssociationId=first["AssociationId"])
    assert raised.value.code == "InvalidAssociationID.NotFound"
    # Security groups of a running instance, changed: its firewall follows.
    web = (await c.call("CreateSecurityGroup", GroupName="web", Description="d"))["GroupId"]
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=web,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip
    await c.call("ModifyInstanceAttribute", InstanceId=plain, Groups=[web])
    [described] = (await c.call("DescribeInstances", InstanceIds=[plain]))["Reservations"][0][
        "Instances"
    ]
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [web]
    rules = world.driver.instances[plain].firewall.ingress
    assert [(r.protocol, r.from_port, r.cidr) for r in rules] == [("tcp", 80, "0.0.0.0/0")]
    # The other instance, still in the default group, no longer counts it as a member.
    peers = {r.cidr for r in world.driver.instances[launched].firewall.ingress}
    assert peers == {f"{world.driver.instances[launched].network.private_ip}/32"}
    with pytest.raises(ApiError) as raised:
        await c.call(
            "ModifyInstanceAttribute", InstanceId=plain, InstanceType={"Value": "t3.micro"}
        )
    assert raised.value.code == "UnsupportedOperation"
    # An IAM user with EC2 rights but no iam:PassRole cannot associate the profile.
    await identity.create_user(tenant, "bob")
    key = await identity.create_access_key(tenant, "bob")
    bob = Client(world.app, Credentials(key.key.access_key_id, key.secret_access_key))
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}  # fmt: skip
    await identity.put_user_policy(tenant, "bob", "ec2", json.dumps(policy))
    with pytest.raises(ApiError) as raised:
        await bob.call(
            "AssociateIamInstanceProfile", InstanceId=launched, IamInstanceProfile={"Name": "web"}
        )
    assert raised.value.code == "UnauthorizedOperation"


async def test_account_attributes_name_the_default_vpc(world: World) -> None:
    found = await world.root.call("DescribeAccountAttributes")
    attributes = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in found["AccountAttributes"]
    }
    assert attributes["supported-platforms"] == ["VPC"]
    assert attributes["default-vpc"] == [default_ids(world.tenant_id).vpc_id]
    one = await world.root.call("DescribeAccountAttributes", AttributeNames=["default-vpc"])
    assert [a["AttributeName"] for a in one["AccountAttributes"]] == ["default-vpc"]
    with pytest.raises(ApiError) as raised:
        await world.root.call("DescribeAccountAttributes", AttributeNames=["nonsense"])
    assert raised.value.code == "InvalidParameterValue"


async def test_the_default_group_answers_by_name_before_anything_showed_it(world: World) -> None:
    """On EC2 the default group exists with the account: a first call naming it works."""
    await world.root.call(
        "AuthorizeSecurityGroupIngress", GroupName="default", IpProtocol="tcp", FromPort=22,
        ToPort=22, CidrIp="0.0.0.0/0",
    )  # fmt: skip
    [group] = (await world.root.call("DescribeSecurityGroups"))["SecurityGroups"]
    assert group["GroupId"] == default_ids(world.tenant_id).group_id
    assert {"FromPort": 22, "ToPort": 22} == {
        k: v for p in group["IpPermissions"] for k, v in p.items() if k in ("FromPort", "ToPort")
    }
