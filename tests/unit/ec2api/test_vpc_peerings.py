"""VPC peering connections on the EC2 wire through botocore (decision 0139): their lifecycle
within one tenant and between two, EC2's states, codes and words, the filters and pages, the
quota as a setting, routes to them turning active then blackhole, and what such routes change
on the hosts: each side's instances reach the other VPC only where both sides' tables send it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
    PeeringLink,
)
from andromede.compute.routing import LOCAL, InternetGateway, Route, RouteTable, RoutingView
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection
from support.ec2app import ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


async def _vpc(c: Client, cidr: str) -> str:
    vpc_id: str = (await c.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    return vpc_id


async def _peer(c: Client, vpc_id: str, peer_vpc_id: str, **extra: Any) -> dict[str, Any]:
    made: dict[str, Any] = (
        await c.call("CreateVpcPeeringConnection", VpcId=vpc_id, PeerVpcId=peer_vpc_id, **extra)
    )["VpcPeeringConnection"]
    return made


async def _described(c: Client, peering_id: str) -> dict[str, Any]:
    [found] = (await c.call("DescribeVpcPeeringConnections", VpcPeeringConnectionIds=[peering_id]))[
        "VpcPeeringConnections"
    ]
    return found


async def _ids(c: Client, **filters: str) -> list[str]:
    given = [{"Name": name, "Values": [value]} for name, value in filters.items()]
    found = (await c.call("DescribeVpcPeeringConnections", Filters=given))["VpcPeeringConnections"]
    return [p["VpcPeeringConnectionId"] for p in found]


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


async def _route_states(c: Client, table_id: str) -> dict[str, tuple[str | None, str]]:
    [table] = (await c.call("DescribeRouteTables", RouteTableIds=[table_id]))["RouteTables"]
    return {
        r["DestinationCidrBlock"]: (r.get("VpcPeeringConnectionId"), r["State"])
        for r in table["Routes"]
    }


# -- lifecycle -------------------------------------------------------------------------------


async def test_a_peering_within_one_tenant_is_asked_accepted_and_deleted(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    made = await _peer(
        c,
        a,
        b,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "Name", "Value": "ab"}]}
        ],
    )
    peering_id = made["VpcPeeringConnectionId"]
    assert peering_id.startswith("pcx-") and len(peering_id) == 21
    # EC2 answers a new request initiating-request; it is then pending acceptance.
    assert made["Status"]["Code"] == "initiating-request"
    assert made["RequesterVpcInfo"]["VpcId"] == a
    assert made["RequesterVpcInfo"]["CidrBlock"] == "10.1.0.0/16"
    assert made["RequesterVpcInfo"]["OwnerId"] == world.tenant_id
    assert made["RequesterVpcInfo"]["Region"] == "eu-fr-1"
    assert made["AccepterVpcInfo"]["VpcId"] == b
    assert made["AccepterVpcInfo"]["OwnerId"] == world.tenant_id
    described = await _described(c, peering_id)
    assert described["Status"] == {
        "Code": "pending-acceptance",
        "Message": f"Pending Acceptance by {world.tenant_id}",
    }
    left = described["ExpirationTime"] - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
    assert described["Tags"] == [{"Key": "Name", "Value": "ab"}]
    # The accepter's block is shown once active, as EC2 shows it.
    assert "CidrBlock" not in described["AccepterVpcInfo"]
    accepted = (await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id))[
        "VpcPeeringConnection"
    ]
    assert accepted["Status"]["Code"] == "active"
    assert accepted["AccepterVpcInfo"]["CidrBlock"] == "10.2.0.0/16"
    assert accepted["AccepterVpcInfo"]["CidrBlockSet"] == [{"CidrBlock": "10.2.0.0/16"}]
    described = await _described(c, peering_id)
    assert described["Status"]["Code"] == "active" and "ExpirationTime" not in described
    result = await c.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert result["Return"] is True
    # A deleted connection stays listed a while, as EC2 lists it.
    assert (await _described(c, peering_id))["Status"]["Code"] == "deleted"
    # A new request between the same VPCs may then be made.
    again = await _peer(c, a, b)
    assert again["VpcPeeringConnectionId"] != peering_id


async def test_two_tenants_peer_and_each_side_sees_it(world: World) -> None:
    c = world.root
    other_id, other = await world.tenant("globex")
    _, stranger = await world.tenant("initech")
    mine = await _vpc(c, "10.1.0.0/16")
    theirs = await _vpc(other, "10.2.0.0/16")
    made = await _peer(c, mine, theirs, PeerOwnerId=other_id, PeerRegion="eu-fr-1")
    peering_id = made["VpcPeeringConnectionId"]
    seen = await _described(other, peering_id)
    assert seen["RequesterVpcInfo"]["OwnerId"] == world.tenant_id
    assert seen["AccepterVpcInfo"]["OwnerId"] == other_id
    assert seen["Status"]["Message"] == f"Pending Acceptance by {other_id}"
    # The requester may not accept nor reject a request to another tenant.
    message = await _refused(
        c, "AcceptVpcPeeringConnection", "OperationNotPermitted", VpcPeeringConnectionId=peering_id
    )
    assert f"User {world.tenant_id} cannot accept peering {peering_id}" in message
    await _refused(
        c, "RejectVpcPeeringConnection", "OperationNotPermitted", VpcPeeringConnectionId=peering_id
    )
    # The accepter may not delete a pending request (it rejects it).
    await _refused(
        other,
        "DeleteVpcPeeringConnection",
        "OperationNotPermitted",
        VpcPeeringConnectionId=peering_id,
    )
    # A third tenant neither sees nor touches it.
    for action in (
        "AcceptVpcPeeringConnection",
        "RejectVpcPeeringConnection",
        "DeleteVpcPeeringConnection",
    ):
        await _refused(
            stranger,
            action,
            "InvalidVpcPeeringConnectionID.NotFound",
            VpcPeeringConnectionId=peering_id,
        )
    await _refused(
        stranger,
        "DescribeVpcPeeringConnections",
        "InvalidVpcPeeringConnectionID.NotFound",
        VpcPeeringConnectionIds=[peering_id],
    )
    assert await _ids(stranger) == []
    # Each side sees and sets its own tags only, as EC2 keeps each account's apart.
    await c.call("CreateTags", Resources=[peering_id], Tags=[{"Key": "side", "Value": "mine"}])
    await other.call(
        "CreateTags", Resources=[peering_id], Tags=[{"Key": "side", "Value": "theirs"}]
    )
    await _refused(
        stranger, "CreateTags", "InvalidVpcPeeringConnectionID.NotFound", Resources=[peering_id],
        Tags=[{"Key": "side", "Value": "stranger"}],
    )  # fmt: skip
    assert (await _described(c, peering_id))["Tags"] == [{"Key": "side", "Value": "mine"}]
    assert (await _described(other, peering_id))["Tags"] == [{"Key": "side", "Value": "theirs"}]
    assert await _ids(other, **{"tag:side": "theirs"}) == [peering_id]
    assert await _ids(other, **{"tag:side": "mine"}) == []
    for client, value in ((c, "mine"), (other, "theirs")):
        tags = (await client.call("DescribeTags"))["Tags"]
        assert [
            (t["ResourceId"], t["ResourceType"], t["Value"]) for t in tags if t["Key"] == "side"
        ] == [(peering_id, "vpc-peering-connection", value)]
    await other.call("DeleteTags", Resources=[peering_id], Tags=[{"Key": "side"}])
    assert (await _described(other, peering_id)).get("Tags", []) == []
    assert (await _described(c, peering_id))["Tags"] == [{"Key": "side", "Value": "mine"}]
    await other.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert (await _described(c, peering_id))["Status"]["Code"] == "active"
    # Either side deletes an active one.
    await other.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    described = await _described(c, peering_id)
    assert described["Status"] == {"Code": "deleted", "Message": f"Deleted by {other_id}"}


async def test_a_rejected_request_cannot_be_accepted_nor_deleted(world: World) -> None:
    c = world.root
    other_id, other = await world.tenant("globex")
    mine, theirs = await _vpc(c, "10.1.0.0/16"), await _vpc(other, "10.2.0.0/16")
    peering_id = (await _peer(c, mine, theirs, PeerOwnerId=other_id))["VpcPeeringConnectionId"]
    result = await other.call("RejectVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert result["Return"] is True
    assert (await _described(c, peering_id))["Status"]["Code"] == "rejected"
    message = await _refused(
        other,
        "AcceptVpcPeeringConnection",
        "InvalidStateTransition",
        VpcPeeringConnectionId=peering_id,
    )
    assert f"Invalid state transition for {peering_id}" in message
    assert "from rejected to active" in message
    await _refused(
        c, "DeleteVpcPeeringConnection", "InvalidStateTransition", VpcPeeringConnectionId=peering_id
    )
    await _refused(
        other,
        "RejectVpcPeeringConnection",
        "InvalidStateTransition",
        VpcPeeringConnectionId=peering_id,
    )


async def test_an_active_one_is_accepted_or_rejected_only_once(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    peering_id = (await _peer(c, a, b))["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    for action in ("AcceptVpcPeeringConnection", "RejectVpcPeeringConnection"):
        await _refused(c, action, "InvalidStateTransition", VpcPeeringConnectionId=peering_id)
    # Two VPCs are peered once at a time.
    message = await _refused(
        c, "CreateVpcPeeringConnection", "VpcPeeringConnectionAlreadyExists", VpcId=b, PeerVpcId=a
    )
    assert a in message and b in message
    await c.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    await _refused(
        c, "DeleteVpcPeeringConnection", "InvalidStateTransition", VpcPeeringConnectionId=peering_id
    )


async def test_overlapping_blocks_and_a_missing_peer_vpc_fail(world: World) -> None:
    c = world.root
    other_id, other = await world.tenant("globex")
    a = await _vpc(c, "10.1.0.0/16")
    overlapping = await _vpc(c, "10.1.128.0/17")
    failed = await _peer(c, a, overlapping)
    # EC2 reports both through the connection's state, not as an error of the request.
    assert failed["Status"]["Code"] == "failed"
    described = await _described(c, failed["VpcPeeringConnectionId"])
    assert described["Status"] == {"Code": "failed", "Message": "Overlapping CIDRs"}
    await _refused(
        c,
        "AcceptVpcPeeringConnection",
        "InvalidStateTransition",
        VpcPeeringConnectionId=failed["VpcPeeringConnectionId"],
    )
    # Another tenant's VPC that is not there (or not theirs) fails the same way.
    theirs = await _vpc(other, "10.3.0.0/16")
    missing = await _peer(c, a, "vpc-0123456789abcdef0", PeerOwnerId=other_id)
    assert missing["Status"]["Code"] == "failed"
    not_theirs = await _peer(c, a, theirs, PeerOwnerId="999999999999")
    assert not_theirs["Status"]["Code"] == "failed"
    # The tenant the failed request named sees it, failed, as an accepter sees a request.
    assert await _ids(other) == [missing["VpcPeeringConnectionId"]]
    # The tenant's own peer VPC missing is an error at once, as on EC2.
    await _refused(
        c, "CreateVpcPeeringConnection", "InvalidVpcID.NotFound", VpcId=a,
        PeerVpcId="vpc-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        c, "CreateVpcPeeringConnection", "InvalidVpcID.NotFound", VpcId="vpc-0123456789abcdef0",
        PeerVpcId=a,
    )  # fmt: skip


async def test_bad_requests_get_ec2s_codes(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    message = await _refused(
        c, "CreateVpcPeeringConnection", "InvalidParameterValue", VpcId=a, PeerVpcId=b,
        PeerRegion="us-east-1",
    )  # fmt: skip
    assert "us-east-1" in message
    await _refused(
        c, "CreateVpcPeeringConnection", "InvalidParameterValue", VpcId=a, PeerVpcId=b,
        PeerOwnerId="acme",
    )  # fmt: skip
    await _refused(c, "CreateVpcPeeringConnection", "InvalidParameterValue", VpcId=a, PeerVpcId=a)
    await _refused(c, "CreateVpcPeeringConnection", "MissingParameter", VpcId=a)
    await _refused(
        c, "CreateVpcPeeringConnection", "InvalidVpcID.Malformed", VpcId=a, PeerVpcId="vpc-x"
    )
    await _refused(
        c, "CreateVpcPeeringConnection", "InvalidParameterValue", VpcId=a, PeerVpcId=b,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "v"}]}],
    )  # fmt: skip
    for action in (
        "AcceptVpcPeeringConnection",
        "RejectVpcPeeringConnection",
        "DeleteVpcPeeringConnection",
    ):
        await _refused(
            c,
            action,
            "InvalidVpcPeeringConnectionID.NotFound",
            VpcPeeringConnectionId="pcx-0123456789abcdef0",
        )
        await _refused(
            c, action, "InvalidVpcPeeringConnectionId.Malformed", VpcPeeringConnectionId="pcx-1"
        )
        await _refused(c, action, "MissingParameter")
    await _refused(
        c,
        "DescribeVpcPeeringConnections",
        "InvalidVpcPeeringConnectionID.NotFound",
        VpcPeeringConnectionIds=["pcx-0123456789abcdef0"],
    )
    await _refused(
        c,
        "DescribeVpcPeeringConnections",
        "InvalidParameterValue",
        Filters=[{"Name": "no-such-filter", "Values": ["x"]}],
    )


async def test_filters_and_pages(world: World) -> None:
    c = world.root
    a, b, d = [await _vpc(c, f"10.{n}.0.0/16") for n in (1, 2, 3)]
    ab = (await _peer(c, a, b))["VpcPeeringConnectionId"]
    ad = (await _peer(c, a, d))["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=ab)
    await c.call("CreateTags", Resources=[ad], Tags=[{"Key": "team", "Value": "red"}])
    assert sorted(await _ids(c)) == sorted([ab, ad])
    assert await _ids(c, **{"status-code": "active"}) == [ab]
    assert await _ids(c, **{"status-code": "pending-acceptance"}) == [ad]
    assert await _ids(c, **{"accepter-vpc-info.vpc-id": d}) == [ad]
    assert await _ids(c, **{"accepter-vpc-info.cidr-block": "10.2.0.0/16"}) == [ab]
    assert sorted(await _ids(c, **{"requester-vpc-info.vpc-id": a})) == sorted([ab, ad])
    assert sorted(await _ids(c, **{"requester-vpc-info.cidr-block": "10.1.0.0/16"})) == sorted(
        [ab, ad]
    )
    assert sorted(await _ids(c, **{"requester-vpc-info.owner-id": world.tenant_id})) == sorted(
        [ab, ad]
    )
    assert sorted(await _ids(c, **{"accepter-vpc-info.owner-id": world.tenant_id})) == sorted(
        [ab, ad]
    )
    assert await _ids(c, **{"status-message": "Active"}) == [ab]
    assert await _ids(c, **{"vpc-peering-connection-id": ad}) == [ad]
    assert await _ids(c, **{"tag:team": "red"}) == [ad]
    assert await _ids(c, **{"tag-key": "team"}) == [ad]
    assert await _ids(c, **{"expiration-time": "*"}) == [ad]
    tags = (
        await c.call(
            "DescribeTags",
            Filters=[{"Name": "resource-type", "Values": ["vpc-peering-connection"]}],
        )
    )["Tags"]
    assert [(t["ResourceId"], t["Key"]) for t in tags] == [(ad, "team")]
    e = await _vpc(c, "10.4.0.0/16")  # the tenant's fifth VPC, its default one counted
    for one, two in ((a, e), (b, d), (b, e), (d, e)):
        await _peer(c, one, two)
    first = await c.call("DescribeVpcPeeringConnections", MaxResults=5)
    assert len(first["VpcPeeringConnections"]) == 5 and first["NextToken"]
    rest = await c.call("DescribeVpcPeeringConnections", MaxResults=5, NextToken=first["NextToken"])
    assert len(rest["VpcPeeringConnections"]) == 1 and "NextToken" not in rest
    await _refused(
        c, "DescribeVpcPeeringConnections", "InvalidParameterCombination", MaxResults=5,
        VpcPeeringConnectionIds=[ab],
    )  # fmt: skip


async def test_active_peerings_per_vpc_are_a_quota(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_vpc_peerings_per_vpc=1) as world:
        c = world.root
        a, b, d = [await _vpc(c, f"10.{n}.0.0/16") for n in (1, 2, 3)]
        ab = (await _peer(c, a, b))["VpcPeeringConnectionId"]
        bd = (await _peer(c, b, d))["VpcPeeringConnectionId"]
        await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=ab)
        # b is a side of one active connection already: a second is refused, pending ones
        # not counted.
        await _refused(
            c,
            "AcceptVpcPeeringConnection",
            "ActiveVpcPeeringConnectionPerVpcLimitExceeded",
            VpcPeeringConnectionId=bd,
        )
        await c.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=ab)
        accepted = await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=bd)
        assert accepted["VpcPeeringConnection"]["Status"]["Code"] == "active"


async def test_a_request_expires_after_a_week(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    peering_id = (await _peer(c, a, b))["VpcPeeringConnectionId"]
    stored = await world.compute.store.get(VpcPeeringConnection, peering_id)
    assert stored is not None and stored.state is PeeringState.PENDING_ACCEPTANCE
    later = stored.create_time + timedelta(days=7, seconds=1)
    assert stored.state_at(later) is PeeringState.EXPIRED
    assert stored.visible(later) and not stored.visible(later + timedelta(days=7))
    assert stored.state_at(later - timedelta(seconds=2)) is PeeringState.PENDING_ACCEPTANCE


# -- routes ------------------------------------------------------------------------------------


async def test_routes_to_a_peering_are_active_then_blackholes(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    unrelated = await _vpc(c, "10.3.0.0/16")
    table = await _main_table(c, a)
    peering_id = (await _peer(c, a, b))["VpcPeeringConnectionId"]
    # Only an active connection is routed to.
    message = await _refused(
        c, "CreateRoute", "InvalidParameterValue", RouteTableId=table,
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    assert "not active" in message
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    await _refused(
        c, "CreateRoute", "InvalidVpcPeeringConnectionID.NotFound", RouteTableId=table,
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId="pcx-0123456789abcdef0",
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "InvalidVpcPeeringConnectionId.Malformed", RouteTableId=table,
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId="pcx-zz",
    )  # fmt: skip
    # A table of a VPC that is neither side.
    await _refused(
        c, "CreateRoute", "InvalidParameterValue", RouteTableId=await _main_table(c, unrelated),
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "InvalidParameterCombination", RouteTableId=table,
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId=peering_id,
        GatewayId="igw-0123456789abcdef0",
    )  # fmt: skip
    await c.call(
        "CreateRoute", RouteTableId=table, DestinationCidrBlock="10.2.0.0/16",
        VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    await _refused(
        c, "CreateRoute", "RouteAlreadyExists", RouteTableId=table,
        DestinationCidrBlock="10.2.0.0/16", VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    # Any destination may be routed to it, as on EC2 (only the peer's block is carried).
    await c.call(
        "CreateRoute", RouteTableId=table, DestinationCidrBlock="172.16.0.0/12",
        VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    states = await _route_states(c, table)
    assert states["10.2.0.0/16"] == (peering_id, "active")
    assert states["172.16.0.0/12"] == (peering_id, "active")
    found = (
        await c.call(
            "DescribeRouteTables",
            Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [peering_id]}],
        )
    )["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [table]
    # ReplaceRoute moves a route to it and back.
    other_peering = (await _peer(c, a, unrelated))["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=other_peering)
    await c.call(
        "ReplaceRoute", RouteTableId=table, DestinationCidrBlock="172.16.0.0/12",
        VpcPeeringConnectionId=other_peering,
    )  # fmt: skip
    assert (await _route_states(c, table))["172.16.0.0/12"] == (other_peering, "active")
    await c.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    states = await _route_states(c, table)
    assert states["10.2.0.0/16"] == (peering_id, "blackhole")
    assert states["172.16.0.0/12"] == (other_peering, "active")
    found = (
        await c.call(
            "DescribeRouteTables", Filters=[{"Name": "route.state", "Values": ["blackhole"]}]
        )
    )["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [table]
    await c.call("DeleteRoute", RouteTableId=table, DestinationCidrBlock="10.2.0.0/16")


# -- the hosts ---------------------------------------------------------------------------------


def _peers(rules: tuple[FirewallRule, ...]) -> set[str]:
    return {rule.cidr for rule in rules}


async def _instance(world: World, c: Client, vpc_id: str, cidr: str) -> str:
    subnet_id = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr))["Subnet"]["SubnetId"]
    group = await c.call("CreateSecurityGroup", GroupName="open", Description="o", VpcId=vpc_id)
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": ANYWHERE}]}],
    )
    launched = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet_id, SecurityGroupIds=[group["GroupId"]],
    )  # fmt: skip
    instance_id: str = launched["Instances"][0]["InstanceId"]
    return instance_id


async def test_instances_reach_the_peer_only_where_both_tables_route(world: World) -> None:
    c = world.root
    other_id, other = await world.tenant("globex")
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(other, "10.2.0.0/16")
    mine = await _instance(world, c, a, "10.1.1.0/24")
    theirs = await _instance(world, other, b, "10.2.1.0/24")
    await world.compute.settle()

    def firewall(instance_id: str) -> tuple[set[str], set[str]]:
        rules = world.driver.instances[instance_id].firewall
        return _peers(rules.ingress), _peers(rules.egress)

    alone_a, alone_b = ({"10.1.0.0/16"}, {"10.1.0.0/16"}), ({"10.2.0.0/16"}, {"10.2.0.0/16"})
    assert (firewall(mine), firewall(theirs)) == (alone_a, alone_b)
    peering_id = (await _peer(c, a, b, PeerOwnerId=other_id))["VpcPeeringConnectionId"]
    await world.compute.settle()
    assert world.driver.peering_links == ()  # pending: nothing joined
    await other.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    await world.compute.settle()
    # Active, both VPCs with instances on the one host: it joins their routers.
    assert world.driver.peering_links == (
        PeeringLink(peering_id, a, "10.1.0.0/16", b, "10.2.0.0/16"),
    )
    world.driver.peering_links = ()
    await world.compute.resync_hosts()  # a lost push is made good by the resync
    assert [link.peering_id for link in world.driver.peering_links] == [peering_id]
    # Active but routed by neither side: nothing changes.
    assert (firewall(mine), firewall(theirs)) == (alone_a, alone_b)
    # Routed by one side only (a's table sends everything to it): a's instance may send to
    # b's block (and no further: a peering carries nothing else), b's does not let it in.
    await c.call(
        "CreateRoute", RouteTableId=await _main_table(c, a), DestinationCidrBlock=ANYWHERE,
        VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    await world.compute.settle()
    both_a = ({"10.1.0.0/16", "10.2.0.0/16"}, {"10.1.0.0/16", "10.2.0.0/16"})
    assert (firewall(mine), firewall(theirs)) == (both_a, alone_b)
    # Routed back: each reaches the other.
    await other.call(
        "CreateRoute", RouteTableId=await _main_table(other, b),
        DestinationCidrBlock="10.1.1.0/24", VpcPeeringConnectionId=peering_id,
    )  # fmt: skip
    await world.compute.settle()
    assert firewall(mine) == both_a
    assert firewall(theirs) == ({"10.2.0.0/16", "10.1.1.0/24"}, {"10.2.0.0/16", "10.1.1.0/24"})
    # Deleted: its routes are blackholes and both are confined again.
    await other.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    await world.compute.settle()
    assert (firewall(mine), firewall(theirs)) == (alone_a, alone_b)
    assert world.driver.peering_links == ()


async def test_a_vpc_deleted_takes_its_connections_but_a_request_to_it_from_another_tenant(
    world: World,
) -> None:
    """As on EC2: deleting a VPC deletes its active connections and its own pending requests;
    a pending request to it from another account keeps it until rejected."""
    c = world.root
    other_id, other = await world.tenant("globex")
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    active = (await _peer(c, a, b))["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=active)
    table_b = await _main_table(c, b)
    await c.call(
        "CreateRoute", RouteTableId=table_b, DestinationCidrBlock="10.1.0.0/16",
        VpcPeeringConnectionId=active,
    )  # fmt: skip
    theirs = await _vpc(other, "10.3.0.0/16")
    asked = (await _peer(c, a, theirs, PeerOwnerId=other_id))["VpcPeeringConnectionId"]
    await c.call("DeleteVpc", VpcId=a)
    assert (await _described(c, active))["Status"] == {
        "Code": "deleted",
        "Message": f"Deleted with its VPC {a}",
    }
    assert (await _described(other, asked))["Status"]["Code"] == "deleted"
    assert (await _route_states(c, table_b))["10.1.0.0/16"] == (active, "blackhole")
    # A pending request to b from another tenant keeps b until b's tenant rejects it.
    offered = (await _peer(other, theirs, b, PeerOwnerId=world.tenant_id))["VpcPeeringConnectionId"]
    await c.call("DeleteRoute", RouteTableId=table_b, DestinationCidrBlock="10.1.0.0/16")
    await _refused(c, "DeleteVpc", "DependencyViolation", VpcId=b)
    await c.call("RejectVpcPeeringConnection", VpcPeeringConnectionId=offered)
    await c.call("DeleteVpc", VpcId=b)
    assert (await _described(other, offered))["Status"]["Code"] == "rejected"


def test_what_a_table_sends_to_a_peering_is_cut_to_the_peer_block_less_more_specific_routes() -> (
    None
):
    """``RoutingView.peer_targets``, pure: longest prefix wins, as in any route table, and a
    peering carries nothing beyond the peer VPC's block (no transitive routing)."""
    now = datetime(2027, 1, 1, tzinfo=UTC)
    peering = VpcPeeringConnection(
        "pcx-0123456789abcdef0", "111111111111", requester_vpc_id="vpc-0123456789abcdef0",
        requester_cidr="10.1.0.0/16", accepter_tenant_id="222222222222",
        accepter_vpc_id="vpc-0123456789abcdef1", accepter_cidr="10.2.0.0/16", region="eu-fr-1",
        create_time=now, state=PeeringState.ACTIVE,
    )  # fmt: skip
    gateway = InternetGateway("igw-0123456789abcdef0", "111111111111", "vpc-0123456789abcdef0")
    table = RouteTable(
        "rtb-0123456789abcdef0",
        "111111111111",
        "vpc-0123456789abcdef0",
        (
            Route("10.1.0.0/16", LOCAL),
            Route("0.0.0.0/0", "", vpc_peering_connection_id=peering.peering_id),
            Route("10.2.5.0/24", gateway.gateway_id),
        ),
    )
    view = RoutingView(
        {}, [table], {gateway.gateway_id: gateway}, {}, {peering.peering_id: peering}
    )
    [(peering_id, blocks)] = view.peer_targets("vpc-0123456789abcdef0", table).items()
    assert peering_id == peering.peering_id
    carried = {str(block) for block in blocks}
    assert "10.2.4.0/24" in carried and "10.2.6.0/23" in carried
    assert all(not block.overlaps(ip_network("10.2.5.0/24")) for block in blocks)
    assert all(block.subnet_of(ip_network("10.2.0.0/16")) for block in blocks)
    # Seen from the accepter's VPC, the same connection leads to the requester's block.
    accepter_table = RouteTable(
        "rtb-0123456789abcdef1", "222222222222", "vpc-0123456789abcdef1",
        (Route("10.1.0.0/24", "", vpc_peering_connection_id=peering.peering_id),),
    )  # fmt: skip
    assert view.peer_targets("vpc-0123456789abcdef1", accepter_table) == {
        peering.peering_id: (ip_network("10.1.0.0/24"),)
    }
    # Not active: nothing.
    pending = RoutingView(
        {}, [table], {}, {}, {peering.peering_id: replace(peering, state=PeeringState.DELETED)}
    )
    assert pending.peer_targets("vpc-0123456789abcdef0", table) == {}
