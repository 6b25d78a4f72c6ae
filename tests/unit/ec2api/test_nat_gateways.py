"""NAT gateways on the EC2 wire through botocore (decision 0129): their lifecycle with what
Terraform's ``aws_nat_gateway`` sends and reads back, EC2's codes and words, the Elastic IP and
the private address they hold, the quota and the visibility of a deleted one as settings, the
dependencies EC2 keeps, routes to them turning active then blackhole, and what such a route
changes on the hosts: a private instance's firewall opened beyond its VPC for its egress."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.nat_gateway import NatGateway, NatGatewayState
from andromede.compute.network import NetworkInterface
from support.ec2app import ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


def _filters(**given: str) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": [value]} for name, value in given.items()]


async def _public_vpc(c: Client, cidr: str = "10.9.0.0/16") -> tuple[str, str, str]:
    """A VPC with an internet gateway attached and a public subnet: (vpc, subnet, gateway)."""
    vpc_id: str = (await c.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    block = ipaddress.IPv4Network(cidr)
    subnet_cidr = str(next(block.subnets(new_prefix=24)))
    subnet_id: str = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock=subnet_cidr))["Subnet"][
        "SubnetId"
    ]
    gateway_id: str = (await c.call("CreateInternetGateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    return vpc_id, subnet_id, gateway_id


async def _address(c: Client) -> str:
    allocation_id: str = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    return allocation_id


async def _nat(c: Client, subnet_id: str, allocation_id: str, **extra: Any) -> dict[str, Any]:
    made: dict[str, Any] = (
        await c.call("CreateNatGateway", SubnetId=subnet_id, AllocationId=allocation_id, **extra)
    )["NatGateway"]
    return made


async def _described(c: Client, nat_id: str) -> dict[str, Any]:
    [nat] = (await c.call("DescribeNatGateways", NatGatewayIds=[nat_id]))["NatGateways"]
    return nat


async def _main_table(c: Client, vpc_id: str) -> str:
    [table] = (
        await c.call(
            "DescribeRouteTables",
            Filters=[
                {"Name": "association.main", "Values": ["true"]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ],
        )
    )["RouteTables"]
    table_id: str = table["RouteTableId"]
    return table_id


async def _routes(c: Client, table_id: str) -> list[tuple[str, str | None, str | None, str]]:
    [table] = (await c.call("DescribeRouteTables", RouteTableIds=[table_id]))["RouteTables"]
    return [
        (r["DestinationCidrBlock"], r.get("GatewayId"), r.get("NatGatewayId"), r["State"])
        for r in table["Routes"]
    ]


# -- lifecycle -------------------------------------------------------------------------------


async def test_a_nat_gateway_is_made_described_and_deleted(world: World) -> None:
    c = world.root
    vpc_id, subnet_id, _ = await _public_vpc(c)
    allocation_id = await _address(c)
    # What Terraform's aws_nat_gateway sends: a client token and tags of type natgateway.
    made = await c.call(
        "CreateNatGateway",
        SubnetId=subnet_id,
        AllocationId=allocation_id,
        ConnectivityType="public",
        ClientToken="terraform-0001",
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "a"}]}],
    )
    assert made["ClientToken"] == "terraform-0001"
    nat = made["NatGateway"]
    nat_id = nat["NatGatewayId"]
    assert nat_id.startswith("nat-") and len(nat_id) == 21
    # EC2 answers a new gateway pending; the waiter then finds it available.
    assert (nat["State"], nat["SubnetId"], nat["VpcId"]) == ("pending", subnet_id, vpc_id)
    described = await _described(c, nat_id)
    assert described["State"] == "available"
    assert described["ConnectivityType"] == "public"
    assert described["Tags"] == [{"Key": "Name", "Value": "a"}]
    assert "DeleteTime" not in described and described["CreateTime"]
    [address] = described["NatGatewayAddresses"]
    public_ip = (await c.call("DescribeAddresses", AllocationIds=[allocation_id]))["Addresses"][0]
    # The subnet's lowest usable address: a NAT gateway takes its private address as an
    # instance does.
    assert address["PrivateIp"] == "10.9.0.4"
    assert address["AllocationId"] == allocation_id
    assert address["PublicIp"] == public_ip["PublicIp"]
    assert address["IsPrimary"] is True and address["Status"] == "succeeded"
    # DescribeAddresses shows the gateway's association, on its interface, and no instance.
    assert public_ip["AssociationId"] == address["AssociationId"]
    assert public_ip["NetworkInterfaceId"] == address["NetworkInterfaceId"]
    assert public_ip["PrivateIpAddress"] == "10.9.0.4"
    assert public_ip["NetworkInterfaceOwnerId"] == world.tenant_id
    assert "InstanceId" not in public_ip
    # The same token answers the same gateway; with other parameters, EC2's mismatch.
    again = await c.call(
        "CreateNatGateway",
        SubnetId=subnet_id,
        AllocationId=allocation_id,
        ClientToken="terraform-0001",
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "a"}]}],
    )
    assert again["NatGateway"]["NatGatewayId"] == nat_id
    await _refused(
        c, "CreateNatGateway", "IdempotentParameterMismatch",
        SubnetId=subnet_id, AllocationId=allocation_id, ClientToken="terraform-0001",
    )  # fmt: skip
    assert len((await c.call("DescribeNatGateways"))["NatGateways"]) == 1

    # Its address is never given to an instance of the subnet.
    launched = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano",
        MinCount=1, MaxCount=1, SubnetId=subnet_id,
    )  # fmt: skip
    assert launched["Instances"][0]["PrivateIpAddress"] == "10.9.0.5"
    for name, value in (
        ("nat-gateway-id", nat_id),
        ("state", "available"),
        ("subnet-id", subnet_id),
        ("vpc-id", vpc_id),
        ("tag:Name", "a"),
        ("tag-key", "Name"),
    ):
        found = await c.call("DescribeNatGateways", Filter=_filters(**{name: value}))
        assert [n["NatGatewayId"] for n in found["NatGateways"]] == [nat_id], name
    found = await c.call("DescribeNatGateways", Filter=_filters(state="deleted"))
    assert found["NatGateways"] == []
    # Tags through CreateTags / DeleteTags / DescribeTags, resource type natgateway.
    await c.call("CreateTags", Resources=[nat_id], Tags=[{"Key": "tier", "Value": "edge"}])
    tags = await c.call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [nat_id]}])
    assert {(t["Key"], t["ResourceType"]) for t in tags["Tags"]} == {
        ("Name", "natgateway"),
        ("tier", "natgateway"),
    }
    await c.call("DeleteTags", Resources=[nat_id], Tags=[{"Key": "tier"}])
    assert (await _described(c, nat_id))["Tags"] == [{"Key": "Name", "Value": "a"}]

    deleted = await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    assert deleted["NatGatewayId"] == nat_id
    gone = await _described(c, nat_id)
    # What Terraform's delete waiter reads: deleted, which it counts as gone.
    assert gone["State"] == "deleted" and gone["DeleteTime"]
    # Its address and interface are let go of: the address is free again, the private one
    # given to the next instance.
    [free] = (await c.call("DescribeAddresses", AllocationIds=[allocation_id]))["Addresses"]
    assert "AssociationId" not in free and "NetworkInterfaceId" not in free
    assert world.compute.store and not [
        i
        for i in await world.compute.store.list(NetworkInterface, world.tenant_id)
        if i.interface_type == "nat_gateway"
    ]
    # Deleting it again answers it (EC2 does while it is shown).
    assert (await c.call("DeleteNatGateway", NatGatewayId=nat_id))["NatGatewayId"] == nat_id
    await c.call("ReleaseAddress", AllocationId=allocation_id)


async def test_a_deleted_gateway_is_shown_for_a_while(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, nat_gateway_deleted_visible_seconds=60) as world:
        c = world.root
        _, subnet_id, _ = await _public_vpc(c)
        nat_id = (await _nat(c, subnet_id, await _address(c)))["NatGatewayId"]
        await c.call("DeleteNatGateway", NatGatewayId=nat_id)
        now = world.compute.clock()
        world.compute.clock = lambda: now + timedelta(seconds=59)
        assert (await _described(c, nat_id))["State"] == "deleted"
        world.compute.clock = lambda: now + timedelta(seconds=61)
        assert (await c.call("DescribeNatGateways"))["NatGateways"] == []
        message = await _refused(
            c, "DescribeNatGateways", "NatGatewayNotFound", NatGatewayIds=[nat_id]
        )
        assert nat_id in message
        await _refused(c, "DeleteNatGateway", "NatGatewayNotFound", NatGatewayId=nat_id)


# -- refusals --------------------------------------------------------------------------------


async def test_what_create_refuses_with_ec2s_codes(world: World) -> None:
    c = world.root
    _, subnet_id, _ = await _public_vpc(c)
    allocation_id = await _address(c)
    for name, value, wire in (
        ("SecondaryAllocationIds", [allocation_id], "SecondaryAllocationId.1"),
        ("SecondaryPrivateIpAddresses", ["10.9.0.9"], "SecondaryPrivateIpAddress.1"),
        ("SecondaryPrivateIpAddressCount", 1, "SecondaryPrivateIpAddressCount"),
        ("PrivateIpAddress", "10.9.0.9", "PrivateIpAddress"),
    ):
        message = await _refused(
            c, "CreateNatGateway", "UnsupportedOperation",
            SubnetId=subnet_id, AllocationId=allocation_id, **{name: value},
        )  # fmt: skip
        assert f"the parameter {wire} is not supported" in message
    message = await _refused(
        c, "CreateNatGateway", "UnsupportedOperation",
        SubnetId=subnet_id, ConnectivityType="private",
    )  # fmt: skip
    assert "ConnectivityType" in message
    await _refused(c, "CreateNatGateway", "MissingParameter", SubnetId=subnet_id)
    await _refused(
        c, "CreateNatGateway", "InvalidAllocationID.NotFound",
        SubnetId=subnet_id, AllocationId="eipalloc-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        c, "CreateNatGateway", "InvalidSubnetID.NotFound",
        SubnetId="subnet-0123456789abcdef0", AllocationId=allocation_id,
    )  # fmt: skip
    # Another tenant's address is not found either.
    _, other = await world.tenant("other")
    theirs = await _address(other)
    await _refused(
        c, "CreateNatGateway", "InvalidAllocationID.NotFound",
        SubnetId=subnet_id, AllocationId=theirs,
    )  # fmt: skip
    # An address held already (by another gateway, or an instance).
    await _nat(c, subnet_id, allocation_id)
    message = await _refused(
        c, "CreateNatGateway", "Resource.AlreadyAssociated",
        SubnetId=subnet_id, AllocationId=allocation_id,
    )  # fmt: skip
    assert f"Elastic IP address {allocation_id} is already associated" in message
    # A VPC without an internet gateway: EC2's words.
    bare = (await c.call("CreateVpc", CidrBlock="10.8.0.0/16"))["Vpc"]["VpcId"]
    bare_subnet = (await c.call("CreateSubnet", VpcId=bare, CidrBlock="10.8.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    message = await _refused(
        c, "CreateNatGateway", "Gateway.NotAttached",
        SubnetId=bare_subnet, AllocationId=await _address(c),
    )  # fmt: skip
    assert f"Network {bare} has no Internet gateway attached" in message
    await _refused(
        c, "CreateNatGateway", "InvalidParameterValue",
        SubnetId=subnet_id, AllocationId=allocation_id,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "v"}]}],
    )  # fmt: skip
    await _refused(
        c, "DescribeNatGateways", "NatGatewayNotFound", NatGatewayIds=["nat-0123456789abcdef0"]
    )
    await _refused(c, "DescribeNatGateways", "NatGatewayMalformed", NatGatewayIds=["nat-x"])
    await _refused(
        c, "DeleteNatGateway", "NatGatewayNotFound", NatGatewayId="nat-0123456789abcdef0"
    )


async def test_the_quota_is_a_setting(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_nat_gateways_per_az=1) as world:
        c = world.root
        _, subnet_id, _ = await _public_vpc(c)
        first = (await _nat(c, subnet_id, await _address(c)))["NatGatewayId"]
        spare = await _address(c)
        message = await _refused(
            c, "CreateNatGateway", "NatGatewayLimitExceeded", SubnetId=subnet_id,
            AllocationId=spare,
        )  # fmt: skip
        assert "NAT gateways" in message
        # A deleted gateway does not count.
        await c.call("DeleteNatGateway", NatGatewayId=first)
        await _nat(c, subnet_id, spare)


async def test_another_tenant_neither_sees_nor_deletes_it(world: World) -> None:
    c = world.root
    _, subnet_id, _ = await _public_vpc(c)
    nat_id = (await _nat(c, subnet_id, await _address(c)))["NatGatewayId"]
    _, other = await world.tenant("other")
    assert (await other.call("DescribeNatGateways"))["NatGateways"] == []
    await _refused(other, "DescribeNatGateways", "NatGatewayNotFound", NatGatewayIds=[nat_id])
    await _refused(other, "DeleteNatGateway", "NatGatewayNotFound", NatGatewayId=nat_id)
    assert (await _described(c, nat_id))["State"] == "available"


# -- dependencies ----------------------------------------------------------------------------


async def test_what_a_nat_gateway_holds_stays_until_it_is_deleted(world: World) -> None:
    c = world.root
    vpc_id, subnet_id, gateway_id = await _public_vpc(c)
    allocation_id = await _address(c)
    nat = await _nat(c, subnet_id, allocation_id)
    nat_id = nat["NatGatewayId"]
    association_id = (await _described(c, nat_id))["NatGatewayAddresses"][0]["AssociationId"]
    message = await _refused(c, "DeleteSubnet", "DependencyViolation", SubnetId=subnet_id)
    assert f"The subnet '{subnet_id}' has dependencies" in message
    await _refused(c, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)
    message = await _refused(
        c, "DetachInternetGateway", "DependencyViolation",
        InternetGatewayId=gateway_id, VpcId=vpc_id,
    )  # fmt: skip
    assert f"Network {vpc_id} has some mapped public address(es)" in message
    # Its Elastic IP is the gateway's: EC2 answers AuthFailure (with a 400) to moving,
    # disassociating or releasing it.
    instance_id = (
        await c.call(
            "RunInstances",
            ImageId=world.image.image_id,
            InstanceType="t3.nano",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet_id,
        )
    )["Instances"][0]["InstanceId"]
    await world.compute.settle()
    words = "You do not have permission to access the specified resource."
    for action, params in (
        ("ReleaseAddress", {"AllocationId": allocation_id}),
        ("DisassociateAddress", {"AssociationId": association_id}),
        (
            "AssociateAddress",
            {"AllocationId": allocation_id, "InstanceId": instance_id, "AllowReassociation": True},
        ),
        (
            "AssociateAddress",
            {
                "AllocationId": await _address(c),
                "NetworkInterfaceId": nat["NatGatewayAddresses"][0]["NetworkInterfaceId"],
            },
        ),
    ):
        assert words in await _refused(c, action, "AuthFailure", **params), action
    # The periodic repairs leave it associated (no instance holds it, and none should).
    await world.compute.settle_addresses()
    [held] = (await c.call("DescribeAddresses", AllocationIds=[allocation_id]))["Addresses"]
    assert held["AssociationId"] == association_id

    await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    await c.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    await c.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    await c.call("DeleteSubnet", SubnetId=subnet_id)
    await c.call("DeleteVpc", VpcId=vpc_id)
    await c.call("ReleaseAddress", AllocationId=allocation_id)


# -- routes ----------------------------------------------------------------------------------


async def test_routes_to_a_nat_gateway_active_then_blackhole(world: World) -> None:
    c = world.root
    vpc_id, subnet_id, gateway_id = await _public_vpc(c)
    nat_id = (await _nat(c, subnet_id, await _address(c)))["NatGatewayId"]
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
    await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, NatGatewayId=nat_id
    )
    assert (await _routes(c, table_id))[1] == (ANYWHERE, None, nat_id, "active")
    found = await c.call(
        "DescribeRouteTables", Filters=_filters(**{"route.nat-gateway-id": nat_id})
    )
    assert [t["RouteTableId"] for t in found["RouteTables"]] == [table_id]
    # ReplaceRoute moves a route between an internet gateway and a NAT gateway, both ways.
    await c.call(
        "ReplaceRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, GatewayId=gateway_id
    )
    assert (await _routes(c, table_id))[1] == (ANYWHERE, gateway_id, None, "active")
    await c.call(
        "ReplaceRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, NatGatewayId=nat_id
    )
    await _refused(
        c, "CreateRoute", "InvalidNatGatewayID.NotFound",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
        NatGatewayId="nat-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "InvalidParameterCombination",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
        NatGatewayId=nat_id, GatewayId=gateway_id,
    )  # fmt: skip
    # A NAT gateway of another VPC.
    other_vpc, other_subnet, _ = await _public_vpc(c, "10.8.0.0/16")
    theirs = (await _nat(c, other_subnet, await _address(c)))["NatGatewayId"]
    message = await _refused(
        c, "CreateRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24", NatGatewayId=theirs,
    )  # fmt: skip
    assert "belong to different networks" in message
    # Deleted: the route stays, a blackhole, and no new route may lead to it.
    await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    assert (await _routes(c, table_id))[1] == (ANYWHERE, None, nat_id, "blackhole")
    found = await c.call("DescribeRouteTables", Filters=_filters(**{"route.state": "blackhole"}))
    assert [t["RouteTableId"] for t in found["RouteTables"]] == [table_id]
    await _refused(
        c, "CreateRoute", "InvalidNatGatewayID.NotFound",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24", NatGatewayId=nat_id,
    )  # fmt: skip
    await c.call("DeleteRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE)
    assert other_vpc


# -- what a route to it changes on the hosts -------------------------------------------------


def _peers(rules: tuple[FirewallRule, ...]) -> set[str]:
    return {rule.cidr for rule in rules}


async def test_a_private_instance_reaches_out_only_through_an_available_nat_gateway(
    world: World,
) -> None:
    c = world.root
    vpc_id, public_subnet, gateway_id = await _public_vpc(c)
    private_subnet = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.2.0/24"))[
        "Subnet"
    ]["SubnetId"]
    group = await c.call("CreateSecurityGroup", GroupName="app", Description="a", VpcId=vpc_id)
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ANYWHERE}]}
        ],
    )
    launched = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=private_subnet, SecurityGroupIds=[group["GroupId"]],
    )  # fmt: skip
    instance_id = launched["Instances"][0]["InstanceId"]
    await world.compute.settle()

    def firewall() -> tuple[set[str], set[str]]:
        rules = world.driver.instances[instance_id].firewall
        return _peers(rules.ingress), _peers(rules.egress)

    def nat_routes() -> list[tuple[str, bool, bool]]:
        """What the host was told: each gateway, whether it translates there, and whether it
        carries the Internet (1.1.1.1) and never the VPC (10.9.1.1)."""
        return [
            (
                route.nat_gateway_id,
                route.translated_here,
                any(
                    ipaddress.ip_address("1.1.1.1") in ipaddress.ip_network(d)
                    for d in route.destinations
                )
                and not any(
                    ipaddress.ip_address("10.9.1.1") in ipaddress.ip_network(d)
                    for d in route.destinations
                ),
            )
            for route in world.driver.nat_routes.get(vpc_id, ())
        ]

    confined = ({"10.9.0.0/16"}, {"10.9.0.0/16"})
    assert firewall() == confined
    nat_id = (await _nat(c, public_subnet, await _address(c)))["NatGatewayId"]
    await world.compute.settle()
    # A NAT gateway alone changes nothing: no route of the subnet leads to it.
    assert firewall() == confined and nat_routes() == []
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
    await c.call("AssociateRouteTable", RouteTableId=table_id, SubnetId=private_subnet)
    await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, NatGatewayId=nat_id
    )
    await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
        NatGatewayId=nat_id,
    )  # fmt: skip
    await world.compute.settle()
    # Its gateway's subnet has no route to the internet gateway: it carries nothing out.
    assert firewall() == confined and nat_routes() == []
    await c.call(
        "CreateRoute", RouteTableId=await _main_table(c, vpc_id), DestinationCidrBlock=ANYWHERE,
        GatewayId=gateway_id,
    )  # fmt: skip
    await world.compute.settle()
    # Its egress reaches everywhere; nothing from outside reaches it (no public address); its
    # host translates for it, the VPC's block left local.
    assert firewall() == ({"10.9.0.0/16"}, {ANYWHERE})
    assert nat_routes() == [(nat_id, True, True)]
    # The gateway deleted, its routes are blackholes: confined again.
    await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    await world.compute.settle()
    assert firewall() == confined and nat_routes() == []
    stored = await world.compute.store.get(NatGateway, nat_id)
    assert stored is not None and stored.state is NatGatewayState.DELETED


async def test_its_interface_is_shown_as_ec2_shows_a_nat_gateways(world: World) -> None:
    c = world.root
    vpc_id, subnet_id, _ = await _public_vpc(c)
    allocation_id = await _address(c)
    nat_id = (await _nat(c, subnet_id, allocation_id))["NatGatewayId"]
    [held] = (await _described(c, nat_id))["NatGatewayAddresses"]
    await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano",
        MinCount=1, MaxCount=1, SubnetId=subnet_id,
    )  # fmt: skip
    found = await c.call("DescribeNetworkInterfaces", Filters=_filters(**{"vpc-id": vpc_id}))
    assert len(found["NetworkInterfaces"]) == 2  # the instance's and the gateway's
    [interface] = (
        await c.call(
            "DescribeNetworkInterfaces", Filters=_filters(**{"interface-type": "nat_gateway"})
        )
    )["NetworkInterfaces"]
    assert interface["NetworkInterfaceId"] == held["NetworkInterfaceId"]
    assert interface["RequesterManaged"] is True and interface["Groups"] == []
    assert interface["Description"] == f"Interface for NAT Gateway {nat_id}"
    assert (interface["PrivateIpAddress"], interface["SubnetId"]) == ("10.9.0.4", subnet_id)
    assert interface["Association"]["PublicIp"] == held["PublicIp"]
    assert interface["Association"]["AllocationId"] == allocation_id
    by_flag = await c.call(
        "DescribeNetworkInterfaces", Filters=_filters(**{"requester-managed": "true"})
    )
    assert [i["NetworkInterfaceId"] for i in by_flag["NetworkInterfaces"]] == [
        held["NetworkInterfaceId"]
    ]
    await c.call("DeleteNatGateway", NatGatewayId=nat_id)
    found = await c.call("DescribeNetworkInterfaces", Filters=_filters(**{"vpc-id": vpc_id}))
    assert [i["InterfaceType"] for i in found["NetworkInterfaces"]] == ["interface"]


async def test_describe_pages_with_max_results_and_next_token(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_nat_gateways_per_az=10, max_elastic_ips_per_tenant=10) as w:
        c = w.root
        _, subnet_id, _ = await _public_vpc(c)
        made = [(await _nat(c, subnet_id, await _address(c)))["NatGatewayId"] for _ in range(6)]
        seen: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"MaxResults": 5}
            if token is not None:
                params["NextToken"] = token
            page = await c.call("DescribeNatGateways", **params)
            assert len(page["NatGateways"]) <= 5
            seen += [n["NatGatewayId"] for n in page["NatGateways"]]
            token = page.get("NextToken")
            if token is None:
                break
        assert seen == sorted(made)
        await _refused(c, "DescribeNatGateways", "InvalidParameterValue", MaxResults=4)
        await _refused(c, "DescribeNatGateways", "InvalidParameterValue", MaxResults=1001)
        await _refused(c, "DescribeNatGateways", "InvalidParameterValue", NextToken="%%%")
        await _refused(
            c, "DescribeNatGateways", "InvalidParameterCombination",
            NatGatewayIds=[made[0]], MaxResults=5,
        )  # fmt: skip
