"""IPv6 in VPCs, pure (decision 0217): the blocks a VPC and its subnets hold, the records
that keep a block and an address to one holder, and the address rules.

A VPC takes a ``/56`` from the operator's pool (``vpc_ipv6_pool``, a ULA block by default)
when asked (CreateVpc or AssociateVpcCidrBlock ``AmazonProvidedIpv6CidrBlock``); a subnet
takes a ``/64`` of its VPC's ``/56`` that the caller names, as on EC2; an interface takes
addresses of its subnet's ``/64``, drawn at random (EC2's look random too) or named. The
database keeps one holder of each: an :class:`Ipv6Block` per ``/56`` given out, its id the
block, and an :class:`Ipv6Address` per address, its id the address (the pool's ``/56``\\ s
are unique across tenants, so an address is unique across the platform).

EC2 keeps a subnet's first four addresses and its last (the network, the router, DNS, one
for future use, the last): none of them is given to an interface here either.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.errors import CidrConflict, InvalidParameterValue, InvalidRange
from andromede.compute.model import FORMAT_VERSION

__all__ = [
    "AMAZON_POOL",
    "SUBNET_PREFIX",
    "VPC_PREFIX",
    "Ipv6Address",
    "Ipv6Association",
    "Ipv6Block",
    "check_pool",
    "free_pool_block",
    "ipv6_address",
    "new_addresses",
    "router_address",
    "subnet_ipv6_cidr",
]

# EC2's sizes: an Amazon-provided VPC block is a /56, a subnet's a /64.
VPC_PREFIX: Final = 56
SUBNET_PREFIX: Final = 64
# What EC2's ``ipv6Pool`` says of an Amazon-provided block; Terraform's aws_vpc reads
# ``assign_generated_ipv6_cidr_block`` as true from it.
AMAZON_POOL: Final = "Amazon"
_RESERVED_AT_START: Final = 4
# Draws of a random address before a nearly full /64 is reported full (it never is: 2^64).
_DRAWS: Final = 64


@dataclass(frozen=True, slots=True)
class Ipv6Association:
    """An IPv6 block associated with a VPC (``vpc-cidr-assoc-…``) or a subnet
    (``subnet-cidr-assoc-…``): EC2 lists each with its association id and state; one
    disassociated is removed from the record at once."""

    association_id: str
    cidr: str
    network_border_group: str = ""


@dataclass(frozen=True, slots=True)
class Ipv6Block:
    """A ``/56`` of the operator's pool given to a VPC: its id is the block, so two gateways
    giving out one block at once cannot both write it (the second insert is a Duplicate)."""

    cidr: str
    tenant_id: str
    vpc_id: str
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.cidr


@dataclass(frozen=True, slots=True)
class Ipv6Address:
    """An IPv6 address held by an interface; its id is the address (unique across the
    platform since the blocks are)."""

    address: str
    tenant_id: str
    subnet_id: str
    interface_id: str
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.address


def check_pool(pool: str) -> ipaddress.IPv6Network:
    """The operator's pool as a network: an IPv6 block of at least one /56."""
    network = ipaddress.IPv6Network(pool)
    if network.prefixlen > VPC_PREFIX:
        raise ValueError(f"the IPv6 pool {pool} is smaller than a /{VPC_PREFIX}")
    return network


def free_pool_block(pool: str, taken: Collection[str]) -> str | None:
    """A ``/56`` of ``pool`` not in ``taken``, drawn at random (two gateways drawing at once
    rarely pick the same, and the store decides when they do); None when all are taken."""
    network = check_pool(pool)
    count = 1 << (VPC_PREFIX - network.prefixlen)
    if len(taken) >= count:
        return None
    base = int(network.network_address)
    step = 1 << (128 - VPC_PREFIX)
    start = secrets.randbelow(count)
    for offset in range(count):
        index = (start + offset) % count
        block = str(ipaddress.IPv6Network((base + index * step, VPC_PREFIX)))
        if block not in taken:
            return block
    return None


def _network(cidr: str) -> ipaddress.IPv6Network:
    try:
        return ipaddress.IPv6Network(cidr, strict=False)
    except ValueError:
        raise InvalidParameterValue(
            f"invalid value for parameter ipv6-cidr-block: {cidr[:64]}"
        ) from None


def subnet_ipv6_cidr(cidr: str, vpc_blocks: Iterable[str], siblings: Iterable[str]) -> str:
    """``cidr`` in canonical form if a subnet of a VPC holding ``vpc_blocks`` may take it: a
    ``/64`` (anything else is EC2's InvalidParameterValue), inside one of the VPC's blocks
    (InvalidSubnet.Range), overlapping no sibling's (InvalidSubnet.Conflict)."""
    block = _network(cidr)
    if block.prefixlen != SUBNET_PREFIX:
        raise InvalidParameterValue(f"invalid value for parameter ipv6-cidr-block: {cidr[:64]}")
    if not any(block.subnet_of(ipaddress.IPv6Network(v)) for v in vpc_blocks):
        raise InvalidRange("subnet-ipv6", cidr)
    if any(block.overlaps(ipaddress.IPv6Network(other)) for other in siblings):
        raise CidrConflict(cidr)
    return str(block)


def ipv6_address(address: str, blocks: Sequence[str]) -> str:
    """``address`` in canonical form if an interface of a subnet holding ``blocks`` may take
    it: in one of them, not among EC2's reserved addresses."""
    try:
        value = ipaddress.IPv6Address(address)
    except ValueError:
        raise InvalidParameterValue(f"Invalid IPv6 address '{address[:64]}'") from None
    for cidr in blocks:
        network = ipaddress.IPv6Network(cidr)
        first = int(network.network_address) + _RESERVED_AT_START
        last = int(network.broadcast_address) - 1
        if first <= int(value) <= last:
            return str(value)
    raise InvalidParameterValue(f"Address {value} does not fall within the subnet's address range")


def new_addresses(block: str, taken: Collection[str], count: int) -> list[str]:
    """``count`` addresses of ``block`` not in ``taken`` nor reserved, drawn at random."""
    network = ipaddress.IPv6Network(block)
    first = int(network.network_address) + _RESERVED_AT_START
    span = int(network.broadcast_address) - 1 - first + 1
    found: list[str] = []
    for _ in range(count * _DRAWS):
        if len(found) == count:
            break
        candidate = str(ipaddress.IPv6Address(first + secrets.randbelow(span)))
        if candidate not in taken and candidate not in found:
            found.append(candidate)
    return found


def router_address(block: str) -> str:
    """The subnet router's address in ``block`` (the first after the network's, as EC2's
    IPv4 router), the guests' IPv6 gateway: ``…::1``."""
    network = ipaddress.IPv6Network(block)
    return str(network.network_address + 1)
