"""EC2 key pair and security group actions (rules by id: security_group_rules.py)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace

from andromede.compute.model import (
    Rule,
    SecurityGroup,
    parse_rule,
)
from andromede.compute.network import default_ids
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, Handler, Params, arn_of, iso8601
from andromede.ec2api.security_group_rules import (
    refs_of,
    write_revoked,
    write_rule_set,
)
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["ACCESS_ACTIONS"]

# -- key pairs -------------------------------------------------------------------------------


async def create_key_pair(call: Call) -> None:
    p = call.params
    if (p.get("KeyFormat") or "pem") != "pem":
        raise Ec2Error("InvalidParameterValue", "Only the pem key format is supported")
    key_pair, private = await call.compute.create_key_pair(
        call.tenant_id,
        p.required("KeyName"),
        p.get("KeyType") or "rsa",
        p.tag_specifications("key-pair"),
    )
    xml = call.result
    xml.element("keyName", key_pair.name)
    xml.element("keyFingerprint", key_pair.fingerprint)
    xml.element("keyMaterial", private)
    xml.element("keyPairId", key_pair.key_pair_id)
    write_tags(xml, key_pair.tags)


async def import_key_pair(call: Call) -> None:
    p = call.params
    try:
        material = base64.b64decode(p.required("PublicKeyMaterial"), validate=True)
    except (binascii.Error, ValueError):
        raise Ec2Error("InvalidParameterValue", "PublicKeyMaterial is not base64") from None
    key_pair = await call.compute.import_key_pair(
        call.tenant_id, p.required("KeyName"), material, p.tag_specifications("key-pair")
    )
    xml = call.result
    xml.element("keyName", key_pair.name)
    xml.element("keyFingerprint", key_pair.fingerprint)
    xml.element("keyPairId", key_pair.key_pair_id)
    write_tags(xml, key_pair.tags)


async def describe_key_pairs(call: Call) -> None:
    p = call.params
    include_public = p.boolean("IncludePublicKey", default=False)
    key_pairs = await call.compute.describe_key_pairs(
        call.tenant_id, p.values("KeyName"), p.values("KeyPairId")
    )
    filters = Filters(
        p.filters(),
        with_tags(
            {
                "key-name": lambda k: [getattr(k, "name", "")],
                "key-pair-id": lambda k: [getattr(k, "key_pair_id", "")],
                "fingerprint": lambda k: [getattr(k, "fingerprint", "")],
            }
        ),
    )
    xml = call.result
    xml.open("keySet")
    for key_pair in key_pairs:
        if not matches(filters, key_pair):
            continue
        xml.open("item")
        xml.element("keyPairId", key_pair.key_pair_id)
        xml.element("keyName", key_pair.name)
        xml.element("keyFingerprint", key_pair.fingerprint)
        xml.element("keyType", key_pair.key_type)
        xml.element("createTime", iso8601(key_pair.created_at))
        if include_public:
            xml.element("publicKey", key_pair.public_key)
        write_tags(xml, key_pair.tags)
        xml.close("item")
    xml.close("keySet")


async def delete_key_pair(call: Call) -> None:
    p = call.params
    name, key_pair_id = p.get("KeyName"), p.get("KeyPairId")
    if name is None and key_pair_id is None:
        raise Ec2Error("MissingParameter", "The request must contain KeyName or KeyPairId")
    await call.compute.delete_key_pair(call.tenant_id, name=name, key_pair_id=key_pair_id)
    write_return(call.result)


# -- security groups -------------------------------------------------------------------------


def _write_rules(xml: XmlWriter, name: str, rules: tuple[Rule, ...], owner: str) -> None:
    xml.open(name)
    for rule in rules:
        xml.open("item")
        xml.element("ipProtocol", rule.protocol)
        if rule.protocol != "-1":
            xml.element("fromPort", rule.from_port)
            xml.element("toPort", rule.to_port)
        xml.open("groups")
        if rule.group_id is not None:
            xml.open("item")
            xml.element("userId", owner)
            xml.element("groupId", rule.group_id)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("groups")
        v6 = ":" in rule.cidr
        xml.open("ipRanges")
        if rule.cidr and not v6:
            xml.open("item")
            xml.element("cidrIp", rule.cidr)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("ipRanges")
        xml.open("ipv6Ranges")
        if v6:
            xml.open("item")
            xml.element("cidrIpv6", rule.cidr)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("ipv6Ranges")
        xml.open("prefixListIds")
        if rule.prefix_list_id is not None:
            xml.open("item")
            xml.element("prefixListId", rule.prefix_list_id)
            xml.element("description", rule.description or None)
            xml.close("item")
        xml.close("prefixListIds")
        xml.close("item")
    xml.close(name)


async def create_security_group(call: Call) -> None:
    p = call.params
    group = await call.compute.create_security_group(
        call.tenant_id,
        p.required("GroupName"),
        p.required("GroupDescription"),
        p.tag_specifications("security-group"),
        p.get("VpcId"),
    )
    call.result.element("return", True)
    call.result.element("groupId", group.group_id)
    call.result.element("securityGroupArn", call.arn("security-group", group.group_id))
    write_tags(call.result, group.tags)


_GROUP_FILTERS = with_tags(
    {
        "group-id": lambda g: [g.group_id] if isinstance(g, SecurityGroup) else [],
        "group-name": lambda g: [g.name] if isinstance(g, SecurityGroup) else [],
        "description": lambda g: [g.description] if isinstance(g, SecurityGroup) else [],
        "vpc-id": lambda g: [g.vpc_id or ""] if isinstance(g, SecurityGroup) else [],
        # The managed prefix lists its rules reference (decision 0149).
        "ip-permission.prefix-list-id": lambda g: _lists(g, egress=False),
        "egress.ip-permission.prefix-list-id": lambda g: _lists(g, egress=True),
    }
)


def _lists(group: object, *, egress: bool) -> list[str]:
    if not isinstance(group, SecurityGroup):
        return []
    rules = group.egress if egress else group.ingress
    return [r.prefix_list_id for r in rules if r.prefix_list_id is not None]


async def describe_security_groups(call: Call) -> None:
    p = call.params
    groups = await call.compute.describe_security_groups(
        call.tenant_id, p.values("GroupId"), p.values("GroupName")
    )
    # Groups recorded before custom VPCs name none: theirs is the first default VPC.
    default_vpc = default_ids(call.tenant_id).vpc_id
    filters = Filters(p.filters(), _GROUP_FILTERS)
    xml = call.result
    xml.open("securityGroupInfo")
    for group in groups:
        if not matches(filters, group if group.vpc_id else replace(group, vpc_id=default_vpc)):
            continue
        xml.open("item")
        xml.element("ownerId", call.tenant_id)
        xml.element("groupId", group.group_id)
        xml.element("groupName", group.name)
        xml.element("groupDescription", group.description)
        xml.element("vpcId", group.vpc_id or default_vpc)
        xml.element("securityGroupArn", call.arn("security-group", group.group_id))
        _write_rules(xml, "ipPermissions", group.ingress, call.tenant_id)
        _write_rules(xml, "ipPermissionsEgress", group.egress, call.tenant_id)
        write_tags(xml, group.tags)
        xml.close("item")
    xml.close("securityGroupInfo")


async def delete_security_group(call: Call) -> None:
    p = call.params
    group_id, name = p.get("GroupId"), p.get("GroupName")
    if group_id is None and name is None:
        raise Ec2Error("MissingParameter", "The request must contain GroupId or GroupName")
    group = await call.compute.delete_security_group(call.tenant_id, group_id=group_id, name=name)
    call.result.element("return", True)
    call.result.element("groupId", group.group_id)


def _port(params: Params, name: str) -> int | None:
    return params.integer(name, minimum=-1, maximum=65535)


async def _rules(call: Call, *, revoking: bool = False) -> list[Rule]:
    p = call.params
    rules: list[Rule] = []
    for perm in p.structs("IpPermissions"):
        protocol = perm.required("IpProtocol")
        low, high = _port(perm, "FromPort"), _port(perm, "ToPort")
        # Managed prefix lists (decision 0149): one rule per list, of the caller's lists.
        rules.extend(
            parse_rule(
                protocol,
                low,
                high,
                "",
                pl.get("Description") or "",
                prefix_list_id=pl.required("PrefixListId"),
                revoking=revoking,
            )
            for pl in perm.structs("PrefixListIds")
        )
        for pair in perm.structs("Groups"):
            group_id = await _paired_group(call, pair)
            rules.append(
                parse_rule(
                    protocol,
                    low,
                    high,
                    "",
                    pair.get("Description") or "",
                    group_id=group_id,
                    revoking=revoking,
                )
            )
        ranges = [
            (r.required("CidrIp"), r.get("Description") or "") for r in perm.structs("IpRanges")
        ]
        ranges += [
            (r.required("CidrIpv6"), r.get("Description") or "") for r in perm.structs("Ipv6Ranges")
        ]
        if not ranges and not perm.structs("Groups") and not perm.structs("PrefixListIds"):
            raise Ec2Error(
                "MissingParameter",
                "A rule needs an IpRanges, Ipv6Ranges, PrefixListIds or Groups peer",
            )
        rules.extend(
            parse_rule(protocol, low, high, cidr, text, revoking=revoking) for cidr, text in ranges
        )
    source_group = p.get("SourceSecurityGroupName")
    owner = p.get("SourceSecurityGroupOwnerId")
    if owner is not None and owner != call.tenant_id:
        # Taken for the caller's own group of that name, the rule would open the group to
        # another peer than the one named (decision 0060).
        raise Ec2Error(
            "InvalidParameterValue", "Rules may name only security groups of your own account"
        )
    if source_group is not None:
        group = await call.compute.security_group(call.tenant_id, group_id=None, name=source_group)
        rules.append(
            parse_rule(
                p.get("IpProtocol") or "-1",
                _port(p, "FromPort"),
                _port(p, "ToPort"),
                "",
                group_id=group.group_id,
                revoking=revoking,
            )
        )
    cidr = p.get("CidrIp")
    if cidr is not None:
        rules.append(
            parse_rule(
                p.get("IpProtocol") or "-1",
                _port(p, "FromPort"),
                _port(p, "ToPort"),
                cidr,
                revoking=revoking,
            )
        )
    if not rules:
        raise Ec2Error("MissingParameter", "The request must contain IpPermissions or CidrIp")
    return rules


async def _paired_group(call: Call, pair: Params) -> str:
    """The group a UserIdGroupPair names (by id or name); only the caller's account's."""
    user_id = pair.get("UserId")
    if user_id is not None and user_id != call.tenant_id:
        raise Ec2Error(
            "InvalidParameterValue", "Rules may name only security groups of your own account"
        )
    group_id = pair.get("GroupId")
    if group_id is not None:
        return group_id
    name = pair.required("GroupName")
    return (await call.compute.security_group(call.tenant_id, group_id=None, name=name)).group_id


async def _group_id(call: Call) -> str:
    p = call.params
    group_id = p.get("GroupId")
    if group_id is not None:
        return group_id
    name = p.required("GroupName") if p.get("GroupName") is None else p.get("GroupName")
    group = await call.compute.security_group(call.tenant_id, group_id=None, name=name)
    return group.group_id


def _changer(*, ingress: bool, authorise: bool) -> Handler:
    async def change(call: Call) -> None:
        p, compute = call.params, call.compute
        rule_ids = p.values("SecurityGroupRuleId")
        if rule_ids and not authorise:
            await _revoke_by_id(call, rule_ids, ingress=ingress)
            return
        group_id = await _group_id(call)
        rules = await _rules(call, revoking=not authorise)
        if authorise:
            tags = p.tag_specifications("security-group-rule")
            group = await compute.authorize(
                call.tenant_id, group_id, rules, ingress=ingress, tags=tags
            )
            current = group.ingress if ingress else group.egress
            added = [r for r in current if any(r.same_permission(x) for x in rules)]
            call.result.element("return", True)
            write_rule_set(call.result, call, refs_of(group, added, egress=not ingress))
        else:
            _, revoked = await compute.revoke(call.tenant_id, group_id, rules, ingress=ingress)
            call.result.element("return", True)
            write_revoked(call.result, group_id, revoked, egress=not ingress)

    return change


async def _revoke_by_id(call: Call, rule_ids: list[str], *, ingress: bool) -> None:
    """Revoke*'s SecurityGroupRuleId.N (decision 0146): rules named by id, not by definition."""
    p = call.params
    if p.structs("IpPermissions") or any(
        p.get(name) is not None for name in ("CidrIp", "SourceSecurityGroupName", "IpProtocol")
    ):
        raise Ec2Error(
            "InvalidParameterCombination",
            "SecurityGroupRuleIds cannot be used with IpPermissions or their fields",
        )
    group_id = None
    if p.get("GroupId") is not None or p.get("GroupName") is not None:
        group_id = await _group_id(call)
    group, revoked = await call.compute.revoke_rules(
        call.tenant_id, group_id, rule_ids, ingress=ingress
    )
    call.result.element("return", True)
    write_revoked(call.result, group.group_id, revoked, egress=not ingress)


def _describer(*, ingress: bool) -> Handler:
    """UpdateSecurityGroupRuleDescriptionsIngress/Egress: rules named by id
    (``SecurityGroupRuleDescription.N``) or by their definition (``IpPermissions``)."""

    async def describe(call: Call) -> None:
        p = call.params
        group_id = await _group_id(call)
        by_id = [
            (d.required("SecurityGroupRuleId"), d.get("Description") or "")
            for d in p.structs("SecurityGroupRuleDescription")
        ]
        if by_id and p.structs("IpPermissions"):
            raise Ec2Error(
                "InvalidParameterCombination",
                "SecurityGroupRuleDescriptions cannot be used with IpPermissions",
            )
        permissions = [] if by_id else await _rules(call, revoking=True)
        await call.compute.describe_rules(
            call.tenant_id, group_id, ingress=ingress, by_id=by_id, by_permission=permissions
        )
        call.result.element("return", True)

    return describe


def _group_arn(call: Call) -> list[str]:
    return [call.arn("security-group", call.params.get("GroupId") or "*")]


ACCESS_ACTIONS: dict[str, Action] = {
    "CreateKeyPair": Action(
        create_key_pair, mutating=True, resources=arn_of("key-pair", "KeyName")
    ),
    "ImportKeyPair": Action(
        import_key_pair, mutating=True, resources=arn_of("key-pair", "KeyName")
    ),
    "DescribeKeyPairs": Action(describe_key_pairs, mutating=False),
    "DeleteKeyPair": Action(
        delete_key_pair, mutating=True, resources=arn_of("key-pair", "KeyName")
    ),
    "CreateSecurityGroup": Action(
        create_security_group, mutating=True, resources=lambda c: [c.arn("security-group")]
    ),
    "DescribeSecurityGroups": Action(describe_security_groups, mutating=False),
    "DeleteSecurityGroup": Action(delete_security_group, mutating=True, resources=_group_arn),
    "AuthorizeSecurityGroupIngress": Action(
        _changer(ingress=True, authorise=True),
        mutating=True,
        resources=_group_arn,
    ),
    "AuthorizeSecurityGroupEgress": Action(
        _changer(ingress=False, authorise=True),
        mutating=True,
        resources=_group_arn,
    ),
    "RevokeSecurityGroupIngress": Action(
        _changer(ingress=True, authorise=False),
        mutating=True,
        resources=_group_arn,
    ),
    "RevokeSecurityGroupEgress": Action(
        _changer(ingress=False, authorise=False),
        mutating=True,
        resources=_group_arn,
    ),
    "UpdateSecurityGroupRuleDescriptionsIngress": Action(
        _describer(ingress=True), mutating=True, resources=_group_arn
    ),
    "UpdateSecurityGroupRuleDescriptionsEgress": Action(
        _describer(ingress=False), mutating=True, resources=_group_arn
    ),
}
