"""A VPC's main route table and default network ACL, read side (decision 0100), pure: derived
from the VPC and its subnets, never stored.

EC2 makes both with every VPC, and clients read them back after creating one (Terraform's
``aws_vpc`` sets ``main_route_table_id`` and ``default_network_acl_id`` from them). What they
say here is what the hosts do: the main route table holds the ``local`` route for the VPC's
block and nothing else (there are no internet gateways to route to; a guest's way out is its
subnet's namespace, decision 0015), and the default network ACL lets everything through in
both directions — rule 100 allows all, rule ``*`` (32767) denies what is left, as EC2's default
ACL — filtering being the security groups' job. Every subnet of the VPC is associated with that
ACL (EC2 lists each) and, implicitly, with the main route table (EC2 lists no association for
an implicit one).

Their ids are derived from the VPC's and the subnets' ids: stable across gateways and releases,
with nothing to write, migrate or delete with the VPC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from andromede.compute.network import Subnet, Vpc

__all__ = [
    "ACL_RULES",
    "AclRule",
    "NetworkAcl",
    "RouteTable",
    "default_network_acl",
    "main_route_table",
]


def _derived(prefix: str, of: str) -> str:
    digest = hashlib.sha256(f"andromede-{prefix}:{of}".encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


@dataclass(frozen=True, slots=True)
class RouteTable:
    route_table_id: str
    tenant_id: str
    vpc_id: str
    # The one route: the VPC's block, delivered within the VPC (gateway ``local``).
    local_cidr: str
    main_association_id: str
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AclRule:
    number: int
    egress: bool
    action: str  # allow | deny
    protocol: str = "-1"
    cidr: str = "0.0.0.0/0"


# EC2's default network ACL, each direction: allow everything, then the catch-all deny.
ACL_RULES: Final = tuple(
    AclRule(number, egress, action)
    for egress in (True, False)
    for number, action in ((100, "allow"), (32767, "deny"))
)


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    network_acl_id: str
    tenant_id: str
    vpc_id: str
    # (association id, subnet id) for every subnet of the VPC, in subnet id order.
    associations: tuple[tuple[str, str], ...]
    rules: tuple[AclRule, ...] = ACL_RULES
    is_default: bool = True
    tags: tuple[tuple[str, str], ...] = ()


def main_route_table(vpc: Vpc) -> RouteTable:
    return RouteTable(
        _derived("rtb", vpc.vpc_id),
        vpc.tenant_id,
        vpc.vpc_id,
        vpc.cidr,
        _derived("rtbassoc", vpc.vpc_id),
    )


def default_network_acl(vpc: Vpc, subnets: Iterable[Subnet]) -> NetworkAcl:
    """The VPC's default ACL, associated with those of ``subnets`` that are the VPC's."""
    mine = sorted(s.subnet_id for s in subnets if s.vpc_id == vpc.vpc_id)
    return NetworkAcl(
        _derived("acl", vpc.vpc_id),
        vpc.tenant_id,
        vpc.vpc_id,
        tuple((_derived("aclassoc", subnet_id), subnet_id) for subnet_id in mine),
    )
