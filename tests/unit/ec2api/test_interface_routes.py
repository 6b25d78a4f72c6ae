"""Routes to network interfaces and instances (decision 0161's addendum), through the EC2 app in
process with botocore's own serialisation: CreateRoute/ReplaceRoute with ``NetworkInterfaceId``
or ``InstanceId`` (its only interface; one with several refused as EC2 does), what
DescribeRouteTables shows of them (the instance, its owner, ``active``/``blackhole`` as the
interface is attached or not) and its ``route.instance-id`` filter, EC2's refusals; and what
the hosts are told (the memory twin): the routers' routes to the interface's address, the
senders' firewalls reaching the destination, both following attachment and detachment."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.network import default_ids
from support.ec2app import ApiError, World

BEHIND = "192.168.50.0/24"


async def _refused(world: World, action: str, code: str, **params: Any) -> None:
    with pytest.raises(ApiError) as raised:
        await world.root.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value


async def _instance(world: World) -> tuple[str, str]:
    """A running instance of the default subnet: (its id, its primary interface's id)."""
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1,
    )  # fmt: skip
    await world.compute.settle()
    [instance] = reply["Instances"]
    return str(instance["InstanceId"]), str(instance["NetworkInterfaces"][0]["NetworkInterfaceId"])


async def _main_table(world: World) -> str:
    vpc_id = default_ids(world.tenant_id).vpc_id
    [table] = (
        await world.root.call(
            "DescribeRouteTables",
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "association.main", "Values": ["true"]},
            ],
        )
    )["RouteTables"]
    return str(table["RouteTableId"])


async def _route(world: World, table_id: str, destination: str = BEHIND) -> dict[str, Any]:
    [table] = (await world.root.call("DescribeRouteTables", RouteTableIds=[table_id]))[
        "RouteTables"
    ]
    [route] = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == destination]
    return dict(route)


async def test_a_route_to_an_instances_interface_is_shown_and_told_to_the_hosts(
    world: World,
) -> None:
    vpc_id = default_ids(world.tenant_id).vpc_id
    appliance, eni = await _instance(world)
    client, _ = await _instance(world)
    table_id = await _main_table(world)
    # Off the internet, the senders reach only what their routes lead to.
    await world.root.call("DeleteRoute", RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND, NetworkInterfaceId=eni
    )
    await world.compute.settle()
    route = await _route(world, table_id)
    assert route["NetworkInterfaceId"] == eni
    assert (route["InstanceId"], route["InstanceOwnerId"]) == (appliance, world.tenant_id)
    assert (route["State"], route["Origin"]) == ("active", "CreateRoute")
    filtered = await world.root.call(
        "DescribeRouteTables", Filters=[{"Name": "route.instance-id", "Values": [appliance]}]
    )
    assert [t["RouteTableId"] for t in filtered["RouteTables"]] == [table_id]
    # The routers forward the destination to the interface's address on its subnet.
    [told] = world.driver.interface_routes[vpc_id]
    appliance_ip = world.driver.instances[appliance].spec.nic.private_ip  # type: ignore[union-attr]
    assert (told.interface_id, told.target_ip, told.destinations) == (eni, appliance_ip, (BEHIND,))
    assert told.network_id == told.target_network_id == default_ids(world.tenant_id).subnet_id
    # The senders reach it (their groups allow everything out, their routes only so much).
    egress = {r.cidr for r in world.driver.instances[client].firewall.egress}
    assert BEHIND in egress
    # Deleted, it is gone from the hosts and the firewalls.
    await world.root.call("DeleteRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND)
    await world.compute.settle()
    assert vpc_id not in world.driver.interface_routes
    assert BEHIND not in {r.cidr for r in world.driver.instances[client].firewall.egress}


async def test_an_instance_names_its_only_interface(world: World) -> None:
    appliance, eni = await _instance(world)
    table_id = await _main_table(world)
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND, InstanceId=appliance
    )
    route = await _route(world, table_id)
    assert (route["NetworkInterfaceId"], route["InstanceId"]) == (eni, appliance)
    # With a second interface attached, the instance no longer says which: EC2's refusal.
    subnet = default_ids(world.tenant_id).subnet_id
    second = (await world.root.call("CreateNetworkInterface", SubnetId=subnet))["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    await world.root.call(
        "AttachNetworkInterface", NetworkInterfaceId=second, InstanceId=appliance, DeviceIndex=1
    )
    with pytest.raises(ApiError) as several:
        await world.root.call(
            "ReplaceRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND,
            InstanceId=appliance,
        )  # fmt: skip
    assert several.value.code == "InvalidInstanceID"
    assert "multiple interfaces" in str(several.value)
    # The interface itself is named instead: ReplaceRoute moves the route to it.
    await world.root.call(
        "ReplaceRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND,
        NetworkInterfaceId=second,
    )  # fmt: skip
    route = await _route(world, table_id)
    assert (route["NetworkInterfaceId"], route["InstanceId"]) == (second, appliance)


async def test_a_detached_interface_is_a_blackhole_until_attached_again(world: World) -> None:
    vpc_id = default_ids(world.tenant_id).vpc_id
    appliance, _ = await _instance(world)
    subnet = default_ids(world.tenant_id).subnet_id
    made = (await world.root.call("CreateNetworkInterface", SubnetId=subnet))["NetworkInterface"]
    eni = made["NetworkInterfaceId"]
    table_id = await _main_table(world)
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock=BEHIND, NetworkInterfaceId=eni
    )
    await world.compute.settle()
    route = await _route(world, table_id)
    assert route["State"] == "blackhole" and "InstanceId" not in route
    assert vpc_id not in world.driver.interface_routes
    attachment = (
        await world.root.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId=appliance, DeviceIndex=1
        )
    )["AttachmentId"]
    await world.compute.settle()
    route = await _route(world, table_id)
    assert (route["State"], route["InstanceId"]) == ("active", appliance)
    [told] = world.driver.interface_routes[vpc_id]
    assert told.target_ip == made["PrivateIpAddress"]
    await world.root.call("DetachNetworkInterface", AttachmentId=attachment)
    await world.compute.settle()
    assert (await _route(world, table_id))["State"] == "blackhole"
    assert vpc_id not in world.driver.interface_routes
    # Deleted, the route stays as a blackhole, as on EC2.
    await world.root.call("DeleteNetworkInterface", NetworkInterfaceId=eni)
    assert (await _route(world, table_id))["State"] == "blackhole"


async def test_a_more_specific_route_wins_over_the_interfaces(world: World) -> None:
    vpc_id = default_ids(world.tenant_id).vpc_id
    _, eni = await _instance(world)
    table_id = await _main_table(world)
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock="10.0.0.0/8",
        NetworkInterfaceId=eni,
    )  # fmt: skip
    gateway = (await world.root.call("DescribeInternetGateways"))["InternetGateways"][0]
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock="10.1.0.0/16",
        GatewayId=gateway["InternetGatewayId"],
    )  # fmt: skip
    await world.compute.settle()
    [told] = world.driver.interface_routes[vpc_id]
    assert "10.1.0.0/16" not in told.destinations
    assert "10.0.0.0/16" in told.destinations and "10.128.0.0/9" in told.destinations


async def test_refusals(world: World) -> None:
    table_id = await _main_table(world)
    await _refused(
        world, "CreateRoute", "InvalidNetworkInterfaceID.NotFound", RouteTableId=table_id,
        DestinationCidrBlock=BEHIND, NetworkInterfaceId="eni-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        world, "CreateRoute", "InvalidInstanceID.NotFound", RouteTableId=table_id,
        DestinationCidrBlock=BEHIND, InstanceId="i-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        world, "CreateRoute", "InvalidParameterCombination", RouteTableId=table_id,
        DestinationCidrBlock=BEHIND, InstanceId="i-0123456789abcdef0",
        NetworkInterfaceId="eni-0123456789abcdef0",
    )  # fmt: skip
    # An interface of another VPC.
    vpc = (await world.root.call("CreateVpc", CidrBlock="10.8.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await world.root.call("CreateSubnet", VpcId=vpc, CidrBlock="10.8.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    other = (await world.root.call("CreateNetworkInterface", SubnetId=subnet))["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    await _refused(
        world, "CreateRoute", "InvalidParameterValue", RouteTableId=table_id,
        DestinationCidrBlock=BEHIND, NetworkInterfaceId=other,
    )  # fmt: skip


async def test_another_tenants_interface_or_instance_is_not_found(world: World) -> None:
    instance, eni = await _instance(world)
    _, intruder = await world.tenant("intruder")
    theirs = (await intruder.call("DescribeRouteTables"))["RouteTables"][0]["RouteTableId"]
    for target, code in (
        ({"NetworkInterfaceId": eni}, "InvalidNetworkInterfaceID.NotFound"),
        ({"InstanceId": instance}, "InvalidInstanceID.NotFound"),
    ):
        with pytest.raises(ApiError) as foreign:
            await intruder.call(
                "CreateRoute", RouteTableId=theirs, DestinationCidrBlock=BEHIND, **target
            )
        assert foreign.value.code == code
    routes = (await intruder.call("DescribeRouteTables"))["RouteTables"][0]["Routes"]
    assert all("NetworkInterfaceId" not in r for r in routes)


async def test_a_prefix_list_routed_to_an_interface_is_its_blocks(world: World) -> None:
    vpc_id = default_ids(world.tenant_id).vpc_id
    _, eni = await _instance(world)
    table_id = await _main_table(world)
    plist = (
        await world.root.call(
            "CreateManagedPrefixList", PrefixListName="behind", AddressFamily="IPv4",
            MaxEntries=4, Entries=[{"Cidr": "192.0.2.0/24"}, {"Cidr": "198.51.100.0/24"}],
        )
    )["PrefixList"]["PrefixListId"]  # fmt: skip
    await world.root.call(
        "CreateRoute", RouteTableId=table_id, DestinationPrefixListId=plist,
        NetworkInterfaceId=eni,
    )  # fmt: skip
    await world.compute.settle()
    [told] = world.driver.interface_routes[vpc_id]
    assert told.destinations == ("192.0.2.0/24", "198.51.100.0/24")
    [table] = (await world.root.call("DescribeRouteTables", RouteTableIds=[table_id]))[
        "RouteTables"
    ]
    [route] = [r for r in table["Routes"] if r.get("DestinationPrefixListId") == plist]
    assert (route["NetworkInterfaceId"], route["State"]) == (eni, "active")
