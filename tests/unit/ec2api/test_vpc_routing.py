"""What Terraform's ``aws_vpc`` and ``aws_subnet`` read after creating one (decision 0100, second
increment), on the EC2 wire through botocore: Describe/ModifyVpcAttribute with EC2's defaults,
each VPC's main route table and default network ACL found by the provider's filters, the VPC's
default group by ``vpc-id`` and ``group-name``, ModifySubnetAttribute's MapPublicIpOnLaunch and
the subnet fields the provider compares; another tenant's VPCs, subnets, tables and ACLs out of
reach."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, Client, World


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    assert raised.value.status == 400
    return str(raised.value)


async def _vpc(world: World, cidr: str = "10.9.0.0/16") -> str:
    vpc_id: str = (await world.root.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    return vpc_id


async def _subnet(world: World, vpc_id: str, cidr: str) -> str:
    answer = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr)
    subnet_id: str = answer["Subnet"]["SubnetId"]
    return subnet_id


def _filters(**given: str) -> list[dict[str, Any]]:
    return [{"Name": name.replace("_", "."), "Values": [value]} for name, value in given.items()]


async def _attribute(client: Client, vpc_id: str, name: str) -> bool:
    answer = await client.call("DescribeVpcAttribute", VpcId=vpc_id, Attribute=name)
    assert answer["VpcId"] == vpc_id
    value: bool = answer[name[0].upper() + name[1:]]["Value"]
    return value


# -- VPC attributes --------------------------------------------------------------------------


async def test_vpc_attributes_have_ec2s_defaults_and_are_stored(world: World) -> None:
    default_vpc = default_ids(world.tenant_id).vpc_id
    vpc_id = await _vpc(world)
    names = ("enableDnsSupport", "enableDnsHostnames", "enableNetworkAddressUsageMetrics")
    assert [await _attribute(world.root, default_vpc, n) for n in names] == [True, True, False]
    assert [await _attribute(world.root, vpc_id, n) for n in names] == [True, False, False]
    for param in ("EnableDnsHostnames", "EnableNetworkAddressUsageMetrics"):
        await world.root.call("ModifyVpcAttribute", VpcId=vpc_id, **{param: {"Value": True}})
    await world.root.call("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsSupport={"Value": False})
    await world.root.call(
        "ModifyVpcAttribute", VpcId=default_vpc, EnableDnsHostnames={"Value": False}
    )
    assert [await _attribute(world.root, vpc_id, n) for n in names] == [False, True, True]
    assert [await _attribute(world.root, default_vpc, n) for n in names] == [True, False, False]
    # Stored with the VPC, not with the gateway: the service reads the record back.
    [stored] = await world.compute.describe_vpcs(world.tenant_id, [vpc_id])
    assert (stored.enable_dns_support, stored.dns_hostnames) == (False, True)


async def test_vpc_attribute_refusals_are_ec2s(world: World) -> None:
    vpc_id = await _vpc(world)
    message = await _refused(
        world.root, "DescribeVpcAttribute", "InvalidParameterValue", VpcId=vpc_id,
        Attribute="enableDnsEverything",
    )  # fmt: skip
    assert "Unknown attribute" in message
    await _refused(
        world.root, "DescribeVpcAttribute", "InvalidVpcID.NotFound",
        VpcId="vpc-0123456789abcdef0", Attribute="enableDnsSupport",
    )  # fmt: skip
    await _refused(
        world.root, "DescribeVpcAttribute", "InvalidVpcID.Malformed", VpcId="vpc-nope",
        Attribute="enableDnsSupport",
    )  # fmt: skip
    await _refused(
        world.root, "ModifyVpcAttribute", "InvalidParameterCombination", VpcId=vpc_id,
        EnableDnsSupport={"Value": True}, EnableDnsHostnames={"Value": True},
    )  # fmt: skip
    await _refused(world.root, "ModifyVpcAttribute", "MissingParameter", VpcId=vpc_id)
    await _refused(
        world.root, "ModifyVpcAttribute", "InvalidVpcID.NotFound",
        VpcId="vpc-0123456789abcdef0", EnableDnsHostnames={"Value": True},
    )  # fmt: skip
    assert await _attribute(world.root, vpc_id, "enableDnsHostnames") is False


async def test_another_tenant_neither_reads_nor_changes_a_vpcs_attributes(world: World) -> None:
    vpc_id = await _vpc(world)
    _, other = await world.tenant("other")
    await _refused(
        other, "DescribeVpcAttribute", "InvalidVpcID.NotFound", VpcId=vpc_id,
        Attribute="enableDnsSupport",
    )  # fmt: skip
    await _refused(
        other, "ModifyVpcAttribute", "InvalidVpcID.NotFound", VpcId=vpc_id,
        EnableDnsHostnames={"Value": True},
    )  # fmt: skip
    assert await _attribute(world.root, vpc_id, "enableDnsHostnames") is False


# -- route tables ----------------------------------------------------------------------------


async def test_each_vpc_has_a_main_route_table_with_its_local_route(world: World) -> None:
    vpc_id = await _vpc(world)
    subnet_id = await _subnet(world, vpc_id, "10.9.1.0/24")
    default_vpc = default_ids(world.tenant_id).vpc_id
    everything = (await world.root.call("DescribeRouteTables"))["RouteTables"]
    assert {t["VpcId"] for t in everything} == {vpc_id, default_vpc}
    # The provider's lookup of aws_vpc's main_route_table_id.
    [table] = (
        await world.root.call(
            "DescribeRouteTables", Filters=_filters(association_main="true", **{"vpc-id": vpc_id})
        )
    )["RouteTables"]
    assert table["RouteTableId"].startswith("rtb-") and len(table["RouteTableId"]) == 21
    assert table["OwnerId"] == world.tenant_id
    assert table["Routes"] == [
        {
            "DestinationCidrBlock": "10.9.0.0/16",
            "GatewayId": "local",
            "State": "active",
            "Origin": "CreateRouteTable",
        }
    ]
    [association] = table["Associations"]
    assert association["Main"] is True and association["RouteTableId"] == table["RouteTableId"]
    assert association["AssociationState"] == {"State": "associated"}
    [default_table] = (
        await world.root.call("DescribeRouteTables", Filters=_filters(**{"vpc-id": default_vpc}))
    )["RouteTables"]
    # The default VPC's, as EC2's: its local route, and everything else to its gateway.
    [gateway] = (
        await world.root.call(
            "DescribeInternetGateways", Filters=_filters(**{"attachment.vpc-id": default_vpc})
        )
    )["InternetGateways"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in default_table["Routes"]] == [
        ("172.31.0.0/16", "local"),
        ("0.0.0.0/0", gateway["InternetGatewayId"]),
    ]
    # By id, and by filter; a subnet's implicit association is not listed, as on EC2.
    by_id = await world.root.call("DescribeRouteTables", RouteTableIds=[table["RouteTableId"]])
    assert by_id["RouteTables"] == [table]
    filtered = await world.root.call(
        "DescribeRouteTables", Filters=_filters(**{"route-table-id": table["RouteTableId"]})
    )
    assert filtered["RouteTables"] == [table]
    implicit = await world.root.call(
        "DescribeRouteTables", Filters=_filters(**{"association.subnet-id": subnet_id})
    )
    assert implicit["RouteTables"] == []
    # The same table every time: its id is the VPC's, not the call's.
    again = await world.root.call("DescribeRouteTables", RouteTableIds=[table["RouteTableId"]])
    assert again["RouteTables"] == [table]


async def test_route_table_refusals_and_another_tenants_tables(world: World) -> None:
    vpc_id = await _vpc(world)
    [table] = (
        await world.root.call("DescribeRouteTables", Filters=_filters(**{"vpc-id": vpc_id}))
    )["RouteTables"]
    await _refused(
        world.root, "DescribeRouteTables", "InvalidRouteTableID.NotFound",
        RouteTableIds=["rtb-0123456789abcdef0"],
    )  # fmt: skip
    await _refused(
        world.root, "DescribeRouteTables", "InvalidRouteTableId.Malformed",
        RouteTableIds=["rtb-x"],
    )  # fmt: skip
    await _refused(
        world.root, "DescribeRouteTables", "InvalidParameterValue",
        Filters=_filters(**{"route.vpc-peering-connection-idd": "x"}),
    )  # fmt: skip
    _, other = await world.tenant("other")
    await _refused(
        other, "DescribeRouteTables", "InvalidRouteTableID.NotFound",
        RouteTableIds=[table["RouteTableId"]],
    )  # fmt: skip
    theirs = await other.call("DescribeRouteTables", Filters=_filters(**{"vpc-id": vpc_id}))
    assert theirs["RouteTables"] == []


# -- network ACLs ----------------------------------------------------------------------------


async def test_each_vpc_has_a_default_network_acl_over_its_subnets(world: World) -> None:
    vpc_id = await _vpc(world)
    first = await _subnet(world, vpc_id, "10.9.1.0/24")
    second = await _subnet(world, vpc_id, "10.9.2.0/24")
    # The provider's lookup of aws_vpc's default_network_acl_id.
    [acl] = (
        await world.root.call(
            "DescribeNetworkAcls", Filters=_filters(default="true", **{"vpc-id": vpc_id})
        )
    )["NetworkAcls"]
    assert acl["NetworkAclId"].startswith("acl-") and acl["IsDefault"] is True
    assert (acl["VpcId"], acl["OwnerId"]) == (vpc_id, world.tenant_id)
    entries = {(e["RuleNumber"], e["Egress"]): e for e in acl["Entries"]}
    assert set(entries) == {(100, True), (100, False), (32767, True), (32767, False)}
    assert {e["RuleAction"] for n, e in entries.items() if n[0] == 100} == {"allow"}
    assert {e["RuleAction"] for n, e in entries.items() if n[0] == 32767} == {"deny"}
    assert {(e["Protocol"], e["CidrBlock"]) for e in entries.values()} == {("-1", "0.0.0.0/0")}
    assert sorted(a["SubnetId"] for a in acl["Associations"]) == sorted([first, second])
    assert {a["NetworkAclId"] for a in acl["Associations"]} == {acl["NetworkAclId"]}
    # aws_subnet's and aws_network_acl's lookup by subnet: that subnet's VPC's ACL only.
    by_subnet = await world.root.call(
        "DescribeNetworkAcls", Filters=_filters(**{"association.subnet-id": first})
    )
    assert by_subnet["NetworkAcls"] == [acl]
    default_vpc = default_ids(world.tenant_id).vpc_id
    [default_acl] = (
        await world.root.call("DescribeNetworkAcls", Filters=_filters(**{"vpc-id": default_vpc}))
    )["NetworkAcls"]
    assert [a["SubnetId"] for a in default_acl["Associations"]] == [
        default_ids(world.tenant_id).subnet_id
    ]
    assert (await world.root.call("DescribeNetworkAcls", Filters=_filters(default="false")))[
        "NetworkAcls"
    ] == []
    by_id = await world.root.call("DescribeNetworkAcls", NetworkAclIds=[acl["NetworkAclId"]])
    assert by_id["NetworkAcls"] == [acl]


async def test_network_acl_refusals_and_another_tenants_acls(world: World) -> None:
    vpc_id = await _vpc(world)
    [acl] = (await world.root.call("DescribeNetworkAcls", Filters=_filters(**{"vpc-id": vpc_id})))[
        "NetworkAcls"
    ]
    await _refused(
        world.root, "DescribeNetworkAcls", "InvalidNetworkAclID.NotFound",
        NetworkAclIds=["acl-0123456789abcdef0"],
    )  # fmt: skip
    _, other = await world.tenant("other")
    await _refused(
        other, "DescribeNetworkAcls", "InvalidNetworkAclID.NotFound",
        NetworkAclIds=[acl["NetworkAclId"]],
    )  # fmt: skip
    theirs = await other.call("DescribeNetworkAcls", Filters=_filters(**{"vpc-id": vpc_id}))
    assert theirs["NetworkAcls"] == []


async def test_a_vpcs_default_group_is_found_by_vpc_id_and_group_name(world: World) -> None:
    vpc_id = await _vpc(world)
    await world.root.call("CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc_id)
    [group] = (
        await world.root.call(
            "DescribeSecurityGroups",
            Filters=_filters(**{"group-name": "default", "vpc-id": vpc_id}),
        )
    )["SecurityGroups"]
    assert (group["GroupName"], group["VpcId"]) == ("default", vpc_id)
    assert group["Description"] == "default VPC security group"


# -- subnet attributes -----------------------------------------------------------------------


async def _described_subnet(client: Client, subnet_id: str) -> dict[str, Any]:
    [subnet] = (await client.call("DescribeSubnets", SubnetIds=[subnet_id]))["Subnets"]
    return subnet


async def test_map_public_ip_on_launch_is_ec2s_default_and_stored(world: World) -> None:
    vpc_id = await _vpc(world)
    subnet_id = await _subnet(world, vpc_id, "10.9.1.0/24")
    default_subnet = default_ids(world.tenant_id).subnet_id
    subnet = await _described_subnet(world.root, subnet_id)
    assert subnet["MapPublicIpOnLaunch"] is False
    assert (await _described_subnet(world.root, default_subnet))["MapPublicIpOnLaunch"] is True
    # The fields aws_subnet compares with its configuration after creating one.
    assert subnet["AssignIpv6AddressOnCreation"] is False
    assert subnet["EnableDns64"] is False and subnet["Ipv6Native"] is False
    assert subnet["MapCustomerOwnedIpOnLaunch"] is False
    assert subnet["PrivateDnsNameOptionsOnLaunch"] == {
        "HostnameType": "ip-name",
        "EnableResourceNameDnsARecord": False,
        "EnableResourceNameDnsAAAARecord": False,
    }
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
    )
    assert (await _described_subnet(world.root, subnet_id))["MapPublicIpOnLaunch"] is True
    mapped = await world.root.call(
        "DescribeSubnets", Filters=_filters(**{"map-public-ip-on-launch": "true"})
    )
    assert {s["SubnetId"] for s in mapped["Subnets"]} == {subnet_id, default_subnet}
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=default_subnet, MapPublicIpOnLaunch={"Value": False}
    )
    assert (await _described_subnet(world.root, default_subnet))["MapPublicIpOnLaunch"] is False


async def test_modify_subnet_attribute_takes_what_is_done_and_refuses_the_rest(
    world: World,
) -> None:
    vpc_id = await _vpc(world)
    subnet_id = await _subnet(world, vpc_id, "10.9.1.0/24")
    before = await _described_subnet(world.root, subnet_id)
    for harmless in (
        {"AssignIpv6AddressOnCreation": {"Value": False}},
        {"EnableDns64": {"Value": False}},
        {"EnableResourceNameDnsARecordOnLaunch": {"Value": False}},
        {"PrivateDnsHostnameTypeOnLaunch": "ip-name"},
    ):
        await world.root.call("ModifySubnetAttribute", SubnetId=subnet_id, **harmless)
    # A subnet without an IPv6 block (decision 0217): EC2's own refusal.
    await _refused(
        world.root, "ModifySubnetAttribute", "InvalidParameterValue", SubnetId=subnet_id,
        AssignIpv6AddressOnCreation={"Value": True},
    )  # fmt: skip
    for refused in (
        {"EnableDns64": {"Value": True}},
        {"PrivateDnsHostnameTypeOnLaunch": "resource-name"},
        {"EnableLniAtDeviceIndex": 1},
    ):
        await _refused(
            world.root, "ModifySubnetAttribute", "UnsupportedOperation", SubnetId=subnet_id,
            **refused,
        )  # fmt: skip
    await _refused(
        world.root, "ModifySubnetAttribute", "InvalidSubnetID.NotFound",
        SubnetId="subnet-0123456789abcdef0", EnableDns64={"Value": False},
    )  # fmt: skip
    assert await _described_subnet(world.root, subnet_id) == before


async def test_another_tenant_cannot_change_a_subnets_attributes(world: World) -> None:
    vpc_id = await _vpc(world)
    subnet_id = await _subnet(world, vpc_id, "10.9.1.0/24")
    _, other = await world.tenant("other")
    await _refused(
        other, "ModifySubnetAttribute", "InvalidSubnetID.NotFound", SubnetId=subnet_id,
        MapPublicIpOnLaunch={"Value": True},
    )  # fmt: skip
    assert (await _described_subnet(world.root, subnet_id))["MapPublicIpOnLaunch"] is False


async def test_the_lingering_interface_sweep_finds_only_what_it_looks_for(world: World) -> None:
    """What ``aws_subnet`` asks before deleting a subnet: its interfaces by ``subnet-id`` and,
    in older provider releases, by other services' ``description``."""
    vpc_id = await _vpc(world)
    subnet_id = await _subnet(world, vpc_id, "10.9.1.0/24")
    await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet_id,
    )  # fmt: skip
    await world.compute.settle()

    async def found(**given: str) -> int:
        answer = await world.root.call(
            "DescribeNetworkInterfaces", Filters=_filters(**{"subnet-id": subnet_id}, **given)
        )
        return len(answer["NetworkInterfaces"])

    assert await found() == 1
    assert await found(description="AWS Lambda VPC ENI*") == 0
    assert await found(**{"interface-type": "interface", "requester-managed": "false"}) == 1
    assert await found(**{"owner-id": world.tenant_id}) == 1
