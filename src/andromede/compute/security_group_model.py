"""Security groups and their rules, pure (decisions 0130, 0146, 0149): a rule's validation as
EC2 checks it, its stable ``sgr-`` id, and the group record (:mod:`andromede.compute.model`
re-exports them)."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, replace
from typing import Final

from andromede.compute.errors import InvalidParameterValue
from andromede.compute.resource_ids import FORMAT_VERSION, Tags, check_id

__all__ = [
    "ALLOW_ALL_EGRESS",
    "ALLOW_ALL_IPV6_EGRESS",
    "Rule",
    "SecurityGroup",
    "parse_rule",
    "stable_rule_id",
]

# -- security groups ---------------------------------------------------------------------------

_PROTOCOLS: Final = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp",
                     "1": "icmp", "-1": "-1", "all": "-1"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission: a protocol and port range from or to one CIDR (IPv4 or IPv6), or —
    with ``group_id`` set and ``cidr`` empty — from or to the members of a security group
    (EC2's UserIdGroupPairs), or — with ``prefix_list_id`` — the CIDRs of a managed prefix
    list (decision 0149)."""

    protocol: str  # "tcp", "udp", "icmp" or "-1" (all)
    from_port: int  # -1 for "all" and for ICMP "any type"
    to_port: int
    cidr: str
    description: str = ""
    group_id: str | None = None
    # Its EC2 id (``sgr-``, decision 0146) and tags. Empty in a rule not yet in a group: the
    # group gives it one (:meth:`SecurityGroup.__post_init__`).
    rule_id: str = ""
    tags: Tags = ()
    prefix_list_id: str | None = None

    def same_permission(self, other: Rule) -> bool:
        """Equal but for the description (how EC2 matches a rule to revoke)."""
        return self._permission() == other._permission()

    def _permission(self) -> tuple[object, ...]:
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.group_id,
                self.prefix_list_id)  # fmt: skip


def parse_rule(
    protocol: str,
    from_port: int | None,
    to_port: int | None,
    cidr: str,
    description: str = "",
    *,
    group_id: str | None = None,
    revoking: bool = False,
    prefix_list_id: str | None = None,
) -> Rule:
    """A validated rule, normalised as EC2 answers it; InvalidParameterValue otherwise. With
    ``group_id`` the peer is that security group's members, with ``prefix_list_id`` that
    list's CIDRs, and ``cidr`` must be empty.
    ``revoking``: the rule names one to revoke, which may have been authorised before
    decision 0130 checked ICMP as EC2 does (see :func:`_icmp_type_code`)."""
    name = _PROTOCOLS.get(protocol.lower())
    if name is None:
        raise InvalidParameterValue(f"Invalid value '{protocol[:32]}' for IP protocol.")
    peer = ""
    if group_id is not None:
        check_id(group_id, "sg")
    elif prefix_list_id is not None:
        check_id(prefix_list_id, "pl")
    else:
        try:
            peer = str(ipaddress.ip_network(cidr, strict=True))
        except ValueError:
            raise InvalidParameterValue(f"CIDR block {cidr[:64]} is malformed") from None
    if name == "-1":
        low, high = -1, -1
    elif name == "icmp":
        low, high = _icmp_type_code(from_port, to_port, revoking=revoking)
    else:
        if from_port is None or to_port is None:
            raise InvalidParameterValue(
                "Invalid value for portRange. Must specify both from and to ports with TCP/UDP."
            )
        low, high = from_port, to_port
        if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
            raise InvalidParameterValue(
                f"Invalid value for portRange. From port {low} to port {high} is not valid"
            )
    if len(description) > 255:
        raise InvalidParameterValue("A rule description is at most 255 characters")
    return Rule(name, low, high, peer, description, group_id, prefix_list_id=prefix_list_id)


def _icmp_type_code(
    from_port: int | None, to_port: int | None, *, revoking: bool
) -> tuple[int, int]:
    """An ICMP rule's type (FromPort) and code (ToPort), -1 for all, checked as EC2 checks
    them (decision 0130): both given, each -1 to 255, and all types (-1) with all codes (-1).
    A rule to revoke is let through with neither given (both -1) or a code with all types,
    as authorising took them before decision 0130, so that such a stored rule can be named."""
    if from_port is None or to_port is None:
        if not revoking:
            raise InvalidParameterValue(
                "Invalid value 'Must specify both from and to ports with ICMP.' for portRange."
            )
        return (-1 if from_port is None else from_port), (-1 if to_port is None else to_port)
    if not -1 <= from_port <= 255:
        raise InvalidParameterValue(f"ICMP type ({from_port}) out of range")
    if not -1 <= to_port <= 255:
        raise InvalidParameterValue(f"ICMP code ({to_port}) out of range")
    if from_port == -1 and to_port != -1 and not revoking:
        raise InvalidParameterValue(
            f"ICMP code ({to_port}) out of range: with all ICMP types (-1), the code must be "
            "-1 (all codes)"
        )
    return from_port, to_port


ALLOW_ALL_EGRESS: Final = (Rule("-1", -1, -1, "0.0.0.0/0"),)
# What EC2 adds to a group of a VPC with an IPv6 block, and to the default group when the VPC
# takes one (decision 0217).
ALLOW_ALL_IPV6_EGRESS: Final = Rule("-1", -1, -1, "::/0")


def stable_rule_id(group_id: str, egress: bool, rule: Rule) -> str:
    """The id of a rule that came without one — a group's default rules, and rules stored
    before decision 0146 (migration 0064 wrote the same ids): derived from the group, the
    direction and the permission, which are unique together, so that two gateways making
    the same default group, or reading the same old record, name its rules alike."""
    key = "/".join(
        (group_id, "egress" if egress else "ingress", rule.protocol, str(rule.from_port),
         str(rule.to_port), rule.cidr, rule.group_id or "")
    ) + (f"/{rule.prefix_list_id}" if rule.prefix_list_id else "")  # fmt: skip
    return "sgr-" + hashlib.sha256(f"andromede-sgr:{key}".encode()).hexdigest()[:17]


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    group_id: str
    tenant_id: str
    name: str
    description: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ALLOW_ALL_EGRESS
    tags: Tags = ()
    # The VPC it belongs to (None: recorded before VPCs existed; it is the default VPC's).
    vpc_id: str | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    def __post_init__(self) -> None:
        # Every rule of a group has an id: those made without one get their stable id.
        for name, egress in (("ingress", False), ("egress", True)):
            rules: tuple[Rule, ...] = getattr(self, name)
            if any(not r.rule_id for r in rules):
                named = tuple(
                    r if r.rule_id else replace(r, rule_id=stable_rule_id(self.group_id, egress, r))
                    for r in rules
                )
                object.__setattr__(self, name, named)

    @property
    def resource_id(self) -> str:
        return self.group_id

    def rule(self, rule_id: str) -> tuple[Rule, bool] | None:
        """The rule of that id and whether it is an egress one (None: not this group's)."""
        for rule in self.ingress:
            if rule.rule_id == rule_id:
                return rule, False
        for rule in self.egress:
            if rule.rule_id == rule_id:
                return rule, True
        return None
