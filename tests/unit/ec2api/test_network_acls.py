"""Network ACLs on the EC2 wire through botocore (decision 0128): every VPC's default ACL
stored with EC2's entries and an association per subnet, what a VPC made before finds on first
need (the same ids), the filters Terraform finds ACLs, entries and associations by, and pages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    SubnetAcl,
)
from andromede.compute.errors import HostUnreachable
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


# -- writes ----------------------------------------------------------------------------------


def _entry(number: int, **given: Any) -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Protocol": "-1",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": ANYWHERE,
    } | given


async def test_an_acl_is_made_filled_associated_and_deleted(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    made = await c.call(
        "CreateNetworkAcl",
        VpcId=vpc_id,
        TagSpecifications=[
            {"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "web"}]}
        ],
    )
    acl = made["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    assert acl_id.startswith("acl-") and len(acl_id) == 21
    assert (acl["IsDefault"], acl["VpcId"], acl["Associations"]) == (False, vpc_id, [])
    assert acl["Tags"] == [{"Key": "Name", "Value": "web"}]
    # A new ACL denies everything: only the * rule, in each direction.
    assert _entries(acl) == [
        (32767, True, "deny", "-1", ANYWHERE, None),
        (32767, False, "deny", "-1", ANYWHERE, None),
    ]
    # Protocols by number or by name, stored as EC2 answers them: a number.
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        110, Protocol="tcp", CidrBlock="10.0.0.7/8", PortRange={"From": 22, "To": 22}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Protocol="17", RuleAction="deny", PortRange={"From": 53, "To": 53}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Egress=True, Protocol="icmp", IcmpTypeCode={"Type": -1, "Code": -1}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(120, Egress=True))
    acl = await _acl(c, acl_id)
    assert _entries(acl) == [
        (100, True, "allow", "1", ANYWHERE, None),
        (120, True, "allow", "-1", ANYWHERE, None),
        (32767, True, "deny", "-1", ANYWHERE, None),
        (100, False, "deny", "17", ANYWHERE, (53, 53)),
        (110, False, "allow", "6", "10.0.0.0/8", (22, 22)),
        (32767, False, "deny", "-1", ANYWHERE, None),
    ]
    assert acl["Entries"][0]["IcmpTypeCode"] == {"Type": -1, "Code": -1}
    await c.call("ReplaceNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        110, Protocol="6", CidrBlock="10.1.0.0/16", PortRange={"From": 443, "To": 443}
    ))  # fmt: skip
    await c.call("DeleteNetworkAclEntry", NetworkAclId=acl_id, RuleNumber=120, Egress=True)
    acl = await _acl(c, acl_id)
    assert [e for e in _entries(acl) if e[0] in (110, 120)] == [
        (110, False, "allow", "6", "10.1.0.0/16", (443, 443))
    ]
    # The subnet moves from the default ACL to this one under a new association id, as
    # Terraform's subnet_ids and aws_network_acl_association move it.
    default = await _default_acl(c, vpc_id)
    [first] = default["Associations"]
    moved = await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=first["NetworkAclAssociationId"],
        NetworkAclId=acl_id,
    )
    new_id = moved["NewAssociationId"]
    assert new_id.startswith("aclassoc-") and new_id != first["NetworkAclAssociationId"]
    assert (await _default_acl(c, vpc_id))["Associations"] == []
    assert (await _acl(c, acl_id))["Associations"] == [
        {"NetworkAclAssociationId": new_id, "NetworkAclId": acl_id, "SubnetId": subnet_id}
    ]
    await _refused(
        c, "ReplaceNetworkAclAssociation", "InvalidAssociationID.NotFound",
        AssociationId=first["NetworkAclAssociationId"], NetworkAclId=acl_id,
    )  # fmt: skip
    message = await _refused(c, "DeleteNetworkAcl", "DependencyViolation", NetworkAclId=acl_id)
    assert f"The networkAcl '{acl_id}' has dependencies and cannot be deleted." in message
    await _refused(c, "DeleteVpc", "DependencyViolation", VpcId=vpc_id)
    # Tags as on every resource.
    await c.call("CreateTags", Resources=[acl_id], Tags=[{"Key": "team", "Value": "a"}])
    found = await c.call("DescribeNetworkAcls", Filters=_filters(**{"tag:team": "a"}))
    assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [acl_id]
    await c.call("DeleteTags", Resources=[acl_id], Tags=[{"Key": "team"}])
    assert (await _acl(c, acl_id))["Tags"] == [{"Key": "Name", "Value": "web"}]
    tags = await c.call("DescribeTags", Filters=_filters(**{"resource-id": acl_id}))
    assert [t["ResourceType"] for t in tags["Tags"]] == ["network-acl"]
    # Back to the default, then the ACL goes; then the VPC can.
    await c.call(
        "ReplaceNetworkAclAssociation", AssociationId=new_id, NetworkAclId=default["NetworkAclId"]
    )
    await c.call("DeleteNetworkAcl", NetworkAclId=acl_id)
    await _refused(c, "DescribeNetworkAcls", "InvalidNetworkAclID.NotFound", NetworkAclIds=[acl_id])
    await c.call("DeleteSubnet", SubnetId=subnet_id)
    await c.call("DeleteVpc", VpcId=vpc_id)


async def test_entries_are_refused_with_ec2s_codes(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    acl_id = (await c.call("CreateNetworkAcl", VpcId=vpc_id))["NetworkAcl"]["NetworkAclId"]
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(100))
    message = await _refused(
        c, "CreateNetworkAclEntry", "NetworkAclEntryAlreadyExists", NetworkAclId=acl_id,
        **_entry(100, RuleAction="deny"),
    )  # fmt: skip
    assert "The network acl entry identified by 100 already exists." in message
    # The same number the other way is another entry.
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(100, Egress=True))
    message = await _refused(
        c, "ReplaceNetworkAclEntry", "InvalidNetworkAclEntry.NotFound", NetworkAclId=acl_id,
        **_entry(101),
    )  # fmt: skip
    assert "no ingress entry with number 101" in message
    message = await _refused(
        c, "DeleteNetworkAclEntry", "InvalidNetworkAclEntry.NotFound",
        NetworkAclId=acl_id, RuleNumber=101, Egress=True,
    )  # fmt: skip
    assert "no egress entry with number 101" in message
    for number in (0, 32767, 32768):
        await _refused(
            c, "CreateNetworkAclEntry", "InvalidParameterValue", NetworkAclId=acl_id,
            **_entry(number),
        )  # fmt: skip
    # The * rule is shown, never changed.
    await _refused(
        c, "DeleteNetworkAclEntry", "InvalidParameterValue",
        NetworkAclId=acl_id, RuleNumber=32767, Egress=False,
    )  # fmt: skip
    for given, code in (
        ({"Protocol": "6"}, "MissingParameter"),  # TCP without its ports
        ({"Protocol": "17", "PortRange": {"From": 90, "To": 80}}, "InvalidParameterValue"),
        ({"Protocol": "6", "PortRange": {"From": 1, "To": 65536}}, "InvalidParameterValue"),
        ({"Protocol": "icmp"}, "MissingParameter"),
        ({"Protocol": "1", "IcmpTypeCode": {"Type": 8}}, "MissingParameter"),
        ({"Protocol": "1", "IcmpTypeCode": {"Type": 256, "Code": -1}}, "InvalidParameterValue"),
        ({"Protocol": "1", "IcmpTypeCode": {"Type": 3, "Code": 256}}, "InvalidParameterValue"),
        ({"Protocol": "1", "IcmpTypeCode": {"Type": -1, "Code": 0}}, "InvalidParameterValue"),
        ({"Protocol": "47"}, "UnsupportedOperation"),  # GRE: the hosts filter four protocols
        ({"Protocol": "gopher"}, "InvalidParameterValue"),
        ({"RuleAction": "maybe"}, "InvalidParameterValue"),
        ({"CidrBlock": "10.0.0.0/33"}, "InvalidParameterValue"),
    ):
        await _refused(
            c, "CreateNetworkAclEntry", code, NetworkAclId=acl_id, **_entry(200, **given)
        )
    # One block, of one family: both, neither, or a malformed IPv6 one refused.
    without_block = {k: v for k, v in _entry(200).items() if k != "CidrBlock"}
    await _refused(
        c, "CreateNetworkAclEntry", "InvalidParameterCombination", NetworkAclId=acl_id,
        **_entry(200), Ipv6CidrBlock="::/0",
    )  # fmt: skip
    await _refused(c, "CreateNetworkAclEntry", "MissingParameter", NetworkAclId=acl_id,
                   **without_block)  # fmt: skip
    await _refused(
        c, "CreateNetworkAclEntry", "InvalidParameterValue", NetworkAclId=acl_id,
        **without_block, Ipv6CidrBlock="::/129",
    )  # fmt: skip
    await _refused(
        c, "CreateNetworkAclEntry", "InvalidNetworkAclID.NotFound",
        NetworkAclId="acl-0123456789abcdef0", **_entry(200),
    )  # fmt: skip
    await _refused(
        c, "CreateNetworkAclEntry", "InvalidNetworkAclID.NotFound",
        NetworkAclId="acl-nothex", **_entry(200),
    )  # fmt: skip
    # Nothing refused was stored.
    assert [e[0] for e in _entries(await _acl(c, acl_id))] == [100, 32767, 100, 32767]


async def test_an_icmp_entry_keeps_its_type_and_code_and_the_hosts_are_told_them(
    world: World,
) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    web = await _subnet(c, vpc_id, "10.9.1.0/24")
    await _launch(world, web)
    acl_id = (await c.call("CreateNetworkAcl", VpcId=vpc_id))["NetworkAcl"]["NetworkAclId"]
    # Echo requests in (type 8, code 0), echo replies out (type 0, every code), as EC2's
    # stateless ACLs need them both; a missing entry's message is EC2's.
    message = await _refused(
        c, "CreateNetworkAclEntry", "MissingParameter", NetworkAclId=acl_id,
        **_entry(100, Protocol="icmp"),
    )  # fmt: skip
    assert "icmpTypeCode.type" in message
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Protocol="icmp", IcmpTypeCode={"Type": 8, "Code": 0}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Egress=True, Protocol="1", IcmpTypeCode={"Type": 0, "Code": -1}
    ))  # fmt: skip
    acl = await _acl(c, acl_id)
    shown = {(e["RuleNumber"], e["Egress"]): e.get("IcmpTypeCode") for e in acl["Entries"]}
    assert shown[(100, False)] == {"Type": 8, "Code": 0}
    assert shown[(100, True)] == {"Type": 0, "Code": -1}
    found = await c.call(
        "DescribeNetworkAcls", Filters=_filters(**{"entry.icmp.type": "8", "vpc-id": vpc_id})
    )
    assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [acl_id]
    default = await _default_acl(c, vpc_id)
    [association] = [a for a in default["Associations"] if a["SubnetId"] == web]
    await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=association["NetworkAclAssociationId"],
        NetworkAclId=acl_id,
    )
    await world.compute.settle()
    assert _held(world, web) == SubnetAcl(
        ingress=(AclEntry(100, True, "icmp", ANYWHERE, icmp_type=8, icmp_code=0),),
        egress=(AclEntry(100, True, "icmp", ANYWHERE, icmp_type=0),),
    )
    # Replaced by all ICMP: the hosts are told every type and code again.
    await c.call("ReplaceNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Protocol="icmp", IcmpTypeCode={"Type": -1, "Code": -1}
    ))  # fmt: skip
    await world.compute.settle()
    held = _held(world, web)
    assert held is not None
    assert held.ingress == (AclEntry(100, True, "icmp", ANYWHERE),)


async def test_acls_are_refused_with_ec2s_codes(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    other_vpc = await _vpc(c, "10.8.0.0/16")
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    default_id = (await _default_acl(c, vpc_id))["NetworkAclId"]
    message = await _refused(
        c, "DeleteNetworkAcl", "InvalidParameterValue", NetworkAclId=default_id
    )
    assert f"cannot delete default network ACL {default_id}" in message
    await _refused(
        c, "DeleteNetworkAcl", "InvalidNetworkAclID.NotFound", NetworkAclId="acl-0123456789abcdef0"
    )
    await _refused(c, "CreateNetworkAcl", "InvalidVpcID.NotFound", VpcId="vpc-0123456789abcdef0")
    await _refused(
        c, "CreateNetworkAcl", "InvalidParameterValue", VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "v"}]}],
    )  # fmt: skip
    elsewhere = (await c.call("CreateNetworkAcl", VpcId=other_vpc))["NetworkAcl"]["NetworkAclId"]
    [association] = (await _default_acl(c, vpc_id))["Associations"]
    message = await _refused(
        c, "ReplaceNetworkAclAssociation", "InvalidParameterValue",
        AssociationId=association["NetworkAclAssociationId"], NetworkAclId=elsewhere,
    )  # fmt: skip
    assert "belong to different networks" in message
    await _refused(
        c, "ReplaceNetworkAclAssociation", "InvalidAssociationID.NotFound",
        AssociationId="aclassoc-0123456789abcdef0", NetworkAclId=default_id,
    )  # fmt: skip
    # The same ACL again: a new association id, the subnet still with it.
    again = await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=association["NetworkAclAssociationId"],
        NetworkAclId=default_id,
    )
    held = (await _default_acl(c, vpc_id))["Associations"]
    assert [(a["NetworkAclAssociationId"], a["SubnetId"]) for a in held] == [
        (again["NewAssociationId"], subnet_id)
    ]


async def test_create_network_acl_with_a_client_token_makes_one(world: World) -> None:
    """Terraform's aws_network_acl sends a ClientToken: a retry answers the same ACL."""
    c = world.root
    vpc_id = await _vpc(c)
    first = await c.call("CreateNetworkAcl", VpcId=vpc_id, ClientToken="tf-0001")
    again = await c.call("CreateNetworkAcl", VpcId=vpc_id, ClientToken="tf-0001")
    assert first["ClientToken"] == again["ClientToken"] == "tf-0001"
    assert first["NetworkAcl"]["NetworkAclId"] == again["NetworkAcl"]["NetworkAclId"]
    found = await c.call("DescribeNetworkAcls", Filters=_filters(**{"vpc-id": vpc_id}))
    assert len(found["NetworkAcls"]) == 2  # the default ACL and this one
    other_vpc = await _vpc(c, "10.8.0.0/16")
    await _refused(
        c, "CreateNetworkAcl", "IdempotentParameterMismatch", VpcId=other_vpc, ClientToken="tf-0001"
    )


async def test_quotas_are_settings(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_network_acls_per_vpc=2, max_network_acl_entries=2) as world:
        c = world.root
        vpc_id = await _vpc(c)
        acl_id = (await c.call("CreateNetworkAcl", VpcId=vpc_id))["NetworkAcl"]["NetworkAclId"]
        # The default ACL counts, as on EC2.
        await _refused(c, "CreateNetworkAcl", "NetworkAclLimitExceeded", VpcId=vpc_id)
        for number in (100, 110):
            await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(number))
        await _refused(
            c, "CreateNetworkAclEntry", "NetworkAclEntryLimitExceeded", NetworkAclId=acl_id,
            **_entry(120),
        )  # fmt: skip
        # Each direction has its own; replacing one is not adding one; the * rule is not
        # counted.
        await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(120, Egress=True))
        await c.call(
            "ReplaceNetworkAclEntry", NetworkAclId=acl_id, **_entry(110, RuleAction="deny")
        )


async def test_another_tenant_neither_sees_nor_changes_them(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    await _subnet(c, vpc_id, "10.9.1.0/24")
    acl = await _default_acl(c, vpc_id)
    _, other = await world.tenant("other")
    their_vpc = await _vpc(other)
    their_acl = (await other.call("CreateNetworkAcl", VpcId=their_vpc))["NetworkAcl"]
    theirs = await other.call("DescribeNetworkAcls")
    assert acl["NetworkAclId"] not in str(theirs) and vpc_id not in str(theirs)
    await _refused(
        other, "CreateNetworkAclEntry", "InvalidNetworkAclID.NotFound",
        NetworkAclId=acl["NetworkAclId"], **_entry(90, RuleAction="deny"),
    )  # fmt: skip
    # The victim's association is not found, whatever ACL it is moved to.
    await _refused(
        other, "ReplaceNetworkAclAssociation", "InvalidAssociationID.NotFound",
        AssociationId=acl["Associations"][0]["NetworkAclAssociationId"],
        NetworkAclId=their_acl["NetworkAclId"],
    )  # fmt: skip
    await _refused(other, "CreateNetworkAcl", "InvalidVpcID.NotFound", VpcId=vpc_id)
    assert await _default_acl(c, vpc_id) == acl


# -- what the hosts are told -----------------------------------------------------------------


async def _launch(world: World, subnet_id: str) -> str:
    answer = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
    )
    instance_id: str = answer["Instances"][0]["InstanceId"]
    return instance_id


def _held(world: World, subnet_id: str) -> SubnetAcl | None:
    return world.driver.acls.get(subnet_id)


ALLOW_ALL = SubnetAcl()


async def test_each_change_is_pushed_to_the_hosts_of_the_vpc(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    web = await _subnet(c, vpc_id, "10.9.1.0/24")
    db = await _subnet(c, vpc_id, "10.9.2.0/24")
    await _launch(world, web)
    await world.compute.settle()
    # The launch told the host the subnet's ACL: its VPC's default one.
    assert _held(world, web) == ALLOW_ALL
    acl_id = (await c.call("CreateNetworkAcl", VpcId=vpc_id))["NetworkAcl"]["NetworkAclId"]
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Protocol="tcp", CidrBlock="10.0.0.0/8", PortRange={"From": 22, "To": 22}
    ))  # fmt: skip
    await world.compute.settle()
    assert _held(world, web) == ALLOW_ALL  # no subnet has it yet
    # The subnet moved to it: its host enforces it at once (a new ACL denies the rest).
    default = await _default_acl(c, vpc_id)
    [association] = [a for a in default["Associations"] if a["SubnetId"] == web]
    moved = await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=association["NetworkAclAssociationId"],
        NetworkAclId=acl_id,
    )
    await world.compute.settle()
    assert _held(world, web) == SubnetAcl(
        ingress=(AclEntry(100, True, "tcp", "10.0.0.0/8", 22, 22),), egress=()
    )
    # An entry changed, added or deleted: pushed.
    await c.call("ReplaceNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        100, Protocol="6", RuleAction="deny", PortRange={"From": 22, "To": 23}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(
        90, Egress=True, Protocol="1", IcmpTypeCode={"Type": -1, "Code": -1}
    ))  # fmt: skip
    await c.call("CreateNetworkAclEntry", NetworkAclId=acl_id, **_entry(200, Egress=True))
    await world.compute.settle()
    assert _held(world, web) == SubnetAcl(
        ingress=(AclEntry(100, False, "tcp", ANYWHERE, 22, 23),),
        egress=(AclEntry(90, True, "icmp", ANYWHERE), AclEntry(200, True, "-1", ANYWHERE)),
    )
    await c.call("DeleteNetworkAclEntry", NetworkAclId=acl_id, RuleNumber=90, Egress=True)
    await world.compute.settle()
    assert _held(world, web) == SubnetAcl(
        ingress=(AclEntry(100, False, "tcp", ANYWHERE, 22, 23),),
        egress=(AclEntry(200, True, "-1", ANYWHERE),),
    )
    # A subnet of the VPC without instances is told too: the host routes the VPC's subnets.
    await c.call(
        "DeleteNetworkAclEntry",
        NetworkAclId=default["NetworkAclId"],
        RuleNumber=100,
        Egress=False,
    )
    await world.compute.settle()
    assert _held(world, db) == SubnetAcl(ingress=(), egress=ALLOW_ALL.egress)
    # Moved back to the default ACL: the default's entries again.
    await c.call(
        "ReplaceNetworkAclAssociation",
        AssociationId=moved["NewAssociationId"],
        NetworkAclId=default["NetworkAclId"],
    )
    await world.compute.settle()
    assert _held(world, web) == SubnetAcl(ingress=(), egress=ALLOW_ALL.egress)


async def test_a_vpc_without_instances_on_a_host_is_not_pushed(world: World) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    default_id = (await _default_acl(c, vpc_id))["NetworkAclId"]
    await c.call("DeleteNetworkAclEntry", NetworkAclId=default_id, RuleNumber=100, Egress=False)
    await world.compute.settle()
    assert _held(world, subnet_id) is None


async def test_the_resync_tells_the_hosts_again_and_a_failed_push_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    c = world.root
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    await _launch(world, subnet_id)
    await world.compute.settle()
    default_id = (await _default_acl(c, vpc_id))["NetworkAclId"]
    driver = world.driver
    real = driver.set_network_acl

    async def away(network_id: str, acl: SubnetAcl) -> None:
        raise HostUnreachable("host-1 does not answer")

    driver.set_network_acl = away  # type: ignore[method-assign]
    # The host is away: the change is recorded, the failed push logged.
    await c.call("DeleteNetworkAclEntry", NetworkAclId=default_id, RuleNumber=100, Egress=True)
    await world.compute.settle()
    assert _held(world, subnet_id) == ALLOW_ALL
    assert f"the network ACL of {subnet_id} could not be set" in caplog.text
    # Back: the periodic resync brings the host to the records.
    driver.set_network_acl = real  # type: ignore[method-assign]
    await world.compute.resync_hosts()
    assert _held(world, subnet_id) == SubnetAcl(ingress=ALLOW_ALL.ingress, egress=())
    # A host that lost it (restarted without its state) gets it again too.
    driver.acls[subnet_id] = ALLOW_ALL
    await world.compute.resync_hosts()
    assert _held(world, subnet_id) == SubnetAcl(ingress=ALLOW_ALL.ingress, egress=())


def _interleaved(store: Any) -> None:
    """Every read of the memory store yields to the event loop first, so that calls gathered
    at once read before any of them writes, as two gateways do."""
    for name in ("get", "list"):
        real = getattr(store, name)

        async def yielding(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await _real(*args, **kwargs)

        setattr(store, name, yielding)


async def test_two_moves_of_one_subnet_at_once_leave_it_one_association(world: World) -> None:
    """Serialised on the subnet's revision (with both ACLs'): one move wins, the other finds
    its association gone, and the subnet is never associated twice nor left without one."""
    c, compute = world.root, world.compute
    vpc_id = await _vpc(c)
    subnet_id = await _subnet(c, vpc_id, "10.9.1.0/24")
    first, second = [
        (await c.call("CreateNetworkAcl", VpcId=vpc_id))["NetworkAcl"]["NetworkAclId"]
        for _ in range(2)
    ]
    [association] = (await _default_acl(c, vpc_id))["Associations"]
    _interleaved(compute.store)
    moves = await asyncio.gather(
        *(
            compute.replace_network_acl_association(
                world.tenant_id, association["NetworkAclAssociationId"], acl_id
            )
            for acl_id in (first, second)
        ),
        return_exceptions=True,
    )
    assert sorted(type(m).__name__ for m in moves) == ["NetworkAclAssociation", "NotFound"]
    held = [
        a
        for acl in await compute.describe_network_acls(world.tenant_id, [])
        for a in acl.associations
        if a.subnet_id == subnet_id
    ]
    assert len(held) == 1
    # A move racing the subnet's deletion: either the move lands and the deletion takes the
    # association with it, or the deletion lands and the move finds nothing.
    await asyncio.gather(
        compute.replace_network_acl_association(
            world.tenant_id, held[0].association_id, default_network_acl_id(vpc_id)
        ),
        compute.delete_subnet(world.tenant_id, subnet_id),
        return_exceptions=True,
    )
    assert not [
        a
        for acl in await compute.store.list(NetworkAcl, world.tenant_id)
        for a in acl.associations
        if a.subnet_id == subnet_id
    ]


async def test_an_ipv6_entry_is_kept_and_shown_and_no_host_is_told(world: World) -> None:
    """``terraform-aws-modules/vpc`` gives every default ACL rule 101 for ``::/0`` in each
    direction: kept and answered as EC2 does; the tenant networks carry IPv4 alone, so it
    matches nothing there and the hosts hold the IPv4 entries only."""
    c = world.root
    vpc_id = await _vpc(c)
    web = await _subnet(c, vpc_id, "10.9.1.0/24")
    await _launch(world, web)
    default = await _default_acl(c, vpc_id)
    without_block = {k: v for k, v in _entry(101).items() if k != "CidrBlock"}
    for egress in (False, True):
        await c.call(
            "CreateNetworkAclEntry", NetworkAclId=default["NetworkAclId"],
            **without_block | {"Egress": egress}, Ipv6CidrBlock="::/0",
        )  # fmt: skip
    # An IPv6 deny numbered before the IPv4 allow shadows no IPv4 packet.
    await c.call(
        "CreateNetworkAclEntry", NetworkAclId=default["NetworkAclId"],
        **without_block | {"RuleNumber": 50, "RuleAction": "deny"}, Ipv6CidrBlock="2001:db8::/32",
    )  # fmt: skip
    await world.compute.settle()
    acl = await _acl(c, default["NetworkAclId"])
    ipv6 = sorted(
        (e["RuleNumber"], e["Egress"], e["RuleAction"], e["Ipv6CidrBlock"])
        for e in acl["Entries"]
        if "Ipv6CidrBlock" in e
    )
    assert ipv6 == [
        (50, False, "deny", "2001:db8::/32"),
        (101, False, "allow", "::/0"),
        (101, True, "allow", "::/0"),
    ]
    assert all("CidrBlock" not in e for e in acl["Entries"] if "Ipv6CidrBlock" in e)
    found = await c.call(
        "DescribeNetworkAcls",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "entry.ipv6-cidr", "Values": ["2001:db8::/32"]},
        ],
    )
    assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [default["NetworkAclId"]]
    assert _held(world, web) == ALLOW_ALL
    await c.call(
        "DeleteNetworkAclEntry", NetworkAclId=default["NetworkAclId"], RuleNumber=50, Egress=False
    )
