"""An Elastic IP address's record and the region's pool it is taken from (decision 0125), pure.

An **Elastic IP** (``eipalloc-…``) is a public IPv4 address a tenant holds until it releases it,
whatever instance it is associated with meanwhile: the operator declares the block the region
owns (``elastic_ip_cidr``), routed by its network to the hypervisors, and each address of it
belongs to at most one tenant at a time — the database keeps the address unique across
tenants and gateways. An association (``eipassoc-…``) ties it to one instance's primary
interface; the host holding the instance routes the address to it (1:1 NAT, as its own public
address) and its connections out leave from it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from andromede.compute.model import FORMAT_VERSION, ElasticIpRef, Tags

__all__ = ["DOMAIN", "POOL", "ElasticAddress", "free_address"]

# Every address is a VPC's: EC2-Classic's "standard" domain is retired.
DOMAIN: Final = "vpc"
# What DescribeAddresses names the pool: EC2 says "amazon" for its own; here the region's.
POOL: Final = "andromede"


@dataclass(frozen=True, slots=True)
class ElasticAddress:
    allocation_id: str
    tenant_id: str
    public_ip: str
    # The Region it is held in (EC2's network border group).
    network_border_group: str
    # Its association, if any: the association's id, the instance, its interface and the
    # private address the public one is translated to.
    association_id: str | None = None
    instance_id: str | None = None
    network_interface_id: str | None = None
    private_ip: str | None = None
    tags: Tags = ()
    # The NAT gateway holding it (decision 0129): then its association names the gateway's
    # interface and private address, and no instance.
    nat_gateway_id: str | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.allocation_id

    @property
    def reference(self) -> ElasticIpRef | None:
        """What its instance's record holds of it while associated."""
        if self.association_id is None or self.nat_gateway_id is not None:
            return None
        return ElasticIpRef(self.allocation_id, self.association_id, self.public_ip)


def free_address(pool: str, taken: Iterable[str]) -> str | None:
    """The lowest address of ``pool`` no tenant holds (its network and broadcast addresses are
    never given); None when every one is taken."""
    held = set(taken)
    network = ipaddress.IPv4Network(pool)
    hosts = network.hosts() if network.prefixlen < 31 else iter(network)
    return next((str(a) for a in hosts if str(a) not in held), None)
