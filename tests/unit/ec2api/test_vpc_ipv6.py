"""IPv6 in VPCs on the EC2 wire, parsed by botocore (decision 0217): a VPC's /56 from the
operator's pool (CreateVpc, Associate/DisassociateVpcCidrBlock), a subnet's /64 of it
(CreateSubnet, Associate/DisassociateSubnetCidrBlock, AssignIpv6AddressOnCreation), an
instance's and an interface's addresses (RunInstances, Assign/UnassignIpv6Addresses),
DescribeX's fields and filters, EC2's refusals, and another tenant's blocks out of reach."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from andromede.settings import Settings
from support.ec2app import REGION, ApiError, Client, World, ec2_world

POOL = ipaddress.IPv6Network(Settings().vpc_ipv6_pool)


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    return str(raised.value)


async def _ipv6_vpc(client: Client, cidr: str = "10.9.0.0/16") -> tuple[str, str, str]:
    vpc = (await client.call("CreateVpc", CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=True))["Vpc"]
    [association] = vpc["Ipv6CidrBlockAssociationSet"]
    return vpc["VpcId"], association["Ipv6CidrBlock"], association["AssociationId"]


def _slash64(block: str, index: int) -> str:
    return str(list(ipaddress.IPv6Network(block).subnets(new_prefix=64))[index])


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


def test_the_pool_setting_is_an_ipv6_block_of_at_least_one_slash_56() -> None:
    assert POOL.prefixlen <= 56 and POOL.is_private  # a ULA block by default
    assert Settings(vpc_ipv6_pool="2001:db8:100::/44").vpc_ipv6_pool == "2001:db8:100::/44"
    for bad in ("10.0.0.0/8", "fd00::/60", "nonsense"):
        with pytest.raises(ValueError, match="vpc_ipv6_pool"):
            Settings(vpc_ipv6_pool=bad)
    for bad_count in (0, 65):
        with pytest.raises(ValueError, match="max_ipv6_addresses_per_interface"):
            Settings(max_ipv6_addresses_per_interface=bad_count)


async def test_a_vpc_takes_a_slash_56_of_the_pool_and_describes_it(world: World) -> None:
    vpc_id, block, association_id = await _ipv6_vpc(world.root)
    network = ipaddress.IPv6Network(block)
    assert network.prefixlen == 56 and network.subnet_of(POOL)
    assert association_id.startswith("vpc-cidr-assoc-")
    [vpc] = (await world.root.call("DescribeVpcs", VpcIds=[vpc_id]))["Vpcs"]
    [shown] = vpc["Ipv6CidrBlockAssociationSet"]
    assert shown == {
        "AssociationId": association_id,
        "Ipv6CidrBlock": block,
        "Ipv6CidrBlockState": {"State": "associated"},
        "NetworkBorderGroup": REGION,
        "Ipv6Pool": "Amazon",
    }
    for name, value in (
        ("ipv6-cidr-block-association.ipv6-cidr-block", block),
        ("ipv6-cidr-block-association.association-id", association_id),
        ("ipv6-cidr-block-association.state", "associated"),
    ):
        found = await world.root.call("DescribeVpcs", Filters=[{"Name": name, "Values": [value]}])
        assert [v["VpcId"] for v in found["Vpcs"]] == [vpc_id], name
    # Another VPC, another /56; a wrong border group is refused.
    _, other, _ = await _ipv6_vpc(world.root, "10.10.0.0/16")
    assert other != block
    await _refused(
        world.root, "CreateVpc", "InvalidParameterValue", CidrBlock="10.11.0.0/16",
        AmazonProvidedIpv6CidrBlock=True, Ipv6CidrBlockNetworkBorderGroup="us-west-2-lax-1",
    )  # fmt: skip
    # What is not done is refused by name, never dropped.
    await _refused(
        world.root, "CreateVpc", "UnsupportedOperation", CidrBlock="10.11.0.0/16",
        Ipv6Pool="ipv6pool-ec2-0123456789abcdef0", Ipv6CidrBlock="2001:db8::/56",
    )  # fmt: skip


async def test_a_block_is_associated_and_disassociated_after_creation(world: World) -> None:
    vpc = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]
    assert vpc["Ipv6CidrBlockAssociationSet"] == []
    vpc_id = vpc["VpcId"]
    answer = await world.root.call(
        "AssociateVpcCidrBlock", VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True
    )
    association = answer["Ipv6CidrBlockAssociation"]
    assert answer["VpcId"] == vpc_id
    assert ipaddress.IPv6Network(association["Ipv6CidrBlock"]).subnet_of(POOL)
    await _refused(
        world.root, "AssociateVpcCidrBlock", "InvalidParameterValue", VpcId=vpc_id,
        AmazonProvidedIpv6CidrBlock=True,
    )  # fmt: skip
    await _refused(
        world.root, "AssociateVpcCidrBlock", "UnsupportedOperation", VpcId=vpc_id,
        CidrBlock="10.20.0.0/16",
    )  # fmt: skip
    # A subnet using it holds it; the primary IPv4 block never goes.
    subnet = (
        await world.root.call(
            "CreateSubnet",
            VpcId=vpc_id,
            CidrBlock="10.9.1.0/24",
            Ipv6CidrBlock=_slash64(association["Ipv6CidrBlock"], 1),
        )
    )["Subnet"]
    await _refused(
        world.root, "DisassociateVpcCidrBlock", "DependencyViolation",
        AssociationId=association["AssociationId"],
    )  # fmt: skip
    await _refused(
        world.root, "DisassociateVpcCidrBlock", "OperationNotPermitted",
        AssociationId=vpc["CidrBlockAssociationSet"][0]["AssociationId"],
    )  # fmt: skip
    [subnet_association] = subnet["Ipv6CidrBlockAssociationSet"]
    gone = await world.root.call(
        "DisassociateSubnetCidrBlock", AssociationId=subnet_association["AssociationId"]
    )
    assert gone["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"] == "disassociated"
    answer = await world.root.call(
        "DisassociateVpcCidrBlock", AssociationId=association["AssociationId"]
    )
    assert answer["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"] == "disassociated"
    [vpc] = (await world.root.call("DescribeVpcs", VpcIds=[vpc_id]))["Vpcs"]
    assert vpc["Ipv6CidrBlockAssociationSet"] == []
    await _refused(
        world.root, "DisassociateVpcCidrBlock", "InvalidVpcCidrBlockAssociationID.NotFound",
        AssociationId=association["AssociationId"],
    )  # fmt: skip
    # Given back to the pool: DeleteVpc frees it as well.
    await world.root.call("DeleteSubnet", SubnetId=subnet["SubnetId"])
    _, block, _ = await _ipv6_vpc(world.root, "10.12.0.0/16")
    assert block  # (the pool is large: another VPC takes any)


async def test_subnet_blocks_follow_ec2s_rules(world: World) -> None:
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    first = _slash64(block, 0)
    subnet = (
        await world.root.call(
            "CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24", Ipv6CidrBlock=first
        )
    )["Subnet"]
    [association] = subnet["Ipv6CidrBlockAssociationSet"]
    assert association["Ipv6CidrBlock"] == first
    assert association["AssociationId"].startswith("subnet-cidr-assoc-")
    assert association["Ipv6CidrBlockState"] == {"State": "associated"}
    assert subnet["AssignIpv6AddressOnCreation"] is False
    # Taken, outside the VPC's /56, not a /64.
    await _refused(
        world.root, "CreateSubnet", "InvalidSubnet.Conflict", VpcId=vpc_id,
        CidrBlock="10.9.2.0/24", Ipv6CidrBlock=first,
    )  # fmt: skip
    message = await _refused(
        world.root, "CreateSubnet", "InvalidSubnet.Range", VpcId=vpc_id,
        CidrBlock="10.9.2.0/24", Ipv6CidrBlock="2001:db8::/64",
    )  # fmt: skip
    assert "The IPv6 CIDR '2001:db8::/64' is invalid." in message
    await _refused(
        world.root, "CreateSubnet", "InvalidParameterValue", VpcId=vpc_id,
        CidrBlock="10.9.2.0/24", Ipv6CidrBlock=str(ipaddress.IPv6Network(block).supernet(4)),
    )  # fmt: skip
    # AssignIpv6AddressOnCreation needs a block.
    plain = (await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.3.0/24"))["Subnet"]
    message = await _refused(
        world.root, "ModifySubnetAttribute", "InvalidParameterValue",
        SubnetId=plain["SubnetId"], AssignIpv6AddressOnCreation={"Value": True},
    )  # fmt: skip
    assert "has an IPv6 CIDR block associated with it" in message
    second = _slash64(block, 2)
    answer = await world.root.call(
        "AssociateSubnetCidrBlock", SubnetId=plain["SubnetId"], Ipv6CidrBlock=second
    )
    assert answer["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"] == second
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=plain["SubnetId"],
        AssignIpv6AddressOnCreation={"Value": True},
    )  # fmt: skip
    found = await world.root.call(
        "DescribeSubnets",
        Filters=[{"Name": "ipv6-cidr-block-association.ipv6-cidr-block", "Values": [second]}],
    )
    [shown] = found["Subnets"]
    assert shown["SubnetId"] == plain["SubnetId"] and shown["AssignIpv6AddressOnCreation"]
    await _refused(
        world.root, "DisassociateSubnetCidrBlock", "InvalidSubnetCidrBlockAssociationID.NotFound",
        AssociationId="subnet-cidr-assoc-0123456789abcdef0",
    )  # fmt: skip


async def test_instances_and_interfaces_take_addresses_of_their_subnet(world: World) -> None:
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    slash64 = _slash64(block, 5)
    subnet_id = (
        await world.root.call(
            "CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24", Ipv6CidrBlock=slash64
        )
    )["Subnet"]["SubnetId"]
    instance = await _run(world, SubnetId=subnet_id, Ipv6AddressCount=2)
    [nic] = instance["NetworkInterfaces"]
    addresses = [a["Ipv6Address"] for a in nic["Ipv6Addresses"]]
    assert len(addresses) == 2
    assert all(ipaddress.IPv6Address(a) in ipaddress.IPv6Network(slash64) for a in addresses)
    found = await world.root.call(
        "DescribeNetworkInterfaces",
        Filters=[{"Name": "ipv6-addresses.ipv6-address", "Values": [addresses[0]]}],
    )
    assert [n["NetworkInterfaceId"] for n in found["NetworkInterfaces"]] == [
        nic["NetworkInterfaceId"]
    ]
    # Named ones; one taken; more than the setting allows.
    named = str(ipaddress.IPv6Network(slash64).network_address + 0x1234)
    answer = await world.root.call(
        "AssignIpv6Addresses", NetworkInterfaceId=nic["NetworkInterfaceId"], Ipv6Addresses=[named]
    )
    assert answer["AssignedIpv6Addresses"] == [named]
    await _refused(
        world.root, "RunInstances", "InvalidIPAddress.InUse", ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1, MaxCount=1, SubnetId=subnet_id, Ipv6Addresses=[{"Ipv6Address": named}],
    )  # fmt: skip
    await _refused(
        world.root, "AssignIpv6Addresses", "InvalidParameterValue",
        NetworkInterfaceId=nic["NetworkInterfaceId"],
        Ipv6AddressCount=Settings().max_ipv6_addresses_per_interface,
    )  # fmt: skip
    await _refused(
        world.root, "AssignIpv6Addresses", "InvalidParameterCombination",
        NetworkInterfaceId=nic["NetworkInterfaceId"], Ipv6AddressCount=1,
        Ipv6Addresses=[str(ipaddress.IPv6Network(slash64).network_address + 0x99)],
    )  # fmt: skip
    await _refused(
        world.root, "AssignIpv6Addresses", "InvalidParameterValue",
        NetworkInterfaceId=nic["NetworkInterfaceId"], Ipv6Addresses=["2001:db8::5"],
    )  # fmt: skip
    answer = await world.root.call(
        "UnassignIpv6Addresses", NetworkInterfaceId=nic["NetworkInterfaceId"],
        Ipv6Addresses=[addresses[0]],
    )  # fmt: skip
    assert answer["UnassignedIpv6Addresses"] == [addresses[0]]
    [nic] = (
        await world.root.call(
            "DescribeNetworkInterfaces", NetworkInterfaceIds=[nic["NetworkInterfaceId"]]
        )
    )["NetworkInterfaces"]
    assert {a["Ipv6Address"] for a in nic["Ipv6Addresses"]} == {addresses[1], named}
    # The subnet's block is held while addresses are.
    [association] = (await world.root.call("DescribeSubnets", SubnetIds=[subnet_id]))["Subnets"][0][
        "Ipv6CidrBlockAssociationSet"
    ]
    await _refused(
        world.root, "DisassociateSubnetCidrBlock", "DependencyViolation",
        AssociationId=association["AssociationId"],
    )  # fmt: skip


async def test_assign_on_creation_gives_one_address_and_a_plain_subnet_none(world: World) -> None:
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    subnet_id = (
        await world.root.call(
            "CreateSubnet",
            VpcId=vpc_id,
            CidrBlock="10.9.1.0/24",
            Ipv6CidrBlock=_slash64(block, 0),
        )
    )["Subnet"]["SubnetId"]
    instance = await _run(world, SubnetId=subnet_id)
    assert instance["NetworkInterfaces"][0]["Ipv6Addresses"] == []
    await world.root.call(
        "ModifySubnetAttribute", SubnetId=subnet_id, AssignIpv6AddressOnCreation={"Value": True}
    )
    instance = await _run(world, SubnetId=subnet_id)
    assert len(instance["NetworkInterfaces"][0]["Ipv6Addresses"]) == 1
    plain = (await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.2.0/24"))[
        "Subnet"
    ]["SubnetId"]
    await _refused(
        world.root, "RunInstances", "InvalidParameterValue", ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1, MaxCount=1, SubnetId=plain, Ipv6AddressCount=1,
    )  # fmt: skip
    await _refused(
        world.root, "RunInstances", "InvalidParameterCombination", ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1, MaxCount=1, SubnetId=subnet_id, Ipv6AddressCount=1,
        Ipv6Addresses=[{"Ipv6Address": str(ipaddress.IPv6Network(_slash64(block, 0))[9])}],
    )  # fmt: skip


async def test_another_tenants_blocks_and_addresses_are_out_of_reach(world: World) -> None:
    vpc_id, block, association_id = await _ipv6_vpc(world.root)
    subnet = (
        await world.root.call(
            "CreateSubnet",
            VpcId=vpc_id,
            CidrBlock="10.9.1.0/24",
            Ipv6CidrBlock=_slash64(block, 0),
        )
    )["Subnet"]
    _, other = await world.tenant("other")
    await _refused(
        other, "DisassociateVpcCidrBlock", "InvalidVpcCidrBlockAssociationID.NotFound",
        AssociationId=association_id,
    )  # fmt: skip
    await _refused(
        other, "AssociateSubnetCidrBlock", "InvalidSubnetID.NotFound",
        SubnetId=subnet["SubnetId"], Ipv6CidrBlock=_slash64(block, 1),
    )  # fmt: skip
    await _refused(
        other, "AssociateVpcCidrBlock", "InvalidVpcID.NotFound", VpcId=vpc_id,
        AmazonProvidedIpv6CidrBlock=True,
    )  # fmt: skip
    # The other tenant's own VPC takes another /56: blocks are unique across tenants.
    _, theirs, _ = await _ipv6_vpc(other)
    assert theirs != block


async def test_an_exhausted_pool_and_no_pool_are_said_so(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, vpc_ipv6_pool="fd00:1::/56") as world:
        await _ipv6_vpc(world.root)
        await _refused(
            world.root, "CreateVpc", "InsufficientCidrBlocks", CidrBlock="10.1.0.0/16",
            AmazonProvidedIpv6CidrBlock=True,
        )  # fmt: skip
    (tmp_path / "none").mkdir()
    async with ec2_world(tmp_path / "none", vpc_ipv6_pool="") as world:
        await _refused(
            world.root, "CreateVpc", "UnsupportedOperation", CidrBlock="10.1.0.0/16",
            AmazonProvidedIpv6CidrBlock=True,
        )  # fmt: skip


async def test_what_terraform_reads_back_of_aws_vpc_and_aws_subnet(world: World) -> None:
    """hashicorp/aws's ``aws_vpc`` with ``assign_generated_ipv6_cidr_block`` waits for the
    association by its id to be ``associated`` and reads ``ipv6Pool`` Amazon (else it plans a
    change); ``aws_subnet`` with ``ipv6_cidr_block`` waits likewise by the subnet's."""
    vpc_id, block, association_id = await _ipv6_vpc(world.root)
    found = await world.root.call(
        "DescribeVpcs",
        Filters=[
            {"Name": "ipv6-cidr-block-association.association-id", "Values": [association_id]}
        ],
    )
    [association] = found["Vpcs"][0]["Ipv6CidrBlockAssociationSet"]
    assert (association["Ipv6Pool"], association["Ipv6CidrBlockState"]["State"]) == (
        "Amazon",
        "associated",
    )
    subnet = (
        await world.root.call(
            "CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24", Ipv6CidrBlock=_slash64(block, 3)
        )
    )["Subnet"]
    [made] = subnet["Ipv6CidrBlockAssociationSet"]
    found = await world.root.call(
        "DescribeSubnets",
        Filters=[
            {
                "Name": "ipv6-cidr-block-association.association-id",
                "Values": [made["AssociationId"]],
            }
        ],
    )
    [shown] = found["Subnets"]
    assert shown["Ipv6CidrBlockAssociationSet"] == [made]
    assert (shown["AssignIpv6AddressOnCreation"], shown["Ipv6Native"]) == (False, False)


async def test_every_route_table_of_the_vpc_lists_the_ipv6_local_route(world: World) -> None:
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    await world.root.call("CreateRouteTable", VpcId=vpc_id)
    found = await world.root.call(
        "DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    assert len(found["RouteTables"]) == 2
    for table in found["RouteTables"]:
        [local] = [r for r in table["Routes"] if "DestinationIpv6CidrBlock" in r]
        assert local == {
            "DestinationIpv6CidrBlock": block,
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }


async def test_groups_of_an_ipv6_vpc_send_ipv6_as_ec2s_do(world: World) -> None:
    """EC2 adds ``::/0`` egress to a new group of a VPC with IPv6, and to the default group
    of a VPC made with IPv6 or given a block later (once)."""

    def ipv6_egress(group: dict[str, Any]) -> list[str]:
        return [r["CidrIpv6"] for p in group["IpPermissionsEgress"] for r in p["Ipv6Ranges"]]

    async def groups(vpc_id: str) -> dict[str, dict[str, Any]]:
        found = await world.root.call(
            "DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        return {g["GroupName"]: g for g in found["SecurityGroups"]}

    vpc_id, _, _ = await _ipv6_vpc(world.root)
    await world.root.call("CreateSecurityGroup", GroupName="web", Description="d", VpcId=vpc_id)
    made = await groups(vpc_id)
    assert ipv6_egress(made["default"]) == ["::/0"] and ipv6_egress(made["web"]) == ["::/0"]
    later = (await world.root.call("CreateVpc", CidrBlock="10.10.0.0/16"))["Vpc"]["VpcId"]
    await world.root.call("CreateSecurityGroup", GroupName="old", Description="d", VpcId=later)
    assert ipv6_egress((await groups(later))["default"]) == []
    await world.root.call("AssociateVpcCidrBlock", VpcId=later, AmazonProvidedIpv6CidrBlock=True)
    shown = await groups(later)
    assert ipv6_egress(shown["default"]) == ["::/0"] and ipv6_egress(shown["old"]) == []


async def test_a_route_to_an_ipv6_block_leads_to_an_internet_gateway(world: World) -> None:
    """Terraform's ``aws_route`` with ``destination_ipv6_cidr_block = "::/0"``: stored and
    shown with EC2's state; its other targets, and a block within the VPC's, refused."""
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    table = (await world.root.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]
    table_id = table["RouteTableId"]
    gateway = (await world.root.call("CreateInternetGateway"))["InternetGateway"]
    gateway_id = gateway["InternetGatewayId"]
    await world.root.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationIpv6CidrBlock="::/0", GatewayId=gateway_id
    )

    async def routes() -> list[dict[str, Any]]:
        found = await world.root.call("DescribeRouteTables", RouteTableIds=[table_id])
        return [r for r in found["RouteTables"][0]["Routes"] if "DestinationIpv6CidrBlock" in r]

    assert await routes() == [
        {
            "DestinationIpv6CidrBlock": "::/0",
            "GatewayId": gateway_id,
            "Origin": "CreateRoute",
            "State": "active",
        },
        {
            "DestinationIpv6CidrBlock": block,
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        },
    ]
    found = await world.root.call(
        "DescribeRouteTables",
        Filters=[{"Name": "route.destination-ipv6-cidr-block", "Values": ["::/0"]}],
    )
    assert [t["RouteTableId"] for t in found["RouteTables"]] == [table_id]
    await _refused(
        world.root, "CreateRoute", "RouteAlreadyExists", RouteTableId=table_id,
        DestinationIpv6CidrBlock="::/0", GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        world.root, "CreateRoute", "InvalidParameterValue", RouteTableId=table_id,
        DestinationIpv6CidrBlock=_slash64(block, 1), GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        world.root, "CreateRoute", "InvalidParameterValue", RouteTableId=table_id,
        DestinationIpv6CidrBlock="nonsense", GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        world.root, "CreateRoute", "UnsupportedOperation", RouteTableId=table_id,
        DestinationIpv6CidrBlock="2001:db8::/32", NatGatewayId="nat-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        world.root, "CreateRoute", "UnsupportedOperation", RouteTableId=table_id,
        DestinationIpv6CidrBlock="2001:db8::/32", EgressOnlyInternetGatewayId="eigw-01234567",
    )  # fmt: skip
    # Detached, the gateway leaves a blackhole, as for IPv4.
    await world.root.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    assert (await routes())[0]["State"] == "blackhole"
    await world.root.call("DeleteRoute", RouteTableId=table_id, DestinationIpv6CidrBlock="::/0")
    assert [r["GatewayId"] for r in await routes()] == ["local"]
    await _refused(
        world.root, "DeleteRoute", "InvalidRoute.NotFound", RouteTableId=table_id,
        DestinationIpv6CidrBlock="::/0",
    )  # fmt: skip
    _, other = await world.tenant("other")
    await _refused(
        other, "CreateRoute", "InvalidRouteTableID.NotFound", RouteTableId=table_id,
        DestinationIpv6CidrBlock="::/0", GatewayId=gateway_id,
    )  # fmt: skip


async def test_an_interface_is_made_with_its_ipv6_addresses(world: World) -> None:
    """CreateNetworkInterface ``Ipv6AddressCount`` / ``Ipv6Addresses`` (Terraform's
    ``aws_network_interface`` ``ipv6_address_count``): written with the interface, given back
    when it is deleted."""
    vpc_id, block, _ = await _ipv6_vpc(world.root)
    slash64 = _slash64(block, 0)
    subnet_id = (
        await world.root.call(
            "CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24", Ipv6CidrBlock=slash64
        )
    )["Subnet"]["SubnetId"]
    counted = (
        await world.root.call("CreateNetworkInterface", SubnetId=subnet_id, Ipv6AddressCount=2)
    )["NetworkInterface"]
    assert len(counted["Ipv6Addresses"]) == 2
    named_address = str(ipaddress.IPv6Network(slash64).network_address + 0x77)
    named = (
        await world.root.call(
            "CreateNetworkInterface",
            SubnetId=subnet_id,
            Ipv6Addresses=[{"Ipv6Address": named_address}],
        )
    )["NetworkInterface"]
    assert named["Ipv6Addresses"] == [{"Ipv6Address": named_address, "IsPrimaryIpv6": False}]
    await _refused(
        world.root, "CreateNetworkInterface", "InvalidIPAddress.InUse", SubnetId=subnet_id,
        Ipv6Addresses=[{"Ipv6Address": named_address}],
    )  # fmt: skip
    await world.root.call("DeleteNetworkInterface", NetworkInterfaceId=named["NetworkInterfaceId"])
    again = (
        await world.root.call(
            "CreateNetworkInterface",
            SubnetId=subnet_id,
            Ipv6Addresses=[{"Ipv6Address": named_address}],
        )
    )["NetworkInterface"]
    assert again["Ipv6Addresses"][0]["Ipv6Address"] == named_address
    plain = (await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.2.0/24"))[
        "Subnet"
    ]["SubnetId"]
    await _refused(
        world.root, "CreateNetworkInterface", "InvalidParameterValue", SubnetId=plain,
        Ipv6AddressCount=1,
    )  # fmt: skip


async def test_the_default_acl_of_an_ipv6_vpc_lets_ipv6_through_as_ec2s(world: World) -> None:
    """Rule 101 allowing ``::/0`` each way in the default ACL of a VPC made with a block or
    given one; the hosts judge IPv6 by these entries."""

    async def entries(vpc_id: str) -> set[tuple[int, bool, str, str]]:
        found = await world.root.call(
            "DescribeNetworkAcls",
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "default", "Values": ["true"]},
            ],
        )
        return {
            (e["RuleNumber"], e["Egress"], e["RuleAction"], e["Ipv6CidrBlock"])
            for e in found["NetworkAcls"][0]["Entries"]
            if "Ipv6CidrBlock" in e
        }

    expected = {(101, False, "allow", "::/0"), (101, True, "allow", "::/0")}
    vpc_id, _, _ = await _ipv6_vpc(world.root)
    assert await entries(vpc_id) == expected
    later = (await world.root.call("CreateVpc", CidrBlock="10.10.0.0/16"))["Vpc"]["VpcId"]
    assert await entries(later) == set()
    await world.root.call("AssociateVpcCidrBlock", VpcId=later, AmazonProvidedIpv6CidrBlock=True)
    assert await entries(later) == expected
