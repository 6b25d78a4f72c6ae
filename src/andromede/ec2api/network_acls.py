"""EC2's network ACLs (decision 0128): DescribeNetworkAcls (ids, or pages of ``MaxResults`` 5
to 1,000 with ``NextToken``) with EC2's filters — Terraform finds a VPC's default ACL by
``default`` and ``vpc-id``, a subnet's by ``association.subnet-id``, an association by
``association.association-id`` and an entry by ``entry.egress`` and ``entry.rule-number``.
Every ACL lists its ``*`` rule (32767, deny) in each direction, as EC2 does; entries of
protocol -1 carry no port range, as EC2 answers them (Terraform compares what it reads back).
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.network_acl import NetworkAcl, NetworkAclEntry, shown_entries
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["NETWORK_ACL_ACTIONS"]

_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "-1": "all"}


def _text(value: bool) -> str:
    return "true" if value else "false"


def _write_entry(xml: XmlWriter, entry: NetworkAclEntry) -> None:
    xml.open("item")
    xml.element("ruleNumber", entry.rule_number)
    xml.element("protocol", entry.protocol)
    xml.element("ruleAction", entry.action)
    xml.element("egress", entry.egress)
    xml.element("cidrBlock", entry.cidr)
    if entry.icmp_type is not None:
        xml.open("icmpTypeCode")
        xml.element("code", entry.icmp_code)
        xml.element("type", entry.icmp_type)
        xml.close("icmpTypeCode")
    if entry.from_port is not None:
        xml.open("portRange")
        xml.element("from", entry.from_port)
        xml.element("to", entry.to_port)
        xml.close("portRange")
    xml.close("item")


def write_network_acl(xml: XmlWriter, acl: NetworkAcl, element: str = "item") -> None:
    xml.open(element)
    xml.element("networkAclId", acl.network_acl_id)
    xml.element("vpcId", acl.vpc_id)
    xml.element("ownerId", acl.tenant_id)
    xml.element("default", acl.is_default)
    xml.open("entrySet")
    for entry in shown_entries(acl):
        _write_entry(xml, entry)
    xml.close("entrySet")
    xml.open("associationSet")
    for association in acl.associations:
        xml.open("item")
        xml.element("networkAclAssociationId", association.association_id)
        xml.element("networkAclId", acl.network_acl_id)
        xml.element("subnetId", association.subnet_id)
        xml.close("item")
    xml.close("associationSet")
    write_tags(xml, acl.tags)
    xml.close(element)


def _entries(get: Callable[[NetworkAclEntry], list[str]]) -> Callable[[object], list[str]]:
    return lambda a: (
        [v for e in shown_entries(a) for v in get(e)] if isinstance(a, NetworkAcl) else []
    )


def _of(get: Callable[[NetworkAcl], list[str]]) -> Callable[[object], list[str]]:
    return lambda a: get(a) if isinstance(a, NetworkAcl) else []


def _number(value: int | None) -> list[str]:
    return [] if value is None else [str(value)]


_FILTERS: dict[str, Callable[[object], list[str]]] = {
    "network-acl-id": _of(lambda a: [a.network_acl_id]),
    "vpc-id": _of(lambda a: [a.vpc_id]),
    "owner-id": _of(lambda a: [a.tenant_id]),
    "default": _of(lambda a: [_text(a.is_default)]),
    "association.association-id": _of(lambda a: [x.association_id for x in a.associations]),
    "association.network-acl-id": _of(lambda a: [a.network_acl_id for _ in a.associations]),
    "association.subnet-id": _of(lambda a: [x.subnet_id for x in a.associations]),
    "entry.cidr": _entries(lambda e: [e.cidr]),
    "entry.egress": _entries(lambda e: [_text(e.egress)]),
    "entry.icmp.code": _entries(lambda e: _number(e.icmp_code)),
    "entry.icmp.type": _entries(lambda e: _number(e.icmp_type)),
    "entry.ipv6-cidr": _entries(lambda e: []),
    "entry.port-range.from": _entries(lambda e: _number(e.from_port)),
    "entry.port-range.to": _entries(lambda e: _number(e.to_port)),
    # EC2 takes a protocol's number or its name (tcp, udp, icmp).
    "entry.protocol": _entries(lambda e: [e.protocol, _NAMES[e.protocol]]),
    "entry.rule-action": _entries(lambda e: [e.action]),
    "entry.rule-number": _entries(lambda e: [str(e.rule_number)]),
}


async def describe_network_acls(call: Call) -> None:
    p = call.params
    acls = await call.compute.describe_network_acls(call.tenant_id, p.values("NetworkAclId"))
    filters = Filters(p.filters(), with_tags(_FILTERS))
    chosen, next_token = paged(
        p,
        [a for a in acls if matches(filters, a)],
        lambda a: a.network_acl_id,
        most=1000,
        ids="NetworkAclId",
    )
    xml = call.result
    xml.open("networkAclSet")
    for acl in chosen:
        write_network_acl(xml, acl)
    xml.close("networkAclSet")
    xml.element("nextToken", next_token)


NETWORK_ACL_ACTIONS: dict[str, Action] = {
    "DescribeNetworkAcls": Action(describe_network_acls, mutating=False),
}
