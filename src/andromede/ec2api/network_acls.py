"""EC2's network ACLs (decision 0128): DescribeNetworkAcls (ids, or pages of ``MaxResults`` 5
to 1,000 with ``NextToken``) with EC2's filters — Terraform finds a VPC's default ACL by
``default`` and ``vpc-id``, a subnet's by ``association.subnet-id``, an association by
``association.association-id`` and an entry by ``entry.egress`` and ``entry.rule-number`` —
CreateNetworkAcl (``ClientToken``, tags of type ``network-acl``), DeleteNetworkAcl,
Create/Replace/DeleteNetworkAclEntry and ReplaceNetworkAclAssociation.

Every ACL lists its ``*`` rule (32767, deny) in each direction, as EC2 does; entries of
protocol -1 carry no port range, as EC2 answers them (Terraform compares what it reads back).
An entry of an IPv6 block (``Ipv6CidrBlock``, as ``terraform-aws-modules/vpc`` puts on every
default ACL) is kept and shown; the tenant networks carry IPv4 alone, so it matches nothing
there and the hosts are not told it.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.network_acl import NetworkAcl, NetworkAclEntry, entry, shown_entries
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, Params, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
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
    xml.element("ipv6CidrBlock" if entry.ipv6 else "cidrBlock", entry.cidr)
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
    for shown in shown_entries(acl):
        _write_entry(xml, shown)
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
    "entry.cidr": _entries(lambda e: [] if e.ipv6 else [e.cidr]),
    "entry.egress": _entries(lambda e: [_text(e.egress)]),
    "entry.icmp.code": _entries(lambda e: _number(e.icmp_code)),
    "entry.icmp.type": _entries(lambda e: _number(e.icmp_type)),
    "entry.ipv6-cidr": _entries(lambda e: [e.cidr] if e.ipv6 else []),
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


async def create_network_acl(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateNetworkAcl", frozenset({"VpcId", "TagSpecification", "ClientToken"}))
    token = p.get("ClientToken")
    acl = await call.compute.create_network_acl(
        call.tenant_id, p.required("VpcId"), resource_tags(p, "network-acl"), token
    )
    write_network_acl(call.result, acl, "networkAcl")
    if token is not None:
        call.result.element("clientToken", token)


async def delete_network_acl(call: Call) -> None:
    await call.compute.delete_network_acl(call.tenant_id, call.params.required("NetworkAclId"))
    write_return(call.result)


_ENTRY_HANDLED = frozenset(
    {"NetworkAclId", "RuleNumber", "Protocol", "RuleAction", "Egress", "CidrBlock",
     "Ipv6CidrBlock", "Icmp", "PortRange"}
)  # fmt: skip


def _pair(p: Params, name: str, first: str, second: str) -> tuple[int, int] | None:
    """``Name.First`` and ``Name.Second`` as integers; neither: None."""
    low, high = p.integer(f"{name}.{first}"), p.integer(f"{name}.{second}")
    if low is None and high is None:
        return None
    if low is None or high is None:
        missing = first if low is None else second
        raise Ec2Error(
            "MissingParameter", f"The request must contain the parameter {name}.{missing}"
        )
    return low, high


def _egress(p: Params) -> bool:
    p.required("Egress")
    return p.boolean("Egress", default=False)


def _rule_number(p: Params) -> int:
    number = p.integer("RuleNumber")
    if number is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter RuleNumber")
    return number


def _entry(call: Call, action: str) -> tuple[str, NetworkAclEntry]:
    p = call.params
    p.refuse_unhandled(action, _ENTRY_HANDLED)
    ipv4, ipv6 = p.get("CidrBlock"), p.get("Ipv6CidrBlock")
    if (ipv4 is None) == (ipv6 is None):
        raise Ec2Error(
            "InvalidParameterCombination" if ipv4 is not None else "MissingParameter",
            f"{action}: exactly one of CidrBlock and Ipv6CidrBlock must be given",
        )
    icmp = _pair(p, "Icmp", "Type", "Code")
    made = entry(
        _rule_number(p),
        egress=_egress(p),
        action=p.required("RuleAction"),
        protocol=p.required("Protocol"),
        cidr=ipv4 if ipv4 is not None else str(ipv6),
        ipv6=ipv6 is not None,
        ports=_pair(p, "PortRange", "From", "To"),
        icmp=icmp,
    )
    return p.required("NetworkAclId"), made


async def create_network_acl_entry(call: Call) -> None:
    acl_id, made = _entry(call, "CreateNetworkAclEntry")
    await call.compute.create_network_acl_entry(call.tenant_id, acl_id, made)
    write_return(call.result)


async def replace_network_acl_entry(call: Call) -> None:
    acl_id, made = _entry(call, "ReplaceNetworkAclEntry")
    await call.compute.replace_network_acl_entry(call.tenant_id, acl_id, made)
    write_return(call.result)


async def delete_network_acl_entry(call: Call) -> None:
    p = call.params
    await call.compute.delete_network_acl_entry(
        call.tenant_id, p.required("NetworkAclId"), egress=_egress(p), rule_number=_rule_number(p)
    )
    write_return(call.result)


async def replace_network_acl_association(call: Call) -> None:
    p = call.params
    association = await call.compute.replace_network_acl_association(
        call.tenant_id, p.required("AssociationId"), p.required("NetworkAclId")
    )
    call.result.element("newAssociationId", association.association_id)


def _acl_arn(call: Call) -> list[str]:
    return [call.arn("network-acl", call.params.get("NetworkAclId") or "*")]


NETWORK_ACL_ACTIONS: dict[str, Action] = {
    "DescribeNetworkAcls": Action(describe_network_acls, mutating=False),
    "CreateNetworkAcl": Action(
        create_network_acl,
        mutating=True,
        resources=lambda c: [c.arn("network-acl"), c.arn("vpc", c.params.get("VpcId") or "*")],
    ),
    "DeleteNetworkAcl": Action(delete_network_acl, mutating=True, resources=_acl_arn),
    "CreateNetworkAclEntry": Action(create_network_acl_entry, mutating=True, resources=_acl_arn),
    "ReplaceNetworkAclEntry": Action(replace_network_acl_entry, mutating=True, resources=_acl_arn),
    "DeleteNetworkAclEntry": Action(delete_network_acl_entry, mutating=True, resources=_acl_arn),
    "ReplaceNetworkAclAssociation": Action(
        replace_network_acl_association, mutating=True, resources=_acl_arn
    ),
}
