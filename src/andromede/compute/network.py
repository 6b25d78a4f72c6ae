"""Tenant networks, pure: the default VPC and subnet, network interfaces, private addresses,
MAC addresses, and the merge of security groups into what a host enforces.

Every tenant has one default VPC (``172.31.0.0/16``) with one default subnet in the
availability zone (``172.31.0.0/20``) and a default security group, as on EC2, so code that
looks the default VPC up finds it. Their ids are derived from the tenant id: two gateways that
create them at once write the same records and one insert simply loses. A tenant may delete
its default VPC and make a new one (CreateDefaultVpc, fresh ids); :class:`DefaultVpcState`
records which it has, or that it has none (decision 0137), and which default subnet, made
again by CreateDefaultSubnet in the lowest free ``/20`` (:func:`free_default_block`).

A tenant may make VPCs of its own (CidrBlock /16 to /28, as EC2) and subnets in them (inside
their VPC's block, never overlapping a sibling): :func:`vpc_cidr` and :func:`subnet_cidr` say
which blocks are taken, in their canonical form (EC2 turns ``100.68.0.18/18`` into
``100.68.0.0/18``).

A subnet's addresses are given out as AWS does: the network address and the next three (router,
DNS, reserved) and the broadcast address are never given; the rest, lowest first. An address
belongs to a network interface (``eni-…``, one per instance, deleted when the instance is
terminated); the store keeps (subnet, address) and the MAC unique, so two gateways never hand
out the same one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkPeer,
)
from andromede.compute.errors import CidrConflict, InvalidParameterValue, InvalidRange
from andromede.compute.ipv6 import Ipv6Association
from andromede.compute.model import FORMAT_VERSION, ElasticIpRef, Rule, SecurityGroup, Tags
from andromede.compute.security_group_model import ALLOW_ALL_IPV6_EGRESS

__all__ = [
    "DEFAULT_GROUP_NAME",
    "DEFAULT_SUBNET_CIDR",
    "DEFAULT_VPC_CIDR",
    "DefaultVpcState",
    "NetworkInterface",
    "PrivateAddress",
    "Subnet",
    "Vpc",
    "default_group",
    "default_ids",
    "free_addresses",
    "free_default_block",
    "merge_firewall",
    "network_peers",
    "new_mac",
    "private_address_id",
    "private_dns_name",
    "region_domain",
    "subnet_cidr",
    "subnet_vni",
    "usable_address_count",
    "usable_addresses",
    "vpc_cidr",
]

DEFAULT_VPC_CIDR: Final = "172.31.0.0/16"
DEFAULT_SUBNET_CIDR: Final = "172.31.0.0/20"
# A default subnet's size on EC2; ``DEFAULT_SUBNET_CIDR`` is the first of them.
DEFAULT_SUBNET_PREFIX: Final = 20
DEFAULT_GROUP_NAME: Final = "default"
# AWS reserves the network address, the VPC router, the DNS server and one for future use.
_RESERVED_AT_START: Final = 4
# EC2's sizes of a VPC's and a subnet's IPv4 block.
SMALLEST_PREFIX: Final = 28
LARGEST_PREFIX: Final = 16
# Blocks no tenant network can hold: "this network", loopback, link-local (the metadata
# address lives there), multicast and reserved. EC2 refuses them too.
_NEVER_IN_A_VPC: Final = tuple(
    ipaddress.IPv4Network(block)
    for block in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# VXLAN network identifiers are 24 bits; 0 stands for "no overlay".
VNI_MAX: Final = 2**24 - 1


@dataclass(frozen=True, slots=True)
class Vpc:
    vpc_id: str
    tenant_id: str
    cidr: str
    is_default: bool
    dhcp_options_id: str = "default"
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # ModifyVpcAttribute's three (decision 0100). None for the DNS hostnames: EC2's default for
    # the kind of VPC (on for a default VPC, off for one's own), so records written before the
    # attribute existed read as EC2 shows them.
    enable_dns_support: bool = True
    enable_dns_hostnames: bool | None = None
    enable_network_address_usage_metrics: bool = False
    # Its main route table stored (and, for a VPC made before route tables were, the internet
    # gateway it was in effect routed through) — decision 0121. False in older records: the
    # first call that needs the VPC's routing makes them.
    routing_made: bool = False
    # Its default network ACL stored — decision 0128. False in older records: the first call
    # that needs the VPC's ACLs makes it, associated with the VPC's subnets.
    network_acl_made: bool = False
    # Its IPv6 blocks (decision 0217): a /56 of the operator's pool each; none in older records.
    ipv6_blocks: tuple[Ipv6Association, ...] = ()

    @property
    def resource_id(self) -> str:
        return self.vpc_id

    @property
    def dns_hostnames(self) -> bool:
        return self.is_default if self.enable_dns_hostnames is None else self.enable_dns_hostnames


@dataclass(frozen=True, slots=True)
class Subnet:
    subnet_id: str
    tenant_id: str
    vpc_id: str
    cidr: str
    availability_zone: str
    default_for_az: bool
    # The subnet's VXLAN id where it spans hypervisors, unique in the database (1 to 2^24-1).
    vni: int = 0
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # ModifySubnetAttribute's MapPublicIpOnLaunch; None: EC2's default (on for a default
    # subnet, off for one's own), as for records written before it existed.
    map_public_ip_on_launch: bool | None = None
    # Its IPv6 /64 (decision 0217; EC2 allows one) and ModifySubnetAttribute's
    # AssignIpv6AddressOnCreation: an instance launched into it gets one IPv6 address unasked.
    ipv6_blocks: tuple[Ipv6Association, ...] = ()
    assign_ipv6_address_on_creation: bool = False

    @property
    def resource_id(self) -> str:
        return self.subnet_id

    @property
    def ipv6_cidrs(self) -> tuple[str, ...]:
        return tuple(b.cidr for b in self.ipv6_blocks)

    @property
    def maps_public_ip(self) -> bool:
        if self.map_public_ip_on_launch is None:
            return self.default_for_az
        return self.map_public_ip_on_launch


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    """An instance's interface on a subnet: its private address and MAC, unique (the store
    enforces both). It lives as long as its instance is not terminated. A NAT gateway holds
    one too (``interface_type`` ``nat_gateway``, ``instance_id`` empty), which reserves its
    private address (decision 0129)."""

    interface_id: str
    tenant_id: str
    vpc_id: str
    subnet_id: str
    availability_zone: str
    private_ip: str
    mac: str
    instance_id: str
    created_at: datetime
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # ``interface`` (an instance's) or ``nat_gateway`` (requester-managed: a NAT gateway's,
    # decision 0129). Records written before read as an instance's.
    interface_type: str = "interface"
    # Decision 0161: an interface made on its own (CreateNetworkInterface) has its own groups,
    # description and source/destination check, and an attachment while ``instance_id`` is
    # set: its id, its device index (0 is the primary RunInstances made) and whether
    # terminating the instance deletes it. A primary's groups are its instance's (empty here).
    # ``attachment_id`` "" on a primary written before: ``eni-attach-`` and its own suffix.
    description: str = ""
    group_ids: tuple[str, ...] = ()
    source_dest_check: bool = True
    secondary_ips: tuple[str, ...] = ()
    attachment_id: str = ""
    device_index: int = 0
    delete_on_termination: bool = True
    attached_at: datetime | None = None
    # The digest of the CreateNetworkInterface that made it with a ClientToken ("" without).
    request_digest: str = ""
    # The Elastic IP associated with it, beyond an instance's primary (decision 0161's
    # addendum; a primary's is its instance's record's): kept while detached, as on EC2.
    elastic_ip: ElasticIpRef | None = None
    # Its IPv6 addresses (decision 0217), each an :class:`~andromede.compute.ipv6.Ipv6Address`
    # record too, written in the same change.
    ipv6_addresses: tuple[str, ...] = ()

    @property
    def resource_id(self) -> str:
        return self.interface_id

    @property
    def attachment(self) -> str:
        """The attachment's id while attached ("" when available)."""
        if not self.instance_id:
            return ""
        return self.attachment_id or "eni-attach-" + self.interface_id[4:]

    @property
    def addresses(self) -> tuple[str, ...]:
        """Its private addresses, the primary first."""
        return (self.private_ip, *self.secondary_ips)


@dataclass(frozen=True, slots=True)
class PrivateAddress:
    """A secondary private address of an interface (AssignPrivateIpAddresses, decision
    0161), a record of its own whose id is the subnet and the address: the database's primary
    key keeps one holder per address of a subnet, whichever gateway assigns it."""

    address_id: str
    tenant_id: str
    subnet_id: str
    private_ip: str
    interface_id: str
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.address_id


def private_address_id(subnet_id: str, private_ip: str) -> str:
    """The id of the record holding ``private_ip`` of ``subnet_id`` as a secondary address."""
    return f"{subnet_id}:{private_ip}"


@dataclass(frozen=True, slots=True)
class DefaultVpcState:
    """Which VPC is the tenant's default (decision 0137), one record per tenant, keyed by its
    id: the ids of its default VPC, default subnet and default security group, or none of
    them once the tenant deleted its default VPC — then nothing makes one again but
    CreateDefaultVpc. The default subnet may be gone (DeleteSubnet) while its VPC stays,
    until CreateDefaultSubnet makes another (the lowest free ``/20``, a fresh id) named here.
    A tenant without the record has the default VPC whose ids are derived from its own
    (:func:`default_ids`), made on first need with the record in one insert; tenants whose
    default VPC was made before the record existed have none until they delete it or make
    its default subnet again."""

    tenant_id: str
    vpc_id: str | None
    subnet_id: str | None = None
    group_id: str | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.tenant_id


def _derived(prefix: str, tenant_id: str) -> str:
    digest = hashlib.sha256(f"andromede-default-{prefix}:{tenant_id}".encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


@dataclass(frozen=True, slots=True)
class DefaultIds:
    vpc_id: str
    subnet_id: str
    group_id: str


def default_ids(tenant_id: str) -> DefaultIds:
    """The ids of the tenant's default VPC, subnet and security group (stable, see above)."""
    return DefaultIds(
        _derived("vpc", tenant_id), _derived("subnet", tenant_id), _derived("sg", tenant_id)
    )


def default_group(
    tenant_id: str, vpc_id: str, group_id: str, *, ipv6: bool = False
) -> SecurityGroup:
    """EC2's default group: every member reaches every other member; all egress allowed,
    IPv6 too when the VPC has an IPv6 block (decision 0217)."""
    group = SecurityGroup(
        group_id,
        tenant_id,
        DEFAULT_GROUP_NAME,
        "default VPC security group",
        ingress=(Rule("-1", -1, -1, "", group_id=group_id),),
        vpc_id=vpc_id,
    )
    if ipv6:
        return replace(group, egress=(*group.egress, ALLOW_ALL_IPV6_EGRESS))
    return group


def subnet_vni(subnet_id: str, taken: Collection[int]) -> int:
    """The VXLAN id for a new subnet: derived from its id (two gateways creating the same
    default subnet pick the same), the next free one when taken. The database's uniqueness
    decides between two subnets created at once. ``taken`` holds distinct ids of 1 to
    VNI_MAX (the subnets' own), so as many as VNI_MAX is all of them."""
    if len(taken) >= VNI_MAX:
        raise ValueError("every VXLAN id is taken")
    digest = hashlib.sha256(f"andromede-vni:{subnet_id}".encode()).digest()
    start = int.from_bytes(digest[:4], "big") % VNI_MAX
    for offset in range(VNI_MAX):
        candidate = (start + offset) % VNI_MAX + 1
        if candidate not in taken:
            return candidate
    raise ValueError("every VXLAN id is taken")


def _block(cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise InvalidParameterValue(
            f"Value ({cidr[:64]}) for parameter cidrBlock is invalid. "
            "This is not a valid CIDR block."
        ) from None


def vpc_cidr(cidr: str, reserved: Iterable[str] = ()) -> str:
    """``cidr`` in canonical form if a VPC may have it: /16 to /28, and outside the blocks no
    network may hold and the host ranges ``reserved`` (the hypervisors' transit and public
    ranges: a guest network over them would shadow its own way out)."""
    block = _block(cidr)
    kept = (*_NEVER_IN_A_VPC, *(ipaddress.IPv4Network(r) for r in reserved))
    if not LARGEST_PREFIX <= block.prefixlen <= SMALLEST_PREFIX or any(
        block.overlaps(other) for other in kept
    ):
        raise InvalidRange("vpc", cidr)
    return str(block)


def subnet_cidr(cidr: str, vpc: str, siblings: Iterable[str]) -> str:
    """``cidr`` in canonical form if a subnet of the VPC whose block is ``vpc`` may have it:
    /16 to /28, inside ``vpc``, and overlapping none of the VPC's other subnets."""
    block = _block(cidr)
    if not LARGEST_PREFIX <= block.prefixlen <= SMALLEST_PREFIX or not block.subnet_of(
        ipaddress.IPv4Network(vpc)
    ):
        raise InvalidRange("subnet", cidr)
    if any(block.overlaps(ipaddress.IPv4Network(other)) for other in siblings):
        raise CidrConflict(cidr)
    return str(block)


def free_default_block(vpc: str, siblings: Iterable[str]) -> str | None:
    """The lowest /20 of the VPC's block ``vpc`` overlapping none of ``siblings`` (its
    subnets' blocks), the order EC2's default subnets take (``172.31.0.0/20``,
    ``172.31.16.0/20``…); None when every one overlaps one of them."""
    taken = [ipaddress.IPv4Network(other) for other in siblings]
    for block in ipaddress.IPv4Network(vpc).subnets(new_prefix=DEFAULT_SUBNET_PREFIX):
        if not any(block.overlaps(other) for other in taken):
            return str(block)
    return None


def network_peers(
    placed: Iterable[tuple[str, str]],
    endpoints: Mapping[str, tuple[str, int]],
    vpc_hosts: Collection[str] = (),
) -> dict[str, tuple[NetworkPeer, ...]]:
    """What each host must be told of a subnet's overlay: for every host in ``endpoints``
    (host → its VXLAN endpoint, hosts without an overlay left out), the other hosts holding
    instances of the subnet, with their instances' private addresses. ``placed`` is
    (host, private address) of each instance running in the subnet; ``vpc_hosts`` the hosts
    holding instances of any subnet of its VPC, which route to the subnet's instances too
    (decision 0106). A host holding none of either gets no peer: it has nothing to send, and
    nothing stale stays there."""
    held: dict[str, set[str]] = {}
    for host, address in placed:
        if host in endpoints:
            held.setdefault(host, set()).add(address)
    told: dict[str, tuple[NetworkPeer, ...]] = {}
    for host in endpoints:
        if host not in held and host not in vpc_hosts:
            told[host] = ()
            continue
        told[host] = tuple(
            NetworkPeer(*endpoints[other], tuple(sorted(addresses, key=_address_order)))
            for other, addresses in sorted(held.items())
            if other != host
        )
    return told


def _address_order(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


def usable_addresses(cidr: str) -> Iterator[str]:
    """The addresses of ``cidr`` that may be given to instances, lowest first."""
    network = ipaddress.IPv4Network(cidr)
    first = int(network.network_address) + _RESERVED_AT_START
    last = int(network.broadcast_address) - 1
    for value in range(first, last + 1):
        yield str(ipaddress.IPv4Address(value))


def usable_address_count(cidr: str) -> int:
    """How many addresses ``usable_addresses(cidr)`` yields, without making each one: a
    DescribeSubnets counted the 4,091 of every default subnet one string at a time."""
    network = ipaddress.IPv4Network(cidr)
    return max(0, network.num_addresses - _RESERVED_AT_START - 1)


def free_addresses(cidr: str, taken: Collection[str], count: int) -> list[str]:
    """The ``count`` lowest usable addresses of ``cidr`` not in ``taken`` (fewer when full)."""
    found: list[str] = []
    for address in usable_addresses(cidr):
        if len(found) == count:
            break
        if address not in taken:
            found.append(address)
    return found


def new_mac() -> str:
    """A random locally administered, unicast MAC address (first octet 0x02 bit set, 0x01
    clear), as QEMU guests need one and AWS's look alike."""
    octets = bytearray(secrets.token_bytes(6))
    octets[0] = (octets[0] & 0b1111_1100) | 0b0000_0010
    return ":".join(f"{octet:02x}" for octet in octets)


def region_domain(region: str) -> str:
    """The Region's internal DNS domain, as EC2 names it: ``ec2.internal`` in us-east-1 (the
    oldest Region kept its name), ``<region>.compute.internal`` elsewhere."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def private_dns_name(private_ip: str, region: str) -> str:
    """EC2's private DNS name: ``ip-172-31-0-4.<region domain>`` (:func:`region_domain`)."""
    return f"ip-{private_ip.replace('.', '-')}.{region_domain(region)}"


def _firewall_rules(
    rule: Rule, members: Mapping[str, Sequence[str]], prefix_lists: Mapping[str, Sequence[str]]
) -> list[FirewallRule]:
    if rule.group_id is not None:
        # Its members' addresses, IPv6 ones included (decision 0217).
        peers = [
            f"{address}/{128 if ':' in address else 32}"
            for address in members.get(rule.group_id, ())
        ]
    elif rule.prefix_list_id is not None:
        # A managed prefix list's current CIDRs (decision 0149): the hosts see plain blocks. A
        # list gone (none is deleted while referenced) lets nothing through.
        peers = list(prefix_lists.get(rule.prefix_list_id, ()))
    else:
        # An IPv6 block too (decision 0217): it judges the VPCs' IPv6 traffic.
        peers = [rule.cidr]
    if rule.protocol in ("tcp", "udp"):
        low, high = rule.from_port, rule.to_port
    elif rule.protocol == "icmp":
        # The ICMP type and code, as EC2 carries them (decision 0130). A stored rule of all
        # types with a code (taken before EC2's check was) is all ICMP, as it was enforced.
        low, high = (-1, -1) if rule.from_port == -1 else (rule.from_port, rule.to_port)
    else:
        low, high = 0, 65535  # all protocols: ports are ignored
    return [FirewallRule(rule.protocol, low, high, peer) for peer in peers]


def merge_firewall(
    groups: Sequence[SecurityGroup],
    members: Mapping[str, Sequence[str]],
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
) -> InstanceFirewall:
    """The union of ``groups``' rules, rules naming a group turned into its members' private
    addresses (``members``: group id → addresses), rules naming a managed prefix list into
    its CIDRs (``prefix_lists``: list id → CIDRs); duplicates dropped, order kept."""
    lists = prefix_lists or {}
    ingress: dict[FirewallRule, None] = {}
    egress: dict[FirewallRule, None] = {}
    for group in groups:
        for rule in group.ingress:
            ingress.update(dict.fromkeys(_firewall_rules(rule, members, lists)))
        for rule in group.egress:
            egress.update(dict.fromkeys(_firewall_rules(rule, members, lists)))
    return InstanceFirewall(tuple(ingress), tuple(egress))
