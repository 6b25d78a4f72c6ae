"""ModifyVpcPeeringConnectionOptions on the EC2 wire through botocore (decision 0139's
addendum): EC2's rules — an active connection only, each side's option by that side's owner,
both VPCs' DNS hostnames and support on —, its answer, each side's ``PeeringOptions`` in the
describe, the retired ClassicLink options refused unless false; and what the hosts are told:
the other VPC's resolver answers the side's block (``VpcDns.peer_blocks``) while the option is
on, the connection active and the side's VPC has DNS names, pushed at once and by the resync."""

from __future__ import annotations

from typing import Any

import pytest

from support.ec2app import ApiError, Client, World

ANYWHERE = "0.0.0.0/0"
MODIFY = "ModifyVpcPeeringConnectionOptions"
DNS_ON = {"AllowDnsResolutionFromRemoteVpc": True}
DNS_OFF = {"AllowDnsResolutionFromRemoteVpc": False}


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


async def _vpc(c: Client, cidr: str, *, hostnames: bool = True) -> str:
    vpc_id: str = (await c.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    if hostnames:
        await c.call("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


async def _instance(world: World, c: Client, vpc_id: str, cidr: str) -> str:
    subnet_id = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr))["Subnet"]["SubnetId"]
    launched = await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet_id,
    )  # fmt: skip
    await world.compute.settle()
    instance_id: str = launched["Instances"][0]["InstanceId"]
    return instance_id


async def _options(c: Client, peering_id: str) -> tuple[bool, bool]:
    """(the requester side's option, the accepter side's) as DescribeVpcPeeringConnections
    shows them."""
    [found] = (await c.call("DescribeVpcPeeringConnections", VpcPeeringConnectionIds=[peering_id]))[
        "VpcPeeringConnections"
    ]
    requester, accepter = (
        bool(found[side]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"])
        for side in ("RequesterVpcInfo", "AccepterVpcInfo")
    )
    return requester, accepter


def _blocks(world: World, vpc_id: str) -> tuple[str, ...]:
    return world.driver.vpc_dns[vpc_id].peer_blocks


async def test_each_side_lets_the_other_resolve_its_names_while_on(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    await _instance(world, c, a, "10.1.1.0/24")
    await _instance(world, c, b, "10.2.1.0/24")
    peering_id = (await c.call("CreateVpcPeeringConnection", VpcId=a, PeerVpcId=b))[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    # Pending: EC2's words.
    message = await _refused(
        c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert (
        f"Peering {peering_id} is not active. Peering options can be added only to active peerings."
    ) in message
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert await _options(c, peering_id) == (False, False)
    assert _blocks(world, a) == _blocks(world, b) == ()
    # The accepter's option: a's resolver answers b's names; the answer names that side only.
    answer = await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions=DNS_ON
    )
    answer.pop("ResponseMetadata")
    assert answer == {
        "AccepterPeeringConnectionOptions": {
            "AllowDnsResolutionFromRemoteVpc": True,
            "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
            "AllowEgressFromLocalVpcToRemoteClassicLink": False,
        }
    }
    assert await _options(c, peering_id) == (False, True)
    assert (_blocks(world, a), _blocks(world, b)) == (("10.2.0.0/16",), ())
    # Both sides in one request (one tenant owns both), answered both.
    answer = await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions=DNS_ON,
        RequesterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert answer["RequesterPeeringConnectionOptions"]["AllowDnsResolutionFromRemoteVpc"]
    assert answer["AccepterPeeringConnectionOptions"]["AllowDnsResolutionFromRemoteVpc"]
    assert (_blocks(world, a), _blocks(world, b)) == (("10.2.0.0/16",), ("10.1.0.0/16",))
    # b's instances lose their names (hostnames off): a's resolver stops answering them;
    # they come back with the names.
    await c.call("ModifyVpcAttribute", VpcId=b, EnableDnsHostnames={"Value": False})
    assert (_blocks(world, a), _blocks(world, b)) == ((), ("10.1.0.0/16",))
    await c.call("ModifyVpcAttribute", VpcId=b, EnableDnsHostnames={"Value": True})
    assert _blocks(world, a) == ("10.2.0.0/16",)
    # A lost push is made good by the resync.
    world.driver.vpc_dns.clear()
    await world.compute.resync_hosts()
    assert (_blocks(world, a), _blocks(world, b)) == (("10.2.0.0/16",), ("10.1.0.0/16",))
    # Off again for one side; the same value twice changes nothing.
    for _ in range(2):
        await c.call(
            MODIFY, VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions=DNS_OFF
        )
    assert await _options(c, peering_id) == (True, False)
    assert (_blocks(world, a), _blocks(world, b)) == ((), ("10.1.0.0/16",))
    # Deleted: no resolver answers the other's names.
    await c.call("DeleteVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert (_blocks(world, a), _blocks(world, b)) == ((), ())
    await _refused(
        c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        RequesterPeeringConnectionOptions=DNS_OFF,
    )  # fmt: skip


async def test_both_vpcs_need_dns_hostnames_and_support(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16", hostnames=False)
    peering_id = (await c.call("CreateVpcPeeringConnection", VpcId=a, PeerVpcId=b))[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    for side in ("RequesterPeeringConnectionOptions", "AccepterPeeringConnectionOptions"):
        message = await _refused(
            c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
            **{side: DNS_ON},
        )  # fmt: skip
        assert f"{b} has not both" in message
    # Turning it off needs nothing.
    await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, RequesterPeeringConnectionOptions=DNS_OFF
    )
    await c.call("ModifyVpcAttribute", VpcId=b, EnableDnsHostnames={"Value": True})
    await c.call("ModifyVpcAttribute", VpcId=a, EnableDnsSupport={"Value": False})
    message = await _refused(
        c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        RequesterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert f"{a} has not both" in message
    await c.call("ModifyVpcAttribute", VpcId=a, EnableDnsSupport={"Value": True})
    await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, RequesterPeeringConnectionOptions=DNS_ON
    )
    assert await _options(c, peering_id) == (True, False)


async def test_each_owner_sets_its_own_side_only(world: World) -> None:
    c = world.root
    other_id, other = await world.tenant("globex")
    _, stranger = await world.tenant("initech")
    mine = await _vpc(c, "10.1.0.0/16")
    theirs = await _vpc(other, "10.2.0.0/16")
    await _instance(world, other, theirs, "10.2.1.0/24")
    peering_id = (
        await c.call(
            "CreateVpcPeeringConnection", VpcId=mine, PeerVpcId=theirs, PeerOwnerId=other_id
        )
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    await other.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    # EC2's words for the other side's options.
    message = await _refused(
        c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert (
        f"User {world.tenant_id} does not have permission to modify the accepter side peering "
        "options"
    ) in message
    message = await _refused(
        other, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        RequesterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert f"User {other_id} does not have permission to modify the requester side" in message
    # Both sides in one request from one of them: refused whole, nothing changed.
    await _refused(
        c, MODIFY, "OperationNotPermitted", VpcPeeringConnectionId=peering_id,
        RequesterPeeringConnectionOptions=DNS_ON, AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    assert await _options(other, peering_id) == (False, False)
    # A stranger finds nothing.
    await _refused(
        stranger, MODIFY, "InvalidVpcPeeringConnectionID.NotFound",
        VpcPeeringConnectionId=peering_id, RequesterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    # Each its own: the requester's option lets the accepter's VPC (another tenant's, with an
    # instance on the host) resolve the requester's names.
    await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, RequesterPeeringConnectionOptions=DNS_ON
    )
    await other.call(
        MODIFY, VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions=DNS_ON
    )
    assert await _options(c, peering_id) == await _options(other, peering_id) == (True, True)
    assert _blocks(world, theirs) == ("10.1.0.0/16",)
    # The requester's VPC deleted takes the connection: the accepter's resolver is told.
    await c.call("DeleteVpc", VpcId=mine)
    await world.compute.settle()
    assert _blocks(world, theirs) == ()


async def test_bad_requests_get_ec2s_codes(world: World) -> None:
    c = world.root
    a, b = await _vpc(c, "10.1.0.0/16"), await _vpc(c, "10.2.0.0/16")
    peering_id = (await c.call("CreateVpcPeeringConnection", VpcId=a, PeerVpcId=b))[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    # The retired ClassicLink options: false is what they are; true is refused, not dropped.
    classic = {
        "AllowDnsResolutionFromRemoteVpc": True,
        "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
        "AllowEgressFromLocalVpcToRemoteClassicLink": False,
    }
    await c.call(
        MODIFY, VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions=classic
    )
    assert await _options(c, peering_id) == (False, True)
    for option in (
        "AllowEgressFromLocalClassicLinkToRemoteVpc",
        "AllowEgressFromLocalVpcToRemoteClassicLink",
    ):
        message = await _refused(
            c, MODIFY, "UnsupportedOperation", VpcPeeringConnectionId=peering_id,
            RequesterPeeringConnectionOptions={**DNS_ON, option: True},
        )  # fmt: skip
        assert "ClassicLink" in message
    assert await _options(c, peering_id) == (False, True)
    await _refused(
        c, MODIFY, "MissingParameter", AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    await _refused(
        c, MODIFY, "InvalidVpcPeeringConnectionId.Malformed", VpcPeeringConnectionId="pcx-nope",
        AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    await _refused(
        c, MODIFY, "InvalidVpcPeeringConnectionID.NotFound",
        VpcPeeringConnectionId="pcx-0123456789abcdef0", AccepterPeeringConnectionOptions=DNS_ON,
    )  # fmt: skip
    # Nothing asked: nothing changed, nothing answered.
    answer = await c.call(MODIFY, VpcPeeringConnectionId=peering_id)
    answer.pop("ResponseMetadata")
    assert answer == {}
    assert await _options(c, peering_id) == (False, True)
