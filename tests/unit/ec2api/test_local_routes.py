"""Routes more specific than ``local`` (decision 0179), through the EC2 app in process with
botocore's own serialisation: a subnet's block routed to an appliance's interface, the local
route's target replaced by an interface and given back (``LocalTarget``), what
DescribeRouteTables shows of them, EC2's refusals, and what the hosts are told (the memory
twin): the routers' routes to the appliance, following the routes."""

from __future__ import annotations

from typing import Any

import pytest

from support.ec2app import ApiError, World

VPC = "10.20.0.0/16"
A, B, C = "10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"


async def _refused(world: World, action: str, code: str, text: str, **params: Any) -> None:
    with pytest.raises(ApiError) as raised:
        await world.root.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    assert text in str(raised.value)


async def _network(world: World) -> dict[str, str]:
    """A VPC with subnets A, B and C, an appliance instance in C (its interface's id), and a
    table of A's: ids by name."""
    vpc = (await world.root.call("CreateVpc", CidrBlock=VPC))["Vpc"]["VpcId"]
    ids = {"vpc": str(vpc)}
    for name, block in (("a", A), ("b", B), ("c", C)):
        made = await world.root.call("CreateSubnet", VpcId=vpc, CidrBlock=block)
        ids[name] = str(made["Subnet"]["SubnetId"])
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=ids["c"],
    )  # fmt: skip
    [instance] = reply["Instances"]
    ids["appliance"] = str(instance["InstanceId"])
    ids["eni"] = str(instance["NetworkInterfaces"][0]["NetworkInterfaceId"])
    ids["ip"] = str(instance["PrivateIpAddress"])
    table = (await world.root.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    await world.root.call("AssociateRouteTable", RouteTableId=table, SubnetId=ids["a"])
    ids["table"] = str(table)
    await world.compute.settle()
    return ids


async def _routes(world: World, table_id: str) -> dict[str, dict[str, Any]]:
    [table] = (await world.root.call("DescribeRouteTables", RouteTableIds=[table_id]))[
        "RouteTables"
    ]
    return {str(r["DestinationCidrBlock"]): dict(r) for r in table["Routes"]}


async def test_a_subnets_block_is_routed_through_an_appliance(world: World) -> None:
    ids = await _network(world)
    await world.root.call(
        "CreateRoute", RouteTableId=ids["table"], DestinationCidrBlock=B,
        NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    await world.compute.settle()
    route = (await _routes(world, ids["table"]))[B]
    assert (route["NetworkInterfaceId"], route["InstanceId"]) == (ids["eni"], ids["appliance"])
    assert (route["State"], route["Origin"]) == ("active", "CreateRoute")
    # A's routers send B's block to the appliance's address on C's bridge.
    [told] = world.driver.interface_routes[ids["vpc"]]
    assert (told.network_id, told.cidr, told.destinations) == (ids["a"], A, (B,))
    assert (told.target_ip, told.target_network_id) == (ids["ip"], ids["c"])
    # Replaced to another interface of the VPC (C's), deleted: the hosts follow.
    other = (await world.root.call("CreateNetworkInterface", SubnetId=ids["c"]))[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    await world.root.call(
        "ReplaceRoute", RouteTableId=ids["table"], DestinationCidrBlock=B,
        NetworkInterfaceId=other,
    )  # fmt: skip
    await world.compute.settle()
    assert (await _routes(world, ids["table"]))[B]["State"] == "blackhole"
    assert ids["vpc"] not in world.driver.interface_routes
    await world.root.call("DeleteRoute", RouteTableId=ids["table"], DestinationCidrBlock=B)
    await world.compute.settle()
    assert B not in await _routes(world, ids["table"])


async def test_the_local_route_targets_an_interface_and_comes_back(world: World) -> None:
    ids = await _network(world)
    await world.root.call(
        "ReplaceRoute", RouteTableId=ids["table"], DestinationCidrBlock=VPC,
        NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    await world.compute.settle()
    local = (await _routes(world, ids["table"]))[VPC]
    assert "GatewayId" not in local
    assert (local["NetworkInterfaceId"], local["InstanceId"]) == (ids["eni"], ids["appliance"])
    assert (local["State"], local["Origin"]) == ("active", "CreateRouteTable")
    # Not a gateway's route any more.
    by_gateway = await world.root.call(
        "DescribeRouteTables",
        Filters=[
            {"Name": "route.gateway-id", "Values": ["local"]},
            {"Name": "vpc-id", "Values": [ids["vpc"]]},
        ],
    )
    assert ids["table"] not in [t["RouteTableId"] for t in by_gateway["RouteTables"]]
    # The whole block less every more specific route goes to the appliance.
    [told] = world.driver.interface_routes[ids["vpc"]]
    assert (told.network_id, told.destinations) == (ids["a"], (VPC,))
    # Still the local route: never deleted, and no other target but an interface.
    await _refused(
        world, "DeleteRoute", "InvalidParameterValue", "cannot remove local route",
        RouteTableId=ids["table"], DestinationCidrBlock=VPC,
    )  # fmt: skip
    gateway = (await world.root.call("CreateInternetGateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    await world.root.call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=ids["vpc"])
    await _refused(
        world, "ReplaceRoute", "InvalidParameterValue", "only an interface",
        RouteTableId=ids["table"], DestinationCidrBlock=VPC, GatewayId=gateway,
    )  # fmt: skip
    # A subnet's route beside it is more specific: B's block goes there, the rest as before.
    await world.root.call(
        "CreateRoute", RouteTableId=ids["table"], DestinationCidrBlock=B,
        NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    # LocalTarget gives it back.
    await world.root.call(
        "ReplaceRoute", RouteTableId=ids["table"], DestinationCidrBlock=VPC, LocalTarget=True
    )
    await world.compute.settle()
    local = (await _routes(world, ids["table"]))[VPC]
    assert (local["GatewayId"], local["State"]) == ("local", "active")
    assert "NetworkInterfaceId" not in local
    [told] = world.driver.interface_routes[ids["vpc"]]
    assert told.destinations == (B,)
    # Given back twice: nothing changes; on another route: refused.
    await world.root.call(
        "ReplaceRoute", RouteTableId=ids["table"], DestinationCidrBlock=VPC, LocalTarget=True
    )
    await _refused(
        world, "ReplaceRoute", "InvalidParameterValue", "not a local route",
        RouteTableId=ids["table"], DestinationCidrBlock=B, LocalTarget=True,
    )  # fmt: skip
    await _refused(
        world, "ReplaceRoute", "InvalidParameterCombination", "LocalTarget",
        RouteTableId=ids["table"], DestinationCidrBlock=VPC, LocalTarget=True,
        NetworkInterfaceId=ids["eni"],
    )  # fmt: skip


async def test_refusals(world: World) -> None:
    ids = await _network(world)
    table = ids["table"]
    # Inside the VPC but no subnet's whole block.
    await _refused(
        world, "CreateRoute", "InvalidParameterValue", "entire CIDR block of a subnet",
        RouteTableId=table, DestinationCidrBlock="10.20.2.0/25", NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    await _refused(
        world, "CreateRoute", "InvalidParameterValue", "entire CIDR block of a subnet",
        RouteTableId=table, DestinationCidrBlock="10.20.8.0/24", NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    # A subnet's block to anything but an interface.
    gateway = (await world.root.call("CreateInternetGateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    await world.root.call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=ids["vpc"])
    await _refused(
        world, "CreateRoute", "InvalidParameterValue", "only an interface",
        RouteTableId=table, DestinationCidrBlock=B, GatewayId=gateway,
    )  # fmt: skip
    # The appliance inside the subnet it would inspect.
    await _refused(
        world, "CreateRoute", "InvalidParameterValue", "outside the subnet",
        RouteTableId=table, DestinationCidrBlock=C, NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    # The local route exists already: CreateRoute of it is EC2's RouteAlreadyExists.
    await _refused(
        world, "CreateRoute", "RouteAlreadyExists", "already exists",
        RouteTableId=table, DestinationCidrBlock=VPC, NetworkInterfaceId=ids["eni"],
    )  # fmt: skip
    # Nothing was added.
    assert set(await _routes(world, table)) == {VPC}
