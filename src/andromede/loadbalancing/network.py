"""What load balancing needs of the VPCs (decision 0191), as a :class:`Network` port: the
compute context answers it through an adapter (``loadbalancing_adapters``), since bounded
contexts do not import each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["InstanceFacts", "Network", "SubnetFacts"]


@dataclass(frozen=True, slots=True)
class SubnetFacts:
    subnet_id: str
    vpc_id: str
    cidr: str
    availability_zone: str


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    instance_id: str
    vpc_id: str
    private_ip: str
    availability_zone: str
    running: bool


class Network(Protocol):
    async def subnets(self, tenant_id: str, subnet_ids: Sequence[str]) -> list[SubnetFacts]:
        """The subnets named, in order; ``NotFound("SubnetNotFound", …)`` for one not the
        account's."""
        ...

    async def vpc_exists(self, tenant_id: str, vpc_id: str) -> bool: ...

    async def reserve(
        self,
        tenant_id: str,
        subnet_id: str,
        address: str | None,
        description: str,
        group_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        """Hold ``address`` (the subnet's lowest free one when None) for a load balancer's
        node, as a requester-managed interface in ``group_ids`` (the load balancer's
        security groups; none: the VPC's default): its id and the address."""
        ...

    async def set_interface_groups(
        self, tenant_id: str, interface_id: str, group_ids: Sequence[str]
    ) -> None:
        """A node's interface now in ``group_ids`` (SetSecurityGroups, session 49)."""
        ...

    async def release(self, tenant_id: str, interface_id: str) -> None: ...

    async def instances(self, tenant_id: str, ids: Sequence[str]) -> dict[str, InstanceFacts]:
        """The account's instances among ``ids`` (the others left out)."""
        ...

    async def security_groups(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
        """The account's security groups among ``group_ids``: id → its VPC (session 49)."""
        ...

    async def default_security_group(self, tenant_id: str, vpc_id: str) -> str:
        """The id of the VPC's ``default`` security group: an Application Load Balancer made
        without groups is in it, as AWS's is (decision 0274)."""
        ...

    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        """The groups' ingress rules merged, as (protocol, from port, to port, IPv4 CIDR):
        a rule naming a group turned into its members' addresses, a prefix list into its
        CIDRs, as an instance's firewall is (session 49)."""
        ...
