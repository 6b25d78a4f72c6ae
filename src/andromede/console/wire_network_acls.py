"""EC2's network ACL calls (decision 0128), made in process as the console's signed-in
principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and errors answer them.
Each answer is read into the small rows the network ACL pages show; nothing here decides what
EC2 allows — an entry's number, protocol, block and ports go to EC2 as typed, and EC2 checks
them.

Functions over ``Ec2Wire.call`` rather than more methods of it, as ``wire_routing``, so that
the console's one EC2 wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, filter_params, name_of, tagged, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "CATCH_ALL_RULE",
    "AclAssociationRow",
    "AclEntryRow",
    "EntryChange",
    "EntryForm",
    "NetworkAclRow",
    "change_entry",
    "create_network_acl",
    "delete_entry",
    "delete_network_acl",
    "describe_network_acl",
    "describe_network_acls",
    "move_subnet",
]

# EC2's ``*`` rule, listed in each direction: what no entry matches is denied. No call
# changes it, so no row offers to.
CATCH_ALL_RULE: Final = 32767
EntryChange = Literal["CreateNetworkAclEntry", "ReplaceNetworkAclEntry"]
# EC2 answers protocols by number; the pages show its names.
_PROTOCOL_NAMES: Final = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}
# The ICMP types most entries name, by the names nft and IANA give them; another is shown by
# its number alone.
_ICMP_TYPE_NAMES: Final = {
    "0": "echo-reply",
    "3": "destination-unreachable",
    "8": "echo-request",
    "11": "time-exceeded",
}


@dataclass(frozen=True, slots=True)
class AclEntryRow:
    rule_number: int
    egress: bool
    action: str  # allow | deny
    protocol: str  # EC2's number: -1, 6, 17, 1 (another, should EC2 ever answer one)
    cidr: str  # IPv4 or IPv6
    from_port: str  # "" without a port range (protocols other than tcp and udp)
    to_port: str
    icmp_type: str = ""  # icmp only: EC2's type and code, "-1" all (decision 0130)
    icmp_code: str = ""

    @property
    def catch_all(self) -> bool:
        return self.rule_number == CATCH_ALL_RULE

    @property
    def protocol_name(self) -> str:
        return _PROTOCOL_NAMES.get(self.protocol, self.protocol)

    @property
    def direction(self) -> str:
        return "egress" if self.egress else "ingress"

    @property
    def icmp_type_name(self) -> str:
        """The type as the table shows it: ``echo-request (8)``, or the number alone."""
        name = _ICMP_TYPE_NAMES.get(self.icmp_type)
        return f"{name} ({self.icmp_type})" if name else self.icmp_type


@dataclass(frozen=True, slots=True)
class AclAssociationRow:
    association_id: str
    subnet_id: str


@dataclass(frozen=True, slots=True)
class NetworkAclRow:
    network_acl_id: str
    name: str
    vpc_id: str
    is_default: bool
    entries: tuple[AclEntryRow, ...]  # as EC2 lists them, the ``*`` rules included
    associations: tuple[AclAssociationRow, ...]

    @property
    def ingress(self) -> list[AclEntryRow]:
        """Inbound entries in rule order, as EC2 evaluates them (the ``*`` rule last)."""
        return sorted((e for e in self.entries if not e.egress), key=lambda e: e.rule_number)

    @property
    def egress(self) -> list[AclEntryRow]:
        return sorted((e for e in self.entries if e.egress), key=lambda e: e.rule_number)


@dataclass(frozen=True, slots=True)
class EntryForm:
    """An entry as the page's form has it, every field as typed: EC2 checks them."""

    rule_number: str
    egress: bool
    action: str
    protocol: str  # -1, tcp, udp, icmp (or any EC2 takes)
    cidr: str
    from_port: str = ""
    to_port: str = ""
    icmp_type: str = ""  # "" is all (-1), as for an icmp entry the form leaves empty
    icmp_code: str = ""


def _entry(item: Element) -> AclEntryRow:
    return AclEntryRow(
        rule_number=int(text(item, "ruleNumber") or 0),
        egress=text(item, "egress") == "true",
        action=text(item, "ruleAction"),
        protocol=text(item, "protocol"),
        cidr=text(item, "cidrBlock") or text(item, "ipv6CidrBlock"),
        from_port=text(item, "portRange/from"),
        to_port=text(item, "portRange/to"),
        icmp_type=text(item, "icmpTypeCode/type"),
        icmp_code=text(item, "icmpTypeCode/code"),
    )


def _network_acl(item: Element) -> NetworkAclRow:
    return NetworkAclRow(
        network_acl_id=text(item, "networkAclId"),
        name=name_of(tags_of(item)),
        vpc_id=text(item, "vpcId"),
        is_default=text(item, "default") == "true",
        entries=tuple(_entry(e) for e in item.iterfind("entrySet/item")),
        associations=tuple(
            AclAssociationRow(
                association_id=text(a, "networkAclAssociationId"),
                subnet_id=text(a, "subnetId"),
            )
            for a in item.iterfind("associationSet/item")
        ),
    )


async def _described(
    ec2: Ec2Wire, origin: Scope, who: Principal, params: dict[str, str]
) -> list[NetworkAclRow]:
    root = await ec2.call(origin, who, "DescribeNetworkAcls", params)
    return [_network_acl(a) for a in root.iterfind("networkAclSet/item")]


async def describe_network_acls(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, vpc_id: str | None = None
) -> list[NetworkAclRow]:
    """The caller's ACLs (those of ``vpc_id`` only, when given)."""
    return await _described(ec2, origin, who, filter_params("vpc-id", [vpc_id]) if vpc_id else {})


async def describe_network_acl(
    ec2: Ec2Wire, origin: Scope, who: Principal, network_acl_id: str
) -> NetworkAclRow | None:
    """One ACL; EC2's InvalidNetworkAclID.NotFound for another tenant's, as for none."""
    found = await _described(ec2, origin, who, {"NetworkAclId.1": network_acl_id})
    return next(iter(found), None)


async def create_network_acl(
    ec2: Ec2Wire, origin: Scope, who: Principal, vpc_id: str, name: str, token: str = ""
) -> str:
    """The new ACL's id: no entry (the ``*`` rules deny everything), associated with no
    subnet. ``token``: the form's ClientToken, so that the form sent twice makes one ACL."""
    params = {"VpcId": vpc_id, **tagged("network-acl", name)}
    if token:
        params["ClientToken"] = token
    root = await ec2.call(origin, who, "CreateNetworkAcl", params)
    return text(root, "networkAcl/networkAclId")


async def delete_network_acl(
    ec2: Ec2Wire, origin: Scope, who: Principal, network_acl_id: str
) -> None:
    """EC2's InvalidParameterValue for a default ACL, DependencyViolation while associated."""
    await ec2.call(origin, who, "DeleteNetworkAcl", {"NetworkAclId": network_acl_id})


def _direction(egress: bool) -> str:
    return "true" if egress else "false"


async def change_entry(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    action: EntryChange,
    network_acl_id: str,
    form: EntryForm,
) -> None:
    """The form's entry added (CreateNetworkAclEntry) or put in place of the one of its
    direction and number (ReplaceNetworkAclEntry). A block with a colon is sent as EC2's
    ``Ipv6CidrBlock``; a port range only when one is typed (EC2 requires it for tcp and udp,
    and keeps none for other protocols); for icmp, the type and code as ``Icmp.Type`` and
    ``Icmp.Code``, each -1 (all) when left empty, so that EC2, which requires them, decides
    (a code with all types is its InvalidParameterValue, decision 0130). Another protocol
    sends none: the form's ICMP fields are its own only for icmp."""
    params = {
        "NetworkAclId": network_acl_id,
        "RuleNumber": form.rule_number,
        "Egress": _direction(form.egress),
        "RuleAction": form.action,
        "Protocol": form.protocol,
        "Ipv6CidrBlock" if ":" in form.cidr else "CidrBlock": form.cidr,
    }
    if form.from_port or form.to_port:
        params["PortRange.From"] = form.from_port
        params["PortRange.To"] = form.to_port
    if form.protocol.lower() in ("icmp", "1"):
        params["Icmp.Type"] = form.icmp_type or "-1"
        params["Icmp.Code"] = form.icmp_code or "-1"
    await ec2.call(origin, who, action, params)


async def delete_entry(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    network_acl_id: str,
    *,
    egress: bool,
    rule_number: str,
) -> None:
    params = {
        "NetworkAclId": network_acl_id,
        "Egress": _direction(egress),
        "RuleNumber": rule_number,
    }
    await ec2.call(origin, who, "DeleteNetworkAclEntry", params)


async def move_subnet(
    ec2: Ec2Wire, origin: Scope, who: Principal, network_acl_id: str, subnet_id: str
) -> None:
    """The subnet moved onto the ACL: ReplaceNetworkAclAssociation from the subnet's current
    association, found by ``association.subnet-id`` as EC2 holds it now (what Terraform's
    ``aws_network_acl_association`` does). A subnet no ACL of the caller's holds is not the
    caller's, or is none: DescribeSubnets of it gives EC2's own refusal."""
    holding = await _described(
        ec2, origin, who, filter_params("association.subnet-id", [subnet_id])
    )
    current = next(
        (a for acl in holding for a in acl.associations if a.subnet_id == subnet_id), None
    )
    if current is None:
        await ec2.call(origin, who, "DescribeSubnets", {"SubnetId.1": subnet_id})
        return
    params = {"AssociationId": current.association_id, "NetworkAclId": network_acl_id}
    await ec2.call(origin, who, "ReplaceNetworkAclAssociation", params)
