"""Internet gateways and route tables on the EC2 wire through botocore (decision 0121): their
lifecycles with EC2's codes and words, what Terraform's resources call and read back, the
quotas as settings, a VPC made before route tables keeping its way out, and what a route
changes: each running instance's firewall, confined to its VPC's block unless it has a public
address and an active route to an internet gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.network import Vpc
from andromede.compute.routing import InternetGateway, RouteTable
from support.ec2app import ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


def _filters(**given: str) -> list[dict[str, Any]]:
    return [{"Name": name.replace("_", "."), "Values": [value]} for name, value in given.items()]


async def _vpc(client: Client, cidr: str = "10.9.0.0/16") -> str:
    vpc_id: str = (await client.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    return vpc_id


async def _subnet(client: Client, vpc_id: str, cidr: str) -> str:
    subnet_id: str = (await client.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr))["Subnet"][
        "SubnetId"
    ]
    return subnet_id


async def _gateway(client: Client, vpc_id: str | None = None) -> str:
    gateway_id: str = (await client.call("CreateInternetGateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    if vpc_id is not None:
        await client.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    return gateway_id


async def _table(client: Client, table_id: str) -> dict[str, Any]:
    [table] = (await client.call("DescribeRouteTables", RouteTableIds=[table_id]))["RouteTables"]
    return table


async def _main_table(client: Client, vpc_id: str) -> dict[str, Any]:
    # Terraform's lookup of a VPC's main route table.
    [table] = (
        await client.call(
            "DescribeRouteTables", Filters=_filters(association_main="true", **{"vpc-id": vpc_id})
        )
    )["RouteTables"]
    return table


def _routes(table: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["DestinationCidrBlock"], r["GatewayId"], r["State"]) for r in table["Routes"]]


# -- internet gateways -----------------------------------------------------------------------


async def test_an_internet_gateway_is_made_attached_detached_and_deleted(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    made = await c.call(
        "CreateInternetGateway",
        TagSpecifications=[
            {"ResourceType": "internet-gateway", "Tags": [{"Key": "Name", "Value": "edge"}]}
        ],
    )
    gateway = made["InternetGateway"]
    gateway_id = gateway["InternetGatewayId"]
    assert gateway_id.startswith("igw-") and len(gateway_id) == 21
    assert (gateway["Attachments"], gateway["OwnerId"]) == ([], world.tenant_id)
    assert gateway["Tags"] == [{"Key": "Name", "Value": "edge"}]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    # What Terraform's attach waiter reads: the state EC2 says for a gateway, "available".
    [described] = (await c.call("DescribeInternetGateways", InternetGatewayIds=[gateway_id]))[
        "InternetGateways"
    ]
    assert described["Attachments"] == [{"State": "available", "VpcId": vpc_id}]
    for name, value in (
        ("attachment.vpc-id", vpc_id),
        ("internet-gateway-id", gateway_id),
        ("tag:Name", "edge"),
    ):
        found = await c.call("DescribeInternetGateways", Filters=_filters(**{name: value}))
        assert [g["InternetGatewayId"] for g in found["InternetGateways"]] == [gateway_id], name
    # The default VPC's gateway is attached and the tenant's too.
    for name, value in (("attachment.state", "available"), ("owner-id", world.tenant_id)):
        found = await c.call("DescribeInternetGateways", Filters=_filters(**{name: value}))
        assert len(found["InternetGateways"]) == 2, name

    message = await _refused(
        c, "AttachInternetGateway", "Resource.AlreadyAssociated",
        InternetGatewayId=gateway_id, VpcId=vpc_id,
    )  # fmt: skip
    assert f"resource {gateway_id} is already attached to network {vpc_id}" in message
    second = await _gateway(c)
    message = await _refused(
        c, "AttachInternetGateway", "InvalidParameterValue",
        InternetGatewayId=second, VpcId=vpc_id,
    )  # fmt: skip
    assert f"Network {vpc_id} already has an internet gateway attached" in message
    message = await _refused(
        c, "DeleteInternetGateway", "DependencyViolation", InternetGatewayId=gateway_id
    )
    assert f"The internetGateway '{gateway_id}' has dependencies and cannot be deleted." in message
    await _refused(
        c, "DeleteVpc", "DependencyViolation", VpcId=vpc_id
    )  # an attached gateway holds its VPC
    await _refused(
        c, "DetachInternetGateway", "Gateway.NotAttached", InternetGatewayId=second, VpcId=vpc_id
    )

    await c.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    await c.call("DeleteInternetGateway", InternetGatewayId=gateway_id)
    await c.call("DeleteInternetGateway", InternetGatewayId=second)
    message = await _refused(
        c, "DescribeInternetGateways", "InvalidInternetGatewayID.NotFound",
        InternetGatewayIds=[gateway_id],
    )  # fmt: skip
    assert f"The internetGateway ID '{gateway_id}' does not exist" in message
    await _refused(
        c, "DeleteInternetGateway", "InvalidInternetGatewayId.Malformed", InternetGatewayId="igw-x"
    )
    # The VPC lets go once nothing holds it, its main table with it.
    main_id = (await _main_table(c, vpc_id))["RouteTableId"]
    await c.call("DeleteVpc", VpcId=vpc_id)
    await _refused(
        c, "DescribeRouteTables", "InvalidRouteTableID.NotFound", RouteTableIds=[main_id]
    )


async def test_the_default_vpc_has_its_gateway_and_route_out(world: World) -> None:
    c = world.root
    [default_vpc] = (await c.call("DescribeVpcs", Filters=_filters(isDefault="true")))["Vpcs"]
    [gateway] = (
        await c.call(
            "DescribeInternetGateways",
            Filters=_filters(**{"attachment.vpc-id": default_vpc["VpcId"]}),
        )
    )["InternetGateways"]
    table = await _main_table(c, default_vpc["VpcId"])
    assert _routes(table) == [
        ("172.31.0.0/16", "local", "active"),
        (ANYWHERE, gateway["InternetGatewayId"], "active"),
    ]
    assert [r["Origin"] for r in table["Routes"]] == ["CreateRouteTable", "CreateRoute"]
    # Not made again: one gateway, however often the default VPC is looked up.
    await c.call("DescribeVpcs")
    again = await c.call("DescribeInternetGateways")
    assert [g["InternetGatewayId"] for g in again["InternetGateways"]] == [
        gateway["InternetGatewayId"]
    ]


# -- route tables and routes -----------------------------------------------------------------


async def test_routes_to_a_gateway_their_refusals_and_blackholes(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    made = await c.call(
        "CreateRouteTable",
        VpcId=vpc_id,
        TagSpecifications=[
            {"ResourceType": "route-table", "Tags": [{"Key": "tier", "Value": "web"}]}
        ],
    )
    table_id = made["RouteTable"]["RouteTableId"]
    assert made["RouteTable"]["Associations"] == []
    assert made["RouteTable"]["Tags"] == [{"Key": "tier", "Value": "web"}]
    assert _routes(made["RouteTable"]) == [("10.9.0.0/16", "local", "active")]
    detached = await _gateway(c)
    message = await _refused(
        c, "CreateRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, GatewayId=detached,
    )  # fmt: skip
    assert f"route table {table_id} and network gateway {detached} belong to different" in message
    await c.call("AttachInternetGateway", InternetGatewayId=detached, VpcId=vpc_id)
    gateway_id = detached
    answer = await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, GatewayId=gateway_id
    )
    assert answer["Return"] is True
    table = await _table(c, table_id)
    assert _routes(table) == [
        ("10.9.0.0/16", "local", "active"),
        (ANYWHERE, gateway_id, "active"),
    ]
    assert table["Routes"][1]["Origin"] == "CreateRoute"
    message = await _refused(
        c, "CreateRoute", "RouteAlreadyExists",
        RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, GatewayId=gateway_id,
    )  # fmt: skip
    assert "The route identified by 0.0.0.0/0 already exists." in message
    # Terraform reads "The gateway ID 'local' does not exist" as "cannot create a local route".
    message = await _refused(
        c, "CreateRoute", "InvalidGatewayID.NotFound",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24", GatewayId="local",
    )  # fmt: skip
    assert "The gateway ID 'local' does not exist" in message
    await _refused(
        c, "CreateRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock="10.9.3.0/24", GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock="not-a-block", GatewayId=gateway_id,
    )  # fmt: skip
    # What a route could lead to besides a gateway is refused by name, never dropped.
    message = await _refused(
        c, "CreateRoute", "UnsupportedOperation",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
        TransitGatewayId="tgw-0123456789abcdef0",
    )  # fmt: skip
    assert "TransitGatewayId" in message
    # The local route stays: Terraform's aws_route reads this message as "already gone".
    message = await _refused(
        c, "DeleteRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock="10.9.0.0/16",
    )  # fmt: skip
    assert "cannot remove local route" in message
    message = await _refused(
        c, "DeleteRoute", "InvalidRoute.NotFound",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
    )  # fmt: skip
    assert f"no route with destination-cidr-block 192.0.2.0/24 in route table {table_id}" in message
    await _refused(
        c, "ReplaceRoute", "InvalidParameterValue",
        RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24", GatewayId=gateway_id,
    )  # fmt: skip

    # Detached, its route stays as a blackhole, as on EC2; attached again, it is active.
    await c.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    assert _routes(await _table(c, table_id))[1] == (ANYWHERE, gateway_id, "blackhole")
    holes = await c.call("DescribeRouteTables", Filters=_filters(**{"route.state": "blackhole"}))
    assert [t["RouteTableId"] for t in holes["RouteTables"]] == [table_id]
    other = await _gateway(c, vpc_id)
    await c.call(
        "ReplaceRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, GatewayId=other
    )
    assert _routes(await _table(c, table_id))[1] == (ANYWHERE, other, "active")
    await c.call("DeleteRoute", RouteTableId=table_id, DestinationCidrBlock=ANYWHERE)
    assert _routes(await _table(c, table_id)) == [("10.9.0.0/16", "local", "active")]
    await c.call("DeleteRouteTable", RouteTableId=table_id)
    await _refused(
        c, "DescribeRouteTables", "InvalidRouteTableID.NotFound", RouteTableIds=[table_id]
    )


async def test_associations_explicit_and_main_as_terraform_moves_them(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    main = await _main_table(c, vpc_id)
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]

    answer = await c.call("AssociateRouteTable", RouteTableId=table_id, SubnetId=subnet_id)
    association_id = answer["AssociationId"]
    assert association_id.startswith("rtbassoc-")
    assert answer["AssociationState"] == {"State": "associated"}
    # Terraform's association waiter finds it by this filter.
    [found] = (
        await c.call(
            "DescribeRouteTables",
            Filters=_filters(**{"association.route-table-association-id": association_id}),
        )
    )["RouteTables"]
    assert found["RouteTableId"] == table_id
    assert found["Associations"] == [
        {
            "Main": False,
            "RouteTableAssociationId": association_id,
            "RouteTableId": table_id,
            "SubnetId": subnet_id,
            "AssociationState": {"State": "associated"},
        }
    ]
    by_subnet = await c.call(
        "DescribeRouteTables", Filters=_filters(**{"association.subnet-id": subnet_id})
    )
    assert [t["RouteTableId"] for t in by_subnet["RouteTables"]] == [table_id]
    message = await _refused(
        c, "AssociateRouteTable", "Resource.AlreadyAssociated",
        RouteTableId=main["RouteTableId"], SubnetId=subnet_id,
    )  # fmt: skip
    assert "conflicts with an existing association" in message
    elsewhere = await _subnet(c, await _vpc(c, "10.8.0.0/16"), "10.8.1.0/24")
    await _refused(
        c, "AssociateRouteTable", "InvalidParameterValue",
        RouteTableId=table_id, SubnetId=elsewhere,
    )  # fmt: skip
    await _refused(
        c, "AssociateRouteTable", "UnsupportedOperation",
        RouteTableId=table_id, GatewayId="igw-0123456789abcdef0",
    )  # fmt: skip
    await _refused(c, "DeleteRouteTable", "DependencyViolation", RouteTableId=table_id)
    await _refused(c, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)

    # aws_route_table_association's update: the subnet moved to the main table, a new id.
    moved = await c.call(
        "ReplaceRouteTableAssociation",
        AssociationId=association_id,
        RouteTableId=main["RouteTableId"],
    )
    assert moved["NewAssociationId"] != association_id
    assert moved["AssociationState"] == {"State": "associated"}
    await _refused(
        c, "DisassociateRouteTable", "InvalidAssociationID.NotFound", AssociationId=association_id
    )
    await c.call("DisassociateRouteTable", AssociationId=moved["NewAssociationId"])

    # aws_main_route_table_association: the main association moved to another table.
    main_association = main["Associations"][0]["RouteTableAssociationId"]
    message = await _refused(
        c, "DisassociateRouteTable", "InvalidParameterValue", AssociationId=main_association
    )
    assert f"cannot disassociate the main route table association {main_association}" in message
    await _refused(c, "DeleteRouteTable", "DependencyViolation", RouteTableId=main["RouteTableId"])
    became = await c.call(
        "ReplaceRouteTableAssociation", AssociationId=main_association, RouteTableId=table_id
    )
    now_main = await _main_table(c, vpc_id)
    assert now_main["RouteTableId"] == table_id
    assert now_main["Associations"][0]["RouteTableAssociationId"] == became["NewAssociationId"]
    assert now_main["Associations"][0]["Main"] is True
    # The former main table is an ordinary one now: it may go.
    await c.call("DeleteRouteTable", RouteTableId=main["RouteTableId"])

    # A subnet deleted takes its explicit association with it.
    again = await c.call("AssociateRouteTable", RouteTableId=table_id, SubnetId=subnet_id)
    await c.call("DeleteSubnet", SubnetId=subnet_id)
    await _refused(
        c, "DisassociateRouteTable", "InvalidAssociationID.NotFound",
        AssociationId=again["AssociationId"],
    )  # fmt: skip
    # Everything gone but the main table: the VPC goes, and its main table with it.
    await c.call("DeleteSubnet", SubnetId=elsewhere)
    await c.call("DeleteVpc", VpcId=vpc_id)
    await _refused(
        c, "DescribeRouteTables", "InvalidRouteTableID.NotFound", RouteTableIds=[table_id]
    )


async def test_quotas_are_settings(tmp_path: Path) -> None:
    async with ec2_world(
        tmp_path, max_route_tables_per_vpc=2, max_routes_per_route_table=1, max_vpcs_per_tenant=2
    ) as world:
        c = world.root
        vpc_id = await _vpc(c)
        table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
        # The main table counts, as on EC2.
        await _refused(c, "CreateRouteTable", "RouteTableLimitExceeded", VpcId=vpc_id)
        gateway_id = await _gateway(c, vpc_id)
        route = {"RouteTableId": table_id, "DestinationCidrBlock": ANYWHERE}
        await c.call("CreateRoute", **route, GatewayId=gateway_id)
        # The local route does not count; replacing one is not adding one.
        await _refused(
            c, "CreateRoute", "RouteLimitExceeded",
            RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24", GatewayId=gateway_id,
        )  # fmt: skip
        await c.call("ReplaceRoute", **route, GatewayId=gateway_id)
        # Gateways follow the VPC quota (2: the default VPC's and this one).
        await _refused(c, "CreateInternetGateway", "InternetGatewayLimitExceeded")


async def test_another_tenant_neither_sees_nor_uses_them(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    gateway_id = await _gateway(c, vpc_id)
    _, other = await world.tenant("other")
    their_vpc = await _vpc(other)
    await _refused(
        other, "DescribeInternetGateways", "InvalidInternetGatewayID.NotFound",
        InternetGatewayIds=[gateway_id],
    )  # fmt: skip
    theirs = await other.call("DescribeInternetGateways")
    assert gateway_id not in str(theirs)
    their_table = (await _main_table(other, their_vpc))["RouteTableId"]
    # Another tenant's gateway is not found as a route's target, whatever the table.
    await _refused(
        other, "CreateRoute", "InvalidGatewayID.NotFound",
        RouteTableId=their_table, DestinationCidrBlock=ANYWHERE, GatewayId=gateway_id,
    )  # fmt: skip


# -- a VPC made before route tables ----------------------------------------------------------


async def test_a_vpc_from_before_route_tables_keeps_its_way_out(world: World) -> None:
    """Before decision 0121 an instance of any VPC with a public address was reached from
    outside; such a VPC gets, on first need, a gateway and a main table routing to it."""
    store = world.compute.store
    await world.root.call("DescribeVpcs")  # the default VPC, made now
    old = Vpc("vpc-0123456789abcdef0", world.tenant_id, "10.7.0.0/16", is_default=False)
    await store.insert(old)
    table = await _main_table(world.root, old.vpc_id)
    [gateway] = (
        await world.root.call(
            "DescribeInternetGateways", Filters=_filters(**{"attachment.vpc-id": old.vpc_id})
        )
    )["InternetGateways"]
    assert _routes(table) == [
        ("10.7.0.0/16", "local", "active"),
        (ANYWHERE, gateway["InternetGatewayId"], "active"),
    ]
    # Made once: the records say so.
    stored = await store.get(Vpc, old.vpc_id)
    assert stored is not None and stored.routing_made
    assert len([t for t in await store.list(RouteTable, world.tenant_id)]) == 2
    assert len(await store.list(InternetGateway, world.tenant_id)) == 2


# -- what routes change on the hosts ---------------------------------------------------------


def _peers(rules: tuple[FirewallRule, ...]) -> set[str]:
    return {rule.cidr for rule in rules}


async def test_a_route_to_a_gateway_opens_an_instance_beyond_its_vpc(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    group = await c.call("CreateSecurityGroup", GroupName="web", Description="w", VpcId=vpc_id)
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ANYWHERE}]}
        ],
    )

    async def launch(public: bool) -> str:
        answer = await c.call(
            "RunInstances",
            ImageId=world.image.image_id,
            InstanceType="t3.nano",
            MinCount=1,
            MaxCount=1,
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": subnet_id,
                    "Groups": [group["GroupId"]],
                    "AssociatePublicIpAddress": public,
                }
            ],
        )
        instance_id: str = answer["Instances"][0]["InstanceId"]
        return instance_id

    public, private = await launch(True), await launch(False)
    await world.compute.settle()

    def firewall(instance_id: str) -> tuple[set[str], set[str]]:
        rules = world.driver.instances[instance_id].firewall
        return _peers(rules.ingress), _peers(rules.egress)

    # A new VPC has no gateway: its rules reach no further than its block.
    confined = ({"10.9.0.0/16"}, {"10.9.0.0/16"})
    assert firewall(public) == firewall(private) == confined
    gateway_id = await _gateway(c, vpc_id)
    main_id = (await _main_table(c, vpc_id))["RouteTableId"]
    await c.call(
        "CreateRoute", RouteTableId=main_id, DestinationCidrBlock=ANYWHERE, GatewayId=gateway_id
    )
    await world.compute.settle()
    # The public instance is on the internet now; the private one is not (no public address).
    assert firewall(public) == ({ANYWHERE}, {ANYWHERE})
    assert firewall(private) == confined
    # A narrower route opens only its block beyond the VPC.
    await c.call("DeleteRoute", RouteTableId=main_id, DestinationCidrBlock=ANYWHERE)
    await c.call(
        "CreateRoute", RouteTableId=main_id, DestinationCidrBlock="192.0.2.0/24",
        GatewayId=gateway_id,
    )  # fmt: skip
    await world.compute.settle()
    assert firewall(public) == ({"10.9.0.0/16", "192.0.2.0/24"},) * 2
    # The subnet moved to a table without the route: confined again.
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
    await c.call("AssociateRouteTable", RouteTableId=table_id, SubnetId=subnet_id)
    await world.compute.settle()
    assert firewall(public) == confined
    # EC2 keeps a gateway attached while an instance of the VPC holds a public address.
    message = await _refused(
        c, "DetachInternetGateway", "DependencyViolation",
        InternetGatewayId=gateway_id, VpcId=vpc_id,
    )  # fmt: skip
    assert "has some mapped public address(es)" in message
    await c.call("TerminateInstances", InstanceIds=[public])
    await world.compute.settle()
    await c.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)


async def test_create_route_table_with_a_client_token_makes_one(world: World) -> None:
    """Terraform's aws_route_table sends a ClientToken: a retry answers the same table."""
    c = world.root
    vpc_id = await _vpc(c)
    first = await c.call("CreateRouteTable", VpcId=vpc_id, ClientToken="tf-0001")
    again = await c.call("CreateRouteTable", VpcId=vpc_id, ClientToken="tf-0001")
    assert first["ClientToken"] == again["ClientToken"] == "tf-0001"
    assert first["RouteTable"]["RouteTableId"] == again["RouteTable"]["RouteTableId"]
    tables = await c.call("DescribeRouteTables", Filters=_filters(**{"vpc-id": vpc_id}))
    assert len(tables["RouteTables"]) == 2  # the main table and this one
    other_vpc = await _vpc(c, "10.8.0.0/16")
    await _refused(
        c, "CreateRouteTable", "IdempotentParameterMismatch", VpcId=other_vpc, ClientToken="tf-0001"
    )
    await _refused(
        c, "CreateRouteTable", "InvalidParameterValue", VpcId=vpc_id, ClientToken="x" * 65
    )
    # Another tenant's same token is its own.
    _, other = await world.tenant("other")
    theirs = await other.call("CreateRouteTable", VpcId=await _vpc(other), ClientToken="tf-0001")
    assert theirs["RouteTable"]["RouteTableId"] != first["RouteTable"]["RouteTableId"]


async def test_describe_pages_with_max_results_and_next_token(tmp_path: Path) -> None:
    """boto3's paginators (and Terraform's SDK) page both listings."""
    async with ec2_world(tmp_path, max_vpcs_per_tenant=10) as world:
        await _pages(world.root)


async def _pages(c: Client) -> None:
    vpc_id = await _vpc(c)
    for _ in range(6):
        await c.call("CreateRouteTable", VpcId=vpc_id)
    for _ in range(6):
        await _gateway(c)
    for action, key, field, limit in (
        ("DescribeRouteTables", "RouteTables", "RouteTableId", 5),
        ("DescribeInternetGateways", "InternetGateways", "InternetGatewayId", 5),
    ):
        everything = [item[field] for item in (await c.call(action))[key]]
        seen: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"MaxResults": limit}
            if token is not None:
                params["NextToken"] = token
            page = await c.call(action, **params)
            assert len(page[key]) <= limit
            seen += [item[field] for item in page[key]]
            token = page.get("NextToken")
            if token is None:
                break
        assert seen == sorted(everything) and len(seen) == len(everything) > limit, action
        await _refused(c, action, "InvalidParameterValue", MaxResults=4)
        await _refused(c, action, "InvalidParameterValue", NextToken="%%%")
    await _refused(
        c, "DescribeRouteTables", "InvalidParameterCombination",
        RouteTableIds=[(await _main_table(c, vpc_id))["RouteTableId"]], MaxResults=5,
    )  # fmt: skip
