"""Managed prefix lists as route destinations (decision 0149's addendum), through the EC2 app
in process with botocore's own serialisation: CreateRoute/ReplaceRoute/DeleteRoute with
``DestinationPrefixListId`` and EC2's refusals, DescribeRouteTables' ``destinationPrefixListId``
and its filter, the associations, a routed list not deleted, the routes quota counting a
list's ``MaxEntries``, another tenant's list never routed to; and on the hosts, the list's
blocks where routes become firewalls and NAT routes, following every change of its entries,
made good by the resync."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.errors import NotFound, ResourceInUse
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import RouteTable
from support.ec2app import ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"
OFFICES = [{"Cidr": "192.0.2.0/24", "Description": "paris"}, {"Cidr": "198.51.100.0/24"}]


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


async def _list(c: Client, max_entries: int = 5, family: str = "IPv4", **extra: Any) -> str:
    made = await c.call(
        "CreateManagedPrefixList", PrefixListName="offices", AddressFamily=family,
        MaxEntries=max_entries, **({"Entries": OFFICES} if family == "IPv4" else {}), **extra,
    )  # fmt: skip
    list_id: str = made["PrefixList"]["PrefixListId"]
    return list_id


async def _public_vpc(c: Client) -> tuple[str, str, str]:
    """A VPC 10.9.0.0/16 with a subnet and an internet gateway attached: (vpc, subnet, igw)."""
    vpc_id: str = (await c.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet_id: str = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24"))[
        "Subnet"
    ]["SubnetId"]
    gateway_id: str = (await c.call("CreateInternetGateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    return vpc_id, subnet_id, gateway_id


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


async def _routes(c: Client, table_id: str) -> list[dict[str, Any]]:
    [table] = (await c.call("DescribeRouteTables", RouteTableIds=[table_id]))["RouteTables"]
    return [r for r in table["Routes"] if r.get("GatewayId") != "local"]


async def _nat(c: Client, subnet_id: str) -> str:
    allocation_id = (await c.call("AllocateAddress", Domain="vpc"))["AllocationId"]
    made = await c.call("CreateNatGateway", SubnetId=subnet_id, AllocationId=allocation_id)
    nat_id: str = made["NatGateway"]["NatGatewayId"]
    return nat_id


# -- the calls -------------------------------------------------------------------------------


async def test_a_route_to_a_list_is_made_shown_replaced_and_deleted(world: World) -> None:
    c = world.root
    vpc_id, subnet_id, gateway_id = await _public_vpc(c)
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
    list_id = await _list(c)
    route = {"RouteTableId": table_id, "DestinationPrefixListId": list_id}
    await c.call("CreateRoute", **route, GatewayId=gateway_id)
    # A block of the list routed by CIDR too is another route (EC2 keys them apart).
    await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationCidrBlock="192.0.2.0/24",
        GatewayId=gateway_id,
    )  # fmt: skip
    to_list, to_block = await _routes(c, table_id)
    assert to_list == {
        "DestinationPrefixListId": list_id,
        "GatewayId": gateway_id,
        "Origin": "CreateRoute",
        "State": "active",
    }
    assert to_block["DestinationCidrBlock"] == "192.0.2.0/24"
    assert "DestinationPrefixListId" not in to_block
    for name, value, found in (
        ("route.destination-prefix-list-id", list_id, [table_id]),
        ("route.destination-cidr-block", list_id, []),
        ("route.destination-prefix-list-id", "pl-0123456789abcdef0", []),
    ):
        tables = await c.call("DescribeRouteTables", Filters=[{"Name": name, "Values": [value]}])
        assert [t["RouteTableId"] for t in tables["RouteTables"]] == found, name
    # The associations name the table; a routed list is not deleted.
    associations = await c.call("GetManagedPrefixListAssociations", PrefixListId=list_id)
    assert associations["PrefixListAssociations"] == [
        {"ResourceId": table_id, "ResourceOwner": world.tenant_id}
    ]
    message = await _refused(
        c, "DeleteManagedPrefixList", "DependencyViolation", PrefixListId=list_id
    )
    assert f"The prefix list {list_id} is referenced by {table_id}" in message

    # EC2's refusals.
    message = await _refused(c, "CreateRoute", "RouteAlreadyExists", **route, GatewayId=gateway_id)
    assert f"The route identified by {list_id} already exists." in message
    await _refused(
        c, "CreateRoute", "InvalidParameterCombination", **route,
        DestinationCidrBlock="203.0.113.0/24", GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "MissingParameter", RouteTableId=table_id, GatewayId=gateway_id
    )
    await _refused(
        c, "CreateRoute", "InvalidPrefixListID.NotFound", RouteTableId=table_id,
        DestinationPrefixListId="pl-0123456789abcdef0", GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "InvalidPrefixListId.Malformed", RouteTableId=table_id,
        DestinationPrefixListId="pl-x", GatewayId=gateway_id,
    )  # fmt: skip
    ipv6 = await _list(c, family="IPv6")
    await _refused(
        c, "CreateRoute", "InvalidParameterValue", RouteTableId=table_id,
        DestinationPrefixListId=ipv6, GatewayId=gateway_id,
    )  # fmt: skip
    await _refused(
        c, "ReplaceRoute", "InvalidParameterValue", RouteTableId=table_id,
        DestinationPrefixListId=ipv6, GatewayId=gateway_id,
    )  # fmt: skip
    # Every target a route takes: a NAT gateway now, in place of the internet gateway.
    nat_id = await _nat(c, subnet_id)
    await c.call("ReplaceRoute", **route, NatGatewayId=nat_id)
    [to_list] = [r for r in await _routes(c, table_id) if "DestinationPrefixListId" in r]
    assert (to_list["NatGatewayId"], to_list["State"]) == (nat_id, "active")
    assert "GatewayId" not in to_list

    await c.call("DeleteRoute", **route)
    assert [r["DestinationCidrBlock"] for r in await _routes(c, table_id)] == ["192.0.2.0/24"]
    message = await _refused(c, "DeleteRoute", "InvalidRoute.NotFound", **route)
    assert f"no route with destination-prefix-list-id {list_id}" in message
    await _refused(
        c, "DeleteRoute", "InvalidParameterCombination", **route,
        DestinationCidrBlock="192.0.2.0/24",
    )  # fmt: skip
    assert (await c.call("GetManagedPrefixListAssociations", PrefixListId=list_id))[
        "PrefixListAssociations"
    ] == []
    await c.call("DeleteManagedPrefixList", PrefixListId=list_id)


async def test_a_route_to_a_list_weighs_its_max_entries_against_the_routes_quota(
    tmp_path: Path,
) -> None:
    async with ec2_world(tmp_path, max_routes_per_route_table=6) as world:
        c = world.root
        vpc_id, _, gateway_id = await _public_vpc(c)
        table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
        list_id = await _list(c, max_entries=5)  # two entries, weighing five routes
        await c.call(
            "CreateRoute", RouteTableId=table_id, DestinationPrefixListId=list_id,
            GatewayId=gateway_id,
        )  # fmt: skip

        async def block(cidr: str, action: str = "CreateRoute") -> None:
            await c.call(
                action, RouteTableId=table_id, DestinationCidrBlock=cidr, GatewayId=gateway_id
            )

        await block("203.0.113.0/24")  # 5 + 1: the quota reached
        await _refused(
            c, "CreateRoute", "RouteLimitExceeded", RouteTableId=table_id,
            DestinationCidrBlock="203.0.114.0/24", GatewayId=gateway_id,
        )  # fmt: skip
        small = await _list(c, max_entries=2)
        await _refused(
            c, "CreateRoute", "RouteLimitExceeded", RouteTableId=table_id,
            DestinationPrefixListId=small, GatewayId=gateway_id,
        )  # fmt: skip
        await block("203.0.113.0/24", "ReplaceRoute")  # replacing is not adding
        # Growing the routed list past the table's quota is refused, and nothing changes.
        await _refused(
            c, "ModifyManagedPrefixList", "RouteLimitExceeded", PrefixListId=list_id,
            MaxEntries=6,
        )  # fmt: skip
        [plist] = (await c.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]))[
            "PrefixLists"
        ]
        assert plist["MaxEntries"] == 5
        await c.call("DeleteRoute", RouteTableId=table_id, DestinationCidrBlock="203.0.113.0/24")
        await c.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=6)


async def test_another_tenants_list_is_never_routed_to(world: World) -> None:
    c = world.root
    list_id = await _list(c)
    _, other = await world.tenant("other")
    vpc_id, _, gateway_id = await _public_vpc(other)
    table_id = await _main_table(other, vpc_id)
    for action in ("CreateRoute", "ReplaceRoute"):
        message = await _refused(
            other, action, "InvalidPrefixListID.NotFound", RouteTableId=table_id,
            DestinationPrefixListId=list_id, GatewayId=gateway_id,
        )  # fmt: skip
        assert world.tenant_id not in message
    await _refused(
        other, "DeleteRoute", "InvalidRoute.NotFound", RouteTableId=table_id,
        DestinationPrefixListId=list_id,
    )  # fmt: skip
    assert (await c.call("GetManagedPrefixListAssociations", PrefixListId=list_id))[
        "PrefixListAssociations"
    ] == []


# -- the hosts -------------------------------------------------------------------------------


def _peers(world: World, instance_id: str) -> tuple[set[str], set[str]]:
    firewall = world.driver.instances[instance_id].firewall
    return {r.cidr for r in firewall.ingress}, {r.cidr for r in firewall.egress}


async def _launch(world: World, subnet_id: str, vpc_id: str, *, public: bool) -> str:
    c = world.root
    group = await c.call(
        "CreateSecurityGroup", GroupName=f"g{public}", Description="g", VpcId=vpc_id
    )
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ANYWHERE}]}
        ],
    )
    answer = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, NetworkInterfaces=[{
            "DeviceIndex": 0, "SubnetId": subnet_id, "Groups": [group["GroupId"]],
            "AssociatePublicIpAddress": public,
        }],
    )  # fmt: skip
    await world.compute.settle()
    instance_id: str = answer["Instances"][0]["InstanceId"]
    return instance_id


async def test_an_instance_reaches_the_lists_blocks_and_follows_its_changes(
    world: World,
) -> None:
    c = world.root
    vpc_id, subnet_id, gateway_id = await _public_vpc(c)
    instance_id = await _launch(world, subnet_id, vpc_id, public=True)
    own = "10.9.0.0/16"
    assert _peers(world, instance_id) == ({own}, {own})
    list_id = await _list(c)
    # An entry inside the VPC's block stays the local route's.
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=1,
        AddEntries=[{"Cidr": "10.9.8.0/24"}],
    )  # fmt: skip
    await c.call(
        "CreateRoute", RouteTableId=await _main_table(c, vpc_id),
        DestinationPrefixListId=list_id, GatewayId=gateway_id,
    )  # fmt: skip
    await world.compute.settle()
    reached = {own, "192.0.2.0/24", "198.51.100.0/24"}
    assert _peers(world, instance_id) == (reached, reached)
    # A modification reaches the host: the new block in, the removed one out.
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=2,
        AddEntries=[{"Cidr": "203.0.113.0/24"}], RemoveEntries=[{"Cidr": "198.51.100.0/24"}],
    )  # fmt: skip
    await world.compute.settle()
    reached = {own, "192.0.2.0/24", "203.0.113.0/24"}
    assert _peers(world, instance_id) == (reached, reached)
    # So does a restore.
    await c.call(
        "RestoreManagedPrefixListVersion", PrefixListId=list_id, PreviousVersion=1,
        CurrentVersion=3,
    )  # fmt: skip
    await world.compute.settle()
    reached = {own, "192.0.2.0/24", "198.51.100.0/24"}
    assert _peers(world, instance_id) == (reached, reached)
    # A push lost (the host away when the list changed) is made good by the resync.
    stale = world.driver.instances[instance_id].firewall
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=4,
        RemoveEntries=[{"Cidr": "192.0.2.0/24"}],
    )  # fmt: skip
    await world.compute.settle()
    world.driver.instances[instance_id].firewall = stale
    await world.compute.resync_hosts()
    reached = {own, "198.51.100.0/24"}
    assert _peers(world, instance_id) == (reached, reached)
    # The route deleted: confined to the VPC again.
    await c.call(
        "DeleteRoute", RouteTableId=await _main_table(c, vpc_id), DestinationPrefixListId=list_id
    )
    await world.compute.settle()
    assert _peers(world, instance_id) == ({own}, {own})


async def test_a_nat_gateway_is_told_the_lists_blocks_as_its_destinations(world: World) -> None:
    """The hypervisor keeps seeing CIDR routes: a route from a private subnet to a list through
    a NAT gateway reaches the host as the list's blocks, and follows its changes."""
    c = world.root
    vpc_id, public_subnet, gateway_id = await _public_vpc(c)
    await c.call(
        "CreateRoute", RouteTableId=await _main_table(c, vpc_id), DestinationCidrBlock=ANYWHERE,
        GatewayId=gateway_id,
    )  # fmt: skip
    private = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.2.0/24"))["Subnet"][
        "SubnetId"
    ]
    table_id = (await c.call("CreateRouteTable", VpcId=vpc_id))["RouteTable"]["RouteTableId"]
    await c.call("AssociateRouteTable", RouteTableId=table_id, SubnetId=private)
    instance_id = await _launch(world, private, vpc_id, public=False)
    nat_id = await _nat(c, public_subnet)
    list_id = await _list(c)
    await c.call(
        "CreateRoute", RouteTableId=table_id, DestinationPrefixListId=list_id, NatGatewayId=nat_id
    )
    await world.compute.settle()

    def told() -> set[str]:
        return {
            str(ipaddress.IPv4Network(d))
            for route in world.driver.nat_routes.get(vpc_id, ())
            for d in route.destinations
        }

    assert told() == {"192.0.2.0/24", "198.51.100.0/24"}
    assert _peers(world, instance_id)[1] == {"10.9.0.0/16", "192.0.2.0/24", "198.51.100.0/24"}
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=1,
        RemoveEntries=[{"Cidr": "198.51.100.0/24"}],
    )  # fmt: skip
    await world.compute.settle()
    assert told() == {"192.0.2.0/24"}
    assert _peers(world, instance_id)[1] == {"10.9.0.0/16", "192.0.2.0/24"}


# -- concurrency -----------------------------------------------------------------------------


def _interleaved(store: Any) -> None:
    """Every read and write of the memory store yields to the event loop first, so that calls
    gathered at once interleave their reads and writes, as two gateways do."""
    for name in ("get", "list", "replace", "change"):
        real = getattr(store, name)

        async def yielding(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await _real(*args, **kwargs)

        setattr(store, name, yielding)


async def test_a_route_and_a_deletion_at_once_never_leave_a_route_naming_no_list(
    world: World,
) -> None:
    """Serialised on the list's revision: either the route lands and the deletion sees it
    (DependencyViolation), or the deletion lands and the route finds no list."""
    compute, tenant, c = world.compute, world.tenant_id, world.root
    vpc_id, _, gateway_id = await _public_vpc(c)
    table_id = await _main_table(c, vpc_id)
    _interleaved(compute.store)

    async def delete_later(list_id: str, turns: int) -> ManagedPrefixList:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await compute.delete_managed_prefix_list(tenant, list_id)

    # The deletion started a few turns later each time, so that its reads fall before, among
    # and after the route's.
    for turns in range(16):
        list_id = await _list(c)
        outcomes = await asyncio.gather(
            compute.create_route(
                tenant, table_id, None, gateway_id, destination_prefix_list_id=list_id
            ),
            delete_later(list_id, turns),
            return_exceptions=True,
        )
        kinds = sorted(type(o).__name__ for o in outcomes)
        assert kinds in (
            sorted(["NoneType", ResourceInUse.__name__]),
            sorted([NotFound.__name__, ManagedPrefixList.__name__]),
        ), outcomes
        table = await compute.store.get(RouteTable, table_id)
        assert table is not None
        lists = {p.prefix_list_id for p in await compute.store.list(ManagedPrefixList, tenant)}
        assert all(
            r.destination_prefix_list_id in lists
            for r in table.routes
            if r.destination_prefix_list_id
        ), turns
        if not isinstance(outcomes[0], BaseException):
            await compute.delete_route(tenant, table_id, None, destination_prefix_list_id=list_id)
