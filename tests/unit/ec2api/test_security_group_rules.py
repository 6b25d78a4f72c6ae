"""Security group rules as resources (decision 0146), through the EC2 app in process with
botocore's own serialisation: Authorize* answers the new rules' ids; DescribeSecurityGroupRules
(ids, filters, pages), ModifySecurityGroupRules, Revoke* by SecurityGroupRuleId,
UpdateSecurityGroupRuleDescriptions*, tags on ``sgr-`` ids; a prefix list that does not exist
refused with EC2's error (decision 0149: lists that do exist, test_prefix_lists.py); a running
member's firewall follows every change of definition, and only those."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.network import default_ids
from support.ec2app import ApiError, World

SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


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


async def test_authorize_answers_each_new_rule_with_its_id_and_describe_finds_it(
    world: World,
) -> None:
    c = world.root
    group_id = await _group(world)
    peer = await _group(world, "peer")
    answer = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[
            {
                **SSH,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
                "UserIdGroupPairs": [{"GroupId": peer}],
            }
        ],
        TagSpecifications=[
            {"ResourceType": "security-group-rule", "Tags": [{"Key": "team", "Value": "a"}]}
        ],
    )
    assert answer["Return"] is True
    rules = answer["SecurityGroupRules"]
    assert len(rules) == 3 and len({r["SecurityGroupRuleId"] for r in rules}) == 3
    for rule in rules:
        assert rule["SecurityGroupRuleId"].startswith("sgr-")
        assert (rule["GroupId"], rule["GroupOwnerId"]) == (group_id, world.tenant_id)
        assert (rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == (
            False, "tcp", 22, 22,
        )  # fmt: skip
        assert rule["Tags"] == [{"Key": "team", "Value": "a"}]
        assert rule["SecurityGroupRuleArn"].endswith(
            f":security-group-rule/{rule['SecurityGroupRuleId']}"
        )
    by_peer = {
        r.get("CidrIpv4") or r.get("CidrIpv6") or r["ReferencedGroupInfo"]["GroupId"]: r
        for r in rules
    }
    assert set(by_peer) == {"10.0.0.0/8", "2001:db8::/32", peer}
    assert by_peer["10.0.0.0/8"]["Description"] == "ssh"
    assert by_peer[peer]["ReferencedGroupInfo"]["UserId"] == world.tenant_id
    # Described by id, as Authorize answered them.
    ids = [r["SecurityGroupRuleId"] for r in rules]
    described = await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=ids)
    assert sorted(
        described["SecurityGroupRules"], key=lambda r: r["SecurityGroupRuleId"]
    ) == sorted(rules, key=lambda r: r["SecurityGroupRuleId"])
    # A new group's default egress rule has its id too.
    mine = await c.call(
        "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [group_id]}]
    )
    [egress] = [r for r in mine["SecurityGroupRules"] if r["IsEgress"]]
    assert (egress["IpProtocol"], egress["CidrIpv4"]) == ("-1", "0.0.0.0/0")
    assert len(mine["SecurityGroupRules"]) == 4
    tagged = await c.call(
        "DescribeSecurityGroupRules", Filters=[{"Name": "tag:team", "Values": ["a"]}]
    )
    assert {r["SecurityGroupRuleId"] for r in tagged["SecurityGroupRules"]} == set(ids)
    one = await c.call(
        "DescribeSecurityGroupRules",
        Filters=[{"Name": "security-group-rule-id", "Values": [ids[0]]}],
    )
    assert [r["SecurityGroupRuleId"] for r in one["SecurityGroupRules"]] == [ids[0]]


async def test_the_default_groups_rules_have_stable_ids_and_pages_cover_every_rule(
    world: World,
) -> None:
    c = world.root
    default_group = default_ids(world.tenant_id).group_id
    first = await c.call(
        "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [default_group]}]
    )
    again = await c.call(
        "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [default_group]}]
    )
    assert first["SecurityGroupRules"] == again["SecurityGroupRules"]
    [member_rule] = [r for r in first["SecurityGroupRules"] if not r["IsEgress"]]
    assert member_rule["ReferencedGroupInfo"]["GroupId"] == default_group
    for n in range(6):
        await _group(world, f"g{n}")
    everything = (await c.call("DescribeSecurityGroupRules"))["SecurityGroupRules"]
    seen: list[str] = []
    token: str | None = None
    while True:
        page = await c.call(
            "DescribeSecurityGroupRules", MaxResults=5, **({"NextToken": token} if token else {})
        )
        assert len(page["SecurityGroupRules"]) <= 5
        seen += [r["SecurityGroupRuleId"] for r in page["SecurityGroupRules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(r["SecurityGroupRuleId"] for r in everything)
    assert len(seen) == len(set(seen)) == 8
    for params, code in (
        (
            {"SecurityGroupRuleIds": ["sgr-0123456789abcdef0"]},
            "InvalidSecurityGroupRuleId.NotFound",
        ),
        ({"SecurityGroupRuleIds": ["sgr-nope"]}, "InvalidSecurityGroupRuleId.Malformed"),
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"Filters": [{"Name": "vpc-id", "Values": ["x"]}]}, "InvalidParameterValue"),
    ):
        assert await _code(c.call("DescribeSecurityGroupRules", **params)) == code, params


async def test_modify_replaces_a_rule_in_place_and_the_firewall_follows(world: World) -> None:
    c = world.root
    group_id = await _group(world)
    instance_id = await _running_member(world, group_id)
    answer = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
        TagSpecifications=[
            {"ResourceType": "security-group-rule", "Tags": [{"Key": "k", "Value": "v"}]}
        ],
    )
    [rule] = answer["SecurityGroupRules"]
    rule_id = rule["SecurityGroupRuleId"]
    assert FirewallRule("tcp", 22, 22, "10.0.0.0/8") in _ingress(world, instance_id)
    await c.call(
        "ModifySecurityGroupRules",
        GroupId=group_id,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "CidrIpv4": "192.0.2.0/24", "Description": "https",
                },
            }
        ],
    )  # fmt: skip
    await world.compute.settle()
    [now] = (await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[rule_id]))[
        "SecurityGroupRules"
    ]
    assert (now["FromPort"], now["ToPort"], now["CidrIpv4"], now["Description"]) == (
        443, 443, "192.0.2.0/24", "https",
    )  # fmt: skip
    assert now["Tags"] == [{"Key": "k", "Value": "v"}] and now["IsEgress"] is False
    firewall = _ingress(world, instance_id)
    assert FirewallRule("tcp", 443, 443, "192.0.2.0/24") in firewall
    assert FirewallRule("tcp", 22, 22, "10.0.0.0/8") not in firewall
    # DescribeSecurityGroups shows the same change.
    [group] = (await c.call("DescribeSecurityGroups", GroupIds=[group_id]))["SecurityGroups"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"]] == [
        (443, "192.0.2.0/24")
    ]

    def modify(rule_id: str, **spec: Any) -> Any:
        return c.call(
            "ModifySecurityGroupRules",
            GroupId=group_id,
            SecurityGroupRules=[{"SecurityGroupRuleId": rule_id, "SecurityGroupRule": spec}],
        )

    [egress] = [
        r["SecurityGroupRuleId"]
        for r in (
            await c.call(
                "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [group_id]}]
            )
        )["SecurityGroupRules"]
        if r["IsEgress"]
    ]
    other = await _group(world, "other")
    [others] = (
        await c.call(
            "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [other]}]
        )
    )["SecurityGroupRules"]
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    lan = {**https, "CidrIpv4": "10.0.0.0/8"}
    unknown_rule, unknown_group = "sgr-0123456789abcdef0", "sg-0123456789abcdef0"
    for call, code in (
        (
            modify(rule_id, **https, PrefixListId="pl-0123456789abcdef0"),
            "InvalidPrefixListId.NotFound",
        ),
        (modify(rule_id, **https, PrefixListId="pl-0123"), "InvalidPrefixListId.Malformed"),
        (modify(rule_id, **https), "MissingParameter"),
        (modify(rule_id, **lan, CidrIpv6="::/0"), "InvalidParameterCombination"),
        (modify(rule_id, **https, CidrIpv4="::/0"), "InvalidParameterValue"),
        (modify(rule_id, **{**lan, "FromPort": 444}), "InvalidParameterValue"),
        (modify(others["SecurityGroupRuleId"], **lan), "InvalidSecurityGroupRuleId.NotFound"),
        (modify(unknown_rule, **lan), "InvalidSecurityGroupRuleId.NotFound"),
        (modify(unknown_group, **lan), "InvalidSecurityGroupRuleId.Malformed"),
        (modify(rule_id, **https, ReferencedGroupId=unknown_group), "InvalidGroup.NotFound"),
    ):
        assert await _code(call) == code
    # Two rules of one permission in one direction: refused, nothing changed.
    second = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    second_id = second["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    duplicate = modify(second_id, **https, CidrIpv4="192.0.2.0/24")
    assert await _code(duplicate) == "InvalidPermission.Duplicate"
    # An egress rule is modified as one (its direction kept), to name a group of its VPC.
    await modify(egress, IpProtocol="-1", ReferencedGroupId=other)
    [moved] = (await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[egress]))[
        "SecurityGroupRules"
    ]
    assert moved["IsEgress"] is True and moved["ReferencedGroupInfo"]["GroupId"] == other


async def test_revoke_by_rule_id_and_descriptions_by_id_or_permission(world: World) -> None:
    c = world.root
    group_id = await _group(world)
    instance_id = await _running_member(world, group_id)
    made = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.1.0.0/16"}]}],
    )
    first, second = (r["SecurityGroupRuleId"] for r in made["SecurityGroupRules"])
    firewall = _ingress(world, instance_id)
    # Descriptions change; the firewall does not.
    await c.call(
        "UpdateSecurityGroupRuleDescriptionsIngress",
        GroupId=group_id,
        SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": first, "Description": "office"}],
    )
    await c.call(
        "UpdateSecurityGroupRuleDescriptionsIngress",
        GroupId=group_id,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "lab"}]}],
    )
    described = await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[first, second])
    assert {
        r["SecurityGroupRuleId"]: r["Description"] for r in described["SecurityGroupRules"]
    } == {
        first: "office",
        second: "lab",
    }
    await world.compute.settle()
    assert _ingress(world, instance_id) == firewall
    [egress] = [
        r["SecurityGroupRuleId"]
        for r in (
            await c.call(
                "DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [group_id]}]
            )
        )["SecurityGroupRules"]
        if r["IsEgress"]
    ]
    await c.call(
        "UpdateSecurityGroupRuleDescriptionsEgress",
        GroupId=group_id,
        SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": egress, "Description": "out"}],
    )
    for call, code in (
        (
            c.call(
                "UpdateSecurityGroupRuleDescriptionsIngress",
                GroupId=group_id,
                SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": egress, "Description": "x"}],
            ),
            "InvalidSecurityGroupRuleId.NotFound",
        ),
        (
            c.call(
                "UpdateSecurityGroupRuleDescriptionsIngress",
                GroupId=group_id,
                IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.2.0.0/16"}]}],
            ),
            "InvalidPermission.NotFound",
        ),
        # An ingress rule is not revoked as an egress one, nor with IpPermissions beside it.
        (
            c.call("RevokeSecurityGroupEgress", GroupId=group_id, SecurityGroupRuleIds=[first]),
            "InvalidSecurityGroupRuleId.NotFound",
        ),
        (
            c.call(
                "RevokeSecurityGroupIngress",
                GroupId=group_id,
                SecurityGroupRuleIds=[first],
                IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
            ),
            "InvalidParameterCombination",
        ),
    ):
        assert await _code(call) == code
    revoked = await c.call(
        "RevokeSecurityGroupIngress", GroupId=group_id, SecurityGroupRuleIds=[first]
    )
    assert [
        (r["SecurityGroupRuleId"], r["GroupId"], r["IsEgress"], r["CidrIpv4"], r["Description"])
        for r in revoked["RevokedSecurityGroupRules"]
    ] == [(first, group_id, False, "10.0.0.0/8", "office")]
    await world.compute.settle()
    assert FirewallRule("tcp", 22, 22, "10.0.0.0/8") not in _ingress(world, instance_id)
    assert FirewallRule("tcp", 22, 22, "10.1.0.0/16") in _ingress(world, instance_id)
    # Without GroupId, the rule's own group.
    await c.call("RevokeSecurityGroupIngress", SecurityGroupRuleIds=[second])
    # Revoked by its definition, a rule is answered with its id too.
    revoked = await c.call(
        "RevokeSecurityGroupEgress",
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert [
        (r["SecurityGroupRuleId"], r["IsEgress"]) for r in revoked["RevokedSecurityGroupRules"]
    ] == [(egress, True)]
    [group] = (await c.call("DescribeSecurityGroups", GroupIds=[group_id]))["SecurityGroups"]
    assert group["IpPermissions"] == []
    gone = c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[first])
    assert await _code(gone) == "InvalidSecurityGroupRuleId.NotFound"


async def test_tags_on_rule_ids_and_other_accounts_rules_are_not_found(world: World) -> None:
    c = world.root
    group_id = await _group(world)
    made = await c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    rule_id = made["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    await c.call("CreateTags", Resources=[rule_id, group_id], Tags=[{"Key": "env", "Value": "p"}])
    tags = await c.call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [rule_id]}])
    assert [(t["Key"], t["Value"], t["ResourceType"]) for t in tags["Tags"]] == [
        ("env", "p", "security-group-rule")
    ]
    [rule] = (await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[rule_id]))[
        "SecurityGroupRules"
    ]
    assert rule["Tags"] == [{"Key": "env", "Value": "p"}]
    _, intruder = await world.tenant("intruder")
    spec = {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}
    for call in (
        intruder.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[rule_id]),
        intruder.call("CreateTags", Resources=[rule_id], Tags=[{"Key": "x", "Value": "y"}]),
        intruder.call("DeleteTags", Resources=[rule_id]),
        intruder.call("RevokeSecurityGroupIngress", SecurityGroupRuleIds=[rule_id]),
    ):
        assert await _code(call) == "InvalidSecurityGroupRuleId.NotFound"
    # Named with the victim's group, the group is not found first.
    modify = intruder.call(
        "ModifySecurityGroupRules",
        GroupId=group_id,
        SecurityGroupRules=[{"SecurityGroupRuleId": rule_id, "SecurityGroupRule": spec}],
    )
    assert await _code(modify) == "InvalidGroup.NotFound"
    listed = (await intruder.call("DescribeSecurityGroupRules"))["SecurityGroupRules"]
    assert rule_id not in {r["SecurityGroupRuleId"] for r in listed}
    await c.call("DeleteTags", Resources=[rule_id], Tags=[{"Key": "env"}])
    [rule] = (await c.call("DescribeSecurityGroupRules", SecurityGroupRuleIds=[rule_id]))[
        "SecurityGroupRules"
    ]
    assert rule.get("Tags", []) == []


async def test_an_unknown_prefix_list_in_ip_permissions_is_refused_never_dropped(
    world: World,
) -> None:
    c = world.root
    group_id = await _group(world)
    call = c.call(
        "AuthorizeSecurityGroupIngress",
        GroupId=group_id,
        IpPermissions=[
            {
                **SSH,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}],
            }
        ],
    )
    assert await _code(call) == "InvalidPrefixListId.NotFound"
    [group] = (await c.call("DescribeSecurityGroups", GroupIds=[group_id]))["SecurityGroups"]
    assert group["IpPermissions"] == []
