"""Customer-managed prefix lists (decision 0149), through the EC2 app in process with
botocore's own serialisation: create, describe (ids, filters, pages), entries of any kept
version, modify under CurrentVersion, restore, delete, associations, EC2's refusals and the
quotas; security group rules referencing a list (both forms), shown by the describes,
counted as MaxEntries against the group's rules quota, expanded into plain CIDRs in a
running member's firewall, which follows every change of the list's entries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.errors import NotFound, ResourceInUse
from andromede.compute.model import parse_rule
from andromede.compute.prefix_list import ManagedPrefixList
from support.ec2app import REGION, ApiError, Client, World, ec2_world

HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
OFFICES = [
    {"Cidr": "192.0.2.0/24", "Description": "paris"},
    {"Cidr": "198.51.100.0/24"},
]


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


async def _create(client: Client, name: str = "offices", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "PrefixListName": name,
        "AddressFamily": "IPv4",
        "MaxEntries": 5,
        "Entries": OFFICES,
        **extra,
    }
    made = await client.call("CreateManagedPrefixList", **params)
    return dict(made["PrefixList"])


async def _entries(client: Client, list_id: str, **extra: Any) -> list[tuple[str, str]]:
    found = await client.call("GetManagedPrefixListEntries", PrefixListId=list_id, **extra)
    return [(e["Cidr"], e.get("Description", "")) for e in found.get("Entries", [])]


async def _group(world: World, name: str = "web") -> str:
    made = await world.root.call("CreateSecurityGroup", GroupName=name, Description=name)
    return str(made["GroupId"])


async def _running_member(world: World, group_id: str) -> str:
    launched = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SecurityGroupIds=[group_id],
    )  # fmt: skip
    await world.compute.settle()
    return str(launched["Instances"][0]["InstanceId"])


def _ingress(world: World, instance_id: str) -> set[FirewallRule]:
    return set(world.driver.instances[instance_id].firewall.ingress)


async def test_create_describe_and_read_the_entries(world: World) -> None:
    c = world.root
    made = await _create(
        c,
        TagSpecifications=[
            {"ResourceType": "prefix-list", "Tags": [{"Key": "team", "Value": "net"}]}
        ],
    )
    list_id = made["PrefixListId"]
    assert list_id.startswith("pl-")
    assert made["PrefixListArn"] == f"arn:aws:ec2:{REGION}:{world.tenant_id}:prefix-list/{list_id}"
    assert (made["AddressFamily"], made["State"], made["MaxEntries"], made["Version"]) == (
        "IPv4", "create-complete", 5, 1,
    )  # fmt: skip
    assert (made["PrefixListName"], made["OwnerId"]) == ("offices", world.tenant_id)
    assert made["Tags"] == [{"Key": "team", "Value": "net"}]
    [described] = (await c.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]))[
        "PrefixLists"
    ]
    assert described == made
    assert await _entries(c, list_id) == [("192.0.2.0/24", "paris"), ("198.51.100.0/24", "")]
    other = (await _create(c, "partners", Entries=[]))["PrefixListId"]
    assert await _entries(c, other) == []
    by_filter = await c.call(
        "DescribeManagedPrefixLists",
        Filters=[{"Name": "prefix-list-name", "Values": ["partners"]}],
    )
    assert [p["PrefixListId"] for p in by_filter["PrefixLists"]] == [other]
    tagged = await c.call(
        "DescribeManagedPrefixLists", Filters=[{"Name": "tag:team", "Values": ["net"]}]
    )
    assert [p["PrefixListId"] for p in tagged["PrefixLists"]] == [list_id]
    owned = await c.call(
        "DescribeManagedPrefixLists", Filters=[{"Name": "owner-id", "Values": [world.tenant_id]}]
    )
    assert len(owned["PrefixLists"]) == 2
    first = await c.call("DescribeManagedPrefixLists", MaxResults=1)
    second = await c.call("DescribeManagedPrefixLists", MaxResults=1, NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert {first["PrefixLists"][0]["PrefixListId"], second["PrefixLists"][0]["PrefixListId"]} == {
        list_id, other,
    }  # fmt: skip
    page = await c.call("GetManagedPrefixListEntries", PrefixListId=list_id, MaxResults=1)
    assert [e["Cidr"] for e in page["Entries"]] == ["192.0.2.0/24"]
    rest = await c.call(
        "GetManagedPrefixListEntries", PrefixListId=list_id, NextToken=page["NextToken"]
    )
    assert [e["Cidr"] for e in rest["Entries"]] == ["198.51.100.0/24"]
    # Tags on pl- ids, through the common tag calls.
    await c.call("CreateTags", Resources=[list_id], Tags=[{"Key": "env", "Value": "prod"}])
    [tagged_list] = (await c.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]))[
        "PrefixLists"
    ]
    assert {"Key": "env", "Value": "prod"} in tagged_list["Tags"]


async def test_every_change_of_entries_is_a_new_version_and_old_ones_stay_readable(
    world: World,
) -> None:
    c = world.root
    list_id = (await _create(c))["PrefixListId"]
    changed = (
        await c.call(
            "ModifyManagedPrefixList",
            PrefixListId=list_id,
            CurrentVersion=1,
            AddEntries=[{"Cidr": "203.0.113.0/24", "Description": "lyon"}],
            RemoveEntries=[{"Cidr": "198.51.100.0/24"}],
        )
    )["PrefixList"]
    assert (changed["Version"], changed["State"]) == (2, "modify-complete")
    assert await _entries(c, list_id) == [("192.0.2.0/24", "paris"), ("203.0.113.0/24", "lyon")]
    assert await _entries(c, list_id, TargetVersion=1) == [
        ("192.0.2.0/24", "paris"), ("198.51.100.0/24", ""),
    ]  # fmt: skip
    # A new name alone is no new version; MaxEntries neither.
    renamed = (
        await c.call("ModifyManagedPrefixList", PrefixListId=list_id, PrefixListName="sites")
    )["PrefixList"]
    assert (renamed["PrefixListName"], renamed["Version"]) == ("sites", 2)
    resized = (await c.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=10))[
        "PrefixList"
    ]
    assert (resized["MaxEntries"], resized["Version"]) == (10, 2)
    restored = (
        await c.call(
            "RestoreManagedPrefixListVersion",
            PrefixListId=list_id,
            PreviousVersion=1,
            CurrentVersion=2,
        )
    )["PrefixList"]
    assert (restored["Version"], restored["State"]) == (3, "restore-complete")
    assert await _entries(c, list_id) == await _entries(c, list_id, TargetVersion=1)
    assert await _entries(c, list_id, TargetVersion=2) == [
        ("192.0.2.0/24", "paris"), ("203.0.113.0/24", "lyon"),
    ]  # fmt: skip
    assert await _code(_entries(c, list_id, TargetVersion=9)) == "InvalidParameterValue"


async def test_ec2s_refusals_of_a_modification(world: World) -> None:
    c = world.root
    list_id = (await _create(c, MaxEntries=3))["PrefixListId"]

    def modify(**params: Any) -> Any:
        return c.call("ModifyManagedPrefixList", PrefixListId=list_id, **params)

    add = {"AddEntries": [{"Cidr": "203.0.113.0/24"}]}
    for call, code in (
        (modify(CurrentVersion=7, **add), "PrefixListVersionMismatch"),
        (modify(**add), "InvalidParameterValue"),  # entries need CurrentVersion
        (
            modify(CurrentVersion=1, RemoveEntries=[{"Cidr": "10.0.0.0/8"}]),
            "InvalidPrefixListModification",
        ),
        (
            modify(CurrentVersion=1, AddEntries=[{"Cidr": "192.0.2.0/24"}]),
            "InvalidPrefixListModification",
        ),
        (
            modify(
                CurrentVersion=1,
                AddEntries=[{"Cidr": "203.0.113.0/24"}, {"Cidr": "10.0.0.0/8"}],
            ),
            "PrefixListMaxEntriesExceeded",
        ),
        (
            modify(
                CurrentVersion=1,
                AddEntries=[{"Cidr": "192.0.2.0/24", "Description": "x"}],
                RemoveEntries=[{"Cidr": "192.0.2.0/24"}],
            ),
            "InvalidParameterValue",
        ),
        (modify(CurrentVersion=1, MaxEntries=4, **add), "InvalidParameterValue"),
        (modify(MaxEntries=1), "InvalidPrefixListModification"),
        (modify(CurrentVersion=1, AddEntries=[{"Cidr": "2001:db8::/32"}]), "InvalidParameterValue"),
        (modify(CurrentVersion=1, AddEntries=[{"Cidr": "10.0.0.1/8"}]), "InvalidParameterValue"),
        (modify(PrefixListName="com.amazonaws.mine"), "InvalidParameterValue"),
        (
            c.call("ModifyManagedPrefixList", PrefixListId="pl-0123456789abcdef0", MaxEntries=4),
            "InvalidPrefixListID.NotFound",
        ),
        (
            c.call("GetManagedPrefixListEntries", PrefixListId="pl-0123"),
            "InvalidPrefixListId.Malformed",
        ),
        (
            c.call(
                "RestoreManagedPrefixListVersion",
                PrefixListId=list_id,
                PreviousVersion=1,
                CurrentVersion=1,
            ),
            "InvalidParameterValue",
        ),
    ):
        assert await _code(call) == code
    # Nothing of it stuck.
    [plist] = (await c.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]))["PrefixLists"]
    assert (plist["Version"], plist["MaxEntries"], plist["PrefixListName"]) == (1, 3, "offices")
    assert len(await _entries(c, list_id)) == 2


async def test_ec2s_refusals_of_a_creation(world: World) -> None:
    c = world.root
    for extra, code in (
        ({"AddressFamily": "IPv5"}, "InvalidParameterValue"),
        ({"PrefixListName": "com.amazonaws.us-east-1.s3"}, "InvalidParameterValue"),
        ({"MaxEntries": 1}, "InvalidParameterValue"),  # two entries given
        ({"MaxEntries": 1001}, "InvalidParameterValue"),  # max_prefix_list_entries
        ({"Entries": [{"Cidr": "2001:db8::/32"}]}, "InvalidParameterValue"),
        (
            {"Entries": [{"Cidr": "192.0.2.0/24"}, {"Cidr": "192.0.2.0/24"}]},
            "InvalidParameterValue",
        ),
        ({"Entries": [{"Cidr": "not-a-block"}]}, "InvalidParameterValue"),
        (
            {"Entries": [{"Cidr": "192.0.2.0/24", "Description": "d" * 256}]},
            "InvalidParameterValue",
        ),
        (
            {"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}]},
            "InvalidParameterValue",
        ),
    ):
        assert await _code(_create(c, **extra)) == code
    assert (await c.call("DescribeManagedPrefixLists"))["PrefixLists"] == []
    v6 = await _create(c, "v6", AddressFamily="IPv6", Entries=[{"Cidr": "2001:db8::/32"}])
    assert v6["AddressFamily"] == "IPv6"


async def test_a_client_token_makes_one_list(world: World) -> None:
    c = world.root
    first = await _create(c, ClientToken="tok-1")
    again = await _create(c, ClientToken="tok-1")
    assert again["PrefixListId"] == first["PrefixListId"]
    assert len((await c.call("DescribeManagedPrefixLists"))["PrefixLists"]) == 1
    assert await _code(_create(c, "other", ClientToken="tok-1")) == "IdempotentParameterMismatch"


async def test_the_quotas_are_settings(tmp_path: Path) -> None:
    async with ec2_world(
        tmp_path, max_prefix_lists_per_tenant=2, max_prefix_list_entries=8,
        prefix_list_versions_kept=1,
    ) as world:  # fmt: skip
        c = world.root
        list_id = (await _create(c, "a"))["PrefixListId"]
        await _create(c, "b")
        assert await _code(_create(c, "c")) == "PrefixListLimitExceeded"
        assert await _code(_create(c, "d", MaxEntries=9)) == "InvalidParameterValue"
        # A list past its MaxEntries ceiling cannot be resized there either.
        assert (
            await _code(c.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=9))
            == "InvalidParameterValue"
        )
        for version in (1, 2):
            await c.call(
                "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=version,
                AddEntries=[{"Cidr": f"10.{version}.0.0/16"}],
            )  # fmt: skip
        # One earlier version kept: 2 is, 1 is forgotten.
        assert len(await _entries(c, list_id, TargetVersion=2)) == 3
        assert await _code(_entries(c, list_id, TargetVersion=1)) == "InvalidParameterValue"


async def test_a_rule_referencing_a_list_lets_its_blocks_in_and_follows_every_change(
    world: World,
) -> None:
    c = world.root
    list_id = (await _create(c))["PrefixListId"]
    group_id = await _group(world)
    instance_id = await _running_member(world, group_id)
    answer = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[
            {**HTTPS, "PrefixListIds": [{"PrefixListId": list_id, "Description": "offices"}]}
        ],
    )
    [rule] = answer["SecurityGroupRules"]
    assert (rule["PrefixListId"], rule["Description"]) == (list_id, "offices")
    assert "CidrIpv4" not in rule
    blocks = {
        FirewallRule("tcp", 443, 443, "192.0.2.0/24"),
        FirewallRule("tcp", 443, 443, "198.51.100.0/24"),
    }
    assert blocks <= _ingress(world, instance_id)
    # A member launched now starts with them.
    assert blocks <= _ingress(world, await _running_member(world, group_id))
    [group] = (await c.call("DescribeSecurityGroups", GroupIds=[group_id]))["SecurityGroups"]
    [permission] = group["IpPermissions"]
    assert permission["PrefixListIds"] == [{"PrefixListId": list_id, "Description": "offices"}]
    assert permission["IpRanges"] == []
    [described] = (
        await c.call(
            "DescribeSecurityGroupRules", SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
        )
    )["SecurityGroupRules"]
    assert described["PrefixListId"] == list_id
    for name, found in (
        ("ip-permission.prefix-list-id", [group_id]),
        ("egress.ip-permission.prefix-list-id", []),
    ):
        filtered = await c.call(
            "DescribeSecurityGroups", Filters=[{"Name": name, "Values": [list_id]}]
        )
        assert [g["GroupId"] for g in filtered["SecurityGroups"]] == found
    associations = await c.call("GetManagedPrefixListAssociations", PrefixListId=list_id)
    assert associations["PrefixListAssociations"] == [
        {"ResourceId": group_id, "ResourceOwner": world.tenant_id}
    ]
    # A modification reaches the member's firewall: the new block in, the removed one out.
    await c.call(
        "ModifyManagedPrefixList",
        PrefixListId=list_id,
        CurrentVersion=1,
        AddEntries=[{"Cidr": "203.0.113.0/24"}],
        RemoveEntries=[{"Cidr": "198.51.100.0/24"}],
    )
    firewall = _ingress(world, instance_id)
    assert FirewallRule("tcp", 443, 443, "203.0.113.0/24") in firewall
    assert FirewallRule("tcp", 443, 443, "198.51.100.0/24") not in firewall
    # So does a restore.
    await c.call(
        "RestoreManagedPrefixListVersion", PrefixListId=list_id, PreviousVersion=1, CurrentVersion=2
    )
    firewall = _ingress(world, instance_id)
    assert FirewallRule("tcp", 443, 443, "198.51.100.0/24") in firewall
    assert FirewallRule("tcp", 443, 443, "203.0.113.0/24") not in firewall
    # Referenced: not deleted.
    assert (
        await _code(c.call("DeleteManagedPrefixList", PrefixListId=list_id))
        == "DependencyViolation"
    )
    # Revoked by its definition: the blocks go, and the list may go.
    revoked = await c.call(
        "RevokeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**HTTPS, "PrefixListIds": [{"PrefixListId": list_id}]}],
    )
    assert revoked["RevokedSecurityGroupRules"][0]["PrefixListId"] == list_id
    assert not any(r.from_port == 443 for r in _ingress(world, instance_id))
    deleted = (await c.call("DeleteManagedPrefixList", PrefixListId=list_id))["PrefixList"]
    assert (deleted["PrefixListId"], deleted["State"]) == (list_id, "delete-complete")
    assert (
        await _code(c.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]))
        == "InvalidPrefixListID.NotFound"
    )
    assert (
        await _code(c.call("DeleteManagedPrefixList", PrefixListId=list_id))
        == "InvalidPrefixListID.NotFound"
    )


async def test_the_rule_form_takes_a_prefix_list_and_an_ipv6_list_opens_nothing(
    world: World,
) -> None:
    c = world.root
    list_id = (await _create(c))["PrefixListId"]
    v6 = (await _create(c, "v6", AddressFamily="IPv6", Entries=[{"Cidr": "2001:db8::/32"}]))[
        "PrefixListId"
    ]
    group_id = await _group(world)
    instance_id = await _running_member(world, group_id)
    [rule] = (
        await c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=group_id,
            IpPermissions=[{**HTTPS, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
        )
    )["SecurityGroupRules"]
    await c.call(
        "ModifySecurityGroupRules",
        GroupId=group_id,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule["SecurityGroupRuleId"],
                "SecurityGroupRule": {**HTTPS, "PrefixListId": list_id},
            }
        ],
    )
    firewall = _ingress(world, instance_id)
    assert FirewallRule("tcp", 443, 443, "192.0.2.0/24") in firewall
    assert FirewallRule("tcp", 443, 443, "10.0.0.0/8") not in firewall
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "PrefixListIds": [{"PrefixListId": v6}],
            }
        ],
    )
    assert not any(r.from_port == 22 for r in _ingress(world, instance_id))


async def test_a_reference_weighs_max_entries_against_the_rules_quota(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_rules_per_security_group=10) as world:
        c = world.root
        list_id = (await _create(c, MaxEntries=8))["PrefixListId"]
        group_id = await _group(world)
        await c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=group_id,
            IpPermissions=[{**HTTPS, "PrefixListIds": [{"PrefixListId": list_id}]}],
        )
        ranges = [{"CidrIp": f"10.{n}.0.0/16"} for n in range(3)]
        refused = c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=group_id,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": ranges}],
        )
        assert await _code(refused) == "RulesPerSecurityGroupLimitExceeded"
        await c.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": ranges[:2]}
            ],
        )
        # Growing the list's MaxEntries would take the group past its quota.
        assert (
            await _code(c.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=9))
            == "RulesPerSecurityGroupLimitExceeded"
        )
        await c.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=7)


async def test_another_tenants_list_is_never_seen_changed_nor_referenced(world: World) -> None:
    list_id = (await _create(world.root))["PrefixListId"]
    _, other = await world.tenant("other")
    not_found = "InvalidPrefixListID.NotFound"
    for call in (
        other.call("DescribeManagedPrefixLists", PrefixListIds=[list_id]),
        other.call("GetManagedPrefixListEntries", PrefixListId=list_id),
        other.call("GetManagedPrefixListAssociations", PrefixListId=list_id),
        other.call("ModifyManagedPrefixList", PrefixListId=list_id, MaxEntries=6),
        other.call(
            "RestoreManagedPrefixListVersion",
            PrefixListId=list_id,
            PreviousVersion=1,
            CurrentVersion=2,
        ),
        other.call("DeleteManagedPrefixList", PrefixListId=list_id),
    ):
        assert await _code(call) == not_found
    assert (await other.call("DescribeManagedPrefixLists"))["PrefixLists"] == []
    group = await other.call("CreateSecurityGroup", GroupName="g", Description="g")
    refused = other.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group["GroupId"],
        IpPermissions=[{**HTTPS, "PrefixListIds": [{"PrefixListId": list_id}]}],
    )
    assert await _code(refused) == "InvalidPrefixListId.NotFound"
    [plist] = (await world.root.call("DescribeManagedPrefixLists"))["PrefixLists"]
    assert (plist["Version"], plist["MaxEntries"]) == (1, 5)


async def test_the_platform_offers_only_the_object_stores_managed_list(world: World) -> None:
    """DescribePrefixLists: the AWS-managed list of the object store, for VPC endpoints
    (decision 0160; its blocks a setting, none here), nothing else."""
    c = world.root
    (managed,) = (await c.call("DescribePrefixLists"))["PrefixLists"]
    assert managed["PrefixListName"] == "com.amazonaws.eu-fr-1.s3"
    assert managed.get("Cidrs", []) == []
    refused = c.call("DescribePrefixLists", PrefixListIds=["pl-63a5400a"])
    assert await _code(refused) == "InvalidPrefixListId.NotFound"
    # A tenant's own lists are managed ones, not AWS's.
    list_id = (await _create(c))["PrefixListId"]
    refused = c.call("DescribePrefixLists", PrefixListIds=[list_id])
    assert await _code(refused) == "InvalidPrefixListId.NotFound"


async def test_the_resync_brings_a_host_that_missed_a_change_to_the_lists_blocks(
    world: World,
) -> None:
    """A push lost (the host away when the list changed) is made good by the periodic resync,
    which computes firewalls with the lists too."""
    c = world.root
    list_id = (await _create(c))["PrefixListId"]
    group_id = await _group(world)
    await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**HTTPS, "PrefixListIds": [{"PrefixListId": list_id}]}],
    )
    instance_id = await _running_member(world, group_id)
    driver = world.driver
    stale = driver.instances[instance_id].firewall
    await c.call(
        "ModifyManagedPrefixList", PrefixListId=list_id, CurrentVersion=1,
        AddEntries=[{"Cidr": "203.0.113.0/24"}],
    )  # fmt: skip
    driver.instances[instance_id].firewall = stale  # the host lost the push
    await world.compute.resync_hosts()
    assert FirewallRule("tcp", 443, 443, "203.0.113.0/24") in _ingress(world, instance_id)


def _interleaved(store: Any) -> None:
    """Every read of the memory store yields to the event loop first, so that calls gathered
    at once read before any of them writes, as two gateways do."""
    for name in ("get", "list"):
        real = getattr(store, name)

        async def yielding(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await _real(*args, **kwargs)

        setattr(store, name, yielding)


async def test_a_reference_and_a_deletion_at_once_never_leave_a_rule_naming_no_list(
    world: World,
) -> None:
    """Serialised on the list's revision: either the rule lands and the deletion sees it
    (DependencyViolation), or the deletion lands and the rule finds no list."""
    compute, tenant = world.compute, world.tenant_id
    group_id = await _group(world)
    _interleaved(compute.store)
    for n in range(4):
        list_id = (await _create(world.root, f"race-{n}"))["PrefixListId"]
        rule = parse_rule("tcp", 443 + n, 443 + n, "", prefix_list_id=list_id)
        outcomes = await asyncio.gather(
            compute.authorize(tenant, group_id, [rule], ingress=True),
            compute.delete_managed_prefix_list(tenant, list_id),
            return_exceptions=True,
        )
        kinds = sorted(type(o).__name__ for o in outcomes)
        assert kinds in (
            sorted(["SecurityGroup", ResourceInUse.__name__]),
            sorted([NotFound.__name__, ManagedPrefixList.__name__]),
        ), outcomes
        group = await compute.security_group(tenant, group_id=group_id, name=None)
        lists = {p.prefix_list_id for p in await compute.store.list(ManagedPrefixList, tenant)}
        assert all(r.prefix_list_id in lists for r in group.ingress if r.prefix_list_id)
