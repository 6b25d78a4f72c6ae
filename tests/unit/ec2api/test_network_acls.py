"""Network ACLs on the EC2 wire through botocore (decision 0128): every VPC's default ACL
stored with EC2's entries and an association per subnet, what a VPC made before finds on first
need (the same ids), the filters Terraform finds ACLs, entries and associations by, and pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from andromede.compute.network import Subnet, Vpc
from andromede.compute.network_acl import (
    NetworkAcl,
    default_association_id,
    default_network_acl_id,
)
from support.ec2app import ApiError, Client, World, ec2_world

ANYWHERE = "0.0.0.0/0"


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert (raised.value.status, raised.value.code) == (400, code), raised.value
    return str(raised.value)


def _filters(**given: str) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": [value]} for name, value in given.items()]


async def _vpc(client: Client, cidr: str = "10.9.0.0/16") -> str:
    vpc_id: str = (await client.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    return vpc_id


async def _subnet(client: Client, vpc_id: str, cidr: str) -> str:
    subnet_id: str = (await client.call("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr))["Subnet"][
        "SubnetId"
    ]
    return subnet_id


async def _default_acl(client: Client, vpc_id: str) -> dict[str, Any]:
    # Terraform's lookup of aws_vpc's default_network_acl_id.
    [acl] = (
        await client.call(
            "DescribeNetworkAcls", Filters=_filters(default="true", **{"vpc-id": vpc_id})
        )
    )["NetworkAcls"]
    return acl


async def _acl(client: Client, acl_id: str) -> dict[str, Any]:
    [acl] = (await client.call("DescribeNetworkAcls", NetworkAclIds=[acl_id]))["NetworkAcls"]
    return acl


def _entries(acl: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            e["RuleNumber"],
            e["Egress"],
            e["RuleAction"],
            e["Protocol"],
            e["CidrBlock"],
            (e["PortRange"]["From"], e["PortRange"]["To"]) if "PortRange" in e else None,
        )
        for e in acl["Entries"]
    ]


EC2_DEFAULT = [
    (100, True, "allow", "-1", ANYWHERE, None),
    (32767, True, "deny", "-1", ANYWHERE, None),
    (100, False, "allow", "-1", ANYWHERE, None),
    (32767, False, "deny", "-1", ANYWHERE, None),
]


async def test_a_vpcs_default_acl_is_stored_and_follows_its_subnets(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    acl = await _default_acl(c, vpc_id)
    # Its id is the one it had when it was derived (Terraform's state holds it).
    assert acl["NetworkAclId"] == default_network_acl_id(vpc_id)
    assert (acl["IsDefault"], acl["VpcId"], acl["OwnerId"]) == (True, vpc_id, world.tenant_id)
    assert _entries(acl) == EC2_DEFAULT
    assert acl["Associations"] == []
    first = await _subnet(c, vpc_id, "10.9.1.0/24")
    second = await _subnet(c, vpc_id, "10.9.2.0/24")
    acl = await _default_acl(c, vpc_id)
    assert [(a["SubnetId"], a["NetworkAclAssociationId"]) for a in acl["Associations"]] == [
        (first, default_association_id(first)),
        (second, default_association_id(second)),
    ]
    stored = await world.compute.store.get(NetworkAcl, acl["NetworkAclId"])
    assert stored is not None and [a.subnet_id for a in stored.associations] == [first, second]
    # A deleted subnet's association goes with it.
    await c.call("DeleteSubnet", SubnetId=first)
    acl = await _default_acl(c, vpc_id)
    assert [a["SubnetId"] for a in acl["Associations"]] == [second]
    # The default ACL goes with its VPC.
    await c.call("DeleteSubnet", SubnetId=second)
    await c.call("DeleteVpc", VpcId=vpc_id)
    await _refused(
        c,
        "DescribeNetworkAcls",
        "InvalidNetworkAclID.NotFound",
        NetworkAclIds=[acl["NetworkAclId"]],
    )
    assert await world.compute.store.get(NetworkAcl, acl["NetworkAclId"]) is None


async def test_a_vpc_from_before_gets_its_default_acl_with_the_same_ids(world: World) -> None:
    """Before decision 0128 a VPC's default ACL was derived over its subnets; the first call
    that needs it stores it with the ids it had."""
    store = world.compute.store
    await world.root.call("DescribeVpcs")  # the default VPC, made now
    old = Vpc("vpc-0123456789abcdef0", world.tenant_id, "10.7.0.0/16", is_default=False,
              routing_made=True)  # fmt: skip
    subnet = Subnet("subnet-0123456789abcdef0", world.tenant_id, old.vpc_id, "10.7.1.0/24",
                    "eu-fr-1a", default_for_az=False, vni=4242)  # fmt: skip
    await store.insert(old, subnet)
    acl = await _default_acl(world.root, old.vpc_id)
    assert acl["NetworkAclId"] == default_network_acl_id(old.vpc_id)
    assert [(a["SubnetId"], a["NetworkAclAssociationId"]) for a in acl["Associations"]] == [
        (subnet.subnet_id, default_association_id(subnet.subnet_id))
    ]
    assert _entries(acl) == EC2_DEFAULT
    made = await store.get(Vpc, old.vpc_id)
    assert made is not None and made.network_acl_made
    # Made once: a second look finds the same record.
    assert await _default_acl(world.root, old.vpc_id) == acl
    assert len([a for a in await store.list(NetworkAcl, world.tenant_id)]) == 2


async def test_the_filters_terraform_finds_acls_by(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    acl = await _default_acl(c, vpc_id)
    acl_id = acl["NetworkAclId"]
    association_id = acl["Associations"][0]["NetworkAclAssociationId"]
    for name, value in (
        ("association.subnet-id", subnet_id),
        ("association.association-id", association_id),
        ("association.network-acl-id", acl_id),
        ("network-acl-id", acl_id),
    ):
        found = await c.call("DescribeNetworkAcls", Filters=_filters(**{name: value}))
        assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [acl_id], name
    # aws_network_acl_rule's lookup of one entry.
    found = await c.call(
        "DescribeNetworkAcls",
        NetworkAclIds=[acl_id],
        Filters=_filters(**{"entry.egress": "true", "entry.rule-number": "100"}),
    )
    assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [acl_id]
    for name, value in (("entry.rule-number", "101"), ("entry.protocol", "tcp")):
        found = await c.call(
            "DescribeNetworkAcls", NetworkAclIds=[acl_id], Filters=_filters(**{name: value})
        )
        assert found["NetworkAcls"] == [], name
    found = await c.call("DescribeNetworkAcls", Filters=_filters(**{"entry.protocol": "all"}))
    assert len(found["NetworkAcls"]) == 2  # the default VPC's and this VPC's
    await _refused(
        c, "DescribeNetworkAcls", "InvalidParameterValue", Filters=_filters(**{"entry.nope": "1"})
    )


async def test_describe_pages_with_max_results_and_next_token(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_vpcs_per_tenant=10) as world:
        c = world.root
        for n in range(6):
            await _vpc(c, f"10.{n}.0.0/16")
        everything = [
            a["NetworkAclId"] for a in (await c.call("DescribeNetworkAcls"))["NetworkAcls"]
        ]
        assert len(everything) == 7
        seen: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"MaxResults": 5}
            if token is not None:
                params["NextToken"] = token
            page = await c.call("DescribeNetworkAcls", **params)
            assert len(page["NetworkAcls"]) <= 5
            seen += [a["NetworkAclId"] for a in page["NetworkAcls"]]
            token = page.get("NextToken")
            if token is None:
                break
        assert seen == everything
        await _refused(
            c, "DescribeNetworkAcls", "InvalidParameterCombination",
            NetworkAclIds=[everything[0]], MaxResults=5,
        )  # fmt: skip
