"""EC2's security group rules as resources (decision 0146): DescribeSecurityGroupRules (ids,
or pages of ``MaxResults`` 5 to 1,000 with ``NextToken``; filters ``group-id``,
``security-group-rule-id`` and the tag filters), ModifySecurityGroupRules, the
``SecurityGroupRule`` shape that these and Authorize* answer, and Revoke*'s
``revokedSecurityGroupRuleSet``. Revoke*'s ``SecurityGroupRuleId.N`` and
UpdateSecurityGroupRuleDescriptionsIngress/Egress are in access.py, beside the
IpPermissions they also take.

A rule's peer may be a managed prefix list of the caller's (``PrefixListId``, decision 0149);
another account's, or none, is EC2's InvalidPrefixListId.NotFound.
"""

from __future__ import annotations

from collections.abc import Sequence

from andromede.compute.model import Rule, SecurityGroup, parse_rule
from andromede.compute.security_group_rules import RuleRef
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, Params, paged
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["RULE_ACTIONS", "refs_of", "write_revoked", "write_rule_set"]


def write_rule_set(xml: XmlWriter, call: Call, refs: Sequence[RuleRef]) -> None:
    """``securityGroupRuleSet``: EC2's SecurityGroupRule of each of ``refs``."""
    xml.open("securityGroupRuleSet")
    for ref in refs:
        rule = ref.rule
        xml.open("item")
        xml.element("securityGroupRuleId", rule.rule_id)
        xml.element("groupId", ref.group.group_id)
        xml.element("groupOwnerId", ref.group.tenant_id)
        xml.element("isEgress", ref.egress)
        xml.element("ipProtocol", rule.protocol)
        # EC2 answers -1 for both ports of an all-protocols rule.
        xml.element("fromPort", rule.from_port)
        xml.element("toPort", rule.to_port)
        if rule.group_id is not None:
            xml.open("referencedGroupInfo")
            xml.element("groupId", rule.group_id)
            xml.element("userId", ref.group.tenant_id)
            xml.close("referencedGroupInfo")
        elif rule.prefix_list_id is not None:
            xml.element("prefixListId", rule.prefix_list_id)
        elif ":" in rule.cidr:
            xml.element("cidrIpv6", rule.cidr)
        else:
            xml.element("cidrIpv4", rule.cidr)
        xml.element("description", rule.description or None)
        write_tags(xml, rule.tags)
        xml.element("securityGroupRuleArn", call.arn("security-group-rule", rule.rule_id))
        xml.close("item")
    xml.close("securityGroupRuleSet")


def write_revoked(xml: XmlWriter, group_id: str, rules: Sequence[Rule], *, egress: bool) -> None:
    """Revoke*'s ``revokedSecurityGroupRuleSet``: the rules revoked, as they were."""
    xml.open("revokedSecurityGroupRuleSet")
    for rule in rules:
        xml.open("item")
        xml.element("securityGroupRuleId", rule.rule_id)
        xml.element("groupId", group_id)
        xml.element("isEgress", egress)
        xml.element("ipProtocol", rule.protocol)
        xml.element("fromPort", rule.from_port)
        xml.element("toPort", rule.to_port)
        if rule.group_id is not None:
            xml.element("referencedGroupId", rule.group_id)
        elif rule.prefix_list_id is not None:
            xml.element("prefixListId", rule.prefix_list_id)
        elif ":" in rule.cidr:
            xml.element("cidrIpv6", rule.cidr)
        else:
            xml.element("cidrIpv4", rule.cidr)
        xml.element("description", rule.description or None)
        xml.close("item")
    xml.close("revokedSecurityGroupRuleSet")


_FILTERS = with_tags(
    {
        "group-id": lambda r: [r.group.group_id] if isinstance(r, RuleRef) else [],
        "security-group-rule-id": lambda r: [r.rule.rule_id] if isinstance(r, RuleRef) else [],
    }
)


async def describe_security_group_rules(call: Call) -> None:
    p = call.params
    ids = p.values("SecurityGroupRuleId")
    filters = Filters(p.filters(), _FILTERS)
    refs = await call.compute.security_group_rules(call.tenant_id, ids)
    chosen = [ref for ref in refs if matches(filters, ref)]
    page, token = paged(p, chosen, lambda r: r.rule.rule_id, most=1000, ids="SecurityGroupRuleId")
    write_rule_set(call.result, call, page)
    call.result.element("nextToken", token)


def _rule_request(spec: Params) -> Rule:
    """A SecurityGroupRuleRequest: a protocol, ports and exactly one peer."""
    peers = {
        name: value
        for name in ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")
        if (value := spec.get(name)) is not None
    }
    if len(peers) != 1:
        raise Ec2Error(
            "InvalidParameterCombination" if peers else "MissingParameter",
            "A rule needs exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId",
        )
    [(kind, peer)] = peers.items()
    low = spec.integer("FromPort", minimum=-1, maximum=65535)
    high = spec.integer("ToPort", minimum=-1, maximum=65535)
    description = spec.get("Description") or ""
    protocol = spec.required("IpProtocol")
    if kind == "ReferencedGroupId":
        return parse_rule(protocol, low, high, "", description, group_id=peer)
    if kind == "PrefixListId":
        return parse_rule(protocol, low, high, "", description, prefix_list_id=peer)
    if (kind == "CidrIpv6") != (":" in peer):
        raise Ec2Error("InvalidParameterValue", f"CIDR block {peer[:64]} is malformed")
    return parse_rule(protocol, low, high, peer, description)


async def modify_security_group_rules(call: Call) -> None:
    p = call.params
    group_id = p.required("GroupId")
    changes: list[tuple[str, Rule]] = []
    for update in p.structs("SecurityGroupRule"):
        rule_id = update.required("SecurityGroupRuleId")
        spec = update.view("SecurityGroupRule.")
        if not spec.names():
            raise Ec2Error(
                "MissingParameter",
                "The request must contain the parameter SecurityGroupRule.SecurityGroupRule",
            )
        changes.append((rule_id, _rule_request(spec)))
    if not changes:
        raise Ec2Error("MissingParameter", "The request must contain SecurityGroupRule")
    await call.compute.modify_security_group_rules(call.tenant_id, group_id, changes)
    write_return(call.result)


def refs_of(group: SecurityGroup, rules: Sequence[Rule], *, egress: bool) -> list[RuleRef]:
    return [RuleRef(group, rule, egress) for rule in rules]


def _group_arn(call: Call) -> list[str]:
    return [call.arn("security-group", call.params.get("GroupId") or "*")]


RULE_ACTIONS: dict[str, Action] = {
    "DescribeSecurityGroupRules": Action(describe_security_group_rules, mutating=False),
    "ModifySecurityGroupRules": Action(
        modify_security_group_rules, mutating=True, resources=_group_arn
    ),
}
