"""Network ACLs, pure: the record, its entries and associations, EC2's checks of an entry,
and what a subnet's hosts are told to enforce (decision 0128).

A **network ACL** (``acl-…``) belongs to a VPC. Its *entries* are numbered rules (1 to 32766),
each of one direction (ingress or egress), allowing or denying a protocol (all, TCP, UDP or
ICMP), an IPv4 block and, for TCP and UDP, a port range, for ICMP a type and code (-1: all).
In each direction the entry with the lowest number a packet matches decides; a packet no
entry matches is denied by the ``*`` rule (32767), which every ACL shows and no call
changes — it is shown, never stored. Its *associations* (``aclassoc-…``) name subnets of
its VPC: every subnet has exactly one, with its VPC's *default* ACL until another is given it
(ReplaceNetworkAclAssociation).

Each VPC has one default ACL, made with it (or, for a VPC older than decision 0128, on first
need), whose id is derived from the VPC's — the id it had when it was derived and not stored,
which Terraform's state holds as ``default_network_acl_id``. Its first entries are EC2's:
rule 100 allows everything, both ways.

A subnet's hosts enforce its ACL (:func:`subnet_acl`): stateless, each direction on its own,
as EC2's are — so an ACL allowing ingress on port 22 needs an egress entry for the replies.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.driver_network import (
    AclEntry,
    SubnetAcl,
)
from andromede.compute.errors import InvalidParameterValue, MissingParameter, Unsupported
from andromede.compute.model import FORMAT_VERSION, Tags
from andromede.compute.network import Subnet, Vpc

__all__ = [
    "ALL",
    "CATCH_ALL_RULE",
    "DEFAULT_ENTRIES",
    "DEFAULT_IPV6_ENTRIES",
    "ICMP",
    "RULE_MAX",
    "RULE_MIN",
    "NetworkAcl",
    "NetworkAclAssociation",
    "NetworkAclEntry",
    "acl_of_subnet",
    "default_association_id",
    "default_network_acl",
    "default_network_acl_id",
    "entry",
    "protocol_number",
    "shown_entries",
    "subnet_acl",
]

RULE_MIN: Final = 1
RULE_MAX: Final = 32766
# EC2's ``*`` rule: what no entry matches is denied. Shown in each direction, never stored.
CATCH_ALL_RULE: Final = 32767
ALL: Final = "-1"
TCP: Final = "6"
UDP: Final = "17"
ICMP: Final = "1"
# What EC2 takes for a protocol (a number, or the names its CLI and Terraform accept) and the
# number it stores and answers. Other protocols are refused: the hosts filter these four.
_PROTOCOLS: Final = {
    "-1": ALL,
    "all": ALL,
    "6": TCP,
    "tcp": TCP,
    "17": UDP,
    "udp": UDP,
    "1": ICMP,
    "icmp": ICMP,
}
# The hosts' names for them (``compute.driver_network.AclEntry``).
_HOST_PROTOCOLS: Final = {ALL: "-1", TCP: "tcp", UDP: "udp", ICMP: "icmp"}


@dataclass(frozen=True, slots=True)
class NetworkAclEntry:
    rule_number: int
    egress: bool
    action: str  # allow | deny
    protocol: str = ALL  # EC2's protocol number: "-1", "6", "17" or "1"
    cidr: str = "0.0.0.0/0"
    # TCP and UDP only: the ports, inclusive.
    from_port: int | None = None
    to_port: int | None = None
    # ICMP only: the type and code, -1 for all (a code only with a type: decision 0130).
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def allows(self) -> bool:
        return self.action == "allow"

    @property
    def ipv6(self) -> bool:
        """An entry of an IPv6 block (``Ipv6CidrBlock``): it judges the IPv6 packets of the
        subnets with a block (decision 0217)."""
        return ":" in self.cidr


@dataclass(frozen=True, slots=True)
class NetworkAclAssociation:
    association_id: str
    subnet_id: str


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    network_acl_id: str
    tenant_id: str
    vpc_id: str
    # The stored entries (never the ``*`` rule), in (egress, rule number) order.
    entries: tuple[NetworkAclEntry, ...] = ()
    associations: tuple[NetworkAclAssociation, ...] = ()
    is_default: bool = False
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # CreateNetworkAcl's idempotency: the token, and a digest of what was asked with it.
    client_token: str | None = None
    request_digest: str = ""

    @property
    def resource_id(self) -> str:
        return self.network_acl_id

    def entry(self, egress: bool, rule_number: int) -> NetworkAclEntry | None:
        return next(
            (e for e in self.entries if (e.egress, e.rule_number) == (egress, rule_number)), None
        )

    def with_entry(self, new: NetworkAclEntry) -> tuple[NetworkAclEntry, ...]:
        """The entries with ``new`` in its direction and number's place."""
        kept = self.without_entry(new.egress, new.rule_number)
        return tuple(sorted((*kept, new), key=lambda e: (e.egress, e.rule_number)))

    def without_entry(self, egress: bool, rule_number: int) -> tuple[NetworkAclEntry, ...]:
        return tuple(e for e in self.entries if (e.egress, e.rule_number) != (egress, rule_number))

    def associated_with(self, subnet_id: str) -> NetworkAclAssociation | None:
        return next((a for a in self.associations if a.subnet_id == subnet_id), None)


# EC2's default ACL, each direction: rule 100 allows everything (the ``*`` rule is shown).
DEFAULT_ENTRIES: Final = tuple(NetworkAclEntry(100, egress, "allow") for egress in (False, True))
# EC2's rule 101 of a default ACL of a VPC with IPv6 (decision 0217).
DEFAULT_IPV6_ENTRIES: Final = tuple(
    NetworkAclEntry(101, egress, "allow", cidr="::/0") for egress in (False, True)
)


def _derived(prefix: str, of: str) -> str:
    # The derivation of decision 0100's derived ACL: its ids hold now that the ACL is stored.
    digest = hashlib.sha256(f"andromede-{prefix}:{of}".encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def default_network_acl_id(vpc_id: str) -> str:
    return _derived("acl", vpc_id)


def default_association_id(subnet_id: str) -> str:
    """The id of a subnet's first association, with its VPC's default ACL (derived, as it was
    when the default ACL was)."""
    return _derived("aclassoc", subnet_id)


def default_network_acl(vpc: Vpc, subnets: Iterable[Subnet]) -> NetworkAcl:
    """The VPC's default ACL as it is made: EC2's entries (rule 101 for IPv6 too when the VPC
    has a block, decision 0217), associated with those of ``subnets`` that are the VPC's."""
    mine = sorted(s.subnet_id for s in subnets if s.vpc_id == vpc.vpc_id)
    return NetworkAcl(
        default_network_acl_id(vpc.vpc_id),
        vpc.tenant_id,
        vpc.vpc_id,
        (*DEFAULT_ENTRIES, *DEFAULT_IPV6_ENTRIES) if vpc.ipv6_blocks else DEFAULT_ENTRIES,
        tuple(NetworkAclAssociation(default_association_id(s), s) for s in mine),
        is_default=True,
    )


def shown_entries(acl: NetworkAcl) -> tuple[NetworkAclEntry, ...]:
    """What DescribeNetworkAcls lists: the stored entries and, in each direction, the ``*``
    rule denying the rest, in EC2's order (egress first, by number)."""
    catch_all = tuple(NetworkAclEntry(CATCH_ALL_RULE, egress, "deny") for egress in (True, False))
    return tuple(sorted((*acl.entries, *catch_all), key=lambda e: (not e.egress, e.rule_number)))


def acl_of_subnet(subnet_id: str, acls: Iterable[NetworkAcl]) -> NetworkAcl | None:
    return next((a for a in acls if a.associated_with(subnet_id) is not None), None)


def protocol_number(protocol: str) -> str:
    """EC2's number for ``protocol``; InvalidParameterValue for what is no protocol,
    UnsupportedOperation for one the hosts do not filter."""
    found = _PROTOCOLS.get(protocol.lower())
    if found is not None:
        return found
    if protocol.isdigit() and 0 <= int(protocol) <= 255:
        raise Unsupported(
            f"Protocol {protocol} is not supported in network ACL entries here: use -1 (all), "
            "6 (tcp), 17 (udp) or 1 (icmp)"
        )
    raise InvalidParameterValue(f"Invalid value '{protocol[:32]}' for protocol.")


def entry(
    rule_number: int,
    *,
    egress: bool,
    action: str,
    protocol: str,
    cidr: str,
    ports: tuple[int, int] | None = None,
    icmp: tuple[int, int] | None = None,
    ipv6: bool = False,
) -> NetworkAclEntry:
    """An entry as CreateNetworkAclEntry and ReplaceNetworkAclEntry take it, checked as EC2
    checks it: ports for TCP and UDP (required), an ICMP type and code for ICMP (required,
    each -1 for all to 255, a code only with a type); neither kept for other protocols, which
    match every port (EC2: "traffic on all ports is allowed, regardless of any ports")."""
    if not RULE_MIN <= rule_number <= RULE_MAX:
        raise InvalidParameterValue(
            f"Value ({rule_number}) for parameter ruleNumber is invalid. Rule numbers must be "
            f"between {RULE_MIN} and {RULE_MAX}."
        )
    if action.lower() not in ("allow", "deny"):
        raise InvalidParameterValue(f"Value ({action[:32]}) for parameter ruleAction is invalid.")
    number = protocol_number(protocol)
    try:
        family = ipaddress.IPv6Network if ipv6 else ipaddress.IPv4Network
        block = str(family(cidr, strict=False))
    except ValueError:
        parameter = "ipv6CidrBlock" if ipv6 else "cidrBlock"
        raise InvalidParameterValue(
            f"Value ({cidr[:64]}) for parameter {parameter} is invalid. This is not a valid "
            "CIDR block."
        ) from None
    made = NetworkAclEntry(rule_number, egress, action.lower(), number, block)
    if number in (TCP, UDP):
        if ports is None:
            raise MissingParameter("The request must contain the parameter portRange")
        low, high = ports
        if not 0 <= low <= high <= 65535:
            raise InvalidParameterValue(
                f"Value ({low}-{high}) for parameter portRange is invalid. Ports must be between "
                "0 and 65535, from no greater than to."
            )
        return NetworkAclEntry(rule_number, egress, made.action, number, block, low, high)
    if number == ICMP:
        if icmp is None:
            raise MissingParameter("The request must contain the parameter icmpTypeCode.type")
        icmp_type, icmp_code = icmp
        for name, value in (("type", icmp_type), ("code", icmp_code)):
            if not -1 <= value <= 255:
                raise InvalidParameterValue(
                    f"Value ({value}) for parameter icmpTypeCode.{name} is invalid. ICMP types "
                    "and codes must be between -1 (all) and 255."
                )
        if icmp_type == -1 and icmp_code != -1:
            raise InvalidParameterValue(
                f"Value ({icmp_code}) for parameter icmpTypeCode.code is invalid. All ICMP "
                "types (-1) take all codes (-1)."
            )
        return NetworkAclEntry(
            rule_number, egress, made.action, number, block, None, None, icmp_type, icmp_code
        )
    return made


def _host_entry(e: NetworkAclEntry) -> AclEntry:
    protocol = _HOST_PROTOCOLS[e.protocol]
    if e.from_port is not None and e.to_port is not None:
        return AclEntry(e.rule_number, e.allows, protocol, e.cidr, e.from_port, e.to_port)
    if e.protocol == ICMP and e.icmp_type is not None and e.icmp_code is not None:
        return AclEntry(
            e.rule_number, e.allows, protocol, e.cidr, icmp_type=e.icmp_type, icmp_code=e.icmp_code
        )
    return AclEntry(e.rule_number, e.allows, protocol, e.cidr)


def subnet_acl(acl: NetworkAcl | None, *, ipv6: bool = False) -> SubnetAcl:
    """What a subnet's hosts enforce for ``acl``; for none (a VPC older than decision 0128
    whose default ACL is not stored yet), what its derived default did: everything through.
    ``ipv6``: the subnet has an IPv6 block, whose packets the ACL's IPv6 entries judge
    (decision 0217); without one they judge nothing and the hosts are told EC2's default."""
    if acl is None:
        return SubnetAcl()
    if not ipv6:
        return SubnetAcl(
            ingress=_host_entries(acl.entries, egress=False, ipv6=False),
            egress=_host_entries(acl.entries, egress=True, ipv6=False),
        )
    return SubnetAcl(
        ingress=_host_entries(acl.entries, egress=False, ipv6=False),
        egress=_host_entries(acl.entries, egress=True, ipv6=False),
        ipv6_ingress=_host_entries(acl.entries, egress=False, ipv6=True),
        ipv6_egress=_host_entries(acl.entries, egress=True, ipv6=True),
    )


def _host_entries(
    entries: Sequence[NetworkAclEntry], *, egress: bool, ipv6: bool
) -> tuple[AclEntry, ...]:
    # An entry judges packets of its own family only (decision 0217): a lower-numbered IPv6
    # deny shadows no IPv4 packet, nor an IPv4 one any IPv6 packet.
    return tuple(_host_entry(e) for e in entries if e.egress == egress and e.ipv6 == ipv6)
