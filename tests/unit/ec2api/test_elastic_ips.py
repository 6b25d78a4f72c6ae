"""Elastic IPs on the EC2 wire through botocore (decision 0125): allocation from the region's
pool, the quotas and the pool's end as settings, associations as EC2 makes and moves them
(and what the host is told), what DescribeInstances and DescribeNetworkInterfaces show, what
an address lets an instance without one of its own reach, a stop keeping it and a termination
letting go, and every refusal with EC2's code."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.model import InstanceState
from andromede.compute_adapters import compute_limits
from andromede.settings import Settings
from support.ec2app import REGION, ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"
POOL_FIRST = "100.66.0.1"  # the default pool's first address


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


async def _allocate(client: Client, **params: Any) -> dict[str, Any]:
    return await client.call("AllocateAddress", Domain="vpc", **params)


async def _addresses(client: Client, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.call("DescribeAddresses", **params))["Addresses"]
    return found


async def _run(world: World, client: Client | None = None, **params: Any) -> str:
    answer = await (client or world.root).call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    instance_id: str = answer["Instances"][0]["InstanceId"]
    return instance_id


async def _instance(client: Client, instance_id: str) -> dict[str, Any]:
    found = await client.call("DescribeInstances", InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


def _peers(rules: tuple[FirewallRule, ...]) -> set[str]:
    return {rule.cidr for rule in rules}


async def test_an_address_is_allocated_described_tagged_and_released(world: World) -> None:
    c = world.root
    made = await _allocate(
        c,
        TagSpecifications=[
            {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "web"}]}
        ],
    )
    allocation_id = made["AllocationId"]
    assert allocation_id.startswith("eipalloc-") and len(allocation_id) == 26
    assert (made["PublicIp"], made["Domain"], made["NetworkBorderGroup"]) == (
        POOL_FIRST,
        "vpc",
        REGION,
    )
    [described] = await _addresses(c, AllocationIds=[allocation_id])
    assert described == {
        "PublicIp": POOL_FIRST,
        "AllocationId": allocation_id,
        "Domain": "vpc",
        "Tags": [{"Key": "Name", "Value": "web"}],
        "PublicIpv4Pool": "andromede",
        "NetworkBorderGroup": REGION,
    }
    assert await _addresses(c, PublicIps=[POOL_FIRST]) == [described]
    for name, value in (
        ("public-ip", POOL_FIRST),
        ("allocation-id", allocation_id),
        ("domain", "vpc"),
        ("tag:Name", "web"),
        ("network-border-group", REGION),
    ):
        filtered = await _addresses(c, Filters=[{"Name": name, "Values": [value]}])
        assert filtered == [described], name
    assert await _addresses(c, Filters=[{"Name": "instance-id", "Values": ["*"]}]) == []
    # Tags as on every resource; Terraform reads the (absent) reverse DNS record.
    await c.call("CreateTags", Resources=[allocation_id], Tags=[{"Key": "env", "Value": "prod"}])
    tags = await c.call(
        "DescribeTags", Filters=[{"Name": "resource-type", "Values": ["elastic-ip"]}]
    )
    assert {(t["Key"], t["ResourceId"]) for t in tags["Tags"]} == {
        ("Name", allocation_id),
        ("env", allocation_id),
    }
    attribute = await c.call(
        "DescribeAddressesAttribute", AllocationIds=[allocation_id], Attribute="domain-name"
    )
    assert attribute["Addresses"] == [{"PublicIp": POOL_FIRST, "AllocationId": allocation_id}]
    # The next allocation takes the next address; a chosen one of the pool is given as asked.
    second = await _allocate(c)
    assert second["PublicIp"] == "100.66.0.2"
    chosen = await _allocate(c, Address="100.66.0.200")
    assert chosen["PublicIp"] == "100.66.0.200"
    await c.call("ReleaseAddress", AllocationId=allocation_id)
    await _refused(
        c, "DescribeAddresses", "InvalidAllocationID.NotFound", AllocationIds=[allocation_id]
    )
    await _refused(c, "ReleaseAddress", "InvalidAllocationID.NotFound", AllocationId=allocation_id)
    # Back in the pool: the lowest free address again.
    assert (await _allocate(c))["PublicIp"] == POOL_FIRST
    await c.call("ReleaseAddress", PublicIp="100.66.0.200")
    assert {a["PublicIp"] for a in await _addresses(c)} == {POOL_FIRST, "100.66.0.2"}


async def test_allocation_refusals_are_ec2s(world: World) -> None:
    c = world.root
    await _refused(c, "AllocateAddress", "InvalidParameterValue", Domain="standard")
    await _refused(c, "AllocateAddress", "InvalidParameterValue", NetworkBorderGroup="us-east-1")
    await _refused(c, "AllocateAddress", "InvalidParameterValue", Address="198.51.100.7")
    await _refused(c, "AllocateAddress", "InvalidParameterValue", Address="not-an-address")
    await _refused(c, "AllocateAddress", "InvalidParameterValue", PublicIpv4Pool="ipv4pool-ec2-1")
    await _refused(c, "AllocateAddress", "UnsupportedOperation", CustomerOwnedIpv4Pool="coip")
    await _refused(
        c, "AllocateAddress", "InvalidParameterValue",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}],
    )  # fmt: skip
    await _allocate(c, Address="100.66.0.9")
    await _refused(c, "AllocateAddress", "InvalidParameterValue", Address="100.66.0.9")
    await _refused(
        c, "DescribeAddresses", "InvalidAllocationID.Malformed", AllocationIds=["eipalloc-x"]
    )
    await _refused(c, "DescribeAddresses", "InvalidAddress.NotFound", PublicIps=["100.66.0.77"])
    await _refused(c, "DescribeAddresses", "InvalidParameterValue", PublicIps=["nowhere"])
    await _refused(
        c, "DescribeAddresses", "InvalidParameterValue",
        Filters=[{"Name": "no-such-filter", "Values": ["x"]}],
    )  # fmt: skip
    await _refused(c, "DescribeAddressesAttribute", "InvalidParameterValue", Attribute="other")
    await _refused(c, "ReleaseAddress", "MissingParameter")
    await _refused(c, "AssociateAddress", "MissingParameter", InstanceId="i-0123456789abcdef0")


async def test_the_quota_and_the_pools_end_are_settings(tmp_path: Path) -> None:
    async with ec2_world(
        tmp_path, max_elastic_ips_per_tenant=2, elastic_ip_cidr="100.66.0.0/29"
    ) as world:
        c = world.root
        await _allocate(c)
        await _allocate(c)
        message = await _refused(c, "AllocateAddress", "AddressLimitExceeded")
        assert "maximum number of addresses" in message
        # Six addresses in a /29: other tenants take the rest, then the pool is spent.
        others = [(await world.tenant(f"t{n}"))[1] for n in range(3)]
        given = [(await _allocate(other))["PublicIp"] for other in others[:2] for _ in range(2)]
        assert given == ["100.66.0.3", "100.66.0.4", "100.66.0.5", "100.66.0.6"]
        await _refused(others[2], "AllocateAddress", "InsufficientAddressCapacity")
    (tmp_path / "none").mkdir()
    async with ec2_world(tmp_path / "none", elastic_ip_cidr="") as world:
        await _refused(world.root, "AllocateAddress", "InsufficientAddressCapacity")


async def test_another_tenant_never_sees_nor_moves_an_address(world: World) -> None:
    allocation_id = (await _allocate(world.root))["AllocationId"]
    instance_id = await _run(world)
    association_id = (
        await world.root.call(
            "AssociateAddress", AllocationId=allocation_id, InstanceId=instance_id
        )
    )["AssociationId"]
    _, other = await world.tenant("other")
    assert await _addresses(other) == []
    await _refused(
        other, "DescribeAddresses", "InvalidAllocationID.NotFound", AllocationIds=[allocation_id]
    )
    await _refused(other, "DescribeAddresses", "InvalidAddress.NotFound", PublicIps=[POOL_FIRST])
    await _refused(
        other, "ReleaseAddress", "InvalidAllocationID.NotFound", AllocationId=allocation_id
    )
    await _refused(other, "ReleaseAddress", "InvalidAddress.NotFound", PublicIp=POOL_FIRST)
    await _refused(
        other, "DisassociateAddress", "InvalidAssociationID.NotFound", AssociationId=association_id
    )
    theirs = await _run(world, other)
    await _refused(
        other, "AssociateAddress", "InvalidAllocationID.NotFound",
        AllocationId=allocation_id, InstanceId=theirs, AllowReassociation=True,
    )  # fmt: skip
    mine = await _allocate(world.root)
    await _refused(
        world.root, "AssociateAddress", "InvalidInstanceID.NotFound",
        AllocationId=mine["AllocationId"], InstanceId=theirs,
    )  # fmt: skip
    [still] = await _addresses(world.root, AllocationIds=[allocation_id])
    assert still["InstanceId"] == instance_id


async def test_an_association_is_made_shown_moved_and_undone(world: World) -> None:
    c = world.root
    allocation_id = (await _allocate(c))["AllocationId"]
    first, second = await _run(world), await _run(world)
    own_address = (await _instance(c, first))["PublicIpAddress"]
    association_id = (
        await c.call("AssociateAddress", AllocationId=allocation_id, InstanceId=first)
    )["AssociationId"]
    assert association_id.startswith("eipassoc-")
    await world.compute.settle()
    # The host routes the address to the instance; EC2 shows it as the instance's address.
    assert world.driver.instances[first].elastic_ip == POOL_FIRST
    instance = await _instance(c, first)
    assert instance["PublicIpAddress"] == POOL_FIRST
    [interface] = instance["NetworkInterfaces"]
    # The account owns an Elastic IP (EC2 says "amazon" for its own addresses).
    assert interface["Association"] == {
        "PublicIp": POOL_FIRST,
        "PublicDnsName": "",
        "IpOwnerId": world.tenant_id,
    }
    [eni] = (
        await c.call(
            "DescribeNetworkInterfaces", NetworkInterfaceIds=[interface["NetworkInterfaceId"]]
        )
    )["NetworkInterfaces"]
    assert eni["Association"] == {
        "AllocationId": allocation_id,
        "AssociationId": association_id,
        "PublicIp": POOL_FIRST,
        "PublicDnsName": "",
        "IpOwnerId": world.tenant_id,
    }
    [described] = await _addresses(c, AllocationIds=[allocation_id])
    assert {k: described[k] for k in ("InstanceId", "AssociationId", "NetworkInterfaceId")} == {
        "InstanceId": first,
        "AssociationId": association_id,
        "NetworkInterfaceId": interface["NetworkInterfaceId"],
    }
    assert described["PrivateIpAddress"] == instance["PrivateIpAddress"]
    assert described["NetworkInterfaceOwnerId"] == world.tenant_id
    # Terraform's association waiter finds it by its id.
    by_association = await _addresses(
        c, Filters=[{"Name": "association-id", "Values": [association_id]}]
    )
    assert [a["AllocationId"] for a in by_association] == [allocation_id]
    filtered = await c.call(
        "DescribeInstances", Filters=[{"Name": "ip-address", "Values": [POOL_FIRST]}]
    )
    assert [i["InstanceId"] for r in filtered["Reservations"] for i in r["Instances"]] == [first]
    # The same association again changes nothing.
    again = await c.call("AssociateAddress", AllocationId=allocation_id, InstanceId=first)
    assert again["AssociationId"] == association_id

    message = await _refused(
        c, "ReleaseAddress", "InvalidIPAddress.InUse", AllocationId=allocation_id
    )
    assert "in use" in message
    message = await _refused(
        c, "AssociateAddress", "Resource.AlreadyAssociated",
        AllocationId=allocation_id, InstanceId=second,
    )  # fmt: skip
    assert f"already associated with associate-id {association_id}" in message
    # Moved with AllowReassociation, named by its interface: the first host lets go of it.
    second_interface = (await _instance(c, second))["NetworkInterfaces"][0]["NetworkInterfaceId"]
    moved = await c.call(
        "AssociateAddress", AllocationId=allocation_id, NetworkInterfaceId=second_interface,
        AllowReassociation=True,
    )  # fmt: skip
    assert moved["AssociationId"] != association_id
    await world.compute.settle()
    assert world.driver.instances[first].elastic_ip is None
    assert world.driver.instances[second].elastic_ip == POOL_FIRST
    assert (await _instance(c, first))["PublicIpAddress"] == own_address
    assert (await _instance(c, second))["PublicIpAddress"] == POOL_FIRST
    # A second address given to the same instance takes the first one's place (EC2).
    other = await _allocate(c)
    await c.call("AssociateAddress", AllocationId=other["AllocationId"], InstanceId=second)
    await world.compute.settle()
    assert world.driver.instances[second].elastic_ip == other["PublicIp"]
    [first_address] = await _addresses(c, AllocationIds=[allocation_id])
    assert "AssociationId" not in first_address and "InstanceId" not in first_address
    # Undone by the public address (the CLI's way) and by the association's id.
    await c.call("DisassociateAddress", PublicIp=other["PublicIp"])
    await _refused(
        c, "DisassociateAddress", "InvalidAssociationID.NotFound", PublicIp=other["PublicIp"]
    )
    await world.compute.settle()
    assert world.driver.instances[second].elastic_ip is None
    third = (await c.call("AssociateAddress", PublicIp=POOL_FIRST, InstanceId=second))[
        "AssociationId"
    ]
    await c.call("DisassociateAddress", AssociationId=third)
    await _refused(c, "DisassociateAddress", "InvalidAssociationID.NotFound", AssociationId=third)
    await _refused(
        c, "DisassociateAddress", "InvalidAssociationID.Malformed", AssociationId="eipassoc-zz"
    )
    await c.call("ReleaseAddress", AllocationId=allocation_id)


async def test_association_refusals_are_ec2s(world: World) -> None:
    c = world.root
    allocation_id = (await _allocate(c))["AllocationId"]
    instance_id = await _run(world)
    private_ip = (await _instance(c, instance_id))["PrivateIpAddress"]
    await _refused(
        c, "AssociateAddress", "InvalidParameterValue",
        AllocationId=allocation_id, InstanceId=instance_id, PrivateIpAddress="10.250.0.9",
    )  # fmt: skip
    answer = await c.call(
        "AssociateAddress", AllocationId=allocation_id, InstanceId=instance_id,
        PrivateIpAddress=private_ip,
    )  # fmt: skip
    assert answer["AssociationId"].startswith("eipassoc-")
    interface_id = (await _instance(c, instance_id))["NetworkInterfaces"][0]["NetworkInterfaceId"]
    await _refused(
        c, "AssociateAddress", "InvalidParameterValue",
        AllocationId=allocation_id, InstanceId=instance_id, NetworkInterfaceId=interface_id,
    )  # fmt: skip
    await _refused(
        c, "AssociateAddress", "InvalidInstanceID.Malformed",
        AllocationId=allocation_id, InstanceId="i-zz",
    )  # fmt: skip
    await _refused(
        c, "AssociateAddress", "InvalidNetworkInterfaceID.NotFound",
        AllocationId=allocation_id, NetworkInterfaceId="eni-0123456789abcdef0",
    )  # fmt: skip
    # A VPC without an internet gateway takes no address, as on EC2.
    vpc_id = (await c.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet_id = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    closed = await _run(world, SubnetId=subnet_id)
    other = (await _allocate(c))["AllocationId"]
    message = await _refused(
        c, "AssociateAddress", "Gateway.NotAttached", AllocationId=other, InstanceId=closed
    )
    assert f"Network {vpc_id} is not attached to any internet gateway" in message
    # Nor does a terminated instance.
    await c.call("TerminateInstances", InstanceIds=[closed])
    await world.compute.settle()
    await _refused(
        c, "AssociateAddress", "IncorrectInstanceState", AllocationId=other, InstanceId=closed
    )


async def test_an_address_lets_an_instance_without_one_out_and_holds_its_gateway(
    world: World,
) -> None:
    """An instance launched without a public address reaches beyond its VPC with an Elastic
    IP (and a route to the gateway); the gateway stays attached while it is held."""
    c = world.root
    vpc_id = (await c.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet_id = (await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.1.0/24"))["Subnet"][
        "SubnetId"
    ]
    gateway_id = (await c.call("CreateInternetGateway"))["InternetGateway"]["InternetGatewayId"]
    await c.call("AttachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
    [main] = (
        await c.call("DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    )["RouteTables"]
    await c.call(
        "CreateRoute", RouteTableId=main["RouteTableId"], DestinationCidrBlock=ANYWHERE,
        GatewayId=gateway_id,
    )  # fmt: skip
    instance_id = await _run(world, SubnetId=subnet_id)
    assert "PublicIpAddress" not in await _instance(c, instance_id)
    assert _peers(world.driver.instances[instance_id].firewall.egress) == {"10.9.0.0/16"}
    allocation_id = (await _allocate(c))["AllocationId"]
    await c.call("AssociateAddress", AllocationId=allocation_id, InstanceId=instance_id)
    await world.compute.settle()
    assert _peers(world.driver.instances[instance_id].firewall.egress) == {ANYWHERE}
    assert (await _instance(c, instance_id))["PublicIpAddress"] == POOL_FIRST
    message = await _refused(
        c, "DetachInternetGateway", "DependencyViolation",
        InternetGatewayId=gateway_id, VpcId=vpc_id,
    )  # fmt: skip
    assert "mapped public address" in message
    # Stopped, it keeps the address (and the gateway stays held); started, the host has it.
    await c.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    [kept] = await _addresses(c, AllocationIds=[allocation_id])
    assert kept["InstanceId"] == instance_id
    await _refused(
        c, "DetachInternetGateway", "DependencyViolation",
        InternetGatewayId=gateway_id, VpcId=vpc_id,
    )  # fmt: skip
    await c.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    wired = world.driver.instances[instance_id]
    assert wired.spec.nic is not None and wired.spec.nic.elastic_ip == POOL_FIRST
    assert wired.elastic_ip == POOL_FIRST
    assert _peers(wired.firewall.egress) == {ANYWHERE}
    # Disassociated: confined to its VPC again, and the gateway may go.
    await c.call("DisassociateAddress", PublicIp=POOL_FIRST)
    await world.compute.settle()
    assert _peers(world.driver.instances[instance_id].firewall.egress) == {"10.9.0.0/16"}
    await c.call("DetachInternetGateway", InternetGatewayId=gateway_id, VpcId=vpc_id)


async def test_a_terminated_instance_lets_go_of_its_address(world: World) -> None:
    c = world.root
    allocation_id = (await _allocate(c))["AllocationId"]
    instance_id = await _run(world)
    await c.call("AssociateAddress", AllocationId=allocation_id, InstanceId=instance_id)
    await c.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    [address] = await _addresses(c, AllocationIds=[allocation_id])
    assert "AssociationId" not in address and "InstanceId" not in address
    await c.call("ReleaseAddress", AllocationId=allocation_id)


async def test_a_pending_instance_is_refused_with_the_message_terraform_retries(
    world: World,
) -> None:
    allocation_id = (await _allocate(world.root))["AllocationId"]
    instance_id = await _run(world)
    record = await world.compute.describe_instances(world.tenant_id, [instance_id])
    # The instance as another gateway still launching it would have it.
    assert await world.compute.store.replace(replace(record[0], state=InstanceState.PENDING))
    message = await _refused(
        world.root, "AssociateAddress", "InvalidInstanceID",
        AllocationId=allocation_id, InstanceId=instance_id,
    )  # fmt: skip
    assert f"The pending instance '{instance_id}' is not in a valid state" in message


async def test_a_half_done_termination_is_repaired(world: World) -> None:
    """A gateway dying between recording a termination and letting go of the address leaves an
    association to a terminated instance: the hosts' resync repairs it."""
    c = world.root
    allocation_id = (await _allocate(c))["AllocationId"]
    instance_id = await _run(world)
    await c.call("AssociateAddress", AllocationId=allocation_id, InstanceId=instance_id)
    [record] = await world.compute.describe_instances(world.tenant_id, [instance_id])
    assert await world.compute.store.replace(replace(record, state=InstanceState.TERMINATED))
    address = await world.compute.store.get(ElasticAddress, allocation_id)
    assert address is not None and address.instance_id == instance_id
    await world.compute.resync_hosts()
    address = await world.compute.store.get(ElasticAddress, allocation_id)
    assert address is not None and address.association_id is None


def test_the_pool_and_the_quota_are_checked_settings() -> None:
    limits = compute_limits(
        Settings(elastic_ip_cidr="198.51.100.0/24", max_elastic_ips_per_tenant=9)
    )
    assert (limits.elastic_ip_cidr, limits.max_elastic_ips) == ("198.51.100.0/24", 9)
    # No VPC may take the pool's block either.
    assert "198.51.100.0/24" in limits.reserved_cidrs
    # Not a block, or one that overlaps the hosts' own ranges: refused at start-up.
    for pool in ("nonsense", "100.65.1.0/24", "100.0.0.0/8"):
        with pytest.raises(ValidationError):
            Settings(elastic_ip_cidr=pool)
    for quota in (-1, 100001):
        with pytest.raises(ValidationError):
            Settings(max_elastic_ips_per_tenant=quota)
